"""Cost of the edge checks (issue 21), as ratios to what the request costs anyway, same run.

- JSON depth scan (`dacu.web.batch.json_depth`, before parsing) vs `json.loads` of the same body;
- per-event bounds (`validate_items(EventBounds, …)`) vs the collector's own parse + Arrow table;
- refusing a 1.3 KB YAML alias bomb vs loading examples/double11.yaml.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record, table

from dacu.config import parse_campaign
from dacu.errors import ConfigError
from dacu.monitor.collector import fast_table, parse_body
from dacu.web.batch import EventBounds, json_depth, validate_items

ROOT = Path(__file__).resolve().parents[1]


def events(n: int) -> list[dict]:
    out = []
    for i in range(n):
        pay = i % 10 == 0
        event = {
            "event_id": f"e{i}",
            "ts": "2026-11-11T20:00:00+08:00",
            "user_id": f"u{i % 9973}",
            "session_id": f"s{i % 30011}",
            "event": "pay" if pay else "pv",
            "channel": "search_ads",
            "sku_id": f"SKU-{i % 500}",
        }
        if pay:
            event["amount_fen"] = 9900
        out.append(event)
    return out


def best(work, runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def bomb() -> str:
    text = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for level in "bcdefghi":
        text += f"{level}: &{level} [{','.join(['*' + chr(ord(level) - 1)] * 9)}]\n"
    return text


def refuse(text: str) -> None:
    try:
        parse_campaign(text)
    except ConfigError:
        return
    raise AssertionError("the alias bomb was accepted")


def main() -> None:
    rows = []
    for n in (1_000, 50_000):
        batch = events(n)
        body = json.dumps(batch).encode()
        loads = best(lambda b=body: json.loads(b))
        depth = best(lambda b=body: json_depth(b))
        collector = best(lambda b=body: fast_table(parse_body(b)[0]))
        bounds = best(lambda x=batch: validate_items(EventBounds, x))
        rows.append(
            [
                f"{n:,} events ({len(body) / 2**20:.1f} MiB)",
                f"{depth / loads:.2f}",
                f"{bounds / collector:.2f}",
                f"{depth * 1e3:.1f} / {loads * 1e3:.1f}",
                f"{bounds * 1e3:.1f} / {collector * 1e3:.1f}",
            ]
        )
    example = (ROOT / "examples" / "double11.yaml").read_text(encoding="utf-8")
    load = best(lambda: parse_campaign(example))
    refused = best(lambda: refuse(bomb()))
    text = table(
        [
            "batch",
            "depth scan ÷ json.loads",
            "event bounds ÷ collector parse + Arrow",
            "depth / loads ms",
            "bounds / collector ms",
        ],
        rows,
    )
    text += (
        f"\n\nA {len(bomb()):,}-byte YAML alias bomb (9⁹ values) is refused in "
        f"{refused * 1e3:.1f} ms = **{refused / load:.2f}×** the time to load and check "
        f"examples/double11.yaml ({load * 1e3:.1f} ms); before issue 21 it took 24.5 s and 4.8 GB."
    )
    load1 = __import__("os").getloadavg()[0]
    text += f"\n\nLoad average while measuring: {load1:.1f} on this machine's cores (shared)."
    record("edge", text)


if __name__ == "__main__":
    main()
