"""The live record in the review (运营事件): each alert of the monitor's log as an incident with its
time, where, root cause, estimated loss and how long until it was acknowledged and resolved.

Estimated loss (paid GMV, fen) over the incident — from 30 minutes before the alert opened to its
resolution (an hour after it opened when it never resolved) — is what the warehouse says was
missing there:
- on one dimension value (channel=X, sku_id=Y …): its share of paid GMV in the 3 hours before ×
  the rest of the shop's paid GMV during the incident, minus its own (the rest of the shop carries
  the day's rhythm: a peak hour does not read as a recovery);
- on the whole shop: paid GMV per visitor in the 3 hours before × the incident's visitors, minus
  the actual.
- a pay-rate alert on one value (a payment failure): its placed GMV × the rest's paid / placed
  over the incident, minus its paid (`unpaid_loss`);
- an alert that compares with the plan (the plan's risk triggers, `compare: plan`): the plan's
  GMV over the incident (a rate such as CVR: the plan's GMV per visitor × the actual visitors)
  minus the actual, at the actual paid share of placed (`plan_shortfall`) — the evening before a
  midnight rush is no measure of what the rush should bring, the plan is;
- a rise (a rule with `above`: a spike, 3× the plan): no loss to estimate (None, shown "—");
- an alert of the stock watch (hours to stock-out of a SKU): over the time the SKU was sold out,
  from the stock-out it saw to its restock (the alert resolved) or the end of that day, at the
  SKU's share (`stock_alert_loss`); 0 when the warning cleared before the stock ran out.
Never negative (a spike has no loss); None where the warehouse cannot tell (no events, or a
dimension not on the events such as new/returning).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import ibis

from dacu.config import Campaign
from dacu.metrics.kpi import window
from dacu.monitor.messages import DIM_ZH, SIGNAL_ZH
from dacu.monitor.settings import stock_counting
from dacu.report.model import Column, Finding, Section, Table, tx

LEAD = timedelta(minutes=30)  # an alert opens after its incident began
BEFORE = timedelta(hours=3)
SKU_BEFORE = timedelta(hours=24)  # a SKU's share when it sold nothing in the 3 hours before
OPEN_FOR = timedelta(hours=1)  # the span of an alert that never resolved
EVENT_DIMS = frozenset({"channel", "category", "sku_id", "device", "region"})


def _moment(text: Any) -> datetime | None:
    return datetime.fromisoformat(str(text)) if text else None


def alert_span(alert: dict, campaign: Campaign) -> tuple[datetime, datetime] | None:
    opened = _moment(alert.get("opened_at"))
    if opened is None:
        return None
    end = _moment(alert.get("resolved_at")) or opened + OPEN_FOR
    return opened - LEAD, min(max(end, opened + timedelta(minutes=1)), campaign.end)


def _paid(wh: Any, start: datetime, end: datetime, dim: str | None, value: str | None) -> dict:
    """{True: paid fen of the value, False: of the rest} and visitors, over [start, end)."""
    ev = window(wh.events(), start, end)
    pays = ev.filter(ev.event == "pay")
    mine = (pays[dim] == value).fill_null(False) if dim else ibis.literal(False)
    rows = wh.to_arrow(
        pays.mutate(mine=mine).group_by("mine").agg(fen=pays.amount_fen.sum())
    ).to_pylist()
    out: dict[bool | str, int] = {bool(r["mine"]): int(r["fen"] or 0) for r in rows}
    out["uv"] = int(wh.to_arrow(ev.aggregate(uv=ev.user_id.nunique())).to_pylist()[0]["uv"] or 0)
    return out


def estimate_loss(
    wh: Any, campaign: Campaign, alert: dict, rules: Mapping[str, Any] | None = None
) -> int | None:
    """Paid GMV (fen) missing during the alert's incident (see the module docstring). `rules`:
    the campaign's watched rules by id with the plan (`watched`), for plan-relative alerts."""
    span = alert_span(alert, campaign)
    dim, _, value = str(alert.get("dimension") or "").partition("=")
    if span is None or (dim and dim not in EVENT_DIMS):
        return None
    rule = (rules or {}).get(str(alert.get("rule_id")))
    if rule is not None and rule.above is not None:
        return None
    if rule is not None and rule.compare == "plan" and rules is not None:
        return plan_shortfall(wh, rules[PLAN_KEY], *span, dim or None, value or None, rule.metric)
    if alert.get("metric") == "stock_hours" and dim == "sku_id":
        return stock_alert_loss(wh, campaign, alert, value)
    if alert.get("metric") == "pay_rate" and dim:
        return unpaid_loss(wh, *span, dim, value)
    return loss_between(wh, *span, dim or None, value or None)


