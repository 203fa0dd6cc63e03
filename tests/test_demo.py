"""`make demo` end to end at a small scale: every stage writes what the README promises."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from dacu.config import load_campaign
from dacu.demo import EXAMPLE, run_demo


@pytest.mark.slow
def test_demo_writes_every_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`make demo` itself (the default scale, about a minute): every stage's files, the commands
    it prints, and the peak day's alerts checked against the simulator's truth."""
    written = run_demo(tmp_path)
    _assert_the_printed_commands_are_dacus(capsys.readouterr().out, tmp_path)
    for name in (
        "campaign",
        "warehouse",
        "plan",
        "plan.xlsx",
        "alerts",
        "review.html",
        "review.xlsx",
        "review.pptx",
        "review.json",
    ):
        assert written[name].exists(), name

    truth = json.loads((tmp_path / "sim" / "truth.json").read_text(encoding="utf-8"))
    fraction = truth["sizing"]["store_fraction"]
    original, scaled = load_campaign(EXAMPLE), load_campaign(written["campaign"])
    # volumes scale with the simulated share of the store; ratios and prices do not
    assert scaled.target("gmv").value_fen == pytest.approx(
        original.target("gmv").value_fen * fraction, abs=1
    )
    assert scaled.target("cvr").value == original.target("cvr").value
    assert scaled.target("asp").value_fen == original.target("asp").value_fen
    assert scaled.budget is not None and original.budget is not None
    assert scaled.budget.total == pytest.approx(original.budget.total * fraction, abs=1)
    alerts = json.loads(written["alerts"].read_text(encoding="utf-8"))
    assert isinstance(alerts, list)
    # the peak day is replayed after the campaign's earlier days were backfilled without alerts,
    # and each alert is logged at its event time (not when the replay ran)
    peak = scaled.peak_day
    assert all(
        datetime.fromisoformat(a["opened_at"]).astimezone(scaled.tz).date() == peak for a in alerts
    ), [a["opened_at"] for a in alerts]

    _assert_the_injected_incidents_are_alerted(alerts, truth, tmp_path / "sim")
    _assert_planned_rushes_are_named(alerts, scaled)
    _assert_no_red_before_the_first_incident(alerts, truth)


def _assert_no_red_before_the_first_incident(alerts: list[dict], truth: dict) -> None:
    """The midnight rush is the shop's busiest hour, not an incident: until the first injected
    incident nothing pages the team red (issue #19: spread evenly over its hour, the plan read
    00:00–00:10 as "CVR at 49% of plan", red)."""
    first = min(datetime.fromisoformat(i["start"]) for i in truth["incidents"])
    early = [a for a in alerts if datetime.fromisoformat(a["opened_at"]) < first]
    assert not [a["message"] for a in early if a.get("severity") == "red"]


def _assert_the_printed_commands_are_dacus(output: str, out: Path) -> None:
    """Each step's printed command parses with dacu's own options and names files the demo
    wrote; the replay's feeds what the demo fed: the plan, the SKU table and the stock counts,
    over the peak day only (issue #16)."""
    import shlex

    from tests.test_help_paths import all_commands

    commands = dict(all_commands())
    printed = [shlex.split(line.strip()[2:]) for line in output.splitlines() if "$ dacu " in line]
    assert len(printed) == 6, output
    for args in printed:
        name = max((n for n in commands if args[: len(n.split())] == n.split()), key=len)
        commands[name].make_context(name, args[len(name.split()) :])  # an unknown option raises
        for arg in args:
            if arg.startswith(str(out)):
                assert Path(arg).exists(), (name, arg)
    [replay] = [a for a in printed if a[:3] == ["dacu", "monitor", "replay"]]
    assert replay[replay.index("--stock") + 1] == str(out / "sim" / "stock.csv")
    assert {"--plan", "--skus", "--since", "--until"} <= set(replay)


