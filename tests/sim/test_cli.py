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
    assert "dacu sim -c examples/double11.yaml --out sim/" in result.output
    assert "--incident" in result.output and "--replay" in result.output


def test_small_run_writes_files_and_truth(tmp_path):
    out = tmp_path / "sim"
    result = CliRunner().invoke(
        _app(),
        [
            "sim",
            "--campaign",
            CAMPAIGN,
            "--out",
            str(out),
            "--scale",
            "0.01",
            "--history-days",
            "30",
            "--seed",
            "5",
            "--incident",
            "traffic_drop@10:00:display_ads",
            "--incident",
            "coupon_bot@02:00",
        ],
        terminal_width=120,
    )
    assert result.exit_code == 0, result.output
    for name in ("events", "spend", "skus", "customers"):
        assert (out / f"{name}.parquet").stat().st_size > 0
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert [i["kind"] for i in truth["incidents"]] == ["traffic_drop", "coupon_bot"]
    assert truth["window"]["history_days"] == 30 and truth["seed"] == 5
    assert "events; store_fraction" in result.output


def test_bad_incident_is_one_clear_error(tmp_path):
    from dacu.errors import ConfigError

    result = CliRunner().invoke(
        _app(),
        [
            "sim",
            "--campaign",
            CAMPAIGN,
            "--out",
            str(tmp_path),
            "--incident",
            "pay_failure@20:00:tv",
        ],
    )
    assert isinstance(result.exception, ConfigError)
    assert "unknown target 'tv' for pay_failure" in str(result.exception)


def test_sim_then_replay_to_a_local_collector(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(
                (
                    self.headers.get("Authorization"),
                    json.loads(self.rfile.read(int(self.headers["Content-Length"]))),
                )
            )
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/events"
        result = CliRunner().invoke(
            _app(),
            [
                "sim",
                "-c",
                CAMPAIGN,
                "--out",
                str(tmp_path),
                "--scale",
                "0.01",
                "--history-days",
                "3",
                "--no-incidents",
                "--replay",
                url,
                "--speed",
                "0",
                "--key",
                "k1",
                "--batch",
                "40",
                "--max-events",
                "100",
                "--from",
                "2026-11-11T20:00",
            ],
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    assert [len(batch) for _, batch in got] == [40, 40, 20]
    assert {auth for auth, _ in got} == {"Bearer k1"}
    assert got[0][1][0]["ts"] >= "2026-11-11T12:00:00+00:00"  # 20:00 in Shanghai
    assert "store_fraction" in result.output  # simulated first


def test_replay_reuses_a_folder_that_holds_the_same_world(tmp_path, monkeypatch):
    from dacu.sim import commands

    args = [
        "sim",
        "-c",
        CAMPAIGN,
        "--out",
        str(tmp_path),
        "--scale",
        "0.01",
        "--history-days",
        "3",
        "--no-incidents",
    ]
    assert CliRunner().invoke(_app(), args).exit_code == 0
    sent: list = []
    monkeypatch.setattr(commands, "_replay", lambda *a, **k: sent.append(a[2]))
    again = CliRunner().invoke(_app(), [*args, "--replay", "http://collector/api/events"])
    assert again.exit_code == 0, again.output
    assert "already holds this world" in again.output and sent == ["http://collector/api/events"]
