"""Baseline (基线) and target (目标): what the campaign window would sell without the campaign, what
earlier campaigns added on top, and the target that follows.

Series follow statsforecast's long format (`ds`, `y`, one row per day or week). The model is
statsforecast's AutoETS (weekly seasonality for days) or MSTL (weekly + yearly, when two years of
history allow), fitted on the series with outliers — earlier campaign spikes included — replaced by
a robust rolling median, so the baseline is what a normal day looks like. Prediction intervals come
from the model; `backtest` measures MAPE and interval coverage by rolling-origin cross-validation
against a seasonal-naive forecast of the same series. `plan_forecast` is the plan's baseline
section: the campaign window's daily GMV, UV and buyers, last year's uplift and the proposal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import MSTL, AutoETS, SeasonalNaive

from dacu.errors import InputError
from dacu.money import format_fen
from dacu.plan.shares import year_ago

LEVEL = 80


def _freq(series: pd.DataFrame) -> str:
    step = pd.Series(series["ds"]).diff().dropna().median()
    return "W" if step >= pd.Timedelta(days=6) else ("h" if step < pd.Timedelta(days=1) else "D")


def _seasons(freq: str, n: int) -> list[int]:
    if freq == "D":
        return [7, 365] if n >= 2 * 365 else ([7] if n >= 21 else [])
    if freq == "W":
        return [52] if n >= 2 * 52 + 4 else []
    return [24, 168] if n >= 3 * 168 else ([24] if n >= 72 else [])


def _model(seasons: list[int]):
    if len(seasons) > 1 or (seasons and seasons[0] > 24):
        return MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN"), alias="baseline")
    return AutoETS(season_length=seasons[0] if seasons else 1, alias="baseline")


def _prepare(series: pd.DataFrame) -> pd.DataFrame:
    for column in ("ds", "y"):
        if column not in series.columns:
            raise InputError(f"series needs columns ds and y; missing {column!r}", column=column)
    frame = pd.DataFrame(
        {
            "unique_id": "s",
            "ds": pd.to_datetime(series["ds"]),
            "y": pd.to_numeric(series["y"], errors="coerce").astype(float),
        }
    )
    frame = frame.sort_values("ds").reset_index(drop=True)
    if frame["y"].isna().any():
        row = int(frame["y"].isna().to_numpy().nonzero()[0][0])
        raise InputError(f"y is not a number on {frame['ds'].iloc[row]:%Y-%m-%d}", column="y")
    if len(frame) < 8:
        raise InputError(f"only {len(frame)} periods of history; a baseline needs at least 8")
    return frame


def remove_outliers(
    y: pd.Series, *, period: int | None = 7, threshold: float = 4.0
) -> tuple[pd.Series, pd.Series]:
    """Replace points whose robust STL residual (statsmodels, robust=True) is more than
    `threshold` robust standard deviations (1.4826 × MAD) out by the trend + season there.

    Returns (cleaned series, mask of replaced points). Campaign spikes are the usual outliers; a
    regular weekend lift is season, not an outlier. Without a usable period a centred rolling
    median stands in for trend + season.
    """
    from statsmodels.tsa.seasonal import STL

    values = y.astype(float).reset_index(drop=True)
    if period and period >= 2 and len(values) >= 2 * period + 1:
        fit = STL(values.to_numpy(), period=period, robust=True).fit()
        expected = pd.Series(fit.trend + fit.seasonal)
    else:
        expected = values.rolling(15, center=True, min_periods=3).median()
    residual = values - expected
    mad = float((residual - residual.median()).abs().median())
    scale = max(1.4826 * mad, 0.03 * float(values.abs().median()), 1e-9)
    mask = (residual.abs() / scale) > threshold
    cleaned = values.where(~mask, expected.clip(lower=0))
    cleaned.index, mask.index = y.index, y.index
    return cleaned, mask


@dataclass(frozen=True)
class Baseline:
    """Forecast per period with its `level`% prediction interval, and the history it came from."""

    forecast: pd.DataFrame  # ds, y, lo, hi
    outliers: int
    model: str
    level: int = LEVEL

    @property
    def total(self) -> float:
        return float(self.forecast["y"].sum())

    def totals(self) -> tuple[float, float, float]:
        """(lo, mean, hi) of the window total; per-period bounds added (conservative)."""
        f = self.forecast
        return float(f["lo"].sum()), float(f["y"].sum()), float(f["hi"].sum())


def forecast_baseline(
    series: pd.DataFrame, horizon: int, *, clean: bool = True, level: int = LEVEL
) -> Baseline:
    """Forecast the next `horizon` periods after the series ends."""
    frame = _prepare(series)
    outliers = 0
    freq = _freq(frame)
    if clean:
        seasons = _seasons(freq, len(frame))
        frame["y"], mask = remove_outliers(frame["y"], period=seasons[0] if seasons else None)
        outliers = int(mask.sum())
    model = _model(_seasons(freq, len(frame)))
    result = StatsForecast(models=[model], freq=freq).forecast(df=frame, h=horizon, level=[level])
    out = pd.DataFrame(
        {
            "ds": result["ds"].to_numpy(),
            "y": result["baseline"].to_numpy(),
            "lo": result[f"baseline-lo-{level}"].to_numpy(),
            "hi": result[f"baseline-hi-{level}"].to_numpy(),
        }
    )
    out[["y", "lo", "hi"]] = out[["y", "lo", "hi"]].clip(lower=0)
    return Baseline(out, outliers, type(model).__name__, level)


@dataclass(frozen=True)
class Backtest:
    """Rolling-origin backtest: our model vs seasonal naive on the same windows."""

    mape: float
    naive_mape: float
    coverage: float
    level: int
    windows: int
    horizon: int
    model: str

    @property
    def ratio(self) -> float:
        """MAPE of the model ÷ MAPE of seasonal naive (below 1 = better than naive)."""
        return self.mape / self.naive_mape if self.naive_mape else float("nan")


def backtest(
    series: pd.DataFrame, *, horizon: int, windows: int = 3, level: int = LEVEL
) -> Backtest:
    """MAPE and interval coverage over `windows` forecasts of `horizon` periods each."""
    frame = _prepare(series)
    freq = _freq(frame)
    seasons = _seasons(freq, len(frame) - horizon * windows)
    model = _model(seasons)
    naive = SeasonalNaive(season_length=seasons[0] if seasons else 1, alias="naive")
    cv = StatsForecast(models=[model, naive], freq=freq).cross_validation(
        df=frame, h=horizon, n_windows=windows, step_size=horizon, level=[level]
    )
    actual = cv["y"].to_numpy()
    mask = actual != 0
    mape = float(np.mean(np.abs(cv["baseline"].to_numpy() - actual)[mask] / np.abs(actual[mask])))
    naive_mape = float(
        np.mean(np.abs(cv["naive"].to_numpy() - actual)[mask] / np.abs(actual[mask]))
    )
    inside = (actual >= cv[f"baseline-lo-{level}"].to_numpy()) & (
        actual <= cv[f"baseline-hi-{level}"].to_numpy()
    )
    return Backtest(
        mape, naive_mape, float(inside.mean()), level, windows, horizon, type(model).__name__
    )


# -- comparisons, uplift of earlier campaigns, the proposed target --------------------------------
@dataclass(frozen=True)
class Comparison:
    """YoY / MoM of the last 30 days and the 3- and 6-month moving averages (per day)."""

    last_30: float
    yoy: float | None
    mom: float | None
    ma_3m: float
    ma_6m: float


def compare(series: pd.DataFrame, *, as_of: date | None = None) -> Comparison:
    frame = _prepare(series).set_index("ds")["y"]
    end = pd.Timestamp(as_of) if as_of else frame.index.max()

    def window(days: int, shift_days: int = 0) -> pd.Series:
        stop = end - pd.Timedelta(days=shift_days)
        return frame[(frame.index > stop - pd.Timedelta(days=days)) & (frame.index <= stop)]

    last = window(30).sum()
    a_year_ago, a_month_ago = window(30, 364).sum(), window(30, 30).sum()
    return Comparison(
        float(last),
        float(last / a_year_ago - 1) if a_year_ago else None,
        float(last / a_month_ago - 1) if a_month_ago else None,
        float(window(91).mean()),
        float(window(182).mean()),
    )


@dataclass(frozen=True)
class Uplift:
    """An earlier campaign's actual total over its window ÷ the baseline forecast for it."""

    start: date
    end: date
    actual: float
    baseline: float

    @property
    def ratio(self) -> float:
        return self.actual / self.baseline if self.baseline else float("nan")


