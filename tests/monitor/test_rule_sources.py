"""Where alert rules come from and in what unit: the campaign file in yuan, the plan's risk triggers
as live rules, and the shipped examples / `dacu init` with rules that work (issue #16)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest

from dacu.config import load_campaign, parse_campaign
from dacu.errors import ConfigError
from dacu.monitor.live import LiveMonitor
from dacu.monitor.pacing import parse_plan
from dacu.monitor.plan_rules import plan_rules
from dacu.monitor.rules import load_rules
from dacu.plan.capacity import risk_register
from tests.monitor import simworld
from tests.monitor.test_live import feed

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = timezone(timedelta(hours=8))
BASE = """
id: t
name: t
store: s
phases: [{name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}]
"""


def rules_of(alerts: str):
    return load_rules(parse_campaign(BASE + "alerts:\n" + alerts))


# -- thresholds in yuan (defect: `spend above: 10000` fired at ¥100, `asp below: 300` never) -------
def test_absolute_money_bounds_are_yuan() -> None:
    spend, asp, wan, rate = rules_of("""
  - {id: spend, metric: spend, compare: absolute, above: 10000}
  - {id: asp, metric: asp, below: 300}
  - {id: wan, metric: gmv, below: "¥1.2万"}
  - {id: rate, metric: cvr, below: "4.5%"}
""")
    # ¥10,000 is 1,000,000 fen: ¥100 of spend (10,000 fen) must not breach it, ¥10,000.01 must
    assert not spend.breached(10_000, None)
    assert spend.breached(1_000_001, None) and not spend.breached(1_000_000, None)
    # an ASP of ¥250 (25,000 fen) is below ¥300; ¥350 is not
    assert asp.breached(25_000, None) and not asp.breached(35_000, None)
    assert wan.below == 1_200_000  # ¥12,000 in fen
    assert rate.below == pytest.approx(0.045)


def test_ratios_of_a_reference_stay_ratios() -> None:
    (plan,) = rules_of("  - {id: p, metric: gmv, compare: plan, below: 70%}\n")
    assert plan.below == pytest.approx(0.7)
    assert plan.breached(69, 100) and not plan.breached(71, 100)


def test_a_money_bound_that_is_not_yuan_is_refused_with_its_place() -> None:
    with pytest.raises(ConfigError, match=r"alerts\[1\] \(id b\)\.below: 'cheap' is not an amount"):
        rules_of("""
  - {id: a, metric: asp, below: 1万}
  - {id: b, metric: asp, below: cheap}
