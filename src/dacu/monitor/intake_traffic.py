"""Live traffic snapshots (minute or hour aggregates per source) in their own table.

A shop without an event stream gets its visitors from the platform (生意参谋 实时): per minute or
hour and traffic source, 访客数, 浏览量, 跳失率, 支付买家数, 支付金额, 加购人数. Each snapshot is stored
in `traffic.sqlite3` in the monitor's folder, keyed by (period, grain, source): a snapshot pushed
again for the same period replaces the earlier one (the platform revises its figures).

A snapshot (JSON object): `period` (start of the minute/hour, ISO 8601; China time without a
zone, required), `grain` (minute or hour, default minute), `source` (流量来源; "" or 全店 for the
shop total), `uv`, `pv`, `buyers`, `cart_users` (whole numbers ≥ 0), `bounce_rate` (0–1 or
"45.3%"), `paid_amount` (yuan) or `paid_fen`. Periods are not cumulative: the UV of a window is the
sum of its periods' UVs (a visitor seen in two minutes counts twice — an upper bound of the
window's distinct visitors), taken from the shop-total rows when there are any.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from dacu.errors import MoneyError
from dacu.money import parse_fen
from dacu.monitor.store import Kpis
from dacu.warehouse.presets import TOTAL_SOURCES
from dacu.warehouse.traffic import source_channel
from dacu.web.batch import MAX_TEXT, Amount, Count, Moment, validate_items

COUNTS = ("uv", "pv", "buyers", "cart_users")
GRAINS = ("minute", "hour")  # the grains a live snapshot may have (a day is not live)
SCHEMA = """CREATE TABLE IF NOT EXISTS traffic (
    period TEXT NOT NULL, grain TEXT NOT NULL, source TEXT NOT NULL, uv INTEGER, pv INTEGER,
    bounce_rate REAL, buyers INTEGER, paid_fen INTEGER, cart_users INTEGER,
    PRIMARY KEY (period, grain, source))"""


def _period(value: Any) -> Any:
    """`2024/11/11 20:05` as the platform writes it → `2024-11-11 20:05` (ISO)."""
    return value.strip().replace("/", "-") if isinstance(value, str) else value


def _bounce(value: Any) -> Any:
    """`"45.3%"` → 0.453; a number is taken as a fraction."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError("not a rate (0.453 or '45.3%')") from None
    return value