def measure_uplift(series: pd.DataFrame, start: date, end: date) -> Uplift:
    """Uplift of the campaign [start, end] (inclusive days): baseline from the data before it."""
    frame = _prepare(series)
    before = frame[frame["ds"] < pd.Timestamp(start)]
    during = frame[(frame["ds"] >= pd.Timestamp(start)) & (frame["ds"] <= pd.Timestamp(end))]
    if during.empty:
        raise InputError(f"no history between {start} and {end} to measure the uplift from")
    base = forecast_baseline(before[["ds", "y"]], len(during))
    return Uplift(start, end, float(during["y"].sum()), base.total)


@dataclass(frozen=True)
class TargetProposal:
    """target = baseline × measured uplift × (1 + growth ask), with three scenarios."""

    baseline: float
    baseline_lo: float
    baseline_hi: float
    uplift: float
    growth: float
    conservative: float
    expected: float
    stretch: float
    reasoning: str

    @property
    def target(self) -> float:
        return self.stretch


def propose_target(baseline: Baseline, uplift: float, growth: float) -> TargetProposal:
    """Scenarios: conservative = lower baseline × uplift; expected = baseline × uplift;
    stretch (the proposed target) = baseline × uplift × (1 + growth ask)."""
    lo, mean, hi = baseline.totals()
    expected = mean * uplift
    stretch = expected * (1 + growth)
    reasoning = (
        f"基线 baseline {mean:,.0f} × 历史大促提升 uplift {uplift:.2f} × (1 + 增长要求 "
        f"growth {growth:+.0%}) = {stretch:,.0f}; {baseline.level}% 区间 baseline "
        f"[{lo:,.0f}, {hi:,.0f}]"
    )
    return TargetProposal(mean, lo, hi, uplift, growth, lo * uplift, expected, stretch, reasoning)


# -- the plan's baseline section -------------------------------------------------------------


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
