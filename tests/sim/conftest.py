"""One small simulated Double 11 shared by the sim tests (about 2 s to build)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dacu.config import load_campaign

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def double11():
    return load_campaign(ROOT / "examples" / "double11.yaml")


@pytest.fixture(scope="session")
def small_sim(double11, tmp_path_factory):
    """scale 0.08 (≈ 170 k events) with the demo incidents."""
    from dacu.sim import simulate

    out = tmp_path_factory.mktemp("sim")
    result = simulate(double11, out=out, scale=0.08, seed=11, progress=False)
    return {
        "result": result,
        "events": pq.read_table(out / "events.parquet"),
        "spend": pq.read_table(out / "spend.parquet"),
        "skus": pq.read_table(out / "skus.parquet"),
        "customers": pq.read_table(out / "customers.parquet"),
        "truth": json.loads((out / "truth.json").read_text(encoding="utf-8")),
        "out": out,
    }
