"""Time-phasing of budget lines: phase shares, daily minimums and caps, exact fen."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dacu.errors import InputError
from dacu.plan.pacing import pace_line, phase_targets

PHASES = ["warmup"] * 15 + ["burst"] + ["wrapup"] * 3 + ["longtail"] * 7


def test_phase_shares_by_hand():
    # 60% over 15 warm-up days of equal GMV → 4% a day; 25% on the day; the unnamed phases
    # (wrapup 3 × 100, longtail 7 × 50 GMV) share the last 15% by GMV: 300/650 and 350/650
    gmv = [100] * 15 + [1000] + [100] * 3 + [50] * 7
    wanted = phase_targets(1_000_000, PHASES, gmv, {"warmup": 0.6, "burst": 0.25})
    assert wanted[0] == pytest.approx(40_000)
    assert wanted[15] == pytest.approx(250_000)
    assert sum(wanted[16:19]) == pytest.approx(150_000 * 300 / 650)
    assert sum(wanted[19:]) == pytest.approx(150_000 * 350 / 650)


def test_daily_cap_moves_the_excess_to_other_days():
    # the day wants 25% = 250,000 but the cap is 100,000: the other 150,000 spreads over the
    # other days in proportion to what they wanted (× 1.2 here: 750,000 → 900,000)
    wanted = phase_targets(1_000_000, PHASES, [1] * 26, {"warmup": 0.6, "burst": 0.25})
    paced = pace_line(1_000_000, wanted, daily_max=100_000)
    assert paced.days[15] == 100_000 and paced.unspent_fen == 0
    assert paced.days[0] == 48_000  # 40,000 × 1.2
    assert sum(paced.days) == 1_000_000


def test_caps_too_tight_leave_money_unspent_and_minimums_too_high_are_an_error():
    paced = pace_line(1_000_000, [1.0] * 26, daily_max=30_000)
    assert paced.days == [30_000] * 26 and paced.unspent_fen == 220_000
    with pytest.raises(InputError, match="daily_min × 26 days"):
        pace_line(100_000, [1.0] * 26, daily_min=5_000, name="search_ads")


@settings(deadline=None)
@given(
    amount=st.integers(0, 10**9),
    wanted=st.lists(st.floats(0, 1e6, allow_subnormal=True), min_size=1, max_size=40),
    cap=st.one_of(st.none(), st.integers(1, 10**8)),
    floor=st.integers(0, 1000),
)
def test_paced_days_sum_exactly_and_hold_their_bounds(amount, wanted, cap, floor):
    floor = min(floor, cap or floor, amount // len(wanted))
    paced = pace_line(amount, wanted, daily_min=floor, daily_max=cap)
    assert sum(paced.days) + paced.unspent_fen == amount
    assert all(floor <= d <= (cap if cap is not None else amount) for d in paced.days)
    if cap is not None and cap * len(wanted) < amount:
        assert paced.unspent_fen == amount - cap * len(wanted)
    else:
        assert paced.unspent_fen == 0


def test_a_day_that_wanted_almost_nothing_still_takes_what_the_caps_leave():
    # the first day is capped at ¥100 of the ¥200: the rest goes to the day that wanted ~0
    paced = pace_line(20_000, [1.0, 1e-300], daily_max=10_000)
    assert paced.days == [10_000, 10_000] and paced.unspent_fen == 0
