"""Ad KPIs of the spend table (ad-tool reports), as one Ibis expression (any engine).

Per cell of `by` (channel, tool, plan_id, day, hour): spend_fen, impressions, clicks,
attributed_gmv_fen (sums), and the derived rates, defined once here:

- cpc_fen = spend / clicks (花费 ÷ 点击量), cpm_fen = spend × 1000 / impressions,
- ctr = clicks / impressions, roi = attributed GMV / spend (投产比, the platform convention).

A rate whose denominator is 0 or unknown (a report without that column) is null, shown "—".
"""

from __future__ import annotations

from typing import Any

import ibis

from dacu.errors import ConfigError
from dacu.metrics.kpi import fixed_offset

AD_DIMENSIONS = ("channel", "tool", "plan_id", "day", "hour")
AD_COLUMNS = (
    "spend_fen",
    "impressions",
    "clicks",
    "attributed_gmv_fen",
    "cpc_fen",
    "cpm_fen",
    "ctr",
    "roi",
)


def _ratio(num: Any, den: Any, scale: int = 1) -> Any:
    return ibis.ifelse(
        den > 0, num.cast("float64") * scale / den.cast("float64"), ibis.null("float64")
    )


def ad_kpis(spend: Any, *, by: tuple[str, ...] = ("channel",), tz: str = "Asia/Shanghai") -> Any:
    """One row per cell of `by` with AD_COLUMNS; `spend` is the spend table (SPEND_SCHEMA)."""
    for dim in by:
        if dim not in AD_DIMENSIONS:
            raise ConfigError(f"unknown ad dimension {dim!r} (expected {', '.join(AD_DIMENSIONS)})")
    seconds = int(fixed_offset(tz).total_seconds())
    local = spend.hour + ibis.interval(seconds=seconds)
    dims = {
        "day": local.date(),
        "hour": local.truncate("h") - ibis.interval(seconds=seconds),
    }
    t = spend.mutate(**{d: dims[d] if d in dims else spend[d].fill_null("") for d in by})
    cells = t.aggregate(
        spend_fen=t.spend_fen.sum(),
        impressions=t.impressions.sum(),
        clicks=t.clicks.sum(),
        attributed_gmv_fen=t.attributed_gmv_fen.sum(),
        by=list(by),
    )
    out = cells.mutate(
        cpc_fen=_ratio(cells.spend_fen, cells.clicks),
        cpm_fen=_ratio(cells.spend_fen, cells.impressions, 1000),
        ctr=_ratio(cells.clicks, cells.impressions),
        roi=_ratio(cells.attributed_gmv_fen, cells.spend_fen),
    ).select(*by, *AD_COLUMNS)
    return out.order_by(list(by)) if by else out


def rate(metric: str, spend_fen: int, impressions: int | None, clicks: int | None) -> float | None:
    """One of cpc_fen, cpm_fen, ctr from plain sums, as `ad_kpis` defines them (for the live
    monitor, which holds the spend feed in memory): None when the denominator is 0 or unknown."""
    num, den, scale = {
        "cpc_fen": (spend_fen, clicks, 1),
        "cpm_fen": (spend_fen, impressions, 1000),
        "ctr": (clicks, impressions, 1),
    }[metric]
    return num * scale / den if num is not None and den else None
