"""Importing the real Taobao UserBehavior samples; counts checked with plain Python over the CSV."""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dacu.metrics import kpis
from dacu.warehouse.importers import import_taobao
from tests.warehouse.conftest import count

FULL9 = "taobao_userbehavior/userbehavior_first43users_full9days.csv"
STREAM = "taobao_userbehavior/userbehavior_stream_20171126_0100-0310utc.csv.gz"


def _rows(path: Path) -> list[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def _plain_counts(rows: list[list[str]]) -> dict[str, dict[str, int]]:
    """Per China day (UTC+8): UV (users with a pv or a buy), PV rows, buyers — plain Python."""
    uv, pv, buyers = defaultdict(set), defaultdict(int), defaultdict(set)
    for user, _item, _cat, behavior, ts in rows:
        day = (datetime.fromtimestamp(int(ts), UTC) + timedelta(hours=8)).date().isoformat()
        if behavior in ("pv", "buy"):
            uv[day].add(user)
        if behavior == "pv":
            pv[day] += 1
        if behavior == "buy":
            buyers[day].add(user)
    return {
        day: {"uv": len(uv[day]), "pv": pv[day], "buyers": len(buyers[day])}
        for day in set(uv) | set(pv)
    }


def test_full9days_counts_per_day_match_plain_python(wh, shared_data):
    path = shared_data / FULL9
    report = import_taobao(wh, path)
    rows = _rows(path)
    buys = sum(1 for r in rows if r[3] == "buy")
    assert report.rows_read == len(rows) == 4321
    assert report.inserted == len(rows) + buys  # each buy → order + pay: 4321 + 77
    got = {r["day"].isoformat(): r for r in wh.to_arrow(kpis(wh.events(), by=("day",))).to_pylist()}
    expected = _plain_counts(rows)
    assert set(got) == set(expected)  # includes the stray 2017-09-11 row of the original data
    for day, want in expected.items():
        assert {k: got[day][k] for k in want} == want, day
    total = wh.to_arrow(kpis(wh.events(), by=())).to_pylist()[0]
    assert total["pv"] == 3926 and total["buyers"] == len({r[0] for r in rows if r[3] == "buy"})
    assert total["orders"] == total["paid_orders"] == 77  # README: buy 77


def test_stream_sample_totals_match_readme_and_python(wh, shared_data):
    path = shared_data / STREAM
    import_taobao(wh, path)
    rows = _rows(path)
    total = wh.to_arrow(kpis(wh.events(), by=())).to_pylist()[0]
    assert total["pv"] == 98361  # README: pv 98,361
    assert total["uv"] == len({r[0] for r in rows if r[3] in ("pv", "buy")})
    assert total["buyers"] == len({r[0] for r in rows if r[3] == "buy"})
    assert total["cart_users"] == len({r[0] for r in rows if r[3] == "cart"})


def test_reimport_adds_nothing(wh, shared_data):
    path = shared_data / FULL9
    first = import_taobao(wh, path)
    again = import_taobao(wh, path)
    assert (again.inserted, again.duplicates) == (0, first.inserted)
    assert count(wh) == first.inserted


def test_buy_becomes_order_and_pay_with_one_order_id(wh, shared_data):
    import_taobao(wh, shared_data / FULL9)
    e = wh.events()
    b = e.filter(e.event.isin(["order", "pay"]))
    buys = wh.to_arrow(b.group_by("order_id").agg(n=b.count(), kinds=b.event.nunique()))
    assert set(buys["n"].to_pylist()) == {2} and set(buys["kinds"].to_pylist()) == {2}
