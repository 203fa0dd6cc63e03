"""Lessons of the last review change the next plan, each change citing its lesson (issue #16:
lessons.json was written and never read)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from dacu.errors import InputError
from dacu.plan.lessons import apply_lessons, read_lessons
from dacu.plan.schema import Budget, BudgetRow, Plan, TargetTreeNode


def plan_with(rows: list[BudgetRow]) -> Plan:
    root = TargetTreeNode(key="all", dimension="all", gmv_fen=1, uv=1, buyers=1, cvr=1, asp_fen=1)
    return Plan(
        campaign_id="double12-2026",
        generated_at=datetime(2026, 11, 25),
        targets=root,
        daily=[],
        hourly=[],
        budget=Budget(
            total_fen=sum(r.spend_fen for r in rows),
            emergency_reserve_fen=0,
            elastic_reserve_fen=0,
            channels=rows,
        ),
        risks=[],
    )


LESSONS = {
    "campaign_id": "double11-2026",
    "lessons": [{"id": "roi-best"}, {"id": "roi-worst"}, {"id": "stockouts"}],
    "data": {
        "roi_by_line": {"search_ads": 2.0, "kol_live": 7.0, "content": 0.9},
        "roi_lessons": ["roi-best", "roi-worst"],
        "sold_out": [
            {"sku_id": "SKU-MK-028", "stock": 13, "units": 47, "sold_out_at": "11-11 03:14"},
            {"sku_id": "SKU-OK", "stock": 100, "units": 10, "lost_units": 0},
        ],
        "sold_out_lesson": "stockouts",
        "alerts_by_rule": {"订单低于计划60%": 4, "渠道拍下付款率骤降": 1},
    },
}


def test_budget_moves_toward_the_best_roi_within_floor_and_cap() -> None:
    plan = plan_with(
        [
            BudgetRow(channel="search_ads", spend_fen=500_000, floor_fen=100_000),
            BudgetRow(channel="kol_live", spend_fen=1_000_000, cap_fen=1_030_000),
            BudgetRow(channel="content", spend_fen=400_000, floor_fen=370_000),
        ]
    )
    learned = apply_lessons(plan, LESSONS)
    spend = {r.channel: r.spend_fen for r in learned.budget.channels}
    # content (ROI 0.9) gives min(10% of 400,000, 400,000 − floor 370,000, kol_live's room
    # 1,030,000 − 1,000,000) = 30,000 fen to kol_live (ROI 7.0)
    assert spend == {"search_ads": 500_000, "kol_live": 1_030_000, "content": 370_000}
    assert sum(spend.values()) == plan.budget.total_fen
    note = next(n for n in learned.notes if n.startswith("预算调整"))
    assert "¥300.00 从 content" in note and "kol_live" in note and "roi-best、roi-worst" in note
    assert {r.channel: r.spend_fen for r in plan.budget.channels}["content"] == 400_000  # a copy


def test_budget_at_its_limits_is_said_so_with_the_lesson() -> None:
    plan = plan_with(
        [
            BudgetRow(channel="kol_live", spend_fen=1_000_000, cap_fen=1_000_000),
            BudgetRow(channel="content", spend_fen=0),
        ]
    )
    learned = apply_lessons(plan, LESSONS)
    assert [r.spend_fen for r in learned.budget.channels] == [1_000_000, 0]
    assert any(n.startswith("预算核对") and "roi-best" in n for n in learned.notes)


def test_sold_out_skus_get_a_buffer_and_noisy_alerts_are_named() -> None:
    learned = apply_lessons(plan_with([]), LESSONS)
    stock = [n for n in learned.notes if n.startswith("备货缓冲")]
    # 47 sold + 0 lost, × 1.2 = 56.4 → 57; SKU-OK (10 sold of 100) needs nothing
    assert len(stock) == 1 and "SKU-MK-028" in stock[0] and "不少于 57 件" in stock[0]
    assert "依据 double11-2026 复盘经验 stockouts" in stock[0]
    noisy = [n for n in learned.notes if n.startswith("告警降噪")]
    assert len(noisy) == 1 and "订单低于计划60%" in noisy[0] and "4 次" in noisy[0]


def test_lessons_that_are_not_a_review_s_are_refused_with_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "lessons.json"
    bad.write_text(json.dumps({"campaign_id": "x"}), encoding="utf-8")
    with pytest.raises(InputError, match=r"expected the lessons\.json of `dacu report review`"):
        read_lessons(bad)
    good = tmp_path / "review"
    good.mkdir()
    (good / "lessons.json").write_text(json.dumps(LESSONS), encoding="utf-8")
    assert read_lessons(good)["campaign_id"] == "double11-2026"  # the review folder works too


def test_the_last_review_of_the_same_store_is_found_in_the_metadata_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dacu plan build` without --lessons learns from the newest registered review of another
    campaign of the same store; none when the DB does not exist (and it is not created)."""
    from dacu.metadata.campaigns import add_report
    from dacu.metadata.db import open_db, upgrade
    from dacu.plan.lessons import last_review_lessons

    db_file = tmp_path / "meta.sqlite"
    monkeypatch.setenv("DACU_DB", f"sqlite:///{db_file}")
    assert last_review_lessons("澜序美妆旗舰店", "double12-2026") is None
    assert not db_file.exists()
    db = open_db()
    upgrade(db)
    reviews = {}
    for name, store in (("d11", "澜序美妆旗舰店"), ("other", "别家店"), ("d12", "澜序美妆旗舰店")):
        folder = tmp_path / name
        folder.mkdir()
        data = {**LESSONS, "campaign_id": f"{name}-2026", "store": store}
        (folder / "lessons.json").write_text(json.dumps(data), encoding="utf-8")
        reviews[name] = folder / "review.html"
    with db.session() as s:  # registered oldest first: the other store's review is the newest
        add_report(s, "d11-2026", "html", str(reviews["d11"]))
        add_report(s, "d12-2026", "html", str(reviews["d12"]))
        add_report(s, "other-2026", "html", str(reviews["other"]))
    db.dispose()
    path, data = last_review_lessons("澜序美妆旗舰店", "d12-2026")  # not its own review
    assert path == tmp_path / "d11" / "lessons.json" and data["campaign_id"] == "d11-2026"
    found = last_review_lessons("澜序美妆旗舰店", "d13-2026")
    assert found is not None and found[1]["campaign_id"] == "d12-2026"
