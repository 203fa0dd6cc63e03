"""Coupon cost/redemption, flash refusals and recall results of the review, each checked against
plain Python over the simulator's parquet (not dacu.metrics, not the report's queries)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import ROOT

ISSUED = 300  # store coupons claimed in the test's flash store


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """120 days of history (so some customers are lapsed at the start), a flash store with
    claims and refusals, and the review written with --store."""
    from dacu.config import load_campaign
    from dacu.flash import Who, load_flash, open_store
    from dacu.report.commands import write_review
    from dacu.sim import simulate
    from dacu.warehouse import open_warehouse

    root = tmp_path_factory.mktemp("coupons")
    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    simulate(campaign, out=root / "sim", scale=0.02, seed=5, progress=False, days_before=120)
    url = f"duckdb:///{root / 'w.duckdb'}"
    wh = open_warehouse(url)
    try:
        wh.append_events(pq.read_table(root / "sim" / "events.parquet"))
    finally:
        wh.close()
    store_url = f"sqlite:///{root / 'flash.db'}"
    now = (campaign.start + timedelta(hours=1)).timestamp()
    store = open_store(store_url, load_flash(campaign), clock=lambda: now)
    try:
        for i in range(ISSUED):  # the 2nd claim of c0 below is refused (限领 1)
            store.claim("store-coupon-20", Who(f"c{i}", device=f"d{i}"), key=f"k{i}")
        store.claim("store-coupon-20", Who("c0", device="d0"), key="again")
        store.claim("nope", Who("c9", device="d9"), key="unknown")
    finally:
        store.close()
    write_review(campaign, url, root / "out", store=store_url)
    review = json.loads((root / "out" / "review.json").read_text(encoding="utf-8"))
    events = pq.read_table(root / "sim" / "events.parquet").to_pylist()
    truth = json.loads((root / "sim" / "truth.json").read_text(encoding="utf-8"))
    return {
        "campaign": campaign,
        "review": review,
        "events": events,
        "truth": truth,
        "out": root / "out",
    }


def _table(review: dict, table_id: str) -> list[dict]:
    return next(t["rows"] for s in review["sections"] for t in s["tables"] if t["id"] == table_id)


def _in_window(world: dict, row: dict) -> bool:
    c = world["campaign"]
    return c.start <= row["ts"] < c.end


def test_coupon_cost_and_redemption_match_the_parquet(world: dict) -> None:
    orders: dict[str, set] = defaultdict(set)
    paid: dict[str, int] = defaultdict(int)
    for r in world["events"]:
        v = r["variant"]
        if r["event"] == "pay" and v and v.startswith("coupon:") and _in_window(world, r):
            orders[v[7:]].add(r["order_id"])
            paid[v[7:]] += r["amount_fen"]
    # the sim's own record of each template's discount (truth.json), not dacu.flash's loader
    value = {c["id"]: c["discount_fen"] for c in world["truth"]["promotions"]["coupons"]}
    rows = {r["template"]: r for r in _table(world["review"], "coupons")}
    assert set(rows) == {"store-coupon-20", "newcomer-30"}
    assert sum(len(o) for o in orders.values()) > 0
    for tid, row in rows.items():
        assert row["redeemed"] == len(orders[tid])
        assert row["paid_gmv_fen"] == paid[tid]
        assert row["cost_fen"] == len(orders[tid]) * value[tid]  # e.g. n × 2000 fen (¥20)
    # issued from the store: ISSUED store coupons claimed, 0 newcomer ones
    assert rows["store-coupon-20"]["issued"] == ISSUED
    assert rows["store-coupon-20"]["redemption_rate"] == pytest.approx(
        len(orders["store-coupon-20"]) / ISSUED
    )
    assert rows["newcomer-30"]["issued"] == 0
    assert rows["newcomer-30"]["redemption_rate"] is None


def test_refusals_by_reason_from_the_audit_trail(world: dict) -> None:
    rows = _table(world["review"], "refusals")
    got = {(r["target"], r["reason"]): r["count"] for r in rows}
    assert got == {("store-coupon-20", "limit_reached"): 1, ("nope", "unknown_template"): 1}
    assert any("已达限领" in r["message"] for r in rows)


def test_recall_matches_the_parquet(world: dict) -> None:
    start = world["campaign"].start
    last: dict[str, object] = {}
    window_gmv: dict[str, int] = defaultdict(int)
    for r in world["events"]:
        if r["event"] != "pay":
            continue
        if r["ts"] < start:
            last[r["user_id"]] = max(last.get(r["user_id"], r["ts"]), r["ts"])
        elif _in_window(world, r):
            window_gmv[r["user_id"]] += r["amount_fen"]
    days = {u: int((start - t).total_seconds() // 86_400) for u, t in last.items()}
    bands = [(30, 90), (91, 180), (181, 10**6)]
    rows = _table(world["review"], "recall")
    for (low, high), row in zip(bands, rows[:3], strict=True):
        lapsed = {u for u, d in days.items() if low <= d <= high}
        back = lapsed & set(window_gmv)
        assert (row["lapsed"], row["recalled"]) == (len(lapsed), len(back))
        assert row["recalled_gmv_fen"] == sum(window_gmv[u] for u in back)
    lapsed = {u for u, d in days.items() if d >= 30}
    back = lapsed & set(window_gmv)
    total = rows[3]
    assert total["lapsed"] == len(lapsed) > 0 and total["recalled"] == len(back) > 0
    assert total["recall_rate"] == pytest.approx(len(back) / len(lapsed))


def test_new_tables_are_in_every_document(world: dict) -> None:
    from openpyxl import load_workbook
    from pptx import Presentation

    html = (world["out"] / "review.html").read_text(encoding="utf-8")
    assert "核销率" in html and "召回率" in html and "limit_reached" in html
    cells = {
        str(c.value)
        for ws in load_workbook(world["out"] / "review.xlsx")
        for row in ws.iter_rows()
        for c in row
        if c.value is not None
    }
    assert {"store-coupon-20", "limit_reached"} <= cells
    assert any("召回" in c for c in cells)
    text = [
        sh.text_frame.text if sh.has_text_frame else ""
        for slide in Presentation(world["out"] / "review.pptx").slides
        for sh in slide.shapes
    ]
    tables = [
        sh.table
        for slide in Presentation(world["out"] / "review.pptx").slides
        for sh in slide.shapes
        if sh.has_table
    ]
    cells_pptx = {c.text for t in tables for row in t.rows for c in row.cells}
    assert "store-coupon-20" in cells_pptx and any("召回" in x for x in text + list(cells_pptx))


def test_without_a_store_the_rate_is_unknown(reviewed: dict) -> None:
    review = json.loads((reviewed["out"] / "review.json").read_text(encoding="utf-8"))
    rows = _table(review, "coupons")
    assert rows and all(r["issued"] is None and r["redemption_rate"] is None for r in rows)
    notes = [n["en"] for s in review["sections"] for n in s["notes"]]
    assert any(n.startswith("Issued unknown (no --store)") for n in notes)
    assert any(n.startswith("No flash store given (--store URL)") for n in notes)


@given(st.integers(0, 10**9), st.floats(1, 90), st.integers(0, 10**4))
def test_percent_off_cost_restores_the_price_before_the_coupon(
    paid: int, pct: float, n: int
) -> None:
    from dacu.report.promotions import coupon_cost

    class Template:
        discount, percent_off = None, pct

    # paid = before × (1 − pct/100) ⇒ before − paid = paid × pct / (100 − pct), to the fen
    before = paid / (1 - pct / 100)
    assert abs(coupon_cost(Template, n, paid) - (before - paid)) <= 0.5 + 1e-6 * before
    Template.discount = 2000
    assert coupon_cost(Template, n, paid) == n * 2000  # fixed value: ¥20 per redeemed order


def test_refusal_counts_ignore_successes() -> None:
    from dacu.flash import AuditEntry
    from dacu.report.promotions import refusal_counts

    entries = [
        AuditEntry(1, "claim", "a", "c1", None, None, "ok"),
        AuditEntry(2, "claim", "a", "c1", None, None, "limit_reached"),
        AuditEntry(3, "reserve", "s", "c2", None, None, "sold_out"),
        AuditEntry(4, "reserve", "s", "c3", None, None, "sold_out"),
    ]
    assert refusal_counts(entries) == [
        {"op": "reserve", "target": "s", "reason": "sold_out", "count": 2},
        {"op": "claim", "target": "a", "reason": "limit_reached", "count": 1},
    ]


def test_a_missing_store_file_is_one_clear_error(reviewed: dict, tmp_path) -> None:
    from typer.testing import CliRunner

    from dacu.cli import app

    missing = tmp_path / "nope" / "flash.db"
    result = CliRunner().invoke(
        app,
        [
            "report",
            "review",
            "--campaign",
            str(ROOT / "examples" / "double11.yaml"),
            "-w",
            reviewed["url"],
            "--store",
            f"sqlite:///{missing}",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code != 0
    assert str(result.exception).startswith(f"{missing}: flash store not found")
    assert not missing.parent.exists() and not (tmp_path / "review.html").exists()


def test_findings_cite_redemption_and_recall(world: dict) -> None:
    review = world["review"]
    cites = {f["id"]: f["cites"] for f in review["findings"]}
    coupons = {r["template"]: r for r in _table(review, "coupons")}
    rate = coupons["store-coupon-20"]["redemption_rate"]
    assert 0 < rate < 0.2  # redeemed (a few dozen at this scale) ÷ 300 issued
    assert cites["coupon-low-store-coupon-20"] == (
        f"investment/coupons: store-coupon-20 redemption_rate={rate:.4f}"
    )
    assert "coupon-low-newcomer-30" not in cites  # none issued: no rate, no finding
    total = _table(review, "recall")[-1]
    assert cites["recall"] == f"customers/recall: recall_rate={total['recall_rate']:.4f}"