def unpaid_loss(wh: Any, start: datetime, end: datetime, dim: str, value: str) -> int | None:
    """Paid GMV (fen) a payment failure cost over [start, end) on `dim`=`value`: what it placed
    × the rest of the shop's paid / placed then, minus what it paid (a pay-rate alert compares
    with the rest: a shop quiet the evening before gives a scope no share to expect, but the
    orders it took that never paid are the loss). None when the rest placed nothing."""
    ev = window(wh.events(), start, end)
    money = ev.filter(ev.event.isin(["order", "pay"]))
    mine = (money[dim] == value).fill_null(False)
    rows = wh.to_arrow(
        money.mutate(mine=mine).group_by(["mine", "event"]).agg(fen=money.amount_fen.sum())
    ).to_pylist()
    fen = {(bool(r["mine"]), r["event"]): int(r["fen"] or 0) for r in rows}
    if fen.get((False, "order"), 0) <= 0:
        return None
    rate = fen.get((False, "pay"), 0) / fen[(False, "order")]
    return unpaid_shortfall(fen.get((True, "order"), 0), fen.get((True, "pay"), 0), rate)


def unpaid_shortfall(placed_fen: int, paid_fen: int, rate: float) -> int:
    """Paid fen missing from orders placed for `placed_fen` that paid `paid_fen`, had they paid
    at `rate` (paid / placed fen of a reference): never negative."""
    return max(0, round(placed_fen * rate - paid_fen))


def day_end(moment: datetime, campaign: Campaign) -> datetime:
    """The end of `moment`'s day in the campaign's time zone (at most the campaign's end)."""
    local = moment.astimezone(campaign.tz)
    end = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return min(end, campaign.end)


def stock_alert_loss(wh: Any, campaign: Campaign, alert: dict, sku: str) -> int | None:
    """Paid GMV (fen) a SKU missed while sold out, for an alert of the stock watch (`sku_loss`
    from the stock-out to the alert's resolution — a restock — else to the end of that day).

    The stock-out is the alert's opening when it saw 0 hours of stock left (a stock count of 0,
    or the ledger run dry). A warning ahead of it (hours left > 0) is a stock-out only if the
    SKU's units taken then reached its stock (the skus table; ordered or paid, the campaign's
    `monitor.stock_counting`): from that moment; when they
    never did the SKU could still be bought (a rush that faded, a bot's burst): loss 0. Without
    a stock figure, at the moment the warning predicted."""
    opened = _moment(alert.get("opened_at"))
    if opened is None:
        return None
    hours = max(0.0, float(alert.get("value") or 0.0))
    resolved = _moment(alert.get("resolved_at"))
    out: datetime | None = opened
    if hours > 0:
        stock = _stock_of(wh, sku)
        if stock is None:
            out = opened + timedelta(hours=hours)
        else:
            out = _ran_out(wh, campaign, sku, stock, resolved or day_end(opened, campaign))
    if out is None:
        return 0
    out = max(out, opened)
    until = min(resolved or day_end(out, campaign), campaign.end)
    return sku_loss(wh, out, until, sku) if until > out else 0


def _stock_of(wh: Any, sku: str) -> int | None:
    """The SKU's stock in the warehouse's skus table (None: no table, no SKU or no figure)."""
    if not wh.has_table("skus"):
        return None
    skus = wh.table("skus")
    rows = wh.to_arrow(skus.filter(skus.sku_id == sku).select("stock")).to_pylist()
    return int(rows[0]["stock"]) if rows and rows[0]["stock"] is not None else None


