"""Risk alerts (风控与舆情告警): what an alert of each risk feed says, and its delivery.

Pure apart from the alert log and notifier they are given: `sentiment_alerts` and `fraud_alerts`
turn the results of `dacu.analyze.sentiment.burst.detect_bursts` and
`dacu.analyze.fraud.score_customers` into alert fields; `burst_alerts`, `fraud_kind_alerts` (one
per abuse kind, `fraud_kind`) and `coupon_slot_alerts` are the live monitor's forms, with their
playbook. `raise_risk_alerts` opens them (one open alert per rule and dimension; the log
de-duplicates) and `notify_alerts` sends them. The feeds that produce them on the event clock are
`dacu.monitor.watch_risk`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dacu.money import format_fen


def sentiment_alerts(bursts: Sequence[Any]) -> list[dict]:
    """One red alert per burst: topic, count vs baseline, up to three example posts."""
    out = []
    for b in bursts:
        examples = "\n".join(f"  · {text[:80]}" for text in b.examples)
        out.append(
            {
                "rule_id": "sentiment-burst",
                "severity": "red",
                "metric": "negative_posts",
                "dimension": f"topic={b.topic}",
                "value": float(b.count),
                "threshold": b.baseline,
                "message": (
                    f"负面舆情爆发 Negative burst: {b.topic} — {b.count} 条负面/5分钟 "
                    f"(基线 baseline {b.baseline:.1f}), 自 since {b.start:%m-%d %H:%M}\n"
                    f"{examples}"
                ),
                "at": b.detected_at,
            }
        )
    return out


def fraud_alerts(result: Any, *, top: int = 5) -> list[dict]:
    """One yellow alert when customers are flagged (waiting for approval), with the worst ones."""
    flagged = result.flagged
    if flagged.empty:
        return []
    lines = [
        f"  · {r.user_id} ({r.points}分): {r.reasons_zh}" for r in flagged.head(top).itertuples()
    ]
    gmv = int(flagged["paid_fen"].sum())
    return [
        {
            "rule_id": "fraud-flagged",
            "severity": "yellow",
            "metric": "flagged_customers",
            "dimension": "",
            "value": float(len(flagged)),
            "threshold": None,
            "message": (
                f"风控待审批 Flagged for approval: {len(flagged)} 个账户 accounts, "
                f"{len(result.clusters)} 个团伙 clusters, 支付 paid "
                f"{format_fen(gmv)}\n"
                + "\n".join(lines)
                + "\n审批 approve: dacu analyze fraud approve FLAGGED.csv -c CAMPAIGN.yaml "
                "--approve"
            ),
            "at": None,
        }
    ]


def raise_risk_alerts(alert_log: Any, campaign_id: str, alerts: Sequence[dict]) -> list[int]:
    """Open each alert in the log (with its playbook and event time when it has them); returns
    the alert ids."""
    ids = []
    for a in alerts:
        ids.append(
            alert_log.open(
                campaign_id=campaign_id,
                rule_id=a["rule_id"],
                severity=a["severity"],
                message=a["message"],
                metric=a["metric"],
                dimension=a["dimension"],
                value=a["value"],
                threshold=a["threshold"],
                root_cause=None,
                playbook=a.get("playbook"),
                opened_at=a.get("at"),
            )
        )
    return ids


def notify_alerts(notifier: Any, targets: Sequence[str], alerts: Sequence[dict]) -> list[Any]:
    """Send each alert to each notification target (DingTalk, WeCom, Feishu, Slack, e-mail) of
    the campaign's `notify:`; returns the send results."""
    from dacu.monitor.notifiers import Message

    results = []
    for a in alerts:
        title, _, body = a["message"].partition("\n")
        for target in targets:
            results.append(notifier.send(target, Message(title, body, a["severity"])))
    return results


FRAUD_KINDS_ZH = {
    "brushing": "刷单",
    "coupon_bots": "羊毛党/券机器人",
    "scalpers": "黄牛",
    "other": "其他可疑账户",
}


MIN_ALERT_ACCOUNTS = 3
"""Accounts of one kind before the fraud watch alerts: abuse is a farm, a ring or a gang (the
simulator's coupon bot is 150 accounts at 1×, its brushing ring 12), while on an incident-free day
of the 1× example shop one shopper who ordered without browsing and paid at once (3 points)
raised "风控待审批 羊毛党/券机器人（1 个账户）". Fewer wait in the approval queue."""


