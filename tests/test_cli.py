"""The command line as a user meets it: help, init → check, and errors as one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def dacu(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dacu.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_help_teaches_the_typical_day() -> None:
    result = dacu("--help")
    assert result.returncode == 0
    assert "dacu plan build --campaign examples/double11.yaml" in result.stdout


def test_init_writes_a_file_that_checks(tmp_path: Path) -> None:
    target = tmp_path / "c.yaml"
    assert dacu("init", str(target)).returncode == 0
    checked = dacu("check", str(target))
    assert checked.returncode == 0, checked.stderr
    assert "爆发期 burst" in checked.stdout
    again = dacu("init", str(target))
    assert again.returncode == 2
    assert "exists already (use --force to overwrite)" in again.stderr


def test_bad_campaign_is_one_line_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nname: y\nstore: z\nphases: []\n", encoding="utf-8")
    result = dacu("check", str(bad))
    assert result.returncode == 2
    assert "phases: at least one phase is needed" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_listed_stage_command_exists() -> None:
    """The menu in cli.py names each stage's commands without importing them; each must be real."""
    from dacu.cli import STAGE_COMMANDS, _available, _LazyStageCommand, click

    for name, (module, short_help) in STAGE_COMMANDS.items():
        if not _available(name):
            continue
        command = _LazyStageCommand(name, module, short_help).real()
        assert isinstance(command, click.Command), name


def test_usage_errors_say_what_is_wrong() -> None:
    result = dacu("check")
    assert result.returncode == 2
    assert "Missing argument 'path'" in result.stderr
