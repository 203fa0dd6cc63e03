"""Two campaigns of one store in a row (issue #16, reduced): a Double 11 simulated with incidents
other than the demo's (another seed, times and targets), reviewed with its live record; then the
Double 12 planned from the same warehouse with the Double 11 review's lessons.

What is checked here: the injected brushing ring and coupon bot are incidents of the review with
their time and estimated loss, among its findings; every cross-check the review lists is stated
with both figures and each failed one is a 数据异常 finding; the Double 12 plan cites at least two
lessons of the Double 11 review. (The live alert of each injected incident within 30 minutes is
the monitor's evaluation, checked by tests/test_demo.py and tests/monitor.)"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT

D11_INCIDENTS = [
    "brushing@2026-11-04T13:00:SKU-MK-003",  # the demo's ring is on 11-01 10:00, SKU-SC-002
    "coupon_bot@2026-11-11T05:00",  # the demo's bot is at 03:00
]


@pytest.mark.slow
def test_double11_then_double12(tmp_path: Path) -> None:
    from dacu.config import load_campaign
    from dacu.demo import write_scaled_campaign
    from dacu.plan import write_plan
    from dacu.plan.lessons import read_lessons
    from dacu.plan.sources import read_history_warehouse
    from dacu.report.commands import write_review
    from dacu.sim import simulate
    from dacu.warehouse import open_warehouse

    example = load_campaign(ROOT / "examples" / "double11.yaml")
    result = simulate(
        example,
        out=tmp_path / "sim",
        scale=0.03,
        seed=16,
        incidents=D11_INCIDENTS,
        progress=False,
        days_before=30,
    )
    fraction = float(result.truth["sizing"]["store_fraction"])
    write_scaled_campaign(ROOT / "examples" / "double11.yaml", tmp_path / "d11.yaml", fraction)
    d11 = load_campaign(tmp_path / "d11.yaml")
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = open_warehouse(url)
    try:
        wh.append_events(pq.read_table(tmp_path / "sim" / "events.parquet"))
        for name in ("spend", "skus", "customers"):
            wh.load_reference(name, pq.read_table(tmp_path / "sim" / f"{name}.parquet"))
    finally:
        wh.close()
    write_review(d11, url, tmp_path / "review", alerts=[])
    review = json.loads((tmp_path / "review" / "review.json").read_text(encoding="utf-8"))

    # every injected fraud incident is an incident of the review, at its time, with a loss
    rows = next(
        t["rows"] for s in review["sections"] for t in s["tables"] if t["id"] == "incidents"
    )
    rings = [r for r in rows if r["rule"].startswith("风控")]
    findings = [f["text"]["zh"] for f in review["findings"]]
    for truth in result.truth["incidents"]:
        if truth["kind"] not in ("brushing", "coupon_bot"):
            continue
        start, end = (datetime.fromisoformat(truth[k]) for k in ("start", "end"))
        found = [
            r
            for r in rings
            if start <= datetime.fromisoformat(r["start"]) < end + timedelta(hours=1)
        ]
        assert found, (truth["kind"], truth["start"], [r["start"] for r in rings])
        ring = found[0]
        assert ring["loss_fen"] > 0
        stamp = ring["start"][5:16].replace("T", " ")
        assert any(stamp in f and "估计损失" in f for f in findings), (stamp, findings)

    # the cross-checks are stated with both figures; each failed one is a 数据异常 finding
    checks = next(
        t["rows"] for s in review["sections"] for t in s["tables"] if t["id"] == "cross_checks"
    )
    assert {c["check"] for c in checks} >= {
        "units_le_stock",
        "paid_le_placed",
        "refund_le_paid",
        "buyers_le_uv",
    }
    failed = [c for c in checks if not c["ok"]]
    assert sum(f.startswith("数据异常") for f in findings) == len(failed)
    for c in checks:
        assert (c["left"] <= c["right"]) == c["ok"]
    headline = next(s for s in review["sections"] if s["id"] == "findings")["headline"]["zh"]
    counts = {sev: sum(f["severity"] == sev for f in review["findings"]) for sev in ("bad", "warn")}
    assert f"{counts['bad']} 条需要改进" in headline or counts["bad"] == 0
    assert f"{counts['warn']} 条需要关注" in headline or counts["warn"] == 0

    # the Double 12, planned from the same warehouse, cites the Double 11 lessons
    write_scaled_campaign(ROOT / "examples" / "double12.yaml", tmp_path / "d12.yaml", fraction)
    d12 = load_campaign(tmp_path / "d12.yaml")
    lessons = read_lessons(tmp_path / "review")
    plan = write_plan(d12, tmp_path / "plan12", read_history_warehouse(url, d12), lessons=lessons)
    cited = [n for n in plan.notes if "依据 double11-2026" in n]
    assert len(cited) >= 2, plan.notes
    stored = json.loads((tmp_path / "plan12" / "plan.json").read_text(encoding="utf-8"))
    assert stored["notes"] == plan.notes
