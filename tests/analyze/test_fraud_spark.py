"""The fraud features are plain Ibis: on PySpark (local mode) they equal DuckDB's."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from dacu.analyze.fraud.features import basket_links, customer_features
from tests.conftest import need
from tests.metrics.events_fixture import evening


@pytest.mark.spark
@pytest.mark.slow
def test_fraud_features_on_spark_equal_duckdb(tmp_path):
    need(importlib.util.find_spec("pyspark") is not None, "pyspark is not installed")
    need(shutil.which("java") is not None, "java (17) is needed by Spark")
    from dacu.warehouse import open_warehouse

    duck = open_warehouse("duckdb://:memory:")
    spark = open_warehouse(f"pyspark://local[2]?path={tmp_path / 'wh'}")
    try:
        frames = []
        for wh in (duck, spark):
            wh.append_events(evening())
            feats = wh.to_arrow(customer_features(wh.events())).to_pandas()
            links = wh.to_arrow(basket_links(wh.events())).to_pandas()
            frames.append(
                (
                    feats.sort_values("user_id").reset_index(drop=True),
                    sorted(map(tuple, links.to_numpy().tolist())),
                )
            )
    finally:
        duck.close()
        spark.close()
    (a, la), (b, lb) = frames
    assert len(a) == len(b) > 0
    for column in a.columns:
        if a[column].dtype.kind == "f":
            assert a[column].fillna(-1).to_numpy() == pytest.approx(
                b[column].fillna(-1).to_numpy()
            ), column
        else:
            assert a[column].tolist() == b[column].tolist(), column
    assert la == lb
