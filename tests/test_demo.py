"""`make demo` end to end at a small scale: every stage writes what the README promises."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from dacu.config import load_campaign
from dacu.demo import EXAMPLE, run_demo


@pytest.mark.slow
def test_demo_writes_every_stage(tmp_path: Path) -> None:
    written = run_demo(tmp_path, scale=0.05)
    for name in ("campaign", "warehouse", "plan", "plan.xlsx", "alerts", "review.html",
                 "review.xlsx", "review.pptx", "review.json"):
        assert written[name].exists(), name

    truth = json.loads((tmp_path / "sim" / "truth.json").read_text(encoding="utf-8"))
    fraction = truth["sizing"]["store_fraction"]
    original, scaled = load_campaign(EXAMPLE), load_campaign(written["campaign"])
    # volumes scale with the simulated share of the store; ratios and prices do not
    assert scaled.target("gmv").value_fen == pytest.approx(original.target("gmv").value_fen * fraction,
                                                           abs=1)
    assert scaled.target("cvr").value == original.target("cvr").value
    assert scaled.target("asp").value_fen == original.target("asp").value_fen
    assert scaled.budget is not None and original.budget is not None
    assert scaled.budget.total == pytest.approx(original.budget.total * fraction, abs=1)
    alerts = json.loads(written["alerts"].read_text(encoding="utf-8"))
    assert isinstance(alerts, list)
    # the peak day is replayed after the campaign's earlier days were backfilled without alerts,
    # and each alert is logged at its event time (not when the replay ran)
    peak = scaled.peak_day
    assert all(datetime.fromisoformat(a["opened_at"]).astimezone(scaled.tz).date() == peak
               for a in alerts), [a["opened_at"] for a in alerts]
