"""The monitor's feeds beyond events (SKU table, stock levels, spend, posts, coupon report):
each item validated on its own, bad ones refused by index and reason, good ones stored; and what
the stock watch, bounce rate, coupon advice and alert cards make of them, worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dacu.config import parse_campaign
from dacu.errors import ConfigError
from dacu.events import EVENT_SCHEMA
from dacu.monitor.api import install
from dacu.monitor.cards import alert_card, cause_line, what, where
from dacu.monitor.live import LiveMonitor
from dacu.monitor.sessions import SessionTally
from dacu.monitor.watches import CouponBands, coupon_advice
from tests.conftest import ROOT
from tests.web.conftest import _fast_argon2, world  # noqa: F401

SHANGHAI = timezone(timedelta(hours=8))
DAY = datetime(2026, 11, 11, tzinfo=SHANGHAI)
CID = "double11-2026"


def campaign():
    return parse_campaign((ROOT / "examples" / "double11.yaml").read_text(encoding="utf-8"))


def event(i: int, at: datetime, kind: str, **more) -> dict:
    return {
        "event_id": f"e{i}",
        "ts": at.isoformat(),
        "user_id": more.pop("user_id", f"u{i}"),
        "event": kind,
        **more,
    }


@pytest.fixture
def fed(world, tmp_path: Path):  # noqa: F811
    monitor = LiveMonitor(campaign(), tmp_path / "live", detectors=False)
    install(world.app, monitor)
    yield world.key_client("events:write"), monitor
    monitor.close()


def test_skus_and_stock_feed_refuse_bad_items_one_by_one(fed) -> None:
    client, monitor = fed
    answer = client.post(
        f"/api/monitor/{CID}/skus",
        json=[
            {"sku_id": "SKU-A", "name": "精华 30ml", "category": "skincare", "stock": 100},
            {"sku_id": "SKU B", "stock": 5},  # a space in the id
            {"sku_id": "SKU-C", "stock": -1},
            {"sku_id": "SKU-D", "name": "面霜", "category": "skincare", "stock": 40},
        ],
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 2]
    assert body["rejected"][0]["reason"].startswith("sku_id:")
    assert body["rejected"][1]["reason"].startswith("stock:")
    assert {s["sku_id"] for s in monitor.skus} == {"SKU-A", "SKU-D"}
    bad = client.post(f"/api/monitor/{CID}/stock", json=[{"sku_id": "SKU-A", "stock": 3}])
    assert bad.status_code == 422 and bad.json()["rejected"][0]["reason"].startswith("at:")
    naive = client.post(
        f"/api/monitor/{CID}/stock",
        json=[{"sku_id": "SKU-A", "stock": 3, "at": "2026-11-11T20:00:00"}],
    )
    assert naive.status_code == 422 and "time zone" in naive.json()["rejected"][0]["reason"]
    assert client.post(f"/api/monitor/{CID}/skus", content=b"{not json").status_code == 400


FEEDS = ("skus", "stock", "posts", "coupons", "spend", "customers")


def test_a_request_that_is_not_a_batch_is_refused_whole(fed) -> None:
    client, monitor = fed
    version = monitor.version
    for feed in FEEDS:
        for body in ([], {"sku_id": "SKU-A", "stock": 3}):
            answer = client.post(f"/api/monitor/{CID}/{feed}", json=body)
            assert answer.status_code == 422, (feed, answer.text)
            if feed == "spend" and body:
                continue  # its body is typed as an array in the OpenAPI document: FastAPI's 422
            errors = answer.json().get("rejected") or answer.json()["errors"]
            assert [e["index"] for e in errors] == [-1], (feed, errors)
            assert errors[0]["reason"].startswith("body:")
    assert monitor.version == version and monitor.skus == [] and monitor.spend == {}


def test_feed_items_share_the_batch_bounds(fed) -> None:
    client, monitor = fed
    answer = client.post(
        f"/api/monitor/{CID}/skus",
        json=[
            {"sku_id": "SKU-A", "stock": True},  # a boolean is not a count
            {"sku_id": "SKU-B", "price_fen": 2**63},  # beyond int64 (and DACU_MAX_AMOUNT)
            {"sku_id": "SKU-C", "name": "名" * 300},  # longer than 256 characters
            {"sku_id": "..", "stock": 1},  # dots only never name anything
            {"sku_id": "SKU-E", "price_fen": 23900, "stock": 870},
        ],
    ).json()
    assert answer["accepted"] == 1
    assert [(r["index"], r["reason"].split(":")[0]) for r in answer["rejected"]] == [
        (0, "stock"),
        (1, "price_fen"),
        (2, "name"),
        (3, "sku_id"),
    ]
    assert monitor.skus == [{"sku_id": "SKU-E", "price_fen": 23900, "stock": 870}]
    coupons = client.post(
        f"/api/monitor/{CID}/coupons",
        json=[{"hour": "1970-01-01T00:00:00+08:00", "coupon": "C-1", "issued": 5, "redeemed": 1}],
    )
    assert coupons.status_code == 422
    assert "plausible window" in coupons.json()["rejected"][0]["reason"]


@pytest.mark.parametrize(
    ("counting", "at_start", "after_count"),
    [
        # 拍下减库存: every unit ordered, paid or not: 100 − 2 − 3 − 4; 90 − 3 − 4 after 20:30
        ("拍下减库存", 91, 83),
        # 付款减库存: the units paid (the 20:35 order of 3 is never paid): 100 − 2 − 4; 90 − 4
        ("pay", 94, 86),
    ],
)
def test_stock_left_takes_the_units_the_shop_counting_takes(
    world,  # noqa: F811
    tmp_path: Path,
    counting: str,
    at_start: int,
    after_count: int,
) -> None:
    base = campaign()
    shop = base.model_copy(update={"monitor": {**base.monitor, "stock_counting": counting}})
    monitor = LiveMonitor(shop, tmp_path / "live", detectors=False)
    install(world.app, monitor)
    client = world.key_client("events:write")
    client.post(
        f"/api/monitor/{CID}/skus",
        json=[{"sku_id": "SKU-A", "category": "skincare", "stock": 100}],
    )
    # ordered: 2 units at 20:05 (paid 20:07), 3 at 20:35 (never paid), 4 at 20:40 (paid 20:45);
    # the warehouse counts 90 at 20:30
    rows = []
    for n, (minute, units, paid) in enumerate([(5, 2, True), (35, 3, False), (40, 4, True)]):
        line = {"sku_id": "SKU-A", "quantity": units, "amount_fen": 1000 * units}
        at = DAY + timedelta(hours=20, minutes=minute)
        rows.append(event(2 * n, at, "order", order_id=f"o{n}", user_id=f"u{n}", **line))
        if paid:
            pay_at = at + timedelta(minutes=2 + 3 * (n > 0))
            rows.append(event(2 * n + 1, pay_at, "pay", order_id=f"o{n}", user_id=f"u{n}", **line))
    rows.append(event(9, DAY + timedelta(hours=20, minutes=50), "pv"))  # the clock to 20:50
    assert client.post("/api/events", json=rows).json()["accepted"] == 6
    assert monitor.stock_left() == {"SKU-A": at_start}  # counted at the campaign start
    answer = client.post(
        f"/api/monitor/{CID}/stock",
        json=[{"sku_id": "SKU-A", "stock": 90, "at": "2026-11-11T20:30:00+08:00"}],
    )
    assert answer.json() == {"accepted": 1, "rejected": []}
    assert monitor.stock_left() == {"SKU-A": after_count}
    assert next(r for r in monitor.stock() if r.sku_id == "SKU-A").stock_left == after_count
    monitor.close()


def test_a_stock_counting_the_platform_does_not_have_is_refused() -> None:
    from dacu.monitor.settings import check_monitor

    base = campaign()
    shop = base.model_copy(update={"monitor": {**base.monitor, "stock_counting": "发货减库存"}})
    with pytest.raises(ConfigError, match=r"monitor\.stock_counting: '发货减库存'.*拍下减库存"):
        check_monitor(shop)


def test_spend_feed_names_each_bad_row_and_adds_nothing(fed) -> None:
    """Spend rows add up and carry no id: a batch with a bad row adds nothing (a resent batch
    would otherwise count its good rows twice), and says which rows were wrong."""
    client, monitor = fed
    good = {"hour": "2026-11-11T20:00:00+08:00", "channel": "search_ads", "spend_fen": 120000}
    answer = client.post(
        f"/api/monitor/{CID}/spend",
        json=[
            good,
            {"hour": "2026-11-11T20:00:00+08:00", "channel": "search_ads", "spend_fen": 12.5},
            {"hour": "2026-11-11T21:00:00+08:00", "channel": "display_ads", "spend_fen": -5},
        ],
    )
    assert answer.status_code == 422
    assert [e["index"] for e in answer.json()["errors"]] == [1, 2]
    assert monitor.spend_between(0, 10**9) == 0
    assert client.post(f"/api/monitor/{CID}/spend", json=[good]).json() == {"added": 1}
    assert monitor.spend_between(0, 10**9) == 120000


def test_coupon_report_refuses_more_redeemed_than_issued(fed) -> None:
    client, _monitor = fed
    answer = client.post(
        f"/api/monitor/{CID}/coupons",
        json=[{"hour": "2026-11-11T03:00:00+08:00", "coupon": "C-1", "issued": 5, "redeemed": 9}],
    )
    assert answer.status_code == 422
    assert "redeemed 9 > issued 5" in answer.json()["rejected"][0]["reason"]


def test_bounce_rate_by_hand() -> None:
    tally = SessionTally(SHANGHAI)
    at = DAY + timedelta(hours=10)
    rows = [  # s1: one page (bounce); s2: page then cart; s3: impression, click, one page
        ("s1", "pv"),
        ("s2", "pv"),
        ("s2", "cart"),
        ("s3", "impression"),
        ("s3", "click"),
        ("s3", "pv"),
        ("s4", "pv"),
        ("s4", "pv"),
    ]
    table = pa.Table.from_pylist(
        [
            {"event_id": str(i), "ts": at, "user_id": "u", "session_id": s, "event": k}
            for i, (s, k) in enumerate(rows)
        ],
        schema=EVENT_SCHEMA,
    )
    tally.observe(table)
    found = tally.bounce(at)
    assert (found.sessions, found.bounced) == (4, 2)  # s1 and s3 bounced
    assert tally.bounce(at + timedelta(days=1)).sessions == 0  # the day boundary


def test_coupon_advice_with_the_numbers_it_used() -> None:
    bands = CouponBands.parse({"pause_below": "70%", "more_from": "85%", "all_from": "93%"})
    rows = [
        {"slot_ms": 0, "coupon": "C", "issued": 1000, "redeemed": 880},
        {"slot_ms": 1, "coupon": "C", "issued": 1000, "redeemed": 650},
        {"slot_ms": 2, "coupon": "C", "issued": 1000, "redeemed": 950},
        {"slot_ms": 3, "coupon": "C", "issued": 1000, "redeemed": 800},  # on course
        {"slot_ms": 4, "coupon": "C", "issued": 10, "redeemed": 10},  # too few to judge
    ]
    advice = {a["slot_ms"]: a for a in coupon_advice(rows, bands)}
    assert set(advice) == {0, 1, 2}
    assert (advice[0]["advice"], advice[0]["quantity"]) == ("issue_more", 500)
    assert "核销率 88% ≥ 85% → 增发 500 张" in advice[0]["basis_zh"]
    assert (advice[1]["advice"], advice[1]["quantity"]) == ("pause", None)
    assert (advice[2]["advice"], advice[2]["quantity"]) == ("reissue_all", 1000)


def test_coupon_bands_refuse_what_they_cannot_use() -> None:
    with pytest.raises(ConfigError, match="pause_below ≤ more_from"):
        CouponBands.parse({"pause_below": "90%", "more_from": "85%"})
    with pytest.raises(ConfigError, match=r"coupon_slots\.slots: unknown key"):
        CouponBands.parse({"slots": 4})
    with pytest.raises(ConfigError, match="slot_hours"):
        CouponBands.parse({"slot_hours": 3})


@given(
    issued=st.integers(30, 10**6),
    a=st.floats(0, 1),
    b=st.floats(0, 1),
)
def test_advice_never_pauses_a_slot_that_redeems_more(issued: int, a: float, b: float) -> None:
    """Monotone in the rate: a slot redeeming more is never advised fewer coupons."""
    low, high = sorted((round(issued * a), round(issued * b)))
    rank = {"pause": 0, None: 1, "issue_more": 2, "reissue_all": 3}
    got = [
        (
            coupon_advice(
                [{"slot_ms": 0, "coupon": "C", "issued": issued, "redeemed": r}], CouponBands()
            )
            or [{"advice": None}]
        )[0]["advice"]
        for r in (low, high)
    ]
    assert rank[got[0]] <= rank[got[1]]


def test_alert_card_names_not_ids() -> None:
    names = {"channel": {"search_ads": "直通车"}, "sku_id": {"SKU-A": "精华 30ml"}}
    assert where(names, "channel=search_ads") == {
        "text": "渠道 直通车",
        "title": "channel=search_ads",
    }
    assert where(names, "") == {"text": "全店", "title": ""}
    assert (
        what("🔴 红色告警·触发：渠道拍下付款率骤降（渠道=search_ads）\n- 指标")
        == "渠道拍下付款率骤降"
    )
    cause = {
        "culprit": {
            "dimension": "channel",
            "value": "search_ads",
            "ep": 0.505,
            "signal": "pay_failure",
        }
    }
    assert cause_line(names, cause) == "渠道 直通车：拍下未付款激增"
    plain = {"culprit": {"dimension": "sku_id", "value": "SKU-A", "ep": 0.9}}
    assert cause_line(names, plain) == "SKU 精华 30ml：变化主要来自这里"  # no "EP 90%"
    card = alert_card(
        {
            "id": 7,
            "rule_id": "unpaid",
            "severity": "red",
            "status": "open",
            "acked_by": None,
            "message": "🔴 红色告警·触发：渠道拍下付款率骤降（渠道=search_ads）\n- 指标",
            "dimension": "channel=search_ads",
            "opened_at": datetime(2026, 11, 11, 12, 5, tzinfo=UTC).isoformat(),
            "root_cause": cause,
            "playbook": {
                "actions": [
                    {"zh": "切换search_ads的支付通道"},
                    {"zh": "把SKU-A换成SKU-AB"},
                    {"zh": "c"},
                ]
            },
        },
        names,
        SHANGHAI,
    )
    assert card["since"] == "11-11 20:05"  # Beijing time
    assert card["actions"] == ["切换直通车的支付通道", "把精华 30ml换成SKU-AB"]  # SKU-AB: no name
    assert card["status_text"] == "待处理"


def test_skus_and_spend_from_the_warehouse(tmp_path: Path) -> None:
    """`dacu import skus` / `dacu import spend` / `dacu import customers` in the warehouse reach
    the monitor: the SKU table, the spend of this campaign (or of none) from its start, other
    campaigns' not, and the customers' first purchases."""
    from dacu.monitor.feeds import from_warehouse
    from dacu.warehouse.connect import open_warehouse

    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    warehouse.load_reference(
        "skus",
        pa.Table.from_pylist(
            [{"sku_id": "SKU-A", "name": "精华", "category": "skincare", "stock": 50}]
        ),
    )
    c = campaign()
    hour = c.start + timedelta(hours=1)
    warehouse.load_reference(
        "spend",
        pa.Table.from_pylist(
            [
                {"hour": hour, "channel": "search_ads", "campaign_id": CID, "spend_fen": 300},
                {"hour": hour, "channel": "search_ads", "campaign_id": None, "spend_fen": 20},
                {"hour": hour, "channel": "search_ads", "campaign_id": "other", "spend_fen": 1},
                {
                    "hour": c.start - timedelta(hours=1),
                    "channel": "search_ads",
                    "campaign_id": CID,
                    "spend_fen": 4000,
                },  # before the campaign
            ]
        ),
    )
    # `dacu import customers`: the customer file's first purchases age the fraud watch's accounts
    warehouse.load_reference(
        "customers",
        pa.Table.from_pylist(
            [
                {"user_id": "c1", "first_purchase": datetime(2024, 3, 8, tzinfo=SHANGHAI)},
                {"user_id": "c2", "first_purchase": None},  # never bought: nothing to age
            ]
        ),
    )
    monitor = LiveMonitor(c, tmp_path / "live", detectors=False)
    try:
        assert from_warehouse(monitor, warehouse) == {"skus": 1, "spend": 2, "customers": 1}
        ages = monitor.risk_feeds.ages.table().to_pylist()
        assert ages == [{"user_id": "c1", "first_seen": datetime(2024, 3, 8, tzinfo=SHANGHAI)}]
        assert monitor.spend_between(0, 10**9) == 320
        assert monitor.skus[0]["name"] == "精华" and monitor.stock_left() == {"SKU-A": 50}
    finally:
        monitor.close()
        warehouse.close()
