"""The campaign as an Excel workbook (`dacu init --xlsx`): round trip to the YAML, and a wrong
cell named by sheet and row with `dacu check`'s message."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from dacu.config import parse_campaign
from dacu.config_xlsx import load_campaign_xlsx, write_template
from dacu.errors import ConfigError


def test_the_template_is_a_valid_campaign(tmp_path: Path) -> None:
    text, campaign = load_campaign_xlsx(write_template(tmp_path / "c.xlsx"))
    assert parse_campaign(text) == campaign  # the YAML it makes is the source of truth
    assert [p.phase.value for p in campaign.phases] == ["warmup", "burst", "wrapup"]
    assert campaign.target("gmv").value == 3_000_000_000  # 3000万 yuan, in fen
    assert campaign.target("gmv", phase="burst").value == 1_500_000_000
    assert campaign.budget.total == 300_000_000 and campaign.budget.lines[0].amount == 120_000_000
    assert campaign.channels[0].name == "直通车"


def test_a_wrong_cell_is_named_by_sheet_and_row(tmp_path: Path) -> None:
    path = write_template(tmp_path / "c.xlsx")
    book = openpyxl.load_workbook(path)
    book["阶段 phases"]["C3"] = datetime(2026, 11, 10, 0, 0)  # burst ends before it starts
    book["目标 targets"]["B3"] = "很多"
    book.save(path)
    with pytest.raises(ConfigError) as caught:
        load_campaign_xlsx(path)
    message = str(caught.value)
    assert "c.xlsx, sheet '阶段 phases', row 3: phases[1].end: before phases[1].start" in message
    book["阶段 phases"]["C3"] = "2026-11-12 00:00"
    book.save(path)
    with pytest.raises(ConfigError, match=r"c\.xlsx, sheet '目标 targets', row 3: targets\[1\]"):
        load_campaign_xlsx(path)
