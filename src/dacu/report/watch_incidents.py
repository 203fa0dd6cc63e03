"""Incidents of the stock watch and the coupon store, as rows of the review's `incidents` table
(the keys of `incidents.incident_rows`), beside the alert log and the fraud rings.

- 售罄 (sold out): the moment the units a SKU's orders (拍下减库存) or pays (付款减库存) took
  reached its stock (`queries._sellouts`).
- 断货 (stalled): a SKU that shoppers still cart but nobody can order — a stock-out the stock
  table does not show (a listing switched off, a warehouse sync gone wrong). Found hour by hour
  on the warehouse: its orders per cart over the STALL_BEFORE hours before × its carts in the
  hours since without an order (up to STALL_HOURS) = the orders expected; none where at least
  STALL_EXPECTED were expected (P(0) = e^−6 ≈ 0.25 % under Poisson: a few hundred SKU-hours
  are looked at) is a stall, from the first hour without an order.
- 券风控 (coupon abuse): coupon claims or redemptions the store refused for its guards (rate
  limit, risk block: 羊毛党) per template, when the review is given the store (`--store`).

Estimated loss (paid fen) of a stock row: `incidents.sku_loss` over the hours the SKU could not
be bought, to the end of that day. A refused coupon cost nothing: loss 0.
An alert of the monitor on the same SKU within two hours, or still open at the sell-out, is the
same incident: no second row.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from dacu.config import Campaign
from dacu.metrics.kpi import window
from dacu.report.incidents import FOUND_IN_REVIEW, GUARDED, NOT_HANDLED, day_end, sku_loss

STALL_BEFORE, STALL_HOURS, STALL_EXPECTED = 3, 6, 6.0
SAME_INCIDENT = timedelta(hours=2)
GUARD_REASONS = frozenset({"rate_limited", "risk_blocked"})
MIN_REFUSED = 10  # guard refusals of one template before they are an incident, not noise


def _row(
    start: datetime,
    rule: str,
    where: str,
    cause: str,
    loss: int | None,
    campaign: Campaign,
) -> dict[str, Any]:
    return {
        "start": start.astimezone(campaign.tz).isoformat(timespec="minutes"),
        "rule": rule,
        "where": where,
        "severity": "red",
        "cause": cause,
        "loss_fen": loss,
        **NOT_HANDLED,
        "source": FOUND_IN_REVIEW,
    }


def hourly_sku_counts(wh: Any, campaign: Campaign) -> dict[str, dict[datetime, list[int]]]:
    """{sku_id: {hour: [orders, carts]}} over the campaign window (hours with either)."""
    ev = window(wh.events(), campaign.start, campaign.end)
    ev = ev.filter(ev.event.isin(["order", "cart"]) & ev.sku_id.notnull())
    per = ev.group_by(sku_id=ev.sku_id, hour=ev.ts.truncate("h")).agg(
        orders=ev.order_id.nunique(), carts=(ev.event == "cart").sum()
    )
    out: dict[str, dict[datetime, list[int]]] = defaultdict(dict)
    for r in wh.to_arrow(per).to_pylist():
        out[r["sku_id"]][r["hour"]] = [int(r["orders"] or 0), int(r["carts"] or 0)]
    return out


def first_stall(hours: dict[datetime, list[int]], start: datetime, end: datetime):
    """The first hour from which the SKU's orders stopped while its carts went on, or None."""
    hour = timedelta(hours=1)
    at = min(hours, default=start)
    while at + hour <= end:
        before = [hours.get(at - k * hour, [0, 0]) for k in range(1, STALL_BEFORE + 1)]
        orders, carts = sum(b[0] for b in before), sum(b[1] for b in before)
        carted = 0
        for k in range(STALL_HOURS):
            got, cart = hours.get(at + k * hour, [0, 0])
            if got or at + (k + 1) * hour > end:
                break
            carted += cart
            if at >= start and carts and orders / carts * carted >= STALL_EXPECTED:
                return at
        at += hour
    return None


def stock_incidents(
    wh: Any, campaign: Campaign, sellouts: dict[str, datetime], alerts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Sold-out and stalled SKUs of the campaign as incident rows (none already alerted)."""
    found = [(sku, at, "售罄") for sku, at in sellouts.items()]
    for sku, hours in hourly_sku_counts(wh, campaign).items():
        at = first_stall(hours, campaign.start, campaign.end)
        if at is not None and not (sku in sellouts and sellouts[sku] <= at + timedelta(hours=1)):
            found.append((sku, at, "断货"))
    rows = []
    for sku, at, what in found:
        if _alerted(sku, at, alerts):
            continue
        loss = sku_loss(wh, at, day_end(at, campaign), sku)
        if what == "售罄":  # planned stock ran out: yellow; a stall nobody saw: red
            row = _row(at, "库存：SKU 售罄", f"SKU={sku}", "库存售完，未补货", loss, campaign)
            rows.append({**row, "severity": "yellow"})
        else:
            cause = "仍有加购却无人能下单（售罄/下架/库存同步异常）"
            rows.append(_row(at, "库存：SKU 断货", f"SKU={sku}", cause, loss, campaign))
    return rows


def _alerted(sku: str, at: datetime, alerts: list[dict[str, Any]]) -> bool:
    """Did the monitor alert this SKU for the same incident: an alert opened within
    SAME_INCIDENT of `at`, or one still open at `at` (a forecast that came true later than
    it said: 45 minutes predicted at 18:00, sold out at 20:13)?"""
    for alert in alerts:
        if alert.get("dimension") != f"sku_id={sku}" or not alert.get("opened_at"):
            continue
        opened = datetime.fromisoformat(str(alert["opened_at"]))
        resolved = alert.get("resolved_at")
        still_open = opened <= at and (not resolved or datetime.fromisoformat(resolved) >= at)
        if still_open or abs(opened - at) <= SAME_INCIDENT:
            return True
    return False


def coupon_abuse_incidents(entries: list[Any], campaign: Campaign) -> list[dict[str, Any]]:
    """Per coupon template, the store's guard refusals (羊毛党 blocked) as one row when there
    are at least MIN_REFUSED: from the first, with the number of accounts refused."""
    refused: dict[str, list[Any]] = defaultdict(list)
    for e in entries:
        if getattr(e, "outcome", None) in GUARD_REASONS:
            refused[str(e.target)].append(e)
    rows = []
    for template, hits in sorted(refused.items()):
        if len(hits) < MIN_REFUSED:
            continue
        first = datetime.fromtimestamp(min(e.ts_ms for e in hits) / 1000, campaign.tz)
        accounts = len({e.customer for e in hits if e.customer})
        cause = f"风控拦截 {len(hits)} 次（{accounts} 个账号）：羊毛党/券机器人"
        row = _row(first, "券风控：羊毛党拦截", f"券={template}", cause, 0, campaign)
        rows.append({**row, "source": GUARDED})
    return rows
