"""Incidents the review finds after the fact on the full events (`report.after_the_fact`), each
number worked out by hand on a small shop, all on 11-11 (Asia/Shanghai):

- 直通车 (search_ads) takes an order of ¥100 every 10 minutes from 08:00 to 22:50 (90 orders,
  each by its own shopper, on their own item, viewed a minute before). The one at :30 of each
  even hour but 20 is never paid (7 of 84 outside 20:00–21:00, the channel's ordinary rate:
  77 / 84 = 92 %); from 20:00 to 21:00 its payments fail: none of its 6 orders is paid. A last order at 23:55 is unpaid too, but younger than the monitor's 10
  minutes of pay grace when the data end (a pv at 23:59): not counted.
- 自然搜索 (organic) takes an order of ¥50 every 30 minutes from 08:00 to 22:30, all paid.

By hand: the window 20:00–21:00 has 0 paid of 6 while the rest of the channel's day has 77 of
84; Fisher's one-sided p is the chance that 6 orders drawn from 90 (13 unpaid) are all unpaid,
C(13, 6) / C(90, 6) = 1716 / 622,614,630 = 2.76e-6, under 1 % / 62 windows tested (31 per
channel: starts 07:30 … 22:30). The window 19:30–20:30 (3 of 6 paid) is P(X ≤ 3) = 0.037: not
significant. Loss: 6 × ¥100 placed × (¥7,700 paid / ¥8,400 placed over the rest of the day) −
¥0 paid = ¥550.00.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from math import comb
from pathlib import Path

import pyarrow as pa
import pytest

from dacu.config import parse_campaign
from dacu.events import EVENT_SCHEMA
from dacu.report.after_the_fact import (
    Cell,
    Ring,
    alerted_ring_losses,
    find_pay_failures,
    merge_rings,
    pay_cells,
    pay_failure_rows,
    ring_rows,
)
from dacu.report.incidents import FOUND_IN_REVIEW, NOT_HANDLED
from dacu.warehouse import open_warehouse

CAMPAIGN = parse_campaign(
    """
id: c
name: c
store: s
phases:
  - {name: warmup, start: 2026-11-01 00:00, end: 2026-11-11 00:00}
  - {name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}
