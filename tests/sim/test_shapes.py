"""A simulated store given only as a shop has it (orders + traffic + ad reports) gives the KPIs of
the event-level run of the same world: UV exact where the traffic table has it, the rest within 1%.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from dacu.metrics.kpi import kpis, window
from dacu.metrics.sources import sourced_kpis
from dacu.sim.commands import register as register_sim
from dacu.warehouse import open_warehouse
from dacu.warehouse.adreports import import_spend
from dacu.warehouse.importers import import_events
from dacu.warehouse.orders import import_orders
from dacu.warehouse.traffic import import_traffic
from tests.conftest import ROOT

CAMPAIGN = ROOT / "examples" / "double11.yaml"


@pytest.fixture(scope="module")
def shop_world(tmp_path_factory):
    """`dacu sim --as orders+traffic` at a small scale, as a user runs it."""
    out = tmp_path_factory.mktemp("shop-sim")
    app = typer.Typer()
    register_sim(app)
    app.command("noop")(lambda: None)
    args = [
        "sim",
        "-c",
        str(CAMPAIGN),
        "--out",
        str(out),
        "--scale",
        "0.02",
        "--as",
        "orders+traffic",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def _cells(rows: list[dict], key: str) -> dict:
    return {r[key]: r for r in rows}


def test_orders_traffic_and_ads_give_the_event_level_kpis(shop_world, tmp_path):
    from dacu.config import load_campaign

    campaign = load_campaign(CAMPAIGN)
    truth = open_warehouse(f"duckdb:///{tmp_path / 'events.duckdb'}")
    shop = open_warehouse(f"duckdb:///{tmp_path / 'shop.duckdb'}")
    try:
        import_events(truth, shop_world / "events.parquet")
        folder = shop_world / "shop"
        import_orders(shop, folder / "orders.csv", "tmall")
        import_traffic(shop, folder / "traffic_day.csv", campaign=campaign)
        import_traffic(shop, folder / "traffic_hour.csv", campaign=campaign)
        for report in sorted(folder.glob("spend_*.csv")):
            import_spend(shop, report, report.stem.removeprefix("spend_"), campaign=campaign)

        start, end = campaign.start, campaign.end
        events = window(truth.events(), start, end)
        expected = _cells(
            truth.to_arrow(kpis(events, by=("day",), campaign=campaign)).to_pylist(), "day"
        )
        got = sourced_kpis(shop, by=("day",), start=start, end=end, campaign=campaign)
        rows = _cells(got.rows, "day")
        assert set(rows) == set(expected) and len(rows) >= 20
        for day, want in expected.items():
            have = rows[day]
            assert have["uv"] == want["uv"], day  # exact: the 全店 row of the day
            assert (have["orders"], have["paid_orders"], have["buyers"]) == (
                want["orders"],
                want["paid_orders"],
                want["buyers"],
            )
            for money in ("gmv_fen", "paid_gmv_fen", "refund_fen"):
                assert have[money] == pytest.approx(want[money], rel=0.01, abs=1), (day, money)
            if want["cvr"] is not None:
                assert have["cvr"] == pytest.approx(want["cvr"], rel=0.01)
                assert have["bounce_rate"] == pytest.approx(want["bounce_rate"], rel=0.01)
        assert got.sources["uv"] == "traffic" and got.sources["paid_gmv_fen"] == "orders"

        # the peak day by hour: UV exact from the hourly traffic table
        day_start = campaign.start.replace(month=11, day=11, hour=0)
        peak = window(truth.events(), day_start, day_start.replace(day=12))
        hourly = truth.to_arrow(kpis(peak, by=("hour",), campaign=campaign)).to_pylist()
        shop_hours = sourced_kpis(
            shop, by=("hour",), start=day_start, end=day_start.replace(day=12), campaign=campaign
        ).rows
        assert {r["hour"]: r["uv"] for r in shop_hours} == {r["hour"]: r["uv"] for r in hourly}

        # the ad reports add up to the simulated spend
        spend = pq.read_table(shop_world / "spend.parquet")
        stored = shop.to_arrow(shop.table("spend").spend_fen.sum())["value"][0].as_py()
        assert stored == sum(spend["spend_fen"].to_pylist())
    finally:
        truth.close()
        shop.close()


def test_the_shop_folder_holds_what_a_shop_downloads(shop_world):
    names = sorted(p.name for p in (shop_world / "shop").iterdir())
    assert {"orders.csv", "traffic_day.csv", "traffic_hour.csv", "spend_直通车.csv"} <= set(names)
    header = (shop_world / "shop" / "orders.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("订单编号,买家会员名,总金额,买家实际支付金额")
    assert Path(shop_world / "events.parquet").exists()
