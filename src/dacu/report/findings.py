"""Rule-based findings: each one states what the numbers say, cites its figure, and says what to
do next time. Archived as `lessons.json` so the next campaign's plan can read them
(`load_lessons`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dacu.money import format_fen, format_pct
from dacu.report.bridge import Bridge
from dacu.report.incidents import LIVE
from dacu.report.model import Finding, Review, Section, Table, tx

FACTOR_ACTION = {
    "UV": tx(
        "提前蓄水：加大预热期投放与私域触达，扩大访客池",
        "Build the visitor pool earlier: more warm-up spend and private-domain reach",
    ),
    "CVR": tx(
        "优化承接：详情页、优惠门槛与催付，提高转化",
        "Improve conversion: product pages, discount thresholds, payment reminders",
    ),
    "ASP": tx(
        "提高客单：组合装、阶梯满减门槛贴近客单价",
        "Raise spend per buyer: bundles, tiered thresholds just above the typical basket",
    ),
}


_ATTAINED = {"gmv": ("GMV(拍下)", "GMV (placed)"), "paid_gmv": ("支付金额", "Paid GMV")}


def _gmv_rule(att: Table, bridge: Bridge | None) -> list[Finding]:
    """Placed and paid GMV each against its own target (the attainment table's rows, the same
    the bridge and headline use), then the bridge's largest negative factor when paid fell short."""
    out = []
    for metric, (zh, en) in _ATTAINED.items():
        row = next((r for r in att.rows if r["metric"] == metric and r["scope"] == "all"), None)
        if row is None or row["actual"] is None or not row["target"]:
            continue
        rate = row["actual"] / row["target"]
        good = rate >= 1
        out.append(
            Finding(
                f"{metric.replace('_', '-')}-attainment",
                "good" if good else "bad",
                tx(
                    f"{zh} 达成 {format_pct(rate, digits=1)}（目标 {format_fen(row['target'])}，"
                    f"实际 {format_fen(row['actual'])}，差额 {format_fen(row['gap'])}）",
                    f"{en} reached {format_pct(rate, digits=1)} of target "
                    f"({format_fen(row['actual'], lang='en')} of "
                    f"{format_fen(row['target'], lang='en')})",
                ),
                f"attainment/attainment: {metric} actual={row['actual']} target={row['target']}",
                tx(
                    "保持当前节奏" if good else "见 GMV 桥的最大负向因子",
                    "Keep the rhythm" if good else "See the largest negative factor of the bridge",
                ),
            )
        )
    if bridge is not None and bridge.gap_fen < 0:
        effects = {
            "UV": bridge.uv_effect_fen,
            "CVR": bridge.cvr_effect_fen,
            "ASP": bridge.asp_effect_fen,
        }
        worst = min(effects, key=lambda k: effects[k])
        out.append(
            Finding(
                f"bridge-{worst.lower()}",
                "bad",
                tx(
                    f"支付金额差额中 {worst} 效应最大：{format_fen(effects[worst])}",
                    f"{worst} explains most of the paid GMV gap: "
                    f"{format_fen(effects[worst], lang='en')}",
                ),
                f"attainment/gmv_bridge: {worst.lower()}_effect_fen={effects[worst]}",
                FACTOR_ACTION[worst],
            )
        )
    return out


def _roi_rules(inv: Table) -> list[Finding]:
    rated = [r for r in inv.rows if r["roi"] is not None]
    if len(rated) < 2:
        return []
    best, worst = max(rated, key=lambda r: r["roi"]), min(rated, key=lambda r: r["roi"])
    return [
        Finding(
            "roi-best",
            "good",
            tx(
                f"{best['name']} ROI 最高：{best['roi']:.2f}",
                f"{best['name']} has the best ROI: {best['roi']:.2f}",
            ),
            f"investment/investment: {best['line']} roi={best['roi']:.4f}",
            tx(
                f"下次向 {best['name']} 倾斜预算（注意边际递减）",
                f"Shift budget toward {best['name']} next time (mind saturation)",
            ),
        ),
        Finding(
            "roi-worst",
            "warn" if worst["roi"] >= 1 else "bad",
            tx(
                f"{worst['name']} ROI 最低：{worst['roi']:.2f}",
                f"{worst['name']} has the lowest ROI: {worst['roi']:.2f}",
            ),
            f"investment/investment: {worst['line']} roi={worst['roi']:.4f}",
            tx(
                f"复核 {worst['name']} 的人群与出价，削减低效投放",
                f"Review {worst['name']}'s audiences and bids; cut the inefficient spend",
            ),
        ),
    ]


