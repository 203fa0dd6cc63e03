"""Replay to a collector: a tiny local HTTP receiver, and pacing checked with a fake clock."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pyarrow.compute as pc
import pytest

from dacu.errors import DacuError
from dacu.sim.replay import load_window, replay, stream_window


class _Receiver(BaseHTTPRequestHandler):
    batches: ClassVar[list] = []
    headers_seen: ClassVar[list] = []
    status: ClassVar[int] = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).batches.append(json.loads(body))
        type(self).headers_seen.append(self.headers.get("Authorization"))
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.batches, _Receiver.headers_seen, _Receiver.status = [], [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)  # a free port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/events"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def d0_window(small_sim, double11):
    start = datetime(2026, 11, 11, 20, tzinfo=double11.tz)
    end = datetime(2026, 11, 11, 21, tzinfo=double11.tz)
    return load_window(small_sim["out"] / "events.parquet", start, end)


def test_replay_posts_all_events_in_time_order_with_the_key(receiver, d0_window):
    stats = replay(d0_window, receiver, speed=0, key="k-123", batch_size=100)
    got = [event for batch in _Receiver.batches for event in batch]
    assert stats.events == len(got) == d0_window.num_rows > 300
    assert stats.batches == len(_Receiver.batches) == -(-d0_window.num_rows // 100)
    assert set(_Receiver.headers_seen) == {"Bearer k-123"}
    times = [datetime.fromisoformat(e["ts"]) for e in got]
    assert times == sorted(times) and times[0].utcoffset().total_seconds() == 0
    assert [e["event_id"] for e in got] == d0_window["event_id"].to_pylist()
    assert set(got[0]) == set(d0_window.column_names)


def test_replay_is_bounded_by_max_events(receiver, d0_window):
    stats = replay(d0_window, receiver, speed=0, batch_size=64, max_events=150)
    assert stats.events == 150 == sum(len(b) for b in _Receiver.batches)


def test_pacing_follows_speed_with_a_fake_clock(d0_window):
    """At ×60 one simulated hour takes one real minute: the loop sleeps ≈ 60 s in total."""
    now = [0.0]
    sent: list[int] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    stats = replay(
        d0_window,
        "unused",
        speed=60,
        post=lambda rows: sent.append(len(rows)),
        clock=lambda: now[0],
        sleep=sleep,
    )
    ts = pc.cast(d0_window["ts"], "int64").to_numpy()
    span = (ts[-1] - ts[0]) / 1e6 / 60  # simulated seconds / speed
    assert sum(sent) == d0_window.num_rows
    assert span - 1.5 < stats.slept <= span + 1e-6
    assert stats.slept > 50  # the window spans most of the hour


def test_replay_max_seconds_stops_the_loop(d0_window):
    now = [0.0]
    stats = replay(
        d0_window,
        "unused",
        speed=1,
        post=lambda rows: None,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
        max_seconds=30,
    )
    assert 0 < stats.events < d0_window.num_rows


def test_collector_errors_are_reported(receiver, d0_window):
    _Receiver.status = 401
    with pytest.raises(DacuError, match=r"answered 401"):
        replay(d0_window, receiver, speed=0, max_events=10)


def test_missing_events_file_is_named(tmp_path):
    from dacu.errors import InputError

    with pytest.raises(InputError, match=r"events\.parquet: no events to replay"):
        load_window(tmp_path / "events.parquet")


def test_streamed_window_is_the_sorted_window(small_sim, double11):
    """Pieces from the reorder buffer, concatenated, are exactly the window sorted in memory."""
    path = small_sim["out"] / "events.parquet"
    whole = load_window(path, double11.start, double11.end)
    pieces = list(stream_window(path, double11.start, double11.end, batch_rows=4_000))
    assert len(pieces) >= 5  # the file is read in batches
    assert [p for piece in pieces for p in piece["event_id"].to_pylist()] == whole[
        "event_id"
    ].to_pylist()


def test_replay_of_streamed_pieces_keeps_one_clock(small_sim, double11):
    now = [0.0]
    sent: list[int] = []
    path = small_sim["out"] / "events.parquet"
    pieces = stream_window(path, double11.start, double11.end, batch_rows=4_000)
    stats = replay(
        pieces,
        "unused",
        speed=3600,
        post=lambda rows: sent.append(len(rows)),
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
        batch_size=5000,
    )
    span = (double11.end - double11.start).total_seconds() / 3600  # ≈ 624 s at ×3600
    assert sum(sent) == stats.events > 10_000
    assert span * 0.9 < stats.slept <= span
