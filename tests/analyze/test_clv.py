"""CLV models against the published CDNOW fits (Fader, Hardie & Lee 2005; Fader & Hardie 2005,
2013) and against the `lifetimes` package as an independent implementation of the predictions.

Data: tests/data/analyze/ — the CDNOW 1/10th sample (2,357 customers) as shipped in lifetimes:
CDNOW_sample.txt (raw transactions) and cdnow_customers_summary_with_transactions.csv (the
published summary: x, t_x, T in weeks, zbar = mean repeat spend in $)."""

from __future__ import annotations

import warnings
from datetime import date
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dacu.analyze.clv import BetaGeoNBD, CustomerSummary, GammaGamma, clv
from dacu.analyze.pareto_nbd import ParetoNBD
from dacu.errors import InputError
from dacu.metrics.customers import customer_summary

DATA = Path(__file__).resolve().parents[1] / "data" / "analyze"


def _sig3(value: float) -> str:
    return f"{value:.3g}"


@pytest.fixture(scope="module")
def cdnow() -> CustomerSummary:
    d = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    return CustomerSummary(
        d.x.to_numpy(float), d.t_x.to_numpy(float), d["T"].to_numpy(float), d.zbar.to_numpy(float)
    )


@pytest.fixture(scope="module")
def bgnbd(cdnow: CustomerSummary) -> BetaGeoNBD:
    return BetaGeoNBD().fit(cdnow)


def test_bgnbd_matches_published_cdnow_fit(bgnbd: BetaGeoNBD) -> None:
    # Fader, Hardie & Lee (2005), section 5: r=0.243, α=4.414, a=0.793, b=2.426, LL=−9582.4.
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert _sig3(bgnbd.params[name]) == _sig3(value), name
    assert bgnbd.fit_.log_likelihood == pytest.approx(-9582.4, abs=0.05)


def test_pareto_nbd_matches_published_cdnow_fit(cdnow: CustomerSummary) -> None:
    # Fader & Hardie (2005) Pareto/NBD note / FHL (2005): r=0.553, α=10.578, s=0.606, β=11.669;
    # LL = −9595.0.
    model = ParetoNBD().fit(cdnow)
    published = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    for name, value in published.items():
        assert _sig3(model.params[name]) == _sig3(value), name
    assert model.fit_.log_likelihood == pytest.approx(-9595.0, abs=0.05)


def test_gamma_gamma_matches_published_cdnow_fit(cdnow: CustomerSummary) -> None:
    # Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value": p=6.25, q=3.74, γ=15.44
    # on the 946 customers with at least one repeat purchase.
    model = GammaGamma().fit(cdnow.frequency, cdnow.monetary)
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert _sig3(model.params[name]) == _sig3(value), name


def test_summary_from_raw_transactions_reproduces_published_summary() -> None:
    raw = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer", "date", "units", "amount"],
        dtype={"date": str},
    )
    raw["date"] = pd.to_datetime(raw.date, format="%Y%m%d")
    expr = customer_summary(
        ibis.memtable(raw),
        customer="customer",
        when="date",
        amount="amount",
        calibration_end=date(1997, 9, 30),
        observation_end=date(1998, 6, 30),
        freq="W",
    )
    ours = expr.execute().assign(id=lambda d: d.customer_id.astype(int)).sort_values("id")
    published = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").sort_values(
        "ID"
    )
    assert (ours.frequency.to_numpy() == published.x.to_numpy()).all()
    # the published file rounds weeks and dollars to 2 decimals
    assert np.abs(ours.recency.to_numpy() - published.t_x.to_numpy()).max() <= 0.005
    assert np.abs(ours["T"].to_numpy() - published["T"].to_numpy()).max() <= 0.005
    assert np.abs(ours.monetary.to_numpy() - published.zbar.to_numpy()).max() <= 0.0051
    # calibration/holdout validation: 2,457 repeat purchases in weeks 1–39, 1,882 in weeks 40–78
    # (counted from the raw file); BG/NBD's conditional expectation for the 39 holdout weeks
    # gives 1,653 — the known under-forecast of the CDNOW holdout (~12 %), kept visible here.
    assert ours.frequency.sum() == 2457
    assert ours.holdout_frequency.sum() == 1882
    summary = CustomerSummary(
        ours.frequency.to_numpy(float), ours.recency.to_numpy(float), ours["T"].to_numpy(float)
    )
    predicted = BetaGeoNBD().fit(summary).expected_purchases(summary, 39).sum()
    assert 0.85 * 1882 < predicted < 1882


def _lifetimes():
    warnings.simplefilter("ignore")
    import lifetimes

    return lifetimes


def test_predictions_agree_with_lifetimes(cdnow: CustomerSummary, bgnbd: BetaGeoNBD) -> None:
    lt = _lifetimes()
    x, tx, t, m = cdnow.frequency, cdnow.recency, cdnow.T, cdnow.monetary
    theirs = lt.BetaGeoFitter()
    theirs.params_ = pd.Series(bgnbd.params)  # same parameters → compare the formulas only
    assert bgnbd.expected_purchases(cdnow, 39) == pytest.approx(
        theirs.conditional_expected_number_of_purchases_up_to_time(39, x, tx, t), rel=1e-9
    )
    assert bgnbd.p_alive(cdnow) == pytest.approx(
        theirs.conditional_probability_alive(x, tx, t), rel=1e-9
    )
    gg = GammaGamma().fit(x, m)
    their_gg = lt.GammaGammaFitter()
    their_gg.params_ = pd.Series(gg.params)
    assert gg.expected_spend(x, m) == pytest.approx(
        their_gg.conditional_expected_average_profit(pd.Series(x), pd.Series(m)), rel=1e-9
    )
    # lifetimes' CLV: 12 months of 4.345 weeks, 1 % discount per month
    ours = clv(bgnbd, gg, cdnow, periods=12, period_length=4.345, discount_rate=0.01)
    theirs.predict = theirs.conditional_expected_number_of_purchases_up_to_time  # set by fit()
    series = [pd.Series(v) for v in (x, tx, t, m)]
    their_clv = their_gg.customer_lifetime_value(
        theirs, *series, time=12, discount_rate=0.01, freq="W"
    )
    assert ours == pytest.approx(their_clv.to_numpy(), rel=1e-7)


