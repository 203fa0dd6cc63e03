"""The `dacu import` and `dacu kpi` commands, run as a user would."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from dacu.metrics.commands import register as register_kpi
from dacu.warehouse.commands import register as register_import

FULL9 = "taobao_userbehavior/userbehavior_first43users_full9days.csv"


def _app() -> typer.Typer:
    app = typer.Typer()
    register_import(app)
    register_kpi(app)
    return app


def test_import_then_kpi_json(tmp_path, shared_data):
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    runner = CliRunner()
    first = runner.invoke(_app(), ["import", "taobao", str(shared_data / FULL9), "-w", url])
    assert first.exit_code == 0, first.output
    assert "4,321 rows read, 4,398 added, 0 already stored" in first.output
    again = runner.invoke(_app(), ["import", "taobao", str(shared_data / FULL9), "-w", url])
    assert "0 added, 4,398 already stored" in again.output
    out = runner.invoke(_app(), ["kpi", "--by", "", "-w", url, "--format", "json"])
    assert out.exit_code == 0, out.output
    total = json.loads(out.output)[0]
    assert (total["pv"], total["paid_orders"]) == (3926, 77)  # README: pv 3,926 / buy 77


def test_kpi_window_and_csv(tmp_path, shared_data):
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    runner = CliRunner()
    runner.invoke(_app(), ["import", "taobao", str(shared_data / FULL9), "-w", url])
    out = runner.invoke(
        _app(),
        [
            "kpi",
            "--by",
            "day",
            "--from",
            "2017-11-25",
            "--to",
            "2017-11-27",
            "-w",
            url,
            "-f",
            "csv",
        ],
    )
    lines = out.output.strip().splitlines()
    assert lines[0].startswith("day,gmv_fen,") and len(lines) == 3  # header + 2 China days
    assert [line.split(",")[0] for line in lines[1:]] == ["2017-11-25", "2017-11-26"]


def test_skip_bad_rows_from_the_command_line(tmp_path):
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    path = tmp_path / "ub.csv"
    path.write_text("1,10,100,pv,1511544070\n1,10,100,look,1511544071\n", encoding="utf-8")
    runner = CliRunner()
    failed = runner.invoke(_app(), ["import", "taobao", str(path), "-w", url])
    assert failed.exit_code != 0
    assert "line 2, column 'behavior_type': unknown behavior 'look'" in str(failed.exception)
    ok = runner.invoke(_app(), ["import", "taobao", str(path), "-w", url, "--skip-bad-rows"])
    assert ok.exit_code == 0, ok.output
    assert "1 bad rows skipped" in ok.output and (tmp_path / "ub.csv.rejects.csv").exists()
