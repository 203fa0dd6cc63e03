"""Properties: the engine's fraud features equal a plain-Python count on random event logs; the
burst detector ignores positive posts."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dacu.analyze.fraud.features import customer_features

T0 = datetime(2026, 11, 11, tzinfo=UTC)
EVENTS = ("pv", "click", "cart", "order", "pay")

row = st.tuples(
    st.sampled_from(["u1", "u2", "u3"]),
    st.sampled_from(["s1", "s2"]),
    st.sampled_from(EVENTS),
    st.integers(0, 5000),
    st.sampled_from(["A", "B"]),
    st.integers(0, 3),
)


def _table(rows):
    orders = [f"o{r[0]}{r[5]}" if r[2] in ("order", "pay") else None for r in rows]
    return pa.table(
        {
            "user_id": [r[0] for r in rows],
            "session_id": [r[0] + r[1] for r in rows],
            "event": [r[2] for r in rows],
            "ts": pa.array([T0 + timedelta(seconds=r[3]) for r in rows], pa.timestamp("us", "UTC")),
            "sku_id": [r[4] for r in rows],
            "amount_fen": pa.array([100] * len(rows), pa.int64()),
            "order_id": orders,
            "variant": pa.array([None] * len(rows), pa.string()),
            "region": ["x"] * len(rows),
            "device": ["ios"] * len(rows),
        }
    )


def _expected(rows) -> dict[str, dict]:
    """The same features by hand: counts per user, orders in sessions without browsing, and
    order→pay seconds from each order id's first order and first pay (positive ones only)."""
    out: dict[str, dict] = {}
    sessions: dict[tuple, set] = defaultdict(set)
    for u, s, e, *_ in rows:
        sessions[(u, s)].add(e)
    first: dict[tuple, dict[str, int]] = defaultdict(dict)
    for u, _, e, t, _, k in rows:
        if e in ("order", "pay"):
            slot = first[(u, k)]
            slot[e] = min(slot.get(e, t), t)
    for u in {r[0] for r in rows if r[2] == "order"}:
        mine = [r for r in rows if r[0] == u]
        waits = [
            v["pay"] - v["order"]
            for (uu, _), v in first.items()
            if uu == u and "order" in v and "pay" in v and v["pay"] > v["order"]
        ]
        out[u] = {
            "orders": sum(r[2] == "order" for r in mine),
            "views": sum(r[2] in ("pv", "click") for r in mine),
            "carts": sum(r[2] == "cart" for r in mine),
            "orders_no_browse": sum(
                r[2] == "order" for r in mine if not sessions[(u, r[1])] & {"pv", "click", "cart"}
            ),
            "distinct_skus": len({r[4] for r in mine if r[2] == "order"}),
            "mean_pay_seconds": sum(waits) / len(waits) if waits else None,
        }
    return out


@settings(max_examples=15, deadline=None)
@given(st.lists(row, min_size=1, max_size=25))
def test_engine_features_match_a_hand_count(rows):
    got = customer_features(ibis.memtable(_table(rows))).to_pandas().set_index("user_id")
    want = _expected(rows)
    assert sorted(got.index) == sorted(want)
    for user, expected in want.items():
        for key, value in expected.items():
            actual = got.loc[user, key]
            if value is None:
                assert actual != actual  # NaN: no measured pay
            else:
                assert actual == pytest.approx(value), (user, key)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 600), max_size=60), st.lists(st.integers(0, 600), max_size=200))
def test_positive_posts_never_change_the_bursts(negative_minutes, positive_minutes):
    from dacu.analyze.sentiment.burst import ScoredPost, detect_bursts

    def post(minute: int, positive: float) -> ScoredPost:
        return ScoredPost(T0 + timedelta(minutes=minute), "t", "s", "a", positive, ("客服",))

    negatives = [post(m, 0.1) for m in negative_minutes]
    positives = [post(m, 0.9) for m in positive_minutes]
    assert detect_bursts(negatives + positives) == detect_bursts(negatives)


@pytest.fixture(scope="module")
def compiled():
    """One compiled pipeline for every example, as the live watch keeps one for the day."""
    from dacu.analyze.fraud.features import CompiledFeatures

    pipeline = CompiledFeatures(_table([("u1", "s1", "pv", 0, "A", 0)]).schema, ["B"])
    yield pipeline
    pipeline.close()


