"""Risk watches (风控与舆情盯盘): the risk feeds of a live monitor on its event clock.

`SentimentWatch` is the streaming burst detector: posts are added as they arrive and `due(now)`
returns each burst once, as soon as its bucket has closed. `LiveRisk` holds the feeds — posts,
events for the fraud scores (`dacu.analyze.fraud.score_events`, the pipeline of `dacu analyze
fraud score`, keeping only its events and the compiled SQL between scorings) and coupon slots —
and returns the alerts due at each tick; it is called by `LiveMonitor.risk(...)`. What the alerts
say, and opening them in the alert log, is `dacu.monitor.risk_alerts` (re-exported here).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dacu.monitor.account_ages import AccountAges
from dacu.monitor.risk_alerts import FRAUD_KINDS_ZH as FRAUD_KINDS_ZH
from dacu.monitor.risk_alerts import _users_by_kind as _users_by_kind
from dacu.monitor.risk_alerts import burst_alerts as burst_alerts
from dacu.monitor.risk_alerts import coupon_slot_alerts as coupon_slot_alerts
from dacu.monitor.risk_alerts import fraud_alerts as fraud_alerts
from dacu.monitor.risk_alerts import fraud_kind as fraud_kind
from dacu.monitor.risk_alerts import fraud_kind_alerts as fraud_kind_alerts
from dacu.monitor.risk_alerts import notify_alerts as notify_alerts
from dacu.monitor.risk_alerts import raise_risk_alerts as raise_risk_alerts
from dacu.monitor.risk_alerts import sentiment_alerts as sentiment_alerts

if TYPE_CHECKING:
    from dacu.analyze.fraud.features import CompiledFeatures
    from dacu.analyze.sentiment import SentimentModel


class SentimentWatch:
    """Scored posts in, each burst out once (at the end of its bucket, ≤ bucket minutes late)."""

    def __init__(self, settings: Any = None) -> None:
        from dacu.analyze.sentiment.burst import BurstSettings

        self.settings = settings or BurstSettings()
        self.posts: list[Any] = []
        self.seen: set[tuple[str, datetime]] = set()
        self._looked: tuple[int, int] | None = None  # (posts, closed buckets) of the last look

    def add(self, posts: Iterable[Any]) -> None:
        self.posts.extend(posts)

    def due(self, now: datetime) -> list[Any]:
        """New bursts whose bucket has closed by `now` (posts after `now` are not looked at)."""
        from dacu.analyze.sentiment.burst import detect_bursts

        # a burst is judged on closed buckets only, each causal: with no post added and no
        # bucket closed since the last look, there is nothing new (the monitor ticks each minute)
        looked = (len(self.posts), int(now.timestamp()) // (self.settings.bucket_minutes * 60))
        if looked == self._looked:
            return []
        self._looked = looked
        known = [p for p in self.posts if p.time < now]
        fresh = [
            b
            for b in detect_bursts(known, self.settings)
            if b.detected_at <= now and (b.topic, b.start) not in self.seen
        ]
        self.seen.update((b.topic, b.start) for b in fresh)
        return fresh


# -- the live risk feeds: posts, fraud scores and coupon slots on the event clock ----------------
KEEP_PAST_MIDNIGHT = timedelta(hours=1)  # a day's events are kept this long after it ends
SESSION_LEAD = timedelta(minutes=30)  # … and its last minutes a day longer: a session's start
FRAUD_EVERY = 15  # minutes of event time between fraud scorings (hourly missed the half hour)


class LiveRisk:
    """The risk feeds of a live monitor, evaluated on its event clock (`tick(now)`):

    - posts (`add_posts`, scored on arrival) → the burst detector → a red alert per burst;
    - events (`observe`, the collector's listener) → fraud scores of the day so far, every
      FRAUD_EVERY minutes of event time → a yellow alert per abuse kind with the flagged accounts
      (a bot that starts just after a check is alerted within the half hour: issue #16). Only
      the day being scored is kept; the account ages of every earlier day (and of the shop's
      customer file, `add_customers`) are in `ages`, one row per account. With `spill` (a
      folder: the live monitor's fraud-day/) the day kept is on disk too, committed with each
      checkpoint (the watch is a collector Keeper), so a restart gets the whole day back
      (`dacu.monitor.day_spill`), and the flagged accounts and the last scoring with it;
    - coupons issued and redeemed (the coupon store's audit trail, the platform's hourly report)
      → redemption rate per slot → advice once a slot has ended.
    Each is judged on data before a boundary of event time (the end of a post bucket, the hour,
    the slot), so the same data gives the same alerts however it arrived."""

    def __init__(self, campaign: Any, *, spill: Path | None = None) -> None:
        from dacu.monitor.day_spill import DaySpill
        from dacu.monitor.fraud_day import FraudDay
        from dacu.monitor.watches import CouponBands

        self.campaign = campaign
        self.sentiment = SentimentWatch()
        self.bands = CouponBands.parse((campaign.monitor or {}).get("coupon_slots"))
        self.flash_skus = [str(f["sku_id"]) for f in campaign.flash_sales if f.get("sku_id")]
        # the day scored (and the day before, past midnight) in a DuckDB that spills to disk
        self.day = FraudDay(campaign.tz, None if spill is None else spill / "buffer")
        self._cut: datetime | None = None  # the events before it are folded into `ages`
        self.ages = AccountAges()  # when each account was first seen: 新号 beyond the day kept
        self.latest: datetime | None = None
        self.scored_hour: datetime | None = None
        self.flagged: dict[str, set[str]] = {}  # accounts flagged (alerted or queued), per kind
        self.judged: set[tuple[int, str]] = set()
        self.coupon_counts: dict[tuple[int, str], tuple[int, int]] = {}
        self.posts = 0
        self._model: SentimentModel | None = None
        # an order feed without a clickstream (a shop's order API) has no page views: the fraud
        # features read "ordered without browsing" into every buyer, so fraud waits for them
        self.browsing = False
        # the fraud features' compiled SQL, made at the first scoring
        self._features: CompiledFeatures | None = None
        # the kept events on disk too, so that a restart gets the day back (`state`/`restore`)
        self.spill = None if spill is None else DaySpill(spill, campaign.tz)

    def add_customers(self, rows: Sequence[tuple[str, datetime]]) -> int:
        """The shop's customer file: (user_id, first purchase) of accounts known before the
        campaign, so that a loyal customer's first visit of the campaign is no 新号."""
        return self.ages.add_known(list(rows))

    # posts
    def add_posts(self, items: Sequence[Any]) -> int:
        """PostItems (dacu.monitor.feeds): scored with the sentiment model unless they carry
        their own `positive`, topics from the default topics and the campaign's watch keywords."""
        from dacu.analyze.sentiment import tokenize, topic_keywords, topics_of
        from dacu.analyze.sentiment.burst import ScoredPost

        topics = topic_keywords(self.campaign.watch_keywords)
        unscored = [p for p in items if p.positive is None]
        proba = iter(
            self._sentiment_model().predict_proba([tokenize(p.text) for p in unscored])
            if unscored
            else []
        )
        scored = [
            ScoredPost(
                p.time,
                p.text,
                p.source,
                p.author,
                float(p.positive if p.positive is not None else next(proba)),
                tuple(topics_of(p.text, topics)),
            )
            for p in items
        ]
        self.sentiment.add(scored)
        self.posts += len(scored)
        return len(scored)

    def _sentiment_model(self) -> SentimentModel:
        """The sentiment model, loaded at the first post that needs it."""
        if self._model is None:
            from dacu.analyze.sentiment import default_model

            self._model = default_model()
        return self._model

    # events for the fraud scores
    def observe(self, table: Any) -> None:
        """Keep the events of the day being scored for the fraud features (`cutoff`) in the
        day's DuckDB (`dacu.monitor.fraud_day`), folding older ones into the account ages: what
        is kept — the rows from the cutoff on — does not depend on how the events were batched.
        With a day spill (`spill`), what is kept is also written to disk for restarts."""
        self._take(table, spill=True)

    def _take(self, table: Any, *, spill: bool) -> None:
        import pyarrow.compute as pc

        if table.num_rows == 0:
            return
        span = pc.min_max(table["ts"])
        first, at = span["min"].as_py(), span["max"].as_py()
        self.browsing = self.browsing or pc.any(pc.equal(table["event"], "pv")).as_py() is True
        self.latest = max(self.latest or at, at)
        cutoff = self.cutoff(self.latest)
        if self._cut is None or cutoff > self._cut:
            self._cut = cutoff
            self._trim(cutoff)
        if first < cutoff:  # a late event of a day let go: its account's age only
            table, first = self._after(table, cutoff), cutoff
            if table.num_rows == 0:
                return
        self.day.append(table, first, at)
        if spill and self.spill is not None:
            self.spill.write(table, first, at)

    def cutoff(self, latest: datetime) -> datetime:
        """SESSION_LEAD before the start of the day being scored: the events before it are no
        longer needed (the day that just ended is scored at midnight, so it is kept
        KEEP_PAST_MIDNIGHT longer; its last minutes are the start of the sessions that order
        just after midnight, which browsed: `_no_browse` looks at them)."""
        day = (latest - KEEP_PAST_MIDNIGHT).astimezone(self.campaign.tz)
        return day.replace(hour=0, minute=0, second=0, microsecond=0) - SESSION_LEAD

    def _trim(self, cutoff: datetime) -> None:
        """Fold the events before `cutoff` into the account ages and drop them; the day's
        connection is renewed then, when it holds least (`FraudDay.renew`)."""
        gone = self.day.drop_before(cutoff)
        if gone.num_rows:
            self.ages.fold(gone)
            self.day.renew()

    def _after(self, table: Any, cutoff: datetime) -> Any:
        """The rows of `table` from `cutoff` on; those before it are folded into the ages."""
        import pyarrow as pa
        import pyarrow.compute as pc

        before = pc.less(table["ts"], pa.scalar(cutoff, table["ts"].type))
        self.ages.fold(table.filter(before))
        return table.filter(pc.invert(before))

    # a Keeper of the collector's checkpoints (after `ages`, which it folds into on restore)
    def state(self) -> Any:
        """The day spill's manifest (its open files closed and listed, the days before the
        cutoff dropped: `DaySpill.roll`), with when fraud was last scored, whether the feed has
        page views and the accounts flagged so far per kind in its metadata."""
        from dacu.monitor.day_spill import MANIFEST

        manifest = MANIFEST.empty_table() if self.spill is None else self.spill.roll(self._cut)
        flagged = {kind: sorted(users) for kind, users in sorted(self.flagged.items())}
        return manifest.replace_schema_metadata(
            {
                "scored_hour": "" if self.scored_hour is None else self.scored_hour.isoformat(),
                "browsing": "1" if self.browsing else "",
                "flagged": json.dumps(flagged, ensure_ascii=False),
            }
        )

    def committed(self) -> None:
        """The checkpoint holding the last `state()` is committed: the day files it no longer
        names (days before the cutoff, leftovers of a crash) are deleted."""
        if self.spill is not None:
            self.spill.committed()

    def restore(self, table: Any) -> None:
        """Back to a checkpoint: the day's events from the files its manifest names (the
        collector then replays the segments written after it), the flagged accounts and the
        time of the last scoring."""
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        if meta.get("scored_hour"):
            self.scored_hour = datetime.fromisoformat(meta["scored_hour"])
        self.browsing = self.browsing or bool(meta.get("browsing"))
        for kind, users in json.loads(meta.get("flagged") or "{}").items():
            self.flagged.setdefault(kind, set()).update(users)
        if self.spill is not None:
            for part in self.spill.restore(table):
                self._take(part, spill=False)

    def close(self) -> None:
        """Close the fraud features' and the kept day's DuckDB connections."""
        if self._features is not None:
            self._features.close()
            self._features = None
        self.day.close()

    def kept_events(self) -> int:
        """Events held for the fraud features (the day being scored)."""
        return self.day.rows

    def _fraud(self, hour: datetime) -> list[dict]:
        from dacu.analyze.fraud import FraudConfig
        from dacu.analyze.fraud.features import CompiledFeatures
        from dacu.analyze.fraud.pipeline import FraudScores
        from dacu.analyze.fraud.score import unusual_links

        if not self.day.rows or not self.browsing:
            return []
        local = hour.astimezone(self.campaign.tz)
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if local == day:  # midnight: score the day that just ended
            day = day - timedelta(days=1)
        config = FraudConfig.from_campaign(self.campaign, start=day, end=hour)
        if self._features is None or self._features.schema != self.day.schema:
            # compiled once (Ibis → SQL); it runs on the day's own connection
            self._features = CompiledFeatures(self.day.schema, config.flash_skus)
        frame, links = self.day.features(self._features, day, hour, self.ages.table())
        scores = FraudScores(frame, unusual_links(links, config.thresholds), config)
        if scores.features.empty or self._all_alerted(scores.candidates()):
            return []  # no alert can be new: the isolation forest is not run
        result = scores.result
        alerts = fraud_kind_alerts(result, self.flash_skus, hour, tz=self.campaign.tz)
        seen = _users_by_kind(result, self.flash_skus)
        # an alert again only when a kind has accounts not seen before (alerted or in the queue)
        fresh = [
            a for a in alerts if seen[a["dimension"]] - self.flagged.get(a["dimension"], set())
        ]
        for dimension, users in seen.items():
            self.flagged.setdefault(dimension, set()).update(users)
        return fresh

    def _all_alerted(self, candidates: Any) -> bool:
        """Was every account this scoring could flag (`FraudScores.candidates()`) already
        alerted under its kind? Then no alert can be new and the scoring stops before the
        isolation forest (the same alerts for a fraction of the time: the 15-minute cadence
        cost more than the hourly one did)."""
        return all(
            row.user_id in self.flagged.get(f"kind={fraud_kind(row, self.flash_skus)}", ())
            for row in candidates.itertuples()
        )

    def tick(self, now: datetime, audit: Sequence[Any] | None) -> list[dict]:
        """The alerts due by `now` (event time); fraud is scored every FRAUD_EVERY minutes."""
        alerts = burst_alerts(self.sentiment.due(now))
        hour = now.replace(minute=now.minute // FRAUD_EVERY * FRAUD_EVERY, second=0, microsecond=0)
        if self.scored_hour is None:
            self.scored_hour = hour  # the first hour seen live: score from the next one
        elif hour > self.scored_hour:
            self.scored_hour = hour
            alerts += self._fraud(hour)
        if audit or self.coupon_counts:
            alerts += self._coupon_slots(now, audit)
        return alerts

    def add_coupon_counts(self, items: Sequence[Any]) -> int:
        """The coupon platform's hourly report (`dacu.monitor.feeds.CouponItem`: hour, coupon,
        issued, redeemed); the counts of an hour sent twice are replaced, not added."""
        for item in items:
            hour_ms = int(item.hour.timestamp() // 3600 * 3_600_000)
            self.coupon_counts[(hour_ms, item.coupon)] = (item.issued, item.redeemed)
        return len(items)

    def slot_cells(self, audit: Sequence[Any] | None) -> dict[tuple[int, str], list[int]]:
        """{(slot start ms, coupon): [issued, redeemed]} from the audit trail and the report."""
        from dacu.monitor.watches import coupon_watch

        width = self.bands.slot_hours * 3_600_000
        cells: dict[tuple[int, str], list[int]] = {}
        for r in coupon_watch(audit or [], slot_minutes=self.bands.slot_hours * 60):
            cell = cells.setdefault((r["slot_ms"], r["coupon"]), [0, 0])
            cell[0], cell[1] = cell[0] + r["issued"], cell[1] + r["redeemed"]
        for (hour_ms, coupon), (issued, redeemed) in self.coupon_counts.items():
            cell = cells.setdefault((hour_ms // width * width, coupon), [0, 0])
            cell[0], cell[1] = cell[0] + issued, cell[1] + redeemed
        return cells

    def _coupon_slots(self, now: datetime, audit: Sequence[Any] | None) -> list[dict]:
        from dacu.monitor.watches import coupon_advice

        width = self.bands.slot_hours * 3_600_000
        now_ms = int(now.timestamp() * 1000)
        due = [
            (slot, coupon, n)
            for (slot, coupon), n in sorted(self.slot_cells(audit).items())
            if slot + width <= now_ms and (slot, coupon) not in self.judged
        ]
        self.judged.update((slot, coupon) for slot, coupon, _ in due)
        rows = [
            {"slot_ms": slot, "coupon": coupon, "issued": n[0], "redeemed": n[1]}
            for slot, coupon, n in due
        ]
        return coupon_slot_alerts(
            coupon_advice(rows, self.bands), self.campaign.tz, self.bands.slot_hours
        )

    def board(self, now: datetime, audit: Sequence[Any] | None) -> dict:
        """The dashboard's risk tiles: flagged accounts per kind, the last hour's posts, and the
        coupon slots of the day with their redemption rate and advice (slots under way: none yet)."""
        from dacu.monitor.watches import ADVICE_ZH, coupon_advice

        hour = [p for p in self.sentiment.posts if now - timedelta(hours=1) <= p.time < now]
        negative = sum(1 for p in hour if p.negative)
        width = self.bands.slot_hours * 3_600_000
        day = now.astimezone(self.campaign.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        since, now_ms = int(day.timestamp() * 1000), int(now.timestamp() * 1000)
        slots = []
        for (slot, coupon), (issued, redeemed) in sorted(self.slot_cells(audit).items()):
            if slot < since:
                continue
            row = {"slot_ms": slot, "coupon": coupon, "issued": issued, "redeemed": redeemed}
            ended = slot + width <= now_ms
            advice = coupon_advice([row], self.bands) if ended else []
            start = datetime.fromtimestamp(slot / 1000, UTC).astimezone(self.campaign.tz)
            slots.append(
                {
                    **row,
                    "slot": f"{start:%H}–{(start + timedelta(milliseconds=width)):%H}点",
                    "rate": redeemed / issued if issued else None,
                    "advice": advice[0]["advice"] if advice else None,
                    "advice_text": (
                        ADVICE_ZH[advice[0]["advice"]]
                        + (f" {advice[0]['quantity']:,} 张" if advice[0]["quantity"] else "")
                        if advice
                        else ("正常" if ended else "进行中")
                    ),
                }
            )
        return {
            "flagged": {k.removeprefix("kind="): len(v) for k, v in self.flagged.items()},
            "posts_hour": len(hour),
            "negative_hour": negative,
            "bursts": len(self.sentiment.seen),
            "coupon_slots": slots,
        }
