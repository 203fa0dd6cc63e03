"""Shared by every benchmark: write one section of BENCHMARKS.md, measure peak memory.

Each benchmark owns the section between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; running
it again replaces that section only, so benchmarks can run in any order.
"""

from __future__ import annotations

import fcntl
import os
import platform
import resource
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
# The machine's load when the benchmark began (it imports this module first) — these machines are
# shared, so each section says how busy the machine was while it ran.
LOAD_AT_START = os.getloadavg()
HEADER = """# Benchmarks

Every figure is measured by `dacu bench NAME` (script `benchmarks/NAME.py`) and stated as a ratio
against a peer or a physical floor measured **in the same run**: these machines are shared and noisy,
so a single absolute time means little. Absolute times are given for orientation only. Each section
states the machine's load average at the start and at the end of its run. `make bench` reruns them
all on a fresh machine: peers that need their own environment (django-oscar, pymc-marketing) are
set up from PyPI under `.bench/` first, and the programs (wrk, redis-benchmark, a Redis server)
from the system's packages (`benchmarks/_peers.py`).
"""


def load_text(before: tuple[float, float, float], after: tuple[float, float, float]) -> str:
    """Load averages (1, 5, 15 min) at the start and at the end of the run."""

    def show(load: tuple[float, float, float]) -> str:
        return " / ".join(f"{x:.2f}" for x in load)

    return f"load average (1 / 5 / 15 min) {show(before)} at start, {show(after)} at end"


def machine_line() -> str:
    now = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M %Z")
    cores = len(os.sched_getaffinity(0))
    load = load_text(LOAD_AT_START, os.getloadavg())
    return (
        f"_Measured {now} on {platform.machine()}, {cores} cores, "
        f"Python {platform.python_version()}; {load}._"
    )


def record(name: str, markdown: str) -> None:
    """Replace (or append) the section of benchmark `name` in BENCHMARKS.md."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    body = f"{begin}\n## {name}\n\n{machine_line()}\n\n{markdown.strip()}\n{end}"
    with open(BENCHMARKS_MD.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = BENCHMARKS_MD.read_text(encoding="utf-8") if BENCHMARKS_MD.exists() else HEADER
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            _, tail = rest.split(end, 1)
            text = head + body + tail
        else:
            text = text.rstrip() + "\n\n" + body + "\n"
        BENCHMARKS_MD.write_text(text, encoding="utf-8")
    print(body)


def peak_rss_mib(children: bool = False) -> float:
    """Peak resident memory of this process (or its finished children) in MiB."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def table(header: list[str], rows: list[list[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
