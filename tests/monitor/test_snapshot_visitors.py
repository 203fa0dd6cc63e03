"""A shop fed order records and traffic snapshots (no page views): the UV-based rules and tiles
read the snapshots' visitors, not the buyers the order events bring."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dacu.config import parse_campaign
from dacu.monitor.dashboard import snapshot
from dacu.monitor.intake_orders import accept_orders
from dacu.monitor.intake_traffic import snapshot_visitors, snapshots_of
from dacu.monitor.live import LiveMonitor
from dacu.monitor.store import Kpis

SHANGHAI = timezone(timedelta(hours=8))
CAMPAIGN = """
id: shop-live
name: 店铺实时
store: s
phases: [{name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}]
channels:
  - {id: search_ads, name: 直通车, kind: search_ads}
alerts:
  - {id: cvr-low, name: 转化率低于2%, metric: cvr, below: 2%, window: 1h}
  - {id: uv-low, name: 访客少于800, metric: uv, below: 800, window: 1h}
"""


@pytest.fixture
def shop(tmp_path: Path):
    monitor = LiveMonitor(parse_campaign(CAMPAIGN), tmp_path / "mon", detectors=False)
    snapshots = snapshots_of(monitor)
    answer = snapshots.accept(
        [
            {
                "period": "2026-11-11 20:00",
                "grain": "hour",
                "source": "全店",
                "uv": 1000,
                "bounce_rate": "40%",
            },
            {"period": "2026-11-11 20:00", "grain": "hour", "source": "直通车", "uv": 300},
            {"period": "2026-11-11 19:00", "grain": "hour", "source": "全店", "uv": 1000},
            {"period": "2026-11-11 20:00", "grain": "hour", "source": "手淘搜索", "uv": 700},
        ],
        tz="Asia/Shanghai",
    )
    assert answer["accepted"] == 4
    orders = [  # 10 buyers ordering from 20:05 to 20:50, each paying a minute later
        {
            "tid": f"T{i}",
            "buyer_nick": f"b{i}",
            "created": f"2026-11-11 20:{5 * i + 5:02d}:00",
            "pay_time": f"2026-11-11 20:{5 * i + 6:02d}:00",
            "total_fee": "100.00",
        }
        for i in range(10)
    ]
    assert (
        accept_orders(monitor.collector, orders, platform="tmall", tz="Asia/Shanghai")["accepted"]
        == 20
    )
    yield monitor
    monitor.close()


def test_uv_of_a_window_is_the_snapshots_pro_rata(shop: LiveMonitor) -> None:
    at = lambda h, m: datetime(2026, 11, 11, h, m, tzinfo=SHANGHAI)  # noqa: E731
    ten_buyers = Kpis(uv=10, buyers=10)
    whole = snapshot_visitors(shop, ten_buyers, None, "", at(20, 0), at(21, 0))
    assert (whole.uv, whole.buyers) == (1000, 10)  # the 全店 row, not the sum of sources
    half = snapshot_visitors(shop, ten_buyers, None, "", at(20, 30), at(21, 30))
    assert half.uv == 500  # half of the hour's snapshot
    channel = snapshot_visitors(shop, Kpis(), "channel", "search_ads", at(20, 0), at(21, 0))
    assert channel.uv == 300  # 直通车 is search_ads by the campaign's channel names
    seen = Kpis(uv=40, pv=90)  # a window with page views keeps the events' UV
    assert snapshot_visitors(shop, seen, None, "", at(20, 0), at(21, 0)).uv == 40


def test_cvr_rule_reads_snapshot_uv_and_the_tiles_show_it(shop: LiveMonitor) -> None:
    # rules tick on event time: at 20:05 (the first order) the window 19:05–20:05 holds 55/60 of
    # the 19:00 hour's 1,000 visitors and 5/60 of the 20:00 hour's (1,000) and no buyer yet: CVR
    # 0/1,000 < 2% opens; from the order events alone there would be no visitor to divide by.
    # At the last tick (20:51) the window 19:51–20:51 holds 9/60 + 51/60 of 1,000 visitors and
    # 9 buyers (the pay at 20:51:00 ends the window): 9/1,000. UV 1,000 ≥ 800: uv-low stays quiet
    opened = [(f["rule_id"], f["at"][:16]) for f in shop.feed if f["kind"] == "opened"]
    assert opened == [("cvr-low", "2026-11-11T12:05")]
    state = shop.engine.states[("cvr-low", "")]
    assert state.last_value == pytest.approx(9 / 1000)
    board = snapshot(shop)  # today up to 20:52, the end of the latest event's minute
    funnel = {step["step"]: step["count"] for step in board["funnel"]}
    assert (funnel["uv"], funnel["buyers"]) == (1867, 10)  # 1,000 + 1,000 × 52/60 = 1,866.7
    assert board["bounce"]["rate"] == pytest.approx(0.40)
    tiles = {t["metric"]: t["actual"] for t in board["tiles"]}
    assert tiles["uv"] == 1867
