"""`dacu monitor replay` on the command line: events through the live monitor, with the
campaign's coupon store read for the coupon watch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from dacu.cli import app
from dacu.config import load_campaign
from dacu.flash.guards import Who
from dacu.flash.loading import load_flash
from dacu.flash.open import open_store
from tests.conftest import ROOT
from tests.monitor import simworld

EXAMPLE = ROOT / "examples" / "double11.yaml"
PEAK = datetime(2026, 11, 11, 20, tzinfo=timezone(timedelta(hours=8)))


def test_replay_reads_the_coupon_store_it_is_given(tmp_path: Path) -> None:
    # 3 customers claim store-coupon-20 during the campaign, one of them twice (refused: one per
    # customer): the replay's coupon line counts 3 issued, 0 redeemed, 1 refused.
    url = f"sqlite:///{tmp_path / 'flash.sqlite'}"
    store = open_store(url, load_flash(load_campaign(EXAMPLE)), clock=lambda: PEAK.timestamp())
    outcomes = [
        store.claim("store-coupon-20", Who(c), key=f"k{n}").ok
        for n, c in enumerate(["u1", "u2", "u3", "u1"])
    ]
    store.close()
    assert outcomes == [True, True, True, False]
    events = tmp_path / "events.parquet"
    pq.write_table(simworld.events(np.random.default_rng(5), 200, PEAK, minutes=10).events, events)
    result = CliRunner().invoke(
        app,
        [
            "monitor",
            "replay",
            "-c",
            str(EXAMPLE),
            "-e",
            str(events),
            "--out",
            str(tmp_path / "mon"),
            "--store",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        "领券 coupon store-coupon-20: 发放 issued 3, 核销 redeemed 0, 拒绝 refused 1"
        in result.output
    )
    without = CliRunner().invoke(
        app,
        [
            "monitor",
            "replay",
            "-c",
            str(EXAMPLE),
            "-e",
            str(events),
            "--out",
            str(tmp_path / "mon2"),
        ],
    )
    assert without.exit_code == 0 and "领券 coupon" not in without.output


def test_replay_with_a_wrong_store_url_says_what_it_expected_and_writes_nothing(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.parquet"
    pq.write_table(simworld.events(np.random.default_rng(6), 50, PEAK, minutes=5).events, events)
    result = CliRunner().invoke(
        app,
        [
            "monitor",
            "replay",
            "-c",
            str(EXAMPLE),
            "-e",
            str(events),
            "--out",
            str(tmp_path / "mon"),
            "--store",
            "nonsense://x",
        ],
    )
    assert result.exit_code != 0
    assert "store URL 'nonsense://x': expected sqlite:///path or redis://host:port/db" in str(
        result.exception
    )  # the CLI prints it as "error: …", exit 2
    assert not (tmp_path / "mon").exists()


REPLAY_CAMPAIGN = """
id: replay-test
name: 回放测试
store: 测试店
phases:
  - {name: warmup, start: 2026-11-10 00:00, end: 2026-11-11 00:00}
  - {name: burst,  start: 2026-11-11 00:00, end: 2026-11-12 00:00}
alerts:
  - {id: asp-floor, name: 客单价低于1000元, metric: asp, below: 1000, window: 10m}
