"""Two campaigns of one store in a row (issue #16 acceptance): a Double 11 and then a Double 12,
each simulated with incidents other than the demo's (another seed, other kinds of target, times
and targets; the Double 11 with targets of its own too), watched live and reviewed with its live
record; the Double 12 planned from the same warehouse with the Double 11 review's lessons
before its own days are loaded.

Checked for each campaign: every injected incident raises an alert naming its target within 30
minutes of its start (the monitor replays the 40 minutes around each incident, the hour before
loaded first — replaying whole days, or loading the whole campaign first, would take minutes);
the review names every incident in its findings with its time and an estimated loss (not ¥0);
every cross-check holds and each is stated with both figures; finding counts match their
severities. And the Double 12 plan cites at least two lessons of the Double 11 review.

Fast on purpose: 7 days of history instead of 400 (the same events at a tenth of the scale of the
demo make a store as busy on the peak day), one simulation and four 40-minute replays each.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT

D11_INCIDENTS = [  # the demo's: search_ads at 20:00, bot 03:00, ring 11-01 SC-002, SC-001 14:00
    "pay_failure@2026-11-11T00:00:organic",  # the midnight rush
    "stockout@2026-11-11T18:00:SKU-MK-002",
    "coupon_bot@2026-11-08T05:00",  # while the newcomer pool lasts
    "brushing@2026-11-04T13:00+60m:SKU-MK-003",
]
D12_INCIDENTS = [  # none of the demo's or the Double 11's targets and times
    # after the 20:00 rush (the D11's was at midnight). On 直接访问 it was not visible within 30
    # minutes at this tenth of the demo's scale once rules wait 10 minutes for a pay (pay_grace)
    # and ask 99% confidence: a handful of orders. 自然搜索 takes enough.
    "pay_failure@2026-12-12T20:30:organic",
    "stockout@2026-12-12T10:00:SKU-SC-003",
    "coupon_bot@2026-12-09T22:00",
    "brushing@2026-12-07T15:00+60m:SKU-FR-001",
]
WITHIN = timedelta(minutes=30)
LEAD = timedelta(hours=1)  # events loaded before each replay: the rules' references, not a week
TARGETS = {"gmv": 0.9, "paid_gmv": 0.9, "uv": 1.1}  # the D11 file's targets × these


def _named(alert: dict, incident: dict) -> bool:
    """Does the alert name the incident's target (its dimension or its root cause)?"""
    where = str(alert.get("dimension") or "")
    culprit = (alert.get("root_cause") or {}).get("culprit") or {}
    named = {where, f"{culprit.get('dimension')}={culprit.get('value')}"}
    wanted = {
        "pay_failure": f"channel={incident['channel']}",
        "stockout": f"sku_id={incident['sku']}",
        "coupon_bot": "kind=coupon_bots",
        "brushing": "kind=brushing",  # the fraud watch names the kind and lists the accounts
    }[incident["kind"]]
    return wanted in named


def _scaled_campaign(tmp_path: Path, fraction: float) -> Path:
    """The Double 11 file with shop-wide targets other than the example's, scaled to the sample."""
    import yaml

    source = tmp_path / "d11-source.yaml"
    data = yaml.safe_load((ROOT / "examples" / "double11.yaml").read_text(encoding="utf-8"))
    for item in data["targets"]:
        if item["metric"] in TARGETS and len(item) == 2:  # the shop-wide ones
            value = str(item["value"])
            unit = "万" if value.endswith("万") else ""
            item["value"] = f"{float(value.removesuffix('万')) * TARGETS[item['metric']]:g}{unit}"
    source.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return _write_scaled(source, tmp_path / "d11.yaml", fraction)


@pytest.mark.slow
def test_double11_then_double12(tmp_path: Path) -> None:
    from dacu.config import load_campaign
    from dacu.plan import write_plan
    from dacu.plan.lessons import read_lessons
    from dacu.plan.sources import read_history_warehouse

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    d11_sim, d11_truth = _simulate(
        ROOT / "examples" / "double11.yaml", tmp_path / "sim11", D11_INCIDENTS, seed=16
    )
    d11 = load_campaign(_scaled_campaign(tmp_path, _fraction(d11_truth)))
    _load(d11_sim, url)
    alerts = _watch(d11, d11_sim, d11_truth, tmp_path / "monitor11")
    _review(d11, url, alerts, d11_truth, tmp_path / "review11")

    # the Double 12 of the same store: planned from the warehouse (the Double 11 and its
    # history) with the Double 11 review's lessons before its own days are loaded
    d12_sim, d12_truth = _simulate(
        ROOT / "examples" / "double12.yaml", tmp_path / "sim12", D12_INCIDENTS, seed=1212
    )
    _write_scaled(ROOT / "examples" / "double12.yaml", tmp_path / "d12.yaml", _fraction(d12_truth))
    d12 = load_campaign(tmp_path / "d12.yaml")
    lessons = read_lessons(tmp_path / "review11")
    plan = write_plan(d12, tmp_path / "plan12", read_history_warehouse(url, d12), lessons=lessons)
    cited = [n for n in plan.notes if "依据 double11-2026" in n]
    assert len(cited) >= 2, plan.notes
    stored = json.loads((tmp_path / "plan12" / "plan.json").read_text(encoding="utf-8"))
    assert stored["notes"] == plan.notes

    # then run, watched and reviewed like the Double 11, with incidents of its own
    _load(d12_sim, url)
    alerts = _watch(d12, d12_sim, d12_truth, tmp_path / "monitor12")
    _review(d12, url, alerts, d12_truth, tmp_path / "review12")


