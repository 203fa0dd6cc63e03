"""Fixtures of the warehouse tests: a fresh DuckDB warehouse file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dacu.warehouse import open_warehouse
from dacu.warehouse.base import Warehouse


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[Warehouse]:
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    yield warehouse
    warehouse.close()


def count(wh: Warehouse) -> int:
    return wh.to_arrow(wh.events().count())["value"][0].as_py()