def _ran_out(wh: Any, campaign: Campaign, sku: str, stock: int, until: datetime) -> datetime | None:
    """When the SKU's units taken (ordered or paid: `stock_counting`) since the campaign start
    reached `stock` (before `until`)."""
    ev = window(wh.events(), campaign.start, until)
    orders = ev.filter((ev.event == stock_counting(campaign)) & (ev.sku_id == sku))
    done = 0
    for row in wh.to_arrow(orders.select("ts", "quantity").order_by("ts")).to_pylist():
        done += int(row["quantity"] or 1)
        if done >= stock:
            return row["ts"]
    return None


def sku_loss(wh: Any, start: datetime, end: datetime, sku: str) -> int | None:
    """Paid GMV (fen) a SKU missed over [start, end) (sold out or stalled): the rest of the
    shop's paid GMV then × the SKU's share of it in the 3 hours before, minus what it sold. A
    SKU without a sale in those 3 hours (a slow seller, a night) takes its share of the 24
    hours before, so a sell-out after a quiet spell is not a loss of ¥0."""
    now = _paid(wh, start, end, "sku_id", sku)
    before = _paid(wh, start - BEFORE, start, "sku_id", sku)
    if not before.get(True):
        before = _paid(wh, start - SKU_BEFORE, start, "sku_id", sku)
    return _share_loss(now, before)


def _share_loss(now: dict, before: dict) -> int | None:
    """Expected at the value's share of the rest before, minus the actual (≥ 0); None when the
    rest of the shop sold nothing before."""
    rest_before, mine_before = before.get(False, 0), before.get(True, 0)
    if rest_before <= 0:
        return None
    expected = now.get(False, 0) * mine_before / rest_before
    return max(0, round(expected - now.get(True, 0)))


def loss_between(
    wh: Any, start: datetime, end: datetime, dim: str | None, value: str | None
) -> int | None:
    """Paid GMV (fen) missing over [start, end) on `dim`=`value` (None: the whole shop)."""
    now = _paid(wh, start, end, dim or None, value or None)
    before = _paid(wh, start - BEFORE, start, dim or None, value or None)
    if dim:
        return _share_loss(now, before)
    total_before = before.get(False, 0) + before.get(True, 0)
    if before["uv"] <= 0:
        return None
    expected = total_before / before["uv"] * now["uv"]
    actual = now.get(False, 0) + now.get(True, 0)
    return max(0, round(expected - actual))


PLAN_KEY = "\0plan"  # the pacing plan, beside the rules in `watched`'s mapping
RATE_METRICS = frozenset({"cvr", "pay_rate", "order_rate", "cart_rate", "asp_fen", "roi"})


def watched(campaign: Campaign, plan: Any) -> dict[str, Any]:
    """The rules the monitor watched for this campaign (the file's and the plan's risk triggers)
    by id, and the plan as the monitor reads it (under PLAN_KEY); {} without a plan."""
    from dacu.monitor.live_settings import watched_rules
    from dacu.monitor.pacing import parse_plan

    if plan is None:
        return {}
    data = plan.model_dump(mode="json") if hasattr(plan, "model_dump") else dict(plan)
    pacing = parse_plan(data, tz=campaign.timezone)
    return {**{r.id: r for r in watched_rules(campaign, pacing)}, PLAN_KEY: pacing}