"""
)
NAMES = {"search_ads": "直通车", "organic": "自然搜索"}
GRACE = timedelta(minutes=10)


def at(hour: int, minute: int = 0, day: int = 11) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=CAMPAIGN.tz)


def _sale(rows: list[dict], when: datetime, fen: int, channel: str, paid: bool, **more) -> None:
    n = len(rows)
    common = {"user_id": f"u{n}", "session_id": f"s{n}", "sku_id": f"SKU-{n}", "channel": channel}
    view = {"event_id": f"e{n}v", "ts": when - timedelta(minutes=1), "event": "pv"}
    rows.append({**common, **view})
    common |= {"quantity": 1, "amount_fen": fen, "order_id": f"o{n}", **more}
    rows.append({**common, "event_id": f"e{n}o", "ts": when, "event": "order"})
    if paid:
        rows.append(
            {**common, "event_id": f"e{n}p", "ts": when + timedelta(minutes=2), "event": "pay"}
        )


def shop(collapse: bool) -> pa.Table:
    rows: list[dict] = []
    for hour in range(8, 23):
        for minute in range(0, 60, 10):
            failing = collapse and hour == 20
            usual = not (minute == 30 and hour % 2 == 0 and hour != 20)
            _sale(rows, at(hour, minute), 10_000, "search_ads", usual and not failing)
        for minute in (0, 30):
            _sale(rows, at(hour, minute), 5_000, "organic", True)
    _sale(rows, at(23, 55), 10_000, "search_ads", False)
    rows.append({"event_id": "last", "ts": at(23, 59), "user_id": "v", "event": "pv"})
    return pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)


@cache
def _cells_of(collapse: bool) -> dict:
    wh = open_warehouse("duckdb://:memory:")
    try:
        wh.append_events(shop(collapse))
        return pay_cells(wh, CAMPAIGN, GRACE)
    finally:
        wh.close()


@pytest.fixture(params=[True, False], ids=["collapse", "ordinary"])
def cells(request: pytest.FixtureRequest) -> tuple[bool, dict]:
    return request.param, _cells_of(request.param)


def test_orders_are_counted_by_order_and_only_once_old_enough(cells) -> None:
    collapse, found = cells
    ads = [c for (channel, _), c in found.items() if channel == "search_ads"]
    assert sum(c.orders for c in ads) == 90  # the order at 23:55 is younger than the grace
    assert sum(c.paid for c in ads) == (77 if collapse else 83)
    assert found[("search_ads", at(20))] == (
        Cell(3, 0, 30_000, 0) if collapse else Cell(3, 3, 30_000, 30_000)
    )
    assert found[("organic", at(20, 30))] == Cell(1, 1, 5_000, 5_000)


def test_a_channel_whose_payments_collapse_for_an_hour_is_found(cells) -> None:
    collapse, found = cells
    failures = find_pay_failures(found, CAMPAIGN.tz)
    if not collapse:  # the same shop paying as usual at 20:00: no false finding
        assert failures == []
        return
    (f,) = failures
    assert (f.channel, f.start, f.end) == ("search_ads", at(20), at(21))
    assert f.cell == Cell(6, 0, 60_000, 0)
    assert f.rest == Cell(84, 77, 840_000, 770_000)
    assert f.p == pytest.approx(comb(13, 6) / comb(90, 6), rel=1e-9)
    assert f.loss_fen == 55_000  # 60,000 × 770,000 / 840,000 − 0
    (row,) = pay_failure_rows(failures, [], CAMPAIGN, NAMES)
    assert row == {
        "start": "2026-11-11T20:00+08:00",
        "rule": "复盘：渠道支付失败（拍下未付款）",
        "where": "渠道=直通车",
        "severity": "red",
        "cause": "20:00–21:00 拍下 6 单仅 0 单付款（0%），当日其余时段 77/84（92%）；精确检验 p=2.8e-06",
        "loss_fen": 55_000,
        **NOT_HANDLED,
        "source": FOUND_IN_REVIEW,
    }


def _unpaid_alert(channel: str, opened: datetime, resolved: datetime | None = None) -> dict:
    return {
        "id": 1,
        "rule_id": "unpaid",
        "metric": "pay_rate",
        "dimension": f"channel={channel}",
        "opened_at": opened.isoformat(),
        "resolved_at": resolved.isoformat() if resolved else None,
    }


def test_a_failure_the_monitor_alerted_is_not_listed_twice() -> None:
    failures = find_pay_failures(_cells_of(True), CAMPAIGN.tz)
    alerted = [_unpaid_alert("search_ads", at(20, 25), at(21, 5))]
    assert pay_failure_rows(failures, alerted, CAMPAIGN, NAMES) == []
    # an alert of another channel, or of this one the evening before, is another incident
    other = [_unpaid_alert("organic", at(20, 25)), _unpaid_alert("search_ads", at(20, 25, day=10))]
    assert len(pay_failure_rows(failures, other, CAMPAIGN, NAMES)) == 1
    # a shop-wide pay-rate alert whose root cause names the channel is the same incident
    shop_wide = {
        **_unpaid_alert("x", at(20, 30)),
        "dimension": "",
        "root_cause": {"culprit": {"dimension": "channel", "value": "search_ads"}},
    }
    assert pay_failure_rows(failures, [shop_wide], CAMPAIGN, NAMES) == []


def test_an_edge_that_paid_as_usual_is_trimmed_off() -> None:
    """Windows 19:30–20:30, 20:00–21:00 and 20:30–21:30 are all significant (p = 3.3e-5 for
    the edges, under 1 % / 31): the edge buckets 19:30 and 21:00 paid as usual, the incident
    is 20:00–21:00."""
    buckets = {at(h, m): Cell(10, 9, 1_000, 900) for h in range(8, 23) for m in (0, 30)}
    buckets[at(20)] = buckets[at(20, 30)] = Cell(10, 0, 1_000, 0)
    (f,) = find_pay_failures({("ads", k): v for k, v in buckets.items()}, CAMPAIGN.tz)
    assert (f.start, f.end, f.cell) == (at(20), at(21), Cell(20, 0, 2_000, 0))
    assert f.loss_fen == 1_800  # 2,000 × 0.9 − 0: the rest of the day paid 900 of each 1,000


def ring(start: datetime, sku: str | None, accounts: tuple[str, ...], kind: str = "brushing"):
    return Ring(kind, sku, accounts, start, start + timedelta(hours=2), "秒付", 1_000)


def test_clusters_of_one_ring_are_merged_by_kind_and_sku() -> None:
    """A ring split in two clusters (say, by device type) on the same SKU the same day is one;
    another SKU, another kind or a week later is another ring."""
    rings = merge_rings(
        [
            ring(at(10, day=1), "SKU-X", ("a", "b", "c")),
            ring(at(11, day=1), "SKU-X", ("d", "e", "f")),
            ring(at(11, day=1), "SKU-Y", ("g", "h", "i")),
            ring(at(11, day=1), "SKU-X", ("j", "k", "l"), kind="coupon_bots"),
            ring(at(10, day=9), "SKU-X", ("m", "n", "o")),
            ring(at(12, day=1), None, ("p", "q", "r")),
        ]
    )
    assert [(r.kind, r.sku, len(r.accounts), r.paid_fen) for r in rings] == [
        ("brushing", "SKU-X", 6, 2_000),
        ("brushing", "SKU-Y", 3, 1_000),
        ("coupon_bots", "SKU-X", 3, 1_000),
        ("brushing", None, 3, 1_000),
        ("brushing", "SKU-X", 3, 1_000),
    ]
    assert (rings[0].start, rings[0].end) == (at(10, day=1), at(13, day=1))


def test_a_flagged_account_outside_the_clusters_joins_its_ring_and_makes_none() -> None:
    """A ring spread over the day shares a basket beyond chance with only some of its accounts:
    the flagged accounts of its kind and SKU within a day join it; alone they are no ring."""
    rings = merge_rings(
        [ring(at(10, day=1), "SKU-X", ("a", "b", "c"))],
        joining=[
            ring(at(15, day=1), "SKU-X", ("d",)),  # the same day: joins
            ring(at(8, day=1), "SKU-X", ("e",)),  # before the ring's first order: joins
            ring(at(15, day=1), "SKU-Y", ("f",)),  # another SKU
            ring(at(15, day=1), "SKU-X", ("g",), kind="scalpers"),  # another kind
            ring(at(16, day=1), "SKU-X", ("i",), kind="other"),  # no kind of its own: joins
            ring(at(10, day=5), "SKU-X", ("h",)),  # four days later
        ],
    )
    assert [(r.sku, r.accounts, r.paid_fen) for r in rings] == [
        ("SKU-X", ("a", "b", "c", "d", "e", "i"), 4_000)
    ]
    assert (rings[0].start, rings[0].end) == (at(8, day=1), at(18, day=1))
    assert merge_rings([], joining=[ring(at(10, day=1), "SKU-X", ("d",))]) == []


def _brushing_shop() -> pa.Table:
    """Six accounts of one ring (福建, android) each order SKU-R (¥88) twice within 10:00–11:00
    on 11-01 after a single view, paying within 5 seconds; sixty customers of other provinces
    browse, cart and buy a SKU of their own, paying minutes later (so that six of one province
    and phone type sharing a basket is beyond chance: 1.0 expected, P(≥ 6) = 0.06%)."""
    rows: list[dict] = []
    t0 = at(10, day=1)

    def event(
        user: str, kind: str, when: datetime, sku: str, order: str | None = None, k: int = -1
    ) -> None:
        rows.append(
            {
                "event_id": f"{user}-{kind}-{len(rows)}",
                "ts": when,
                "user_id": user,
                "session_id": user,
                "event": kind,
                "channel": "organic",
                "sku_id": sku,
                "quantity": 1,
                "amount_fen": 8_800 if kind in ("order", "pay") else None,
                "order_id": order,
                "device": "android" if k < 0 else ("ios", "pc")[k % 2],
                "region": "福建" if k < 0 else ("广东", "江苏", "浙江")[k % 3],
            }
        )

    for k in range(6):
        for n in range(2):
            when = t0 + timedelta(minutes=5 * k + 25 * n)
            event(f"r{k}", "pv", when, "SKU-R")
            event(f"r{k}", "order", when + timedelta(seconds=10), "SKU-R", f"or{k}{n}")
            event(f"r{k}", "pay", when + timedelta(seconds=15), "SKU-R", f"or{k}{n}")
    for k in range(60):
        when, sku = t0 + timedelta(minutes=13 * k), f"SKU-{k}"
        for kind, minutes in (("pv", 0), ("cart", 2), ("order", 4), ("pay", 9)):
            order = f"oc{k}" if kind in ("order", "pay") else None
            event(f"c{k}", kind, when + timedelta(minutes=minutes), sku, order, k)
    return pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)


def test_a_brushing_ring_is_found_on_the_full_events_with_its_sku() -> None:
    """The batch fraud scoring flags the six accounts (秒付, 单品反复下单, 同款同价同时段多账户,
    关联账户团伙 …) as one ring of 刷单 on SKU-R; its loss is their paid GMV, 12 × ¥88."""
    from dacu.report.after_the_fact import fraud_rings

    wh = open_warehouse("duckdb://:memory:")
    try:
        wh.append_events(_brushing_shop())
        (found,) = fraud_rings(wh, CAMPAIGN)
    finally:
        wh.close()
    assert (found.kind, found.sku, found.accounts) == (
        "brushing",
        "SKU-R",
        tuple(f"r{k}" for k in range(6)),
    )
    assert found.paid_fen == 12 * 8_800
    assert found.start == at(10, day=1) + timedelta(seconds=10)  # the first fake order
    (row,) = ring_rows([found], [], CAMPAIGN)
    assert (row["rule"], row["where"], row["start"], row["loss_fen"], row["source"]) == (
        "风控：刷单团伙（6 个账号）",
        "SKU=SKU-R",
        "2026-11-01T10:00+08:00",
        105_600,
        FOUND_IN_REVIEW,
    )
    assert row["cause"].startswith("账号 r0、r1、r2等：")
    # the live fraud watch alerted brushing while the ring ordered: the same incident
    live = {
        "metric": "flagged_customers",
        "dimension": "kind=brushing",
        "opened_at": at(10, 40, day=1).isoformat(),
    }
    assert ring_rows([found], [live], CAMPAIGN) == []
    assert len(ring_rows([found], [{**live, "dimension": "kind=scalpers"}], CAMPAIGN)) == 1
    # and the live alert's row carries the ring's loss, 12 × ¥88, in place of the ring's own
    assert alerted_ring_losses([found], [{**live, "id": 7}], CAMPAIGN) == {7: 105_600}


def test_every_output_marks_an_incident_the_monitor_missed(tmp_path: Path) -> None:
    """The payment failure found after the fact is a row of the review's incident table with
    its source, a finding saying the monitor missed it, a slide, an Excel row and HTML."""
    import json

    import openpyxl
    from pptx import Presentation

    from dacu.report.commands import write_review

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = open_warehouse(url)
    wh.append_events(shop(collapse=True))
    wh.close()
    write_review(CAMPAIGN, url, tmp_path / "out", alerts=[], with_attribution=False)
    review = json.loads((tmp_path / "out" / "review.json").read_text(encoding="utf-8"))
    rows = next(
        t["rows"] for s in review["sections"] for t in s["tables"] if t["id"] == "incidents"
    )
    (row,) = [r for r in rows if r["rule"].startswith("复盘：渠道支付失败")]
    assert (row["start"], row["where"], row["loss_fen"], row["source"]) == (
        "2026-11-11T20:00+08:00",
        "渠道=search_ads",  # the campaign names no channels: the id
        55_000,
        "复盘发现，无对应告警",
    )
    (finding,) = [f for f in review["findings"] if "渠道支付失败" in f["text"]["zh"]]
    assert finding["text"]["zh"].startswith("【复盘发现，无对应告警】11-11 20:00")
    assert "¥550.00" in finding["text"]["zh"] and "监控当时未报警" in finding["action"]["zh"]
    incidents = next(s for s in review["sections"] if s["id"] == "incidents")
    assert "1 起复盘发现、无对应告警" in incidents["headline"]["zh"]
    book = openpyxl.load_workbook(tmp_path / "out" / "review.xlsx")
    cells = [c.value for sheet in book for line in sheet.iter_rows() for c in line]
    assert "来源" in cells and "复盘发现，无对应告警" in cells and 550 in cells
    deck = Presentation(str(tmp_path / "out" / "review.pptx"))
    slides = [
        "\n".join(sh.text_frame.text for sh in s.shapes if sh.has_text_frame) for s in deck.slides
    ]
    assert any("渠道支付失败" in t and "来源：复盘发现，无对应告警" in t for t in slides)
    html = (tmp_path / "out" / "review.html").read_text(encoding="utf-8")
    assert "复盘发现，无对应告警" in html and "复盘：渠道支付失败" in html


@pytest.mark.slow
def test_the_simulators_payment_failure_is_found_and_nothing_on_a_day_without() -> None:
    """The simulator's injected payment failure (直通车 20:00–21:00, 8 % of the usual payments)
    on a full-size day (seed 7: 62 orders of 直通车 in the hour, 2 paid) is found exactly there,
    and the same day of the same shop without the incident finds nothing on any channel."""
    from dacu.config import load_campaign
    from dacu.demo import EXAMPLE
    from dacu.sim import simulate_day

    campaign = load_campaign(EXAMPLE)
    found = {}
    for incidents in ((), ("pay_failure@20:00:search_ads",)):
        day = simulate_day(campaign, scale=1.0, seed=7, incidents=incidents)
        wh = open_warehouse("duckdb://:memory:")
        try:
            wh.append_events(day.events)
            cells = pay_cells(wh, campaign, GRACE)
        finally:
            wh.close()
        found[bool(incidents)] = find_pay_failures(cells, campaign.tz)
    assert found[False] == []
    (f,) = found[True]
    peak = campaign.peak_day
    start = datetime(peak.year, peak.month, peak.day, 20, tzinfo=campaign.tz)
    assert (f.channel, f.start, f.end) == ("search_ads", start, start + timedelta(hours=1))
    assert (f.cell.orders, f.cell.paid) == (62, 2)
    # the loss is what those orders would have paid at the simulator's peak-day pay rate (90 %,
    # `sim.world.PAY_RATE_PEAK`) within a few points of the channel's measured rate
    expected = 0.90 * f.cell.placed_fen - f.cell.paid_fen
    assert f.loss_fen == pytest.approx(expected, abs=0.05 * f.cell.placed_fen)
