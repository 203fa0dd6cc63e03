"""One hand-computed example per promotion type; the arithmetic is in each test (amounts in yuan)."""

from __future__ import annotations

from tests.promo.helpers import applied, line, paid, reasons, run


def test_percent_discount_limited_time():
    # 限时折扣 8折: 199 − 39.80 = 159.20 a piece; ×2 = 318.40
    q = run([line("A", 199, 2)], [{"id": "p20", "type": "percent", "percent_off": 20}])
    assert q.total_fen == 31840
    assert paid(q) == {"A": 31840}
    assert applied(q) == {"p20": 7960}


def test_percent_written_as_zhe():
    # "8.5折" = 15% off: 200 − 30 = 170
    q = run([line("A", 200)], [{"id": "z", "type": "percent", "percent_off": "8.5折"}])
    assert q.total_fen == 17000


def test_fixed_price():
    # 一口价 99 for a 129 item, 3 pieces: 3 × 99 = 297
    q = run([line("A", 129, 3)], [{"id": "fp", "type": "fixed_price", "price": 99, "skus": ["A"]}])
    assert q.total_fen == 29700


def test_flash_sale_limit_and_stock():
    # 秒杀 99 limited to 1 piece per customer: 99 + 159 = 258
    flash = {"id": "fs", "type": "flash", "price": 99, "skus": ["A"], "limit": 1, "stock": 10}
    assert run([line("A", 159, 2)], [flash]).total_fen == 25800
    # the customer already bought her one piece: 2 × 159 = 318
    assert run([line("A", 159, 2)], [flash], customer={"used": {"fs": 1}}).total_fen == 31800
    # no stock left: 2 × 159 = 318
    assert run([line("A", 159, 2)], [{**flash, "stock": 0}]).total_fen == 31800


def test_member_price_only_for_its_tier():
    rule = {"id": "vip", "type": "member_price", "percent_off": {"gold": 5, "platinum": 10}}
    # gold: 200 × 95% = 190; platinum: 180; no tier: 200
    assert run([line("A", 200)], [rule], customer={"member_tier": "gold"}).total_fen == 19000
    assert run([line("A", 200)], [rule], customer={"member_tier": "platinum"}).total_fen == 18000
    q = run([line("A", 200)], [rule])
    assert q.total_fen == 20000
    assert "非会员" in reasons(q)["vip"]


def test_lowest_price_wins_per_line():
    # 8折 gives 159.20, 一口价 gives 149 → 149; line B only has the 8折: 100 → 80
    rules = [
        {"id": "p20", "type": "percent", "percent_off": 20},
        {"id": "fp", "type": "fixed_price", "price": 149, "skus": ["A"]},
    ]
    q = run([line("A", 199), line("B", 100)], rules)
    assert paid(q) == {"A": 14900, "B": 8000}
    assert applied(q) == {"fp": 5000, "p20": 2000}


def test_tiered_threshold_best_tier_and_shortfall():
    rule = {
        "id": "t",
        "type": "threshold",
        "name": "满300减40 满600减100",
        "tiers": [{"threshold": 300, "discount": 40}, {"threshold": 600, "discount": 100}],
    }
    # 650 ≥ 600 → −100 = 550
    assert run([line("A", 650)], [rule]).total_fen == 55000
    # 300 exactly → −40 = 260; next tier hint: 600 − 300 = 300 more
    q = run([line("A", 300)], [rule])
    assert q.total_fen == 26000
    assert q.applied[0].hint_zh == "再买¥300.00可享满600减100"
    # 277 < 300 → nothing, 差¥23.00
    q = run([line("A", 277)], [rule])
    assert q.total_fen == 27700
    assert q.not_applied[0].reason_zh == "差¥23.00 满300减40 满600减100"
    assert q.not_applied[0].short_fen == 2300


def test_every_discount_with_cap():
    rule = {"id": "e", "type": "every", "every": 300, "discount": 50, "cap": 100}
    # 950 → ⌊950/300⌋ = 3 × 50 = 150, capped at 100 → 850
    assert run([line("A", 950)], [rule]).total_fen == 85000
    # 650 → 2 × 50 = 100 → 550
    assert run([line("A", 650)], [{**rule, "cap": None}]).total_fen == 55000


