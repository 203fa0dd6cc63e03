"""新号 (a new account) is new to the shop, not new to the fraud watch's memory (issue #19, item 2).

On the 0.3× example shop's peak day the live fraud watch, which remembered two days of events,
flagged hundreds of returning customers who came straight to the flash sale as "new accounts".
The watch now remembers when each account was first seen (its own earlier days, folded, and the
shop's customer file), and the same customer is no 新号 however long ago she last came."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dacu.analyze.fraud import FraudConfig, score_events
from dacu.analyze.fraud.features import known_from_customers
from dacu.errors import InputError
from dacu.events import EVENT_SCHEMA
from dacu.monitor.account_ages import AccountAges
from dacu.monitor.commands import read_items
from dacu.monitor.feeds import CustomerItem
from dacu.monitor.watch_risk import LiveRisk
from tests.monitor.test_feeds import CID, campaign, fed  # noqa: F401
from tests.web.conftest import _fast_argon2, world  # noqa: F401

SHANGHAI = timezone(timedelta(hours=8))
PEAK = datetime(2026, 11, 11, tzinfo=SHANGHAI)
FLASH = "SKU-MK-001"  # the example campaign's flash-sale SKU


def rush(user: str, at: datetime) -> list[dict]:
    """A flash-sale buyer: one page, the cart, the order 20 s after arriving, paid 10 s later."""
    return _steps(user, at, [("pv", 0), ("cart", 5), ("order", 20), ("pay", 30)])


def script(user: str, at: datetime) -> list[dict]:
    """A scalper's script: the flash-sale order with no page seen, paid 10 s later."""
    return _steps(user, at, [("order", 0), ("pay", 10)])


def _steps(user: str, at: datetime, steps: list[tuple[str, int]]) -> list[dict]:
    return [
        {
            "event_id": f"{user}-{kind}-{at:%d%H%M}",
            "ts": at + timedelta(seconds=s),
            "user_id": user,
            "session_id": f"{user}-{at:%d%H}",
            "event": kind,
            "sku_id": FLASH,
            "amount_fen": 9900 if kind in ("order", "pay") else None,
            "order_id": f"o-{user}-{at:%d%H}" if kind in ("order", "pay") else None,
            "device": "ios",
            "region": "浙江",
        }
        for kind, s in steps
    ]


def browse(user: str, at: datetime) -> list[dict]:
    return [
        {
            "event_id": f"{user}-pv-{at:%d%H%M}",
            "ts": at,
            "user_id": user,
            "session_id": f"{user}-{at:%d%H}",
            "event": "pv",
            "sku_id": "SKU-BC-001",
            "device": "android",
            "region": "广东",
        }
    ]


def table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(sorted(rows, key=lambda r: r["ts"]), schema=EVENT_SCHEMA)


def test_a_customer_of_the_customer_file_is_no_new_account() -> None:
    # both order the flash SKU at 20:00 by script (no page seen) and pay 10 s later; the log
    # starts two days before (someone else browsing), so 新号 can be judged.
    rows = browse("x", PEAK - timedelta(days=2)) + script("loyal", PEAK + timedelta(hours=20))
    rows += script("fresh", PEAK + timedelta(hours=20, minutes=1))
    config = FraudConfig.from_campaign(campaign(), start=PEAK, end=PEAK + timedelta(days=1))
    ages = AccountAges()
    ages.add_known([("loyal", datetime(2024, 3, 8, 21, 14, tzinfo=SHANGHAI))])

    blind = score_events(table(rows), config=config).scores.set_index("user_id")
    known = score_events(table(rows), config=config, known=ages.table()).scores.set_index("user_id")
    # without the file the two look alike: 下单前无浏览 2 + 新号只买秒杀品 1 = 3, flagged
    for user in ("loyal", "fresh"):
        assert blind.loc[user, "points"] == 3 and blind.loc[user, "flagged"]
    assert known.loc["fresh", "points"] == 3 and known.loc["fresh", "flagged"]
    # with it the loyal customer keeps only 下单前无浏览
    assert known.loc["loyal", "points"] == 2 and not known.loc["loyal", "flagged"]
    assert known.loc["loyal", "reasons_zh"] == "下单前无浏览"
    assert known.loc["loyal", "account_age_seconds"] > 2.5 * 365 * 86400