def _yuan(value: Any) -> Any:
    """A paid amount in yuan (`"1,299.50"`, `1299.5`, `"¥12.3万"`) → fen."""
    if value is None or isinstance(value, bool):
        return value
    try:
        return parse_fen(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


Period = Annotated[Moment, BeforeValidator(_period)]
Source = Annotated[str, Field(max_length=MAX_TEXT, pattern=r"^[^\x00-\x1f\x7f]*$")]
Rate = Annotated[float, BeforeValidator(_bounce), Field(ge=0, le=1, allow_inf_nan=False)]


class TrafficItem(BaseModel):
    """One snapshot, checked against the bounds every batch shares (`dacu.web.batch`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # an unknown field is a typo
    period: Period
    grain: Literal["minute", "hour"] = "minute"
    source: Source = ""
    uv: Count | None = None
    pv: Count | None = None
    buyers: Count | None = None
    cart_users: Count | None = None
    bounce_rate: Rate | None = None
    paid_amount: Annotated[Amount | None, BeforeValidator(_yuan)] = None
    paid_fen: Amount | None = None

    @model_validator(mode="after")
    def _buyers_among_visitors(self) -> TrafficItem:
        if self.uv is not None and self.buyers is not None and self.buyers > self.uv:
            raise ValueError(
                f"{self.buyers} paying buyers (buyers) but only {self.uv} visitors (uv)"
            )
        return self

    def row(self, tz: ZoneInfo) -> dict[str, Any]:
        """The table row: the period in UTC (a naive period is in the campaign's time zone) and
        the shop total (全店) as the empty source."""
        moment = datetime.fromisoformat(self.period)
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(UTC)
        source = self.source.strip()
        return {
            "period": moment.isoformat(),
            "grain": self.grain,
            "source": "" if source in TOTAL_SOURCES else source,
            **{name: getattr(self, name) for name in COUNTS},
            "bounce_rate": self.bounce_rate,
            "paid_fen": self.paid_fen if self.paid_fen is not None else self.paid_amount,
        }


class TrafficSnapshots:
    """The snapshot table of one live monitor (SQLite, one writer at a time)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    def accept(self, items: list[Any], *, tz: str) -> dict:
        """Store the valid snapshots in one transaction; the answer per snapshot (each bad one
        named by index and reason by `dacu.web.batch.validate_items`)."""
        good, rejected = validate_items(TrafficItem, items)
        zone = ZoneInfo(tz)
        rows = [item.row(zone) for _, item in good]
        names = ("period", "grain", "source", *COUNTS, "bounce_rate", "paid_fen")
        with self._lock, self._db:
            replaced = sum(
                self._db.execute(
                    "SELECT count(*) FROM traffic WHERE period = ? AND grain = ? AND source = ?",
                    (r["period"], r["grain"], r["source"]),
                ).fetchone()[0]
                for r in rows
            )
            self._db.executemany(
                f"INSERT OR REPLACE INTO traffic ({', '.join(names)}) "
                f"VALUES ({', '.join('?' for _ in names)})",
                [tuple(r[n] for n in names) for r in rows],
            )
        return {"accepted": len(rows) - replaced, "replaced": replaced, "rejected": rejected}

    def window(self, start: datetime, end: datetime, *, source: str | None = None) -> dict:
        """uv, pv, buyers, paid_fen, cart_users summed over periods in [start, end) (shop totals
        when there are any, else every source), and the visitor-weighted bounce rate."""
        args = [start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()]
        where = "period >= ? AND period < ?"
        if source is None:
            totals = self._db.execute(
                f"SELECT count(*) FROM traffic WHERE {where} AND source = ''", args
            ).fetchone()[0]
            where += " AND source = ''" if totals else ""
        else:
            where += " AND source = ?"
            args.append(source)
        row = self._db.execute(
            "SELECT sum(uv), sum(pv), sum(buyers), sum(paid_fen), sum(cart_users), "
            f"sum(bounce_rate * uv), count(*) FROM traffic WHERE {where}",
            args,
        ).fetchone()
        uv, pv, buyers, paid, cart, bounced, periods = row
        return {
            "uv": uv,
            "pv": pv,
            "buyers": buyers,
            "paid_fen": paid,
            "cart_users": cart,
            "bounce_rate": bounced / uv if uv and bounced is not None else None,
            "periods": periods,
        }

    def by_source(self, start: datetime, end: datetime) -> dict[str, tuple[float, float, float]]:
        """source → (visitors, bounced visitors, visitors of the periods that report a bounce
        rate) over [start, end); a period the window cuts counts pro rata (an hour snapshot in a
        30-minute window gives half its visitors). A period without a bounce rate is left out of
        the rate, not read as 0% bounce."""
        begin, finish = int(start.timestamp()), int(end.timestamp())
        rows = self._db.execute(
            """SELECT source, sum(uv * share), sum(coalesce(bounce_rate, 0) * uv * share),
                sum(CASE WHEN bounce_rate IS NULL THEN 0 ELSE uv * share END)
            FROM (SELECT source, uv, bounce_rate,
                    (min(?, p + len) - max(?, p)) * 1.0 / len AS share
                FROM (SELECT *, CAST(strftime('%s', period) AS INTEGER) AS p,
                        CASE grain WHEN 'hour' THEN 3600 ELSE 60 END AS len
                    FROM traffic WHERE period >= ? AND period < ? AND uv IS NOT NULL))
            WHERE share > 0 GROUP BY source""",
            (
                finish,
                begin,
                (start - timedelta(hours=1)).astimezone(UTC).isoformat(),
                end.astimezone(UTC).isoformat(),
            ),
        ).fetchall()
        return {source: (uv, bounced, rated) for source, uv, bounced, rated in rows}

    def close(self) -> None:
        self._db.close()


def snapshot_visitors(
    monitor: Any, kpis: Kpis, dim: str | None, key: str, start: datetime, end: datetime
) -> Kpis:
    """`kpis` of a window with UV from the traffic snapshots, when the monitor is fed snapshots
    instead of page views (no pv in the window) and they cover the cell: the shop total (the
    全店 rows, else the sum of the sources) or one channel (its sources, named as in the campaign).
    Other cells, and a monitor fed events, keep the rollups' UV."""
    snapshots = getattr(monitor, "traffic_snapshots", None)
    if snapshots is None or kpis.pv or dim not in (None, "all", "channel"):
        return kpis
    found = snapshots.by_source(start, end)
    if dim == "channel":
        picked = [v for s, v in found.items() if s and source_channel(s, monitor.campaign) == key]
    else:
        picked = [found[""]] if "" in found else list(found.values())
    if not picked:
        return kpis
    return replace(kpis, uv=round(sum(uv for uv, _, _ in picked)))


def snapshots_of(monitor: Any) -> TrafficSnapshots:
    """The snapshot table of a live monitor, opened beside its segments on first use."""
    found = getattr(monitor, "traffic_snapshots", None)
    if found is None:
        folder = Path(monitor.collector.log.folder).parent
        found = TrafficSnapshots(folder / "traffic.sqlite3")
        monitor.traffic_snapshots = found
    return found


def snapshot_bounce(monitor: Any, start: datetime, end: datetime) -> float | None:
    """The visitor-weighted bounce rate of the shop-total snapshots over [start, end) (None
    without snapshots): the 跳失率 tile of a monitor fed snapshots instead of sessions."""
    snapshots = getattr(monitor, "traffic_snapshots", None)
    if snapshots is None:
        return None
    found = snapshots.by_source(start, end)
    picked = [found[""]] if "" in found else list(found.values())
    rated = sum(r for _, _, r in picked)
    return sum(b for _, b, _ in picked) / rated if rated else None


class VisitorStore:
    """The monitor's rollup store as the dashboard reads it (`totals`, `by_value`), with UV from
    the traffic snapshots where `snapshot_visitors` says so; everything else is the store's."""

    def __init__(self, monitor: Any) -> None:
        self.monitor, self.store = monitor, monitor.store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def totals(self, start: int, end: int, *, dim: str = "all", value: str = "") -> Kpis:
        kpis = self.store.totals(start, end, dim=dim, value=value)
        return snapshot_visitors(self.monitor, kpis, dim, value, _at(start), _at(end))

    def by_value(self, dim: str, start: int, end: int) -> dict[str, Kpis]:
        found = self.store.by_value(dim, start, end)
        return {
            key: snapshot_visitors(self.monitor, kpis, dim, key, _at(start), _at(end))
            for key, kpis in found.items()
        }


def _at(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC)


def snapshots_from_warehouse(
    monitor: Any, warehouse: Any, start: datetime, end: datetime, *, tz: str
) -> dict:
    """The warehouse's hour and minute traffic rows of [start, end) (`dacu import traffic`) as the
    monitor's snapshots: a replay of a shop given as orders + traffic (its page views are the
    platform's). The answer of `TrafficSnapshots.accept`."""
    table = warehouse.table("traffic")
    table = table.filter(
        (table.period >= start) & (table.period < end) & table.grain.isin(list(GRAINS))
    )
    rows = warehouse.to_arrow(table).to_pylist()
    keep = ("grain", "source", "uv", "pv", "buyers", "cart_users", "bounce_rate", "paid_fen")
    items = [{"period": r["period"].isoformat(), **{k: r[k] for k in keep}} for r in rows]
    return snapshots_of(monitor).accept(items, tz=tz)
