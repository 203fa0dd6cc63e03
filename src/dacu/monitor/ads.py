"""Impressions and clicks of the spend feed, so alert rules can watch CPC, CPM and CTR live.

The ad platforms report spend with 展现量 and 点击量 (`POST /api/spend`, or `dacu import spend` of the
ad-tool reports read at monitor start). The ledger keeps them per (minute, channel) beside the
monitor's spend; the rates are `dacu.metrics.ads.rate` (CPC = spend / clicks, CPM = spend × 1000 /
impressions, CTR = clicks / impressions), None ("—") when the feed never gave the denominator.
"""

from __future__ import annotations

from dataclasses import dataclass

from dacu.metrics.ads import rate

AD_RATES = ("cpc_fen", "cpm_fen", "ctr")


@dataclass(frozen=True)
class AdCounts:
    """Spend (fen), impressions and clicks of a window; a count is None when no row had it."""

    spend_fen: int = 0
    impressions: int | None = None
    clicks: int | None = None


class AdLedger:
    """(minute, channel) → [spend fen, impressions, clicks], added as spend rows arrive."""

    def __init__(self) -> None:
        self.cells: dict[tuple[int, str], list[int | None]] = {}

    def add(
        self, key: tuple[int, str], spend_fen: int, impressions: int | None, clicks: int | None
    ) -> None:
        cell = self.cells.setdefault(key, [0, None, None])
        cell[0] = int(cell[0] or 0) + spend_fen
        for at, count in ((1, impressions), (2, clicks)):
            if count is not None:
                cell[at] = int(cell[at] or 0) + int(count)

    def channels(self) -> set[str]:
        return {channel for _, channel in self.cells}

    def between(self, start: int, end: int, channel: str | None = None) -> AdCounts:
        """Sums over minutes [start, end), one channel or all."""
        spend = 0
        counts: list[int | None] = [None, None]
        for (minute, ch), (fen, *seen) in self.cells.items():
            if start <= minute < end and (channel is None or ch == channel):
                spend += int(fen or 0)
                counts = [
                    c if s is None else (c or 0) + s for c, s in zip(counts, seen, strict=True)
                ]
        return AdCounts(spend, counts[0], counts[1])


def ad_rate(metric: str, ads: AdCounts | None) -> float | None:
    """cpc_fen, cpm_fen or ctr of a window (None without the feed's counts)."""
    if ads is None:
        return None
    return rate(metric, ads.spend_fen, ads.impressions, ads.clicks)
