"""KPIs of a shop given as an order export + a 生意参谋 traffic table (no clickstream).

UV and bounce come from the traffic table, orders/GMV/buyers from the orders, CVR from both;
a KPI no loaded source supports is None ("—"), never 0. Figures worked out by hand below.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from dacu.errors import InputError
from dacu.metrics.commands import register as register_kpi
from dacu.metrics.sources import sourced_kpis
from dacu.warehouse import open_warehouse
from dacu.warehouse.commands import register as register_import
from dacu.warehouse.orders import import_orders
from dacu.warehouse.traffic import import_traffic

CN = ZoneInfo("Asia/Shanghai")
TRAFFIC = (
    "统计日期,流量来源,访客数,浏览量,跳失率,支付买家数,支付金额,加购人数\n"
    "2024-11-10,全店,1000,3000,40.00%,3,150.00,120\n"
    "2024-11-10,手淘搜索,600,1800,35.00%,2,100.00,80\n"
    "2024-11-10,直通车,450,1200,50.00%,1,50.00,40\n"
    '2024-11-11,全店,2000,7000,30.00%,4,"1,000.00",300\n'
    "2024-11-11,手淘搜索,1500,5000,20.00%,3,900.00,200\n"
    "2024-11-11,直通车,700,2000,60.00%,1,100.00,100\n"
)
ORDERS = (
    "订单编号,总金额,买家实际支付金额,收货地址,订单创建时间,订单付款时间,退款金额\n"
    "1,100,100,上海,2024/11/10 10:00,2024/11/10 10:01,0\n"
    "2,50,50,上海,2024/11/10 11:00,2024/11/10 11:05,0\n"
    "3,80,0,北京,2024/11/10 12:00,,0\n"
    "4,600,500,浙江省,2024/11/11 0:05,2024/11/11 0:06,100\n"
    "5,300,300,江苏省,2024/11/11 9:00,2024/11/11 9:01,0\n"
    "6,100,100,上海,2024/11/11 20:00,2024/11/11 20:00,0\n"
    "7,20,0,上海,2024/11/11 21:00,,0\n"
)


@pytest.fixture
def shop(tmp_path: Path):
    wh = open_warehouse(f"duckdb:///{tmp_path / 'shop.duckdb'}")
    (tmp_path / "traffic.csv").write_text(TRAFFIC, encoding="utf-8")
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    yield wh, tmp_path
    wh.close()


def test_by_day_uv_and_bounce_from_traffic_orders_from_orders(shop):
    wh, folder = shop
    import_orders(wh, folder / "orders.csv", "tmall")
    import_traffic(wh, folder / "traffic.csv")
    result = sourced_kpis(wh, by=("day",))
    days = {r["day"]: r for r in result.rows}
    d10, d11 = days[date(2024, 11, 10)], days[date(2024, 11, 11)]
    # 11-10: 3 orders (¥230 placed), 2 paid (¥150), each its own buyer; UV 1,000 (全店)
    assert (d10["orders"], d10["paid_orders"], d10["buyers"]) == (3, 2, 2)
    assert (d10["gmv_fen"], d10["paid_gmv_fen"]) == (23000, 15000)
    assert (d10["uv"], d10["pv"], d10["bounce_rate"]) == (1000, 3000, pytest.approx(0.40))
    assert d10["cvr"] == pytest.approx(2 / 1000) and d10["cart_rate"] == pytest.approx(0.12)
    # 11-11: 4 orders, 3 paid: 600 + 300 + 100 = ¥1,000 paid, ¥100 refunded, net ¥900
    assert (d11["paid_gmv_fen"], d11["refund_fen"], d11["net_gmv_fen"]) == (100000, 10000, 90000)
    assert (d11["uv"], d11["cvr"]) == (2000, pytest.approx(3 / 2000))
    assert result.sources["uv"] == "traffic" and result.sources["paid_gmv_fen"] == "orders"
    assert result.sources["cvr"] == "traffic+orders"


def test_the_total_sums_daily_uv_and_says_so(shop):
    wh, folder = shop
    import_orders(wh, folder / "orders.csv", "tmall")
    import_traffic(wh, folder / "traffic.csv")
    result = sourced_kpis(wh, by=())
    total = result.rows[0]
    assert (total["uv"], total["pv"]) == (3000, 10000)
    # bounce weighted by visitors: (1000 × 40% + 2000 × 30%) / 3000 = 1000 / 3000
    assert total["bounce_rate"] == pytest.approx(1000 / 3000)
    assert any("UV = 2 天的访客数之和" in note for note in result.notes)


def test_by_channel_visits_and_paid_amount_per_source_from_traffic(shop):
    wh, folder = shop
    import_orders(wh, folder / "orders.csv", "tmall")
    import_traffic(wh, folder / "traffic.csv")
    rows = {r["channel"]: r for r in sourced_kpis(wh, by=("channel",)).rows}
    # 手淘搜索 → organic, 直通车 → search_ads (kinds of known sources, no campaign given)
    assert rows["organic"]["uv"] == 600 + 1500 and rows["search_ads"]["uv"] == 450 + 700
    # the order export has no source: buyers and paid amount by source are the traffic table's
    # (手淘搜索 2 + 3 buyers, ¥100 + ¥900; 直通车 1 + 1, ¥50 + ¥100), placed GMV and orders "—"
    assert (rows["organic"]["buyers"], rows["organic"]["paid_gmv_fen"]) == (5, 100_000)
    assert (rows["search_ads"]["buyers"], rows["search_ads"]["paid_gmv_fen"]) == (2, 15_000)
    assert rows["organic"]["orders"] is None and rows["organic"]["gmv_fen"] is None
    assert rows["search_ads"]["cvr"] == pytest.approx(2 / 1150)
    assert "unknown" not in rows  # not one row of all orders beside the sources


def test_orders_alone_give_dashes_for_visits_never_zero(shop):
    wh, folder = shop
    import_orders(wh, folder / "orders.csv", "tmall")
    result = sourced_kpis(wh, by=())
    total = result.rows[0]
    assert total["paid_orders"] == 5
    assert all(total[k] is None for k in ("uv", "pv", "cvr", "bounce_rate", "cart_rate"))
    assert result.sources["uv"] is None
    assert any("订单报表没有买家ID" in note for note in result.notes)  # buyers = paid orders

    app = typer.Typer()
    register_kpi(app)
    register_import(app)
    out = CliRunner().invoke(app, ["kpi", "--by", "", "-w", wh.url])
    assert out.exit_code == 0, out.output
    line = next(line for line in out.output.splitlines() if "¥" in line)
    assert line.count("—") >= 4 and " 0 " not in line  # UV, PV, CVR, bounce: "—"
    assert "来源 source 订单 orders" in out.output


def test_hour_cells_need_hourly_traffic(shop):
    wh, folder = shop
    import_orders(wh, folder / "orders.csv", "tmall")
    import_traffic(wh, folder / "traffic.csv")  # daily only
    rows = sourced_kpis(wh, by=("hour",)).rows
    assert rows and all(r["uv"] is None for r in rows)
    hourly = folder / "hourly.csv"
    hourly.write_text(
        "日期,小时,访客数,浏览量\n2024-11-11,0,120,300\n2024-11-11,9,80,200\n", "utf-8"
    )
    import_traffic(wh, hourly)
    start = datetime(2024, 11, 11, tzinfo=CN)
    cells = {
        r["hour"].astimezone(CN).hour: r for r in sourced_kpis(wh, by=("hour",), start=start).rows
    }
    assert (cells[0]["uv"], cells[0]["paid_orders"], cells[9]["uv"]) == (120, 1, 80)


def test_traffic_reimport_replaces_its_own_rows_and_bad_rates_are_named(shop):
    wh, folder = shop
    first = import_traffic(wh, folder / "traffic.csv")
    again = import_traffic(wh, folder / "traffic.csv")
    assert (first.inserted, again.inserted, again.duplicates) == (6, 0, 6)
    bad = folder / "bad.csv"
    bad.write_text(
        "统计日期,访客数,跳失率,支付买家数\n2024-11-12,100,140%,3\n2024-11-13,5,10%,9\n", "utf-8"
    )
    with pytest.raises(InputError) as caught:
        import_traffic(wh, bad)
    assert (caught.value.line, caught.value.column) == (2, "跳失率")
    assert "outside 0–100%" in caught.value.reason and "1 more bad row" in caught.value.reason
    assert wh.to_arrow(wh.table("traffic").count())["value"][0].as_py() == 6


def test_cli_import_traffic(tmp_path):
    (tmp_path / "t.csv").write_text(TRAFFIC, encoding="utf-8")
    app = typer.Typer()
    register_import(app)
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    out = CliRunner().invoke(app, ["import", "traffic", str(tmp_path / "t.csv"), "-w", url])
    assert out.exit_code == 0 and "→ traffic: 6 rows read, 6 added" in out.output, out.output


def test_cells_the_traffic_table_cannot_split_say_why(shop):
    wh, folder = shop
    import_orders(wh, folder / "orders.csv", "tmall")
    import_traffic(wh, folder / "traffic.csv")
    result = sourced_kpis(wh, by=("region",))
    assert all(r["uv"] is None for r in result.rows)
    assert any("流量表没有 region 的拆分" in note for note in result.notes)