def _write_scaled(source: Path, target: Path, fraction: float) -> Path:
    from dacu.demo import write_scaled_campaign

    write_scaled_campaign(source, target, fraction)
    return target


def _fraction(truth: dict) -> float:
    return float(truth["sizing"]["store_fraction"])


def _simulate(example: Path, out: Path, incidents: list[str], *, seed: int) -> tuple[Path, dict]:
    """The campaign file's store at a tenth of the demo's scale, a week of history before."""
    from dacu.config import load_campaign
    from dacu.sim import simulate

    result = simulate(
        load_campaign(example),
        out=out,
        scale=0.1,
        seed=seed,
        incidents=incidents,
        progress=False,
        days_before=7,
    )
    return out, result.truth


def _load(sim: Path, url: str) -> None:
    """Add the simulated events (every one new: no id of an earlier campaign's) and replace the
    reference tables (SKUs and their stock, spend, customers) by the simulation's."""
    from dacu.warehouse import open_warehouse

    wh = open_warehouse(url)
    try:
        events = pq.read_table(sim / "events.parquet")
        assert wh.append_events(events).inserted == events.num_rows
        for name in ("spend", "skus", "customers"):
            wh.load_reference(name, pq.read_table(sim / f"{name}.parquet"))
    finally:
        wh.close()


def _watch(campaign, sim: Path, truth: dict, folder: Path) -> list[dict]:
    """Every injected incident raises an alert naming its target within 30 minutes of its start;
    returns the alerts of all the replays (ids made unique) for the review."""
    from dacu.demo import replay_window

    alerts: list[dict] = []
    for k, incident in enumerate(truth["incidents"]):
        start = datetime.fromisoformat(incident["start"])
        since, until = start - timedelta(minutes=10), start + WITHIN + timedelta(minutes=1)
        path = replay_window(campaign, sim, folder / str(k), since, until, show=False, lead=LEAD)
        log = json.loads(path.read_text(encoding="utf-8"))
        timely = [
            a for a in log if start <= datetime.fromisoformat(a["opened_at"]) <= start + WITHIN
        ]
        assert any(_named(a, incident) for a in timely), (
            incident["kind"],
            [(a["opened_at"], a.get("dimension"), a["message"][:40]) for a in log],
        )
        alerts += [{**a, "id": f"{k}-{a['id']}"} for a in log]
    return alerts


def _review(campaign, url: str, alerts: list[dict], truth: dict, out: Path) -> None:
    """The review names every incident in its findings with its time and estimated loss; every
    cross-check holds, stated with both figures; finding counts match their severities."""
    from dacu.report.commands import write_review

    write_review(campaign, url, out, alerts=alerts, with_attribution=False)
    review = json.loads((out / "review.json").read_text(encoding="utf-8"))
    rows = next(
        t["rows"] for s in review["sections"] for t in s["tables"] if t["id"] == "incidents"
    )
    findings = [f["text"]["zh"] for f in review["findings"]]
    for incident in truth["incidents"]:
        start = datetime.fromisoformat(incident["start"])
        fraud = incident["kind"] in ("brushing", "coupon_bot")  # a ring of the fraud model
        target = "风控" if fraud else incident["sku"] or incident["channel"]
        near = [
            r
            for r in rows
            if r["start"]
            and start <= datetime.fromisoformat(r["start"]) <= start + timedelta(hours=1)
            and (
                target in r["where"]
                or target in r["rule"]
                or _label(campaign, target) in r["where"]
            )
            and r["loss_fen"]  # an estimate, and a loss: never ¥0.00 for a real incident
        ]
        assert near, (incident["kind"], incident["start"], [(r["start"], r["where"]) for r in rows])
        stamp = near[0]["start"][5:16].replace("T", " ")
        assert any(stamp in f and "估计损失 ¥" in f for f in findings), (stamp, findings)

    # every cross-check holds, stated with both figures; a failed one would be a 数据异常
    checks = next(
        t["rows"] for s in review["sections"] for t in s["tables"] if t["id"] == "cross_checks"
    )
    assert {c["check"] for c in checks} >= {
        "coupon_redeemed_le_issued",
        "units_le_stock",
        "paid_le_placed",
        "refund_le_paid",
        "buyers_le_uv",
    }
    assert all(c["ok"] and c["left"] <= c["right"] for c in checks), checks
    assert not any(f.startswith("数据异常") for f in findings)
    headline = next(s for s in review["sections"] if s["id"] == "findings")["headline"]["zh"]
    counts = {sev: sum(f["severity"] == sev for f in review["findings"]) for sev in ("bad", "warn")}
    assert f"{counts['bad']} 条需要改进" in headline or counts["bad"] == 0
    assert f"{counts['warn']} 条需要关注" in headline or counts["warn"] == 0


def _label(campaign, value: str) -> str:
    return next((c.name or c.id for c in campaign.channels if c.id == value), value)
