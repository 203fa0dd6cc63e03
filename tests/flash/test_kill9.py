"""Kill -9 of a worker in the middle of a burst, then restart it: the counts stay consistent,
nothing is lost and nothing is counted twice (every request is retried with its own key)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import ROOT
from tests.flash.helpers import T0, make_config
from tests.flash.test_concurrency import _url_of

CUSTOMERS = 2000


@pytest.fixture(autouse=True)
def _one_redis_mode(backend):
    if backend == "redis-split":
        pytest.skip("redis cluster mode: covered by the functional tests")


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start chaos workers; at teardown each is killed if still running and its pipe closed."""
    workers: list[subprocess.Popen] = []

    def start(url: str, config_path: str, first: int, last: int) -> subprocess.Popen:
        argv = ["chaos", url, config_path, str(first), str(last), str(T0)]
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.flash.workers", *argv],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.poll() is None:
            worker.kill()
        worker.communicate()  # reads what is left, closes the pipe, reaps the process


def _kill_after(worker: subprocess.Popen, lines: int) -> int:
    """Let the worker finish `lines` customers, then SIGKILL it; returns how many it reported."""
    done = 0
    for _ in worker.stdout:  # type: ignore[union-attr]
        done += 1
        if done >= lines:
            break
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    return done


def _finish(worker: subprocess.Popen) -> int:
    """Its exit code, its output drained (a full pipe would block it)."""
    worker.communicate(timeout=120)
    return worker.returncode


def test_kill9_mid_burst_then_restart(make_store, spawn, tmp_path):
    # stock 3000 and 5000 coupons: every one of the 2000 customers gets a unit and a coupon
    config = make_config(stock=3000, coupons=5000, rate=0)
    store = make_store(config)
    config_path = tmp_path / "config.json"
    config_path.write_text(config.model_dump_json(), encoding="utf-8")
    url, half = _url_of(store), CUSTOMERS // 2
    victim, survivor = (
        spawn(url, str(config_path), 0, half),
        spawn(url, str(config_path), half, CUSTOMERS),
    )
    done = _kill_after(victim, 300)
    assert victim.returncode == -signal.SIGKILL and done < half
    assert _finish(survivor) == 0
    assert store.check() == []  # consistent right after the kill, before any restart
    restarted = spawn(url, str(config_path), 0, half)
    assert _finish(restarted) == 0

    # i%3==0 confirmed: 0,3,…,1998 → 667 sold; i%3==1 cancelled: 667 back; i%3==2 held: 666
    stock = store.stock_counts("lipstick", "2000")
    assert (stock.sold, stock.reserved, stock.available) == (667, 666, 3000 - 667 - 666)
    # every customer claimed once → 2000 issued; even i redeemed (1000), i%4==0 released (500)
    coupons = store.coupon_counts("c20")
    assert (coupons.issued, coupons.redeemed, coupons.held, coupons.expired) == (2000, 500, 1500, 0)
    assert store.check() == []
