"""CPC, CPM and CTR in alert rules, from the spend feed's impressions and clicks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dacu.config import parse_campaign
from dacu.errors import ConfigError
from dacu.metrics.ads import rate
from dacu.monitor.ads import AdLedger
from dacu.monitor.live import LiveMonitor

SHANGHAI = timezone(timedelta(hours=8))
BASE = """
id: ads-test
name: 投放测试
store: s
phases: [{name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}]
channels:
  - {id: search_ads, name: 直通车, kind: search_ads}
  - {id: display_ads, name: 引力魔方, kind: display_ads}
"""
CPC_RULE = """
alerts:
  - {id: cpc-high, name: 直通车CPC超过3元, metric: cpc, by: channel, above: 3, window: 1h}
"""


def test_a_cpc_bound_is_yuan_and_ad_metrics_are_per_channel() -> None:
    rule = parse_campaign(BASE + CPC_RULE).alerts[0]
    assert rule["metric"] == "cpc"
    from dacu.monitor.rules import load_rules

    (loaded,) = load_rules(parse_campaign(BASE + CPC_RULE))
    assert (loaded.metric, loaded.above) == ("cpc_fen", 300)  # 3 yuan = 300 fen
    bad = BASE + "alerts:\n  - {id: ctr-cat, metric: ctr, by: category, below: 1%}\n"
    with pytest.raises(ConfigError, match=r"alerts\[0\] \(id ctr-cat\).*per channel"):
        parse_campaign(bad)


def test_the_ledger_gives_the_rates_of_its_window() -> None:
    ledger = AdLedger()
    minute = int(datetime(2026, 11, 11, 20, tzinfo=SHANGHAI).timestamp()) // 60
    ledger.add((minute, "search_ads"), 100_000, 50_000, 250)
    ledger.add((minute + 60, "search_ads"), 20_000, None, None)  # a row without counts
    ledger.add((minute, "affiliate"), 30_000, None, None)  # commission: no clicks at all
    hour = ledger.between(minute, minute + 60, "search_ads")
    # ¥1,000 over 250 clicks = ¥4 a click; × 1000 / 50,000 impressions = ¥20 CPM; CTR 0.5%
    assert rate("cpc_fen", hour.spend_fen, hour.impressions, hour.clicks) == 400
    assert rate("cpm_fen", hour.spend_fen, hour.impressions, hour.clicks) == 2000
    assert rate("ctr", hour.spend_fen, hour.impressions, hour.clicks) == pytest.approx(0.005)
    both = ledger.between(minute, minute + 120, "search_ads")
    assert (both.spend_fen, both.clicks) == (120_000, 250)  # the later row adds spend only
    commission = ledger.between(minute, minute + 60, "affiliate")
    assert rate("cpc_fen", commission.spend_fen, commission.impressions, commission.clicks) is None


def test_a_cpc_rule_fires_on_the_channel_paying_too_much_per_click(tmp_path: Path) -> None:
    monitor = LiveMonitor(parse_campaign(BASE + CPC_RULE), tmp_path / "mon", detectors=False)
    try:
        hour = "2026-11-11T20:00:00+08:00"
        monitor.add_spend(
            [
                # 直通车 ¥1,000 for 250 clicks = ¥4.00 a click: above ¥3
                {"hour": hour, "channel": "search_ads", "spend_fen": 100_000, "clicks": 250},
                # 引力魔方 ¥600 for 300 clicks = ¥2.00: below
                {"hour": hour, "channel": "display_ads", "spend_fen": 60_000, "clicks": 300},
            ]
        )
        changes = monitor.tick(datetime(2026, 11, 11, 20, 30, tzinfo=SHANGHAI))
        opened = [(c.rule.id, c.key, c.value) for c in changes if c.kind == "opened"]
        assert opened == [("cpc-high", "search_ads", 400.0)]
        assert "¥4.00" in monitor.feed[0]["body"] or "¥4.00" in monitor.feed[0]["title"]
    finally:
        monitor.close()