"""


def test_replay_until_writes_the_alert_log_the_review_reads(tmp_path: Path) -> None:
    """`--since 20:00 --until 20:30` replays that half hour only (the hour before is loaded
    without alerts), and OUT/alerts.json holds its alerts: the command the demo prints does what
    the demo did. A second run into the same folder gives the same log (not 'all duplicates')."""
    import json

    import pyarrow.compute as pc

    campaign = tmp_path / "c.yaml"
    campaign.write_text(REPLAY_CAMPAIGN, encoding="utf-8")
    rng = np.random.default_rng(16)
    start = PEAK - timedelta(hours=1)  # 19:00–21:00 of events
    table = simworld.events(rng, 3000, start, minutes=120).events
    events = tmp_path / "events.parquet"
    pq.write_table(table, events)
    since, until = PEAK, PEAK + timedelta(minutes=30)
    inside = pc.and_(
        pc.greater_equal(table["ts"], since.astimezone(UTC)),
        pc.less(table["ts"], until.astimezone(UTC)),
    )
    expected = pc.sum(inside).as_py()
    args = [
        "monitor",
        "replay",
        "-c",
        str(campaign),
        "-e",
        str(events),
        "--since",
        "2026-11-11T20:00",
        "--until",
        "2026-11-11T20:30",
        "--step",
        "1m",
        "--out",
        str(tmp_path / "mon"),
    ]
    logs = []
    for _ in range(2):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert f"replayed {expected:,} events" in result.output
        logs.append(json.loads((tmp_path / "mon" / "alerts.json").read_text(encoding="utf-8")))
    alerts = logs[0]
    # simworld's ASPs are ¥150–¥650 per category: an hour's ASP is below ¥1,000 from the start
    assert [a["rule_id"] for a in alerts] == ["asp-floor"]
    opened = datetime.fromisoformat(alerts[0]["opened_at"])
    assert since <= opened < until
    assert "阈值 < ¥1,000.00" in alerts[0]["message"]
    assert [(a["rule_id"], a["opened_at"]) for a in logs[1]] == [
        (a["rule_id"], a["opened_at"]) for a in alerts
    ]


def test_replay_refuses_an_until_before_since(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "monitor",
            "replay",
            "-c",
            str(EXAMPLE),
            "-e",
            str(tmp_path / "none.parquet"),
            "--since",
            "2026-11-11T20:00",
            "--until",
            "2026-11-11T19:00",
        ],
    )
    assert result.exit_code != 0
    assert "--until 2026-11-11T19:00: must be after --since" in str(result.exception)


YOY_CAMPAIGN = """
id: yoy-test
name: 同比测试
store: 测试店
phases:
  - {name: burst,  start: 2026-11-11 00:00, end: 2026-11-12 00:00}
alerts:
  - {id: yoy, name: 支付金额低于去年同期70%, metric: paid_gmv, compare: last_year, below: 70%,
     window: 1h, every: 10m}
"""


def test_a_last_year_rule_fires_in_replay_because_history_is_loaded(tmp_path: Path) -> None:
    """Defect: `compare: last_year` could not fire in replay (only the campaign window was
    loaded). Last year's 19:00–21:00 had 3,000 visitors, this year's 1,000: paid GMV is about a
    third of last year's, below 70% → the alert; without the history (--no-history) there is
    nothing to compare with and no alert."""
    import json

    import pyarrow as pa

    campaign = tmp_path / "c.yaml"
    campaign.write_text(YOY_CAMPAIGN, encoding="utf-8")
    rng = np.random.default_rng(20)
    start = PEAK - timedelta(hours=1)
    last_year = simworld.events(rng, 3000, start - timedelta(days=364), minutes=120, prefix="l")
    now = simworld.events(rng, 1000, start, minutes=120, prefix="n")
    events = tmp_path / "events.parquet"
    pq.write_table(pa.concat_tables([last_year.events, now.events]), events)
    logs = {}
    for flag in ("--history", "--no-history"):
        out = tmp_path / flag.strip("-")
        result = CliRunner().invoke(
            app,
            [
                "monitor",
                "replay",
                "-c",
                str(campaign),
                "-e",
                str(events),
                "--since",
                "2026-11-11T19:30",
                "--until",
                "2026-11-11T21:00",
                "--step",
                "1m",
                flag,
                "--out",
                str(out),
            ],
        )
        assert result.exit_code == 0, result.output
        logs[flag] = json.loads((out / "alerts.json").read_text(encoding="utf-8"))
    from tests.monitor.test_live import RISK_RULES  # the risk feeds' own alerts (fraud) aside

    rules = {
        flag: [a["rule_id"] for a in log if a["rule_id"] not in RISK_RULES]
        for flag, log in logs.items()
    }
    assert rules["--history"] == ["yoy"]
    assert rules["--no-history"] == []


def test_history_spans_cover_last_year_and_the_baseline_days() -> None:
    from dacu.monitor.replay import history_spans
    from dacu.monitor.rules import AlertRule

    rules = [
        AlertRule.model_validate(
            {"id": "y", "metric": "gmv", "compare": "last_year", "below": 0.8}
        ),
        AlertRule.model_validate({"id": "b", "metric": "cvr", "compare": "baseline", "below": 0.9}),
    ]
    campaign_start = datetime(2026, 11, 1, tzinfo=PEAK.tzinfo)
    since, until = (
        datetime(2026, 11, 3, tzinfo=PEAK.tzinfo),
        datetime(2026, 11, 4, tzinfo=PEAK.tzinfo),
    )
    hour = timedelta(hours=1)
    assert history_spans(rules, since, until, campaign_start) == [
        (since - timedelta(days=364) - hour, until - timedelta(days=364)),  # last year
        (since - timedelta(days=7) - hour, campaign_start),  # baseline days before the start
    ]


STOCK_CAMPAIGN = """
id: stock-test
name: 库存回放测试
store: 测试店
phases:
  - {name: warmup, start: 2026-11-10 00:00, end: 2026-11-11 00:00}
  - {name: burst,  start: 2026-11-11 00:00, end: 2026-11-12 00:00}
