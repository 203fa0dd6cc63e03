"""Coupon refusals from the flash audit trail as a root-cause signal: the pure test (tails worked
out here from the binomial sum, not scipy), the message and playbook, and the live loop with the
real SQLite coupon store (a pool runs out while orders fall shop-wide)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dacu.config import parse_campaign
from dacu.flash import AuditEntry, Who, load_flash, open_store
from dacu.monitor import playbooks
from dacu.monitor.coupon_signal import coupon_signals, tally
from dacu.monitor.live import LiveMonitor
from dacu.monitor.messages import alert_text, signal_line
from tests.flash.helpers import Clock
from tests.monitor import simworld
from tests.monitor.test_live import PEAK, RISK_RULES, feed

HOUR_MS = 3_600_000
W = (HOUR_MS, 2 * HOUR_MS)  # the window: the second hour; baseline: the first
B = (0, HOUR_MS)


def claims(
    target: str, n: int, refused: int, at: int, reason: str = "coupons_gone", who: str = "c"
) -> list[AuditEntry]:
    """n claims by n customers at `at` (ms, one a millisecond), the first `refused` of them refused."""
    return [
        AuditEntry(
            at + i,
            "claim",
            target,
            f"{who}-{target}-{at}-{i}",
            None,
            None,
            reason if i < refused else "ok",
        )
        for i in range(n)
    ]


def upper_tail(n: int, p: float, k: int) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), summed term by term."""
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))


def test_a_sold_out_pool_fires_with_its_tail_reason_and_effect() -> None:
    """Baseline: A 100 claims, 2 refused; B 50, 1 refused → pooled (3 + 0.5)/(150 + 1); A's rate
    (2 + 5·pooled)/(100 + 5) = 0.0201514. Window: A 60 claims, 40 refused 已领完 → expected 1.209,
    P(X ≥ 40 | 60, 0.0201514) × 2 templates tested; B 1 of 50 (expected 1.01) stays quiet.
    25 redemptions before the baseline (not in it): A's redemption rate to date 25/98."""
    half = HOUR_MS // 2
    before = claims("A", 100, 2, half, "rate_limited") + claims("B", 50, 1, half, "rate_limited")
    redeemed = [AuditEntry(1000 + i, "redeem", "A", f"r{i}", None, None, "ok") for i in range(25)]
    window = claims("A", 60, 40, HOUR_MS) + claims("B", 50, 1, HOUR_MS, "rate_limited")
    found = coupon_signals(redeemed + before + window, W, (half, HOUR_MS))
    assert len(found) == 1
    s = found[0]
    rate = (2 + 5 * 3.5 / 151) / 105
    assert rate == pytest.approx(0.0201514, abs=1e-7)
    assert (s["kind"], s["dimension"], s["value"], s["measure"]) == (
        "coupon_refusal",
        "coupon",
        "A",
        "refused",
    )
    assert (s["actual"], s["attempts"]) == (40, 60)
    assert s["expected"] == pytest.approx(60 * rate)
    assert s["score"] == pytest.approx(-math.log10(2 * upper_tail(60, rate, 40)), rel=1e-6)
    assert s["score"] == pytest.approx(52.08, abs=0.01)
    assert (s["reason"], s["reason_zh"], s["group"], s["reasons"]) == (
        "coupons_gone",
        "已领完",
        "sold_out",
        {"coupons_gone": 40},
    )
    assert s["extra_per_hour"] == pytest.approx(40 - 60 * rate)  # a one-hour window
    assert s["redeem_rate"] == pytest.approx(25 / 98)  # A's ok claims before the window: 98


