"""Alert message texts (Chinese first, English below) for notifications and the alert feed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from dacu.money import format_fen, format_pct

SEVERITY_ZH = {"red": "🔴 红色告警", "yellow": "🟡 黄色预警", "green": "🟢 已恢复"}
KIND_ZH = {"opened": "触发", "escalated": "升级", "resolved": "恢复"}
METRIC_ZH = {
    "gmv_fen": "GMV",
    "paid_gmv_fen": "支付金额",
    "orders": "订单数",
    "paid_orders": "支付订单",
    "uv": "访客数UV",
    "buyers": "支付买家数",
    "pv": "浏览量PV",
    "cvr": "支付转化率",
    "asp_fen": "客单价",
    "units": "件数",
    "refund_fen": "退款金额",
    "spend_fen": "花费",
    "roi": "ROI",
    "cpc_fen": "CPC(每次点击花费)",
    "cpm_fen": "CPM(千次展现花费)",
    "ctr": "CTR(点击率)",
    "cart_rate": "加购率",
    "pay_rate": "拍下付款率",
    "order_rate": "下单率(订单/浏览)",
    "stock_hours": "预计断货(小时)",
}
DIM_ZH = {
    "channel": "渠道",
    "category": "品类",
    "device": "设备",
    "region": "地区",
    "customer_type": "新老客",
    "sku_id": "SKU",
    "coupon": "优惠券",
    "kind": "风险类型",
    "all": "全店",
}


def show(metric: str, value: float | None) -> str:
    """A KPI value as an operator reads it."""
    if value is None:
        return "—"
    if metric.endswith("_fen"):
        return format_fen(round(value))
    if metric in ("cvr", "cart_rate", "pay_rate", "order_rate", "ctr"):
        return format_pct(value)
    if metric == "roi":
        return f"{value:.2f}"
    if metric == "stock_hours":
        return "0（已断货）" if value <= 0 else hours_text(value)
    return f"{value:,.0f}"


def hours_text(hours: float) -> str:
    """Time to a sell-out as an operator says it: '2.5 小时', '24 分钟' (not '0.4 小时')."""
    return f"{hours:.1f} 小时" if hours >= 1 else f"{max(hours * 60, 1):.0f} 分钟"


SIGNAL_ZH = {
    "pay_failure": "拍下未付款激增",
    "traffic_drop": "流量骤降",
    "stock_out": "疑似断货",
    "cvr_drop": "转化率骤降",
    "order_spike": "订单异常激增（疑似刷单）",
    "repeat_orders": "少数买家重复下单（疑似刷单）",
    "coupon_refusal": "领券被拒激增",
    "flash_sale": "计划内秒杀",
    "sold_out": "已售罄",
}
SIGNAL_EN = {"coupon_refusal": "coupon refusals surged"}
MEASURE_ZH = {
    "paid_orders": "支付订单",
    "orders": "订单",
    "entry_orders": "进店订单",  # orders of the shoppers who entered on the value (a category)
    "uv": "访客",
    "refused": "被拒人数",
}


def cell(dim: str, value: object, names: Mapping[str, str] | None = None) -> str:
    """'渠道=直通车': a dimension and its value as the operator names them (ids without a name
    stay ids: a SKU code, a region)."""
    shown = (names or {}).get(str(value), value)
    return f"{DIM_ZH.get(dim, dim)}={shown}"


def signal_line(signal: dict, names: Mapping[str, str] | None = None) -> str:
    """One associated signal of a root cause, e.g. '- 信号 疑似断货：SKU=SKU-SC-001 订单 0，预期 12';
    a coupon refusal says why the coupon was refused, e.g. '- 信号 领券被拒激增：优惠券=C-300-50
    被拒人数 93，预期 0.4，主因 已领完 (coupon refusals surged: coupons_gone)'."""
    kind, dim = signal.get("kind", ""), signal.get("dimension", "")
    if kind == "flash_sale":  # a planned rush from the campaign file, not a detection
        start, end = (str(signal.get(k, ""))[11:16] for k in ("start", "end"))
        return (
            f"- 信号 计划内秒杀：{signal.get('name')}（SKU={signal.get('value')}，"
            f"{start}–{end}）(flash_sale)"
        )
    if signal.get("hours_to_stockout") is not None:  # the stock watch's, on the SKU's category
        return (
            f"- 信号 断货预警：{cell(dim, signal.get('value'), names)} 的 "
            f"{signal.get('sku_id')} "
            + (
                f"预计 {hours_text(hours)}内断货 "
                if (hours := signal["hours_to_stockout"]) > 0
                else "已断货 "
            )
            + "(stock watch)"
        )
    measure = MEASURE_ZH.get(signal.get("measure", ""), signal.get("measure", ""))
    expected = signal.get("expected", 0)
    line = (
        f"- 信号 {SIGNAL_ZH.get(kind, kind)}：{cell(dim, signal.get('value'), names)} "
        f"{measure} {signal.get('actual', 0):,.0f}，预期 "
        + (f"{expected:.1f}" if kind == "coupon_refusal" and expected < 10 else f"{expected:,.0f}")
    )
    if signal.get("reason"):
        return (
            f"{line}，主因 {signal.get('reason_zh') or signal['reason']} "
            f"({SIGNAL_EN.get(kind, kind)}: {signal['reason']})"
        )
    return f"{line} ({kind})"


