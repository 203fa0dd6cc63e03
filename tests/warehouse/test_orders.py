"""Order exports (订单报表): the real Tmall export and hand-made exports, read as a shop would.

Expected figures come from a plain-Python reading of the same file (csv + Decimal), never from
dacu's own SQL.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from dacu.errors import InputError
from dacu.metrics.kpi import kpis, window
from dacu.warehouse import open_warehouse
from dacu.warehouse.commands import register as register_import
from dacu.warehouse.orders import OrderMapping, import_orders
from tests.warehouse.conftest import count

TMALL = "tmall_order_report_2020_02/tmall_order_report.csv"
CN = ZoneInfo("Asia/Shanghai")


def _fen(text: str) -> int:
    return int(Decimal(text) * 100)


def _plain_reading(path: Path) -> dict[str, object]:
    """The export's figures by hand: csv module, Decimal yuan → fen."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(handle)]
    paid = [r for r in rows if r["订单付款时间"].strip()]
    return {
        "orders": len(rows),
        "gmv": sum(_fen(r["总金额"]) for r in rows),
        "paid_orders": len(paid),
        # what was paid at payment time: the net paid plus what was later refunded
        "paid": sum(_fen(r["买家实际支付金额"]) + _fen(r["退款金额"]) for r in paid),
        "net": sum(_fen(r["买家实际支付金额"]) for r in rows),
        "refund": sum(_fen(r["退款金额"]) for r in rows),
        "refunds": sum(1 for r in rows if _fen(r["退款金额"]) > 0),
        "pay_times": [datetime.strptime(r["订单付款时间"].strip(), "%Y/%m/%d %H:%M") for r in paid],
    }


def _total(wh) -> dict:
    return wh.to_arrow(kpis(wh.events(), by=())).to_pylist()[0]


def test_real_tmall_export_imports_with_the_preset(tmp_path, shared_data):
    path = shared_data / TMALL
    url = f"duckdb:///{tmp_path / 'shop.duckdb'}"
    app = typer.Typer()
    register_import(app)
    out = CliRunner().invoke(app, ["import", "orders", str(path), "--preset", "tmall", "-w", url])
    assert out.exit_code == 0, out.output
    hand = _plain_reading(path)
    events = hand["orders"] + hand["paid_orders"] + hand["refunds"]
    assert f"28,010 rows read, {events:,} added" in out.output

    wh = open_warehouse(url)
    try:
        total = _total(wh)
        assert total["orders"] == hand["orders"] == 28010
        assert total["paid_orders"] == hand["paid_orders"]
        assert total["gmv_fen"] == hand["gmv"]
        assert total["paid_gmv_fen"] == hand["paid"]
        assert total["refund_fen"] == hand["refund"]
        assert total["net_gmv_fen"] == hand["net"]  # 买家实际支付金额, summed

        # the hourly pay curve of the busiest China day of the file
        busiest = Counter(t.date() for t in hand["pay_times"]).most_common(1)[0][0]
        day = datetime(busiest.year, busiest.month, busiest.day, tzinfo=CN)
        curve = Counter(t.hour for t in hand["pay_times"] if t.date() == day.date())
        on_day = window(wh.events(), day, day + timedelta(days=1))
        hourly = wh.to_arrow(kpis(on_day, by=("hour",))).to_pylist()
        got = {r["hour"].astimezone(CN).hour: r["paid_orders"] for r in hourly if r["paid_orders"]}
        assert got == dict(curve) and sum(curve.values()) > 100
    finally:
        wh.close()


def test_reimport_adds_nothing_and_gbk_with_spaced_headers_reads_the_same(
    wh, tmp_path, shared_data
):
    lines = (shared_data / TMALL).read_text(encoding="utf-8").splitlines()[:301]
    header = ",".join(name + "  " for name in lines[0].split(","))  # 订单付款时间␣␣ …
    gbk = tmp_path / "订单报表.csv"
    gbk.write_bytes(("\n".join([header, *lines[1:]]) + "\n").encode("gbk"))
    utf8 = tmp_path / "utf8.csv"
    utf8.write_text("\n".join(lines) + "\n", encoding="utf-8")

    first = import_orders(wh, gbk, "tmall")
    assert first.encoding == "gb18030" and first.rows_read == 300
    hand = _plain_reading(utf8)
    total = _total(wh)
    assert (total["paid_orders"], total["paid_gmv_fen"], total["refund_fen"]) == (
        hand["paid_orders"],
        hand["paid"],
        hand["refund"],
    )
    again = import_orders(wh, utf8, "tmall")  # the same orders in another encoding: same ids
    assert (again.inserted, again.duplicates) == (0, first.inserted)


JD = (
    "订单号,商品ID,订购数量,下单时间,付款确认时间,订单金额,实付金额,下单帐号,客户地址,订单状态\n"
    "9001,sku-a,2,2024-11-11 00:05:00,2024-11-11 00:06:10,300.00,280.00,jd_u1,北京 朝阳区,完成\n"
    "9001,sku-b,1,2024-11-11 00:05:00,2024-11-11 00:06:10,99.50,99.50,jd_u1,北京 朝阳区,完成\n"
    "9002,sku-a,1,2024-11-11 01:00:00,,150,0,jd_u2,上海 浦东新区,等待付款\n"
)


