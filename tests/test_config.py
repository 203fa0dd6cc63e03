"""The campaign file: examples are valid, and a wrong file names the key path, line and reason."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dacu.config import Phase, load_campaign, parse_campaign
from dacu.errors import ConfigError

SHANGHAI = ZoneInfo("Asia/Shanghai")

MINIMAL = """\
id: t1
name: test
store: 测试店
phases:
  - name: warmup
    start: 2026-10-27 00:00
    end: 2026-11-11 00:00
  - name: burst
    start: 2026-11-11 00:00
    end: 2026-11-12 00:00
channels:
  - {id: search_ads, kind: search_ads}
targets:
  - {metric: gmv, value: 1.2亿}
  - {metric: cvr, value: "4.5%"}
"""


@pytest.mark.parametrize("name", ["double11.yaml", "double12.yaml"])
def test_examples_are_valid(examples_dir: Path, name: str) -> None:
    campaign = load_campaign(examples_dir / name)
    assert [p.phase for p in campaign.phases] == list(Phase)
    assert campaign.timezone == "Asia/Shanghai"
    assert campaign.start.tzinfo is not None


def test_starter_file_is_valid() -> None:
    starter = Path(__file__).resolve().parents[1] / "src" / "dacu" / "starter_campaign.yaml"
    assert load_campaign(starter).platform.value == "tmall"


def test_units_and_zones_are_normalised() -> None:
    campaign = parse_campaign(MINIMAL)
    assert campaign.target("gmv").value_fen == 12_000_000_000  # 1.2亿 yuan in fen
    assert campaign.target("cvr").value == pytest.approx(0.045)
    assert campaign.phases[1].start == datetime(2026, 11, 11, tzinfo=SHANGHAI)
    assert campaign.peak_day.isoformat() == "2026-11-11"
    assert campaign.phase_of(datetime(2026, 11, 11, 20, tzinfo=SHANGHAI)) is Phase.BURST
    assert len(campaign.days()) == 16  # 27 Oct .. 11 Nov inclusive


def test_chinese_phase_names_are_accepted() -> None:
    text = MINIMAL.replace("name: warmup", "name: 预热期").replace("name: burst", "name: 爆发期")
    assert parse_campaign(text).phases[0].phase is Phase.WARMUP


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_campaign(text, source="c.yaml")
    return str(info.value)


def test_end_before_start_names_path_and_line() -> None:
    text = MINIMAL.replace("end: 2026-11-12 00:00", "end: 2026-11-10 00:00")
    assert _error(text) == "c.yaml: phases[1].end: before phases[1].start (line 10)"


def test_bad_money_names_path_and_line() -> None:
    message = _error(MINIMAL.replace("value: 1.2亿", "value: lots"))
    assert message.startswith("c.yaml: targets[0]: not an amount of money: 'lots'")
    assert message.endswith("(line 14)")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("store: 测试店\n", ""), "c.yaml: store: Field required"),
        (("id: t1", "id: 双11"), "c.yaml: id: use letters, digits"),
        (("metric: cvr", "metric: happiness"), "c.yaml: targets[1].metric: unknown 'happiness'"),
        (("name: burst", "name: warmup"), "phases: a phase is listed twice"),
        (
            ("store: 测试店", "store: x\ntimezone: Mars/Base"),
            "timezone: unknown time zone 'Mars/Base'",
        ),
        (
            ("store: 测试店", "store: x\ncolour: red"),
            "c.yaml: colour: Extra inputs are not permitted",
        ),
    ],
)
def test_wrong_files(change: tuple[str, str], expected: str) -> None:
    assert expected in _error(MINIMAL.replace(*change))


def test_overlapping_phases() -> None:
    text = MINIMAL.replace(
        "start: 2026-11-11 00:00\n    end: 2026-11-12",
        "start: 2026-11-10 00:00\n    end: 2026-11-12",
    )
    assert "phases[1].start: overlaps phases[0]" in _error(text)


def test_unknown_channel_in_target() -> None:
    text = MINIMAL + "  - {metric: gmv, value: 100, channel: tv}\n"
    assert "targets[2].channel: unknown channel 'tv'" in _error(text)


def test_empty_and_broken_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match=r"empty\.yaml: the file is empty"):
        load_campaign(empty)
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: not valid YAML: .*\(line 2"):
        load_campaign(broken)
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes(MINIMAL.encode("gbk"))
    with pytest.raises(ConfigError, match=r"gbk\.yaml: not UTF-8 text"):
        load_campaign(gbk)
    with pytest.raises(ConfigError, match="no such campaign file"):
        load_campaign(tmp_path / "missing.yaml")


def test_command_line_times_are_read_in_the_campaign_zone() -> None:
    from dacu.config import parse_local_time
    from dacu.errors import InputError

    assert parse_local_time("2026-11-11T20:00") == datetime(2026, 11, 11, 20, tzinfo=SHANGHAI)
    assert parse_local_time("2026-11-11T12:00+00:00").utcoffset().total_seconds() == 0
    assert parse_local_time(None) is None
    with pytest.raises(InputError, match=r"column '--to': not a date-time 'soon'"):
        parse_local_time("soon", option="--to")
