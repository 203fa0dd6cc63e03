"""The live loop (实时监控): collector → rollups → alert rules and detectors → root cause →
playbook → alert log → notifications, on the event clock.

Time is the events' time (the latest minute seen), so a replay at 100× speed raises the same alerts
as the live day. Rules are evaluated every `step` of event time (default 10 s) on sliding windows
(`dacu.monitor.sliding`: whole-minute rollups plus pro-rata edges, the live partial minute compared
like with like); notifications are sent by a background worker so the collector is never held up by
a slow webhook.

LiveMonitor is the loop and its intake; its parts, split by meaning: `live_settings` (what the
campaign file sets: checkpoints, the event clock, the rules watched), `live_reading` (a rule's
value, reference and chance on the rollups), `live_cause` (root cause and the playbook's context)
and `live_stock` (the stock watch).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dacu.config import Campaign
from dacu.monitor import playbooks
from dacu.monitor.ads import AdLedger
from dacu.monitor.alertlog import AlertLog, MemoryAlertLog
from dacu.monitor.anomaly import anomaly_rules
from dacu.monitor.collector import Collector
from dacu.monitor.dedup import Dedup
from dacu.monitor.detectors import (
    BotFilter,
)
from dacu.monitor.eventclock import EventClock
from dacu.monitor.live_cause import CauseFinding
from dacu.monitor.live_reading import RuleReading
from dacu.monitor.live_settings import (
    checkpoint_settings,
    clock_settings,
    watched_rules,
)
from dacu.monitor.live_stock import StockWatching
from dacu.monitor.messages import alert_text
from dacu.monitor.notifiers import Message, Notifier
from dacu.monitor.pacing import Plan
from dacu.monitor.risk_alerts import raise_risk_alerts
from dacu.monitor.rollups import Rollups
from dacu.monitor.rule_engine import RuleEngine, Transition
from dacu.monitor.segments import SegmentLog
from dacu.monitor.sessions import SessionTally
from dacu.monitor.settings import pay_grace, stock_counting
from dacu.monitor.store import RollupStore, to_minute
from dacu.monitor.watch_risk import LiveRisk

AUDIT_HOURS, AUDIT_LIMIT = 26, 500_000  # a day of coupon slots plus the root cause's baseline


def recent_audit(store: Any, monitor: LiveMonitor) -> Callable[[], list]:
    """`flash_audit` for a monitor: the coupon/flash-sale store's audit entries of the last
    AUDIT_HOURS before the monitor's clock (the store's `audit()` alone returns the oldest 1,000)."""

    def recent() -> list:
        now = monitor.now or datetime.now(UTC)
        since = int((now - timedelta(hours=AUDIT_HOURS)).timestamp() * 1000)
        return store.audit(since_ms=since, limit=AUDIT_LIMIT)

    return recent


class LiveMonitor(RuleReading, CauseFinding, StockWatching):
    """Everything live for one campaign, in `folder` (segments/, rollups.duckdb, event-ids.sqlite
    and fraud-day/, the fraud watch's day: `dacu.monitor.day_spill`)."""

    def __init__(
        self,
        campaign: Campaign,
        folder: Path,
        *,
        plan: Plan | None = None,
        skus: Iterable[Mapping] = (),
        returning_users: Iterable[str] = (),
        alert_log: AlertLog | None = None,
        notifier: Notifier | None = None,
        detectors: bool = True,
        flash_audit: Callable[[], list] | None = None,
        sink: Callable[[pa.Table], Any] | None = None,
        step: timedelta = timedelta(seconds=10),
        lateness: timedelta | None = None,
        skew: timedelta | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.campaign, self.plan, self.skus = campaign, plan, list(skus)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.store = RollupStore(folder / "rollups.duckdb")
        self.bots = BotFilter()
        self.sessions = SessionTally(campaign.tz)  # live bounce rate
        # posts, fraud scores (the day scored kept in fraud-day/ too), coupon slots
        self.risk_feeds = LiveRisk(campaign, spill=folder / "fraud-day")
        self.rollups = Rollups(
            returning_users=returning_users, bots=self.bots.bots, tz=campaign.timezone
        )
        self.step = max(1, int(step.total_seconds()))
        settings = clock_settings(campaign, lateness=lateness, skew=skew)
        self.clock = EventClock(self.step, wall=wall, **settings)
        self.collector = Collector(
            SegmentLog(folder / "segments"),
            self.rollups,
            self.store,
            tz=campaign.timezone,
            sink=sink,
            listeners=[self.sessions.observe, self.risk_feeds.observe, self._on_fold],
            inspect=self.bots.observe,
            clock=self.clock,
            on_tick=self._on_tick,
            dedup=Dedup(folder / "event-ids.sqlite"),
            keep={
                "sessions": self.sessions,
                "bots": self.bots,
                "entries": self.rollups.entries,
                "accounts": self.risk_feeds.ages,
                "fraud": self.risk_feeds,  # after its ages: restoring the day folds into them
            },
            checkpoint_every=checkpoint_settings(campaign),
        )
        rules = watched_rules(campaign, plan)
        self.pay_grace = pay_grace(campaign)  # orders younger than this are not yet unpaid
        self.stock_counting = stock_counting(campaign)  # 拍下减库存 or 付款减库存
        self.engine = RuleEngine(rules + (anomaly_rules() if detectors else []))
        self.alert_log = alert_log or MemoryAlertLog()
        self.notifier, self.flash_audit = notifier, flash_audit
        self.now: datetime | None = None
        self.spend: dict[tuple[int, str], int] = {}
        self.ads = AdLedger()  # impressions and clicks of the spend rows: CPC, CPM, CTR
        self.feed: deque[dict] = deque(maxlen=200)
        self.version = 0
        self._quiet = False
        self._memo: dict | None = None
        self.changed = threading.Condition()
        self.outbox = ThreadPoolExecutor(1, thread_name_prefix="dacu-notify")
        self.notifications: list[dict] = []
        self.stalls: dict[str, dict] = {}  # SKUs found stalled, until they are ordered again
        self.closed = False
        self._spreads: dict = {}  # the detectors' pooled spreads, once a day (monitor/anomaly)

    # -- intake ---------------------------------------------------------------------------------
    def recover(self) -> int:
        """Rebuild the rollups from the segments after a restart (rules are not re-run on them).
        The clock resumes at the checkpoint's latest event, so the dashboard shows the data
        before the first event after the restart (it showed ¥0 until then)."""
        with self._quietly():
            count = self.collector.recover()
        if self.now is None and self.clock.latest is not None:
            self.now = datetime.fromtimestamp(self.clock.latest / 1_000_000, UTC)
        return count

    def backfill(self, events: pa.Table) -> int:
        """Take events from before the live start — the campaign's earlier days, from the warehouse
        or an export — into segments and rollups without evaluating rules, so campaign-to-date
        attainment and the baselines of comparable hours are right from the first live minute."""
        with self._quietly():
            accepted = self.collector.accept_table(events.sort_by("ts")).accepted
            self.collector.flush()
        return accepted

    def checkpoint(self) -> dict:
        """A restart reads only what comes after this (`Collector.checkpoint`)."""
        return self.collector.checkpoint()

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        self._quiet = self.collector.quiet = True
        try:
            yield
        finally:
            self._quiet = self.collector.quiet = False

    def add_spend(self, rows: Iterable[Mapping]) -> int:
        """Spend rows {hour (ISO or datetime), channel, spend_fen} (from the ad platforms)."""
        parsed = []  # every row read before any is added: a bad row changes nothing
        for row in rows:
            hour = (
                row["hour"]
                if isinstance(row["hour"], datetime)
                else datetime.fromisoformat(str(row["hour"]))
            )
            if hour.tzinfo is None:
                hour = hour.replace(tzinfo=self.campaign.tz)
            counts = (row.get("impressions"), row.get("clicks"))
            parsed.append(((to_minute(hour), str(row["channel"])), int(row["spend_fen"]), counts))
        for key, fen, (impressions, clicks) in parsed:
            self.spend[key] = self.spend.get(key, 0) + fen
            self.ads.add(key, fen, impressions, clicks)
        return len(parsed)

    def add_posts(self, items: Iterable[Any]) -> int:
        """Public-opinion posts (`dacu.monitor.feeds.PostItem`) for the burst detector."""
        count = self.risk_feeds.add_posts(list(items))
        self._bump()
        return count

    def add_customers(self, rows: Iterable[tuple[str, datetime]]) -> int:
        """The shop's customer file, (user_id, first purchase) per account: the fraud watch
        counts an account's age from it (`LiveRisk.add_customers`)."""
        count = self.risk_feeds.add_customers(list(rows))
        self._bump()
        return count

    def add_coupon_counts(self, items: Iterable[Any]) -> int:
        """Coupons issued and redeemed per hour (`dacu.monitor.feeds.CouponItem`)."""
        count = self.risk_feeds.add_coupon_counts(list(items))
        self._bump()
        return count

    def spend_between(self, start: int, end: int, channel: str | None = None) -> int:
        return sum(
            v
            for (m, c), v in self.spend.items()
            if start <= m < end and (channel is None or c == channel)
        )

    def _on_fold(self, table: pa.Table) -> None:
        """Events folded into the rollups (in event-time order, `dacu.monitor.eventclock`)."""
        latest = pc.max(table["ts"]).as_py()
        if latest is not None and (self.now is None or latest > self.now):
            self.now = latest
        if not self._quiet:
            self._bump()

    def _on_tick(self, moment: datetime) -> None:
        """The event clock reached a tick: the data before `moment` is all in, judge it."""
        self.now = moment
        self.tick(moment)
        self._bump()

    def _live(self) -> int | None:
        """Epoch second up to which the data goes (the latest event), for partial minutes."""
        return None if self.now is None else int(self.now.timestamp())

    def _bump(self) -> None:
        with self.changed:
            self.version += 1
            self.changed.notify_all()

    # -- rules ----------------------------------------------------------------------------------
    def tick(self, now: datetime) -> list[Transition]:
        self.collector.flush()
        self._memo = {}  # the store does not change during a tick: windows read once
        try:
            transitions = self.engine.tick(now, self._read)
        finally:
            self._memo = None
        for change in transitions:
            self._handle(change)
        self._risk_tick(now)
        return transitions

    def _risk_tick(self, now: datetime) -> None:
        """Posts, fraud scores and coupon slots due by `now` (monitor/watch_risk.LiveRisk)."""
        audit = self.flash_audit() if self.flash_audit is not None else None
        alerts = self.risk_feeds.tick(now, audit)
        if not alerts:
            return
        ids = raise_risk_alerts(self.alert_log, self.campaign.id, alerts)
        for alert, alert_id in zip(alerts, ids, strict=True):
            title, _, body = alert["message"].partition("\n")
            self.feed.appendleft(
                {
                    "kind": "opened",
                    "rule_id": alert["rule_id"],
                    "title": title,
                    "body": body,
                    "at": (alert["at"] or now).isoformat(),
                    "alert_id": alert_id,
                    "severity": alert["severity"],
                    "root_cause": None,
                    "playbook": alert.get("playbook"),
                }
            )

    # -- alerts ---------------------------------------------------------------------------------
    def _handle(self, change: Transition) -> None:
        rule, state = change.rule, change.state
        dimension = f"{rule.by}={change.key}" if rule.by else ""
        cause = pb = None
        severity = change.severity
        if change.kind == "opened":
            sold_out = self.sold_out_cause(
                rule, change.key, change.value, change.reference, change.at
            )
            main = sold_out is not None and sold_out["sold_out"]["main"]
            cause = (
                sold_out
                if main
                else self.root_cause(
                    rule, change.at, key=change.key, onset=change.state.pending_since
                )
            )
            if sold_out is not None and not main:  # they tipped it over: said beside the cause
                cause = {**(cause or {}), "sold_out": sold_out["sold_out"]}
            kind = playbooks.kind_for(rule.metric, rule.playbook)
            if ((cause or {}).get("culprit") or {}).get("signal") == "flash_sale":
                kind = "flash_sale_rush"
            if sold_out is not None:  # but for a known sell-out it would not fire: no page
                severity = "yellow"
            if main:  # and it is the cause, with its own remedy
                kind = "sold_out_shortfall"
            pb = playbooks.playbook(kind, self._context(rule, change.key, cause)).as_dict()
        title, body = alert_text(
            kind=change.kind,
            severity=severity,
            rule_name=rule.name or rule.id,
            metric=rule.metric,
            key_dim=rule.by,
            key=change.key,
            value=change.value,
            reference=change.reference,
            compare=rule.compare,
            at=change.at,
            root_cause=cause,
            playbook=pb,
            tz=self.campaign.timezone,
            deviations=rule.id.startswith("anomaly-"),
            bound=("<", rule.below) if rule.below is not None else (">", rule.above or 0.0),
            names=self.campaign.display_names(),
        )
        if change.kind == "resolved":
            if change.alert_id is not None:
                self.alert_log.resolve(change.alert_id, "monitor", at=change.at)
        else:
            state.alert_id = self.alert_log.open(
                campaign_id=self.campaign.id,
                rule_id=rule.id,
                severity=severity,
                message=f"{title}\n{body}",
                metric=rule.metric,
                dimension=dimension,
                value=change.value,
                threshold=rule.below if rule.below is not None else rule.above,
                root_cause=cause,
                playbook=pb,
                opened_at=change.at,
            )
        self.feed.appendleft(
            {
                "kind": change.kind,
                "rule_id": rule.id,
                "title": title,
                "body": body,
                "at": change.at.isoformat(),
                "alert_id": state.alert_id or change.alert_id,
                "severity": severity,
                "root_cause": cause,
                "playbook": pb,
            }
        )
        if self.notifier is not None and not change.silenced:
            message = Message(title, body, severity)
            for target in change.notify:
                self.outbox.submit(self._send, self.notifier, target, message, change.at)

    def _send(self, notifier: Notifier, target: str, message: Message, at: datetime) -> None:
        result = notifier.send(target, message)
        self.notifications.append(
            {
                "target": target,
                "ok": result.ok,
                "at": at.isoformat(),
                "attempts": result.attempts,
                "detail": result.detail,
                "title": message.title,
            }
        )

    def acknowledge(self, alert_id: int, actor: str) -> dict:
        row = self.alert_log.ack(alert_id, actor)
        for state in self.engine.firing():
            if state.alert_id == alert_id:
                state.acked = True
        self._bump()
        return row

    def assign(self, alert_id: int, to: str, actor: str) -> dict:
        """Someone owns the alert now: acknowledged in their name (stops escalation)."""
        row = self.alert_log.assign(alert_id, to, actor)
        for state in self.engine.firing():
            if state.alert_id == alert_id:
                state.acked = True
        self._bump()
        return row

    def resolve(self, alert_id: int, actor: str) -> dict:
        row = self.alert_log.resolve(alert_id, actor)
        self._bump()
        return row

    # -- watches used by the alerts and the dashboard ------------------------------------------

    # -- the SKU table and stock levels (import, API, stock feed) ------------------------------

    def risk(self, bursts: Iterable = (), fraud: Any = None) -> list[int]:
        """Open alerts for negative-sentiment bursts and flagged abuse (monitor/risk_alerts.py)."""
        from dacu.monitor.risk_alerts import fraud_alerts, raise_risk_alerts, sentiment_alerts

        alerts = sentiment_alerts(list(bursts)) + (fraud_alerts(fraud) if fraud else [])
        ids = raise_risk_alerts(self.alert_log, self.campaign.id, alerts)
        self._bump()
        return ids

    def close(self) -> None:
        """Checkpoint and close the monitor's files (a second call does nothing)."""
        if self.closed:
            return
        self.closed = True
        self.outbox.shutdown(wait=True)
        self.collector.close()  # segments closed, every pending cell written to the store file
        self.collector.dedup.close()
        self.store.close()  # the files it opened, closed: another monitor may open the folder
        self.risk_feeds.close()
        if self.notifier is not None:
            self.notifier.close()