OUTSIDE_KINDS = frozenset({"coupon_refusal"})
"""Signals on values the rollup cube does not have (a coupon template): as culprits they have no
explanatory power to show, so their kind and reason say why instead."""


def _culprit_signal(root_cause: dict, culprit: dict) -> dict | None:
    return next(
        (
            s
            for s in root_cause.get("signals") or []
            if s.get("kind") in OUTSIDE_KINDS
            and (s.get("dimension"), s.get("value")) == (culprit["dimension"], culprit["value"])
        ),
        None,
    )


def chance(evidence: float) -> str:
    """How likely noise alone shows such a break, from evidence = −log10 of the corrected tail."""
    p = 10.0 ** (-evidence)
    return "< 0.1%" if p < 0.001 else f"{min(p, 1.0):.1%}".replace(".0%", "%")


def sureness(confidence: dict) -> str:
    """'把握 高：随机波动下出现的可能 < 0.1%': how sure the root cause is, in words."""
    return f"把握 {confidence['level_zh']}：随机波动下出现的可能 {chance(confidence['evidence'])}"


def root_cause_line(root_cause: dict, names: Mapping[str, str] | None = None) -> str:
    """The 根因 line: the named culprit with why and how sure it is (a signal's culprit too:
    '信号 拍下未付款激增，把握 高：…'), or 证据不足 with the candidates when the evidence cannot
    single one out ('' without a root cause)."""
    culprit, confidence = root_cause.get("culprit"), root_cause.get("confidence")
    if not culprit:
        candidates = root_cause.get("candidates") or []
        if not candidates or not confidence:
            return ""
        listed = "、".join(cell(c["dimension"], c["value"], names) for c in candidates)
        return f"- 根因 证据不足（{sureness(confidence)}）：候选 {listed}，尚不能确定是哪一个"
    factor = root_cause.get("culprit_factor")
    via = f"主要因 {METRIC_ZH.get(factor, factor)}" if factor else ""
    signal = culprit.get("signal")
    outside = None if signal else _culprit_signal(root_cause, culprit)
    sure = sureness(confidence) if confidence else ""
    if outside is not None:  # e.g. 信号 领券被拒激增：已领完
        why = f"：{outside['reason_zh']}" if outside.get("reason_zh") else ""
        power = "，".join(
            x for x in (f"信号 {SIGNAL_ZH.get(outside['kind'], outside['kind'])}{why}", sure) if x
        )
    elif signal:
        power = "，".join(x for x in (f"信号 {SIGNAL_ZH.get(signal, signal)}", sure) if x)
    else:
        power = "，".join(x for x in (sure, via) if x)
    where = cell(culprit["dimension"], culprit["value"], names)
    return f"- 根因 {where}（{power}）" if power else f"- 根因 {where}"


LOST_ZH = {"buyers": "个买家", "orders": "笔订单", "paid_orders": "笔支付订单", "units": "件"}


