"""Targets that reconcile (目标对齐): GMV = buyers × ASP and buyers = UV × CVR.

Any two of GMV, orders/buyers, ASP, UV and CVR that are independent determine the rest; what the
file does not give comes from the history (else a default), and the plan names which. When the
file gives more than it takes, the later of GMV → ASP → CVR → orders/buyers → UV is checked
against what the earlier ones imply and a difference above 0.5% is a conflict reported with both
numbers (the earlier wins). Relative targets ("+30%") are resolved first, against last year's same
window in the history or a past campaign of the file. `feasibility` compares the target with what
the history supports and says what the gap would take in traffic and budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dacu.config import Campaign
from dacu.errors import ConfigError
from dacu.money import format_fen, format_pct
from dacu.plan.targets import Values

# precedence when the file over-determines: the GMV, then the levers an operator plans with
# (ASP, CVR), then the counts that follow from them
ORDER = ("gmv", "asp", "cvr", "buyers", "uv")
TOLERANCE = 0.005
LABELS = {"gmv": "GMV", "buyers": "订单/买家 orders", "uv": "UV", "asp": "客单价 ASP", "cvr": "CVR"}
RULES = (  # (known, known) → derived
    (("gmv", "buyers"), "asp", lambda g, b: g / b),
    (("gmv", "asp"), "buyers", lambda g, a: g / a),
    (("buyers", "asp"), "gmv", lambda b, a: b * a),
    (("buyers", "uv"), "cvr", lambda b, u: b / u),
    (("buyers", "cvr"), "uv", lambda b, c: b / c),
    (("uv", "cvr"), "buyers", lambda u, c: u * c),
)


@dataclass(frozen=True)
class Conflict:
    metric: str
    given: float
    implied: float
    by: tuple[str, ...]

    def message(self) -> str:
        return (
            f"目标矛盾 conflict: {LABELS[self.metric]} {_show(self.metric, self.given)} in the "
            f"file, but {' & '.join(LABELS[m] for m in self.by)} imply "
            f"{_show(self.metric, self.implied)} ({self.given / self.implied - 1:+.1%}); the plan "
            f"uses {_show(self.metric, self.implied)}"
        )

    def to_dict(self) -> dict:
        return {**self.__dict__, "by": list(self.by), "message": self.message()}


@dataclass
class Reconciled:
    values: Values
    source: dict[str, str]  # metric → target | derived | history | default | proposal
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        return [c.message() for c in self.conflicts]


def _show(metric: str, value: float) -> str:
    if metric in ("gmv", "asp"):
        return format_fen(round(value))
    if metric == "cvr":
        return format_pct(value)
    return f"{value:,.0f}"


def reconcile(
    given: Mapping[str, float],
    *,
    history: Mapping[str, float] | None = None,
    defaults: Mapping[str, float] | None = None,
    fallback_gmv: float | None = None,
) -> Reconciled:
    """Values from the targets `given` (gmv and asp in fen, buyers, uv, cvr as a fraction);
    `history`/`defaults` give CVR and ASP when the targets leave them open."""
    known: dict[str, float] = {}
    source: dict[str, str] = {}
    conflicts: list[Conflict] = []
    for metric in ORDER:
        if metric not in given:
            continue
        implied = _implied(known, metric)
        if implied is None:
            known[metric], source[metric] = float(given[metric]), "target"
            _propagate(known, source)
        elif abs(given[metric] / implied[0] - 1) > TOLERANCE:
            conflicts.append(Conflict(metric, float(given[metric]), implied[0], implied[1]))
    if "gmv" not in known and fallback_gmv is not None and _implied(known, "gmv") is None:
        known["gmv"], source["gmv"] = float(fallback_gmv), "proposal"
        _propagate(known, source)
    for metric in ("asp", "cvr"):
        for table, label in ((history, "history"), (defaults, "default")):
            open_ = metric not in known and _implied(known, metric) is None
            if open_ and table and table.get(metric):
                known[metric], source[metric] = float(table[metric]), label
                _propagate(known, source)
    if "gmv" not in known:
        raise ConfigError(
            "targets: no GMV target and none can be worked out (give {metric: gmv, value: "
            "3000万}, or orders and asp, or --history to propose one)"
        )
    buyers = round(known["buyers"])
    uv = max(round(known["uv"]), buyers)
    return Reconciled(Values(round(known["gmv"]), uv, buyers), source, conflicts)


def _implied(known: Mapping[str, float], metric: str) -> tuple[float, tuple[str, ...]] | None:
    for (a, b), out, rule in RULES:
        if out == metric and a in known and b in known and known[b]:
            return rule(known[a], known[b]), (a, b)
    return None


def _propagate(known: dict[str, float], source: dict[str, str]) -> None:
    changed = True
    while changed:
        changed = False
        for (a, b), out, rule in RULES:
            if out not in known and a in known and b in known and known[b]:
                known[out], source[out] = rule(known[a], known[b]), "derived"
                changed = True


# -- relative targets ------------------------------------------------------------------------------
METRIC_KEYS = {"gmv": "gmv", "orders": "buyers", "buyers": "buyers", "uv": "uv"}
METRIC_KEYS |= {"asp": "asp", "aov": "asp", "cvr": "cvr"}


def given_targets(campaign: Campaign, last_year: Mapping[str, float] | None) -> dict[str, float]:
    """The campaign-level targets on the five metrics, relative ones resolved."""
    out: dict[str, float] = {}
    for index, target in enumerate(campaign.targets):
        key = METRIC_KEYS.get(target.metric)
        if key is None or target.phase or target.channel or target.category:
            continue
        if target.relative:
            basis = _basis(campaign, target.of or "last_year", last_year, index)
            value = basis.get(key)
            change = target.change or 0.0  # relative means change is set
            if value is None:
                raise ConfigError(
                    f"targets[{index}]: {target.metric} {target.change:+.0%} of {target.of} — "
                    f"{target.of} has no {target.metric} (add it to past_campaigns)"
                )
            out.setdefault(key, value * (1 + change))
        else:
            out.setdefault(key, float(target.value))
    return out


def _basis(
    campaign: Campaign, of: str, last_year: Mapping[str, float] | None, index: int
) -> dict[str, float]:
    past = {p.id: p for p in campaign.past_campaigns}
    if of == "last_year":
        marked = next((p for p in campaign.past_campaigns if p.last_year), None)
        if marked is not None:
            return _past_values(marked)
        if last_year:
            return dict(last_year)
        raise ConfigError(
            f"targets[{index}].of: last_year, but the history has no campaign window a year "
            "back (give --history, or list last year's results under past_campaigns with "
            "last_year: true)"
        )
    return _past_values(past[of])


def _past_values(past) -> dict[str, float]:
    out = {
        "gmv": past.gmv,
        "buyers": past.metric("orders"),
        "uv": past.uv,
        "asp": past.asp,
        "cvr": past.cvr,
    }
    out = {k: float(v) for k, v in out.items() if v is not None}
    known = dict(out)
    _propagate(known, {})
    return known


# -- feasibility -------------------------------------------------------------------------------
SEVERITY = ((1.3, "green"), (2.0, "yellow"))  # target ÷ what history supports, below → level


def feasibility(
    target: Values,
    supported_gmv_fen: float,
    *,
    cvr: float,
    asp_fen: float,
    paid_roi: float | None = None,
    basis: str = "",
) -> dict:
    """How far the target is above what the history supports, and what the gap takes: UV at the
    history's CVR and ASP, and the spend at its paid ROI."""
    ratio = target.gmv_fen / supported_gmv_fen if supported_gmv_fen > 0 else float("inf")
    severity = next((level for bound, level in SEVERITY if ratio < bound), "red")
    gap = max(target.gmv_fen - supported_gmv_fen, 0.0)
    extra_uv = round(gap / (cvr * asp_fen)) if cvr > 0 and asp_fen > 0 else None
    extra_spend = round(gap / paid_roi) if paid_roi else None
    out = {
        "target_fen": target.gmv_fen,
        "supported_fen": round(supported_gmv_fen),
        "ratio": round(ratio, 4),
        "severity": severity,
        "gap_fen": round(gap),
        "extra_uv": extra_uv,
        "extra_spend_fen": extra_spend,
        "basis": basis,
    }
    out["message"] = (
        f"目标是历史可支撑的 {ratio:.1f} 倍 ({severity}): target {format_fen(target.gmv_fen)} vs "
        f"{format_fen(round(supported_gmv_fen))} supported ({basis}); the gap "
        f"{format_fen(round(gap))} takes {extra_uv or 0:,} more UV at CVR {format_pct(cvr)} × "
        f"ASP {format_fen(round(asp_fen))}"
        + (
            f" and about {format_fen(extra_spend)} more spend at ROI {paid_roi:.2f}"
            if extra_spend
            else ""
        )
    )
    return out


__all__ = ["Conflict", "Reconciled", "feasibility", "given_targets", "reconcile"]
