"""Generic exports through a mapping: CSV with Chinese headers, Excel, Parquet, ad spend."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dacu.errors import ConfigError
from dacu.warehouse.importers import import_events, import_reference
from dacu.warehouse.mapping import Mapping, load_mapping

MAP_YAML = """\
columns:
  event_id: 流水号
  ts: 时间
  user_id: 买家
  event: 行为
  amount_fen: 金额
  order_id: 订单号
values:
  event: {浏览: pv, 下单: order, 付款: pay}
constants:
  channel: private
timezone: Asia/Shanghai
timestamp_format: "%Y/%m/%d %H:%M"
"""


def test_csv_with_a_mapping_file(wh, tmp_path):
    (tmp_path / "map.yaml").write_text(MAP_YAML, encoding="utf-8")
    path = tmp_path / "订单.csv"
    path.write_text(
        "\ufeff流水号,时间,买家,行为,金额,订单号\n"
        "1,2024/11/11 00:05,李四,浏览,,\n"
        "2,2024/11/11 00:07,李四,下单,199.90,T1\n"
        "3,2024/11/11 00:08,李四,付款,199.9,T1\n",
        encoding="utf-8",
    )
    report = import_events(wh, path, load_mapping(tmp_path / "map.yaml"))
    assert report.inserted == 3
    rows = wh.to_arrow(wh.events().order_by("event_id")).to_pylist()
    assert [r["event"] for r in rows] == ["pv", "order", "pay"]
    assert [r["amount_fen"] for r in rows] == [None, 19990, 19990]  # yuan → fen
    assert rows[0]["ts"] == datetime(2024, 11, 10, 16, 5, tzinfo=UTC)  # 00:05 Beijing
    assert {r["channel"] for r in rows} == {"private"}


def test_mapping_errors_name_the_key(tmp_path):
    (tmp_path / "bad.yaml").write_text("columns:\n  buyer: 买家\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mapping: 'buyer' is not a field"):
        from dacu.events import EVENT_SCHEMA
        from dacu.warehouse.mapping import resolve_columns

        resolve_columns(load_mapping(tmp_path / "bad.yaml"), EVENT_SCHEMA, ["买家"], "x.csv")
    (tmp_path / "tz.yaml").write_text("timezone: Mars/Base\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"timezone.*unknown time zone 'Mars/Base'"):
        load_mapping(tmp_path / "tz.yaml")


def test_excel_export(wh, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["event_id", "ts", "user_id", "event", "amount_fen"])
    sheet.append(["x1", "2024-11-11T20:00:00+08:00", "u1", "pay", 9900])
    sheet.append(["x2", "2024-11-11T20:01:00+08:00", "u2", "pv", None])
    book.save(tmp_path / "events.xlsx")
    report = import_events(wh, tmp_path / "events.xlsx")
    assert report.inserted == 2
    assert wh.to_arrow(wh.events().amount_fen.sum())["value"][0].as_py() == 9900


def test_parquet_with_contract_names(wh, tmp_path):
    table = pa.table(
        {
            "event_id": ["p1", "p2"],
            "user_id": ["u1", "u1"],
            "event": ["pv", "pay"],
            "ts": pa.array([datetime(2024, 11, 11, 12, tzinfo=UTC)] * 2, pa.timestamp("us", "UTC")),
            "amount_fen": pa.array([None, 500], pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "e.parquet")
    assert import_events(wh, tmp_path / "e.parquet").inserted == 2
    assert import_events(wh, tmp_path / "e.parquet").duplicates == 2


def test_rows_without_event_id_get_a_stable_one(wh, tmp_path):
    path = tmp_path / "noid.csv"
    path.write_text(
        "ts,user_id,event\n2024-11-11T12:00:00Z,u1,pv\n2024-11-11T12:00:00Z,u1,pv\n",
        encoding="utf-8",
    )
    assert import_events(wh, path).inserted == 2  # two identical rows are two page views
    assert import_events(wh, path).inserted == 0  # and re-importing adds nothing


def test_spend_report_with_chinese_headers(wh, tmp_path):
    path = tmp_path / "直通车.csv"
    path.write_text(
        '日期,渠道,花费,展现量,点击量\n2024-11-11,search_ads,"1,200.50",100000,3000\n',
        encoding="utf-8",
    )
    report = import_reference(wh, "spend", path)
    assert report.inserted == 1
    row = wh.to_arrow(wh.table("spend")).to_pylist()[0]
    assert row["spend_fen"] == 120050 and row["clicks"] == 3000
    assert row["hour"] == datetime(2024, 11, 10, 16, tzinfo=UTC)  # midnight Beijing


def test_spend_negative_is_rejected(wh, tmp_path):
    path = tmp_path / "spend.csv"
    path.write_text(
        "hour,channel,spend_fen\n2024-11-11T00:00:00+08:00,content,-3\n", encoding="utf-8"
    )
    with pytest.raises(Exception, match=r"line 2, column 'spend_fen': negative spend_fen -3"):
        import_reference(wh, "spend", path, Mapping())


def test_tab_separated_export(wh, tmp_path):
    path = tmp_path / "export.tsv"
    path.write_text(
        "event_id\tts\tuser_id\tevent\nt1\t2024-11-11T20:00:00+08:00\tu1\tpv\n", encoding="utf-8"
    )
    assert import_events(wh, path).inserted == 1


def test_typed_parquet_reference_table(wh, tmp_path):
    from dacu.events import SKU_SCHEMA

    skus = pa.table(
        {
            "sku_id": ["k1"],
            "name": ["羽绒服"],
            "category": ["女装"],
            "brand": ["B"],
            "price_fen": [59900],
            "cost_fen": [21000],
            "stock": [30],
        },
        schema=SKU_SCHEMA,
    )
    pq.write_table(skus, tmp_path / "skus.parquet")
    assert import_reference(wh, "skus", tmp_path / "skus.parquet").inserted == 1
    assert wh.to_arrow(wh.table("skus")).to_pylist()[0]["price_fen"] == 59900
