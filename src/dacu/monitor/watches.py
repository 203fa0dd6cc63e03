"""Watches (盯盘): stock hours-to-stock-out, budget pacing and live ROI, coupons per slot, flash-sale
refusals. Pure functions over rollup readings, the SKU table, the plan and the flash audit trail.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from dacu.monitor.cells import Kpis

STOCK_RED_HOURS = 2.0
STOCK_YELLOW_HOURS = 6.0


@dataclass(frozen=True)
class StockRow:
    sku_id: str
    category: str | None
    stock_left: int
    units_per_hour: float
    hours_to_stockout: float | None  # None: not selling
    status: str  # red (< 2 h), yellow (< 6 h), green
    stalled: dict | None = None  # orders stopped though still carted: the stock-out signal

    def as_dict(self) -> dict:
        return asdict(self)


def stock_watch(
    skus: Sequence[Mapping[str, Any]],
    sold: Mapping[str, int],
    velocity: Mapping[str, float],
    *,
    top: int = 100,
    stalled: Mapping[str, dict] | None = None,
    rush: Mapping[str, tuple[float, int]] | None = None,
    ahead: float = 1.0,
) -> list[StockRow]:
    """Hours to stock-out = stock left ÷ recent units per hour, for the `top` fastest SKUs.

    `sold`: units taken (ordered or paid) since the stock was counted; `velocity`: units per
    hour over the recent window (e.g. the last hour from the rollups). `stalled`: SKUs whose
    orders stopped while shoppers still cart them (`stalled_skus`) — out of stock in fact whatever the stock table
    says (a wrong count, a listing switched off, a warehouse sync gone wrong): 0 hours, red, and
    listed before the rest. `rush`: SKUs in a flash-sale session (秒杀) — (hours until it ends,
    units of its stock it has still to sell): those go first, by its end, and the rest of the
    stock at `velocity`, which is then the pace outside the session (`flash_rush`). `ahead`:
    the pace expected in the hours ahead against the recent one (`StockWatching._pace_ahead`:
    after the midnight rush the plan's next hour is a fraction of the last). Soonest stock-out
    first.
    """
    stalled = stalled or {}
    rush = rush or {}
    rows = []
    for sku in skus:
        sku_id = sku["sku_id"]
        left = max(0, int(sku.get("stock") or 0) - int(sold.get(sku_id, 0)))
        rate = float(velocity.get(sku_id, 0.0))
        hours = _cover(left, rate * ahead, rush.get(sku_id))
        status = (
            "green"
            if hours is None or hours >= STOCK_YELLOW_HOURS
            else ("yellow" if hours >= STOCK_RED_HOURS else "red")
        )
        if left == 0 and rate > 0:
            status = "red"
        if sku_id in stalled:
            hours, status = 0.0, "red"
        rows.append(
            StockRow(sku_id, sku.get("category"), left, rate, hours, status, stalled.get(sku_id))
        )
    fastest = sorted(rows, key=lambda r: (r.stalled is None, -r.units_per_hour, r.sku_id))[:top]
    return sorted(
        fastest, key=lambda r: (r.hours_to_stockout is None, r.hours_to_stockout or 0.0, r.sku_id)
    )


def _cover(left: int, rate: float, rush: tuple[float, int] | None) -> float | None:
    """Hours until `left` units are gone at `rate` an hour, after a flash session's `rush`."""
    if rush is None:
        return left / rate if rate > 0 else None
    session_hours, session_units = rush
    if left <= session_units:  # the session itself takes the rest
        return session_hours * left / session_units if session_units else 0.0
    after = left - session_units
    return session_hours + after / rate if rate > 0 else None


def flash_rush(
    sessions: Sequence[tuple[str, int, int, int]],
    now: int,
    taken: Callable[[str, int, int], int],
    window: int = 60,
) -> tuple[dict[str, tuple[float, int]], dict[str, float]]:
    """The flash-sale sessions (sku_id, start, end, stock; epoch minutes) that bend the stock
    forecast at `now`: ({sku: (hours until the session ends, units it will still sell)} for the
    sessions under way, {sku: units per hour} to forecast with instead of the last `window`
    minutes' pace for the SKUs whose session lies in that window — the `window` before the
    session). A session's rush is bounded by its own stock: the 1× example shop's 20:00 lipstick
    sale sold its 2,000 in ten minutes, and read as the hour's pace that was "sold out in 0.9
    hours" for a SKU that lasted 20 more. Until its end a session sells at its pace so far, up
    to its stock (the demo's sold 14 of its 2,000 in ten minutes: not 1,986 more in twenty).
    `taken(sku, start, end)`: units taken in [start, end)."""
    rushing: dict[str, tuple[float, int]] = {}
    paces: dict[str, float] = {}
    for sku, start, end, stock in sessions:
        if not (start < now and end > now - window):
            continue
        paces[sku] = taken(sku, start - window, start) * 60 / window
        if now < end:
            sold = taken(sku, start, now)
            to_come = min(max(0, stock - sold), math.ceil(sold * (end - now) / (now - start)))
            rushing[sku] = ((end - now) / 60, to_come)
    return rushing, paces


STALL_MIN_COUNT = 5  # orders and carts a SKU needs in the earlier window for a rate of its own


def stalled_skus(
    earlier: Mapping[str, Mapping[str, float]],
    actual: Mapping[str, Mapping[str, float]],
    *,
    scale: float = 1.0,
) -> dict[str, dict]:
    """SKUs whose orders stopped while shoppers still cart them: the root-cause analysis's
    stock-out signal (`dacu.analyze.rca.signals_of`, corrected for the SKUs that could show one)
    on {sku: measures} of a recent window (`actual`) against `earlier` cells, `scale` × their
    counts being what the recent window would hold at the same pace. {sku_id: signal dict}.

    Only SKUs with STALL_MIN_COUNT orders and carts in `earlier` are tested (a rate from two
    orders is noise), and only while carts go on at half their pace or more: a SKU whose carts
    fell with its orders lost its shoppers (a flash sale over, traffic moved on), which is not
    evidence that it cannot be bought."""
    from dacu.analyze.rca import signals_of

    tested = [
        k
        for k, m in earlier.items()
        if m.get("orders", 0) >= STALL_MIN_COUNT and m.get("cart", 0) >= STALL_MIN_COUNT
    ]
    forecast = {k: {name: x * scale for name, x in earlier[k].items()} for k in tested}
    now = {k: dict(actual.get(k, {})) for k in tested}
    fired = signals_of({"sku_id": forecast}, {"sku_id": now})
    return {
        s.value: s.as_dict()
        for s in fired
        if s.kind == "stock_out" and now[s.value].get("cart", 0) >= 0.5 * forecast[s.value]["cart"]
    }


LOST_MEASURE = {
    "cvr": ("paid_orders", "uv"),
    "order_rate": ("orders", "pv"),
    "buyers": ("paid_orders", None),
    "orders": ("orders", None),
    "paid_orders": ("paid_orders", None),
    "units": ("units", None),
    "gmv_fen": ("gmv_fen", None),
    "paid_gmv_fen": ("paid_gmv_fen", None),
}
"""What a sold-out SKU takes from a metric: (its measure the metric would have gained, the
denominator of a rate it is gained over). SKU cells count, they keep no buyer sketch: a buyer
lost to a sold-out SKU is its paid order lost (a shopper buys one of a SKU at a time)."""
SOLD_OUT_MIN_VIEWS = 20  # page views a SKU needs before the window for a pace of its own
SOLD_OUT_MAIN_PART = 0.5  # the share of a shortfall the sell-outs must cost to be its cause


@dataclass(frozen=True)
class SoldOutLoss:
    """What SKUs sold out cost a window of a rule: per SKU its page views in the window × the
    rule's measure per page view before (the buyers it would have had), and the rule's value had
    they come (`value_without`)."""

    lost: Mapping[str, float]  # SKU → the measure it would have added to the window
    value: float  # the rule's value
    value_without: float

    def lifts(self, below: float, reference: float) -> bool:
        """The rule would hold with the sold-out SKUs' lost measure counted: but for the
        sell-outs the alert would not have fired."""
        return bool(self.lost) and self.value_without >= below * reference

    def explains(self, below: float, reference: float) -> bool:
        """It lifts the rule, and is the main part (SOLD_OUT_MAIN_PART) of the shortfall from the
        reference: its cause. An hour at 59% of a 60% bound that two lost orders lift to 64% is
        41% short for other reasons: the sell-out tipped it over the bound, it is not why."""
        return self.lifts(below, reference) and self.value_without - self.value >= (
            SOLD_OUT_MAIN_PART * (reference - self.value)
        )


def sold_out_loss(
    metric: str,
    value: float,
    window: Kpis,
    in_window: Mapping[str, Kpis],
    before: Mapping[str, Kpis],
    sold_out: Iterable[str],
) -> SoldOutLoss | None:
    """The sold-out SKUs' share of a shortfall in `metric` (LOST_MEASURE), from Kpis: `window`
    the rule's own cells (its denominator: the window's UV for a CVR), `in_window` and `before`
    per SKU. A SKU converts its page views at its pace before it sold out; what its views in the
    window would have brought at that pace, less what it still brought (the window may begin
    before it sold out), is what its shoppers could not buy (the stock watch's stall signal reads
    carts the same way). Two errors, opposite ways: a shopper who bought another SKU instead is
    counted twice (as lost, and in the window), and views after the sell-out in the look back
    lower the pace. None for a metric a sell-out does not move."""
    if metric not in LOST_MEASURE:
        return None
    measure, per = LOST_MEASURE[metric]
    lost = {}
    for sku in sold_out:
        earlier, now = before.get(sku), in_window.get(sku)
        if earlier is None or now is None or earlier.pv < SOLD_OUT_MIN_VIEWS:
            continue
        # what its views would have brought, less what it still brought (before it sold out)
        missing = getattr(earlier, measure) / earlier.pv * now.pv - getattr(now, measure)
        if missing > 0:
            lost[sku] = missing
    total = sum(lost.values())
    if per is None:
        return SoldOutLoss(lost, value, value + total)
    trials = getattr(window, per)
    return SoldOutLoss(lost, value, value + total / trials) if trials else None


@dataclass(frozen=True)
class BudgetRow:
    channel: str
    budget_fen: int
    planned_to_now_fen: int
    spent_fen: int
    pace: float | None  # spent ÷ planned to now
    gmv_fen: int
    roi: float | None  # GMV ÷ spend (platform convention)
    status: str

    def as_dict(self) -> dict:
        return asdict(self)


def budget_watch(
    budget: Mapping[str, int],
    planned_to_now: Mapping[str, float],
    spent: Mapping[str, int],
    gmv: Mapping[str, int],
    *,
    tolerance: float = 0.15,
    roi_floor: float | None = None,
) -> list[BudgetRow]:
    """Spend vs planned spend to now per channel, and live ROI; red on overspend beyond 2×tolerance
    or ROI under the floor, yellow beyond the tolerance either way."""
    rows = []
    for channel in sorted(set(budget) | set(spent)):
        planned = round(planned_to_now.get(channel, 0.0))
        spend = int(spent.get(channel, 0))
        pace = spend / planned if planned else None
        roi = gmv.get(channel, 0) / spend if spend else None
        status = "green"
        if pace is not None and abs(pace - 1) > tolerance:
            status = "yellow"
        if (pace is not None and pace - 1 > 2 * tolerance) or (
            roi_floor is not None and roi is not None and roi < roi_floor
        ):
            status = "red"
        rows.append(
            BudgetRow(
                channel,
                int(budget.get(channel, 0)),
                planned,
                spend,
                pace,
                int(gmv.get(channel, 0)),
                roi,
                status,
            )
        )
    return rows


def _slot(ts_ms: int, slot_minutes: int) -> int:
    width = slot_minutes * 60_000
    return ts_ms // width * width


def coupon_watch(entries: Iterable[Any], *, slot_minutes: int = 60) -> list[dict]:
    """Per (slot, coupon template): claims issued, redemptions, refusals, redemption rate.

    `entries` are flash audit entries (`dacu.flash.store.AuditEntry`: ts_ms, op, target, outcome).
    """
    cells: dict[tuple[int, str], Counter] = defaultdict(Counter)
    for entry in entries:
        if entry.op not in ("claim", "redeem"):
            continue
        cell = cells[(_slot(entry.ts_ms, slot_minutes), entry.target)]
        if entry.outcome == "ok":
            cell["issued" if entry.op == "claim" else "redeemed"] += 1
        else:
            cell["refused"] += 1
    out = []
    for (slot, target), cell in sorted(cells.items()):
        issued = cell["issued"]
        out.append(
            {
                "slot_ms": slot,
                "coupon": target,
                "issued": issued,
                "redeemed": cell["redeemed"],
                "refused": cell["refused"],
                "redemption_rate": cell["redeemed"] / issued if issued else None,
            }
        )
    return out


def flash_watch(entries: Iterable[Any]) -> list[dict]:
    """Per flash sale: reservations granted, refusals by reason, refusal rate."""
    granted: Counter = Counter()
    reasons: dict[str, Counter] = defaultdict(Counter)
    for entry in entries:
        if entry.op != "reserve":
            continue
        if entry.outcome == "ok":
            granted[entry.target] += 1
        else:
            reasons[entry.target][entry.outcome] += 1
    out = []
    for sale in sorted(set(granted) | set(reasons)):
        refused = sum(reasons[sale].values())
        total = refused + granted[sale]
        out.append(
            {
                "sale": sale,
                "granted": granted[sale],
                "refused": refused,
                "refusal_rate": refused / total if total else None,
                "reasons": dict(reasons[sale].most_common()),
            }
        )
    return out


@dataclass(frozen=True)
class CouponBands:
    """Redemption-rate bands of a coupon slot (券核销率分档) and the advice of each:
    below `pause_below` → 暂停发券 (coupons claimed and not used: stop issuing);
    from `more_from` → 增发 issued × `more_share` (demand beyond the coupons);
    from `all_from` → 全线补发 (nearly every coupon used: reissue as many as were issued).
    Between `pause_below` and `more_from` the slot is on course (no advice). A slot is judged once
    it has ended and only with `min_issued` coupons issued in it (a rate of a handful is noise)."""

    slot_hours: int = 4
    pause_below: float = 0.70
    more_from: float = 0.85
    all_from: float = 0.93
    more_share: float = 0.5
    min_issued: int = 30

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None, *, source: str = "monitor.coupon_slots") -> Any:
        """From the campaign file's `monitor: coupon_slots:` (rates as 0.7 or "70%")."""
        from dacu.errors import ConfigError

        values: dict[str, Any] = {}
        for key, raw in (data or {}).items():
            if key not in cls.__dataclass_fields__:
                raise ConfigError(
                    f"{source}.{key}: unknown key (one of {', '.join(cls.__dataclass_fields__)})"
                )
            try:
                text = str(raw).strip()
                value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
            except ValueError:
                raise ConfigError(f"{source}.{key}: {raw!r} is not a number") from None
            values[key] = int(value) if key in ("slot_hours", "min_issued") else value
        bands = cls(**values)
        if not 0 <= bands.pause_below <= bands.more_from <= bands.all_from <= 1:
            raise ConfigError(f"{source}: needs 0 ≤ pause_below ≤ more_from ≤ all_from ≤ 100%")
        if bands.slot_hours not in (1, 2, 4, 8):  # slots start at Beijing hours 0, 4, 8 … (UTC+8)
            raise ConfigError(f"{source}.slot_hours: one of 1, 2, 4, 8")
        return bands