def test_the_prior_keeps_one_baseline_claim_from_firing_on_noise() -> None:
    """3 refused of 20 in the window. X had 1 clean claim in the baseline: its rate is shrunk to
    the pooled (10 + 0.5)/(201 + 1) with 5 pseudo-claims → 0.0433, P(X ≥ 3) × 2 ≈ 0.10: noise.
    Z had 1000 clean claims: (0 + 5·10.5/1201)/1005 = 4.35e-5, P × 2 ≈ 1.9e-10: a signal — but
    only 2.999 refusals beyond the expected, under MIN_EXTRA (10), so not by default."""
    other = claims("Y", 200, 10, 0, "rate_limited") + claims("Y", 100, 5, HOUR_MS, "rate_limited")
    small = other + claims("X", 1, 0, 10**6) + claims("X", 20, 3, HOUR_MS, "rate_limited")
    rate_x = (0 + 5 * 10.5 / 202) / 6
    assert -math.log10(2 * upper_tail(20, rate_x, 3)) < 2.0  # ≈ 0.98
    assert coupon_signals(small, W, B, min_extra=0) == []
    large = other + claims("Z", 1000, 0, 10**6) + claims("Z", 20, 3, HOUR_MS, "rate_limited")
    rate_z = 5 * 10.5 / 1201 / 1005
    fired = coupon_signals(large, W, B, min_extra=0)
    assert [s["value"] for s in fired] == ["Z"]
    assert fired[0]["score"] == pytest.approx(-math.log10(2 * upper_tail(20, rate_z, 3)), rel=1e-6)
    assert fired[0]["score"] == pytest.approx(9.72, abs=0.01)
    assert coupon_signals(large, W, B) == []  # 3 refused customers are not a pool running out


def test_bonferroni_over_the_templates_tested() -> None:
    """The same surge on A, with one or with three templates claimed in the window: the scores
    differ by log10(3); a template claimed only in the baseline is not tested."""
    surge = claims("A", 100, 1, 0) + claims("A", 60, 30, HOUR_MS) + claims("Q", 10, 0, 0)
    alone = coupon_signals(surge, W, B)
    crowd = coupon_signals(surge + claims("B", 10, 0, HOUR_MS) + claims("C", 10, 0, HOUR_MS), W, B)
    assert alone[0]["score"] - crowd[0]["score"] == pytest.approx(math.log10(3))


def test_a_trial_is_a_customer_not_a_click() -> None:
    """u1 retries 12 times (活动太火爆) → one refused customer; u2 claims, then clicks again
    (已达限领) → not refused; two refusals without a customer → two; a reservation and an entry
    outside the window are not counted; the reason is each refused customer's last one."""
    at = HOUR_MS + 10
    entries = [
        AuditEntry(at + i, "claim", "A", "u1", None, None, "rate_limited") for i in range(12)
    ]
    entries += [
        AuditEntry(at, "claim", "A", "u2", None, None, "ok"),
        AuditEntry(at + 1, "claim", "A", "u2", None, None, "limit_reached"),
        AuditEntry(at, "claim", "A", None, None, None, "coupons_gone"),
        AuditEntry(at, "claim", "A", None, None, None, "coupons_gone"),
        AuditEntry(at, "reserve", "A", "u3", None, None, "sold_out"),
        AuditEntry(2 * HOUR_MS, "claim", "A", "u4", None, None, "coupons_gone"),
    ]
    cell = tally(entries, *W)["A"]
    assert (cell.attempts, cell.refused) == (4, 3)
    assert dict(cell.reasons) == {"coupons_gone": 2, "rate_limited": 1}


def test_guard_refusals_are_named_as_such() -> None:
    found = coupon_signals(
        claims("A", 200, 4, 0, "risk_blocked") + claims("A", 100, 60, HOUR_MS, "risk_blocked"), W, B
    )
    assert [(s["reason"], s["reason_zh"], s["group"]) for s in found] == [
        ("risk_blocked", "风控拦截", "guard")
    ]


SIGNAL = {
    "kind": "coupon_refusal",
    "dimension": "coupon",
    "value": "C-300-50",
    "measure": "refused",
    "expected": 0.4,
    "actual": 93,
    "score": 7.3,
    "reason": "coupons_gone",
    "reason_zh": "已领完",
    "group": "sold_out",
    "extra_per_hour": 80.0,
    "redeem_rate": 0.25,
}


def test_message_names_the_coupon_and_why() -> None:
    cause = {
        "culprit": {
            "dimension": "coupon",
            "value": "C-300-50",
            "ep": 0.0,
            "surprise": 0.0,
            "forecast": None,
            "actual": None,
        },
        "signals": [SIGNAL],
    }
    _, body = alert_text(
        kind="opened",
        severity="red",
        rule_name="订单数骤降",
        metric="orders",
        key_dim=None,
        key="",
        value=140,
        reference=200,
        compare="previous",
        at=PEAK,
        root_cause=cause,
    )
    lines = body.splitlines()
    assert "- 根因 优惠券=C-300-50（信号 领券被拒激增：已领完）" in lines
    assert (
        "- 信号 领券被拒激增：优惠券=C-300-50 被拒人数 93，预期 0.4，主因 已领完 "
        "(coupon refusals surged: coupons_gone)"
    ) in lines
    assert signal_line(SIGNAL) in lines


