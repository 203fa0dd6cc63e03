"""Tasks and peak-day rounds in the campaign file; `dacu init` writes today's defaults."""

from __future__ import annotations

from datetime import date

import pytest

from dacu.config import load_campaign, parse_campaign
from dacu.errors import ConfigError
from dacu.plan.timeline import DEFAULT_TASKS, ROUNDS, rounds, tasks, timeline_dict
from tests.conftest import ROOT
from tests.plan.cli_helper import run_cli

HEAD = """
id: d12
name: 双12
store: 店
phases:
  - {name: warmup, start: 2026-12-05 00:00, end: 2026-12-12 00:00}
  - {name: burst, start: 2026-12-12 00:00, end: 2026-12-13 00:00}
channels:
  - {id: ztc, name: 直通车, kind: search_ads}
  - {id: live, name: 店铺直播, kind: kol_live}
targets:
  - {metric: gmv, value: 100万}
"""


def test_init_writes_the_default_tasks_and_rounds(tmp_path):
    result = run_cli(["init", str(tmp_path / "c.yaml")])
    assert result.exit_code == 0, result.output
    campaign = load_campaign(tmp_path / "c.yaml")
    written = [(t.team, t.task, t.name, t.due) for t in campaign.tasks]
    assert written == [(team, zh, en, off) for team, zh, en, off in DEFAULT_TASKS]
    ids = {c.id: c.kind for c in campaign.channels}
    expected = [(s, e, [c for c in ids if ids[c] in kinds], note) for s, e, kinds, note in ROUNDS]
    assert [(r.start, r.end, r.channels, r.action) for r in campaign.rounds] == expected


def test_default_rounds_name_only_the_campaigns_channels():
    for name in ("double11.yaml", "double12.yaml"):
        campaign = load_campaign(ROOT / "examples" / name)
        ids = {c.id for c in campaign.channels}
        for r in rounds(campaign):
            assert set(r.channels) <= ids, (name, r.note)
    small = parse_campaign(HEAD, source="d12.yaml")
    named = {ch for r in rounds(small) for ch in r.channels}
    assert named == {"ztc", "live"}  # no 'push', 'sms' or 'private' it does not have
    morning = next(r for r in rounds(small) if r.start.hour == 9)
    assert morning.channels == ()  # private/push/sms only: none in this campaign


def test_tasks_and_rounds_from_the_file():
    campaign = parse_campaign(
        HEAD
        + """
tasks:
  - {team: operations, task: 报名双12, due: -10, owner: 小李}
  - {team: tech, task: 压测, due: 2026-12-08, owner: 老王, status: done}
rounds:
  - {start: 20, end: 22, channels: [live], action: 晚场直播}
""",
        source="d12.yaml",
    )
    made = tasks(campaign)
    assert [(t.name_zh, t.due, t.offset, t.owner, t.status) for t in made] == [
        ("报名双12", date(2026, 12, 2), -10, "小李", "todo"),
        ("压测", date(2026, 12, 8), -4, "老王", "done"),
    ]
    (only,) = rounds(campaign)
    assert only.start.isoformat() == "2026-12-12T20:00:00+08:00" and only.channels == ("live",)
    timeline = timeline_dict(campaign)
    assert timeline["tasks"][1]["owner"] == "老王" and timeline["tasks"][1]["when"] == "D-4"


def test_a_round_naming_another_campaigns_channel_is_refused_with_its_line():
    text = HEAD + "rounds:\n  - {start: 10, end: 11, channels: [display_ads], action: 加价}\n"
    with pytest.raises(ConfigError, match=r"rounds\[0\]\.channels: 'display_ads' is not one"):
        parse_campaign(text, source="d12.yaml")
    with pytest.raises(
        ConfigError, match=r"rounds\[0\]\.end: not after rounds\[0\]\.start \(line 14\)"
    ):
        parse_campaign(HEAD + "rounds:\n  - {start: 11, end: 10, action: x}\n", source="d.yaml")


def _dacu(*args: str):
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "dacu.cli", *args], capture_output=True, text=True, env=env
    )


def test_missing_inputs_are_one_line_errors_not_tracebacks(tmp_path):
    path = tmp_path / "c.yaml"
    out = str(tmp_path / "o")
    path.write_text(HEAD.replace("targets:\n  - {metric: gmv, value: 100万}\n", ""), "utf-8")
    result = _dacu("plan", "build", "--campaign", str(path), "--out", out)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: targets: no GMV target" in result.stderr
    path.write_text(HEAD.replace("value: 100万}", 'value: "+20%"}'), "utf-8")
    result = _dacu("plan", "build", "--campaign", str(path), "--out", out)
    assert result.returncode == 2 and "targets[0].of: last_year" in result.stderr
    result = _dacu("plan", "import", str(tmp_path / "none.xlsx"), "--plan", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "none.xlsx" in result.stderr and "no such workbook" in result.stderr
    (tmp_path / "plan.xlsx").write_bytes(b"PK")
    result = _dacu("plan", "import", str(tmp_path / "plan.xlsx"), "--plan", str(path))
    assert result.returncode == 2 and "not a plan.json" in result.stderr
