"""`dacu sim` on the command line: help that teaches, a small run, errors in one line."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from dacu.sim.commands import register
from tests.conftest import ROOT

CAMPAIGN = str(ROOT / "examples" / "double11.yaml")


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """dacu"""

    register(app)
    return app


def test_help_explains_with_examples():
    result = CliRunner().invoke(_app(), ["sim", "--help"], terminal_width=120)
    assert result.exit_code == 0
    assert "dacu sim --campaign examples/double11.yaml --out sim/" in result.output
    assert "--incident" in result.output and "--replay" in result.output


def test_small_run_writes_files_and_truth(tmp_path):
    out = tmp_path / "sim"
    result = CliRunner().invoke(_app(), [
        "sim", "--campaign", CAMPAIGN, "--out", str(out), "--scale", "0.01",
        "--history-days", "30", "--seed", "5", "--incident", "traffic_drop@10:00:display_ads",
        "--incident", "coupon_bot@02:00"], terminal_width=120)
    assert result.exit_code == 0, result.output
    for name in ("events", "spend", "skus", "customers"):
        assert (out / f"{name}.parquet").stat().st_size > 0
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert [i["kind"] for i in truth["incidents"]] == ["traffic_drop", "coupon_bot"]
    assert truth["window"]["history_days"] == 30 and truth["seed"] == 5
    assert "events; store_fraction" in result.output


def test_bad_incident_is_one_clear_error(tmp_path):
    from dacu.errors import ConfigError

    result = CliRunner().invoke(_app(), ["sim", "--campaign", CAMPAIGN, "--out",
                                         str(tmp_path), "--incident", "pay_failure@20:00:tv"])
    assert isinstance(result.exception, ConfigError)
    assert "unknown target 'tv' for pay_failure" in str(result.exception)
