"""`dacu demo --scale 0.3`: what the live monitor cannot see at a third of the shop, the review
finds. Apart from tests/test_demo.py (`make demo` at its default scale) so that the two workers
of `make test` run the two demos side by side (a file goes to one worker whole)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from dacu.config import load_campaign
from dacu.demo import run_demo


@pytest.mark.slow
def test_the_review_finds_what_the_monitor_missed_at_a_third_of_the_shop(tmp_path: Path) -> None:
    """At scale 0.3 (about 90 s) the peak-day replay alerts neither the warmup day's brushing
    ring (it is not replayed) nor the 20:00 payment failure of 直通车; the review, with every
    event in hand, lists the ring as 刷单 on its SKU, marked found in review and not alerted live.

    The payment failure it cannot find, and says nothing false instead: at this scale 直通车
    took 2 orders from 20:00 to 21:00 and 1 went unpaid, beside 22 of 24 paid over the rest of
    its day (09:00 and 16:00 also had 1 of 2 unpaid, with no incident) — Fisher's p = 0.22, no
    evidence at any level. tests/report/test_after_the_fact.py finds the same injected failure
    on a full-size simulated day."""
    from dacu.monitor.settings import pay_grace
    from dacu.report.after_the_fact import find_pay_failures, pay_cells, total
    from dacu.report.incidents import FOUND_IN_REVIEW
    from dacu.warehouse import open_warehouse

    written = run_demo(tmp_path, scale=0.3)
    truth = json.loads((tmp_path / "sim" / "truth.json").read_text(encoding="utf-8"))
    incidents = {i["kind"]: i for i in truth["incidents"]}
    review = json.loads(written["review.json"].read_text(encoding="utf-8"))
    rows = next(
        t["rows"] for s in review["sections"] for t in s["tables"] if t["id"] == "incidents"
    )
    ring = incidents["brushing"]
    (row,) = [r for r in rows if r["where"] == f"SKU={ring['sku']}" and "刷单" in r["rule"]]
    assert row["source"] == FOUND_IN_REVIEW
    assert row["rule"] == f"风控：刷单团伙（{len(ring['user_ids'])} 个账号）"
    start = datetime.fromisoformat(row["start"])
    assert datetime.fromisoformat(ring["start"]) <= start < datetime.fromisoformat(ring["end"])
    assert any(f["text"]["zh"].startswith("【复盘发现，无对应告警】") for f in review["findings"])
    assert FOUND_IN_REVIEW in written["review.html"].read_text(encoding="utf-8")
    # the coupon bot the monitor alerted live is not listed a second time as a ring
    assert not [r for r in rows if r["source"] == FOUND_IN_REVIEW and "羊毛党" in r["rule"]]

    pay = incidents["pay_failure"]
    assert not [r for r in rows if "支付失败" in r["rule"]]
    campaign = load_campaign(written["campaign"])
    wh = open_warehouse(f"duckdb:///{written['warehouse']}")
    try:
        cells = pay_cells(wh, campaign, pay_grace(campaign))
    finally:
        wh.close()
    assert find_pay_failures(cells, campaign.tz) == []
    start, end = datetime.fromisoformat(pay["start"]), datetime.fromisoformat(pay["end"])
    hour = total([c for (ch, at), c in cells.items() if ch == pay["channel"] and start <= at < end])
    assert (hour.orders, hour.paid) == (2, 1)