@settings(max_examples=15, deadline=None)
@given(st.lists(row, min_size=1, max_size=25), st.integers(0, 5000), st.integers(0, 5000))
def test_compiled_features_equal_the_expressions(compiled, rows, a, b):
    """The live watch's compiled SQL on a window cut in Arrow gives exactly the frame and links
    of `customer_features`/`basket_links` with start/end (history before the window included)."""
    import pandas as pd
    import pyarrow.compute as pc

    from dacu.analyze.fraud.features import basket_links

    start, end = T0 + timedelta(seconds=min(a, b)), T0 + timedelta(seconds=max(a, b) + 1)
    history = _table(rows)
    ts = history["ts"]
    window = history.filter(pc.and_(pc.greater_equal(ts, start), pc.less(ts, end)))
    frame, links = compiled.run(history, window)
    table = ibis.memtable(history)
    want = customer_features(table, start=start, end=end, exclude_skus=["B"]).to_pandas()
    pd.testing.assert_frame_equal(frame, want)
    want_links = basket_links(table, start=start, end=end, exclude_skus=["B"]).to_pyarrow()
    rows_of = lambda t: sorted(zip(*t.to_pydict().values(), strict=True))  # noqa: E731
    assert rows_of(links) == rows_of(want_links)


features_row = st.fixed_dictionaries(
    {
        "orders": st.integers(1, 4),
        "views": st.integers(0, 3),
        "carts": st.integers(0, 2),
        "refunds": st.integers(0, 3),
        "orders_no_browse": st.integers(0, 2),
        "distinct_skus": st.integers(1, 3),
        "top_sku_orders": st.integers(1, 4),
        "mean_pay_seconds": st.sampled_from([2.0, 60.0, float("nan")]),
        "account_age_seconds": st.sampled_from([10.0, 5000.0]),
        "observed_seconds": st.sampled_from([100.0, 200_000.0]),
        "basket_peers": st.integers(0, 7),
        "top_sku": st.sampled_from(["A", "F"]),
    }
)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(features_row, min_size=1, max_size=40),
    st.lists(st.tuples(st.integers(0, 39), st.integers(0, 3)), max_size=40),
)
def test_every_flagged_account_is_a_candidate(rows, pairs):
    """`flag_candidates` (no forest) holds every account `score_customers` flags, whatever the
    forest scores: the live watch may skip the forest when all of them were alerted."""
    import pandas as pd

    from dacu.analyze.fraud import flag_candidates, score_customers

    features = pd.DataFrame(rows).assign(user_id=[f"c{i}" for i in range(len(rows))])
    links = [(f"c{i}", f"device:{d}") for i, d in pairs if i < len(rows)]
    scores = score_customers(features, links=links, flash_skus=["F"]).scores
    candidates = set(flag_candidates(features, links=links, flash_skus=["F"]).user_id)
    assert set(scores.user_id[scores.flagged]) <= candidates
    # exactly the accounts within the anomaly rule's 1 point of the flag's 3
    without_forest = scores.points - scores.anomaly
    assert candidates == set(scores.user_id[without_forest >= 2])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 90), st.booleans()), max_size=150),
    st.lists(st.integers(1, 4), min_size=1, max_size=40),
)
def test_the_streaming_watch_raises_what_a_full_look_each_tick_finds(posts, steps):
    """`SentimentWatch.due` skips ticks with no post added and no bucket closed; it raises the
    same bursts at the same ticks as detecting over every post before `now` at every tick."""
    from dacu.analyze.sentiment.burst import ScoredPost, detect_bursts
    from dacu.monitor.watch_risk import SentimentWatch

    scored = [
        (ScoredPost(T0 + timedelta(minutes=m), f"t{i}", "s", "a", 0.1, ("物流",)), late)
        for i, (m, late) in enumerate(posts)
    ]
    watch, seen, sent, now = SentimentWatch(), set(), set(), T0

    def send(late: bool) -> None:  # posts up to now; a "late" one only after the tick
        fresh = [p for p, is_late in scored if p.time < now and is_late == late]
        watch.add([p for p in fresh if p.text not in sent])
        sent.update(p.text for p in fresh)

    for step in steps:
        now += timedelta(minutes=step)
        send(late=False)
        got = watch.due(now)
        known = [p for p in watch.posts if p.time < now]
        want = [
            b
            for b in detect_bursts(known)
            if b.detected_at <= now and (b.topic, b.start) not in seen
        ]
        seen.update((b.topic, b.start) for b in want)
        send(late=True)
        assert got == want


def test_posts_that_arrive_late_for_a_closed_bucket_are_looked_at_the_next_tick():
    from dacu.analyze.sentiment.burst import ScoredPost
    from dacu.monitor.watch_risk import SentimentWatch

    watch = SentimentWatch()
    assert watch.due(T0 + timedelta(minutes=6)) == []  # the 00–05 bucket closed, empty
    watch.add(
        [ScoredPost(T0 + timedelta(minutes=1), f"t{i}", "s", "a", 0.1, ("物流",)) for i in range(6)]
    )
    [burst] = watch.due(T0 + timedelta(minutes=8))  # the same bucket of `now` as at 00:06
    assert (burst.start, burst.count) == (T0, 6)
