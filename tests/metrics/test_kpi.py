"""KPIs on a hand-made evening (numbers worked out by hand) and the exact identity GMV = UV×CVR×ASP."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest

from dacu.config import parse_campaign
from dacu.errors import ConfigError
from dacu.metrics import identity_holds, kpis
from dacu.warehouse import open_warehouse
from tests.metrics.events_fixture import evening

CAMPAIGN = """
id: d11-test
name: 双11 测试
store: 测试旗舰店
phases:
  - {name: warmup, start: 2024-10-31 20:00, end: 2024-11-11 00:00}
  - {name: burst, start: 2024-11-11 00:00, end: 2024-11-12 00:00}
"""


@pytest.fixture
def wh():
    warehouse = open_warehouse("duckdb://:memory:")
    warehouse.append_events(evening())
    yield warehouse
    warehouse.close()


def _cells(wh, **kw) -> dict[tuple, dict]:
    rows = wh.to_arrow(kpis(wh.events(), **kw)).to_pylist()
    by = kw.get("by", ())
    return {tuple(_key(r[d]) for d in by): r for r in rows}


def _key(value):
    return value.strftime("%H") if isinstance(value, datetime) else value


def test_total_by_hand(wh):
    total = _cells(wh, by=())[()]
    # uv {u1,u2,u3}; pv e01 e05 e06 e07 e09; buyers {u1}; orders o1 o2 o3; paid o1 o3
    assert {k: total[k] for k in ("uv", "pv", "buyers", "orders", "paid_orders", "units")} == {
        "uv": 3,
        "pv": 5,
        "buyers": 1,
        "orders": 3,
        "paid_orders": 2,
        "units": 3,
    }
    # gmv 30000+10000+5000; paid 30000+5000; refund 30000; net 35000-30000
    assert (total["gmv_fen"], total["paid_gmv_fen"], total["refund_fen"], total["net_gmv_fen"]) == (
        45000,
        35000,
        30000,
        5000,
    )
    assert total["cvr"] == pytest.approx(1 / 3) and total["asp_fen"] == 35000
    assert total["aov_fen"] == 17500 and total["upt"] == 1.5  # 35000/2 ; 3 units / 2 orders
    assert total["pay_rate"] == pytest.approx(2 / 3)  # o1, o3 paid of o1, o2, o3
    assert total["refund_rate"] == pytest.approx(30000 / 35000)
    # sessions s1..s4 all have a pv; only s2 is a single pv with nothing else
    assert (total["sessions"], total["bounced_sessions"], total["bounce_rate"]) == (4, 1, 0.25)
    assert total["cart_rate"] == pytest.approx(1 / 3)


def test_hour_by_channel_uses_the_session_entry_channel(wh):
    cells = _cells(wh, by=("hour", "channel"))
    # the hour is the Beijing hour (20:00 +08 = 12:00 UTC, shown in UTC)
    assert set(cells) == {
        ("12", "search_ads"),
        ("12", "content"),
        ("13", "search_ads"),
        ("13", "content"),
    }
    s1 = cells[("12", "search_ads")]  # e04's row says push, but s1 entered from search_ads
    assert (s1["uv"], s1["buyers"], s1["paid_gmv_fen"], s1["units"]) == (1, 1, 30000, 2)
    assert ("12", "push") not in cells
    s2 = cells[("12", "content")]
    assert (s2["uv"], s2["pv"], s2["bounced_sessions"], s2["bounce_rate"]) == (1, 1, 1, 1.0)
    s3 = cells[("13", "search_ads")]  # ordered, never paid
    assert (s3["pv"], s3["gmv_fen"], s3["paid_gmv_fen"], s3["buyers"], s3["cvr"]) == (
        2,
        10000,
        0,
        0,
        0.0,
    )
    assert s3["asp_fen"] is None  # no buyer: ASP undefined, shown as —
    s4 = cells[("13", "content")]
    assert (s4["paid_gmv_fen"], s4["refund_fen"], s4["net_gmv_fen"]) == (5000, 30000, -25000)


def test_distinct_counts_do_not_add_up_across_channels(wh):
    cells = _cells(wh, by=("channel",))
    # u1 bought in a search_ads session and in a content session: a buyer of both channels
    assert cells[("search_ads",)]["buyers"] == cells[("content",)]["buyers"] == 1
    assert _cells(wh, by=())[()]["buyers"] == 1
    # money adds up: 30000 + 5000
    assert sum(c["paid_gmv_fen"] for c in cells.values()) == 35000


def test_identity_holds_in_every_cell(wh):
    for by in [("hour", "channel"), ("category",), ("day", "channel", "category"), ()]:
        for row in _cells(wh, by=by).values():
            assert identity_holds(row), (by, row)


def test_phase_and_customer_type(wh):
    campaign = parse_campaign(CAMPAIGN)
    customers = pa.table(
        {
            "user_id": ["u1"],
            "first_purchase": pa.array([datetime(2024, 6, 18)], pa.timestamp("us", tz="UTC")),
        }
    )
    wh.load_reference("customers", customers)
    cells = _cells(
        wh, by=("phase", "customer_type"), campaign=campaign, customers=wh.table("customers")
    )
    # u1 bought in June → returning; u2, u3 never bought before → new
    assert set(cells) == {("burst", "returning"), ("burst", "new")}
    assert (cells[("burst", "returning")]["uv"], cells[("burst", "new")]["uv"]) == (1, 2)
    assert cells[("burst", "returning")]["paid_gmv_fen"] == 35000


def test_unknown_dimension_and_phase_without_campaign(wh):
    with pytest.raises(ConfigError, match="--by: unknown dimension 'weekday'"):
        kpis(wh.events(), by=("weekday",))
    with pytest.raises(ConfigError, match="--by phase needs the campaign file"):
        kpis(wh.events(), by=("phase",))
