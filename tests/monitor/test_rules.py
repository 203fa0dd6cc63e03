"""Alert rules: parsing with clear errors, and the state machine (for-duration, dedup, silence,
escalation, acknowledge, resolve) driven by hand-made readings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dacu.config import parse_campaign
from dacu.errors import ConfigError
from dacu.monitor.rules import AlertRule, RuleEngine, load_rules, parse_duration

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 11, 20, tzinfo=SHANGHAI)
BASE = """
id: t
name: t
store: s
phases: [{name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}]
"""


def campaign_with(alerts: str):
    """The campaign without its section checks: these tests call the alert validator itself
    (parse_campaign runs it too, see tests/test_config_edges.py)."""
    return parse_campaign(BASE + alerts, sections=False)


def test_the_issue_examples_parse() -> None:
    rules = load_rules(
        campaign_with("""
alerts:
  - {id: cvr-3h, metric: cvr, compare: baseline, below: 90%, window: 1h, for: 3h}
  - {id: day10, metric: gmv, compare: plan, scope: campaign, from_day: 10, below: 70%, severity: red}
  - {id: yoy, metric: gmv, compare: last_year, below: 85%, window: 1h}
  - {id: roi, metric: roi, by: channel, compare: previous, below: 80%, playbook: roi_below_floor}
  - {id: orders, metric: orders, compare: plan, below: "60%", playbook: orders_behind_plan}
  - id: esc
    metric: uv
    below: 100
    escalate: {after: 30m, severity: red, notify: [boss]}
    silence: [{start: 2026-11-11 00:00, end: 2026-11-11 00:30}]
