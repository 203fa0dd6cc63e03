"""Risk watches (风控与舆情盯盘): negative-sentiment bursts and flagged abuse → the alert log.

Pure apart from the alert log it is given: `sentiment_alerts` and `fraud_alerts` turn the results
of `dacu.analyze.sentiment.burst.detect_bursts` and `dacu.analyze.fraud.score_customers` into
alert fields; `raise_risk_alerts` opens them (one open alert per rule and dimension; the log
de-duplicates). Called by `LiveMonitor.risk(...)`. `SentimentWatch` is the streaming form: posts
are added as they arrive and `due(now)` returns each burst once, as soon as its bucket has closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
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
    """Open each alert in the log; returns the alert ids."""
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
                playbook=None,
            )
        )
    return ids


class SentimentWatch:
    """Scored posts in, each burst out once (at the end of its bucket, ≤ bucket minutes late)."""

    def __init__(self, settings: Any = None) -> None:
        from dacu.analyze.sentiment.burst import BurstSettings

        self.settings = settings or BurstSettings()
        self.posts: list[Any] = []
        self.seen: set[tuple[str, datetime]] = set()

    def add(self, posts: Iterable[Any]) -> None:
        self.posts.extend(posts)

    def due(self, now: datetime) -> list[Any]:
        """New bursts whose bucket has closed by `now` (posts after `now` are not looked at)."""
        from dacu.analyze.sentiment.burst import detect_bursts

        known = [p for p in self.posts if p.time < now]
        fresh = [
            b
            for b in detect_bursts(known, self.settings)
            if b.detected_at <= now and (b.topic, b.start) not in self.seen
        ]
        self.seen.update((b.topic, b.start) for b in fresh)
        return fresh


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