def fraud_kind(row: Any, flash_skus: Sequence[str]) -> str:
    """Which abuse a flagged account looks like, from what it did (its features): scalpers buy
    only a flash-sale SKU; coupon bots order without ever browsing (scripts); brushing rings
    order one SKU again and again or share baskets with many accounts; anything else flagged
    is "other"."""
    one_sku = getattr(row, "distinct_skus", 0) == 1
    if getattr(row, "flash_only", 0) or (one_sku and getattr(row, "top_sku", None) in flash_skus):
        return "scalpers"
    if getattr(row, "views", 1) == 0 and getattr(row, "orders_no_browse", 0) >= 1:
        return "coupon_bots"
    if (one_sku and getattr(row, "top_sku_orders", 0) >= 2) or getattr(row, "basket_peers", 0) >= 5:
        return "brushing"
    return "other"


def fraud_kind_alerts(
    result: Any, flash_skus: Sequence[str], at: datetime, *, tz: Any = UTC, top: int = 5
) -> list[dict]:
    """One yellow alert per abuse kind with at least `MIN_ALERT_ACCOUNTS` flagged accounts,
    each with its worst accounts and their reasons (the per-account evidence)."""
    from dacu.monitor.playbooks import Context, playbook

    flagged = result.flagged
    groups: dict[str, list] = {}
    for row in flagged.itertuples():
        groups.setdefault(fraud_kind(row, flash_skus), []).append(row)
    out = []
    for kind, rows in sorted(groups.items()):
        if len(rows) < MIN_ALERT_ACCOUNTS:
            continue  # in the approval queue (the fraud tile), not worth a page
        lines = [f"  · {r.user_id}（{r.points}分）：{r.reasons_zh}" for r in rows[:top]]
        paid = sum(int(r.paid_fen) for r in rows)
        out.append(
            {
                "rule_id": "fraud-flagged",
                "severity": "yellow",
                "metric": "flagged_customers",
                "dimension": f"kind={kind}",
                "value": float(len(rows)),
                "threshold": None,
                "message": (
                    f"🟡 黄色预警·触发：风控待审批 {FRAUD_KINDS_ZH[kind]}（{len(rows)} 个账户）\n"
                    f"- 支付 paid {format_fen(paid)}，数据截至 {at.astimezone(tz):%m-%d %H:%M}\n"
                    + "\n".join(lines)
                ),
                "at": at,
                "playbook": playbook("fraud_flagged", Context(fraud_kind=kind)).as_dict(),
            }
        )
    return out


def _users_by_kind(result: Any, flash_skus: Sequence[str]) -> dict[str, set[str]]:
    """The flagged accounts per kind, by the dimension of `fraud_kind_alerts` ("kind=…"), every
    kind (alerted or not yet)."""
    groups: dict[str, set[str]] = {}
    for row in result.flagged.itertuples():
        groups.setdefault(f"kind={fraud_kind(row, flash_skus)}", set()).add(row.user_id)
    return groups


def burst_alerts(bursts: Sequence[Any]) -> list[dict]:
    """`sentiment_alerts` with their playbook and the burst's detection time."""
    from dacu.monitor.playbooks import Context, playbook

    out = []
    for burst, alert in zip(bursts, sentiment_alerts(bursts), strict=True):
        title, _, rest = alert["message"].partition("\n")
        out.append(
            {
                **alert,
                "message": f"🔴 红色告警·触发：负面舆情爆发（话题={burst.topic}）\n- {title}\n{rest}",
                "playbook": playbook("sentiment_burst", Context(topic=burst.topic)).as_dict(),
            }
        )
    return out


def coupon_slot_alerts(advice: Sequence[dict], tz: Any, slot_hours: int) -> list[dict]:
    from dacu.monitor.playbooks import Context, playbook
    from dacu.monitor.watches import ADVICE_ZH

    out = []
    for item in advice:
        start = datetime.fromtimestamp(item["slot_ms"] / 1000, UTC).astimezone(tz)
        end = start + timedelta(hours=slot_hours)
        slot = f"{start:%H}–{end:%H}点" if end.hour else f"{start:%H}–24点"
        out.append(
            {
                "rule_id": "coupon-slot",
                "severity": "yellow",
                "metric": "coupon_redemption_rate",
                "dimension": f"coupon={item['coupon']}@{start:%m-%d %H}",
                "value": item["rate"],
                "threshold": None,
                "message": (
                    f"🟡 黄色预警·触发：分时段发券建议 {ADVICE_ZH[item['advice']]}（{slot} {item['coupon']}）\n"
                    f"- {slot}：{item['basis_zh']}"
                ),
                "at": end,
                "playbook": playbook("coupon_slot_advice", Context(advice=item)).as_dict(),
            }
        )
    return out
