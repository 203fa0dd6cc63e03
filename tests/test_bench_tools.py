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

    def __call__(self, args: list, check: bool = False) -> None:
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
    assert "unknown peer(s) wrk (have: oscar, pymc)" in capsys.readouterr().err


@pytest.mark.parametrize("script", ["promo.py", "plan.py"])
def test_the_benchmarks_use_the_peer_venvs(script: str) -> None:
    source = (ROOT / "benchmarks" / script).read_text(encoding="utf-8")
    assert "peer_python(" in source and "/tmp/" not in source