def _funnel_rule(funnel: Table) -> list[Finding]:
    rated = [r for r in funnel.rows if r["step_rate"] is not None]
    if not rated:
        return []
    neck = min(rated, key=lambda r: r["step_rate"])
    return [
        Finding(
            "funnel-bottleneck",
            "warn",
            tx(
                f"漏斗瓶颈：{neck['step']} 环节转化 {format_pct(neck['step_rate'], digits=1)}",
                f"Funnel bottleneck: {neck['step']} at {format_pct(neck['step_rate'], digits=1)}",
            ),
            f"traffic/funnel: {neck['step']} step_rate={neck['step_rate']:.4f}",
            tx(
                "针对该环节做 A/B 测试（页面、优惠展示、支付流程）",
                "A/B test that step (page, offer display, checkout)",
            ),
        )
    ]


def _stock_rule(stock: Table) -> list[Finding]:
    if not stock.rows:
        return []
    ids = ", ".join(r["sku_id"] for r in stock.rows[:5])
    return [
        Finding(
            "stockouts",
            "warn",
            tx(
                f"{len(stock.rows)} 个 SKU 售罄（{ids}）",
                f"{len(stock.rows)} SKUs sold out ({ids})",
            ),
            f"operations/stockouts: count={len(stock.rows)}",
            tx("下次按预测加备货，并设置库存告警", "Stock more by forecast; add a stock alert"),
        )
    ]


def _alert_rule(alerts: Table) -> list[Finding]:
    still_open = sum(r["open"] for r in alerts.rows)
    slow = [r for r in alerts.rows if (r["ack_minutes"] or 0) > 15]
    out = []
    if still_open:
        out.append(
            Finding(
                "alerts-open",
                "warn",
                tx(f"{still_open} 条告警至复盘时仍未处理", f"{still_open} alerts still open"),
                f"operations/alerts: open={still_open}",
                tx("复盘会上逐条指派负责人并关闭", "Assign an owner to each and close them"),
            )
        )
    for r in slow:
        out.append(
            Finding(
                f"alerts-slow-{r['severity']}",
                "warn",
                tx(
                    f"{r['severity']} 级告警响应中位数 {r['ack_minutes']:.0f} 分钟（> 15）",
                    f"{r['severity']} alerts took a median {r['ack_minutes']:.0f} min to "
                    "acknowledge (> 15)",
                ),
                f"operations/alerts: {r['severity']} ack_minutes={r['ack_minutes']}",
                tx(
                    "爆发期安排值班并接入即时通知",
                    "Staff an on-call rota with instant notifications during the burst",
                ),
            )
        )
    return out


LOW_REDEMPTION = 0.2  # 核销率 below this: too many coupons issued, or a threshold too high
LOW_RECALL = 0.1  # recall rate of lapsed customers below this: the recall touch did not work


def _coupon_rule(coupons: Table) -> list[Finding]:
    low = [
        r
        for r in coupons.rows
        if r["redemption_rate"] is not None and r["redemption_rate"] < LOW_REDEMPTION
    ]
    return [
        Finding(
            f"coupon-low-{r['template']}",
            "warn",
            tx(
                f"{r['name']} 核销率仅 {format_pct(r['redemption_rate'], digits=1)}"
                f"（领取 {r['issued']:,}，核销 {r['redeemed']:,}）",
                f"{r['name']}: only {format_pct(r['redemption_rate'], digits=1)} redeemed "
                f"({r['redeemed']:,} of {r['issued']:,} issued)",
            ),
            f"investment/coupons: {r['template']} redemption_rate={r['redemption_rate']:.4f}",
            tx(
                "复核券门槛与发放人群，按核销预测控制发行量",
                "Review the threshold and who gets it; size the issue by expected redemption",
            ),
        )
        for r in low
    ]


def _recall_rule(recall: Table) -> list[Finding]:
    total = recall.rows[-1] if recall.rows else None
    if total is None or not total["lapsed"]:
        return []
    rate = total["recall_rate"]
    return [
        Finding(
            "recall",
            "good" if rate >= LOW_RECALL else "warn",
            tx(
                f"流失客户召回 {total['recalled']:,}/{total['lapsed']:,} 人"
                f"（{format_pct(rate, digits=1)}），贡献 {format_fen(total['recalled_gmv_fen'])}",
                f"Recalled {total['recalled']:,} of {total['lapsed']:,} lapsed customers "
                f"({format_pct(rate, digits=1)}), "
                f"{format_fen(total['recalled_gmv_fen'], lang='en')} paid",
            ),
            f"customers/recall: recall_rate={rate:.4f}",
            tx(
                "预热期按流失分层发送召回短信/Push，并留对照组衡量增量",
                "Send recall messages by lapse band in the warm-up, with a held-out "
                "control group to measure the lift",
            ),
        )
    ]


