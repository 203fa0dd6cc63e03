"""The warehouse API: URLs, idempotent and atomic appends, reference tables, uniform Arrow types."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from dacu.errors import InputError, WarehouseError
from dacu.warehouse import open_warehouse
from dacu.warehouse.duckdb_store import DuckDBWarehouse
from dacu.warehouse.importers import import_taobao
from tests.warehouse.conftest import count


def _events(
    ids: list[str], amounts: list[int | None] | None = None, kinds: list[str] | None = None
) -> pa.Table:
    n = len(ids)
    return pa.table(
        {
            "event_id": ids,
            "ts": pa.array(
                [datetime(2024, 11, 11, 12, i, tzinfo=UTC) for i in range(n)],
                pa.timestamp("us", tz="UTC"),
            ),
            "user_id": [f"u{i}" for i in range(n)],
            "event": kinds or ["pay"] * n,
            "amount_fen": pa.array(amounts or [100] * n, pa.int64()),
        }
    )


def test_open_from_url_and_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DACU_WAREHOUSE", f"duckdb:///{tmp_path / 'env.duckdb'}")
    wh = open_warehouse()
    assert wh.url.endswith("env.duckdb") and (tmp_path / "env.duckdb").exists()
    wh.close()
    with pytest.raises(WarehouseError, match=r"unknown warehouse URL 'mysql://x'"):
        open_warehouse("mysql://x")


def test_append_is_idempotent_by_event_id(wh):
    first = wh.append_events(_events(["a", "b"]))
    second = wh.append_events(_events(["b", "c"]))
    assert (first.inserted, first.duplicates) == (2, 0)
    assert (second.inserted, second.duplicates) == (1, 1)
    assert count(wh) == 3


def test_append_validates_rows(wh):
    with pytest.raises(InputError, match=r"line 2, column 'amount_fen': negative amount -5 fen"):
        wh.append_events(_events(["a", "b"], amounts=[1, -5]))
    with pytest.raises(InputError, match=r"missing required column\(s\) user_id"):
        wh.append_events(_events(["a"]).drop(["user_id"]))
    assert count(wh) == 0


def test_failed_import_leaves_the_warehouse_as_it_was(wh, shared_data, monkeypatch):
    path = shared_data / "taobao_userbehavior/userbehavior_first43users_full9days.csv"
    wh.append_events(_events(["kept"]))

    def fail(self, table):  # rows are inserted, then the commit fails midway
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(DuckDBWarehouse, "_before_commit", fail)
    with pytest.raises(OSError, match="simulated"):
        import_taobao(wh, path)
    assert count(wh) == 1
    monkeypatch.undo()
    assert import_taobao(wh, path).inserted == 4398  # and the same import works afterwards


def test_failed_import_keeps_the_file_on_disk_intact(tmp_path, shared_data, monkeypatch):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = open_warehouse(url)
    wh.append_events(_events(["kept"]))
    monkeypatch.setattr(
        DuckDBWarehouse,
        "_before_commit",
        lambda self, table: (_ for _ in ()).throw(RuntimeError("killed")),
    )
    with pytest.raises(RuntimeError):
        import_taobao(
            wh, shared_data / "taobao_userbehavior/userbehavior_first43users_full9days.csv"
        )
    wh.close()
    reopened = open_warehouse(url)
    assert count(reopened) == 1
    reopened.close()


def test_reference_tables_replace_atomically(wh):
    skus = pa.table({"sku_id": ["s1", "s2"], "price_fen": pa.array([19900, 5900], pa.int64())})
    assert wh.load_reference("skus", skus) == 2
    assert wh.load_reference("skus", skus.slice(0, 1)) == 1
    assert wh.to_arrow(wh.table("skus"))["sku_id"].to_pylist() == ["s1"]
    with pytest.raises(WarehouseError, match="unknown reference table 'orders'"):
        wh.load_reference("orders", skus)


def test_results_have_uniform_types(wh):
    wh.append_events(_events(["a", "b"]))
    e = wh.events()
    out = wh.to_arrow(
        e.aggregate(
            n=e.count(), paid=e.amount_fen.sum(), last=e.ts.max(), users=e.user_id.nunique()
        )
    )
    assert out.schema.field("n").type == pa.int64()
    assert out.schema.field("paid").type == pa.int64()
    assert out.schema.field("users").type == pa.int64()
    assert out.schema.field("last").type == pa.timestamp("us", tz="UTC")


def test_import_a_sim_like_folder(wh, tmp_path):
    import pyarrow.parquet as pq

    from dacu.warehouse.importers import import_folder
    from tests.metrics.events_fixture import evening

    pq.write_table(evening(), tmp_path / "events.parquet")
    (tmp_path / "skus.csv").write_text(
        "sku_id,category,price_fen\nk1,女装,19900\n", encoding="utf-8"
    )
    reports = import_folder(wh, tmp_path)
    assert [(r.table, r.inserted) for r in reports] == [("skus", 1), ("events", 12)]
    assert import_folder(wh, tmp_path)[-1].duplicates == 12
    with pytest.raises(InputError, match="no events/spend/skus/customers"):
        import_folder(wh, tmp_path / "empty")