def test_a_new_shopper_racing_to_the_flash_sale_is_no_scalper() -> None:
    # on the 1× example shop's peak day ten such buyers were queued as 黄牛: a new account that
    # sees the flash SKU, carts it, orders 20 s after arriving and pays 10 s later is what a
    # flash sale is for. 新号只买秒杀品 is its one point; 新号即下单 and 秒付 say nothing more of
    # it. The same shopper buying an ordinary SKU is new and pays fast: 新号即下单 1 + 秒付 1.
    ordinary = [dict(r, sku_id="SKU-BC-001") for r in rush("other", PEAK + timedelta(hours=21))]
    rows = browse("x", PEAK - timedelta(days=2)) + rush("fresh", PEAK + timedelta(hours=20))
    config = FraudConfig.from_campaign(campaign(), start=PEAK, end=PEAK + timedelta(days=1))
    scores = score_events(table(rows + ordinary), config=config).scores.set_index("user_id")
    assert scores.loc["fresh", "points"] == 1 and not scores.loc["fresh", "flagged"]
    assert scores.loc["fresh", "reasons_zh"] == "新号只买秒杀品"
    assert scores.loc["other", "points"] == 2
    assert scores.loc["other", "reasons_zh"] == "新号即下单、秒付"


def test_the_live_watch_remembers_an_account_beyond_the_day_it_keeps() -> None:
    # "back" browsed on Nov 8 and comes back for the flash sale on Nov 11; "fresh" first
    # appears then. The watch keeps only the day it scores, but folded Nov 8 into its ages.
    risk = LiveRisk(campaign())
    days = [
        browse("back", PEAK - timedelta(days=3, hours=-10)),
        *(browse(f"x{d}", PEAK - timedelta(days=d)) for d in (3, 2, 1)),
        script("back", PEAK + timedelta(hours=20)),
        script("fresh", PEAK + timedelta(hours=20, minutes=1)),
    ]
    for rows in days:
        risk.observe(table(rows))
    assert risk.kept_events() == 4  # the peak day's two scripts (order, pay), nothing before it
    risk.tick(PEAK + timedelta(hours=20, minutes=5), None)  # the first tick: the clock starts
    risk.tick(PEAK + timedelta(hours=20, minutes=15), None)  # scored at 20:15
    flagged = set().union(*risk.flagged.values())
    assert flagged == {"fresh"}


def test_a_late_event_of_a_day_let_go_only_ages_its_account() -> None:
    # at 02:00 on the 11th the watch holds the 11th only (the 10th was scored at midnight); a
    # page view of the 10th that comes then is not kept, whatever it arrives with, but its
    # account is known from then on: what is kept is the rows from the cutoff, however batched
    risk = LiveRisk(campaign())
    risk.observe(table(browse("a", PEAK - timedelta(hours=2))))  # the 10th, 22:00
    risk.observe(table(browse("b", PEAK + timedelta(hours=2))))  # the 11th, 02:00
    assert risk.kept_events() == 1
    late = browse("late", PEAK - timedelta(hours=1)) + browse(
        "c", PEAK + timedelta(hours=2, minutes=5)
    )
    risk.observe(table(late))
    assert risk.kept_events() == 2  # b and c
    first = {r["user_id"]: r["first_seen"] for r in risk.ages.table().to_pylist()}
    assert first == {"a": PEAK - timedelta(hours=2), "late": PEAK - timedelta(hours=1)}


def test_account_ages_keep_the_earliest_sighting_and_survive_a_checkpoint() -> None:
    ages = AccountAges()
    ages.fold(table(browse("a", PEAK) + browse("b", PEAK + timedelta(hours=2))))
    ages.fold(table(browse("a", PEAK - timedelta(days=1))))  # a late event, earlier
    ages.add_known([("b", PEAK + timedelta(days=1)), ("c", datetime(2025, 1, 1, tzinfo=SHANGHAI))])
    first = {r["user_id"]: r["first_seen"] for r in ages.table().to_pylist()}
    assert first == {
        "a": PEAK - timedelta(days=1),
        "b": PEAK + timedelta(hours=2),  # the file's later time does not replace the event's
        "c": datetime(2025, 1, 1, tzinfo=SHANGHAI),
    }
    again = AccountAges()
    again.restore(ages.state())
    assert again.table().equals(ages.table()) and len(again) == 3


def test_the_customer_feed_takes_the_file_row_by_row(fed) -> None:  # noqa: F811
    client, monitor = fed
    answer = client.post(
        f"/api/monitor/{CID}/customers",
        json=[
            {"user_id": "c1", "first_purchase": "2024-03-08T21:14:00+08:00"},
            {"user_id": "c 2", "first_purchase": "2024-03-08T21:14:00+08:00"},  # a space
            {"user_id": "c3", "first_purchase": "2025-06-18 10:00:00"},  # naive: campaign time
            {"user_id": "c4", "first_purchase": "yesterday"},
        ],
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["reason"].split(":")[0]) for r in body["rejected"]] == [
        (1, "user_id"),
        (3, "first_purchase"),
    ]
    first = {r["user_id"]: r["first_seen"] for r in monitor.risk_feeds.ages.table().to_pylist()}
    assert first == {
        "c1": datetime(2024, 3, 8, 21, 14, tzinfo=SHANGHAI),
        "c3": datetime(2025, 6, 18, 10, tzinfo=SHANGHAI),
    }