def test_n_pieces_discount():
    rule = {"id": "n", "type": "n_pieces", "min_qty": 2, "percent_off": 10}
    # 满2件9折: 2 × 100 = 200 → 180
    assert run([line("A", 100, 2)], [rule]).total_fen == 18000
    q = run([line("A", 100)], [rule])
    assert q.total_fen == 10000
    assert reasons(q)["n"] == "差1件 n"


def test_second_item_half_price_cheapest_pieces():
    rule = {"id": "h", "type": "nth_item", "nth": 2, "percent_off": 50}
    # pieces dearest first 100, 80, 80: the 2nd (80) is half price → −40; 260 − 40 = 220
    q = run([line("A", 100), line("B", 80, 2)], [rule])
    assert q.total_fen == 22000
    assert paid(q) == {"A": 10000, "B": 12000}


def test_buy_two_get_one():
    rule = {"id": "b", "type": "buy_x_get_y", "buy": 2, "get": 1}
    # pieces 50, 40, 30, 20: first group of 3 → the 30 is free; the 20 is alone → 140 − 30 = 110
    q = run([line("A", 50), line("B", 40), line("C", 30), line("D", 20)], [rule])
    assert q.total_fen == 11000
    assert paid(q)["C"] == 0


def test_deposit_presale_expansion():
    rule = {"id": "d", "type": "deposit", "skus": ["P"], "deposit": 100, "worth": 150}
    # 定金100抵150: 500 − (150 − 100) = 450 in all; 100 paid already → 尾款 350
    q = run([line("P", 500)], [rule], customer={"deposits": {"P": 1}})
    assert (q.total_fen, q.deposit_fen, q.due_fen) == (45000, 10000, 35000)
    # no deposit paid → full price
    assert run([line("P", 500)], [rule]).total_fen == 50000


def test_gift_with_purchase_and_its_stock():
    rule = {
        "id": "g",
        "type": "gift",
        "threshold": 300,
        "gift_sku": "GIFT-1",
        "gift_name": "小样",
        "gift_value": 30,
        "stock": 5,
    }
    q = run([line("A", 320)], [rule])
    gift = [ln for ln in q.lines if ln.gift]
    assert [(g.sku_id, g.list_fen, g.paid_fen, g.gift_value_fen) for g in gift] == [
        ("GIFT-1", 0, 0, 3000)
    ]
    assert q.total_fen == 32000
    q = run([line("A", 320)], [{**rule, "stock": 0}])
    assert not [ln for ln in q.lines if ln.gift]
    assert reasons(q)["g"] == "赠品已送完"


def test_free_shipping_threshold():
    rule = {"id": "fs", "type": "free_shipping", "threshold": 99}
    # 98 < 99 → 98 + 10 = 108; 120 ≥ 99 → 120
    assert run([line("A", 98)], [rule], shipping=10).total_fen == 10800
    q = run([line("A", 120)], [rule], shipping=10)
    assert (q.total_fen, q.shipping_fen) == (12000, 0)


def test_points_deduction_with_rate_and_cap():
    rule = {"id": "pt", "type": "points", "points_per_yuan": 100, "max_percent": 10, "cap": 50}
    # 5000 points = ¥50; 10% of 300 = 30 → ¥30 off, 3000 points used
    q = run([line("A", 300)], [rule], customer={"points": 5000})
    assert (q.total_fen, q.points_used) == (27000, 3000)
    # 1000 points = ¥10 only
    assert run([line("A", 300)], [rule], customer={"points": 1000}).total_fen == 29000


