"""The whole loop — plan → live replay → review — on a simulated store given ONLY as a shop has
it: the Tmall order export, 生意参谋 traffic by day and hour, and one report per ad tool (what
`dacu sim --as orders+traffic` writes). Its figures are checked against the event-level truth of
the same simulated world (the clickstream the platform keeps): money, orders and buyers within
1% (here exact), UV exact wherever the traffic table has it (a day, an hour, a source on a day).
A window of several days has no distinct-visitor count in a daily table: there UV is the sum of
the days' UVs, as `dacu kpi` notes, and it is checked as that sum.

The smallest world that still has every channel: scale 0.02 (≈ 40 k events, ~10 s to simulate).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dacu.config import Phase, load_campaign
from dacu.events import EVENT_SCHEMA
from dacu.metrics.kpi import kpis, window
from dacu.monitor.commands import minute_slices
from dacu.monitor.intake_traffic import snapshot_visitors, snapshots_from_warehouse
from dacu.monitor.live import LiveMonitor
from dacu.monitor.pacing import load_plan as pacing_plan
from dacu.monitor.replay import run_replay, write_alert_log
from dacu.monitor.store import Kpis
from dacu.plan.export import write_plan
from dacu.plan.sources import history_from_warehouse
from dacu.report.builder import build_review
from dacu.sim.engine import simulate
from dacu.sim.shapes import write_shop_exports
from dacu.warehouse import open_warehouse
from dacu.warehouse.adreports import import_spend
from dacu.warehouse.importers import import_events
from dacu.warehouse.orders import import_orders
from dacu.warehouse.traffic import import_traffic
from tests.conftest import ROOT

CAMPAIGN = load_campaign(ROOT / "examples" / "double11.yaml")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(shop warehouse: orders + traffic + ad reports only, truth warehouse: the events)."""
    out = tmp_path_factory.mktemp("shop-loop")
    simulate(CAMPAIGN, out=out, scale=0.02, seed=7)
    write_shop_exports(out, CAMPAIGN)
    shop = open_warehouse(f"duckdb:///{out / 'shop.duckdb'}")
    truth = open_warehouse(f"duckdb:///{out / 'truth.duckdb'}")
    folder = out / "shop"
    import_orders(shop, folder / "orders.csv", "tmall")
    for grain in ("day", "hour"):
        import_traffic(shop, folder / f"traffic_{grain}.csv", campaign=CAMPAIGN)
    for report in sorted(folder.glob("spend_*.csv")):
        import_spend(shop, report, report.stem.removeprefix("spend_"), campaign=CAMPAIGN)
    import_events(truth, out / "events.parquet")
    yield out, shop, truth
    shop.close()
    truth.close()


def _truth(truth, by, start=CAMPAIGN.start, end=CAMPAIGN.end) -> list[dict]:
    events = window(truth.events(), start, end)
    return truth.to_arrow(kpis(events, by=by, campaign=CAMPAIGN)).to_pylist()


def _peak() -> tuple[datetime, datetime]:
    burst = CAMPAIGN.phase_window(Phase.BURST)
    assert burst is not None
    return burst.start, burst.end


def test_plan_reads_visitors_by_source_from_traffic_and_money_from_orders(world) -> None:
    out, shop, truth = world
    history = history_from_warehouse(shop, CAMPAIGN)
    expected = _truth(truth, ("day", "channel"), start=None, end=CAMPAIGN.start)
    want = {(r["day"], r["channel"]): r for r in expected if r["uv"]}
    got = {(r.day.date(), r.channel): r for r in history.daily.itertuples()}
    assert set(got) == set(want)
    assert {k: (g.uv, g.buyers) for k, g in got.items()} == {
        k: (w["uv"], w["buyers"]) for k, w in want.items()
    }  # UV and buyers of each source on each day: exact, from the traffic table
    days = {r["day"]: r["gmv_fen"] for r in _truth(truth, ("day",), None, CAMPAIGN.start)}
    by_day = history.daily.groupby(history.daily["day"].dt.date)["gmv_fen"].sum()
    for day, gmv in by_day.items():  # the day's order GMV split by source: ±1 fen a source
        assert gmv == pytest.approx(days[day], abs=len(CAMPAIGN.channels) + 2), day
    plan = write_plan(CAMPAIGN, out / "plan", history)
    assert (out / "plan" / "plan.json").exists() and plan.daily


