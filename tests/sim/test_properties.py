"""Invariants of any simulated day, whatever the seed, scale or incidents (hypothesis)."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dacu.events import EVENT_SCHEMA
from dacu.sim import KINDS, simulate_day
from dacu.sim.incidents import random_incidents

MONEY = ("order", "pay", "refund")


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000), scale=st.sampled_from([0.005, 0.02, 0.05]), kinds=st.integers(0, 3)
)
def test_any_day_keeps_the_contract(double11, seed, scale, kinds):
    incidents = (
        random_incidents(
            double11, ["SKU-SC-001", "SKU-MK-002"], kinds, seed=seed, days=[double11.peak_day]
        )
        if kinds
        else []
    )
    day = simulate_day(double11, scale=scale, seed=seed, incidents=incidents)
    events = day.events
    assert events.schema.equals(EVENT_SCHEMA)
    assert pc.count_distinct(events["event_id"]).as_py() == events.num_rows
    df = events.to_pandas()
    money = df.event.isin(MONEY)
    assert df.amount_fen[money].notna().all() and (df.amount_fen[money] > 0).all()
    assert df.amount_fen[~money].isna().all()
    assert np.issubdtype(df.amount_fen[money].dtype, np.number)
    orders = set(zip(df.order_id[df.event == "order"], df.sku_id[df.event == "order"], strict=True))
    pays = set(zip(df.order_id[df.event == "pay"], df.sku_id[df.event == "pay"], strict=True))
    assert pays <= orders  # every payment pays a placed order line
    assert (df.quantity[df.event.isin(("order", "pay"))] >= 1).all()
    for item in day.truth["incidents"]:
        assert item["kind"] in KINDS


def test_the_last_units_go_to_the_orders_that_fit() -> None:
    # one SKU with 5 units; lines of 2, 2, 3, 1, 1 in time order: 2 + 2 served, the 3 refused
    # (the first for want of stock: the sell-out's moment), the next 1 takes the last unit, the
    # last 1 is refused. The world's ledger and its orders then agree (拍下减库存: 5 ordered)
    from dacu.sim.baskets import Lines
    from dacu.sim.orders import StockState, _serve

    qty = np.array([2, 2, 3, 1, 1])
    lines = Lines(np.arange(5), np.zeros(5, np.int64), qty)
    ts = np.array([10, 20, 30, 40, 50]) * 1_000_000
    stock = StockState(np.array([5]), {})
    served = _serve(lines, ts, None, stock, [])
    assert served.tolist() == [True, True, False, True, False]
    assert qty[served].sum() == 5 and stock.remaining.tolist() == [0]
    assert stock.sold_out_at == {0: 30_000_000}
    # a later batch with 1 unit left after it took 4: a line of 1 still gets it
    stock = StockState(np.array([5]), {})
    assert _serve(
        Lines(np.arange(3), np.zeros(3, np.int64), np.array([4, 2, 1])), ts[:3], None, stock, []
    ).tolist() == [True, False, True]
