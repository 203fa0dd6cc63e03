"""Assemble the plan: baseline → target → decomposition → budget → timeline → capacity → risks.

`build_plan(campaign, history)` is pure: it takes the campaign and plain tables of past KPIs
(`PlanHistory`) and returns a `Plan` (plan.json). Every figure comes from the campaign file, the
history or a default that `Plan.notes` names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

import pandas as pd

from dacu.config import Campaign, Phase
from dacu.money import format_pct
from dacu.plan import shares as sh
from dacu.plan.budget import bound_to_targets, plan_budget, raise_channel_targets
from dacu.plan.capacity import check_capacity, risk_register
from dacu.plan.forecast import plan_forecast
from dacu.plan.pacing import pace_budget
from dacu.plan.promo_sim import plan_promotions
from dacu.plan.reconcile import Reconciled, feasibility, given_targets, reconcile
from dacu.plan.schema import (
    Budget,
    DistinctRatios,
    IntradayCurve,
    Milestone,
    PeakSlots,
    Plan,
    PlanRow,
    Risk,
    TargetTreeNode,
)
from dacu.plan.spend_history import SpendHistory
from dacu.plan.targets import Shares, TargetNode, Values, check_sums, grow, milestones
from dacu.plan.timeline import timeline_dict

DEFAULT_CVR, DEFAULT_ASP_FEN = 0.03, 30_000


@dataclass
class PlanHistory:
    """Past KPIs: `daily` rows (day, gmv_fen, uv, buyers [, orders, channel, category,
    customer_type]) and an optional `hourly` (hour_of_day, gmv_fen) for the intraday curve."""

    daily: pd.DataFrame
    hourly: pd.DataFrame | None = None
    spend: SpendHistory | None = None
    categories: pd.DataFrame | None = None  # day, category, gmv_fen, uv, buyers (if not in daily)
    orders: pd.DataFrame | None = (
        None  # order lines: order_id, sku_id, category, quantity, amount_fen
    )
    customers: pd.DataFrame | None = None  # day, customer_type (new/returning), gmv_fen, uv, buyers
    skus: pd.DataFrame | None = None  # sku_id, cost_fen: gross margin of the promotion study
    distinct: dict | None = None  # plan.json's `distinct` (`dacu.plan.distinct.day_kind_ratios`)
    peak_slots: dict | None = None  # plan.json's `peak_slots` (`dacu.plan.slots.peak_slots`)
    source: str = "history"

    def total_by_day(self) -> pd.Series:
        return self.totals_by_day()["gmv_fen"]

    def totals_by_day(self) -> pd.DataFrame:
        """GMV, and UV and buyers when the history has them, per day (all channels)."""
        frame = self.daily.copy()
        frame["day"] = pd.to_datetime(frame["day"])
        columns = [c for c in ("gmv_fen", "uv", "buyers") if c in frame.columns]
        return frame.groupby("day")[columns].sum().sort_index()


@dataclass
class _Context:
    campaign: Campaign
    history: PlanHistory | None
    growth: float
    notes: list[str] = field(default_factory=list)
    forecast: dict = field(default_factory=dict)
    baseline_by_day: dict[date, float] | None = None
    reconciled: Reconciled | None = None
    feasibility: dict = field(default_factory=dict)
    ordinary: Shares | None = None  # the hour-of-day curve of the days without hourly rows


def build_plan(
    campaign: Campaign,
    history: PlanHistory | None = None,
    *,
    growth: float = 0.0,
    tolerance: float = 0.15,
    now: datetime | None = None,
) -> Plan:
    """The campaign plan: targets decomposed, days and hours, budget, promotions, risks.

    Parameters
    ----------
    campaign : Campaign
        The campaign file, loaded (`dacu.config.load_campaign`).
    history : PlanHistory, optional
        Past daily KPIs, ad spend and orders (`read_history_dir`, `read_history_warehouse`);
        without it the shares and rates are the defaults, and `Plan.notes` says so.
    growth : float
        Growth over the baseline when the campaign file sets no GMV target (0.2 = +20%).
    tolerance : float
        The band around the plan inside which pacing is on track (0.15 = ±15%).
    now : datetime, optional
        The time written as `generated_at` (default: now in the campaign's time zone).

    Returns
    -------
    Plan
        What `plan.json` holds (docs/contracts.md): the target tree, daily and hourly rows,
        the budget by channel, milestones, capacity checks, the timeline and the risk register.

    Examples
    --------
    The starter campaign (`dacu init`) targets GMV 3000万 over 26 days with a 300万 budget:

    >>> from pathlib import Path
    >>> import dacu
    >>> from dacu.config import load_campaign
    >>> from dacu.plan import build_plan
    >>> campaign = load_campaign(Path(dacu.__file__).with_name("starter_campaign.yaml"))
    >>> plan = build_plan(campaign)
    >>> plan.targets.gmv_fen, plan.budget.total_fen          # in fen
    (3000000000, 300000000)
    >>> days = [r for r in plan.daily if r.channel is None and r.category is None]
    >>> len(days), sum(r.gmv_fen for r in days)                # the days add up to the target
    (26, 3000000000)
    """
    ctx = _Context(campaign, history, growth)
    root = TargetNode("total", "total", _top(ctx), campaign.name)
    _decompose(ctx, root)
    check_sums(root)
    budget = _budget(ctx, root)
    day_nodes = [n for n in root.walk() if n.dimension == "day"]
    spend_by_day, budget = pace_budget(
        campaign,
        budget,
        [n.key for n in day_nodes],
        [n.values.gmv_fen for n in day_nodes],
        ctx.notes,
    )
    daily, hourly = plan_rows(campaign.tz, root, spend_by_day)
    capacity = check_capacity([r.orders for r in hourly if r.channel is None], campaign.capacity)
    days = len(campaign.days())
    risks = [Risk(**r.__dict__) for r in risk_register(days, capacity)]
    day_totals = [(r.day, r.gmv_fen) for r in daily if r.channel is None and r.day is not None]
    reconciled = ctx.reconciled
    assert reconciled is not None  # _top reconciled the targets
    return Plan(
        campaign_id=campaign.id,
        campaign_name=campaign.name,
        generated_at=now or datetime.now(campaign.tz),
        timezone=campaign.timezone,
        tolerance=tolerance,
        targets=TargetTreeNode.model_validate(root.to_dict()),
        daily=daily,
        hourly=hourly,
        budget=budget,
        risks=risks,
        milestones=[Milestone(**m.__dict__) for m in milestones(day_totals, tolerance)],
        forecast=ctx.forecast,
        capacity=[c.to_dict() for c in capacity],
        timeline=timeline_dict(campaign),
        promotions=plan_promotions(
            campaign,
            root.values,
            history.orders if history else None,
            history.skus if history else None,
            budget,
            ctx.notes,
        ),
        notes=ctx.notes,
        reconciliation={
            "source": reconciled.source,
            "conflicts": [c.to_dict() for c in reconciled.conflicts],
        },
        feasibility=ctx.feasibility,
        splits=_splits(root),
        ordinary_intraday=_curve(ctx.ordinary),
        distinct=DistinctRatios.model_validate(history.distinct)
        if history and history.distinct
        else None,
        peak_slots=PeakSlots.model_validate(history.peak_slots)
        if history and history.peak_slots
        else None,
    )


def _curve(shares: Shares | None) -> IntradayCurve | None:
    """plan.json's ordinary_intraday: 24 hour shares each of GMV, UV and buyers."""
    if shares is None:
        return None
    hours = [f"{h:02d}" for h in range(24)]

    def of(part: Mapping[str, float] | None) -> list[float]:
        return [round(float((part or shares.gmv)[h]), 6) for h in hours]

    return IntradayCurve(gmv_fen=of(shares.gmv), uv=of(shares.uv), buyers=of(shares.buyers))


def _budget(ctx: _Context, root: TargetNode) -> Budget:
    """The budget's lines, each line's expected GMV what its spend buys and never above its
    channel's target (raised to it from the channels without a line where there is room)."""
    history = ctx.history
    budget = plan_budget(
        ctx.campaign,
        history.spend if history else None,
        history.daily if history else None,
        ctx.notes,
    )
    view = next((c for c in root.children if c.key == "channel"), None)
    if view is not None:
        fixed = {t.channel for t in ctx.campaign.targets if t.metric == "gmv" and t.channel}
        raise_channel_targets(view, budget, fixed, ctx.notes)
        check_sums(root)
    children = view.children if view else []
    targets = {c.key: c.values.gmv_fen for c in children}
    names = {c.key: c.label or c.key for c in children}
    return bound_to_targets(budget, targets, root.values.gmv_fen, ctx.notes, names)


def _top(ctx: _Context) -> Values:
    """GMV, UV and buyers of the whole campaign from the file's targets (reconciled, relative
    ones resolved), the history's CVR and ASP, else defaults; the proposal when no GMV."""
    campaign, history = ctx.campaign, ctx.history
    past: dict[str, float] = {}
    if history is not None:
        d = history.daily
        if d["uv"].sum() and d["buyers"].sum():
            past["cvr"] = float(d["buyers"].sum() / d["uv"].sum())
            past["asp"] = float(d["gmv_fen"].sum() / d["buyers"].sum())
        _forecast(ctx, history)
    proposal = ctx.forecast.get("proposal") or {}
    result = reconcile(
        given_targets(campaign, _last_year(ctx)),
        history=past,
        defaults={"cvr": DEFAULT_CVR, "asp": DEFAULT_ASP_FEN},
        fallback_gmv=proposal.get("target"),
    )
    ctx.reconciled = result
    ctx.notes += result.notes
    src = result.source
    if src.get("gmv") == "proposal":
        ctx.notes.append(
            "GMV目标取自建议目标 GMV target is the proposed target (no gmv target in file)"
        )
    for metric in ("cvr", "asp"):
        if src.get(metric) in ("history", "default"):
            v = result.values
            shown = format_pct(v.cvr) if metric == "cvr" else f"¥{v.asp_fen / 100:,.0f}"
            where = "历史 history" if src[metric] == "history" else "默认 defaults"
            ctx.notes.append(f"{metric.upper()} {shown} 来自{where}")
    if proposal.get("expected") and past and history is not None:
        ctx.feasibility = feasibility(
            result.values,
            proposal["expected"],
            cvr=past["cvr"],
            asp_fen=past["asp"],
            paid_roi=_paid_roi(history.daily),
            basis="baseline × last year's uplift",
        )
        if ctx.feasibility["severity"] != "green":
            ctx.notes.append(ctx.feasibility["message"])
    return result.values


def _last_year(ctx: _Context) -> dict[str, float] | None:
    """Last year's same calendar window in the history: GMV, buyers, UV (→ ASP, CVR)."""
    if ctx.history is None:
        return None
    d = ctx.history.daily
    days = {pd.Timestamp(sh.year_ago(day)) for day in ctx.campaign.days()}
    window = d[pd.to_datetime(d["day"]).isin(days)]
    if window.empty or not window["buyers"].sum():
        return None
    gmv, buyers, uv = (float(window[c].sum()) for c in ("gmv_fen", "buyers", "uv"))
    return {"gmv": gmv, "buyers": buyers, "uv": uv, "asp": gmv / buyers, "cvr": buyers / uv}


def _paid_roi(daily: pd.DataFrame) -> float | None:
    if "spend_fen" not in daily.columns or not daily["spend_fen"].sum():
        return None
    paid = daily[daily["spend_fen"] > 0] if "channel" in daily.columns else daily
    return float(paid["gmv_fen"].sum() / daily["spend_fen"].sum())


def _forecast(ctx: _Context, history: PlanHistory) -> None:
    section, by_day = plan_forecast(history.daily, ctx.campaign.days(), ctx.growth)
    ctx.forecast, ctx.baseline_by_day = section, by_day


def _decompose(ctx: _Context, root: TargetNode) -> None:
    campaign, daily = ctx.campaign, ctx.history.daily if ctx.history else None
    phase_view = TargetNode("phase", "view", root.values)
    root.children.append(phase_view)
    overrides = {
        t.phase.value: t.value / root.values.gmv_fen
        for t in campaign.targets
        if t.metric == "gmv" and t.phase and not t.channel and not t.category
    }
    totals = ctx.history.totals_by_day() if ctx.history else None
    history = sh.phase_shares(campaign, totals, ctx.notes)
    phase = sh.keep_rates(history, sh.rebalance(history.gmv, overrides))
    hourly = ctx.history.hourly if ctx.history else None
    ctx.ordinary = sh.ordinary_intraday(hourly, ctx.notes)
    labels = {p.phase.value: f"{p.phase.label_zh} {p.label or ''}".strip() for p in campaign.phases}
    per_phase = sh.phase_days(campaign)
    own_rates = False
    for node in grow(phase_view, "phase", phase, labels):
        # a day's own rates where they follow from the peak (the days after it); elsewhere a
        # date a year ago is another weekday, and its rate tells this year's day nothing
        after_peak = totals if node.key == Phase.WRAPUP.value else None
        days = sh.day_shares(per_phase[node.key], ctx.baseline_by_day, after_peak)
        own_rates = own_rates or days.buyers is not None
        day_nodes = grow(node, "day", days)
        for day_node in day_nodes:
            if day_node.key == campaign.peak_day.isoformat():
                curve = sh.intraday_shares(hourly, ctx.notes, peak_day=campaign.peak_day)
                grow(day_node, "hour", curve)
            elif day_node.key == (campaign.peak_day + timedelta(days=1)).isoformat():
                after = sh.day_after_peak_shares(
                    hourly, ctx.notes, peak_day=campaign.peak_day, ordinary=ctx.ordinary
                )
                if after is not None:
                    grow(day_node, "hour", after)
    if own_rates:
        ctx.notes.append(
            "每日转化率与客单价取自去年同日 each day's CVR and ASP from its date a year earlier"
        )
    for dimension, keys, metric in (
        ("channel", [c.id for c in campaign.channels], "channel"),
        ("category", [c.id for c in campaign.categories], "category"),
    ):
        if keys:
            view = TargetNode(dimension, "view", root.values)
            root.children.append(view)
            fixed = {
                getattr(t, metric): t.value / root.values.gmv_fen
                for t in campaign.targets
                if t.metric == "gmv" and getattr(t, metric) and not t.phase
            }
            table = daily
            if dimension == "category" and ctx.history and ctx.history.categories is not None:
                table = ctx.history.categories
            names = {
                c.id: c.name
                for c in (campaign.channels if dimension == "channel" else campaign.categories)
                if c.name
            }
            shares = sh.dimension_shares(table, dimension, keys, fixed, ctx.notes, names)
            grow(view, dimension, shares, names)
    view = TargetNode("customer_type", "view", root.values)
    root.children.append(view)
    grow(view, "customer_type", _customer_shares(ctx, root.values, daily))


def _customer_shares(ctx: _Context, top: Values, daily: pd.DataFrame | None) -> Shares:
    """New vs returning: the file's new_customers target, else last year's campaign window of
    the history's customer types (else all of it), else equal."""
    new_target = ctx.campaign.target("new_customers")
    keys = ["new", "returning"]
    table = ctx.history.customers if ctx.history else None
    if table is not None and not table.empty:
        last_year = {pd.Timestamp(sh.year_ago(d)) for d in ctx.campaign.days()}
        window = table[pd.to_datetime(table["day"]).isin(last_year)]
        table = window if window["buyers"].sum() > 0 else table
    else:
        table = daily
    if new_target and top.buyers:
        share = min(new_target.value / top.buyers, 1.0)
        return _customer_mix({"new": share, "returning": 1 - share}, table)
    return sh.dimension_shares(table, "customer_type", keys, {}, ctx.notes)


def _customer_mix(buyers: dict[str, float], table: pd.DataFrame | None) -> Shares:
    """Buyer shares fixed by the new-customer target; each type keeps its own CVR and ASP from
    history (UV ∝ buyers ÷ CVR, GMV ∝ buyers × ASP), else both share the campaign's."""
    if table is None or "customer_type" not in table.columns:
        return Shares(sh.normalise(buyers))
    g = table.groupby("customer_type")[["gmv_fen", "uv", "buyers"]].sum()
    if not all(k in g.index and g.loc[k, "buyers"] > 0 and g.loc[k, "uv"] > 0 for k in buyers):
        return Shares(sh.normalise(buyers))
    cvr = {k: g.loc[k, "buyers"] / g.loc[k, "uv"] for k in buyers}
    asp = {k: g.loc[k, "gmv_fen"] / g.loc[k, "buyers"] for k in buyers}
    return Shares(
        sh.normalise({k: b * asp[k] for k, b in buyers.items()}),
        sh.normalise({k: b / cvr[k] for k, b in buyers.items()}),
        sh.normalise(buyers),
    )


def _splits(root: TargetNode) -> dict:
    """Channel × phase and channel × category: each phase (category) split by the channels'
    shares of the whole, so every table sums to its phase (category) and to the total."""
    from dacu.plan.targets import split

    channels = _channel_shares(root)
    out: dict = {}
    if channels is None:
        return out
    for view in ("phase", "category"):
        node = next((c for c in root.children if c.key == view), None)
        if node is None:
            continue
        out[f"channel_{view}"] = [
            {"channel": ch, view: part.key, **v.to_dict()}
            for part in node.children
            for ch, v in split(part.values, channels).items()
        ]
    return out


def _channel_shares(root: TargetNode) -> Shares | None:
    view = next((c for c in root.children if c.key == "channel"), None)
    if view is None or not view.children:
        return None
    top = root.values

    def part(attr: str) -> dict[str, float]:
        whole = getattr(top, attr) or 1
        return {c.key: getattr(c.values, attr) / whole for c in view.children}

    return Shares(part("gmv_fen"), part("uv"), part("buyers"))


def _row(
    values: Values,
    *,
    day: str | None = None,
    hour: str | None = None,
    channel: str | None = None,
    spend_fen: int = 0,
) -> PlanRow:
    return PlanRow(
        day=day,
        hour=hour,
        channel=channel,
        gmv_fen=values.gmv_fen,
        uv=values.uv,
        orders=values.buyers,
        buyers=values.buyers,
        cvr=round(values.cvr, 6),
        asp_fen=round(values.asp_fen, 2),
        spend_fen=spend_fen,
    )


def plan_rows(
    tz: tzinfo, root: TargetNode, spend_by_day: dict[str, list[int]]
) -> tuple[list[PlanRow], list[PlanRow]]:
    """Daily rows and the hourly rows of the days split by hour (the peak day and the day after
    it; all channels, then each) of a target tree, with each
    channel's spend per day (`spend_by_day`) spread over the hours like its GMV."""
    from dacu.plan.targets import split

    day_nodes = [n for n in root.walk() if n.dimension == "day"]
    channel_shares = _channel_shares(root)
    daily, hourly = [], []
    for index, node in enumerate(day_nodes):
        day_spend = sum(v[index] for v in spend_by_day.values())
        daily.append(_row(node.values, day=node.key, spend_fen=day_spend))
        if channel_shares:
            for ch, values in split(node.values, channel_shares).items():
                daily.append(
                    _row(
                        values,
                        day=node.key,
                        channel=ch,
                        spend_fen=spend_by_day.get(ch, [0] * len(day_nodes))[index],
                    )
                )
        hourly += _hour_rows(
            tz, node, channel_shares, {ch: v[index] for ch, v in spend_by_day.items()}
        )
    return daily, hourly


def _hour_rows(
    tz: tzinfo, day: TargetNode, channel_shares: Shares | None, day_spend: dict[str, int]
) -> list[PlanRow]:
    """A day's hours (the peak day's, the day after's); each channel's spend of the day spread
    over the hours like its GMV."""
    from dacu.money import allocate
    from dacu.plan.targets import split

    hours = [c for c in day.children if c.dimension == "hour"]
    if not hours:
        return []
    weights = [h.values.gmv_fen for h in hours]
    spend = {ch: allocate(amount, weights) for ch, amount in day_spend.items()}
    rows = []
    for i, hour in enumerate(hours):
        stamp = datetime.fromisoformat(f"{day.key}T{hour.key}:00").replace(tzinfo=tz).isoformat()
        rows.append(_row(hour.values, hour=stamp, spend_fen=sum(v[i] for v in spend.values())))
        if channel_shares:
            for ch, values in split(hour.values, channel_shares).items():
                rows.append(
                    _row(
                        values, hour=stamp, channel=ch, spend_fen=spend[ch][i] if ch in spend else 0
                    )
                )
    return rows


__all__ = ["PlanHistory", "build_plan", "plan_rows"]
