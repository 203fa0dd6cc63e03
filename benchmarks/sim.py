"""Simulator throughput: events generated per second vs the floor of writing as many rows.

Floor: the same number of rows of random columns of EVENT_SCHEMA (ids, timestamps, codes,
amounts), pre-generated, written to Parquet with pyarrow (zstd, 500 k-row groups) — the cost of
the output alone, measured in the same run. Size: DACU_BENCH_SIM_SCALE (default 1.0 ≈ 2 million
events; 10 ≈ 20 million). Run with `dacu bench sim`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import peak_rss_mib, record, table

from dacu.config import load_campaign
from dacu.events import EVENT_SCHEMA, EVENT_TYPES
from dacu.sim import simulate

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 500_000


def random_chunk(rows: int, rng: np.random.Generator) -> pa.Table:
    def ids(prefix: str, high: int) -> pa.Array:
        return pc.binary_join_element_wise(prefix, pa.array(rng.integers(0, high, rows)).cast(
            pa.string()), "")

    def coded(names: list[str]) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, len(names), rows),
                                                       pa.int32()),
                                              pa.array(names)).cast(pa.string())

    ts = 1_760_000_000_000_000 + np.sort(rng.integers(0, 86_400_000_000, rows))
    return pa.table({
        "event_id": ids("bench-", 10**12), "ts": pa.array(ts).cast(pa.timestamp("us", tz="UTC")),
        "user_id": ids("c", 10**6), "session_id": ids("s", 10**7),
        "event": coded(list(EVENT_TYPES)), "channel": coded([f"ch{i}" for i in range(8)]),
        "campaign_id": coded(["double11-2026"]),
        "sku_id": coded([f"SKU-{i:03d}" for i in range(120)]),
        "category": coded(["a", "b", "c", "d"]),
        "quantity": pa.array(rng.integers(1, 3, rows), pa.int32()),
        "amount_fen": pa.array(rng.integers(100, 100_000, rows)),
        "order_id": ids("o", 10**6), "device": coded(["android", "ios", "pc"]),
        "region": coded(["广东", "浙江", "江苏"]), "creative_id": coded(["cr-1", "cr-2"]),
        "variant": coded(["coupon:a"]),
    }, schema=EVENT_SCHEMA)


def write_floor(rows: int, path: Path) -> float:
    chunk = random_chunk(min(rows, CHUNK), np.random.default_rng(0))
    began = time.perf_counter()
    with pq.ParquetWriter(path, EVENT_SCHEMA, compression="zstd") as writer:
        left = rows
        while left > 0:
            part = chunk.slice(0, min(left, chunk.num_rows))
            writer.write_table(part, row_group_size=CHUNK)
            left -= part.num_rows
    return time.perf_counter() - began


def main() -> None:
    scale = float(os.environ.get("DACU_BENCH_SIM_SCALE", "1.0"))
    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        result = simulate(campaign, out=Path(tmp) / "sim", scale=scale, seed=7, progress=False)
        sim_seconds = time.perf_counter() - began
        peak = peak_rss_mib()
        floor_seconds = write_floor(result.events, Path(tmp) / "floor.parquet")
    sim_rate, floor_rate = result.events / sim_seconds, result.events / floor_seconds
    rows = [
        ["dacu sim (whole world: generate + write 5 files)", f"{result.events:,}",
         f"{sim_seconds:.1f}", f"{sim_rate:,.0f}", f"{sim_rate / floor_rate:.2f}×"],
        ["floor: pyarrow writes as many random EVENT_SCHEMA rows", f"{result.events:,}",
         f"{floor_seconds:.1f}", f"{floor_rate:,.0f}", "1.00×"],
    ]
    markdown = (
        f"Double 11 example, `--scale {scale:g}` (history 400 days + 26 campaign days), seed 7, "
        f"demo incidents. Peak memory of the simulating process: {peak:,.0f} MiB.\n\n"
        + table(["what", "events", "seconds", "events/s", "vs floor"], rows)
        + "\n\nThe ratio is the simulator's throughput as a share of the bare Parquet write of the "
        "same number of rows: what is left is generation (sessions, funnel, baskets, stock, "
        "customers). Larger: `DACU_BENCH_SIM_SCALE=10 dacu bench sim`."
    )
    record("sim", markdown)


if __name__ == "__main__":
    main()