def plan_shortfall(
    wh: Any,
    plan: Any,
    start: datetime,
    end: datetime,
    dim: str | None,
    value: str | None,
    metric: str,
) -> int | None:
    """Paid GMV (fen) below the plan over [start, end) on `dim`=`value` (None: the shop): the
    plan's GMV there (for a rate, the plan's GMV per visitor × the actual visitors) minus the
    actual placed GMV, at the shop's paid share of placed over the span (not the scope's: a
    scope whose payments failed would lose nothing). None where the plan has nothing."""
    from dacu.monitor.pacing import planned

    scope = {d: value if d == dim else None for d in ("channel", "category")}
    if dim not in (None, "channel", "category"):
        return None
    want = planned(plan, start, end, **scope)
    ev = window(wh.events(), start, end)
    money = ev.filter(ev.event.isin(["order", "pay"]))
    mine = (money[dim] == value).fill_null(False) if dim else ibis.literal(True)
    rows = wh.to_arrow(
        money.mutate(mine=mine).group_by(["mine", "event"]).agg(fen=money.amount_fen.sum())
    ).to_pylist()
    fen = {(bool(r["mine"]), r["event"]): int(r["fen"] or 0) for r in rows}
    if dim:
        ev = ev.filter((ev[dim] == value).fill_null(False))
    expected = want["gmv_fen"]
    if metric in RATE_METRICS:
        if not want["uv"]:
            return None
        uv = int(wh.to_arrow(ev.aggregate(uv=ev.user_id.nunique())).to_pylist()[0]["uv"] or 0)
        expected = want["gmv_fen"] / want["uv"] * uv
    if expected <= 0:
        return None
    shop_placed = fen.get((True, "order"), 0) + fen.get((False, "order"), 0)
    shop_paid = fen.get((True, "pay"), 0) + fen.get((False, "pay"), 0)
    paid_share = min(shop_paid / shop_placed, 1.0) if shop_placed else 1.0
    return max(0, round((expected - fen.get((True, "order"), 0)) * paid_share))


def estimate_losses(
    wh: Any, campaign: Campaign, alerts: Iterable[dict], plan: Any = None
) -> dict[Any, int | None]:
    rules = watched(campaign, plan)
    return {a.get("id"): estimate_loss(wh, campaign, a, rules) for a in alerts}


def _minutes(alert: dict, field: str) -> float | None:
    start, end = _moment(alert.get("opened_at")), _moment(alert.get(field))
    return None if start is None or end is None else round((end - start).total_seconds() / 60, 1)


def _rule_name(alert: dict) -> str:
    """The rule's name from the alert's title ('🔴 红色告警·触发：NAME（where）')."""
    title = str(alert.get("message") or "").split("\n", 1)[0]
    name = title.split("：", 1)[1] if "：" in title else ""
    return name.rsplit("（", 1)[0] or str(alert.get("rule_id") or alert.get("metric") or "告警")


def _where(alert: dict, label: dict[str, str]) -> str:
    dim, _, value = str(alert.get("dimension") or "").partition("=")
    if not dim:
        return "全店"
    return f"{DIM_ZH.get(dim, dim)}={label.get(value, value)}"


def _cause(alert: dict, label: dict[str, str]) -> str:
    """One line: the root cause's culprit and its signal, else the message's 根因 line."""
    cause = alert.get("root_cause") or {}
    culprit = cause.get("culprit") or {}
    if culprit.get("dimension"):
        dim, value = culprit["dimension"], str(culprit.get("value"))
        signal = culprit.get("signal") or next(
            (s.get("kind") for s in cause.get("signals") or [] if s.get("value") == value), None
        )
        what = f"{DIM_ZH.get(dim, dim)}={label.get(value, value)}"
        return f"{what} {SIGNAL_ZH.get(signal, signal)}" if signal else what
    line = next(
        (x for x in str(alert.get("message") or "").splitlines() if x.startswith("- 根因")), ""
    )
    return line.removeprefix("- 根因 ").strip() or _stock_cause(alert) or "未定位根因"


def _stock_cause(alert: dict) -> str | None:
    """A stock-watch alert names its own cause: the stock left at the current pace."""
    if alert.get("metric") != "stock_hours" or alert.get("value") is None:
        return None
    minutes = round(float(alert["value"]) * 60)
    return "库存为 0：断货" if minutes <= 0 else f"按当前销速约 {minutes} 分钟后断货"


NOT_HANDLED: dict[str, Any] = {
    "ack_minutes": None,
    "resolve_minutes": None,
    "handled_by": None,
    "resolved_at": None,
    "note": None,
}
"""The handling keys of an incident row that no one acknowledged or resolved (found by the
review off the alert log: fraud rings, stock stalls, coupon guards)."""
LIVE = "监控告警"  # the source of a row of the monitor's alert log
FOUND_IN_REVIEW = "复盘发现，无对应告警"  # a row the review found off the alert log, after the fact
GUARDED = "券风控已拦截"  # refusals of the coupon store's guards (stopped live, not alerted)
SOURCE_EN = {
    LIVE: "alerted live",
    FOUND_IN_REVIEW: "found in review, no matching alert",
    GUARDED: "blocked by the coupon guards",
}
MONITOR = "monitor"  # the actor of a resolution the monitor made itself (the value cleared)
AUTO_RESOLVED = "监控自动恢复"


