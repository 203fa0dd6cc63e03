"""Shared fixtures: paths, and the rule for tests that need a server.

A test that needs Redis, PostgreSQL, Spark or Chromium skips with a clear reason on a developer's
machine without it, and fails in CI (CI=true), where `.ci/run` provides every server.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """Skip (outside CI) or fail (in CI) when a server or tool a test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


@pytest.fixture
def examples_dir() -> Path:
    return ROOT / "examples"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"../shared/data not found at {SHARED_DATA}")
    return SHARED_DATA


def pytest_configure(config: pytest.Config) -> None:
    """The workspace outside the checkout from the start: module- and session-scoped fixtures
    that open the app run before any function fixture (`_workspace_outside_the_checkout`)."""
    import tempfile

    os.environ["DACU_WORKSPACE"] = tempfile.mkdtemp(prefix="dacu-workspace-")


@pytest.fixture(autouse=True)
def _workspace_outside_the_checkout(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web app's workspace (plans and reviews built from the browser) in the test's scratch
    folder: a test of any stage that opens the app must not write dacu-workspace/ into the repo."""
    monkeypatch.setenv("DACU_WORKSPACE", str(tmp_path_factory.getbasetemp() / "workspace"))


# The slowest test files, in seconds of wall time on the shared 2-core machine under load (setup
# included; only their order matters). `make test` sends whole files to its two workers
# (`--dist loadfile`: a file's module fixtures are built once) in this order: these first,
# heaviest first, then the other files with a `slow` test, then the rest in collection order,
# filling the gaps, so neither worker ends alone on a long file. Re-measure (`--durations=0`)
# when a file gets slow.
SLOWEST_FILES: dict[str, float] = {  # `--durations` of a full run, 2026-12-07
    "tests/analyze/test_rca_sim.py": 368,
    "tests/monitor/test_live.py": 353,
    "tests/test_demo.py": 304,
    "tests/monitor/test_dashboard_screens.py": 189,
    "tests/test_demo_third.py": 171,
    "tests/analyze/test_rca.py": 160,
    "tests/monitor/test_served_like_replay.py": 148,
    "tests/monitor/test_eventclock.py": 130,
    "tests/monitor/test_coupon_signal.py": 102,
    "tests/monitor/test_sold_out_shortfall.py": 77,
    "tests/monitor/test_fraud_watch_restart.py": 72,
    "tests/test_two_campaigns.py": 48,
    "tests/test_readme_tour.py": 47,
    "tests/analyze/test_engine_parity.py": 42,
    "tests/monitor/test_bounded_state.py": 41,
    "tests/web/test_workbench_browser.py": 40,
}


# pyspark 4.0's util._load_from_socket (each collect/toArrow) leaves its socket to the garbage
# collector, which warns; Spark 4.2 closes it (SPARK-54247). Ignored in the `spark` tests only.
PYSPARK_SOCKET_LEAK = (
    "ignore:unclosed <socket.socket:ResourceWarning",
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Heaviest files first (SLOWEST_FILES); `--no-loadscope-reorder` makes xdist keep the order."""
    for item in items:
        if item.get_closest_marker("spark"):
            for spec in PYSPARK_SOCKET_LEAK:
                item.add_marker(pytest.mark.filterwarnings(spec))
    slow_files = {_file(item) for item in items if item.get_closest_marker("slow")}
    items.sort(
        key=lambda item: (-SLOWEST_FILES.get(_file(item), 0.0), _file(item) not in slow_files)
    )


def _file(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]
