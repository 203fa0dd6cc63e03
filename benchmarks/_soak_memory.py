"""Where the live monitor's memory goes over a campaign: the soak's 26-day campaign (the same
events, `_monitor_soak.hour_counts`/`hour_events`) fed to a LiveMonitor in this process, and at
each day's end its RSS, glibc's bytes in use (mallinfo2), Arrow's pool and DuckDB's own count
(`duckdb_memory()`). Without HTTP and a server process it takes a tenth of the soak's time, so two
commits can be compared in one session:

    python benchmarks/_soak_memory.py [EVENTS] [FOLDER]     # default 150,000 events, a temp dir

It prints one line a day; BENCHMARKS.md (monitor → A whole campaign) has what it showed.
"""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src"), str(ROOT / "benchmarks")]

import _monitor_soak as soak  # noqa: E402


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def glibc_in_use_mb() -> int:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    return int(libc.mallinfo2().uordblks) >> 20


def rss_mb() -> int:
    return soak.status_kb(os.getpid())["VmRSS"] >> 10


def main(total: int, folder: Path) -> None:
    from dacu.config import parse_campaign
    from dacu.monitor.live import LiveMonitor

    monitor = LiveMonitor(parse_campaign(soak.campaign_text()), folder)
    monitor.recover()
    counts, began = soak.hour_counts(total), time.perf_counter()
    for day in range(soak.DAYS):
        tables = [soak.hour_events(day, h, int(n)) for h, n in enumerate(counts[day]) if n]
        for body in soak.json_bodies(pa.concat_tables(tables)):
            monitor.collector.accept_body(body)
        with monitor.store.lock:
            duck = monitor.store.con.execute(
                "SELECT tag, memory_usage_bytes >> 20 FROM duckdb_memory() "
                "WHERE memory_usage_bytes >= 1 << 20"
            ).fetchall()
        print(
            f"day {day + 1:2d} ({time.perf_counter() - began:5.0f} s): RSS {rss_mb()} MB, glibc in "
            f"use {glibc_in_use_mb()} MB, Arrow {pa.total_allocated_bytes() >> 20} MB, DuckDB "
            f"{dict(duck)}",
            flush=True,
        )
    monitor.close()


if __name__ == "__main__":
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 150_000
    if len(sys.argv) > 2:
        main(events, Path(sys.argv[2]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(events, Path(tmp))