def test_jd_order_lines_are_one_order_with_two_lines(wh, tmp_path):
    path = tmp_path / "jd.csv"
    path.write_text(JD, encoding="utf-8")
    report = import_orders(wh, path, "jd")
    assert report.inserted == 3 + 2  # three order lines, two of them paid
    total = _total(wh)
    # orders: 9001 and 9002; paid: 9001 only; paid amount 280 + 99.50 yuan; units 2 + 1
    assert (total["orders"], total["paid_orders"], total["buyers"]) == (2, 1, 1)
    assert (total["gmv_fen"], total["paid_gmv_fen"], total["units"]) == (54950, 37950, 3)
    regions = wh.to_arrow(wh.events().select("region").distinct())["region"].to_pylist()
    assert sorted(regions) == ["上海", "北京"]


def test_a_mapping_names_columns_a_preset_does_not_know(wh, tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text("单号,下单,付款,金额\nA1,2024-06-18 10:00,2024-06-18 10:01,88\n", "utf-8")
    mapping = OrderMapping(
        columns={"order_id": "单号", "order_ts": "下单", "pay_ts": "付款", "order_amount": "金额"}
    )
    import_orders(wh, path, mapping=mapping)
    total = _total(wh)
    assert (total["orders"], total["paid_gmv_fen"], total["buyers"]) == (1, 8800, 1)
    assert total["uv"] == 1  # plain events KPI; the source-aware view says "—" (test_sources)


TMALL_HEAD = "订单编号,总金额,买家实际支付金额,收货地址,订单创建时间,订单付款时间,退款金额\n"


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (
            "2,100000000000000000000,0,上海,2020/2/21 0:00,,0",
            "总金额",
            "amount out of range: 100000000000000000000",
        ),
        ("2,10,0,上海,1900/2/21 0:00,,0", "订单创建时间", "time 1900-02-21 00:00 outside"),
        ("2,10,10,上海,2020/2/21 0:00,2099/1/1 0:00,0", "订单付款时间", "time 2099-01-01"),
        ("2,10,0,上海,2020/2/31 0:00,,0", "订单创建时间", "not a time like"),
        ("1,10,0,上海,2020/2/21 0:00,,0", "订单编号", "duplicate order_line '1' (first at line 2)"),
    ],
)
def test_a_bad_row_names_line_and_column_and_nothing_is_written(wh, tmp_path, row, column, reason):
    path = tmp_path / "orders.csv"
    path.write_text(TMALL_HEAD + "1,10,10,上海,2020/2/21 0:00,2020/2/21 0:01,0\n" + row + "\n")
    with pytest.raises(InputError) as caught:
        import_orders(wh, path, "tmall")
    assert caught.value.line == 3 and caught.value.column == column
    assert reason in caught.value.reason and "nothing was imported" in caught.value.reason
    assert count(wh) == 0


def test_skip_bad_rows_keeps_the_original_text_of_each_rejected_line(wh, tmp_path):
    path = tmp_path / "orders.csv"
    bad = "2,10,0,上海,1900/2/21 0:00,,0"
    path.write_text(TMALL_HEAD + "1,10,10,上海,2020/2/21 0:00,2020/2/21 0:01,0\n" + bad + "\n")
    report = import_orders(wh, path, "tmall", skip_bad_rows=True)
    assert (report.rejected, report.inserted) == (1, 2)
    assert report.errors[0][:2] == (3, "订单创建时间")
    with report.rejects_file.open(encoding="utf-8") as handle:
        rejected = list(csv.DictReader(handle))
    assert len(rejected) == 1 and rejected[0]["line"] == "3"
    assert ",".join(rejected[0][k] for k in TMALL_HEAD.strip().split(",")) == bad


def test_a_folder_or_a_binary_file_is_refused_at_line_1(wh, tmp_path):
    with pytest.raises(InputError, match="is a folder, not a file"):
        import_orders(wh, tmp_path, "tmall")
    xlsx_as_csv = tmp_path / "orders.csv"
    xlsx_as_csv.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    with pytest.raises(InputError, match=r"line 1, column '#1': not a text file.*Excel") as err:
        import_orders(wh, xlsx_as_csv, "tmall")
    assert err.value.file == str(xlsx_as_csv)
    assert count(wh) == 0


def test_unknown_preset_and_missing_column_say_what_is_expected(wh, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("订单编号,总金额\n1,10\n", "utf-8")
    with pytest.raises(InputError, match=r"unknown preset 'amazon'.*tmall, taobao, jd, douyin"):
        import_orders(wh, path, "amazon")
    with pytest.raises(InputError, match=r"no column for order_ts.*订单创建时间"):
        import_orders(wh, path, "tmall")
