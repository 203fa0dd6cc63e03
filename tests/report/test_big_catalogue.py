"""A catalogue of hundreds of categories and data without prices: the review stays readable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from dacu.config import load_campaign
from dacu.events import EVENT_SCHEMA
from dacu.report.builder import build_review
from dacu.report.sections import top_rows
from dacu.warehouse import open_warehouse
from tests.conftest import ROOT

CAMPAIGN = ROOT / "examples" / "double11.yaml"


def _events(categories: int, *, priced: bool) -> pa.Table:
    """Per category c: 1 + c % 3 buyers who each view, order and pay ¥(c + 1) on the peak day."""
    rows, peak = [], datetime(2026, 11, 11, 4, tzinfo=UTC)
    for c in range(categories):
        for b in range(1 + c % 3):
            user, order = f"u{c}-{b}", f"o{c}-{b}"
            for k, kind in enumerate(("pv", "order", "pay")):
                rows.append(
                    {
                        "event_id": f"{order}:{kind}",
                        "ts": peak + timedelta(minutes=c % 600, seconds=k),
                        "user_id": user,
                        "session_id": user,
                        "event": kind,
                        "category": f"cat{c:04d}",
                        "channel": "organic",
                        "quantity": 1 if kind != "pv" else None,
                        "amount_fen": (c + 1) * 100 if priced and kind != "pv" else None,
                        "order_id": order if kind != "pv" else None,
                    }
                )
    return pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)


def _review(tmp_path, table: pa.Table):
    wh = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    try:
        wh.append_events(table)
        return build_review(load_campaign(CAMPAIGN), wh, with_attribution=False)
    finally:
        wh.close()


def test_top_rows_fold_the_rest_into_other():
    rows = [
        {"name": f"c{i}", "paid_gmv_fen": i * 100, "buyers": 1, "orders": 2, "share": i / 300}
        for i in range(25)
    ]
    shown = top_rows(rows, n=20)
    assert [r["name"] for r in shown[:3]] == ["c24", "c23", "c22"] and len(shown) == 21
    other = shown[-1]
    # the 5 smallest: 0 + 1 + 2 + 3 + 4 = 10 → ¥10 in fen 1,000; orders 5 × 2
    assert (other["name"], other["paid_gmv_fen"], other["orders"]) == ("其他 other (5)", 1000, 10)
    assert other["buyers"] is None  # distinct buyers do not add up
    assert top_rows(rows[:21], n=20) == rows[:21]  # 21 rows: nothing to fold


def test_four_hundred_categories_give_twenty_rows_and_other(tmp_path):
    review = _review(tmp_path, _events(400, priced=True))
    table = review.table("by_category")
    assert len(table.rows) == 21 and table.rows[-1]["name"] == "其他 other (380)"
    # the top category is cat0399: 1 + 399 % 3 = 1 buyer paying ¥400
    # the top category: cat0398 (3 buyers × ¥399 = ¥1,197); the next cat0395 (3 × ¥396)
    assert [r["name"] for r in table.rows[:2]] == ["cat0398", "cat0395"]
    total = sum(r["paid_gmv_fen"] for r in table.rows)
    assert total == sum((c + 1) * 100 * (1 + c % 3) for c in range(400))  # nothing lost
    notes = " ".join(n["zh"] for n in review.section("structure").notes)
    assert "品类共 400 个" in notes
    chart = review.chart("gmv_by_category")
    assert len(chart.categories) == 21


def test_data_without_prices_show_dashes_and_a_note_not_zero(tmp_path):
    review = _review(tmp_path, _events(30, priced=False))
    overview = review.section("overview")
    assert "¥" not in overview.headline["zh"] and "笔订单" in overview.headline["zh"]
    head = overview.tables[0].rows[0]
    assert head["gmv_fen"] is None and head["asp_fen"] is None and head["orders"] == 60
    structure = review.section("structure")
    assert all(r["paid_gmv_fen"] is None for r in review.table("by_category").rows)
    assert any("没有金额" in n["zh"] for n in structure.notes)
    assert "买家最多" in structure.headline["zh"]


def test_the_deck_stays_near_its_usual_length(tmp_path):
    from pptx import Presentation

    from dacu.report.pptx import render_pptx

    folder = tmp_path / "400"
    folder.mkdir()
    review = _review(folder, _events(400, priced=True))
    render_pptx(review, folder / "review.pptx")
    titles = [
        s.shapes.title.text_frame.text for s in Presentation(str(folder / "review.pptx")).slides
    ]
    # the category table is the top 20 + 其他 (two slides at most), and the deck keeps its usual
    # length: without the top 20, 400 categories took 67 slides
    assert sum(t.startswith("GMV 结构 · 品类贡献") for t in titles) <= 2, titles
    assert len(titles) <= 40, titles
    # the headline names the biggest category, never the folded tail
    assert "其他" not in review.section("structure").headline["zh"]


SHOP_ORDERS = (
    "订单编号,买家会员名,总金额,买家实际支付金额,收货地址,订单创建时间,订单付款时间,退款金额\n"
    "1,a,300,300,上海,2026/11/11 10:00,2026/11/11 10:01,0\n"
    "2,b,200,150,上海,2026/11/11 11:00,2026/11/11 11:05,50\n"
    "3,c,80,0,北京,2026/11/11 12:00,,0\n"
)
SHOP_TRAFFIC = "统计日期,流量来源,访客数,浏览量,跳失率\n2026-11-11,全店,400,1000,30%\n"


def test_a_shop_given_as_orders_and_traffic_gets_uv_from_traffic(tmp_path):
    from dacu.warehouse.orders import import_orders
    from dacu.warehouse.traffic import import_traffic

    (tmp_path / "o.csv").write_text(SHOP_ORDERS, encoding="utf-8")
    (tmp_path / "t.csv").write_text(SHOP_TRAFFIC, encoding="utf-8")
    wh = open_warehouse(f"duckdb:///{tmp_path / 'shop.duckdb'}")
    try:
        import_orders(wh, tmp_path / "o.csv", "tmall")
        orders_only = build_review(load_campaign(CAMPAIGN), wh, with_attribution=False)
        import_traffic(wh, tmp_path / "t.csv")
        with_traffic = build_review(load_campaign(CAMPAIGN), wh, with_attribution=False)
    finally:
        wh.close()
    head = orders_only.section("overview").tables[0].rows[0]
    assert head["uv"] is None and head["cvr"] is None  # not the 2 buyers counted as visitors
    assert head["paid_gmv_fen"] == 30000 + 20000
    notes = " ".join(n["zh"] for n in orders_only.section("attainment").notes)
    assert "没有访客数" in notes
    head = with_traffic.section("overview").tables[0].rows[0]
    assert (head["uv"], head["buyers"], head["cvr"]) == (400, 2, 2 / 400)
