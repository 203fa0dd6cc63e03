"""A promotion that does not apply says why twice: a stable code for programs and the shop's
text for people. Each cart below is built so that exactly one reason holds."""

from __future__ import annotations

from dacu.flash import Reason as Refusal
from dacu.promo import quote
from dacu.promo.load import parse_promotions
from dacu.promo.reasons import ReasonCode
from tests.promo.helpers import line, run

THRESHOLD = {"id": "t40", "type": "threshold", "threshold": 300, "discount": 40}


def _why(q) -> dict[str, tuple[str, str]]:
    return {n.id: (n.code, n.reason_zh) for n in q.not_applied}


def test_a_threshold_not_reached_is_below_threshold_with_the_amount_short() -> None:
    q = run([line("A", 277)], [THRESHOLD])  # 300 − 277 = ¥23 short
    assert _why(q) == {"t40": (ReasonCode.BELOW_THRESHOLD, "差¥23.00 t40")}
    assert q.not_applied[0].short_fen == 2300


def test_who_when_and_what_each_have_their_code() -> None:
    rules = [
        {**THRESHOLD, "id": "new", "new_customer_only": True},
        {**THRESHOLD, "id": "app", "channels": ["app"]},
        {**THRESHOLD, "id": "gold", "member_tiers": ["gold"]},
        {**THRESHOLD, "id": "later", "start": "2026-11-11T20:00:00+08:00"},
        {**THRESHOLD, "id": "shoes", "categories": ["shoes"]},
    ]
    q = run(
        [line("A", 400, category="beauty")],
        rules,
        customer={"new_customer": False},
        channel="web",
        at="2026-11-11T10:00:00+08:00",
    )
    assert {rule: code for rule, (code, _) in _why(q).items()} == {
        "new": ReasonCode.NEW_CUSTOMERS_ONLY,
        "app": ReasonCode.WRONG_CHANNEL,
        "gold": ReasonCode.MEMBER_TIERS_ONLY,
        "later": ReasonCode.OUTSIDE_WINDOW,
        "shoes": ReasonCode.NO_ELIGIBLE_ITEMS,
    }


def test_the_loser_of_an_exclusive_group_is_exclusive() -> None:
    # ¥600: −40 (t40) or −100 (every 300 −50) in one group: the −100 is kept
    every = {"id": "e50", "type": "every", "every": 300, "discount": 50}
    book = parse_promotions([{**THRESHOLD, "group": "g"}, {**every, "group": "g"}])
    q = quote({"lines": [line("A", 600)]}, None, book)
    assert _why(q) == {"t40": (ReasonCode.EXCLUSIVE, "与「e50」互斥，已选更省的")}


def test_the_code_is_in_the_quote_as_plain_text() -> None:
    data = run([line("A", 277)], [THRESHOLD]).to_dict()
    assert data["not_applied"][0]["code"] == "below_threshold"


def test_codes_shared_with_flash_refusals_are_spelled_the_same() -> None:
    shared = {"limit_reached", "new_customers_only", "below_threshold", "gifts_gone"}
    assert shared <= {c.value for c in ReasonCode}
    assert shared <= {r.value for r in Refusal}
