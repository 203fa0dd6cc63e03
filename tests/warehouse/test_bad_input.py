"""Bad inputs: each gets a message naming file, line, column and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from dacu.errors import InputError
from dacu.warehouse.importers import import_events, import_taobao
from dacu.warehouse.mapping import Mapping
from tests.warehouse.conftest import count

HEADER = "event_id,ts,user_id,event,amount_fen\n"


def _csv(tmp_path: Path, text: str, name: str = "events.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_empty_file(wh, tmp_path):
    path = _csv(tmp_path, "")
    with pytest.raises(InputError, match=r"events\.csv: the file is empty \(expected rows"):
        import_events(wh, path)


def test_gbk_file_is_detected_and_read(wh, tmp_path):
    text = (
        "流水号,时间,用户,行为,金额,渠道\n"
        "e1,2024-11-11 20:00:00+08:00,张三,浏览,,直通车\n"
        'e2,2024-11-11 20:05:00+08:00,张三,付款,"￥1,299.50",直通车\n'
    )
    path = _csv(tmp_path, text, encoding="gbk")
    mapping = Mapping(
        columns={
            "event_id": "流水号",
            "ts": "时间",
            "user_id": "用户",
            "event": "行为",
            "amount_fen": "金额",
            "channel": "渠道",
        },
        values={"event": {"浏览": "pv", "付款": "pay"}},
    )
    report = import_events(wh, path, mapping)
    assert report.encoding == "gb18030" and report.inserted == 2
    rows = wh.to_arrow(wh.events().order_by("event_id")).to_pylist()
    assert [r["user_id"] for r in rows] == ["张三", "张三"]
    assert rows[1]["channel"] == "直通车" and rows[1]["amount_fen"] == 129950  # ￥1,299.50


def test_duplicate_event_ids(wh, tmp_path):
    path = _csv(tmp_path, HEADER + "a,2024-11-11T12:00:00Z,u1,pv,\na,2024-11-11T12:01:00Z,u2,pv,\n")
    with pytest.raises(InputError) as err:
        import_events(wh, path)
    assert str(err.value) == (
        f"{path}, line 3, column 'event_id': duplicate event_id 'a' "
        "(first at line 2) (nothing was imported)"
    )
    assert count(wh) == 0


def test_negative_amount(wh, tmp_path):
    path = _csv(tmp_path, HEADER + "a,2024-11-11T12:00:00Z,u1,refund,-500\n")
    with pytest.raises(InputError, match=r"line 2, column 'amount_fen': negative amount -500 fen"):
        import_events(wh, path)


def test_amount_on_a_pv_is_rejected(wh, tmp_path):
    path = _csv(tmp_path, HEADER + "a,2024-11-11T12:00:00Z,u1,pv,500\n")
    with pytest.raises(InputError, match=r"an amount on a pv event \(only order, pay, refund"):
        import_events(wh, path)


def test_missing_column(wh, tmp_path):
    path = _csv(tmp_path, "event_id,ts,event\na,2024-11-11T12:00:00Z,pv\n")
    with pytest.raises(InputError) as err:
        import_events(wh, path)
    assert str(err.value) == (
        f"{path}, line 1, column 'user_id': missing column for required "
        "field 'user_id' (name a column in the mapping: columns: "
        "{user_id: ...}); the file has: event_id, ts, event"
    )


def test_missing_mapped_column(wh, tmp_path):
    path = _csv(tmp_path, HEADER + "a,2024-11-11T12:00:00Z,u1,pv,\n")
    with pytest.raises(InputError, match=r"missing column '用户' \(mapped to user_id\)"):
        import_events(wh, path, Mapping(columns={"user_id": "用户"}))


def test_timestamp_without_zone(wh, tmp_path):
    path = _csv(tmp_path, HEADER + "a,2024-11-11 20:00:00,u1,pv,\n")
    with pytest.raises(InputError) as err:
        import_events(wh, path)
    assert str(err.value).startswith(
        f"{path}, line 2, column 'ts': timestamp without time zone '2024-11-11 20:00:00' "
        "(write it with +08:00, or declare `timezone: Asia/Shanghai`"
    )


def test_timestamp_zone_declared_by_the_importer(wh, tmp_path):
    path = _csv(tmp_path, HEADER + "a,2024-11-11 20:00:00,u1,pv,\n")
    import_events(wh, path, Mapping(timezone="Asia/Shanghai"))
    ts = wh.to_arrow(wh.events().select("ts"))["ts"][0].as_py()
    assert ts.isoformat() == "2024-11-11T12:00:00+00:00"  # 20:00 Beijing = 12:00 UTC


def test_unknown_event_type(wh, tmp_path):
    path = _csv(tmp_path, HEADER + "a,2024-11-11T12:00:00Z,u1,view,\n")
    with pytest.raises(
        InputError,
        match=r"column 'event': unknown event type 'view' \(expected "
        r"one of impression, click, pv",
    ):
        import_events(wh, path)


def test_malformed_row_line_is_named(wh, tmp_path):
    good = "1,10,100,pv,1511544070\n"
    path = _csv(tmp_path, good * 3 + "2,20,pv\n" + good.replace("1,", "3,", 1), "ub.csv")
    with pytest.raises(InputError, match=r"ub\.csv, line 4: expected 5 fields, found 3"):
        import_taobao(wh, path)
    assert count(wh) == 0


def test_skip_bad_rows_imports_the_rest_and_writes_rejects(wh, tmp_path):
    path = _csv(
        tmp_path,
        HEADER + "a,2024-11-11T12:00:00Z,u1,pv,\n"
        "b,2024-11-11T12:00:00Z,u1,pay,-1\n"
        "c,yesterday,u2,pv,\n"
        "d,2024-11-11T12:09:00Z,u2,pay,100\n",
    )
    rejects = tmp_path / "rejects.csv"
    report = import_events(wh, path, skip_bad_rows=True, rejects_path=rejects)
    assert (report.inserted, report.rejected) == (2, 2)
    lines = rejects.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("line,column,reason,event_id,ts,user_id,event,amount_fen")
    assert lines[1].startswith("3,amount_fen,negative amount -1 fen")
    assert lines[2].startswith("4,ts,not a timestamp 'yesterday' (expected ISO 8601")


@pytest.mark.parametrize(
    ("ts", "amount", "column", "reason"),
    [
        ("1900-01-01 00:00:00+08:00", "100", "ts", "time 1900-01-01 "),
        ("2099-11-11 20:00:00+08:00", "100", "ts", "time 2099-11-11 20:00 outside"),
        ("2024-11-11 20:00:00+08:00", "9" * 19, "amount_fen", "amount out of range"),
        ("2024-11-11 20:00:00+08:00", "9223372036854775808", "amount_fen", "out of range"),
    ],
)
def test_implausible_times_and_huge_amounts_are_bad_rows(wh, tmp_path, ts, amount, column, reason):
    good = "e1,2024-11-11 20:00:00+08:00,u1,pay,100\n"
    path = _csv(tmp_path, HEADER + good + f"e2,{ts},u1,pay,{amount}\n")
    with pytest.raises(InputError) as caught:
        import_events(wh, path)
    assert (caught.value.line, caught.value.column) == (3, column)
    assert reason in caught.value.reason
    assert count(wh) == 0


def test_the_plausible_window_can_be_widened(wh, tmp_path):
    from datetime import UTC, datetime

    from dacu.warehouse.validate import plausible_window

    path = _csv(tmp_path, HEADER + "e1,1999-12-31 20:00:00+08:00,u1,pv,\n")
    with pytest.raises(InputError, match="outside the plausible window"):
        import_events(wh, path)
    wide = plausible_window(earliest=datetime(1990, 1, 1, tzinfo=UTC))
    assert import_events(wh, path, window=wide).inserted == 1


def test_a_folder_given_as_the_file(wh, tmp_path):
    with pytest.raises(InputError, match=r"is a folder, not a file"):
        import_events(wh, tmp_path)


def test_a_broken_workbook_is_named_not_a_traceback(wh, tmp_path):
    path = tmp_path / "订单.xlsx"
    path.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(InputError, match=r"line 1: not a readable Excel \.xlsx workbook"):
        import_events(wh, path)
    assert count(wh) == 0
