"""The `dacu analyze abtest` pipeline: rows → per-variant sums (Ibis, in the engine) → the tests."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from dacu.analyze.abtest import (
    CovariateStats,
    SampleStats,
    cuped,
    holm,
    srm_check,
    welch_t_test,
    z_test_proportions,
)
from dacu.analyze.bayesian import beta_binomial, gaussian_means
from dacu.analyze.sequential import msprt
from dacu.errors import InputError


def variant_sums(
    rows: ir.Table, *, variant: str, metric: str, covariate: str | None = None
) -> ir.Table:
    """Per variant: n, Σy, Σy² (and Σx, Σx², Σxy for CUPED) as an Ibis expression."""
    y = rows[metric].cast("float64")
    aggs = {"n": rows.count(), "sum_y": y.sum(), "sum_y2": (y * y).sum()}
    if covariate:
        x = rows[covariate].cast("float64")
        aggs |= {"sum_x": x.sum(), "sum_x2": (x * x).sum(), "sum_xy": (x * y).sum()}
    return rows.group_by(rows[variant].cast("string").name("variant")).agg(**aggs)


def run_abtest(
    frame: pd.DataFrame,
    *,
    variant: str,
    metric: str,
    control: str | None,
    covariate: str | None,
    alpha: float = 0.05,
    tau: float | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    data = pd.DataFrame(
        {variant: frame[variant].astype(str), metric: _numeric(frame[metric], metric, source)}
    )
    if covariate:
        data[covariate] = _numeric(frame[covariate], covariate, source)
    sums = (
        variant_sums(ibis.memtable(data), variant=variant, metric=metric, covariate=covariate)
        .execute()
        .set_index("variant")
        .sort_index()
    )
    if len(sums) < 2:
        raise InputError(
            f"column {variant!r} has {len(sums)} variant(s): need 2 or more",
            file=source,
            column=variant,
        )
    control = control or str(sums.index[0])
    if control not in sums.index:
        raise InputError(
            f"no variant {control!r} (variants: {', '.join(sums.index)})",
            file=source,
            column=variant,
        )
    is_rate = bool(np.isin(data[metric].unique(), [0.0, 1.0]).all())
    stats_of = {
        v: SampleStats(int(r.n), float(r.sum_y), float(r.sum_y2)) for v, r in sums.iterrows()
    }
    comparisons = {
        v: _compare(stats_of[control], stats_of[v], is_rate, alpha, tau)
        for v in sums.index
        if v != control
    }
    if covariate:
        for v in comparisons:
            res, theta, reduction = cuped(_cov(sums.loc[control]), _cov(sums.loc[v]), alpha)
            comparisons[v]["cuped"] = {**res.as_dict(), "theta": theta, "variance_ratio": reduction}
    if len(comparisons) > 1:
        adjusted = holm({v: c["frequentist"]["p_value"] for v, c in comparisons.items()}, alpha)
        for v, adj in adjusted.items():
            comparisons[v] |= adj
    return {
        "metric": metric,
        "kind": "proportion" if is_rate else "mean",
        "control": control,
        "variants": {v: {"n": s.n, "mean": s.mean} for v, s in stats_of.items()},
        "srm": srm_check({v: s.n for v, s in stats_of.items()}),
        "comparisons": comparisons,
    }


def _compare(
    c: SampleStats, t: SampleStats, is_rate: bool, alpha: float, tau: float | None
) -> dict[str, Any]:
    freq = z_test_proportions(c, t, alpha) if is_rate else welch_t_test(c, t, alpha)
    bayes = beta_binomial(c, t) if is_rate else gaussian_means(c, t)
    return {
        "frequentist": freq.as_dict(),
        "bayesian": bayes.as_dict(),
        "sequential": msprt(c, t, alpha=alpha, tau=tau).as_dict(),
    }


def _cov(row: pd.Series) -> CovariateStats:
    n = int(row.n)
    return CovariateStats(
        SampleStats(n, float(row.sum_y), float(row.sum_y2)),
        SampleStats(n, float(row.sum_x), float(row.sum_x2)),
        float(row.sum_xy),
    )


def _numeric(values: pd.Series, column: str, source: str | None) -> pd.Series:
    if values.dtype == bool:
        return values.astype(float)
    mapped = values.replace({"True": 1, "False": 0, "true": 1, "false": 0})
    out = pd.to_numeric(mapped, errors="coerce")
    if out.isna().any():
        row = int(np.flatnonzero(out.isna().to_numpy())[0])
        raise InputError(
            f"expected a number or True/False, got {values.iloc[row]!r}",
            file=source,
            line=row + 2,
            column=column,
        )
    return out.astype(float)