""")


def test_the_alert_shows_the_yuan_threshold() -> None:
    from dacu.monitor.messages import alert_text

    _, body = alert_text(
        kind="opened",
        severity="yellow",
        rule_name="客单价低于300元",
        metric="asp_fen",
        key_dim=None,
        key="",
        value=25_000,
        reference=None,
        compare="absolute",
        at=datetime(2026, 11, 11, 20, tzinfo=SHANGHAI),
        bound=("<", 30_000),
    )
    assert "当前 ¥250.00" in body and "阈值 < ¥300.00" in body


# -- the plan's risk triggers become rules ----------------------------------------------------------
def test_every_watchable_risk_of_the_plan_is_a_rule() -> None:
    risks = [r.__dict__ for r in risk_register(26)]
    rules, unwatched = plan_rules(risks)
    by_id = {r.id: r for r in rules}
    assert set(by_id) == {
        "orders-below-plan",
        "gmv-pace",
        "spend-overpace",
        "cvr-drop",
        "gmv-day10",
        "gmv-day20",
    }
    assert [u.id for u in unwatched] == ["refund-spike"]
    orders = by_id["orders-below-plan"]
    assert (orders.metric, orders.compare, orders.below, orders.severity) == (
        "orders",
        "plan",
        0.6,
        "red",
    )
    assert "小时订单低于计划60%" in orders.name and "加推流量" in orders.name
    day10 = by_id["gmv-day10"]
    assert (day10.scope, day10.from_day, day10.below) == ("campaign", 10, 0.7)
    assert by_id["spend-overpace"].above == pytest.approx(1.2)


def test_the_campaign_file_overrides_a_trigger_by_id() -> None:
    risks = [r.__dict__ for r in risk_register(5)]
    rules, _ = plan_rules(risks, taken=["orders-below-plan"])
    assert "orders-below-plan" not in {r.id for r in rules}


def test_an_over_capacity_risk_watches_orders_per_hour_against_the_warehouse() -> None:
    from dacu.config import Capacity
    from dacu.plan.capacity import check_capacity

    capacity = Capacity(warehouse_orders_per_hour=1000)
    checks = check_capacity([1500], capacity)
    rules, _ = plan_rules(
        [r.__dict__ for r in risk_register(3, checks) if r.id == "capacity-warehouse"],
        capacity=capacity,
    )
    assert [(r.metric, r.compare, r.above) for r in rules] == [("orders", "absolute", 1000.0)]
    assert rules[0].name.startswith("仓储发货超出产能（计划风险 → 加临时仓储人手或预打包）"), rules[
        0
    ].name


PEAK = datetime(2026, 11, 11, 19, tzinfo=SHANGHAI)


def _monitor_with_plan(tmp_path: Path, planned_per_order: float) -> tuple[LiveMonitor, int]:
    """A shop hour of simworld events and a plan that expected `planned_per_order` × its orders."""
    rng = np.random.default_rng(16)
    world = simworld.events(rng, 6000, PEAK, minutes=60, prefix="p")
    orders = pc.sum(pc.equal(world.events["event"], "order")).as_py()  # one line per order
    hourly = [
        {
            "hour": (PEAK + timedelta(hours=h)).isoformat(),
            "gmv_fen": 0,
            "uv": 6000,
            "orders": orders * planned_per_order if h == 0 else 0,  # the plan of the data's hour
            "buyers": 0,
        }
        for h in range(-19, 5)
    ]
    risks = [r.__dict__ for r in risk_register(1)]
    plan = parse_plan({"campaign_id": "t", "hourly": hourly, "risks": risks})
    monitor = LiveMonitor(
        parse_campaign(BASE), tmp_path / "m", plan=plan, detectors=False, returning_users=()
    )
    feed(monitor, world.events)
    # an event two minutes after the hour makes the monitor evaluate the full hour
    feed(monitor, simworld.events(rng, 30, PEAK + timedelta(minutes=61), minutes=1).events)
    return monitor, orders


def test_orders_below_plan_fires_from_the_plan_alone(tmp_path: Path) -> None:
    """No `alerts:` in the file: the plan's 'orders < 60% of plan' still raises the alert
    (defect: the shipped examples replayed the peak day with 0 alerts)."""
    monitor, orders = _monitor_with_plan(tmp_path, planned_per_order=2.0)  # actual = 50% of plan
    assert orders > 100
    opened = [f for f in monitor.feed if f["kind"] == "opened"]
    assert "orders-below-plan" in [f["rule_id"] for f in opened]


def test_orders_at_plan_raise_nothing(tmp_path: Path) -> None:
    monitor, _ = _monitor_with_plan(tmp_path, planned_per_order=1.2)  # actual = 83% of plan
    opened = [f for f in monitor.feed if f["kind"] == "opened"]
    assert "orders-below-plan" not in [f["rule_id"] for f in opened]


# -- shipped examples and `dacu init` come with working rules ---------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        ROOT / "examples" / "double11.yaml",
        ROOT / "examples" / "double12.yaml",
        ROOT / "src" / "dacu" / "starter_campaign.yaml",
    ],
)
def test_shipped_campaign_files_have_alert_rules(path: Path) -> None:
    rules = load_rules(load_campaign(path), source=str(path))
    assert len(rules) >= 5
    money = [r for r in rules if r.compare == "absolute" and r.metric.endswith("_fen")]
    for rule in money:  # every money bound in yuan: at least ¥1 (100 fen)
        assert (rule.below or rule.above) >= 100


def test_serve_loads_last_year_from_the_warehouse(tmp_path: Path) -> None:
    """`dacu serve` (DACU_WAREHOUSE set) backfills last year's window of a last_year rule: the
    monitor's reference for 20:00–21:00 is then last year's paid GMV of that hour, summed here
    from the events themselves."""
    import pyarrow as pa

    from dacu.monitor.replay import backfill_history
    from dacu.warehouse import open_warehouse

    text = BASE + "alerts:\n  - {id: yoy, metric: paid_gmv, compare: last_year, below: 70%}\n"
    campaign = parse_campaign(text)
    ago = PEAK - timedelta(days=364)
    world = simworld.events(np.random.default_rng(9), 2000, ago, minutes=120, prefix="ly")
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = open_warehouse(url)
    try:
        wh.append_events(world.events)
    finally:
        wh.close()
    monitor = LiveMonitor(campaign, tmp_path / "m", detectors=False)
    assert backfill_history(monitor, url) > 0
    rule = monitor.engine.rules[0]
    hour = (PEAK + timedelta(hours=1), PEAK + timedelta(hours=2))
    t = world.events
    ts = t["ts"]
    inside = pc.and_(
        pc.and_(pc.equal(t["event"], "pay"), pc.greater_equal(ts, hour[0] - rule.offset)),
        pc.less(ts, hour[1] - rule.offset),
    )
    expected = pc.sum(pc.if_else(inside, t["amount_fen"], pa.scalar(0, pa.int64()))).as_py()
    assert expected > 0
    assert monitor._reference(rule, "", *hour) == pytest.approx(expected)
    monitor.close()