alerts:
  - {id: stock-1h, name: 爆款预计1小时内断货, metric: stock_hours, by: sku_id, compare: absolute,
     below: 1, every: 1m}
"""


def test_replay_feeds_the_stock_counts_it_is_given(tmp_path: Path) -> None:
    """`--stock stock.csv` (as `dacu sim` writes it): a SKU counted 0 at 20:10 is alerted at
    0 hours to stock-out from that minute; the same replay without the file says nothing of it
    (the SKU table lists 100,000 of each). A bad line is refused with its file, line and field."""
    import json

    campaign = tmp_path / "c.yaml"
    campaign.write_text(STOCK_CAMPAIGN, encoding="utf-8")
    table = simworld.events(np.random.default_rng(7), 3000, PEAK - timedelta(hours=1), minutes=120)
    pq.write_table(table.events, tmp_path / "events.parquet")
    skus = [
        {"sku_id": f"SKU-{c}", "category": c, "price_fen": 10_000, "stock": 100_000}
        for c in simworld.CATEGORIES
    ]
    pq.write_table(pa.Table.from_pylist(skus), tmp_path / "skus.parquet")
    (tmp_path / "stock.csv").write_text(
        "sku_id,stock,at\nSKU-makeup,0,2026-11-11T20:10\n", encoding="utf-8"
    )

    def replay(*extra: str) -> list[dict]:
        args = ["monitor", "replay", "-c", str(campaign), "-e", str(tmp_path / "events.parquet")]
        args += ["--skus", str(tmp_path / "skus.parquet"), "--since", "2026-11-11T20:00"]
        args += ["--until", "2026-11-11T20:30", "--step", "1m", "--out", str(tmp_path / "m")]
        result = CliRunner().invoke(app, [*args, *extra])
        assert result.exit_code == 0, result.output
        return json.loads((tmp_path / "m" / "alerts.json").read_text(encoding="utf-8"))

    assert replay() == []
    [alert] = replay("--stock", str(tmp_path / "stock.csv"))
    assert (alert["rule_id"], alert["dimension"], alert["value"]) == (
        "stock-1h",
        "sku_id=SKU-makeup",
        0,
    )
    opened = datetime.fromisoformat(alert["opened_at"])
    assert PEAK + timedelta(minutes=10) <= opened <= PEAK + timedelta(minutes=12)

    (tmp_path / "stock.csv").write_text("sku_id,stock,at\nSKU-makeup,-3,2026-11-11T20:10\n")
    args = ["monitor", "replay", "-c", str(campaign), "-e", str(tmp_path / "events.parquet")]
    result = CliRunner().invoke(app, [*args, "--stock", str(tmp_path / "stock.csv")])
    assert result.exit_code != 0
    assert f"{tmp_path / 'stock.csv'}, line 2, column 'stock'" in str(result.exception)