def handling(alert: dict, campaign: Campaign) -> dict[str, Any]:
    """Who handled the alert, when it resolved (local time), the resolution note, and the
    minutes from opening to acknowledgement and to resolution."""
    resolved = _moment(alert.get("resolved_at"))
    who = alert.get("resolved_by") or alert.get("acked_by")
    return {
        "ack_minutes": _minutes(alert, "acked_at"),
        "resolve_minutes": _minutes(alert, "resolved_at"),
        "handled_by": AUTO_RESOLVED if who == MONITOR else who,
        "resolved_at": resolved.astimezone(campaign.tz).isoformat(timespec="minutes")
        if resolved
        else None,
        "note": str(alert.get("resolution_note") or "").strip() or None,
    }


def incident_rows(
    alerts: list[dict], campaign: Campaign, losses: dict[Any, int | None], label: dict[str, str]
) -> list[dict[str, Any]]:
    """One row per alert, in time order (the keys of the agreed `incidents` table)."""
    from dacu.monitor.risk_alerts import FRAUD_KINDS_ZH

    label = {**FRAUD_KINDS_ZH, **label}  # kind=coupon_bots → 风险类型=羊毛党/券机器人
    rows = []
    for alert in sorted(alerts, key=lambda a: str(a.get("opened_at") or "")):
        opened = _moment(alert.get("opened_at"))
        rows.append(
            {
                "start": opened.astimezone(campaign.tz).isoformat(timespec="minutes")
                if opened
                else None,
                "rule": _rule_name(alert),
                "where": _where(alert, label),
                "severity": alert.get("severity"),
                "cause": _cause(alert, label),
                "loss_fen": losses.get(alert.get("id")),
                **handling(alert, campaign),
                "source": LIVE,
            }
        )
    return rows


def incidents_section(rows: list[dict[str, Any]], given: bool) -> Section:
    table = Table(
        "incidents",
        tx("事件复盘：告警、根因、损失与处理时效", "Incidents: alert, root cause, loss, handling"),
        [
            Column("start", tx("开始时间", "Start")),
            Column("rule", tx("告警", "Alert")),
            Column("where", tx("范围", "Where")),
            Column("severity", tx("级别", "Severity")),
            Column("cause", tx("根因", "Root cause")),
            Column("loss_fen", tx("估计损失", "Est. loss"), "fen"),
            Column("ack_minutes", tx("响应（分钟）", "Minutes to ack"), "float"),
            Column("resolve_minutes", tx("解决（分钟）", "Minutes to resolve"), "float"),
            Column("handled_by", tx("处理人", "Handled by")),
            Column("resolved_at", tx("解决时间", "Resolved at")),
            Column("note", tx("处理说明", "Resolution note")),
            Column("source", tx("来源", "Source")),
        ],
        rows,
    )
    loss = sum(r["loss_fen"] or 0 for r in rows)
    from dacu.money import format_fen

    missed = sum(r.get("source") == FOUND_IN_REVIEW for r in rows)
    headline = tx(
        f"{len(rows)} 起事件（{missed} 起复盘发现、无对应告警），估计损失 {format_fen(loss)}",
        f"{len(rows)} incidents ({missed} found in review, no matching alert), "
        f"est. loss {format_fen(loss, lang='en')}",
    )
    notes = [
        tx(
            "估计损失：事件期间（告警前30分钟至恢复）该范围按此前3小时占比应得的支付金额 − 实际；全店告警按每访客支付金额估计。",
            "Est. loss: paid GMV the scope should have had during the incident (30 minutes before "
            "the alert to its resolution) at its share of the 3 hours before, minus the actual; "
            "shop-wide alerts at paid GMV per visitor.",
        ),
        tx(
            "来源「复盘发现，无对应告警」：复盘用全部数据重新计算——各渠道每60分钟拍下付款率对比当日其余时段"
            "（精确检验，按检验窗口数做 Bonferroni 校正，总显著性 1%），刷单/羊毛党团伙用风控批量评分；"
            "告警日志已有的同类、同范围、时间重叠的事件不重复列出。支付失败的损失 = 该时段拍下金额 × "
            "该渠道当日其余时段付款比例 − 实际付款。",
            "Source 'found in review, no matching alert': recomputed on all the data — each "
            "channel's pay rate per 60 minutes against the rest of its day (exact test, Bonferroni "
            "over the windows tested, 1% overall) and the batch fraud scoring for rings; an "
            "incident the alert log has (same kind and scope, overlapping time) is not listed "
            "twice. A payment failure's loss = its placed GMV × the channel's paid share over the "
            "rest of the day − what it paid.",
        ),
    ]
    if not given:
        notes.append(tx("未提供告警日志（--alerts）", "No alert log given (--alerts)"))
    return Section("incidents", tx("事件", "Incidents"), headline, [table], [], notes)