""")
    )
    assert [r.id for r in rules] == ["cvr-3h", "day10", "yoy", "roi", "orders", "esc"]
    assert rules[0].for_ == timedelta(hours=3) and rules[0].below == pytest.approx(0.9)
    assert rules[1].metric == "gmv_fen" and rules[1].from_day == 10
    assert rules[2].offset == timedelta(days=364)
    assert rules[5].escalate.after == timedelta(minutes=30)
    assert rules[5].silence[0].start == datetime(2026, 11, 11, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("alert", "message"),
    [
        ("{id: a, metric: gmvv, below: 1}", "alerts[0] (id a).metric: unknown 'gmvv'"),
        ("{id: a, metric: cvr}", "alerts[0] (id a).rule: below/above: give exactly one of them"),
        (
            "{id: a, metric: cvr, below: 1, window: soon}",
            "alerts[0] (id a).window: expected a duration",
        ),
        (
            "{id: a, metric: cvr, below: 1, by: city}",
            "alerts[0] (id a).by: unknown dimension 'city'",
        ),
        (
            "{id: a, metric: pay_rate, compare: rest, below: 50%}",
            "alerts[0] (id a).rule: compare: rest compares one value with the rest of the shop",
        ),
        (
            "{id: a, metric: cvr, below: 1, resolve_after: later}",
            "alerts[0] (id a).resolve_after: expected a duration",
        ),
        (
            "{id: a, metric: cvr, compare: plan, below: 1, confidence: sure}",
            "alerts[0] (id a).confidence: expected a level such as 99% (or off), got 'sure'",
        ),
    ],
)
def test_bad_rules_name_the_item_and_field(alert: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_rules(campaign_with(f"alerts:\n  - {alert}\n"), source="d11.yaml")
    assert message in str(caught.value) and str(caught.value).startswith("d11.yaml: ")


def test_duration_forms() -> None:
    assert [parse_duration(x) for x in ("90s", "30m", "3h", "1d", 15)] == [
        timedelta(seconds=90),
        timedelta(minutes=30),
        timedelta(hours=3),
        timedelta(days=1),
        timedelta(minutes=15),
    ]


def rule(**extra) -> AlertRule:
    return AlertRule.model_validate(
        {"id": "r", "metric": "cvr", "compare": "baseline", "below": 0.9, **extra}
    )


def run(engine: RuleEngine, readings: list[dict], step: timedelta = timedelta(minutes=30)):
    out = []
    for index, reading in enumerate(readings):
        out.append(
            [
                (c.kind, c.key, c.severity, c.silenced)
                for c in engine.tick(T0 + index * step, lambda r, now, x=reading: x)
            ]
        )
    return out


def test_for_duration_then_single_alert_then_resolve() -> None:
    # CVR 4% vs baseline 5% = 80% < 90%: must hold 1 h (two 30-minute ticks) before firing once.
    engine = RuleEngine([rule(**{"for": "1h"})])
    bad, good = {"": (0.04, 0.05)}, {"": (0.05, 0.05)}
    steps = run(engine, [bad, bad, bad, bad, good])
    assert steps == [
        [],
        [],
        [("opened", "", "yellow", False)],
        [],
        [("resolved", "", "yellow", False)],
    ]


def test_significance_opens_an_alert_only_recovery_closes_it() -> None:
    # pay rate 1/6 vs 88% of the rest: p = 0.001 → opens at 99%. Next window 1/2 vs 88%: still
    # below 50% but p = 0.23 (two orders prove nothing): the alert stays open. 90% vs 88%: the
    # value is back; 45 minutes after the last breach (resolve_after) it resolves. Without an open alert the
    # insignificant reading never opens one.
    engine = RuleEngine([rule(below=0.5, confidence=0.99, resolve_after="45m")])
    sure, unsure, back = (
        {"": (1 / 6, 0.88, 0.001)},
        {"": (0.5 / 2, 0.88, 0.23)},
        {"": (0.9, 0.88, 0.6)},
    )
    steps = run(engine, [sure, unsure, unsure, back, back])
    assert steps == [
        [("opened", "", "yellow", False)],
        [],
        [],
        [],
        [("resolved", "", "yellow", False)],
    ]
    assert run(RuleEngine([rule(below=0.5, confidence=0.99)]), [unsure, unsure]) == [[], []]


def test_dimension_values_are_separate_alerts() -> None:
    engine = RuleEngine([rule(by="channel")])
    steps = run(
        engine, [{"a": (0.04, 0.05), "b": (0.05, 0.05)}, {"a": (0.04, 0.05), "b": (0.01, 0.05)}]
    )
    assert steps == [[("opened", "a", "yellow", False)], [("opened", "b", "yellow", False)]]


def test_escalation_unless_acknowledged() -> None:
    esc = {"escalate": {"after": "30m", "severity": "red", "notify": ["boss"]}, "notify": ["ops"]}
    bad = {"": (0.01, 0.05)}
    engine = RuleEngine([rule(**esc)])
    steps = run(engine, [bad, bad, bad])
    assert steps == [[("opened", "", "yellow", False)], [("escalated", "", "red", False)], []]
    assert engine.tick(T0, lambda r, n: bad) == []  # escalated once only
    acked = RuleEngine([rule(**esc)])
    run(acked, [bad])
    assert acked.acknowledge("r", "")
    assert run(acked, [bad, bad]) == [[], []]


def test_silence_window_suppresses_notification_not_the_alert() -> None:
    silence = [{"start": T0 - timedelta(minutes=5), "end": T0 + timedelta(minutes=5)}]
    engine = RuleEngine([rule(silence=silence)])
    assert run(engine, [{"": (0.01, 0.05)}]) == [[("opened", "", "yellow", True)]]


def test_missing_reference_never_fires() -> None:
    engine = RuleEngine([rule()])
    assert run(engine, [{"": (0.01, None)}, {"": (None, 0.05)}]) == [[], []]
    absolute = RuleEngine([AlertRule.model_validate({"id": "u", "metric": "uv", "above": 10})])
    assert run(absolute, [{"": (11, None)}]) == [[("opened", "", "yellow", False)]]


# -- significance: a deviation must be beyond sampling noise ---------------------------------------
def test_rate_tail_p_by_hand() -> None:
    from math import comb, exp, factorial

    from dacu.monitor.detectors import rate_tail_p

    # Two windows, same rate under H0: 1 of the 5 hits falls in the current window, whose share of
    # the trials is 12 / (12 + 3) = 0.8; P(X ≤ 1) for X ~ Binomial(5, 0.8) = 0.2⁵ + 5·0.8·0.2⁴.
    assert rate_tail_p(1, 12, 4, 3) == pytest.approx(0.2**5 + 5 * 0.8 * 0.2**4)
    # Against a known rate: 2 paid of 10 orders where 90% pay → Poisson(9): P(X ≤ 2).
    assert rate_tail_p(2, 10, 0, ref_rate=0.9) == pytest.approx(
        sum(exp(-9) * 9**k / factorial(k) for k in range(3))
    )
    # Above: 9 of 10 hits where the windows split trials evenly: P(X ≥ 9) = (C(10,9) + 1) / 2¹⁰.
    assert rate_tail_p(9, 1, 1, 1, lower=False) == pytest.approx((comb(10, 9) + 1) / 2**10)
    assert rate_tail_p(0, 10, 0, 10) == 1.0  # nothing to judge by


def test_counted_metrics_test_significance_by_default() -> None:
    assert rule().confidence == 0.99  # cvr vs baseline
    assert rule(confidence="99%").confidence == 0.99
    assert rule(confidence="off").confidence == 0.0
    money = AlertRule.model_validate({"id": "g", "metric": "gmv", "compare": "plan", "below": 0.7})
    absolute = AlertRule.model_validate({"id": "u", "metric": "uv", "below": 10})
    assert money.confidence == 0.0 and absolute.confidence == 0.0
    with pytest.raises(ConfigError, match=r"alerts\[0\] \(id c\)\.confidence: expected a level"):
        load_rules(
            campaign_with("""
