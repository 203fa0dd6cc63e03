"""The benchmark tooling anyone reruns: BENCHMARKS.md sections state the machine load, and the
peers that need their own environment are set up under .bench/ (no network needed here: pip and
venv are replaced by a recorder; `make bench` runs the real ones)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import _peers
import _record


def test_a_section_states_the_load_at_start_and_end(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_record, "BENCHMARKS_MD", tmp_path / "BENCHMARKS.md")
    monkeypatch.setattr(_record, "LOAD_AT_START", (1.5, 0.25, 3.0))
    monkeypatch.setattr(os, "getloadavg", lambda: (2.0, 1.125, 0.5))
    _record.record("demo", "| a |\n|---|\n| 1 |")
    text = (tmp_path / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert (
        "load average (1 / 5 / 15 min) 1.50 / 0.25 / 3.00 at start, 2.00 / 1.12 / 0.50 at end"
        in (text)
    )
    _record.record("other", "x")
    _record.record("demo", "y")  # rerun: replaces its own section only
    text = (tmp_path / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert text.count("<!-- bench:demo -->") == 1 and "| 1 |" not in text
    assert "<!-- bench:other -->" in text


class _Recorder:
    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, args: list, check: bool = False, **_: object) -> None:
        args = [str(a) for a in args]
        self.calls.append(args)
        if self.fail_on and self.fail_on in args:
            raise subprocess.CalledProcessError(1, args)
        if args[1:3] == ["-m", "venv"]:  # what `python -m venv DIR` leaves behind
            python = Path(args[-1]) / "bin" / "python"
            python.parent.mkdir(parents=True, exist_ok=True)
            python.touch()


def test_a_peer_is_set_up_once_from_its_requirements(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_peers, "BENCH", tmp_path)
    recorder = _Recorder()
    monkeypatch.setattr(subprocess, "run", recorder)
    python = _peers.peer_python("oscar")
    assert python == tmp_path / "oscar-venv" / "bin" / "python"
    venv, pip = recorder.calls
    assert venv[1:4] == ["-m", "venv", "--clear"] and venv[-1] == str(tmp_path / "oscar-venv")
    assert pip[:4] == [str(python), "-m", "pip", "install"]
    assert set(_peers.PEERS["oscar"]) <= set(pip)
    assert _peers.peer_python("oscar") == python  # second time: nothing installed again
    assert len(recorder.calls) == 2


def test_a_changed_requirement_rebuilds_the_peer(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_peers, "BENCH", tmp_path)
    recorder = _Recorder()
    monkeypatch.setattr(subprocess, "run", recorder)
    _peers.peer_python("pymc")
    monkeypatch.setitem(_peers.PEERS, "pymc", ["pymc-marketing>=99"])
    _peers.peer_python("pymc")
    assert len(recorder.calls) == 4 and "pymc-marketing>=99" in recorder.calls[-1]


def test_a_failed_set_up_is_reported_not_claimed(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(_peers, "BENCH", tmp_path)
    monkeypatch.setattr(subprocess, "run", _Recorder(fail_on="install"))
    assert _peers.peer_python("oscar") is None
    assert "peer 'oscar' NOT set up" in capsys.readouterr().err
    assert not (tmp_path / "oscar-venv" / "dacu-requirements.txt").exists()  # retried next time
    assert _peers.main(["oscar"]) == 1


def test_an_unknown_peer_is_named(capsys) -> None:
    assert _peers.main(["wrk"]) == 2
    assert "unknown peer(s) wrk (have: oscar, pymc, tools)" in capsys.readouterr().err


def _only(monkeypatch, *programs: str) -> None:
    """`shutil.which` finds these programs only."""
    monkeypatch.setattr(
        _peers.shutil, "which", lambda p: f"/usr/bin/{p}" if p in programs else None
    )


def test_missing_programs_are_installed_from_the_system_packages(monkeypatch) -> None:
    _only(monkeypatch, "apt-get", "redis-server")
    monkeypatch.setattr(_peers.os, "geteuid", lambda: 0)
    monkeypatch.setattr(_peers, "_redis_answers", lambda: True)
    recorder = _Recorder()
    monkeypatch.setattr(subprocess, "run", recorder)
    assert _peers.setup_tools()
    update, install = recorder.calls
    assert update[:2] == ["apt-get", "update"]
    # wrk and redis-benchmark are missing: their packages, nothing else
    assert install[:3] == ["apt-get", "install", "-y"] and install[-2:] == ["redis-tools", "wrk"]


def test_without_root_the_command_to_run_is_printed(monkeypatch, capsys) -> None:
    _only(monkeypatch, "apt-get", "redis-server", "redis-benchmark")
    monkeypatch.setattr(_peers.os, "geteuid", lambda: 1000)
    recorder = _Recorder()
    monkeypatch.setattr(subprocess, "run", recorder)
    assert not _peers.setup_tools()
    assert "tools NOT set up: run `sudo apt-get install" in capsys.readouterr().err
    assert recorder.calls == []  # nothing run without root


def test_a_redis_server_is_started_when_none_answers(monkeypatch) -> None:
    _only(monkeypatch, *_peers.TOOLS)
    answers = iter([False, False, True])  # not up; still starting; up
    monkeypatch.setattr(_peers, "_redis_answers", lambda: next(answers))
    monkeypatch.setattr(_peers.time, "sleep", lambda s: None)
    recorder = _Recorder()
    monkeypatch.setattr(subprocess, "run", recorder)
    assert _peers.setup_tools()
    (start,) = recorder.calls
    assert start[:3] == ["redis-server", "--daemonize", "yes"] and "6379" in start


def test_every_program_a_benchmark_runs_is_a_tool_make_bench_sets_up() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "bench: bench-peers" in makefile and "benchmarks/_peers.py" in makefile
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        source = script.read_text(encoding="utf-8")
        for program in ("wrk", "redis-benchmark", "redis-server", "ab", "hey", "k6", "locust"):
            if f'"{program}"' in source and script.name != "_peers.py":
                assert program in _peers.TOOLS, (script.name, program)


def test_bench_all_runs_every_benchmark_and_names_the_failed_ones(
    tmp_path: Path, monkeypatch
) -> None:
    import dacu.cli as cli

    folder = tmp_path / "benchmarks"
    folder.mkdir()
    (folder / "a.py").write_text("raise SystemExit('wrk not found')\n", encoding="utf-8")
    (folder / "b.py").write_text("open('b-ran', 'w').close()\n", encoding="utf-8")
    (folder / "_helper.py").write_text("raise SystemExit(9)\n", encoding="utf-8")  # not a benchmark
    monkeypatch.setattr(cli, "_repo_root", lambda: tmp_path)
    with pytest.raises(cli.DacuError, match=r"benchmark\(s\) failed: a \(exit 1\)$"):
        cli.bench("all")
    assert (tmp_path / "b-ran").exists()  # a's failure did not stop b
    with pytest.raises(cli.DacuError, match="no benchmark 'c' \\(have: a, b\\)"):
        cli.bench("c")


@pytest.mark.parametrize("script", ["promo.py", "plan.py"])
def test_the_benchmarks_use_the_peer_venvs(script: str) -> None:
    source = (ROOT / "benchmarks" / script).read_text(encoding="utf-8")
    assert "peer_python(" in source and "/tmp/" not in source
