"""The live stock watch: SKU table and stock levels fed to the monitor, stock left from the
units taken since each level was set (ordered with 拍下减库存, paid with 付款减库存: the campaign's
`monitor.stock_counting`), hours of cover, and SKUs whose orders stopped (stalled)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from dacu.analyze.rca import SIGNAL_ALPHA
from dacu.monitor.diagnose import measures
from dacu.monitor.live_host import LiveHost
from dacu.monitor.live_settings import (
    STALL_HOURS,
    STALL_WINDOWS,
)
from dacu.monitor.pacing import planned
from dacu.monitor.sliding import combine
from dacu.monitor.store import READ_BEHIND, Kpis, to_minute
from dacu.monitor.watches import flash_rush, stalled_skus, stock_watch


class StockWatching(LiveHost):
    """LiveMonitor's stock part (a mixin: it uses the monitor's store, clock and plan)."""

    _ahead_kept: tuple[int, object, float] | None = None  # (minute, plan, `_pace_ahead`)

    def stock(self, top: int = 100) -> list:
        if not self.skus or self.now is None:
            return []
        if self._memo is not None and ("stock", top) in self._memo:
            return self._memo[("stock", top)]
        now = to_minute(self.now)
        sold = self._sold_to_date(now)
        # the other SKU readings in one store query: last hour's pace, the stalls
        looks = [(now - m - 60 * STALL_HOURS, now - m) for m in STALL_WINDOWS]
        looks += [(now - m, now) for m in STALL_WINDOWS]
        last_hour, *cells = self.store.by_value_many("sku_id", [(now - 60, now), *looks], keep=True)
        stalled = self._stalled(cells[: len(STALL_WINDOWS)], cells[len(STALL_WINDOWS) :])
        quiet = cells[len(STALL_WINDOWS)]  # the shortest look: a stall ends with an order
        self.stalls = {
            **{k: v for k, v in self.stalls.items() if not (quiet.get(k) and quiet[k].orders)},
            **stalled,
        }
        rush, paces = self._flash_rush(now)
        rows = stock_watch(
            self.skus,
            self._sold_since_count(now, sold),
            {k: float(self._taken(v)) for k, v in last_hour.items()} | paces,
            top=top,
            stalled=self.stalls,
            rush=rush,
            ahead=self._pace_ahead_at(now),
        )
        if self._memo is not None:
            self._memo[("stock", top)] = rows
        return rows

    def _pace_ahead_at(self, minute: int) -> float:
        """`_pace_ahead` at the start of `minute`, worked out once a minute: the plan's totals
        take 3–4 ms a reading on the example's 648 rows, and the rules read stock every tick."""
        kept = self._ahead_kept
        if kept is None or kept[0] != minute or kept[1] is not self.plan:
            at = datetime.fromtimestamp(minute * 60, UTC)
            kept = self._ahead_kept = (minute, self.plan, self._pace_ahead(at))
        return kept[2]

    def _pace_ahead(self, now: datetime) -> float:
        """The shop's orders the plan expects in the hour ahead over those of the hour behind,
        at most 1: the last hour's pace read forward from 00:20 of the peak day is the midnight
        rush's, and forecast a bestseller of the 0.3× example shop sold out in 0.9 hours that
        sold for the rest of the day. Only toward a later stock-out, as the rules' plan shifts
        (a busier hour ahead is left to the pace itself); 1 without a plan."""
        if self.plan is None:
            return 1.0
        hour = timedelta(hours=1)
        ahead = planned(self.plan, now, now + hour)["orders"]
        behind = planned(self.plan, now - hour, now)["orders"]
        return min(1.0, ahead / behind) if ahead > 0 and behind > 0 else 1.0

    def _sold_to_date(self, now: int) -> dict[str, Kpis]:
        """Each SKU's cells from the campaign start to `now`: up to the last hour boundary at
        least READ_BEHIND minutes back read once an hour, the rest once a minute (the store
        keeps both until a late event lands inside) — the whole range read every 10 seconds
        was the monitor's costliest reading on a long campaign."""
        start = to_minute(self.campaign.start)
        cut = min(max(start, (now - READ_BEHIND) // 60 * 60), now)
        [before] = self.store.by_value_many("sku_id", [(start, cut)], keep=True)
        [after] = self.store.by_value_many("sku_id", [(cut, now)], keep=True)
        return {
            sku: combine([(part[sku], 1.0) for part in (before, after) if sku in part])
            for sku in before.keys() | after.keys()
        }

    def _flash_rush(self, now: int) -> tuple[dict[str, tuple[float, int]], dict[str, float]]:
        """The campaign's flash-sale sessions within the last hour (`watches.flash_rush`),
        their SKUs' units read in one store query."""
        sessions = [
            (sale.sku_id, to_minute(s.start), to_minute(s.end), s.stock)
            for sale in self._campaign_flash_sales
            for s in sale.sessions
            if to_minute(s.start) < now and to_minute(s.end) > now - 60
        ]
        if not sessions:
            return {}, {}
        ranges = sorted(
            {r for _, start, _, _ in sessions for r in ((start - 60, start), (start, now))}
        )
        found = dict(zip(ranges, self.store.by_value_many("sku_id", ranges), strict=True))

        def taken(sku: str, start: int, end: int) -> int:
            cell = found[(start, end)].get(sku)
            return self._taken(cell) if cell else 0

        return flash_rush(sessions, now, taken)

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
        less the units taken after it (ordered or paid, `stock_counting`). A SKU not in the
        SKU table is added with only its stock."""
        return self.set_skus(
            {"sku_id": r["sku_id"], "stock": int(r["stock"]), "stock_at": to_minute(r["at"])}
            for r in rows
        )

    def sold_out_now(self) -> set[str]:
        """SKUs sold out now: their counted stock used up. (A stalled SKU with stock left is not
        sold out but broken — a listing switched off, a wrong count: an incident, not a cause
        that excuses a drop.)"""
        left = self.stock_left()
        counted = {s["sku_id"] for s in self.skus if s.get("stock") is not None}
        return {k for k in counted if left.get(k) == 0}

    def sku_category(self, sku_id: str) -> str | None:
        return next((s.get("category") for s in self.skus if s["sku_id"] == sku_id), None)

    def _taken(self, kpis: Kpis) -> int:
        """Units a cell took from stock: ordered (拍下减库存) or paid (付款减库存)."""
        return kpis.ordered_units if self.stock_counting == "order" else kpis.units

    def _sold_since_count(self, now: int, since_start: Mapping[str, Kpis]) -> dict[str, int]:
        """Units taken per SKU since its stock was counted: since the campaign start for the SKU
        table's stock, since `stock_at` (epoch minute) for a level from the stock feed."""
        sold = {k: self._taken(v) for k, v in since_start.items()}
        counted = sorted({s["stock_at"] for s in self.skus if s.get("stock_at") is not None})
        if counted:
            later = self.store.by_value_many("sku_id", [(m, max(m, now)) for m in counted])
            by_minute = dict(zip(counted, later, strict=True))
            for s in self.skus:
                if s.get("stock_at") is not None:
                    cell = by_minute[s["stock_at"]].get(s["sku_id"])
                    sold[s["sku_id"]] = self._taken(cell) if cell else 0
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

    def skus_now(self) -> list[dict]:
        """The SKU table with each counted SKU's stock as it is now (its stock left): what
        advice reads — a substitute for a SKU about to sell out must have stock left, not a
        count from the campaign start."""
        left = self.stock_left()
        return [
            {**s, "stock": left[s["sku_id"]]} if s.get("stock") is not None else dict(s)
            for s in self.skus
        ]

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