def _assert_planned_rushes_are_named(alerts: list[dict], campaign) -> None:
    """A planned flash sale (the example's 20:00 lipstick sale) is never handled as an attack:
    an alert that opens while it runs names the sale and its playbook, not the channel that
    carried the rush nor "block bot accounts". Since the simulator sells a flash sale only its
    stock allocation (issue 16's ledgers), the demo's rush (14 orders in its first 10 minutes at
    scale 0.3) stays under the 3×-plan order-spike rule, so there may be no such alert at all;
    the naming itself is tested on a rush in tests/monitor/test_rules.py."""
    from dacu.flash.loading import load_flash

    sessions = [
        (sale.sku_id, session.start, session.end + timedelta(minutes=30))
        for sale in load_flash(campaign).sales
        for session in sale.sessions
    ]
    during = [
        (a, sku)
        for a in alerts
        for sku, start, end in sessions
        if start <= datetime.fromisoformat(a["opened_at"]) < end
    ]
    for alert, sku in during:
        assert (alert.get("playbook") or {}).get("kind") != "bot_traffic", alert["message"]
        if alert["rule_id"] != "order-spike":
            continue
        culprit = alert["root_cause"]["culprit"]
        assert (culprit["dimension"], culprit["value"], culprit["signal"]) == (
            "sku_id",
            sku,
            "flash_sale",
        )
        assert alert["playbook"]["kind"] == "flash_sale_rush"
        assert f"- 根因 SKU={sku}（信号 计划内秒杀）" in alert["message"].splitlines()


def _assert_the_injected_incidents_are_alerted(
    alerts: list[dict], truth: dict, sim_dir: Path
) -> None:
    """The peak day's injected incidents (truth.json) each raise an alert naming their cause."""

    def opened(alert: dict) -> datetime:
        return datetime.fromisoformat(alert["opened_at"])

    def signals(alert: dict) -> list[tuple[str, str, str]]:
        cause = alert.get("root_cause") or {}
        return [
            (s.get("kind"), s.get("dimension"), s.get("value")) for s in cause.get("signals", [])
        ]

    incidents = {i["kind"]: i for i in truth["incidents"]}
    # payment failure of a channel: its pay-rate alert within half an hour, the channel to blame
    pay = incidents["pay_failure"]
    start = datetime.fromisoformat(pay["start"])
    [unpaid] = [
        a
        for a in alerts
        if a["rule_id"] == "unpaid" and a["dimension"] == f"channel={pay['channel']}"
    ]
    assert start < opened(unpaid) <= start + timedelta(minutes=30)
    assert unpaid["root_cause"]["culprit"]["value"] == pay["channel"]
    assert ("pay_failure", "channel", pay["channel"]) in signals(unpaid)
    # a hit SKU out of stock: the shop's stock count (the demo feeds it) puts it at 0 hours to
    # stock-out, so the stock watch alerts it within half an hour (issue #16; before the count
    # was fed, only its orders stopping could tell, two hours later)
    stock = incidents["stockout"]
    start = datetime.fromisoformat(stock["start"])
    [stall] = [a for a in alerts if a["dimension"] == f"sku_id={stock['sku']}"]
    assert start <= opened(stall) <= start + timedelta(minutes=30)
    assert stall["rule_id"] == "stock-1h" and stall["value"] == 0
    # and every stall the stock watch alerted is a SKU that could no longer be bought by then:
    # the injected one, or one the simulator sold out (no false 'orders stopped')
    sold_out = {sku: datetime.fromisoformat(at) for sku, at in truth["skus"]["sold_out_at"].items()}
    sold_out[stock["sku"]] = start
    for alert in alerts:
        culprit = (alert.get("root_cause") or {}).get("culprit") or {}
        if alert["rule_id"] == "stock-1h" and culprit.get("signal") == "stock_out":
            sku = culprit["value"]
            assert sku in sold_out and sold_out[sku] <= opened(alert), (sku, alert["opened_at"])
    # the coupon bot: an order spike within its hour, blamed on the SKU its accounts bought
    bot = incidents["coupon_bot"]
    start = datetime.fromisoformat(bot["start"])
    [spike] = [
        a
        for a in alerts
        if a["rule_id"] == "order-spike" and start < opened(a) <= start + timedelta(minutes=30)
    ]
    culprit = spike["root_cause"]["culprit"]
    assert culprit["dimension"] == "sku_id"
    assert ("order_spike", "sku_id", culprit["value"]) in signals(spike)
    assert culprit["value"] in _skus_ordered_by(bot["user_ids"], sim_dir)


def _skus_ordered_by(users: list[str], sim_dir: Path) -> set[str]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    events = pq.read_table(sim_dir / "events.parquet", columns=["user_id", "event", "sku_id"])
    mine = events.filter(
        pc.and_(
            pc.is_in(events["user_id"], value_set=pa.array(users)),
            pc.equal(events["event"], "order"),
        )
    )
    return set(mine["sku_id"].to_pylist())
