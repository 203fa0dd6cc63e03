"""The live loop (实时监控): collector → rollups → alert rules and detectors → root cause →
playbook → alert log → notifications, on the event clock.

Time is the events' time (the latest minute seen), so a replay at 100× speed raises the same alerts
as the live day. Rules are evaluated every `step` of event time (default 10 s) on sliding windows
(`dacu.monitor.sliding`: whole-minute rollups plus pro-rata edges, the live partial minute compared
like with like); notifications are sent by a background worker so the collector is never held up by
a slow webhook.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dacu.analyze.rca import SIGNAL_ALPHA
from dacu.analyze.rca.confidence import located
from dacu.config import Campaign
from dacu.errors import ConfigError, DacuError
from dacu.monitor import coupon_signal, playbooks
from dacu.monitor.ads import AD_RATES, AdCounts, AdLedger, ad_rate
from dacu.monitor.alertlog import AlertLog, MemoryAlertLog
from dacu.monitor.anomaly import anomaly_reading, anomaly_rules
from dacu.monitor.collector import Collector, SegmentLog
from dacu.monitor.dedup import Dedup
from dacu.monitor.detectors import (
    COUNT_METRICS,
    RATE_COUNTS,
    BotFilter,
    rate_tail_p,
    seasonal_baseline,
)
from dacu.monitor.diagnose import diagnose, measures
from dacu.monitor.eventclock import EventClock
from dacu.monitor.intake_traffic import snapshot_visitors
from dacu.monitor.messages import alert_text
from dacu.monitor.notifiers import Message, Notifier
from dacu.monitor.pacing import Plan, plan_values, planned
from dacu.monitor.rollups import Rollups
from dacu.monitor.rules import AD_METRICS, COUNTED, AlertRule, RuleEngine, Transition, load_rules
from dacu.monitor.sessions import SessionTally
from dacu.monitor.settings import pay_grace
from dacu.monitor.sliding import window_by_value, window_totals
from dacu.monitor.store import Kpis, RollupStore, to_minute
from dacu.monitor.watch_risk import LiveRisk, raise_risk_alerts
from dacu.monitor.watches import stalled_skus, stock_watch

STALL_HOURS = 3  # the hours before a stall's window that set a SKU's orders per cart
STALL_WINDOWS = (15, 30, 60, 120)  # minutes looked back for a SKU whose orders stopped
_PLAN_KEY = {"paid_gmv_fen": "gmv_fen", "paid_orders": "orders"}


CLOCK_DEFAULTS = {"lateness": timedelta(0), "skew": timedelta(minutes=5)}


def checkpoint_settings(campaign: Campaign) -> dict[str, int]:
    """How often the collector checkpoints: the campaign file's `monitor: {checkpoint_every: 60m,
    checkpoint_events: 1000000}` (event time, events taken), else CHECKPOINT_EVERY."""
    from dacu.monitor.collector import CHECKPOINT_EVERY
    from dacu.monitor.rules import parse_duration

    given = campaign.monitor or {}
    out = dict(CHECKPOINT_EVERY)
    try:
        if given.get("checkpoint_every") is not None:
            out["minutes"] = max(
                1, int(parse_duration(given["checkpoint_every"]).total_seconds() // 60)
            )
        if given.get("checkpoint_events") is not None:
            out["events"] = int(given["checkpoint_events"])
    except ValueError as exc:
        raise ConfigError(f"{campaign.id}: monitor.checkpoint_*: {exc}") from None
    return out


def clock_settings(
    campaign: Campaign, *, lateness: timedelta | None = None, skew: timedelta | None = None
) -> dict[str, int]:
    """The event clock's lateness and skew in seconds: the arguments, else the campaign file's
    `monitor: {lateness: 30s, skew: 5m}`, else 0 s and 5 minutes."""
    from dacu.monitor.rules import parse_duration

    given = {"lateness": lateness, "skew": skew}
    out = {}
    for name, default in CLOCK_DEFAULTS.items():
        value = given[name]
        if value is None:
            text = (campaign.monitor or {}).get(name)
            try:
                value = default if text is None else parse_duration(text)
            except ValueError as exc:
                raise ConfigError(f"{campaign.id}: monitor.{name}: {exc}") from None
        out[name] = int(value.total_seconds())
    return out


def metric_value(
    kpis: Kpis, metric: str, spend_fen: int | None = None, ads: AdCounts | None = None
) -> float | None:
    if metric == "roi":
        return kpis.gmv_fen / spend_fen if spend_fen else None
    if metric == "spend_fen":
        return spend_fen
    if metric in AD_RATES:
        return ad_rate(metric, ads)
    if metric in RATE_COUNTS:
        hits, trials = (getattr(kpis, name) for name in RATE_COUNTS[metric])
        if metric == "pay_rate":  # a window's pays include orders placed just before it
            hits = min(hits, trials)
        return hits / trials if trials else None
    value = getattr(kpis, metric)
    return None if value is None else float(value)


def watched_rules(campaign: Campaign, plan: Plan | None) -> list[AlertRule]:
    """The campaign file's rules, then the plan's risk triggers it does not override (by id)."""
    from dacu.monitor.plan_rules import plan_rules

    rules = load_rules(campaign)
    if plan is None:
        return rules
    extra, _ = plan_rules(
        plan.raw.get("risks") or [], taken=[r.id for r in rules], capacity=campaign.capacity
    )
    return rules + extra


SIGNALS_OF = {
    "pay_rate": ("pay_failure",),
    "cvr": ("pay_failure", "cvr_drop", "stock_out"),
    "buyers": ("pay_failure", "cvr_drop", "stock_out"),
    "uv": ("traffic_drop",),
    "pv": ("traffic_drop",),
    "order_rate": ("stock_out",),
    "orders": ("cvr_drop", "stock_out"),
}
"""Associated signals that explain a rule's metric."""


def _own_signal_first(cause: dict, rule: AlertRule, key: str) -> dict:
    own = [
        s
        for s in cause.get("signals") or []
        if s.get("kind") in SIGNALS_OF.get(rule.metric, ())
        and rule.by
        and (s.get("dimension"), s.get("value")) == (rule.by, key)
    ]
    if not own:
        return cause
    elements = [
        e
        for x in cause.get("explanations", [])
        for e in x["elements"]
        if (e["dimension"], e["value"]) == (rule.by, key)
    ]
    culprit = {
        **(elements[0] if elements else {"dimension": rule.by, "value": key, "ep": None}),
        "signal": own[0]["kind"],
    }
    rest = [s for s in cause["signals"] if s is not own[0]]
    return {
        **cause,
        "culprit": culprit,
        "signals": [own[0], *rest],
        "confidence": _sure_of(own[0]) or cause.get("confidence"),
    }


def _sure_of(signal: dict) -> dict | None:
    """How sure a cause the rule located is, from its signal's evidence (`rca.located`)."""
    sure = located(signal.get("score"))
    return sure.as_dict() if sure else None


def _planned_rush_first(cause: dict, rule: AlertRule, sales: list[dict]) -> dict:
    """A rise (a rule with `above`) while a planned flash sale runs whose SKU spiked in orders:
    the sale is the culprit (signal flash_sale), its note first. Without this the rush of a
    20:00 lipstick sale was put down to the channel that carried it, with "block bot accounts"
    as the advice; the other signals stay listed (a real failure can coincide with a sale)."""
    spiked = {s.get("value") for s in cause.get("signals") or [] if s.get("kind") == "order_spike"}
    sale = next((s for s in sales if s["value"] in spiked), None)
    if rule.above is None or sale is None:
        return cause
    culprit = {"dimension": "sku_id", "value": sale["value"], "ep": None, "signal": "flash_sale"}
    rest = [s for s in cause["signals"] if s is not sale]
    spike = next(
        s for s in rest if s.get("kind") == "order_spike" and s.get("value") == sale["value"]
    )  # the sale's SKU's own spike: how sure the rush is the sale's
    return {**cause, "culprit": culprit, "signals": [sale, *rest], "confidence": _sure_of(spike)}


AUDIT_HOURS, AUDIT_LIMIT = 26, 500_000  # a day of coupon slots plus the root cause's baseline


def recent_audit(store: Any, monitor: LiveMonitor) -> Callable[[], list]:
    """`flash_audit` for a monitor: the coupon/flash-sale store's audit entries of the last
    AUDIT_HOURS before the monitor's clock (the store's `audit()` alone returns the oldest 1,000)."""

    def recent() -> list:
        now = monitor.now or datetime.now(UTC)
        since = int((now - timedelta(hours=AUDIT_HOURS)).timestamp() * 1000)
        return store.audit(since_ms=since, limit=AUDIT_LIMIT)

    return recent


class LiveMonitor:
    """Everything live for one campaign, in `folder` (segments/ and rollups.duckdb)."""

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
        self.risk_feeds = LiveRisk(campaign)  # posts, fraud scores, coupon slots
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
            keep={"sessions": self.sessions, "bots": self.bots, "entries": self.rollups.entries},
            checkpoint_every=checkpoint_settings(campaign),
        )
        rules = watched_rules(campaign, plan)
        self.pay_grace = pay_grace(campaign)  # orders younger than this are not yet unpaid
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

    def _window(self, rule: AlertRule, now: datetime) -> tuple[datetime, datetime] | None:
        start = self.campaign.start
        if rule.from_day is not None and (now - start).days + 1 < rule.from_day:
            return None
        if rule.scope == "campaign":
            return (start, now) if now > start else None
        if rule.scope == "day":
            local = now.astimezone(self.campaign.tz)
            return local.replace(hour=0, minute=0, second=0, microsecond=0), now
        return now - rule.window, now

    def _kpis(self, dim: str | None, key: str, start: datetime, end: datetime) -> Kpis:
        where = (dim or "all", key, int(start.timestamp()), int(end.timestamp()))
        if self._memo is not None and where in self._memo:
            return self._memo[where]
        kpis = window_totals(self.store, *where[2:], live=self._live(), dim=where[0], value=key)
        kpis = snapshot_visitors(self, kpis, dim, key, start, end)  # a shop fed traffic snapshots
        if self._memo is not None:
            self._memo[where] = kpis
        return kpis

    def _value(
        self, metric: str, dim: str | None, key: str, start: datetime, end: datetime
    ) -> float | None:
        spend = self.spend_between(
            to_minute(start), to_minute(end), key if dim == "channel" else None
        )
        ads = self.ads.between(to_minute(start), to_minute(end), key if dim == "channel" else None)
        return metric_value(self._kpis(dim, key, start, end), metric, spend, ads)

    def _read(self, rule: AlertRule, now: datetime) -> dict[str, tuple[float | None, float | None]]:
        window = self._window(rule, now)
        if window is None:
            return {}
        if rule.metric == "stock_hours":
            return {
                row.sku_id: (row.hours_to_stockout, None)
                for row in self.stock()
                if row.hours_to_stockout is not None
            }
        start, end = window
        s, e = to_minute(start), to_minute(end)
        sec, live = (int(start.timestamp()), int(end.timestamp())), self._live()
        cells = (
            window_by_value(self.store, rule.by, *sec, live=live)
            if rule.by
            else {"": window_totals(self.store, *sec, live=live)}
        )
        cells = {k: snapshot_visitors(self, v, rule.by, k, start, end) for k, v in cells.items()}
        cells = {k: self._matured(rule, v, rule.by, k, start, end) for k, v in cells.items()}
        if rule.metric in AD_METRICS and rule.by == "channel":  # a channel may spend unvisited
            cells = {**dict.fromkeys(self.ads.channels(), Kpis()), **cells}
        if self._memo is not None:  # each value's window, read once for all values
            self._memo.update({(rule.by or "all", key, *sec): kpis for key, kpis in cells.items()})
            if rule.by and rule.compare in ("previous", "last_year"):  # and the one compared
                shift = (end - start) if rule.compare == "previous" else rule.offset
                self._remember(rule.by, start - shift, end - shift)
        out = {}
        for key, kpis in cells.items():
            if kpis.uv < rule.min_volume:
                continue
            if rule.id.startswith("anomaly-"):
                out[key] = self._anomaly(rule, key, start, end)
                continue
            spend = (
                self.spend_between(s, e, key or None) if rule.by in (None, "channel") else None
            )  # spend is known per channel, not per category or device
            ads = self.ads.between(s, e, key or None) if spend is not None else None
            reference = self._reference(rule, key, start, end)
            out[key] = (
                metric_value(kpis, rule.metric, spend, ads),
                reference,
                self._chance(rule, kpis, key, start, end, reference),
            )
        return out

    def _remember(self, dim: str, start: datetime, end: datetime) -> None:
        """Every value's window of `dim` in one store read, into this tick's memo (what `_kpis`
        would read value by value: the "previous" window of each channel)."""
        sec = (int(start.timestamp()), int(end.timestamp()))
        done = (f"{dim}*", "", *sec)  # not a dimension: marks the window as read
        if self._memo is None or done in self._memo:
            return
        found = window_by_value(self.store, dim, *sec, live=self._live())
        for key, kpis in found.items():
            self._memo[(dim, key, *sec)] = snapshot_visitors(self, kpis, dim, key, start, end)
        self._memo[done] = Kpis()

    def _rest(self, rule: AlertRule, key: str, start: datetime, end: datetime) -> Kpis:
        """The shop minus one dimension value over the window (counts subtract; UV and buyers are
        HLL estimates, so theirs is an estimate too)."""
        whole = self._matured(rule, self._kpis(None, "", start, end), None, "", start, end)
        part = self._matured(rule, self._kpis(rule.by, key, start, end), rule.by, key, start, end)
        return Kpis(
            **{f.name: max(0, getattr(whole, f.name) - getattr(part, f.name)) for f in fields(Kpis)}
        )

    def _matured(
        self,
        rule: AlertRule,
        kpis: Kpis,
        dim: str | None,
        key: str,
        start: datetime,
        end: datetime,
    ) -> Kpis:
        """A payment rule counts as unpaid only orders older than `pay_grace`
        (`dacu.monitor.settings`): the window's pays so far against its orders placed up to the
        grace before its end. Other rules, and windows no longer than the grace, as they are."""
        grace = self.pay_grace
        if rule.metric != "pay_rate" or not grace or end - start <= grace:
            return kpis
        placed = self._kpis(dim, key, start, end - grace).orders
        return replace(kpis, orders=placed)

    def _chance(
        self,
        rule: AlertRule,
        kpis: Kpis,
        key: str,
        start: datetime,
        end: datetime,
        reference: float | None,
    ) -> float | None:
        """p-value of the deviation from sampling noise alone (None: no count model, or not
        asked): against the reference window's own counts for `previous` / `last_year`, against
        the reference as a known rate for `plan` / `baseline` (pooled over days)."""
        if not rule.confidence or reference is None or rule.metric not in COUNTED:
            return None
        hits_name, trials_name = RATE_COUNTS.get(rule.metric, (rule.metric, None))

        def count(cell: Kpis, name: str | None) -> float:
            if name is None:
                return 1.0
            if rule.metric == "pay_rate" and name == "paid_orders":  # see metric_value
                return float(min(cell.paid_orders, cell.orders))
            return float(getattr(cell, name))

        lower = rule.below is not None
        if self._expected(rule, kpis, reference, count(kpis, trials_name)) < rule.min_expected:
            return 1.0  # too few expected to tell: "5 orders vs 1" is not evidence of anything
        if rule.compare in ("previous", "last_year", "rest"):
            if rule.compare == "rest":
                ref = self._rest(rule, key, start, end)
            else:
                shift = (end - start) if rule.compare == "previous" else rule.offset
                ref = self._kpis(rule.by, key, start - shift, end - shift)
            return rate_tail_p(
                count(kpis, hits_name),
                count(kpis, trials_name),
                count(ref, hits_name),
                count(ref, trials_name),
                lower=lower,
            )
        return rate_tail_p(
            count(kpis, hits_name), count(kpis, trials_name), 0.0, ref_rate=reference, lower=lower
        )

    @staticmethod
    def _expected(rule: AlertRule, kpis: Kpis, reference: float, trials: float) -> float:
        """Hits the reference expects in the window: the reference count itself for a count
        (orders of the plan, of the window before …), rate × trials for a rate (buyers of this
        window's UV at the reference CVR)."""
        return reference * trials if rule.metric in RATE_COUNTS else reference

    def _reference(self, rule: AlertRule, key: str, start: datetime, end: datetime) -> float | None:
        if rule.compare == "absolute":
            return None
        if rule.compare == "plan":
            if self.plan is None:
                return None
            scope = {d: key if rule.by == d else None for d in ("channel", "category")}
            values = plan_values(planned(self.plan, start, end, **scope))
            return values.get(_PLAN_KEY.get(rule.metric, rule.metric))
        if rule.compare == "previous":
            return self._value(rule.metric, rule.by, key, start - (end - start), start)
        if rule.compare == "rest":
            return metric_value(self._rest(rule, key, start, end), rule.metric)
        if rule.compare == "last_year":
            return self._value(rule.metric, rule.by, key, start - rule.offset, end - rule.offset)
        base = seasonal_baseline(
            lambda a, b: self._value(rule.metric, rule.by, key, a, b),
            end,
            end - start,
            count=rule.metric in COUNT_METRICS,
        )
        return base.median if base else None

    def _anomaly(self, rule: AlertRule, key: str, start: datetime, end: datetime) -> tuple:
        """A built-in detector's reading (`dacu.monitor.anomaly`)."""
        midnight = end.astimezone(self.campaign.tz).replace(hour=0, minute=0, second=0)
        return anomaly_reading(
            rule,
            lambda a, b: self._value(rule.metric, rule.by, key, a, b),
            lambda a, b: self._kpis(rule.by, key, a, b),
            start,
            end,
            midnight=midnight.replace(microsecond=0),
            spreads=self._spreads,
        )

    # -- alerts ---------------------------------------------------------------------------------
    def _handle(self, change: Transition) -> None:
        rule, state = change.rule, change.state
        dimension = f"{rule.by}={change.key}" if rule.by else ""
        cause = pb = None
        if change.kind == "opened":
            cause = self.root_cause(
                rule, change.at, key=change.key, onset=change.state.pending_since
            )
            kind = playbooks.kind_for(rule.metric, rule.playbook)
            if ((cause or {}).get("culprit") or {}).get("signal") == "flash_sale":
                kind = "flash_sale_rush"
            pb = playbooks.playbook(kind, self._context(rule, change.key, cause)).as_dict()
        title, body = alert_text(
            kind=change.kind,
            severity=change.severity,
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
                severity=change.severity,
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
                "severity": change.severity,
                "root_cause": cause,
                "playbook": pb,
            }
        )
        if self.notifier is not None and not change.silenced:
            message = Message(title, body, change.severity)
            for target in change.notify:
                self.outbox.submit(self._send, target, message, change.at)

    def _send(self, target: str, message: Message, at: datetime) -> None:
        result = self.notifier.send(target, message)
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

    def root_cause(
        self, rule: AlertRule, now: datetime, *, key: str = "", onset: datetime | None = None
    ) -> dict | None:
        """Adtributor and the associated signals over the rule's window against the last clean
        window — the one before the window in which the condition began (`onset`, else now) —
        or, without data there, the same window a day earlier; scaled by the plan's curve when
        there is a plan. (On the peak day the day before is another regime; an alert that fired
        after `for: 1h` would otherwise be compared with a window inside the incident.)

        For a rule on one dimension value (`by`), a signal of the alert's own kind on that very
        value (unpaid orders on the channel whose pay rate fell) is the culprit: the alert already
        says where, the signal says why, and it outranks whatever else moved in the shop."""
        if rule.metric == "stock_hours":  # the SKU's own velocity, or its orders stopped
            row = next((r for r in self.stock() if r.sku_id == key and r.stalled), None)
            if row is None:
                return None
            return {
                "metric": "orders",
                "culprit": {"dimension": "sku_id", "value": key, "ep": None, "signal": "stock_out"},
                "signals": [row.stalled],
                "explanations": [],
                "confidence": _sure_of(row.stalled),
            }
        end = to_minute(now) + (now.second > 0)  # the rule read the minute under way too
        width = int(rule.window.total_seconds() // 60) if rule.scope == "window" else 60
        window = (end - width, end)
        began = to_minute(min(onset or now, now))
        before = (began - 2 * width, began - width)
        baseline = before if self.store.totals(*before).uv > 0 else (end - width - 1440, end - 1440)
        scale = self._plan_scale(window, baseline)
        metric = "cvr" if rule.metric == "pay_rate" else rule.metric  # unpaid orders: fewer buyers
        if metric not in ("uv", "cvr", "asp_fen", "gmv_fen", "paid_gmv_fen"):
            metric = "paid_gmv_fen"
        categories = {s["sku_id"]: s["category"] for s in self.skus if s.get("category")}
        cause = diagnose(
            self.store,
            metric,
            window,
            baseline,
            scale=scale,
            signals=self._signals(window, baseline),
            sku_category=categories or None,
        )
        if not cause.explanations:
            return None
        found = _own_signal_first(cause.as_dict(), rule, key)
        sales = self._flash_sales(window)
        if sales:  # a planned rush explains a spike: say so next to the strongest signal
            found["signals"] = [*found["signals"][:1], *sales, *found["signals"][1:]]
        return _planned_rush_first(found, rule, sales)

    def _flash_sales(self, window: tuple[int, int]) -> list[dict]:
        """The campaign's flash-sale sessions (秒杀场次) running in minutes [start, end) or ended
        within the last half hour, as notes for the root cause."""
        out = []
        for sale in self._campaign_flash_sales:
            for session in sale.sessions:
                if to_minute(session.start) < window[1] and window[0] < to_minute(session.end) + 30:
                    out.append(
                        {
                            "kind": "flash_sale",
                            "dimension": "sku_id",
                            "value": sale.sku_id,
                            "name": sale.name or sale.id,
                            "start": session.start.isoformat(),
                            "end": session.end.isoformat(),
                        }
                    )
        return out

    @cached_property
    def _campaign_flash_sales(self) -> tuple:
        from dacu.flash.loading import load_flash

        try:
            return load_flash(self.campaign).sales
        except DacuError:  # reported by `dacu flash`; the monitor runs without the notes
            return ()

    def _plan_scale(self, window: tuple[int, int], baseline: tuple[int, int]) -> float:
        if self.plan is None:
            return 1.0
        stamp = lambda m: datetime.fromtimestamp(m * 60, UTC)  # noqa: E731
        now_plan = planned(self.plan, stamp(window[0]), stamp(window[1]))["uv"]
        base_plan = planned(self.plan, stamp(baseline[0]), stamp(baseline[1]))["uv"]
        return now_plan / base_plan if now_plan and base_plan else 1.0

    def _signals(self, window: tuple[int, int], baseline: tuple[int, int]) -> list[dict]:
        """The stock watch's red SKUs and, with a flash audit trail, the coupon templates whose
        refusals surged in the window against the baseline (minutes; scored, may be the culprit)."""
        out = [
            {
                "kind": "stock_out",
                "dimension": "category",
                "value": row.category,
                "sku_id": row.sku_id,
                "hours_to_stockout": row.hours_to_stockout,
            }
            for row in self.stock()
            if row.status == "red" and row.category
        ]
        if self.flash_audit is not None:
            ms = lambda span: (span[0] * 60_000, span[1] * 60_000)  # noqa: E731
            out += coupon_signal.coupon_signals(self.flash_audit(), ms(window), ms(baseline))
        return out

    def _context(self, rule: AlertRule, key: str, cause: dict | None) -> playbooks.Context:
        culprit = (cause or {}).get("culprit") or {}
        channel = (
            key
            if rule.by == "channel"
            else (culprit.get("value") if culprit.get("dimension") == "channel" else None)
        )
        since, now = to_minute(self.campaign.start), to_minute(self.now or self.campaign.start)
        gmv = {c: k.gmv_fen for c, k in self.store.by_value("channel", since, now).items()}
        roi = {c: gmv[c] / s for c in gmv if (s := self.spend_between(since, now, c))}
        coupon = aov = None
        if culprit.get("dimension") == coupon_signal.DIMENSION:  # a coupon named by its signal
            coupon = coupon_signal.find((cause or {}).get("signals") or [], culprit["value"])
            paid = self.store.totals(now - 60, now)  # the hour's paid GMV per order: its effect
            aov = round(paid.paid_gmv_fen / paid.paid_orders) if paid.paid_orders else None
        return playbooks.Context(
            channel=channel,
            sku_id=key if rule.by == "sku_id" else None,
            channel_roi=roi,
            skus=self.skus,
            velocity={r.sku_id: r.units_per_hour for r in self.stock()},
            coupon=coupon,
            coupon_id=culprit.get("value") if coupon else None,
            aov_fen=aov,
            names=self.campaign.display_names(),
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
    def stock(self, top: int = 100) -> list:
        if not self.skus or self.now is None:
            return []
        if self._memo is not None and ("stock", top) in self._memo:
            return self._memo[("stock", top)]
        now = to_minute(self.now)
        # every SKU reading in one store query: stock sold so far, last hour's pace, the stalls
        looks = [(now - m - 60 * STALL_HOURS, now - m) for m in STALL_WINDOWS]
        looks += [(now - m, now) for m in STALL_WINDOWS]
        sold, last_hour, *cells = self.store.by_value_many(
            "sku_id", [(to_minute(self.campaign.start), now), (now - 60, now), *looks]
        )
        stalled = self._stalled(cells[: len(STALL_WINDOWS)], cells[len(STALL_WINDOWS) :])
        quiet = cells[len(STALL_WINDOWS)]  # the shortest look: a stall ends with an order
        self.stalls = {
            **{k: v for k, v in self.stalls.items() if not (quiet.get(k) and quiet[k].orders)},
            **stalled,
        }
        rows = stock_watch(
            self.skus,
            self._sold_since_count(now, sold),
            {k: float(v.units) for k, v in last_hour.items()},
            top=top,
            stalled=self.stalls,
        )
        if self._memo is not None:
            self._memo[("stock", top)] = rows
        return rows

    # -- the SKU table and stock levels (import, API, stock feed) ------------------------------
    def set_skus(self, rows: Iterable[Mapping]) -> int:
        """Add or replace SKUs of the SKU table by sku_id (name, category, price, stock…)."""
        table = {s["sku_id"]: s for s in self.skus}
        count = 0
        for row in rows:
            table[row["sku_id"]] = {**table.get(row["sku_id"], {}), **row}
            count += 1
        self.skus = list(table.values())
        self._bump()
        return count

    def set_stock(self, rows: Iterable[Mapping]) -> int:
        """Stock levels counted at a moment ({sku_id, stock, at}): the stock left is this count
        less the units paid after it. A SKU not in the SKU table is added with only its stock."""
        return self.set_skus(
            {"sku_id": r["sku_id"], "stock": int(r["stock"]), "stock_at": to_minute(r["at"])}
            for r in rows
        )

    def sku_category(self, sku_id: str) -> str | None:
        return next((s.get("category") for s in self.skus if s["sku_id"] == sku_id), None)

    def _sold_since_count(self, now: int, since_start: Mapping[str, Kpis]) -> dict[str, int]:
        """Units paid per SKU since its stock was counted: since the campaign start for the SKU
        table's stock, since `stock_at` (epoch minute) for a level from the stock feed."""
        sold = {k: v.units for k, v in since_start.items()}
        counted = sorted({s["stock_at"] for s in self.skus if s.get("stock_at") is not None})
        if counted:
            later = self.store.by_value_many("sku_id", [(m, max(m, now)) for m in counted])
            by_minute = dict(zip(counted, later, strict=True))
            for s in self.skus:
                if s.get("stock_at") is not None:
                    cell = by_minute[s["stock_at"]].get(s["sku_id"])
                    sold[s["sku_id"]] = cell.units if cell else 0
        return sold

    def stock_left(self) -> dict[str, int]:
        """Stock left per SKU of the SKU table (all of them, not only the fastest)."""
        if not self.skus:
            return {}
        now = to_minute(self.now or self.campaign.start)
        (since_start,) = self.store.by_value_many("sku_id", [(to_minute(self.campaign.start), now)])
        sold = self._sold_since_count(now, since_start)
        return {
            s["sku_id"]: max(0, int(s.get("stock") or 0) - sold.get(s["sku_id"], 0))
            for s in self.skus
        }

    @staticmethod
    def _stalled(earlier: list[dict[str, Kpis]], recent: list[dict[str, Kpis]]) -> dict[str, dict]:
        """SKUs still carted but no longer ordered over the last 15, 30, 60 or 120 minutes
        (`recent`, STALL_WINDOWS; the shortest that shows it: a hit SKU stalls visibly in
        minutes, a slow one in an hour), each against its own orders per cart in the STALL_HOURS
        before (`earlier`) — the root cause's stock-out signal, its evidence corrected for the
        four looks."""
        out: dict[str, dict] = {}
        for minutes, before, now in zip(STALL_WINDOWS, earlier, recent, strict=True):
            if not before:
                continue
            stalled = stalled_skus(
                {k: measures(v) for k, v in before.items() if k},
                {k: measures(v) for k, v in now.items()},
                scale=minutes / (60 * STALL_HOURS),
            )
            for sku, signal in stalled.items():
                score = signal["score"] - math.log10(len(STALL_WINDOWS))
                if sku not in out and score >= -math.log10(SIGNAL_ALPHA):
                    out[sku] = {**signal, "score": score, "minutes": minutes}
        return out

    def risk(self, bursts: Iterable = (), fraud: Any = None) -> list[int]:
        """Open alerts for negative-sentiment bursts and flagged abuse (monitor/watch_risk.py)."""
        from dacu.monitor.watch_risk import fraud_alerts, raise_risk_alerts, sentiment_alerts

        alerts = sentiment_alerts(list(bursts)) + (fraud_alerts(fraud) if fraud else [])
        ids = raise_risk_alerts(self.alert_log, self.campaign.id, alerts)
        self._bump()
        return ids

    def close(self) -> None:
        self.outbox.shutdown(wait=True)
        self.collector.close()  # segments closed, every pending cell written to the store file
        if self.notifier is not None:
            self.notifier.close()