alerts:
  - {id: c, metric: cvr, compare: previous, below: 50%, confidence: 150%}
""")
        )


def test_a_drop_within_noise_does_not_fire() -> None:
    # The demo's direct channel: 6 buyers of 65 visitors, then 6 of 177 (CVR −63%, below 40%):
    # p = 0.074 — a small channel's swing, not evidence. 1 paid of 13 orders against 85%: p ≈ 2e-4.
    from dacu.monitor.detectors import rate_tail_p

    noisy, real = rate_tail_p(6, 177, 6, 65), rate_tail_p(1, 13, 0, ref_rate=0.85)
    engine = RuleEngine([rule(compare="previous", below=0.4)])
    assert run(engine, [{"direct": (6 / 177, 6 / 65, noisy)}]) == [[]]
    assert run(engine, [{"direct": (1 / 13, 0.85, real)}]) == [
        [("opened", "direct", "yellow", False)]
    ]
    off = RuleEngine([rule(compare="previous", below=0.4, confidence="off")])
    assert run(off, [{"direct": (6 / 177, 6 / 65, noisy)}]) == [
        [("opened", "direct", "yellow", False)]
    ]


def test_stock_hours_is_per_sku_against_hours() -> None:
    with pytest.raises(ConfigError, match=r"alerts\[0\] \(id s\)\.rule: stock_hours .* by: sku_id"):
        load_rules(
            campaign_with("""
alerts:
  - {id: s, metric: stock_hours, below: 2}
