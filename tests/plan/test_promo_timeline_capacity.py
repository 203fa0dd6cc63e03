"""满减 tier study, timeline (.ics), capacity checks and the risk register."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from icalendar import Calendar

from dacu.config import Capacity, load_campaign
from dacu.errors import InputError
from dacu.plan.capacity import check_capacity, risk_register
from dacu.plan.promo_sim import (
    carts_from_orders,
    simulate_promotions,
    suggested_threshold,
    tier_study,
)
from dacu.plan.timeline import gantt_figure, rounds, tasks, write_ics


def test_tier_study_by_hand():
    # baskets ¥250, ¥320, ¥700 under 满300减40 / 满600减100, no top-up:
    # discounts 0 + 40 + 100 = ¥140 on ¥1,270 GMV → 11.02%; reach 2/3 and 1/3
    result = tier_study(
        [25_000, 32_000, 70_000],
        [(30_000, 4_000), (60_000, 10_000)],
        top_up_rate=0.0,
        margin_ratio=0.5,
    )
    assert result.discount_fen == 14_000
    assert result.cost_pct == pytest.approx(140 / 1270)
    assert result.reach == pytest.approx((2 / 3, 1 / 3))
    assert result.margin_after_fen == 63_500 - 14_000
    assert result.name == "满300减40 满600减100"


def test_tier_study_top_up_raises_asp():
    # ¥280 is within 15% under ¥300: with top-up rate 1 it becomes ¥300 and gets ¥40 off
    result = tier_study([28_000], [(30_000, 4_000)], top_up_rate=1.0)
    assert result.gmv_after_fen == 30_000 and result.discount_fen == 4_000
    with pytest.raises(InputError, match="满300减300: expected 0 < discount < threshold"):
        tier_study([1], [(30_000, 30_000)])


def test_suggested_threshold_rule_of_thumb():
    # ASP ¥330: +20% = ¥396 → ¥400; +30% = ¥429 → ¥450 (to the nearest ¥50)
    assert suggested_threshold(33_000) == (40_000, 45_000)
    # ASP ¥378: ¥453.6 → ¥450; ¥491.4 → ¥500
    assert suggested_threshold(37_800) == (45_000, 50_000)


def test_engine_simulation_by_hand(examples_dir):
    """Cart ¥350 of skincare: 满300减40 (store) → ¥40; 跨店每满300减50 (platform) → ¥50.
    Held coupon 满199减20 adds ¥20. Expected savings by the contract of dacu.promo."""
    campaign = load_campaign(examples_dir / "double11.yaml")
    carts = carts_from_orders(
        pd.DataFrame(
            {
                "order_id": ["o1"],
                "sku_id": ["SKU-SC-001"],
                "category": ["skincare"],
                "quantity": [1],
                "amount_fen": [35_000],
            }
        ),
        store=campaign.store,
    )
    result = simulate_promotions(campaign, carts)
    assert result.available and result.baskets == 1 and result.list_fen == 35_000
    assert result.by_promotion.get("store-tiers") == 4_000
    assert result.by_promotion.get("platform-every") == 5_000
    assert result.platform_funded_fen == 5_000 and result.store_cost_fen == 4_000
    held = simulate_promotions(campaign, carts, coupons=["store-coupon-20"])
    assert held.saving_fen == result.saving_fen + 2_000


def test_timeline_and_ics(examples_dir, tmp_path):
    campaign = load_campaign(examples_dir / "double11.yaml")
    items = tasks(campaign)
    creatives = next(t for t in items if t.name == "campaign pages and ads creatives ready")
    assert creatives.due == date(2026, 11, 10) and creatives.label == "D-1"
    assert {t.team for t in items} == {
        "operations",
        "design",
        "customer_service",
        "tech",
        "warehouse",
    }
    evening = next(r for r in rounds(campaign) if r.start.hour == 20)
    assert "kol_live" in evening.channels and evening.start.utcoffset().total_seconds() == 8 * 3600
    path = write_ics(campaign, tmp_path / "plan.ics")
    cal = Calendar.from_ical(path.read_bytes())
    events = [c for c in cal.walk("VEVENT")]
    assert len(events) == len(campaign.phases) + len(items) + len(rounds(campaign))
    summaries = [str(e["summary"]) for e in events]
    assert any(s.startswith("[设计] 活动页面与广告素材就绪") for s in summaries)
    assert gantt_figure(campaign).data


def test_capacity_flags_overload_and_risks():
    cap = Capacity(
        warehouse_orders_per_hour=6000,
        cs_agents=10,
        cs_inquiries_per_agent_hour=60,
        system_orders_per_second=300,
    )
    checks = {c.check: c for c in check_capacity([1000, 7200, 3000], cap)}
    assert checks["warehouse"].ok is False and checks["warehouse"].utilisation == pytest.approx(1.2)
    # inquiries 7200 × 0.35 = 2520 > 10 agents × 60 = 600
    assert checks["customer_service"].ok is False
    assert "需要 42 名客服" in checks["customer_service"].message
    # 7200 / 3600 × 8 = 16 orders/s ≤ 300
    assert checks["system"].ok is True
    risks = {r.id: r for r in risk_register(26, list(checks.values()))}
    assert risks["orders-below-plan"].threshold == 0.60
    assert risks["gmv-day10"].threshold == 0.70 and risks["gmv-day20"].threshold == 0.85
    assert "capacity-warehouse" in risks and "capacity-system" not in risks
    assert "gmv-day20" not in {r.id for r in risk_register(15)}
