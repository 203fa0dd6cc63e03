"""Assemble the plan: baseline → target → decomposition → budget → timeline → capacity → risks.

`build_plan(campaign, history)` is pure: it takes the campaign and plain tables of past KPIs
(`PlanHistory`) and returns a `Plan` (plan.json). Every figure comes from the campaign file, the
history or a default that `Plan.notes` names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd

from dacu.config import Campaign
from dacu.plan import shares as sh
from dacu.plan.capacity import check_capacity, risk_register
from dacu.plan.plan_budget import plan_budget
from dacu.plan.plan_forecast import plan_forecast
from dacu.plan.promo_sim import (
    campaign_tiers,
    carts_from_orders,
    simulate_promotions,
    simulated_baskets,
    suggested_threshold,
    tier_study,
)
from dacu.plan.schema import Budget, Milestone, Plan, PlanRow, Risk, TargetTreeNode
from dacu.plan.spend_history import SpendHistory
from dacu.plan.targets import Shares, TargetNode, Values, check_sums, from_target, grow, milestones
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
    source: str = "history"

    def total_by_day(self) -> pd.Series:
        frame = self.daily.copy()
        frame["day"] = pd.to_datetime(frame["day"])
        return frame.groupby("day")["gmv_fen"].sum().sort_index()


@dataclass
class _Context:
    campaign: Campaign
    history: PlanHistory | None
    growth: float
    notes: list[str] = field(default_factory=list)
    forecast: dict = field(default_factory=dict)
    baseline_by_day: dict[date, float] | None = None


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
    budget = plan_budget(
        campaign, history.spend if history else None, history.daily if history else None, ctx.notes
    )
    daily, hourly = _rows(ctx, root, budget)
    capacity = check_capacity([r.orders for r in hourly if r.channel is None], campaign.capacity)
    days = len(campaign.days())
    risks = [Risk(**r.__dict__) for r in risk_register(days, capacity)]
    day_totals = [(r.day, r.gmv_fen) for r in daily if r.channel is None]
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
        promotions=_promotions(campaign, root.values, history.orders if history else None),
        notes=ctx.notes,
    )


def _top(ctx: _Context) -> Values:
    campaign = ctx.campaign
    gmv = campaign.target("gmv")
    cvr_t, asp_t = campaign.target("cvr"), campaign.target("asp")
    hist_cvr = hist_asp = None
    if ctx.history is not None:
        d = ctx.history.daily
        if d["uv"].sum() and d["buyers"].sum():
            hist_cvr = float(d["buyers"].sum() / d["uv"].sum())
            hist_asp = float(d["gmv_fen"].sum() / d["buyers"].sum())
        _forecast(ctx)
    cvr = cvr_t.value if cvr_t else (hist_cvr or DEFAULT_CVR)
    asp = asp_t.value if asp_t else (hist_asp or DEFAULT_ASP_FEN)
    if not (cvr_t and asp_t):
        ctx.notes.append(
            f"CVR {cvr:.2%} / ASP ¥{asp / 100:,.0f} 来自{'历史' if hist_cvr else '默认'} "
            f"from {'history' if hist_cvr else 'defaults'}"
        )
    if gmv is not None:
        total = int(gmv.value)
    elif ctx.forecast.get("proposal"):
        total = round(ctx.forecast["proposal"]["target"])
        ctx.notes.append(
            "GMV目标取自建议目标 GMV target is the proposed target (no gmv target in file)"
        )
    else:
        raise ValueError(
            "no GMV target in the campaign file and no history to propose one: add "
            "targets: [{metric: gmv, value: 3000万}] or give --history"
        )
    return from_target(total, cvr, asp)


def _forecast(ctx: _Context) -> None:
    section, by_day = plan_forecast(ctx.history.daily, ctx.campaign.days(), ctx.growth)
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
    total_series = ctx.history.total_by_day() if ctx.history else None
    phase = sh.rebalance(sh.phase_shares(campaign, total_series, ctx.notes), overrides)
    labels = {p.phase.value: f"{p.phase.label_zh} {p.label or ''}".strip() for p in campaign.phases}
    per_phase = sh.phase_days(campaign)
    for node in grow(phase_view, "phase", Shares(phase), labels):
        day_nodes = grow(
            node, "day", Shares(sh.day_shares(per_phase[node.key], ctx.baseline_by_day))
        )
        for day_node in day_nodes:
            if day_node.key == campaign.peak_day.isoformat():
                hourly = ctx.history.hourly if ctx.history else None
                curve = sh.intraday_shares(hourly, ctx.notes, peak_day=campaign.peak_day)
                grow(day_node, "hour", Shares(curve))
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
            grow(view, dimension, sh.dimension_shares(table, dimension, keys, fixed, ctx.notes))
    view = TargetNode("customer_type", "view", root.values)
    root.children.append(view)
    grow(view, "customer_type", _customer_shares(ctx, root.values, daily))


def _customer_shares(ctx: _Context, top: Values, daily: pd.DataFrame | None) -> Shares:
    """New vs returning: the file's new_customers target, else last year's campaign window of
    the history's customer types (else all of it), else equal."""
    new_target = ctx.campaign.target("new_customers")
    keys = ["new", "returning"]
    if new_target and top.buyers:
        share = min(new_target.value / top.buyers, 1.0)
        return Shares(sh.normalise({"new": share, "returning": 1 - share}))
    table = ctx.history.customers if ctx.history else None
    if table is not None and not table.empty:
        last_year = {pd.Timestamp(sh.year_ago(d)) for d in ctx.campaign.days()}
        window = table[pd.to_datetime(table["day"]).isin(last_year)]
        table = window if window["buyers"].sum() > 0 else table
        return sh.dimension_shares(table, "customer_type", keys, {}, ctx.notes)
    return sh.dimension_shares(daily, "customer_type", keys, {}, ctx.notes)


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