""")
        )


def test_alert_text_names_the_culprit_and_its_signal() -> None:
    from dacu.monitor.messages import alert_text

    cause = {
        "culprit": {"dimension": "channel", "value": "search_ads", "ep": 0.8},
        "confidence": {"level": "high", "level_zh": "高", "evidence": 3.2, "named": True},
        "signals": [
            {
                "kind": "pay_failure",
                "dimension": "channel",
                "value": "search_ads",
                "measure": "paid_orders",
                "expected": 11.05,
                "actual": 1,
                "score": 3,
            }
        ],
    }
    title, body = alert_text(
        kind="opened",
        severity="red",
        rule_name="渠道拍下付款率骤降",
        metric="pay_rate",
        key_dim="channel",
        key="search_ads",
        value=1 / 13,
        reference=0.85,
        compare="rest",
        at=T0,
        root_cause=cause,
    )
    assert title == "🔴 红色告警·触发：渠道拍下付款率骤降（渠道=search_ads）"
    lines = body.splitlines()
    assert lines[0] == "- 指标 拍下付款率：当前 7.69%，参考(rest) 85.00%（9%）"
    assert "- 时间 2026-11-11 20:00（北京时间）" in lines
    # evidence 3.2: a corrected tail of 10^-3.2 ≈ 0.06%, shown as < 0.1%; no share of the change
    assert "- 根因 渠道=search_ads（把握 高：随机波动下出现的可能 < 0.1%）" in lines
    assert "- 信号 拍下未付款激增：渠道=search_ads 支付订单 1，预期 11 (pay_failure)" in lines


def test_a_stock_watch_signal_reads_as_hours_to_stock_out() -> None:
    from dacu.monitor.messages import signal_line

    watch = {
        "kind": "stock_out",
        "dimension": "category",
        "value": "makeup",
        "sku_id": "SKU-MK-028",
        "hours_to_stockout": 0.04,
    }
    # 0.04 h is 2.4 minutes: said in minutes, not "0.0 小时"; sold out, it says so
    assert signal_line(watch) == (
        "- 信号 断货预警：品类=makeup 的 SKU-MK-028 预计 2 分钟内断货 (stock watch)"
    )
    assert signal_line(dict(watch, hours_to_stockout=2.54)).endswith(
        "预计 2.5 小时内断货 (stock watch)"
    )
    assert signal_line(dict(watch, hours_to_stockout=0.0)).endswith(
        "SKU-MK-028 已断货 (stock watch)"
    )


def test_a_planned_flash_sale_reads_as_the_reason_for_a_rush(tmp_path) -> None:
    # the example's 20:00 lipstick flash sale (20:00–20:30): a window 19:31–20:01 overlaps it, one
    # ending 19:59 does not, one starting 20:45 does (within half an hour of its end)
    from dacu.config import load_campaign
    from dacu.monitor.live import LiveMonitor
    from dacu.monitor.messages import signal_line
    from dacu.monitor.store import to_minute
    from tests.conftest import ROOT

    monitor = LiveMonitor(
        load_campaign(ROOT / "examples" / "double11.yaml"), tmp_path / "m", detectors=False
    )
    at = lambda h, m: to_minute(T0.replace(hour=h, minute=m))  # noqa: E731
    [sale] = monitor._flash_sales((at(19, 31), at(20, 1)))
    assert (sale["value"], sale["name"]) == ("SKU-MK-001", "20点口红秒杀")
    assert monitor._flash_sales((at(19, 29), at(19, 59))) == []
    assert len(monitor._flash_sales((at(20, 45), at(21, 15)))) == 1
    assert signal_line(sale) == (
        "- 信号 计划内秒杀：20点口红秒杀（SKU=SKU-MK-001，20:00–20:30）(flash_sale)"
    )
    monitor.close()


def test_a_planned_flash_sale_is_the_culprit_of_a_rise_its_sku_spiked_in() -> None:
    # An order spike at 20:00 during the lipstick sale: the SKU's order spike is in the signals,
    # so the sale is named (not the channel Adtributor picked, nor its unpaid-order lag); a rule
    # on a fall, or a sale whose SKU did not spike, leaves the cause as it was.
    from dacu.monitor.live_cause import _planned_rush_first
    from dacu.monitor.messages import alert_text
    from dacu.monitor.playbooks import playbook

    sale = {
        "kind": "flash_sale",
        "dimension": "sku_id",
        "value": "SKU-MK-001",
        "name": "20点口红秒杀",
        "start": "2026-11-11T20:00:00+08:00",
        "end": "2026-11-11T20:30:00+08:00",
    }
    spike = {
        "kind": "order_spike",
        "dimension": "sku_id",
        "value": "SKU-MK-001",
        "measure": "orders",
        "expected": 1.1,
        "actual": 50,
        "score": 61.7,
    }
    lag = {
        "kind": "pay_failure",
        "dimension": "channel",
        "value": "private",
        "measure": "paid_orders",
        "expected": 52,
        "actual": 25,
        "score": 65.7,
    }
    cause = {
        "culprit": {"dimension": "channel", "value": "private", "ep": 0.9},
        "signals": [lag, sale, spike],
    }
    rise, fall = (
        AlertRule.model_validate(r)
        for r in (
            {"id": "order-spike", "metric": "orders", "compare": "plan", "above": "300%"},
            {"id": "orders", "metric": "orders", "compare": "plan", "below": "60%"},
        )
    )
    named = _planned_rush_first(cause, rise, [sale])
    assert named["culprit"] == {
        "dimension": "sku_id",
        "value": "SKU-MK-001",
        "ep": None,
        "signal": "flash_sale",
    }
    assert named["signals"] == [sale, lag, spike]
    assert _planned_rush_first(cause, fall, [sale]) is cause
    other = {**sale, "value": "SKU-FR-001"}
    assert _planned_rush_first(cause, rise, [other]) is cause
    _, body = alert_text(
        kind="opened",
        severity="red",
        rule_name="订单高于计划3倍",
        metric="orders",
        key_dim=None,
        key="",
        value=77,
        reference=25,
        compare="plan",
        at=T0,
        root_cause=named,
        playbook=playbook("flash_sale_rush").as_dict(),
    )
    lines = body.splitlines()
    # how sure: the SKU's own order spike, 10^−61.7, with no rival value (the sale says why)
    assert "- 根因 SKU=SKU-MK-001（信号 计划内秒杀，把握 高：随机波动下出现的可能 < 0.1%）" in lines
    assert lines[3].startswith("- 信号 计划内秒杀：20点口红秒杀")
    assert any(line.startswith("- 建议 核对秒杀库存") for line in lines)


def test_a_cause_the_rule_located_says_how_sure_it_is() -> None:
    # Issue 19 item 5: an alert on 直通车's pay rate whose own 拍下未付款激增 signal replaces the
    # first-ranked value (a region ranked first, 证据不足) must still say how sure it is. The rule
    # says where, the signal why: no rival value, so the runner-up's evidence counts 0 and the
    # margin is the signal's own score. Score 3.2: σ(−3.2201 + (1.6643 + 0.5487)·3.2)
    # = σ(3.8615) = 0.979 ≥ 0.95 → 高; score 2.1: σ(−3.2201 + 2.2130·2.1) = σ(1.4272) = 0.806
    # → 中, a corrected tail of 10^−2.1 = 0.79%.
    from dacu.monitor.cards import cause_line
    from dacu.monitor.live_cause import _own_signal_first
    from dacu.monitor.messages import root_cause_line

    rule = AlertRule.model_validate(
        {"id": "unpaid", "metric": "pay_rate", "by": "channel", "compare": "rest", "below": "50%"}
    )
    unsure = {"level": "low", "level_zh": "低", "probability": 0.3, "evidence": 1.1, "named": False}

    def cause(score: float) -> dict:
        signal = {
            "kind": "pay_failure",
            "dimension": "channel",
            "value": "search_ads",
            "measure": "paid_orders",
            "expected": 11.0,
            "actual": 1,
            "score": score,
        }
        region = {"dimension": "region", "value": "广东", "ep": 0.4}
        return {
            "culprit": None,
            "candidates": [region],
            "confidence": unsure,
            "explanations": [{"dimension": "region", "elements": [region]}],
            "signals": [signal],
        }

    sure = _own_signal_first(cause(3.2), rule, "search_ads")
    assert sure["culprit"]["value"] == "search_ads" and sure["culprit"]["signal"] == "pay_failure"
    assert sure["confidence"]["level_zh"] == "高"
    assert sure["confidence"]["probability"] == pytest.approx(0.9794, abs=1e-4)
    names = {"search_ads": "直通车"}
    assert root_cause_line(sure, names) == (
        "- 根因 渠道=直通车（信号 拍下未付款激增，把握 高：随机波动下出现的可能 < 0.1%）"
    )
    assert cause_line({"channel": names}, sure) == "渠道 直通车：拍下未付款激增（把握 高）"
    medium = _own_signal_first(cause(2.1), rule, "search_ads")
    assert medium["confidence"]["probability"] == pytest.approx(0.8065, abs=1e-4)
    assert root_cause_line(medium, names) == (
        "- 根因 渠道=直通车（信号 拍下未付款激增，把握 中：随机波动下出现的可能 0.8%）"
    )
    # another channel's signal does not replace the ranking: its own confidence stays
    assert _own_signal_first(cause(3.2), rule, "organic")["confidence"] is unsure


def test_a_proportion_is_tested_with_fisher_exact() -> None:
    # Issue #16: the demo's search_ads at 20:00 (payment failure) had 0 paid of 2 orders while
    # the rest paid 23 of 23. Fisher: P(X ≤ 0), X ~ Hypergeom(25 orders, 23 paid, 2 drawn)
    # = C(23,0)·C(2,2)/C(25,2) = 1/300; the share-of-hits binomial said (23/25)²³ ≈ 0.15.
    from math import comb

    from dacu.monitor.detectors import rate_tail_p

    assert rate_tail_p(0, 2, 23, 23) == pytest.approx(1 / 300)
    # above: 3 of 3 against 1 of 5 → P(X ≥ 3), X ~ Hypergeom(8, 4, 3) = C(4,3)/C(8,3)
    assert rate_tail_p(3, 3, 1, 5, lower=False) == pytest.approx(comb(4, 3) / comb(8, 3))