def test_a_bad_row_of_a_customer_file_is_named_by_file_line_and_field(tmp_path) -> None:
    # `dacu monitor replay --customers`: the first bad line stops the replay before it starts
    path = tmp_path / "customers.csv"
    path.write_text(
        "user_id,first_purchase\nc1,2024-03-08 21:14:00\nc2,last spring\n", encoding="utf-8"
    )
    with pytest.raises(InputError) as error:
        read_items(path, CustomerItem)
    message = str(error.value)
    assert "customers.csv" in message and "3" in message and "first_purchase" in message
    with pytest.raises(InputError, match="no such file"):
        read_items(tmp_path / "missing.parquet", CustomerItem)


def _flagged_by_the_batch_score(args: list[str]) -> dict[str, str]:
    from typer.testing import CliRunner

    from dacu.cli import app
    from tests.conftest import ROOT

    campaign_file = ROOT / "examples" / "double11.yaml"
    command = ["analyze", "fraud", "score", "-c", str(campaign_file), *args, "--json"]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    return {r["user_id"]: r["reasons_zh"] for r in json.loads(result.output)["top"]}


def _peak_rush() -> pa.Table:
    rows = browse("x", PEAK - timedelta(days=2)) + script("loyal", PEAK + timedelta(hours=20))
    return table(rows + script("fresh", PEAK + timedelta(hours=20, minutes=1)))


def test_the_batch_score_takes_the_customer_file(tmp_path) -> None:
    # `dacu analyze fraud score --customers`: the same two flash-sale buyers as above; the file
    # is a CSV export whose 首购时间 has no zone (campaign time)
    events = tmp_path / "events.parquet"
    pq.write_table(_peak_rush(), events)
    customers = tmp_path / "customers.csv"
    customers.write_text("user_id,first_purchase\nloyal,2024-03-08 21:14:00\n", encoding="utf-8")

    blind = _flagged_by_the_batch_score(["-e", str(events)])
    assert set(blind) == {"loyal", "fresh"}
    known = _flagged_by_the_batch_score(["-e", str(events), "--customers", str(customers)])
    assert set(known) == {"fresh"} and "新号只买秒杀品" in known["fresh"]


def test_the_batch_score_of_the_warehouse_reads_its_customers_table(tmp_path) -> None:
    # `dacu import customers` then `dacu analyze fraud score -w`: no file to pass
    from dacu.warehouse.connect import open_warehouse

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    warehouse = open_warehouse(url)
    try:
        warehouse.append_events(_peak_rush())
        assert set(_flagged_by_the_batch_score(["-w", url])) == {"loyal", "fresh"}
        first = datetime(2024, 3, 8, 21, 14, tzinfo=SHANGHAI)
        warehouse.load_reference(
            "customers", pa.Table.from_pylist([{"user_id": "loyal", "first_purchase": first}])
        )
    finally:
        warehouse.close()
    assert set(_flagged_by_the_batch_score(["-w", url])) == {"fresh"}


def test_a_customer_file_time_without_a_zone_is_campaign_time() -> None:
    # 2026-11-11 00:30 in Shanghai is 2026-11-10 16:30 UTC; read as UTC it would be 8 h later
    customers = pa.table(
        {
            "user_id": [1001, 1002, 1003],  # ids exported as numbers
            "first_purchase": pa.array(
                [datetime(2026, 11, 11, 0, 30), None, datetime(2025, 1, 1, 8, 0)],
                pa.timestamp("us"),
            ),
        }
    )
    known = known_from_customers(customers, SHANGHAI).to_pylist()
    assert known == [
        {"user_id": "1001", "first_seen": datetime(2026, 11, 10, 16, 30, tzinfo=UTC)},
        {"user_id": "1003", "first_seen": datetime(2025, 1, 1, 0, 0, tzinfo=UTC)},
    ]


def test_the_batch_score_names_a_bad_line_of_the_customer_file(tmp_path) -> None:
    from typer.testing import CliRunner

    from dacu.cli import app
    from tests.conftest import ROOT

    events = tmp_path / "events.parquet"
    pq.write_table(_peak_rush(), events)
    customers = tmp_path / "customers.csv"
    customers.write_text("user_id,first_purchase\nloyal,2024-03-08\nx,last spring\n", "utf-8")
    campaign_file = str(ROOT / "examples" / "double11.yaml")
    args = ["analyze", "fraud", "score", "-c", campaign_file, "-e", str(events)]
    result = CliRunner().invoke(app, [*args, "--customers", str(customers)])
    assert result.exit_code != 0 and isinstance(result.exception, InputError)
    message = str(result.exception)  # the CLI prints it (dacu.cli's error handler)
    assert "customers.csv, line 3" in message and "first_purchase" in message
