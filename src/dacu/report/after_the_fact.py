"""Incidents the review finds after the fact (复盘发现), from the campaign's full events, beside
the monitor's alert log: what the monitor could not be sure of within its live window (99 %
within 30 minutes) may be plain with the whole day in hand. A row found here that the alert log
already has (same kind, same channel / SKU, overlapping time) is not listed twice; the others
are marked `FOUND_IN_REVIEW` (复盘发现，无对应告警): the operator learns what the monitor missed
— on the days it watched; the review cannot tell those from days it did not run (the demo replays
only the peak day), so the mark says "no matching alert", not "missed".

- 支付失败 (payment failure): per channel and campaign day, the orders placed in 30-minute buckets
  (orders older than the monitor's `pay_grace` at the end of the data, so each had its chance
  to pay) and how many of them paid — by order, whenever the payment came. Every 60-minute
  window (sliding by 30 minutes) is tested against the same channel's rest of that day with
  Fisher's exact test (`monitor.detectors.rate_tail_p`, one-sided: paid too few), at ALPHA
  Bonferroni-corrected over every window tested (a window with an order), so a day without an
  incident finds nothing. Overlapping significant windows are one incident; its edge buckets
  not short of payments on their own (one-sided p ≥ EDGE_P) are trimmed off. Estimated loss:
  the incident's placed GMV at the channel's paid / placed GMV over the rest of the day, minus
  what its orders paid (`incidents.unpaid_shortfall`, the formula of a live payment-failure
  alert's loss, there against the rest of the shop).
- 刷单 / 羊毛党 / 黄牛 (abuse rings): the batch fraud scoring (`dacu.analyze.fraud.score_events`,
  the pipeline of `dacu analyze fraud score`) over the campaign window; linked clusters of at
  least RING_MIN flagged accounts, named by their abuse kind (`monitor.risk_alerts.fraud_kind`,
  the live fraud watch's classes) and, when every account bought the same one SKU, that SKU;
  clusters of one kind and SKU within a day of each other are one ring, and a flagged account
  of one SKU outside any cluster joins the ring of its kind (any, when it has none of its own)
  and SKU within a day (a ring spread over hours shares a basket, beyond chance, with only some
  of its accounts; an account of it that ordered once shows no kind). Estimated loss: the
  ring's paid GMV (fake or abused orders). A live fraud alert of that kind overlapping the
  ring's orders is the same incident.

Pure computation apart from `pay_cells`, `fraud_rings` (warehouse queries) and the entry point.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from dacu.config import Campaign
from dacu.metrics.kpi import window
from dacu.monitor.detectors import rate_tail_p
from dacu.monitor.messages import cell
from dacu.report.incidents import (
    alert_span,
    unpaid_shortfall,
)
from dacu.report.watch_incidents import _row

BUCKET = timedelta(minutes=30)
WINDOW_BUCKETS = 2  # a tested window: 60 minutes
ALPHA = 0.01  # family-wise: Bonferroni over every window tested
EDGE_P = 0.05  # an edge bucket of a found span stays in it only when this short on its own
RING_MIN = 3  # flagged accounts of a linked cluster before it is a ring


@dataclass(frozen=True)
class Cell:
    """Orders placed (count, fen) and how many of them paid (count, fen)."""

    orders: int = 0
    paid: int = 0
    placed_fen: int = 0
    paid_fen: int = 0

    def __add__(self, other: Cell) -> Cell:
        return Cell(
            self.orders + other.orders,
            self.paid + other.paid,
            self.placed_fen + other.placed_fen,
            self.paid_fen + other.paid_fen,
        )

    def __sub__(self, other: Cell) -> Cell:
        return Cell(
            self.orders - other.orders,
            self.paid - other.paid,
            self.placed_fen - other.placed_fen,
            self.paid_fen - other.paid_fen,
        )


@dataclass(frozen=True)
class PayFailure:
    """A channel whose orders stopped paying over [start, end): its orders then, the rest of
    its day (`rest`), the smallest p of its windows and the estimated loss (fen)."""

    channel: str
    start: datetime
    end: datetime
    cell: Cell
    rest: Cell
    p: float
    loss_fen: int


Cells = dict[tuple[str, datetime], Cell]  # (channel, bucket start) → orders of that bucket


def total(cells: list[Cell]) -> Cell:
    """The sum of `cells`."""
    out = Cell()
    for c in cells:
        out = out + c
    return out


def find_pay_failures(cells: Cells, tz: Any, alpha: float = ALPHA) -> list[PayFailure]:
    """The payment failures of `cells` (see the module docstring); pure."""
    days: dict[tuple[str, Any], dict[datetime, Cell]] = defaultdict(dict)
    for (channel, at), c in cells.items():
        days[(channel, at.astimezone(tz).date())][at] = c
    tests = {key: _windows(buckets) for key, buckets in days.items()}
    tested = sum(len(t) for t in tests.values())
    level = alpha / max(tested, 1)
    out = []
    for key, windows in sorted(tests.items(), key=lambda kv: str(kv[0])):
        for span in _merge([w for w in windows if w[2] < level]):
            found = _failure(key[0], span, days[key])
            if found is not None:
                out.append(found)
    return out


def _windows(buckets: dict[datetime, Cell]) -> list[tuple[datetime, datetime, float]]:
    """(start, end, p) of every 60-minute window of the day with an order, sliding by a bucket."""
    day = total(list(buckets.values()))
    starts = sorted({at - k * BUCKET for at in buckets for k in range(WINDOW_BUCKETS)})
    out = []
    for start in starts:
        inside = _between(buckets, start, start + WINDOW_BUCKETS * BUCKET)
        if inside.orders:
            rest = day - inside
            p = rate_tail_p(inside.paid, inside.orders, rest.paid, rest.orders)
            out.append((start, start + WINDOW_BUCKETS * BUCKET, p))
    return out


def _between(buckets: dict[datetime, Cell], start: datetime, end: datetime) -> Cell:
    return total([c for at, c in buckets.items() if start <= at < end])


def _merge(
    windows: list[tuple[datetime, datetime, float]],
) -> list[tuple[datetime, datetime, float]]:
    """Overlapping or touching windows as one span, with the smallest p among them."""
    spans: list[tuple[datetime, datetime, float]] = []
    for start, end, p in sorted(windows):
        if spans and start <= spans[-1][1]:
            first, last, best = spans[-1]
            spans[-1] = (first, max(last, end), min(best, p))
        else:
            spans.append((start, end, p))
    return spans


def _failure(
    channel: str, span: tuple[datetime, datetime, float], buckets: dict[datetime, Cell]
) -> PayFailure | None:
    """The span trimmed of edge buckets not short of payments on their own (EDGE_P against the
    rest of the day outside the span), with its loss."""
    start, end, p = span
    day = total(list(buckets.values()))
    inside = sorted(at for at in buckets if start <= at < end)
    rest = day - _between(buckets, start, end)

    def short(at: datetime) -> bool:
        c = buckets[at]
        return rate_tail_p(c.paid, c.orders, rest.paid, rest.orders) < EDGE_P

    while inside and not short(inside[0]):
        inside.pop(0)
    while inside and not short(inside[-1]):
        inside.pop()
    if not inside or rest.placed_fen <= 0:
        return None
    start, end = inside[0], inside[-1] + BUCKET
    mine = _between(buckets, start, end)
    rest = day - mine
    loss = unpaid_shortfall(mine.placed_fen, mine.paid_fen, rest.paid_fen / rest.placed_fen)
    return PayFailure(channel, start, end, mine, rest, p, loss)


def pay_cells(wh: Any, campaign: Campaign, grace: timedelta) -> Cells:
    """(channel, 30-minute bucket) → orders placed in the campaign window and those of them
    paid (at any time); orders younger than `grace` at the last event are left out."""
    events = wh.events()
    last = wh.to_arrow(events.aggregate(last=events.ts.max())).to_pylist()[0]["last"]
    if last is None:
        return {}
    ev = window(events, campaign.start, min(campaign.end, last - grace))
    placed = ev.filter((ev.event == "order") & ev.order_id.notnull())
    orders = placed.group_by("order_id").agg(
        ts=placed.ts.min(), channel=placed.channel.max(), fen=placed.amount_fen.sum()
    )
    pay = events.filter((events.event == "pay") & events.order_id.notnull())
    paid = pay.group_by("order_id").agg(paid_fen=pay.amount_fen.sum())
    j = orders.left_join(paid, "order_id")
    bucket = (j.ts.epoch_seconds() // int(BUCKET.total_seconds())).name("bucket")
    per = j.group_by([j.channel, bucket]).agg(
        orders=j.count(),
        paid=j.paid_fen.notnull().sum(),
        placed_fen=j.fen.sum(),
        paid_fen=j.paid_fen.sum(),
    )
    out: Cells = {}
    for r in wh.to_arrow(per).to_pylist():
        at = datetime.fromtimestamp(int(r["bucket"]) * BUCKET.total_seconds(), campaign.tz)
        out[(str(r["channel"] or "unknown"), at)] = Cell(
            int(r["orders"]),
            int(r["paid"] or 0),
            int(r["placed_fen"] or 0),
            int(r["paid_fen"] or 0),
        )
    return out


def covering(
    alerts: list[dict[str, Any]],
    campaign: Campaign,
    metrics: tuple[str, ...],
    dimension: str,
    start: datetime,
    end: datetime,
) -> dict[str, Any] | None:
    """The alert of the log of one of `metrics` on `dimension` over [start, end) — on that
    dimension, or shop-wide naming it as the root cause (a fraud alert of the older form,
    without a kind, covers every kind) — if there is one."""
    for alert in alerts:
        span = alert_span(alert, campaign)
        if alert.get("metric") not in metrics or span is None:
            continue
        if _covers(alert, dimension) and span[0] < end and start < span[1]:
            return alert
    return None


def alerted(
    alerts: list[dict[str, Any]],
    campaign: Campaign,
    metrics: tuple[str, ...],
    dimension: str,
    start: datetime,
    end: datetime,
) -> bool:
    """Does an alert of the log cover it (`covering`)?"""
    return covering(alerts, campaign, metrics, dimension, start, end) is not None


def _covers(alert: dict[str, Any], dimension: str) -> bool:
    shown = str(alert.get("dimension") or "")
    if shown == dimension or (not shown and alert.get("metric") == "flagged_customers"):
        return True
    culprit = (alert.get("root_cause") or {}).get("culprit") or {}
    return not shown and f"{culprit.get('dimension')}={culprit.get('value')}" == dimension


def pay_failure_rows(
    failures: list[PayFailure],
    alerts: list[dict[str, Any]],
    campaign: Campaign,
    names: dict[str, str],
) -> list[dict[str, Any]]:
    """The failures the alert log has no pay-rate alert of, as incident rows."""
    rows = []
    for f in failures:
        if alerted(alerts, campaign, ("pay_rate",), f"channel={f.channel}", f.start, f.end):
            continue
        c, rest = f.cell, f.rest
        local = f"{f.start.astimezone(campaign.tz):%H:%M}–{f.end.astimezone(campaign.tz):%H:%M}"
        cause = (
            f"{local} 拍下 {c.orders} 单仅 {c.paid} 单付款（{c.paid / c.orders:.0%}），"
            f"当日其余时段 {rest.paid}/{rest.orders}（{_share(rest)}）；精确检验 p={f.p:.1e}"
        )
        rows.append(
            _row(
                f.start,
                "复盘：渠道支付失败（拍下未付款）",
                cell("channel", f.channel, names),
                cause,
                f.loss_fen,
                campaign,
            )
        )
    return rows


def _share(c: Cell) -> str:
    return f"{c.paid / c.orders:.0%}" if c.orders else "—"


@dataclass(frozen=True)
class Ring:
    """Linked flagged accounts of one abuse kind (and SKU, when they bought only that one)."""

    kind: str
    sku: str | None
    accounts: tuple[str, ...]
    start: datetime
    end: datetime
    reasons: str
    paid_fen: int


def fraud_rings(wh: Any, campaign: Campaign) -> list[Ring]:
    """The rings of the campaign window (see the module docstring)."""
    from dacu.analyze.fraud import FraudConfig, score_events

    config = FraudConfig.from_campaign(campaign)
    scores = score_events(wh, config=config)
    if len(scores.features) < 2:
        return []
    result = scores.result
    flagged = result.flagged.set_index("user_id", drop=False)
    members = [[u for u in g if u in flagged.index] for g in result.clusters]
    members = [m for m in members if len(m) >= RING_MIN]
    linked = {u for m in members for u in m}
    # flagged accounts of one SKU outside the clusters: a ring spread over hours shares a basket
    # with only some of its accounts, the rest join the ring they did what it did with
    loners = [u for u in flagged.index if u not in linked and flagged.at[u, "distinct_skus"] == 1]
    spans = _order_spans(wh, campaign, [*linked, *loners])
    rings = merge_rings(
        [_ring(flagged.loc[m], spans, config.flash_skus, campaign) for m in members if m]
    )
    alone = [_ring(flagged.loc[[u]], spans, config.flash_skus, campaign) for u in loners]
    return merge_rings(rings, joining=alone)


def _ring(
    rows: Any, spans: dict[str, tuple[datetime, datetime]], flash: Any, campaign: Campaign
) -> Ring:
    from dacu.monitor.risk_alerts import fraud_kind

    kinds = Counter(fraud_kind(r, flash) for r in rows.itertuples())
    named = Counter({k: n for k, n in kinds.items() if k != "other"}) or kinds
    skus = set(rows["top_sku"]) if (rows["distinct_skus"] == 1).all() else set()
    accounts = tuple(sorted(rows["user_id"]))
    times = [spans[u] for u in accounts if u in spans] or [(campaign.start, campaign.start)]
    return Ring(
        named.most_common(1)[0][0],
        str(next(iter(skus))) if len(skus) == 1 else None,
        accounts,
        min(t[0] for t in times),
        max(t[1] for t in times),
        str(rows["reasons_zh"].value_counts().index[0]),
        int(rows["paid_fen"].fillna(0).sum()),
    )


def merge_rings(rings: list[Ring], *, joining: Sequence[Ring] = ()) -> list[Ring]:
    """Rings of the same kind and SKU whose orders overlap or fall on the same day are one; each
    of `joining` (single accounts) is added to such a ring, and dropped when there is none."""
    out: list[Ring] = []
    for r in sorted(rings, key=lambda r: r.start):
        same = _same_ring(out, r)
        if same is None:
            out.append(r)
            continue
        out[same] = _merged(out[same], r)
    for r in joining:  # an account with no kind of its own ("other") takes its ring's
        same = _same_ring(out, r if r.kind != "other" else replace(r, kind=""))
        if same is not None:
            out[same] = _merged(out[same], r)
    return out


def _same_ring(rings: list[Ring], r: Ring) -> int | None:
    """The index of the ring of `r`'s kind and SKU whose orders are within a day of `r`'s."""
    return next(
        (
            i
            for i, o in enumerate(rings)
            if r.sku is not None
            and o.sku == r.sku
            and r.kind in (o.kind, "")
            and r.start <= o.end + timedelta(hours=24)
            and o.start <= r.end + timedelta(hours=24)
        ),
        None,
    )


def _merged(o: Ring, r: Ring) -> Ring:
    return Ring(
        o.kind,
        o.sku,
        tuple(sorted(o.accounts + r.accounts)),
        min(o.start, r.start),
        max(o.end, r.end),
        o.reasons,
        o.paid_fen + r.paid_fen,
    )


def _order_spans(
    wh: Any, campaign: Campaign, users: list[str]
) -> dict[str, tuple[datetime, datetime]]:
    """user → (first, last) order time in the campaign window."""
    if not users:
        return {}
    ev = window(wh.events(), campaign.start, campaign.end)
    orders = ev.filter((ev.event == "order") & ev.user_id.isin(users))
    rows = wh.to_arrow(
        orders.group_by("user_id").agg(first=orders.ts.min(), last=orders.ts.max())
    ).to_pylist()
    return {r["user_id"]: (r["first"], r["last"]) for r in rows}


def ring_rows(
    rings: list[Ring], alerts: list[dict[str, Any]], campaign: Campaign
) -> list[dict[str, Any]]:
    """The rings no live fraud alert of their kind covers, as incident rows."""
    from dacu.monitor.risk_alerts import FRAUD_KINDS_ZH

    rows = []
    for r in rings:
        end = max(r.end, r.start + timedelta(minutes=1))
        if alerted(alerts, campaign, ("flagged_customers",), f"kind={r.kind}", r.start, end):
            continue
        shown = "、".join(r.accounts[:3]) + ("等" if len(r.accounts) > 3 else "")
        where = cell("sku_id", r.sku) if r.sku else "全店"
        cause = f"账号 {shown}：{r.reasons}"
        rule = f"风控：{FRAUD_KINDS_ZH.get(r.kind, r.kind)}团伙（{len(r.accounts)} 个账号）"
        rows.append(_row(r.start, rule, where, cause, r.paid_fen, campaign))
    return rows


def alerted_ring_losses(
    rings: list[Ring], alerts: list[dict[str, Any]], campaign: Campaign
) -> dict[Any, int]:
    """{alert id: paid GMV of the rings it covers}: a live fraud alert's loss is what its ring
    paid, as the ring's own row would have said (the alert itself carries no amount)."""
    out: dict[Any, int] = {}
    for r in rings:
        end = max(r.end, r.start + timedelta(minutes=1))
        alert = covering(alerts, campaign, ("flagged_customers",), f"kind={r.kind}", r.start, end)
        if alert is not None:
            out[alert.get("id")] = out.get(alert.get("id"), 0) + r.paid_fen
    return out


@dataclass(frozen=True)
class AfterTheFact:
    rows: list[dict[str, Any]]  # incidents the alert log lacks
    losses: dict[Any, int]  # alert id → loss, for live fraud alerts (their rings' paid GMV)


def after_the_fact_incidents(
    wh: Any, campaign: Campaign, alerts: list[dict[str, Any]], names: dict[str, str]
) -> AfterTheFact:
    """Payment failures and abuse rings found on the full events, not in the alert log, and the
    losses of the live fraud alerts that cover a ring."""
    from dacu.monitor.settings import pay_grace

    failures = find_pay_failures(pay_cells(wh, campaign, pay_grace(campaign)), campaign.tz)
    rings = fraud_rings(wh, campaign)
    return AfterTheFact(
        pay_failure_rows(failures, alerts, campaign, names) + ring_rows(rings, alerts, campaign),
        alerted_ring_losses(rings, alerts, campaign),
    )
