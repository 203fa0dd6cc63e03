"""The same KPI expressions on PySpark (local mode) give the same numbers as DuckDB.

One SparkSession for the whole module (starting a JVM takes seconds); marked slow and spark.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from dacu.metrics import kpis, step_users
from dacu.warehouse import open_warehouse
from dacu.warehouse.base import Warehouse
from dacu.warehouse.importers import import_taobao
from dacu.warehouse.spark_store import SparkWarehouse
from tests.conftest import need
from tests.metrics.events_fixture import evening

pytestmark = [pytest.mark.spark, pytest.mark.slow]
FULL9 = "taobao_userbehavior/userbehavior_first43users_full9days.csv"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Warehouse, Warehouse]]:
    need(importlib.util.find_spec("pyspark") is not None, "pyspark is not installed")
    need(shutil.which("java") is not None, "java (17) is needed by Spark")
    root = tmp_path_factory.mktemp("spark")
    spark = open_warehouse(f"pyspark://local[2]?path={root / 'wh'}")
    duck = open_warehouse("duckdb://:memory:")
    shared = Path(__file__).resolve().parents[3] / "shared" / "data" / FULL9
    for wh in (duck, spark):
        wh.append_events(evening())
        if shared.exists():
            import_taobao(wh, shared)
    yield duck, spark
    duck.close()
    spark.close()


def _sorted(table: pa.Table, by: tuple[str, ...]) -> list[dict]:
    rows = table.to_pylist()
    return sorted(rows, key=lambda r: tuple(str(r[d]) for d in by))


@pytest.mark.parametrize("by", [("hour", "channel"), ("day", "category"), ()])
def test_kpis_identical_on_spark_and_duckdb(pair, by):
    duck, spark = pair
    got_duck = duck.to_arrow(kpis(duck.events(), by=by))
    got_spark = spark.to_arrow(kpis(spark.events(), by=by))
    assert got_spark.schema == got_duck.schema  # uniform types whichever engine ran
    rows_duck, rows_spark = _sorted(got_duck, by), _sorted(got_spark, by)
    assert len(rows_duck) == len(rows_spark) > 0
    for a, b in zip(rows_duck, rows_spark, strict=True):
        for key, value in a.items():  # integers and dimensions exact; ratios to 1e-12
            if isinstance(value, float):
                assert b[key] == pytest.approx(value, rel=1e-12), (key, a, b)
            else:
                assert b[key] == value, (key, a, b)


def test_step_users_identical(pair):
    duck, spark = pair
    a = _sorted(duck.to_arrow(step_users(duck.events())), ("category",))
    b = _sorted(spark.to_arrow(step_users(spark.events())), ("category",))
    assert a == b


def test_spark_append_is_idempotent_and_atomic(pair, monkeypatch):
    _, spark = pair
    before = spark.to_arrow(spark.events().count())["value"][0].as_py()
    assert spark.append_events(evening()).inserted == 0  # all ids stored already

    def fail(self, table):
        raise OSError("simulated crash before the commit")

    monkeypatch.setattr(SparkWarehouse, "_before_commit", fail)
    extra = evening().set_column(0, "event_id", pa.array([f"x{i}" for i in range(12)]))
    with pytest.raises(OSError):
        spark.append_events(extra)
    assert spark.to_arrow(spark.events().count())["value"][0].as_py() == before
    assert not list((spark.root / "events").glob(".tmp-*"))
