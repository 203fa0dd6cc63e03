"""The fraud watch's memory on a peak day: `LiveRisk` alone, fed one day of the soak's campaign
(`_monitor_soak.hour_events`, the 11-11 hours shaped as the soak's, rushes included) minute by
minute as the collector hands it over (or every SECONDS of event time: the served path's event
clock hands over a 10-second tick at a time), and scored every 15 minutes of event time as the
live monitor does. Prints the process's RSS before the day and at its end, its peak (VmHWM), and
the seconds spent taking the events in and scoring, so that two commits can be compared in one
session on the same events:

    python benchmarks/_fraud_day_memory.py [EVENTS [SECONDS]]   # default 1,000,000 events, 60 s

BENCHMARKS.md (monitor → A whole campaign) has what it showed.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src"), str(ROOT / "benchmarks")]

import _monitor_soak as soak  # noqa: E402

PEAK = 15  # the campaign's day index of 11-11


def status_mb() -> tuple[int, int]:
    found = soak.status_kb(os.getpid())
    return found["VmRSS"] >> 10, found["VmHWM"] >> 10


def main(total: int, seconds: int = 60) -> None:
    from dacu.config import parse_campaign
    from dacu.monitor.watch_risk import LiveRisk

    weights = np.array(soak.HOUR_WEIGHTS, dtype=float)
    for (day, hour), factor in soak.RUSHES.items():
        if day == PEAK:
            weights[hour] *= factor
    counts = np.floor(weights / weights.sum() * total).astype(int)
    risk = LiveRisk(parse_campaign(soak.campaign_text()))
    soak.hour_events(PEAK, 0, 1000)  # the generator's imports, before the first reading
    before, _ = status_mb()
    scoring = observing = 0.0
    step = timedelta(seconds=seconds)
    day_start = soak.START + timedelta(days=PEAK)
    for hour, count in enumerate(counts):
        events = soak.hour_events(PEAK, hour, int(count))
        for k in range(3600 // seconds):
            start = day_start + timedelta(hours=hour) + k * step
            part = events.filter(
                pc.and_(
                    pc.greater_equal(events["ts"], pa.scalar(start, events["ts"].type)),
                    pc.less(events["ts"], pa.scalar(start + step, events["ts"].type)),
                )
            )
            began = time.perf_counter()
            risk.observe(part)
            observing += time.perf_counter() - began
            began = time.perf_counter()
            risk.tick(start + step, None)
            scoring += time.perf_counter() - began
    rss, peak = status_mb()
    print(
        f"{risk.kept_events():,} events kept; RSS before {before} MB, at the end {rss} MB "
        f"(+{rss - before}), peak {peak} MB (+{peak - before}); taking in {observing:.1f} s, "
        f"scoring {scoring:.0f} s",
        flush=True,
    )
    risk.close()


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3])) if len(sys.argv) > 1 else main(1_000_000)
