"""Target decomposition (目标拆解): GMV = UV × CVR × ASP, split top-down so every level sums exactly.

A node carries three additive integers — GMV (fen), UV and buyers — and derives CVR = buyers / UV and
ASP = GMV / buyers, so GMV = UV × CVR × ASP holds at every node by construction. Each split divides
the three integers by the children's historical shares (largest remainder, so children sum exactly
to their parent); operator overrides fix some children's share and the others re-balance around
them. The tree is: total → phase → day (→ hour for the peak day), and alongside it the views by
channel, category and new/returning customers, each of which again sums to the total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dacu.errors import InputError
from dacu.money import allocate

_WEIGHT_SCALE = 10**9


@dataclass(frozen=True)
class Values:
    """Additive target values of one cell: GMV (fen), UV and paying buyers."""

    gmv_fen: int
    uv: int
    buyers: int

    @property
    def cvr(self) -> float:
        return self.buyers / self.uv if self.uv else 0.0

    @property
    def asp_fen(self) -> float:
        return self.gmv_fen / self.buyers if self.buyers else 0.0

    def to_dict(self) -> dict:
        return {
            "gmv_fen": self.gmv_fen,
            "uv": self.uv,
            "buyers": self.buyers,
            "cvr": round(self.cvr, 6),
            "asp_fen": round(self.asp_fen, 2),
        }


def from_target(gmv_fen: int, cvr: float, asp_fen: float) -> Values:
    """Top of the tree from a GMV target and the planned CVR and ASP: buyers = GMV/ASP, UV = buyers/CVR."""
    if gmv_fen < 0 or not 0 < cvr <= 1 or asp_fen <= 0:
        raise InputError(
            f"target needs GMV ≥ 0, 0 < CVR ≤ 1 and ASP > 0 (got {gmv_fen} fen, "
            f"{cvr}, {asp_fen} fen)"
        )
    buyers = round(gmv_fen / asp_fen)
    return Values(gmv_fen, round(buyers / cvr), buyers)


@dataclass(frozen=True)
class Shares:
    """Shares of the children of one split (each mapping sums to 1); uv/buyers default to gmv."""

    gmv: Mapping[str, float]
    uv: Mapping[str, float] | None = None
    buyers: Mapping[str, float] | None = None

    @property
    def keys(self) -> list[str]:
        return list(self.gmv)


def rebalance(
    shares: Mapping[str, float], overrides: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Normalise `shares`; children in `overrides` get that share, the rest scale to what is left."""
    overrides = dict(overrides or {})
    for key, value in overrides.items():
        if key not in shares:
            raise InputError(f"override for unknown key {key!r} (known: {', '.join(shares)})")
        if not 0 <= value <= 1:
            raise InputError(f"override {key}: share {value} is not between 0 and 1")
    fixed = sum(overrides.values())
    if fixed > 1 + 1e-9:
        raise InputError(f"overrides take {fixed:.1%} of the parent, more than 100%")
    free = {k: max(float(v), 0.0) for k, v in shares.items() if k not in overrides}
    free_total = sum(free.values())
    out = {}
    for key in shares:
        if key in overrides:
            out[key] = overrides[key]
        elif free_total > 0:
            out[key] = free[key] / free_total * (1 - fixed)
        else:
            out[key] = (1 - fixed) / max(len(free), 1)
    return out


def _weights(shares: Mapping[str, float], keys: Sequence[str]) -> list[int]:
    return [max(round(shares.get(k, 0.0) * _WEIGHT_SCALE), 0) for k in keys]


def split(parent: Values, shares: Shares) -> dict[str, Values]:
    """Children of `parent` by `shares`, each integer summing exactly to the parent's.

    Buyers are split first; each child's UV is its buyers plus its part of the parent's
    non-buying visitors (by UV share), so UV ≥ buyers holds in every child.
    """
    keys = shares.keys
    gmv = allocate(parent.gmv_fen, _weights(shares.gmv, keys))
    buyers = allocate(parent.buyers, _weights(shares.buyers or shares.gmv, keys))
    uv_share = shares.uv or shares.gmv
    extra_weights = [
        max(round(uv_share.get(k, 0.0) * parent.uv) - b, 0) * _WEIGHT_SCALE
        for k, b in zip(keys, buyers, strict=True)
    ]
    extra = allocate(max(parent.uv - parent.buyers, 0), extra_weights)
    return {k: Values(g, b + e, b) for k, g, b, e in zip(keys, gmv, buyers, extra, strict=True)}


@dataclass
class TargetNode:
    key: str
    dimension: str
    values: Values
    label: str | None = None
    children: list[TargetNode] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = {"key": self.key, "dimension": self.dimension, **self.values.to_dict()}
        if self.label:
            out["label"] = self.label
        out["children"] = [c.to_dict() for c in self.children]
        return out

    def find(self, dimension: str, key: str) -> TargetNode | None:
        if self.dimension == dimension and self.key == key:
            return self
        for child in self.children:
            found = child.find(dimension, key)
            if found:
                return found
        return None

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def grow(
    node: TargetNode, dimension: str, shares: Shares, labels: Mapping[str, str] | None = None
) -> list[TargetNode]:
    """Add the children of `node` along `dimension` and return them."""
    children = [
        TargetNode(k, dimension, v, (labels or {}).get(k))
        for k, v in split(node.values, shares).items()
    ]
    node.children.extend(children)
    return children


def check_sums(node: TargetNode) -> None:
    """Raise if any node's children do not sum exactly to it (views sum to their parent too)."""
    for parent in node.walk():
        if not parent.children:
            continue
        groups: dict[str, list[TargetNode]] = {}
        for child in parent.children:
            groups.setdefault(child.dimension, []).append(child)
        for dimension, group in groups.items():
            if dimension == "view":  # each view repeats its parent, then splits it
                if any(v.values != parent.values for v in group):
                    raise AssertionError(f"{parent.key}: a view differs from its parent")
                continue
            for attr in ("gmv_fen", "uv", "buyers"):
                total = sum(getattr(c.values, attr) for c in group)
                if total != getattr(parent.values, attr):
                    raise AssertionError(
                        f"{parent.key}/{dimension}: {attr} {total} ≠ {getattr(parent.values, attr)}"
                    )


# -- milestones and what-if ------------------------------------------------------------------------
@dataclass(frozen=True)
class Milestone:
    day: str
    gmv_fen: int
    cumulative_gmv_fen: int
    low_fen: int
    high_fen: int
    week_end: bool = False


def milestones(daily: Sequence[tuple[str, int]], tolerance: float = 0.15) -> list[Milestone]:
    """Cumulative GMV per day with its ±tolerance band, for the monitor to pace against;
    `week_end` marks every 7th day from the start and the last day (the weekly milestones)."""
    out, running = [], 0
    for index, (day, gmv) in enumerate(daily):
        running += gmv
        band = round(running * tolerance)
        week_end = (index + 1) % 7 == 0 or index == len(daily) - 1
        out.append(Milestone(day, gmv, running, running - band, running + band, week_end))
    return out


def what_if(
    values: Values, *, cvr_points: float = 0.0, asp_ratio: float = 0.0, uv_ratio: float = 0.0
) -> int:
    """GMV (fen) added by moving a cell's CVR by `cvr_points` (0.005 = +0.5 pt), its ASP by
    `asp_ratio` (0.05 = +5%) and its UV by `uv_ratio`, the other factors held."""
    uv = values.uv * (1 + uv_ratio)
    cvr = values.cvr + cvr_points
    asp = values.asp_fen * (1 + asp_ratio)
    return round(uv * cvr * asp) - values.gmv_fen
