"""The analysis reductions (journeys, funnels, customer summaries, cohorts) are plain Ibis: the same
expressions on PySpark (local mode) give DuckDB's numbers, and the funnel agrees with the KPI
module's step counts (one definition of a step user)."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from datetime import date

import ibis
import pytest

from dacu.metrics.customers import cohort_activity, customer_summary
from dacu.metrics.funnel import funnel_counts
from dacu.metrics.kpi import step_users
from dacu.metrics.paths import journeys, path_counts
from tests.conftest import need
from tests.metrics.events_fixture import evening

STEPS = ("pv", "cart", "order", "pay")


@pytest.mark.parametrize("dim", ["category", "channel"])
def test_funnel_agrees_with_kpi_step_users(dim: str) -> None:
    events = ibis.memtable(evening())
    ours = funnel_counts(events, steps=STEPS, by=(dim,)).execute().set_index(dim)
    theirs = step_users(events, by=(dim,)).execute().set_index(dim)
    for step in STEPS:
        assert ours[f"users_{step}"].to_dict() == theirs[f"{step}_users"].to_dict(), step


def _rows(table, keys):  # type: ignore[no-untyped-def]
    frame = table.to_pandas().sort_values(list(keys)).reset_index(drop=True)
    return frame.to_dict(orient="records")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    need(importlib.util.find_spec("pyspark") is not None, "pyspark is not installed")
    need(shutil.which("java") is not None, "java (17) is needed by Spark")
    from dacu.warehouse import open_warehouse

    root = tmp_path_factory.mktemp("spark-analyze")
    spark = open_warehouse(f"pyspark://local[2]?path={root / 'wh'}")
    duck = open_warehouse("duckdb://:memory:")
    for wh in (duck, spark):
        wh.append_events(evening())
    yield duck, spark
    duck.close()
    spark.close()


def _same(pair, build, keys) -> None:  # type: ignore[no-untyped-def]
    duck, spark = pair
    a = _rows(duck.to_arrow(build(duck.events())), keys)
    b = _rows(spark.to_arrow(build(spark.events())), keys)
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], float):
                assert x[k] == pytest.approx(y[k], rel=1e-12, nan_ok=True), k
            else:
                assert str(x[k]) == str(y[k]), k


@pytest.mark.spark
@pytest.mark.slow
def test_paths_and_funnels_identical_on_spark(pair) -> None:  # type: ignore[no-untyped-def]
    def paths(e):  # type: ignore[no-untyped-def]
        return path_counts(journeys(e, touch_events=("pv",), lookback_days=1))

    _same(pair, paths, ("path",))
    _same(
        pair, lambda e: funnel_counts(e, steps=STEPS, by=("category",), ordered=True), ("category",)
    )


@pytest.mark.spark
@pytest.mark.slow
def test_customer_summaries_identical_on_spark(pair) -> None:  # type: ignore[no-untyped-def]
    def summary(e):  # type: ignore[no-untyped-def]
        pays = e.filter(e.event == "pay")
        return customer_summary(
            pays,
            customer="user_id",
            when="ts",
            amount="amount_fen",
            calibration_end=date(2024, 11, 30),
        )

    _same(pair, summary, ("customer_id",))
    _same(
        pair,
        lambda e: cohort_activity(e.filter(e.event == "pay"), customer="user_id", when="ts"),
        ("cohort", "offset"),
    )
