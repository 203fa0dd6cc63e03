"""Coupon refusals (领券被拒激增) as an associated signal for root cause, from the flash audit trail.

The event contract has no refusal event: refusals live in the coupon/flash-sale store's audit trail
(`dacu.flash.store.AuditEntry`: ts_ms, op, target = coupon template, customer, outcome = "ok" or a
reason code). Per coupon template, the refusal rate of claims and redemptions in the alert's window
is tested against the same template's rate in the baseline window (the RCA's), and a template whose
refusals broke away becomes a signal dict that `dacu.analyze.rca.explain` weighs against the other
evidence (it carries its own `score`) and may name as the culprit: coupon=<template>.

Conventions of `dacu.analyze.rca` (its `fire`, `tail`, `Signal` are used, not copied):
- a trial is one customer trying one op (claim or redeem) on one template in the window, refused
  when none of their tries there succeeded: a customer retrying after 活动太火爆 five times is one
  refused customer, not five refusals, and one who got the coupon and clicked again (已达限领)
  is not refused. Entries without a customer count one trial each.
- expected refusal rate = the template's baseline refusals ÷ attempts, shrunk towards the pooled
  baseline rate of all templates with PRIOR_ORDERS pseudo-attempts (a template with 1 claim in the
  baseline has no rate of its own); the pooled rate carries half a refusal, so a clean baseline
  still leaves a refusal possible (no certain signal from one refusal).
- refused ~ Binomial(attempts in the window, expected rate), one-sided upper tail, looked at from
  SPIKE × the expected count and MIN_EXTRA more refused customers; Bonferroni over the templates
  tested (those with attempts in the window), as `Signal.score`.
Pure: audit entries (anything with ts_ms, op, target, customer, outcome) in, dicts out.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from dacu.analyze.rca.signals import PRIOR_ORDERS, SIGNAL_ALPHA, SPIKE, CountTest, fire

KIND: Final = "coupon_refusal"
DIMENSION, MEASURE = "coupon", "refused"
OPS = ("claim", "redeem")
MIN_EXTRA = 10.0  # refused customers beyond the expected before a template is a signal (a few
# refusals are everyday noise for a coupon; a pool that runs out refuses dozens)
SOLD_OUT = frozenset({"coupons_gone", "sold_out"})
GUARD = frozenset({"rate_limited", "risk_blocked"})
REASON_ZH = {
    "coupons_gone": "已领完",
    "sold_out": "已抢光",
    "rate_limited": "风控限流",
    "risk_blocked": "风控拦截",
    "limit_reached": "已达限领",
    "not_started": "未开始",
    "ended": "已结束",
    "new_customers_only": "仅限新客",
    "below_threshold": "未达门槛",
    "coupon_expired": "券已过期",
    "already_redeemed": "券已使用",
    "unknown_coupon": "券码无效",
    "not_owner": "非本人券",
}
"""Reason codes (`dacu.flash.reasons.Reason`) as an operator reads them: 风控 where the shop's own
page says 活动太火爆 (a guard answers a rate limit vaguely on purpose)."""


def reason_group(code: str | None) -> str:
    """sold_out (the pool ran out: issue more), guard (the risk rules refused) or other."""
    return "sold_out" if code in SOLD_OUT else "guard" if code in GUARD else "other"


@dataclass
class Tally:
    """One template's trials in a window: customers (or anonymous tries) and who was refused."""

    attempts: int = 0
    refused: int = 0
    reasons: Counter = field(default_factory=Counter)  # the last refusal of each refused trial


def tally(entries: Iterable[Any], start_ms: int, end_ms: int) -> dict[str, Tally]:
    """Per template: trials (customer × op) in [start_ms, end_ms) and those with no success."""
    trials: dict[str, dict[tuple, list[str]]] = defaultdict(dict)
    for n, entry in enumerate(entries):
        if entry.op not in OPS or not start_ms <= entry.ts_ms < end_ms:
            continue
        who = (entry.op, entry.customer) if entry.customer else (entry.op, None, n)
        trials[entry.target].setdefault(who, []).append(entry.outcome)
    out = {}
    for target, tries in trials.items():
        cell = out[target] = Tally()
        for outcomes in tries.values():
            cell.attempts += 1
            if "ok" not in outcomes:
                cell.refused += 1
                cell.reasons[outcomes[-1]] += 1
    return out


def redeem_rate(entries: Iterable[Any], until_ms: int) -> dict[str, float]:
    """Per template, successful redemptions ÷ successful claims before `until_ms` (to date)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for entry in entries:
        if entry.ts_ms < until_ms and entry.outcome == "ok" and entry.op in OPS:
            counts[entry.target][entry.op] += 1
    return {t: min(1.0, c["redeem"] / c["claim"]) for t, c in counts.items() if c["claim"]}


def coupon_signals(
    entries: Iterable[Any],
    window: tuple[int, int],
    baseline: tuple[int, int],
    *,
    prior: float = PRIOR_ORDERS,
    min_extra: float = MIN_EXTRA,
) -> list[dict]:
    """Templates whose refusal rate in `window` broke away from `baseline` (both [start, end) in
    epoch ms), as signal dicts for `explain(signals=…)`, strongest first: kind coupon_refusal,
    dimension coupon, value = template, measure refused (customers), expected, actual, score,
    attempts, rate / baseline_rate, reason (the top refusal code), reason_zh, group
    (sold_out | guard | other), reasons {code: customers}, extra_per_hour (refused customers
    beyond the expected, per hour) and redeem_rate (to date, for the playbook's expected effect)."""
    entries = list(entries)
    now, before = tally(entries, *window), tally(entries, *baseline)
    pooled = (sum(c.refused for c in before.values()) + 0.5) / (
        sum(c.attempts for c in before.values()) + 1.0
    )
    tests, rates = [], {}
    for target in sorted(now):
        cell, base = now[target], before.get(target, Tally())
        rates[target] = (base.refused + prior * pooled) / (base.attempts + prior)
        tests.append(CountTest(target, cell.attempts * rates[target], cell.refused, cell.attempts))
    threshold = -math.log10(SIGNAL_ALPHA)
    redeemed = redeem_rate(entries, window[0])
    hours = (window[1] - window[0]) / 3_600_000
    out = []
    for signal in fire(KIND, DIMENSION, MEASURE, tests, lower=False, move=SPIKE):
        extra = signal.actual - signal.expected
        if signal.score < threshold or extra < min_extra:
            continue
        cell, base = now[signal.value], before.get(signal.value, Tally())
        top = cell.reasons.most_common(1)[0][0]
        out.append(
            {
                **signal.as_dict(),
                "attempts": cell.attempts,
                "rate": cell.refused / cell.attempts,
                "expected_rate": rates[signal.value],
                "baseline_rate": base.refused / base.attempts if base.attempts else None,
                "baseline_attempts": base.attempts,
                "reason": top,
                "reason_zh": REASON_ZH.get(top, top),
                "group": reason_group(top),
                "reasons": dict(cell.reasons.most_common()),
                "extra_per_hour": extra / hours if hours > 0 else None,
                "redeem_rate": redeemed.get(signal.value),
            }
        )
    return sorted(out, key=lambda s: (-s["score"], s["value"]))


def find(signals: Iterable[Mapping], value: str) -> Mapping | None:
    """The coupon refusal signal of one template among a root cause's signals."""
    return next((s for s in signals if s.get("kind") == KIND and s.get("value") == value), None)