def test_replay_of_orders_and_traffic_snapshots_then_the_review(world) -> None:
    out, shop, truth = world
    if not (out / "plan" / "plan.json").exists():
        write_plan(CAMPAIGN, out / "plan", history_from_warehouse(shop, CAMPAIGN))
    start, end = _peak()
    monitor = LiveMonitor(
        CAMPAIGN,
        out / "monitor",
        plan=pacing_plan(out / "plan" / "plan.json", tz=CAMPAIGN.timezone),
        step=timedelta(minutes=10),
    )
    try:
        stored = snapshots_from_warehouse(monitor, shop, start, end, tz=CAMPAIGN.timezone)
        assert stored["accepted"] > 24 and not stored["rejected"]
        orders = shop.to_arrow(shop.events().select(*EVENT_SCHEMA.names)).cast(EVENT_SCHEMA)

        def feed(m: LiveMonitor, table) -> None:
            for offset, length in minute_slices(table, 5_000):
                rows = table.slice(offset, length).to_pylist()
                for row in rows:
                    row["ts"] = row["ts"].isoformat()
                assert not m.collector.accept(
                    [{k: v for k, v in r.items() if v is not None} for r in rows]
                ).rejected

        _, replayed = run_replay(monitor, orders, since=start, until=end, feed=feed)
        assert replayed > 0
        monitor.collector.flush()
        day = snapshot_visitors(monitor, Kpis(), None, "", start, end)
        hours = _truth(truth, ("hour",), start, end)
        assert day.uv == sum(r["uv"] for r in hours)  # the hourly 全店 rows, exactly
        monitor.close()
        alerts_path = write_alert_log(monitor, out / "monitor")
    finally:
        monitor.close()

    import json

    from dacu.plan.schema import load_plan

    alerts = json.loads(alerts_path.read_text(encoding="utf-8"))
    review = build_review(
        CAMPAIGN,
        shop,
        plan=load_plan(out / "plan" / "plan.json"),
        alerts=alerts,
        with_attribution=False,  # no clickstream: no journeys to attribute
    )
    head = review.headline
    (total,) = _truth(truth, ())
    for money in ("gmv_fen", "paid_gmv_fen", "refund_fen", "net_gmv_fen"):
        assert head[money] == pytest.approx(total[money], rel=0.01), money
    for count in ("orders", "paid_orders", "buyers", "units"):
        assert head[count] == pytest.approx(total[count], rel=0.01), count
    daily = _truth(truth, ("day",))
    assert head["uv"] == sum(r["uv"] for r in daily)  # a sum of daily UVs (module doc)
    assert head["cvr"] == pytest.approx(total["buyers"] / head["uv"], rel=0.01)
    traffic = next(s for s in review.sections if s.id == "traffic")
    sources = {r["key"]: r for r in traffic.tables[0].rows}
    by_channel_day = _truth(truth, ("day", "channel"))
    for channel, row in sources.items():
        days = [r for r in by_channel_day if r["channel"] == channel]
        assert row["uv"] == sum(r["uv"] for r in days), channel  # each day's UV of the source
        paid = sum(r["paid_gmv_fen"] for r in days)
        assert row["paid_gmv_fen"] == pytest.approx(paid, rel=0.01), channel
    assert "unknown" not in sources  # not the order export's missing source
    said = [note["zh"] for note in traffic.notes]  # each figure names its source
    assert "来源 source 流量 traffic: 支付金额、买家数、访客数、浏览量、跳失率、转化率" in said
    assert "来源 source —: GMV、订单数" in said  # placed GMV and orders by source: "—", never 0
