"""Property tests: random event logs against a plain-Python second implementation of the KPIs."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dacu.events import EVENT_SCHEMA
from dacu.metrics import identity_holds, kpis
from dacu.warehouse import open_warehouse

START = datetime(2024, 11, 10, 22, 0, tzinfo=UTC)
KINDS = ["impression", "click", "pv", "cart", "fav", "order", "pay", "refund"]

event = st.tuples(
    st.integers(0, 6 * 60),  # minutes after START (crosses the Beijing day)
    st.sampled_from(["u1", "u2", "u3", "u4", "u5"]),
    st.integers(0, 4),  # session number of the user (None when 4)
    st.sampled_from(KINDS),
    st.sampled_from(["search_ads", "content", None]),
    st.integers(0, 500_000),  # amount in fen
    st.integers(0, 3),  # order number
)


def _table(rows: list[tuple]) -> pa.Table:
    data: dict[str, list] = defaultdict(list)
    for i, (minute, user, sess, kind, channel, amount, order) in enumerate(rows):
        money = kind in ("order", "pay", "refund")
        data["event_id"].append(f"e{i}")
        data["ts"].append(START + timedelta(minutes=minute))
        data["user_id"].append(user)
        data["session_id"].append(None if sess == 4 else f"{user}-{sess}")
        data["event"].append(kind)
        data["channel"].append(channel)
        data["amount_fen"].append(amount if money else None)
        data["order_id"].append(f"{user}-o{order}" if money else None)
        data["quantity"].append(1 if money else None)
    schema = pa.schema([EVENT_SCHEMA.field(n) for n in data])
    return pa.table(dict(data), schema=schema)


def _reference(table: pa.Table) -> dict[str, dict[str, int]]:
    """Per entry channel: uv, buyers, paid, pv, sessions, bounced — written independently."""
    rows = table.to_pylist()
    sessions: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        sessions[r["session_id"] or r["event_id"]].append(r)
    entry = {
        sid: min(evs, key=lambda r: r["ts"])["channel"] or "unknown"
        for sid, evs in sessions.items()
    }
    out: dict[str, dict] = defaultdict(
        lambda: {"uv": set(), "buyers": set(), "paid": 0, "pv": 0, "sessions": 0, "bounced": 0}
    )
    for r in rows:
        cell = out[entry[r["session_id"] or r["event_id"]]]
        if r["event"] in ("pv", "pay"):
            cell["uv"].add(r["user_id"])
        if r["event"] == "pay":
            cell["buyers"].add(r["user_id"])
            cell["paid"] += r["amount_fen"]
        cell["pv"] += r["event"] == "pv"
    for sid, evs in sessions.items():
        kinds = [r["event"] for r in evs]
        if "pv" in kinds:
            cell = out[entry[sid]]
            cell["sessions"] += 1
            acts = sum(k in ("cart", "fav", "order", "pay") for k in kinds)
            cell["bounced"] += kinds.count("pv") == 1 and acts == 0
    return {
        ch: {
            "uv": len(c["uv"]),
            "buyers": len(c["buyers"]),
            "paid_gmv_fen": c["paid"],
            "pv": c["pv"],
            "sessions": c["sessions"],
            "bounced_sessions": c["bounced"],
        }
        for ch, c in out.items()
    }


WH = open_warehouse("duckdb://:memory:")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event, min_size=1, max_size=60))
def test_kpis_match_a_second_implementation_and_the_identity_holds(rows):
    table = _table(rows)
    WH.staging().execute("DELETE FROM events")
    WH.append_events(table)
    by_channel = WH.to_arrow(kpis(WH.events(), by=("channel",))).to_pylist()
    by_hour = WH.to_arrow(kpis(WH.events(), by=("hour", "channel", "day"))).to_pylist()
    expected = _reference(table)
    got = {r["channel"]: {k: r[k] for k in expected[r["channel"]]} for r in by_channel}
    assert got == expected
    for row in by_channel + by_hour:
        assert identity_holds(row), row
        assert row["buyers"] <= row["uv"]  # buyers are visitors (a pay is a visit)
    assert sum(r["paid_gmv_fen"] for r in by_hour) == sum(
        r["amount_fen"] for r in table.to_pylist() if r["event"] == "pay"
    )