def sold_out_line(sold_out: Mapping) -> str:
    """'- 售罄 SKU-BC-002、SKU-BC-003 已售罄，本窗口仍有 1,204 次浏览：按售罄前的转化少了约 37 个买家
    （缺口的 80%），计入后为参考的 91%（阈值 80%）…': what the sell-outs cost the window, their
    part of its shortfall from the reference, and that they explain it."""
    skus = sold_out["skus"]
    shown = "、".join(s.get("name") or s["sku_id"] for s in skus[:3])
    more = f"等{len(skus)}款" if len(skus) > 3 else ""
    views = sum(s["views"] for s in skus)
    measure = sold_out["measure"]
    lost = (
        format_fen(round(sold_out["lost"]))
        if measure.endswith("_fen")
        else f"{sold_out['lost']:,.0f} {LOST_ZH.get(measure, measure)}"
    )
    return (
        f"- 售罄 {shown}{more} 已售罄，本窗口仍有 {views:,} 次浏览：按售罄前的转化少了约 {lost}"
        f"（缺口的 {format_pct(min(sold_out['share_of_gap'], 1.0), digits=0)}），"
        f"计入后为参考的 {format_pct(sold_out['share_without'], digits=0)}"
        f"（阈值 {format_pct(sold_out['bound'], digits=0)}），"
        + ("售罄所致" if sold_out.get("main", True) else "未售罄则不会告警")
        + ("，降为黄色" if sold_out.get("demoted", True) else "")
    )


def alert_text(
    *,
    kind: str,
    severity: str,
    rule_name: str,
    metric: str,
    key_dim: str | None,
    key: str,
    value: float | None,
    reference: float | None,
    compare: str,
    at: datetime,
    root_cause: dict | None = None,
    playbook: dict | None = None,
    tz: str = "Asia/Shanghai",
    deviations: bool = False,
    bound: tuple[str, float] | None = None,
    names: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """(title, body) of one alert transition.

    `bound`: ("<" or ">", threshold) of an absolute rule, shown in the KPI's unit (¥ for money).

    `deviations`: the value is a detector's score (robust deviations from comparable hours), not
    the KPI itself, so it is shown as σ rather than in the KPI's unit.

    `names`: id → the operator's name (`Campaign.display_names`): 渠道=直通车, not search_ads.
    """
    label = SEVERITY_ZH["green"] if kind == "resolved" else SEVERITY_ZH.get(severity, severity)
    where = cell(key_dim or "all", key, names) if key else "全店"
    title = f"{label}·{KIND_ZH[kind]}：{rule_name}（{where}）"
    ratio = (
        f"（{format_pct(value / reference, digits=0)}）" if value is not None and reference else ""
    )
    measure = (
        f"- 指标 {METRIC_ZH.get(metric, metric)}：偏离同时段常态 {value:+.1f}σ (robust deviations)"
        if deviations and value is not None
        else f"- 指标 {METRIC_ZH.get(metric, metric)}：当前 {show(metric, value)}，"
        + (
            f"阈值 {bound[0]} {show(metric, bound[1])} (threshold)"
            if compare == "absolute" and bound is not None
            else f"参考({compare}) {show(metric, reference)}{ratio}"
        )
    )
    lines = [measure, f"- 时间 {at.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}（北京时间）"]
    cause_line = root_cause_line(root_cause or {}, names)
    if cause_line:
        lines.append(cause_line)
    if sold_out := (root_cause or {}).get("sold_out"):
        lines.append(sold_out_line(sold_out))
    for signal in ((root_cause or {}).get("signals") or [])[:2]:
        lines.append(signal_line(signal, names))
    for action in (playbook or {}).get("actions", [])[:2]:
        lines.append(
            f"- 建议 {action['zh']}"
            + (f"：{action['expected_zh']}" if action.get("expected_zh") else "")
        )
    shown = (
        f"{value:+.1f}σ"
        if deviations and value is not None
        else f"{show(metric, value)} {bound[0]} {show(metric, bound[1])}"
        if compare == "absolute" and bound is not None
        else f"{show(metric, value)} vs {show(metric, reference)}"
    )
    lines.append(
        f"- EN: {kind} {severity} — {rule_name} ({key_dim or 'all'}={key or '*'}): {metric} {shown}"
    )
    return title, "\n".join(lines)
