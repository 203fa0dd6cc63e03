"""The `dacu analyze clv` pipeline: transactions → customer summary (Ibis) → BG/NBD, Pareto/NBD,
Gamma-Gamma, RFM → parameters, holdout check and per-customer predictions."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from dacu.analyze.clv import BetaGeoNBD, CustomerSummary, GammaGamma, clv
from dacu.analyze.pareto_nbd import ParetoNBD
from dacu.analyze.rfm import rfm
from dacu.errors import InputError
from dacu.metrics.customers import PERIOD_DAYS, customer_summary


def run_clv(
    frame: pd.DataFrame,
    *,
    customer: str,
    when: str,
    amount: str | None,
    calibration_end: str | None,
    freq: str = "D",
    horizon_days: float = 365.0,
    discount_per_30d: float = 0.01,
    predictions: Path | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Fit the CLV models on the transactions up to `calibration_end` and describe the result."""
    if freq not in PERIOD_DAYS:
        raise InputError(f"--freq: expected D or W, got {freq!r}")
    frame = _clean(frame, customer, when, amount, source)
    last_day = frame[when].max().date()
    cal_end = _parse_day(calibration_end) if calibration_end else last_day
    expr = customer_summary(
        ibis.memtable(frame),
        customer=customer,
        when=when,
        amount=amount,
        calibration_end=cal_end,
        observation_end=last_day,
        freq=freq,
    )
    table = expr.execute().sort_values("customer_id").reset_index(drop=True)
    if len(table) < 10:
        raise InputError(
            f"only {len(table)} customers before {cal_end}: need at least 10", file=source
        )
    monetary = table.monetary.to_numpy(float)
    summary = CustomerSummary(
        table.frequency.to_numpy(float),
        table.recency.to_numpy(float),
        table["T"].to_numpy(float),
        monetary,
    )
    bg, pn = BetaGeoNBD().fit(summary), ParetoNBD().fit(summary)
    result: dict[str, Any] = {
        "customers": len(table),
        "calibration_end": cal_end.isoformat(),
        "freq": freq,
        "bgnbd": {**bg.params, "log_likelihood": bg.fitted.log_likelihood},
        "pareto_nbd": {**pn.params, "log_likelihood": pn.fitted.log_likelihood},
    }
    holdout_periods = (last_day - cal_end).days / PERIOD_DAYS[freq]
    if holdout_periods > 0:
        result["holdout"] = {
            "periods": holdout_periods,
            "actual": int(table.holdout_frequency.sum()),
            "predicted_bgnbd": float(bg.expected_purchases(summary, holdout_periods).sum()),
            "predicted_pareto_nbd": float(pn.expected_purchases(summary, holdout_periods).sum()),
        }
    per = _per_customer(table, summary, bg, pn, freq, horizon_days)
    if amount:
        gg = GammaGamma().fit(summary.frequency, monetary)
        result["gamma_gamma"] = {**gg.params, "log_likelihood": gg.fitted.log_likelihood}
        month = 30.0 / PERIOD_DAYS[freq]
        value = clv(
            bg,
            gg,
            summary,
            periods=max(1, round(horizon_days / 30)),
            period_length=month,
            discount_rate=discount_per_30d,
        )
        per["expected_spend"] = gg.expected_spend(summary.frequency, monetary)
        per["clv_fen"] = np.round(value * 100).astype(np.int64)
        result["clv_total_fen"] = int(per.clv_fen.sum())
        segments = rfm(
            table.days_since_last.to_numpy(),
            table.frequency.to_numpy() + 1,
            table.total_amount.to_numpy(),
        )
        per["rfm_segment"] = segments.segment_zh
        result["segments"] = per.rfm_segment.value_counts().to_dict()
    if predictions:
        per.to_csv(predictions, index=False, encoding="utf-8")
        result["predictions_file"] = str(predictions)
    return result


def _per_customer(
    table: pd.DataFrame,
    summary: CustomerSummary,
    bg: BetaGeoNBD,
    pn: ParetoNBD,
    freq: str,
    horizon_days: float,
) -> pd.DataFrame:
    horizon = horizon_days / PERIOD_DAYS[freq]
    return pd.DataFrame(
        {
            "customer_id": table.customer_id,
            "frequency": table.frequency,
            "recency": table.recency,
            "T": table["T"],
            "monetary": table.monetary,
            "p_alive_bgnbd": bg.p_alive(summary),
            "p_alive_pareto_nbd": pn.p_alive(summary),
            "expected_purchases": bg.expected_purchases(summary, horizon),
        }
    )


def _clean(
    frame: pd.DataFrame, customer: str, when: str, amount: str | None, source: str | None
) -> pd.DataFrame:
    out = pd.DataFrame({customer: frame[customer].astype(str)})
    parsed = pd.to_datetime(frame[when], errors="coerce", format="mixed")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise InputError(
            f"not a date: {frame[when].iloc[row]!r} (expected e.g. 2024-11-11)",
            file=source,
            line=row + 2,
            column=when,
        )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    out[when] = parsed
    if amount:
        values = pd.to_numeric(frame[amount], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise InputError(
                f"not an amount: {frame[amount].iloc[row]!r}",
                file=source,
                line=row + 2,
                column=amount,
            )
        out[amount] = values.astype(float)
    return out


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"not a date {text!r} (expected YYYY-MM-DD)", column="--calibration-end"
        ) from None
