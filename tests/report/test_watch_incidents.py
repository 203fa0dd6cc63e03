"""Stock-watch and coupon-store incidents of the review (issue #16 item 2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from dacu.config import load_campaign
from dacu.report.watch_incidents import _alerted, coupon_abuse_incidents, first_stall

ROOT = Path(__file__).resolve().parents[2]
H = timedelta(hours=1)
T0 = datetime(2026, 11, 11, 4, tzinfo=UTC)  # 12:00 in Shanghai


def test_a_sku_carted_but_never_ordered_again_stalls_from_its_first_empty_hour() -> None:
    # 3 hours of 4 orders per 8 carts (0.5 an order per cart), then carts go on without orders:
    # 8 carts in the first empty hour expect 4 orders (< 6), 8 more make 8 ≥ 6 → a stall at T0+3h.
    hours = {T0 + k * H: [4, 8] for k in range(3)} | {T0 + k * H: [0, 8] for k in range(3, 7)}
    assert first_stall(hours, T0, T0 + 10 * H) == T0 + 3 * H
    # orders stop while carts fall too (2 an hour expect 1 order each), then an order comes:
    # 2 expected at most before it, and after it the rate is 1 per 8 carts: no stall
    quiet = {T0 + k * H: [4, 8] for k in range(3)}
    quiet |= {T0 + 3 * H: [0, 2], T0 + 4 * H: [0, 2], T0 + 5 * H: [1, 4], T0 + 6 * H: [0, 8]}
    assert first_stall(quiet, T0, T0 + 10 * H) is None
    # a window that ends after the first empty hour has seen only 4 expected orders
    assert first_stall(hours, T0, T0 + 4 * H) is None


@dataclass
class Entry:
    ts_ms: int
    op: str
    target: str
    customer: str
    outcome: str


def test_guard_refusals_of_a_template_are_one_coupon_abuse_row() -> None:
    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    start = int(datetime(2026, 11, 11, 3, 5, tzinfo=campaign.tz).timestamp() * 1000)
    bot = [
        Entry(start + k * 1000, "claim", "newcomer-30", f"b{k % 4}", "risk_blocked")
        for k in range(12)
    ]
    few = [Entry(start, "claim", "store-coupon-20", "x", "rate_limited")] * 3
    sold = [Entry(start, "claim", "store-coupon-20", "y", "coupons_gone")] * 20
    rows = coupon_abuse_incidents(bot + few + sold, campaign)
    assert len(rows) == 1  # 3 guard refusals are noise; a pool running dry is not abuse
    (row,) = rows
    assert row["start"] == "2026-11-11T03:05+08:00" and row["where"] == "券=newcomer-30"
    assert "12 次（4 个账号）" in row["cause"] and row["loss_fen"] == 0


def test_a_sell_out_under_an_open_stock_alert_is_that_alert() -> None:
    # the 0.3× demo's SKU-SC-002: warned at 18:00 (45 minutes left at that pace), still open when
    # its last unit was ordered at 20:13 — 2 h 13 min later, beyond SAME_INCIDENT, yet the same
    # incident; a warning resolved at 18:20 was not (the SKU sold again after it)
    shanghai = timezone(timedelta(hours=8))
    sold_out = datetime(2026, 11, 11, 20, 13, tzinfo=shanghai)
    warned = {"dimension": "sku_id=SKU-SC-002", "opened_at": "2026-11-11T18:00:00+08:00"}
    assert _alerted("SKU-SC-002", sold_out, [{**warned, "resolved_at": None}])
    cleared = {**warned, "resolved_at": "2026-11-11T18:20:00+08:00"}
    assert not _alerted("SKU-SC-002", sold_out, [cleared])
    assert not _alerted("SKU-SC-001", sold_out, [{**warned, "resolved_at": None}])
    # within two hours of the sell-out counts whether open or not (as before)
    recent = {
        **warned,
        "opened_at": "2026-11-11T18:30:00+08:00",
        "resolved_at": "2026-11-11T19:00+08:00",
    }
    assert _alerted("SKU-SC-002", sold_out, [recent])