def incident_findings(rows: list[dict[str, Any]]) -> list[Finding]:
    """Each incident as a finding with its time and estimated loss (red: bad, yellow: warn)."""
    from dacu.money import format_fen

    out = []
    for i, r in enumerate(rows):
        loss_zh = "—" if r["loss_fen"] is None else format_fen(r["loss_fen"])
        loss_en = "—" if r["loss_fen"] is None else format_fen(r["loss_fen"], lang="en")
        missed = r.get("source") == FOUND_IN_REVIEW
        zh, en = (
            ("【复盘发现，无对应告警】", "[found in review, no matching alert] ")
            if missed
            else ("", "")
        )
        out.append(
            Finding(
                f"incident-{i + 1}",
                "bad" if r["severity"] == "red" else "warn",
                tx(
                    f"{zh}{r['start'][5:16].replace('T', ' ')} {r['rule']}（{r['where']}）：根因 "
                    f"{r['cause']}，估计损失 {loss_zh}{handled_text(r, 'zh')}",
                    f"{en}{r['start'][5:16].replace('T', ' ')} {r['rule']} ({r['where']}): cause "
                    f"{r['cause']}, est. loss {loss_en}{handled_text(r, 'en')}",
                ),
                f"incidents/incidents: start={r['start']} loss_fen={r['loss_fen']}",
                MISSED_ACTION if missed else ALERT_ACTION,
            )
        )
    return out


ALERT_ACTION = tx(
    "把该告警的处置写入下次预案，并复核阈值",
    "Put this alert's handling into the next runbook and review its threshold",
)
MISSED_ACTION = tx(
    "监控当时未报警：为此类事件补充监控规则或调整阈值与窗口，下次实时发现",
    "The monitor did not alert it live: add a rule for it or adjust its threshold and window",
)


def handled_text(row: dict[str, Any], lang: str) -> str:
    """'；响应 6 分钟，王五 11-11 21:01 解决（58 分钟），处理：重启支付通道' — the handling of an
    incident row as the end of its finding ('' when no one acknowledged or resolved it)."""
    zh = lang == "zh"
    parts = []
    if row.get("ack_minutes") is not None:
        ack = row["ack_minutes"]
        parts.append(f"响应 {ack:.0f} 分钟" if zh else f"acknowledged in {ack:.0f} min")
    if row.get("resolved_at"):
        at, took = row["resolved_at"][5:16].replace("T", " "), row.get("resolve_minutes") or 0
        who = row.get("handled_by") or ""
        if zh:
            parts.append(f"{who + ' ' if who else ''}{at} 解决（{took:.0f} 分钟）")
        else:
            who = "the monitor (cleared)" if who == AUTO_RESOLVED else who
            parts.append(f"resolved {at}{' by ' + who if who else ''} ({took:.0f} min)")
    if row.get("note"):
        parts.append(f"处理：{row['note']}" if zh else f"note: {row['note']}")
    if not parts:
        return ""
    return "；" + "，".join(parts) if zh else "; " + ", ".join(parts)