def test_coupons_by_scope():
    catalogue = [
        {"id": "item", "scope": "item", "skus": ["A"], "threshold": 100, "discount": 10},
        {"id": "cat", "scope": "category", "categories": ["c1"], "threshold": 150, "discount": 15},
        {"id": "shop", "scope": "store", "threshold": 200, "discount": 20},
        {"id": "plat", "scope": "platform", "threshold": 200, "percent_off": 10, "cap": 25},
        {"id": "rp", "scope": "red_packet", "discount": 5},
    ]
    lines = [line("A", 120, category="c1"), line("B", 180, category="c2")]
    q = run(lines, coupons=["item", "cat", "shop", "plat", "rp"], catalogue=catalogue)
    # item coupon on A (120 ≥ 100): −10 → 290; category c1 (A) 110 < 150: no
    # store (Tmall: after item stage) 290 ≥ 200: −20; platform 10% of 290 = 29 → cap 25
    # red packet −5: 300 − 10 − 20 − 25 − 5 = 240
    assert q.total_fen == 24000
    assert set(q.coupons_used) == {"item", "shop", "plat", "rp"}
    assert reasons(q)["cat"] == "差¥40.00 cat"


def test_allocation_is_proportional_and_exact():
    # 满300减40 over 200 and 100: 26.666… and 13.333… → 26.67 / 13.33 (largest remainder)
    q = run(
        [line("A", 200), line("B", 100)],
        [{"id": "t", "type": "threshold", "threshold": 300, "discount": 40}],
    )
    assert paid(q) == {"A": 17333, "B": 8667}
    assert sum(paid(q).values()) == q.total_fen == 26000


def test_three_tiers_hint_names_the_next_one():
    rule = {
        "id": "t",
        "type": "threshold",
        "tiers": [
            {"threshold": 900, "discount": 150},
            {"threshold": 300, "discount": 40},
            {"threshold": 600, "discount": 100},
        ],
    }
    # 320 ≥ 300 → −40 = 280; the next tier is 600 (280 more), not 900
    q = run([line("A", 320)], [rule])
    assert q.total_fen == 28000
    assert q.applied[0].hint_zh == "再买¥280.00可享满600减100"


def test_tmall_and_jd_measure_the_cross_store_threshold_differently():
    rules = [
        {"id": "shop", "type": "threshold", "threshold": 600, "discount": 100},
        {"id": "cross", "type": "every", "stage": "platform", "every": 300, "discount": 50},
    ]
    # Tmall: 跨店 on the price after item discounts = 650 → 2 × 50; 650 − 100 − 100 = 450
    assert run([line("A", 650)], rules).total_fen == 45000
    # JD: on what the store stage left = 550 → 1 × 50; 650 − 100 − 50 = 500
    assert run([line("A", 650)], rules, platform="jd").total_fen == 50000


def test_eligibility_conditions():
    base = {"type": "threshold", "threshold": 100, "discount": 10}
    rules = [
        {**base, "id": "app", "channels": ["app"]},
        {**base, "id": "brand", "brands": ["澜序"], "group": "b"},
        {**base, "id": "gold", "member_tiers": ["gold"], "group": "c"},
        {**base, "id": "once", "per_customer": 1, "group": "d"},
        {**base, "id": "not-x", "exclude_skus": ["X"], "group": "e"},
        {
            **base,
            "id": "window",
            "start": "2026-11-11T00:00",
            "end": "2026-11-12T00:00",
            "group": "f",
        },
    ]
    lines = [line("X", 150, brand="澜序"), line("Y", 50, brand="other")]
    q = run(
        lines,
        rules,
        customer={"member_tier": "gold", "used": {"once": 1}},
        channel="app",
        at="2026-11-11T12:00:00+08:00",
    )
    # applied: app (200 ≥ 100), brand (X 150 ≥ 100), gold, window; 200 − 4 × 10 = 160
    assert q.total_fen == 16000
    why = reasons(q)
    assert why["once"] == "已达每人限用 1 次"
    assert why["not-x"] == "差¥50.00 not-x"  # only Y (50) counts
    q = run(lines, rules, channel="web", at="2026-11-12T00:00:00+08:00")
    assert reasons(q)["app"] == "仅限渠道 app"
    assert reasons(q)["gold"] == "仅限会员等级 gold"
    assert reasons(q)["window"] == "不在活动时间内"
