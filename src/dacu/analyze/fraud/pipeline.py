"""`score_events`: events in, fraud scores out — the one pipeline of `dacu analyze fraud score`,
the live monitor's fraud watch and the review's fraud incidents.

events → per-buyer features and basket links (`dacu.analyze.fraud.features`, the same Ibis
expressions on any engine, or compiled once to DuckDB SQL for Arrow tables) → rules, isolation
forest and linked-account clusters (`dacu.analyze.fraud.score`). The window is cut the same way
for both inputs: the history is every event before `end`, the scored buyers are those with an
order in [start, end).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dacu.analyze.fraud.score import (
    FraudResult,
    Thresholds,
    flag_candidates,
    flagged_devices,
    score_customers,
    unusual_links,
)

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pandas as pd
    import pyarrow as pa

    from dacu.analyze.fraud.features import CompiledFeatures
    from dacu.warehouse.base import Warehouse


@dataclass(frozen=True)
class FraudConfig:
    """What a fraud scoring looks at.

    `start`/`end`: the window whose buyers are scored (None: open), aware datetimes;
    `flash_skus`: the flash-sale SKUs (identical baskets of them are normal, buying only them is
    a scalper's sign); `thresholds`: the numbers behind the rules; `seed`: the isolation forest's.
    """

    start: datetime | None = None
    end: datetime | None = None
    flash_skus: tuple[str, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)
    seed: int = 0

    @classmethod
    def from_campaign(cls, campaign: Any, **changes: Any) -> FraudConfig:
        """The campaign's window and flash-sale SKUs (a `dacu.config.Campaign`)."""
        flash = tuple(str(f["sku_id"]) for f in campaign.flash_sales if f.get("sku_id"))
        return cls(**{"start": campaign.start, "end": campaign.end, "flash_skus": flash, **changes})


@dataclass
class FraudScores:
    """The features of a scoring and, on first use, its scores.

    `features`: one row per buyer of the window (`FEATURE_COLUMNS`); `links`: (user_id, link)
    pairs (identical baskets, plus any given links such as shared devices). `result` runs the
    rules and the isolation forest on first access; `candidates()` is the cheap part alone.
    """

    features: pd.DataFrame
    links: list[tuple[str, str]]
    config: FraudConfig

    @cached_property
    def result(self) -> FraudResult:
        """Points, reasons, anomaly score and cluster per buyer (`score_customers`)."""
        c = self.config
        return score_customers(
            self.features,
            links=self.links,
            flash_skus=c.flash_skus,
            thresholds=c.thresholds,
            seed=c.seed,
        )

    @property
    def scores(self) -> pd.DataFrame:
        return self.result.scores

    @property
    def flagged(self) -> pd.DataFrame:
        """The flagged buyers, most points first."""
        return self.result.flagged

    @property
    def clusters(self) -> list[list[str]]:
        return self.result.clusters

    def candidates(self) -> pd.DataFrame:
        """The buyers the scoring may flag, found without the isolation forest
        (`flag_candidates`)."""
        c = self.config
        return flag_candidates(
            self.features, links=self.links, flash_skus=c.flash_skus, thresholds=c.thresholds
        )

    def devices(self, *, min_accounts: int = 2) -> list[dict[str, Any]]:
        """Devices/IPs/addresses shared by flagged buyers (`flagged_devices`)."""
        return flagged_devices(self.result, self.links, min_accounts=min_accounts)


def score_events(
    events: ir.Table | pa.Table | Warehouse,
    *,
    config: FraudConfig | None = None,
    links: Iterable[tuple[str, str]] = (),
    compiled: CompiledFeatures | None = None,
    known: pa.Table | None = None,
) -> FraudScores:
    """Score every buyer of a window of events for abuse (刷单, 羊毛党, 黄牛).

    Parameters
    ----------
    events
        Events of the event contract (`dacu.events.EVENT_SCHEMA`): an Ibis table (a parquet file
        read with Ibis, a warehouse's `events()`; any engine), a `Warehouse` (its events, the
        results in its uniform Arrow types) or a pyarrow Table.
    config
        The window, flash-sale SKUs, thresholds and seed (`FraudConfig`; default: every event,
        no flash sale). `FraudConfig.from_campaign(campaign)` takes them from a campaign.
    links
        More (user_id, link) pairs joining accounts, e.g. the devices and IPs of the flash
        store's audit trail (`dacu.analyze.fraud.graph.audit_links`).
    compiled
        For a pyarrow Table: the features compiled once (`CompiledFeatures` of the table's
        schema and the config's flash SKUs), for a caller that scores again and again.
    known
        When the shop first saw accounts beyond these events (`known_schema`: user_id,
        first_seen), e.g. its customer file's first purchases: an account the events meet for
        the first time but the shop has known for a year is not a new account.

    Returns
    -------
    FraudScores
        Features and links of the window's buyers; `.flagged` (points, reasons in Chinese and
        English, anomaly score, cluster size, paid fen), `.clusters`, `.devices()`.

    Examples
    --------
    Six accounts of one province on one phone type order the same item within seconds of
    appearing, never browse, and pay in two seconds; sixty customers elsewhere browse, cart,
    order an item each and pay minutes later. Six sharing a basket where 0.55 are expected by
    chance is a ring:

    >>> from datetime import UTC, datetime, timedelta
    >>> import pyarrow as pa
    >>> from dacu.events import EVENT_SCHEMA
    >>> t0 = datetime(2026, 11, 11, 2, tzinfo=UTC)
    >>> def event(user, kind, second, sku, device="android", region="河南"):
    ...     return {"event_id": f"{user}-{kind}", "ts": t0 + timedelta(seconds=second),
    ...             "user_id": user, "session_id": user, "event": kind, "sku_id": sku,
    ...             "amount_fen": 6900, "order_id": f"o-{user}", "device": device,
    ...             "region": region}
    >>> rows = [event(f"bot{k}", kind, k + s, "SKU-A") for k in range(6)
    ...         for kind, s in [("order", 0), ("pay", 2)]]
    >>> rows += [event(f"c{k}", kind, 600 * k + s, f"SKU-{k}", "ios", "广东") for k in range(60)
    ...          for kind, s in [("pv", 0), ("cart", 60), ("order", 90), ("pay", 300)]]
    >>> scores = score_events(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA))
    >>> len(scores.features), scores.flagged.user_id.tolist()
    (66, ['bot0', 'bot1', 'bot2', 'bot3', 'bot4', 'bot5'])
    >>> print(scores.flagged.reasons_zh.iloc[0])
    下单前无浏览、秒付、同款同价同时段多账户、关联账户团伙...
    >>> scores.clusters
    [['bot0', 'bot1', 'bot2', 'bot3', 'bot4', 'bot5']]
    """
    config = config or FraudConfig()
    features, found = _features(events, config, compiled, known)
    return FraudScores(features, found + list(links), config)


def _features(
    events: Any, config: FraudConfig, compiled: CompiledFeatures | None, known: pa.Table | None
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    import ibis
    import pyarrow as pa

    from dacu.analyze.fraud.features import window_features, window_links
    from dacu.warehouse.base import Warehouse

    if isinstance(events, pa.Table):
        return _arrow_features(events, config, compiled, known)
    if compiled is not None:
        raise TypeError("score_events: `compiled` is for a pyarrow Table of events")
    wh = events if isinstance(events, Warehouse) else None
    if wh is not None:
        events = wh.events()
    history = events if config.end is None else events.filter(events.ts < config.end)
    window = history if config.start is None else history.filter(history.ts >= config.start)
    seen = None if known is None else ibis.memtable(known)
    features = window_features(history, window, config.flash_skus, seen)
    pairs = window_links(window, config.flash_skus)
    if wh is not None:  # the warehouse runs them: its uniform Arrow types whatever the engine
        frame, links = wh.to_arrow(features).to_pandas(), wh.to_arrow(pairs)
    else:
        frame, links = features.to_pandas(), pairs.to_pyarrow()
    return frame, unusual_links(links, config.thresholds)


def _arrow_features(
    events: pa.Table, config: FraudConfig, compiled: CompiledFeatures | None, known: pa.Table | None
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    from dacu.analyze.fraud.features import CompiledFeatures

    pipeline = compiled or CompiledFeatures(events.schema, config.flash_skus)
    if pipeline.schema != events.schema or pipeline.exclude_skus != tuple(config.flash_skus):
        raise ValueError(
            "score_events: `compiled` was made for another schema or other flash SKUs "
            f"({list(pipeline.exclude_skus)} vs {list(config.flash_skus)})"
        )
    kind = events.schema.field("ts").type
    history = events
    if config.end is not None:
        history = events.filter(pc.less(events["ts"], pa.scalar(config.end, kind)))
    window = history
    if config.start is not None:
        window = history.filter(pc.greater_equal(history["ts"], pa.scalar(config.start, kind)))
    try:
        frame, links = pipeline.run(history, window, known)
        return frame, unusual_links(links, config.thresholds)
    finally:
        if compiled is None:
            pipeline.close()