def test_playbook_issues_more_for_a_sold_out_pool_and_checks_the_rule_for_guards() -> None:
    """Effect: 80 more refused an hour × 25% redeemed = 20 orders an hour × ¥300 = ¥6,000."""
    ctx = playbooks.Context(coupon=SIGNAL, aov_fen=30_000)
    book = playbooks.playbook("orders_behind_plan", ctx)
    assert book.kind == "coupon_refusals"
    first = book.actions[0]
    assert first.zh.startswith("追加发券：C-300-50已领完，追加发放至少93张")
    assert first.params == {"coupon": "C-300-50", "issue_more": 93, "reason": "coupons_gone"}
    assert "+20 单/小时" in first.expected_zh and "¥6,000.00/小时" in first.expected_zh
    assert "+20 orders an hour" in first.expected_en
    assert book.actions[1:] == playbooks.playbook("orders_behind_plan").actions  # then the KPI's
    guard = playbooks.playbook(
        "gmv_behind_plan",
        playbooks.Context(
            coupon={**SIGNAL, "reason": "rate_limited", "reason_zh": "风控限流", "group": "guard"}
        ),
    )
    assert guard.actions[0].zh.startswith("检查风控规则（风控限流）")
    assert "may be refusing real buyers" in guard.actions[0].en
    assert "为上限" in guard.actions[0].expected_zh  # no AOV: orders only


COUPON_CAMPAIGN = """
id: d11-coupon
name: 测试领券
store: 测试店
phases:
  - {name: warmup, start: 2026-11-10 00:00, end: 2026-11-11 00:00}
  - {name: burst,  start: 2026-11-11 00:00, end: 2026-11-12 00:00}
alerts:
  - {id: orders-drop, name: 订单数环比骤降, metric: orders, compare: previous, below: 80%,
     window: 30m, for: 5m, confidence: 99%, severity: red}
coupons:
  - {id: C-300-50, name: 满300减50, threshold: 300, discount: 50, quantity: QTY}
  - {id: C-99-10, name: 满99减10, threshold: 99, discount: 10, quantity: 100000}
guards:
  blocklist: {customers: [BLOCKED]}
"""
RISKY = [f"risky-{i}" for i in range(40)]  # on the blocklist: refused 风控拦截 every hour


def _first(table: pa.Table, event: str | None = None) -> dict[str, float]:
    """Each user's first (event) time, epoch seconds."""
    rows = table if event is None else table.filter(pc.equal(table["event"], event))
    first = rows.group_by("user_id").aggregate([("ts", "min")])
    return {
        u: t.timestamp()
        for u, t in zip(first["user_id"].to_pylist(), first["ts_min"].to_pylist(), strict=True)
    }


def _coupon_ops(rng: np.random.Generator, table: pa.Table, hour: datetime) -> list[tuple]:
    """(time, op, template, customer): a tenth of the visitors claim C-300-50 and a twentieth
    C-99-10 on arrival, the risky accounts try C-300-50 once in the hour, and a holder who orders
    redeems on the order."""
    first, ordered = _first(table), _first(table, "order")
    ops = []
    for user, at in first.items():
        for template, share in (("C-300-50", 0.1), ("C-99-10", 0.05)):
            if rng.uniform() < share:
                ops.append((at, "claim", template, user))
                if user in ordered:
                    ops.append((ordered[user], "redeem", template, user))
    start = hour.timestamp()
    ops += [(start + float(rng.uniform(0, 3600)), "claim", "C-300-50", who) for who in RISKY]
    return ops


def _drop_orders(rng: np.random.Generator, table: pa.Table, keep: int) -> pa.Table:
    """Keep the orders (and pays) of `keep` random ordering users: every channel, every cell."""
    buyers = sorted(_first(table, "order"))
    gone = pa.array(rng.choice(buyers, len(buyers) - keep, replace=False))
    kept = pc.invert(
        pc.and_(
            pc.is_in(table["event"], pa.array(["order", "pay"])), pc.is_in(table["user_id"], gone)
        )
    )
    return table.filter(kept)


