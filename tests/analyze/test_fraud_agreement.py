"""`dacu analyze fraud score` and the live monitor's fraud watch run one pipeline
(`dacu.analyze.fraud.score_events`): on the same day of events they flag the same accounts with
the same points and reasons, whether the events come from a parquet file or hour by hour."""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dacu.cli import app
from tests.conftest import ROOT

CAMPAIGN = ROOT / "examples" / "double11.yaml"


@pytest.fixture(scope="module")
def day():
    """The burst day of the demo shop with a coupon bot and a brushing ring, cut at its local
    midnight (refunds of later days left out: the watch scores the day once it has ended). The
    ring's accounts draw their device type at random: on SKU-SC-002 this world's ring of 12
    shares enough baskets to be flagged (8 accounts); its ring of 7 on SKU-MK-003, split 3
    android / 4 iOS since the world serves a sold-out SKU's last units, flags 1 — below an
    alert (3 accounts) — and would leave the agreement untested on rings."""
    from dacu.config import load_campaign
    from dacu.sim import simulate_day

    campaign = load_campaign(CAMPAIGN)
    result = simulate_day(
        campaign, incidents=["coupon_bot@02:00", "brushing@10:00:SKU-SC-002"], scale=0.1
    )
    start = datetime.combine(campaign.peak_day, time(), campaign.tz)
    end = start + timedelta(days=1)
    events = result.events
    events = events.filter(pc.less(events["ts"], pa.scalar(end, events.schema.field("ts").type)))
    return campaign, start, end, events.sort_by("ts")


def _cli_flagged(events: pa.Table, tmp_path) -> dict[str, tuple[int, str]]:
    path = tmp_path / "events.parquet"
    pq.write_table(events, path)
    args = ["analyze", "fraud", "score", "-e", str(path), "-c", str(CAMPAIGN)]
    result = CliRunner().invoke(app, [*args, "--json", "--top", "100000"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["flagged"] == len(doc["top"])
    return {r["user_id"]: (r["points"], r["reasons_zh"]) for r in doc["top"]}


def _watch_alerts(
    campaign, start: datetime, end: datetime, events: pa.Table
) -> tuple[list[dict], dict[str, set[str]]]:
    """The watch fed hour by hour as the collector feeds it; it scores the day at midnight.
    Its alerts, and every account it flagged by kind (alerted or only in the approval queue)."""
    from dacu.monitor.watch_risk import LiveRisk

    risk = LiveRisk(campaign)
    risk.tick(start, None)  # the first quarter seen live: the watch scores from the next one
    kind = events.schema.field("ts").type
    for hour in range(24):
        lo, hi = (pa.scalar(start + timedelta(hours=h), kind) for h in (hour, hour + 1))
        risk.observe(
            events.filter(pc.and_(pc.greater_equal(events["ts"], lo), pc.less(events["ts"], hi)))
        )
    alerts = risk.tick(end, None)
    assert {a["rule_id"] for a in alerts} <= {"fraud-flagged"}
    return alerts, risk.flagged


def test_the_cli_and_the_live_watch_flag_the_same_accounts(day, tmp_path):
    campaign, start, end, events = day
    cli = _cli_flagged(events, tmp_path)
    alerts, flagged = _watch_alerts(campaign, start, end, events)
    # the injected bot and ring are there (the agreement is not two empty lists)
    truth_kinds = {a["dimension"] for a in alerts}
    assert {"kind=coupon_bots", "kind=brushing"} <= truth_kinds, truth_kinds
    # the watch flags the CLI's accounts; each alert says how many of its kind there are, and
    # a kind of fewer than MIN_ALERT_ACCOUNTS waits in the approval queue without an alert
    from dacu.monitor.risk_alerts import MIN_ALERT_ACCOUNTS

    assert set().union(*flagged.values()) == set(cli) and cli
    alerted = {kind: len(users) for kind, users in flagged.items() if kind in truth_kinds}
    assert {a["dimension"]: int(a["value"]) for a in alerts} == alerted
    assert all(len(users) < MIN_ALERT_ACCOUNTS for k, users in flagged.items() if k not in alerted)
    # and the accounts it names carry the CLI's points and reasons
    named = [
        re.match(r"\s+· (\S+)（(\d+)分）：(.*)", line)
        for a in alerts
        for line in a["message"].splitlines()
        if line.lstrip().startswith("·")
    ]
    assert named and all(named)
    for m in named:
        assert cli[m[1]] == (int(m[2]), m[3]), m[1]


def test_ibis_and_arrow_inputs_score_alike(day):
    # the CLI reads the events with Ibis, the watch keeps them in Arrow and compiles the SQL once
    from dacu.analyze.fraud import FraudConfig, score_events
    from dacu.analyze.fraud.features import CompiledFeatures

    campaign, start, end, events = day
    config = FraudConfig.from_campaign(campaign, start=start + timedelta(hours=6), end=end)
    compiled = CompiledFeatures(events.schema, config.flash_skus)
    try:
        arrow = score_events(events, config=config, compiled=compiled)
    finally:
        compiled.close()
    engine = score_events(ibis.memtable(events), config=config)
    pd.testing.assert_frame_equal(arrow.scores, engine.scores)
    assert sorted(arrow.links) == sorted(engine.links)
    assert arrow.clusters == engine.clusters


def test_a_compiled_pipeline_of_other_flash_skus_is_refused(day):
    from dacu.analyze.fraud import FraudConfig, score_events
    from dacu.analyze.fraud.features import CompiledFeatures

    _, _, _, events = day
    compiled = CompiledFeatures(events.schema, ["SKU-OTHER"])
    try:
        with pytest.raises(ValueError, match="other flash SKUs"):
            score_events(events, config=FraudConfig(flash_skus=("SKU-MK-001",)), compiled=compiled)
    finally:
        compiled.close()
