"""The README's "A short tour", run line by line as a new user would, in a fresh folder.

The lines are read from README.md itself, so the README cannot drift from what works. Only two
things differ from a person typing them: `source .venv/bin/activate` is replaced by running this
interpreter's `dacu`, `dacu serve` (which never returns) is checked through `dacu serve --help`,
and the simulation runs at a smaller `--scale` to keep the test short.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL_SCALE = "0.02"


def tour_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A short tour", 1)[1]
    block = re.search(r"```\n(.*?)```", section, re.S)
    assert block, "README's tour has no code block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_says_how_to_get_dacu_on_the_path() -> None:
    lines = tour_lines()
    assert lines[0] == "source .venv/bin/activate"
    assert all(line.startswith("dacu ") for line in lines[1:])
    assert ".venv/bin/dacu" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_readme_tour_runs_as_written(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DACU_")}
    env |= {"PYTHONPATH": str(ROOT / "src"), "COLUMNS": "120"}
    outputs = {}
    for line in tour_lines()[1:]:
        args = shlex.split(line)[1:]
        if args == ["serve"]:
            args = ["serve", "--help"]
        if "--scale" in args:
            args[args.index("--scale") + 1] = SMALL_SCALE
        done = subprocess.run(
            [sys.executable, "-m", "dacu.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"$ {line}\n{done.stdout}\n{done.stderr}"
        outputs[line] = done.stdout
    for written in (
        "campaign.yaml",
        "sim/events.parquet",
        "dacu.duckdb",
        "plan/plan.json",
        "plan/plan.xlsx",
        "review/review.pptx",
    ):
        assert (tmp_path / written).exists(), written
    by_phase = next(out for line, out in outputs.items() if "--by phase" in line)
    # names from the campaign file, phases in campaign order, then the total row
    assert by_phase.index("预热蓄水") < by_phase.index("双11当天") < by_phase.index("返场清仓")
    assert "直通车" in by_phase and "search_ads" not in by_phase and "合计 total" in by_phase
    targets = next(out for line, out in outputs.items() if "--targets" in line)
    assert "¥3,000.00万" in targets and "达成" in targets
    assert "应付" in next(out for line, out in outputs.items() if line.startswith("dacu quote"))
