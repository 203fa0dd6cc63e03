"""`dacu monitor replay` on the command line: events through the live monitor, with the
campaign's coupon store read for the coupon watch."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
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