@pytest.mark.parametrize("pool_runs_out", [True, False], ids=["sold-out", "control"])
def test_live_alert_names_the_coupon_whose_pool_ran_out(tmp_path, pool_runs_out: bool) -> None:
    """19:00–20:00 normal: claims, redemptions, the risky accounts refused (≈ 40 of 1,240
    C-300-50 claimers). From 20:00 orders fall 30% in every channel. Sold out: C-300-50's pool
    holds the first hour's claims + 10, so from ~20:00 every claim is refused 已领完 — the orders
    alert names coupon=C-300-50 and its playbook issues more. Control: the same drop, the pool
    never runs out (refusals stay at the risky accounts' rate) — the coupon is not named."""
    rng = np.random.default_rng(7)
    normal = simworld.events(rng, 8000, PEAK, minutes=60, prefix="n")
    broken = simworld.events(rng, 8000, PEAK + timedelta(hours=1), minutes=60, prefix="x")
    ordering = len(_first(normal.events, "order"))  # the second hour keeps 70% of the first's
    broken_events = _drop_orders(rng, broken.events, round(0.7 * ordering))
    ops = sorted(
        _coupon_ops(rng, normal.events, PEAK)
        + _coupon_ops(rng, broken_events, PEAK + timedelta(hours=1))
    )
    first_hour = sum(
        1
        for at, op, t, who in ops
        if op == "claim"
        and t == "C-300-50"
        and at < (PEAK + timedelta(hours=1)).timestamp()
        and who not in RISKY
    )
    quantity = first_hour + 10 if pool_runs_out else 100_000
    text = COUPON_CAMPAIGN.replace("QTY", str(quantity)).replace("BLOCKED", ", ".join(RISKY))

    campaign = parse_campaign(text)
    clock = Clock(PEAK.timestamp())
    store = open_store(f"sqlite:///{tmp_path / 'flash.db'}", load_flash(campaign), clock=clock)
    held: dict[tuple[str, str], str] = {}
    for n, (at, op, template, who) in enumerate(ops):
        clock.now = at
        if op == "claim":
            outcome = store.claim(template, Who(who), key=f"k{n}")
            if outcome.ok:
                held[(template, who)] = outcome.ref
        elif (template, who) in held:
            store.redeem(held[(template, who)], f"o-{who}", Who(who), key=f"k{n}")
    refused = [e for e in store.audit(limit=10**6) if e.outcome == "coupons_gone"]
    assert bool(refused) == pool_runs_out
    monitor = LiveMonitor(
        campaign,
        tmp_path / "mon",
        detectors=False,
        returning_users=set().union(normal.returning, broken.returning),
        flash_audit=lambda: store.audit(limit=10**6),
    )
    feed(monitor, normal.events)
    feed(monitor, broken_events)
    opened = [f for f in monitor.feed if f["kind"] == "opened" and f["rule_id"] not in RISK_RULES]
    assert [f["rule_id"] for f in opened] == ["orders-drop"]  # the risk feeds' alerts aside
    alert = opened[0]
    assert (
        PEAK + timedelta(hours=1) < datetime.fromisoformat(alert["at"]) < PEAK + timedelta(hours=2)
    )
    culprit = alert["root_cause"]["culprit"]
    kinds = [s["kind"] for s in alert["root_cause"]["signals"]]
    if pool_runs_out:
        assert (culprit["dimension"], culprit["value"]) == ("coupon", "C-300-50")
        assert kinds[0] == "coupon_refusal"
        assert any(  # the cause with how sure it is (把握 高/中)
            line.startswith("- 根因 优惠券=C-300-50（信号 领券被拒激增：已领完，把握 ")
            for line in alert["body"].splitlines()
        )
        assert "(coupon refusals surged: coupons_gone)" in alert["body"]
        assert alert["playbook"]["kind"] == "coupon_refusals"
        assert alert["playbook"]["actions"][0]["params"]["coupon"] == "C-300-50"
        assert alert["playbook"]["actions"][0]["zh"].startswith("追加发券")
    else:
        assert culprit is None or culprit["dimension"] != "coupon"
        assert "coupon_refusal" not in kinds and "优惠券" not in alert["body"]
    monitor.close()
    store.close()
