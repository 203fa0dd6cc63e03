"""The SQL of the rollup store's reads (`dacu.monitor.store`): the WHERE clauses that pick the
cells covering a time range, the counters' sums, and a summed row decoded into `Kpis`."""

from __future__ import annotations

from dacu.monitor.cells import Cover, Kpis
from dacu.monitor.rollups import DAY, HOUR, MEASURES, TOTAL, union_estimate

SUMS = ", ".join(f"coalesce(sum({m}), 0)::BIGINT AS {m}" for m in MEASURES)
KPI_FIELDS = (
    "gmv_fen",
    "paid_gmv_fen",
    "refund_fen",
    "orders",
    "paid_orders",
    "pv",
    "cart",
    "units",
    "ordered_units",
    "clicks",
    "impressions",
)


def cells_clause(dim: str, start: int, end: int, *, hours: bool = True) -> tuple[str, list]:
    """WHERE clause for [start, end): hourly cells for the whole hours inside, minute cells for
    the ragged ends (so a day reads ≤ 24 + 118 cells per value, not 1,440)."""
    first, last = -(-start // 60) * 60, end // 60 * 60
    if not hours or first >= last:
        return "(dim = ? AND minute >= ? AND minute < ?)", [dim, start, end]
    return (
        "((dim = ? AND ((minute >= ? AND minute < ?) OR (minute >= ? AND minute < ?))) "
        "OR (dim = ? AND minute >= ? AND minute < ?))",
        [dim, start, first, last, end, dim + HOUR, first, last],
    )


def covering_clause(dim: str, cover: Cover) -> tuple[str, list[str | int]]:
    parts: list[str] = []
    args: list[str | int] = []
    if cover.total:
        parts.append("(dim = ? AND minute = 0)")
        args.append(dim + TOTAL)
    for suffix, firsts in ((DAY, cover.days), (HOUR, cover.hours)):
        if firsts:
            parts.append(f"(dim = ? AND minute IN ({', '.join(str(int(m)) for m in firsts)}))")
            args.append(dim + suffix)
    for a, b in cover.minutes:
        parts.append("(dim = ? AND minute >= ? AND minute < ?)")
        args += [dim, a, b]
    return ("(" + " OR ".join(parts) + ")", args) if parts else ("FALSE", [])


def kpis_of(row: tuple) -> Kpis:
    """Kpis from the sums of MEASURES, then the lists of UV and buyer sketches."""
    sums = dict(zip(MEASURES, row[: len(MEASURES)], strict=True))
    uv_blobs, buyer_blobs = row[len(MEASURES)], row[len(MEASURES) + 1]
    return Kpis(
        **{name: int(sums[name]) for name in KPI_FIELDS},
        uv=union_estimate(uv_blobs or ()),
        buyers=union_estimate(buyer_blobs or ()),
    )
