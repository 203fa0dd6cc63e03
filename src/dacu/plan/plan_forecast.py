"""The plan's baseline section: daily GMV, UV, buyers (→ CVR, ASP) forecast for the campaign
window from the history before it, last year's uplift, the proposed target and YoY/MoM."""

from __future__ import annotations

from datetime import date

import pandas as pd

from dacu.money import format_fen
from dacu.plan.forecast import (
    Baseline,
    compare,
    forecast_baseline,
    measure_uplift,
    propose_target,
)
from dacu.plan.shares import year_ago


def plan_forecast(
    daily: pd.DataFrame, days: list[date], growth: float
) -> tuple[dict, dict[date, float] | None]:
    """(forecast section of plan.json, baseline GMV per campaign day) — empty without history
    reaching up to the campaign or with under 28 days of it."""
    frame = daily.assign(day=pd.to_datetime(daily["day"]))
    totals = frame.groupby("day")[["gmv_fen", "uv", "buyers"]].sum().sort_index()
    series = totals["gmv_fen"]
    horizon = (days[-1] - series.index.max().date()).days
    if horizon <= 0 or len(series) < 28:
        return {}, None
    per_metric = {m: _window(totals[m], horizon, days) for m in ("gmv_fen", "uv", "buyers")}
    gmv = per_metric["gmv_fen"]
    baseline_by_day = dict(zip(gmv.forecast["day"], gmv.forecast["y"], strict=True))
    uplift = last_year_uplift(series, days)
    proposal = propose_target(gmv, uplift or 1.0, growth)
    history = pd.DataFrame({"ds": series.index, "y": series.to_numpy()})
    comparison = compare(history)
    return {
        "model": gmv.model,
        "level": gmv.level,
        "outliers_removed": gmv.outliers,
        "baseline_fen": round(proposal.baseline),
        "uplift": uplift,
        "proposal": {
            "conservative": proposal.conservative,
            "expected": proposal.expected,
            "stretch": proposal.stretch,
            "target": proposal.target,
            "growth": growth,
            "reasoning": _reasoning(proposal),
        },
        "comparison": {
            "last_30_days_fen": round(comparison.last_30),
            "yoy": comparison.yoy,
            "mom": comparison.mom,
            "ma_3m_fen": round(comparison.ma_3m),
            "ma_6m_fen": round(comparison.ma_6m),
        },
        "daily": _daily_rows(per_metric),
    }, baseline_by_day


def _reasoning(p) -> str:
    def yuan(fen: float) -> str:
        return format_fen(round(fen))

    return (
        f"目标 target = 基线 baseline {yuan(p.baseline)} × 去年大促提升 last year's uplift "
        f"{p.uplift:.2f} × (1 + 增长要求 growth ask {p.growth:.0%}) = {yuan(p.stretch)}; "
        f"保守 conservative {yuan(p.conservative)} (基线下限 lower baseline × uplift), "
        f"预期 expected {yuan(p.expected)}"
    )


def _window(series: pd.Series, horizon: int, days: list[date]) -> Baseline:
    base = forecast_baseline(pd.DataFrame({"ds": series.index, "y": series.to_numpy()}), horizon)
    f = base.forecast.assign(day=pd.to_datetime(base.forecast["ds"]).dt.date)
    window = f[f["day"].isin(days)].reset_index(drop=True)
    return Baseline(window, base.outliers, base.model, base.level)


def _daily_rows(per_metric: dict[str, Baseline]) -> list[dict]:
    gmv, uv, buyers = (per_metric[m].forecast for m in ("gmv_fen", "uv", "buyers"))
    rows = []
    for i, day in enumerate(gmv["day"]):
        g, u, b = float(gmv["y"][i]), float(uv["y"][i]), float(buyers["y"][i])
        rows.append(
            {
                "day": day.isoformat(),
                "baseline_gmv_fen": round(g),
                "lo_fen": round(float(gmv["lo"][i])),
                "hi_fen": round(float(gmv["hi"][i])),
                "uv": round(u),
                "uv_lo": round(float(uv["lo"][i])),
                "uv_hi": round(float(uv["hi"][i])),
                "buyers": round(b),
                "buyers_lo": round(float(buyers["lo"][i])),
                "buyers_hi": round(float(buyers["hi"][i])),
                "cvr": round(b / u, 6) if u else None,
                "asp_fen": round(g / b, 2) if b else None,
            }
        )
    return rows


def last_year_uplift(series: pd.Series, days: list[date]) -> float | None:
    """Last year's same calendar window ÷ its baseline: the forecast from the data before it
    (`measure_uplift`) when four weeks of it exist, else the mean of the 28 days before."""
    shifted = [pd.Timestamp(year_ago(d)) for d in days]
    during = series.reindex(shifted).dropna()
    before = series[series.index < shifted[0]]
    if len(during) < len(days) // 2 or before.empty or before.tail(28).mean() <= 0:
        return None
    if len(before) >= 28:
        frame = pd.DataFrame({"ds": series.index, "y": series.to_numpy()})
        ratio = measure_uplift(frame, shifted[0].date(), shifted[-1].date()).ratio
        if ratio == ratio and ratio > 0:  # not NaN
            return float(ratio)
    return float(during.mean() / before.tail(28).mean())