def _rows(ctx: _Context, root: TargetNode, budget: Budget) -> tuple[list[PlanRow], list[PlanRow]]:
    from dacu.money import allocate
    from dacu.plan.targets import split

    day_nodes = [n for n in root.walk() if n.dimension == "day"]
    channel_shares = _channel_shares(root)
    spend = {r.channel: r.spend_fen for r in budget.channels}
    weights = [n.values.gmv_fen for n in day_nodes]
    spend_by_day = {ch: allocate(amount, weights) for ch, amount in spend.items()}
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
            ctx, node, channel_shares, {ch: v[index] for ch, v in spend_by_day.items()}
        )
    return daily, hourly


def _hour_rows(
    ctx: _Context, day: TargetNode, channel_shares: Shares | None, day_spend: dict[str, int]
) -> list[PlanRow]:
    """Peak-day hours; each channel's spend of the day spread over the hours like its GMV."""
    from dacu.money import allocate
    from dacu.plan.targets import split

    hours = [c for c in day.children if c.dimension == "hour"]
    if not hours:
        return []
    weights = [h.values.gmv_fen for h in hours]
    spend = {ch: allocate(amount, weights) for ch, amount in day_spend.items()}
    rows = []
    for i, hour in enumerate(hours):
        stamp = (
            datetime.fromisoformat(f"{day.key}T{hour.key}:00")
            .replace(tzinfo=ctx.campaign.tz)
            .isoformat()
        )
        rows.append(_row(hour.values, hour=stamp, spend_fen=sum(v[i] for v in spend.values())))
        if channel_shares:
            for ch, values in split(hour.values, channel_shares).items():
                rows.append(
                    _row(
                        values, hour=stamp, channel=ch, spend_fen=spend[ch][i] if ch in spend else 0
                    )
                )
    return rows


def _promotions(campaign: Campaign, top: Values, orders: pd.DataFrame | None) -> dict:
    """满减 designs side by side on historical baskets (else simulated), and the whole promotion
    set through the engine on historical orders (with and without the campaign's coupons)."""
    if orders is not None and not orders.empty:
        totals = orders.groupby("order_id")["amount_fen"].sum()
        baskets = [int(v) for v in totals.to_numpy() if v > 0]
        basis = f"historical orders ({len(baskets):,} baskets)"
    else:
        baskets = simulated_baskets(top.asp_fen)
        basis = "simulated log-normal around the planned ASP (σ 0.6, 20,000 baskets)"
    asp = sum(baskets) / len(baskets)
    low, high = suggested_threshold(asp)
    designs = campaign_tiers(campaign)
    for threshold, rate in ((low, 0.12), (high, 0.15)):
        off = round(threshold * rate / 100) * 100
        designs.append(
            (f"建议 suggested 满{threshold / 100:g}减{off / 100:g}", ((threshold, off),))
        )
    out = {
        "baskets": basis,
        "asp_fen": round(asp),
        "suggested_threshold_fen": [low, high],
        "designs": [tier_study(baskets, tiers, name=name).to_dict() for name, tiers in designs],
    }
    if orders is not None and not orders.empty:
        carts = carts_from_orders(orders, store=campaign.store)
        held = [str(c.get("id")) for c in campaign.coupons if c.get("id")]
        out["engine"] = simulate_promotions(campaign, carts).to_dict()
        out["engine_with_coupons"] = simulate_promotions(campaign, carts, coupons=held).to_dict()
    else:
        out["engine"] = {"available": False, "reason": "no historical orders to quote"}
    return out


__all__ = ["PlanHistory", "build_plan"]