ADVICE_ZH = {"issue_more": "增发", "pause": "暂停发券", "reissue_all": "全线补发"}


def coupon_advice(rows: Sequence[Mapping[str, Any]], bands: CouponBands) -> list[dict]:
    """Advice per (slot, coupon) from `coupon_watch(entries, slot_minutes=60 * slot_hours)` rows:
    {slot_ms, coupon, issued, redeemed, rate, advice, quantity, basis_zh}; slots on course are
    left out. `quantity`: coupons to issue (增发/补发), None for a pause."""
    out = []
    for row in rows:
        issued, redeemed = int(row["issued"]), int(row["redeemed"])
        if issued < bands.min_issued:
            continue
        rate = redeemed / issued
        if rate >= bands.all_from:
            advice, quantity, band = "reissue_all", issued, f"≥ {bands.all_from:.0%}"
        elif rate >= bands.more_from:
            advice, quantity = "issue_more", math.ceil(issued * bands.more_share)
            band = f"≥ {bands.more_from:.0%}"
        elif rate < bands.pause_below:
            advice, quantity, band = "pause", None, f"< {bands.pause_below:.0%}"
        else:
            continue
        what = ADVICE_ZH[advice] + (f" {quantity:,} 张" if quantity else "")
        share = f" (本时段发放 × {bands.more_share:.0%})" if advice == "issue_more" else ""
        out.append(
            {
                "slot_ms": row["slot_ms"],
                "coupon": row["coupon"],
                "issued": issued,
                "redeemed": redeemed,
                "rate": rate,
                "advice": advice,
                "quantity": quantity,
                "basis_zh": f"发放 {issued:,} 张, 核销 {redeemed:,} 张, 核销率 {rate:.0%} {band} → {what}{share}",
            }
        )
    return out