def test_pareto_nbd_predictions_agree_with_lifetimes(cdnow: CustomerSummary) -> None:
    lt = _lifetimes()
    ours = ParetoNBD()
    ours.fit_ = type(
        "F", (), {"params": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}}
    )()
    theirs = lt.ParetoNBDFitter()
    theirs.params_ = pd.Series(ours.params)
    x, tx, t = cdnow.frequency, cdnow.recency, cdnow.T
    assert ours.p_alive(cdnow) == pytest.approx(
        theirs.conditional_probability_alive(x, tx, t), rel=1e-6
    )
    assert ours.expected_purchases(cdnow, 52) == pytest.approx(
        theirs.conditional_expected_number_of_purchases_up_to_time(52, x, tx, t), rel=1e-6
    )


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 30), st.floats(0, 1), st.floats(1, 60), st.floats(0.5, 100))
def test_expected_purchases_grow_with_horizon_and_p_alive_is_a_probability(
    x: int, share: float, age: float, horizon: float
) -> None:
    recency = 0.0 if x == 0 else share * age
    one = CustomerSummary(np.array([float(x)]), np.array([recency]), np.array([age]))
    model = BetaGeoNBD()
    model.fit_ = type("F", (), {"params": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}})()
    alive = model.p_alive(one)[0]
    assert 0 <= alive <= 1
    short, long = (
        model.expected_purchases(one, horizon)[0],
        model.expected_purchases(one, 2 * horizon)[0],
    )
    assert 0 <= short <= long


def test_bad_summary_is_refused() -> None:
    with pytest.raises(InputError, match="0 ≤ recency ≤ T"):
        CustomerSummary(np.array([1.0]), np.array([5.0]), np.array([3.0]))
    with pytest.raises(InputError, match="frequency 0 must have recency 0"):
        CustomerSummary(np.array([0.0]), np.array([1.0]), np.array([3.0]))


@settings(max_examples=30, deadline=None)
@given(st.floats(0.1, 3), st.floats(0.5, 50), st.floats(0.2, 5), st.floats(0.5, 8))
def test_bgnbd_gradient_matches_finite_differences(
    r: float, alpha: float, a: float, b: float
) -> None:
    from scipy.optimize import approx_fprime

    d = pd.read_csv(DATA / "cdnow_customers_summary.csv").head(300)
    x, tx, t = (d[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    params = np.array([r, alpha, a, b])
    analytic = BetaGeoNBD.gradient(params, x, tx, t, np.ones(len(x)))
    numeric = approx_fprime(
        params, lambda p: BetaGeoNBD.log_likelihood(p, x, tx, t).sum(), 1e-7 * params
    )
    assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-3)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.5, 10), st.floats(1.5, 10), st.floats(1, 50))
def test_gamma_gamma_gradient_matches_finite_differences(p: float, q: float, v: float) -> None:
    from scipy.optimize import approx_fprime

    d = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    d = d[d.x > 0]
    x, m = d.x.to_numpy(float), d.zbar.to_numpy(float)
    params = np.array([p, q, v])
    analytic = GammaGamma.gradient(params, x, m)
    numeric = approx_fprime(
        params, lambda z: GammaGamma.log_likelihood(z, x, m).sum(), 1e-7 * params
    )
    assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-3)


def test_bgnbd_fit_is_the_same_in_days_and_weeks(cdnow: CustomerSummary, bgnbd: BetaGeoNBD) -> None:
    # Time units only rescale α (per week → per day: α·7); r, a, b and the LL up to Σx·log 7.
    days = CustomerSummary(cdnow.frequency, cdnow.recency * 7, cdnow.T * 7)
    fit = BetaGeoNBD().fit(days)
    assert fit.params["alpha"] == pytest.approx(bgnbd.params["alpha"] * 7, rel=1e-4)
    for name in ("r", "a", "b"):
        assert fit.params[name] == pytest.approx(bgnbd.params[name], rel=1e-4)
    assert fit.fit_.log_likelihood == pytest.approx(
        bgnbd.fit_.log_likelihood - np.log(7) * cdnow.frequency.sum(), abs=1e-3
    )


def test_parameters_before_fitting_say_what_to_do() -> None:
    import pytest

    from dacu.analyze.clv import BetaGeoNBD, GammaGamma
    from dacu.analyze.pareto_nbd import ParetoNBD
    from dacu.errors import InputError

    for model, call in (
        (BetaGeoNBD(), "fit(summary)"),
        (ParetoNBD(), "fit(summary)"),
        (GammaGamma(), "fit(frequency, monetary)"),
    ):
        with pytest.raises(
            InputError,
            match=f"model not fitted yet: call {call.replace('(', '[(]').replace(')', '[)]')} first",
        ):
            _ = model.params