def derive_findings(sections: list[Section], bridge: Bridge | None) -> list[Finding]:
    """Apply every rule to the built sections (each finding cites section/table: key=value)."""
    tables = {t.id: t for s in sections for t in s.tables}
    out: list[Finding] = []
    if "attainment" in tables:
        out += _gmv_rule(tables["attainment"], bridge)
    if "investment" in tables:
        out += _roi_rules(tables["investment"])
    if "funnel" in tables:
        out += _funnel_rule(tables["funnel"])
    if "stockouts" in tables:
        out += _stock_rule(tables["stockouts"])
    if "alerts" in tables:
        out += _alert_rule(tables["alerts"])
    if "coupons" in tables:
        out += _coupon_rule(tables["coupons"])
    if "recall" in tables:
        out += _recall_rule(tables["recall"])
    return out


def findings_section(findings: list[Finding]) -> Section:
    rows = [
        {
            "severity": f.severity,
            "text_zh": f.text["zh"],
            "text_en": f.text["en"],
            "cites": f.cites,
            "action_zh": f.action["zh"],
            "action_en": f.action["en"],
        }
        for f in findings
    ]
    from dacu.report.model import Column

    table = Table(
        "findings",
        tx("发现与行动", "Findings and actions"),
        [
            Column("severity", tx("级别", "Level")),
            Column("text_zh", tx("发现", "Finding")),
            Column("cites", tx("依据", "Cites")),
            Column("action_zh", tx("下次行动", "Next action")),
        ],
        rows,
    )
    return Section(
        "findings", tx("发现与行动", "Findings and actions"), findings_headline(findings), [table]
    )


SEVERITY_WORDS = (
    ("bad", "需要改进", "to fix"),
    ("warn", "需要关注", "to watch"),
    ("good", "做得好", "went well"),
)


def findings_headline(findings: list[Finding]) -> Any:
    """'9 条发现：2 条需要改进，5 条需要关注，2 条做得好' — every severity counted."""
    counts = [(zh, en, sum(f.severity == key for f in findings)) for key, zh, en in SEVERITY_WORDS]
    parts = [(zh, en, n) for zh, en, n in counts if n]
    return tx(
        f"{len(findings)} 条发现"
        + ("：" + "，".join(f"{n} 条{zh}" for zh, _, n in parts) if parts else ""),
        f"{len(findings)} findings"
        + (": " + ", ".join(f"{n} {en}" for _, en, n in parts) if parts else ""),
    )


def write_lessons(review: Review, path: Path) -> Path:
    """lessons.json: the findings and the to-do list, for the next campaign's plan."""
    data = {
        "campaign_id": review.campaign_id,
        "store": review.store,
        "generated_at": review.generated_at,
        "lessons": [asdict(f) for f in review.findings],
        "todo": [f.action for f in review.findings if f.severity != "good"],
        "data": lesson_data(review),
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


NOT_ALERTS = ("风控", "库存：", "券风控")  # incident rows of the fraud, stock and coupon watches


def lesson_data(review: Review) -> dict[str, Any]:
    """The figures the next plan acts on (`dacu.plan.lessons`), each with the finding it came
    from: ROI per budget line, the SKUs that sold out, how often each alert fired."""
    tables = {t.id: t for s in review.sections for t in s.tables}
    roi = {
        str(r["line"]): r["roi"]
        for r in (tables["investment"].rows if "investment" in tables else [])
        if r.get("roi") is not None and r.get("line")
    }
    sold = [
        {k: r.get(k) for k in ("sku_id", "stock", "taken", "units", "sold_out_at", "lost_units")}
        for r in (tables["stockouts"].rows if "stockouts" in tables else [])
    ]
    fired: dict[str, int] = {}
    for r in tables["incidents"].rows if "incidents" in tables else []:
        if r.get("source", LIVE) == LIVE and not str(r.get("rule", "")).startswith(NOT_ALERTS):
            fired[r["rule"]] = fired.get(r["rule"], 0) + 1
    ids = {f.id for f in review.findings}
    return {
        "roi_by_line": roi,
        "roi_lessons": sorted(ids & {"roi-best", "roi-worst"}),
        "sold_out": sold,
        "sold_out_lesson": "stockouts" if "stockouts" in ids else None,
        "alerts_by_rule": fired,
    }


def load_lessons(path: str | Path) -> dict[str, Any]:
    """Read a lessons.json (a review's out dir or the file itself) for the next plan."""
    path = Path(path)
    if path.is_dir():
        path = path / "lessons.json"
    return json.loads(path.read_text(encoding="utf-8"))
