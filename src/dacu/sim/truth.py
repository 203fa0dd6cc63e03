"""truth.json: the answers a model of this world should find (parameters, incidents, totals).

Volumes are those of the simulated store (× `sizing.store_fraction` of the campaign file's
store); ratios are unaffected. Channel response parameters are in the units of spend.parquet.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np

from dacu.sim.baskets import COUPON_USE, EXTRA_LINES, TOPUP_PROB, TOPUP_WINDOW
from dacu.sim.calendar import OTHER_PROMOS, PHASE_CVR, PHASE_DEMAND, intraday_weights
from dacu.sim.customers import TIER_MIN_PURCHASES, TIERS
from dacu.sim.incidents import Incident
from dacu.sim.world import CHANNEL_BEHAVIOUR, EVENTS_PER_SCALE, PAY_RATE, PAY_RATE_PEAK, World


def build_truth(
    world: World, state, incidents: list[Incident], *, events: int, seconds: float
) -> dict:
    from dacu.sim.engine import _with_actors

    days = world.days
    return {
        "campaign_id": world.campaign.id,
        "seed": world.seed,
        "scale": world.scale,
        "timezone": world.campaign.timezone,
        "window": {
            "first_day": days[0].day.isoformat(),
            "last_day": days[-1].day.isoformat(),
            "history_days": sum(1 for d in days if not d.in_campaign),
            "campaign_days": sum(1 for d in days if d.in_campaign),
        },
        "sizing": {
            "store_fraction": world.fraction,
            "events_per_scale": EVENTS_PER_SCALE,
            "note": "volumes (visits, orders, GMV, spend, stock) are the campaign file's "
            "store × store_fraction; ratios (CVR, ASP, CTR, ROI) are not scaled",
        },
        "calendar": _calendar(world),
        "intraday": {
            "ordinary": intraday_weights(False).round(5).tolist(),
            "peak_day": intraday_weights(True).round(5).tolist(),
        },
        "channels": _channels(world, state),
        "funnel": _funnel(world),
        "customers": _customers(world),
        "promotions": _promotions(world),
        "skus": _skus(world, state),
        "flash_sales": [sale.truth(world.catalogue.sku_ids) for sale in world.flash_sales],
        "incidents": [_with_actors(inc, state, k).truth() for k, inc in enumerate(incidents)],
        "totals": _totals(world, state, events),
        "seconds": round(seconds, 2),
    }


STOCK_FILE = "stock.csv"


def write_stock_counts(truth: dict, path: Path) -> None:
    """The shop's stock counts over time (库存同步: sku_id, stock, at), as the monitor's stock feed
    and `dacu monitor replay --stock` take them: each injected stock-out is its SKU counted at 0
    when it starts (the warehouse system knows before the orders stop)."""
    lines = ["sku_id,stock,at"] + [
        f"{i['sku']},0,{i['start']}"
        for i in truth["incidents"]
        if i["kind"] == "stockout" and i.get("sku")
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _calendar(world: World) -> dict:
    return {
        "phase_demand": {k.value: v for k, v in PHASE_DEMAND.items()},
        "phase_cvr": {k.value: v for k, v in PHASE_CVR.items()},
        "other_promos": [asdict(p) for p in OTHER_PROMOS],
        "last_year_factor": 0.85,
        "days": [
            {
                "day": d.day.isoformat(),
                "label": d.label,
                "demand": round(d.demand, 4),
                "cvr": d.cvr,
                "promo": d.promo,
                "peak": d.peak,
            }
            for d in world.days
        ],
    }


def _channels(world: World, state) -> list[dict]:
    out = []
    realised = np.array([row["visits_by_channel"] for row in state.daily])
    for index, model in enumerate(world.channels):
        item = model.truth()
        item["behaviour"] = dict(
            zip(
                ("buy_factor", "returning_share", "ad_ctr"),
                world.behaviour[index].tolist(),
                strict=True,
            )
        )
        item["expected_visits"] = np.round(world.visits[index], 2).tolist()
        item["realised_sessions"] = realised[:, index].tolist() if len(realised) else []
        if model.paid:
            item["spend_fen"] = np.round(world.spend[model.id]).astype(np.int64).tolist()
        out.append(item)
    return out


# truth.json of dacu ≤ 0.2 named the response parameters the simulator's own way
OLD_CHANNEL_KEYS = {"theta": "decay", "alpha": "slope", "k_fen": "half_sat_fen"}


def truth_channels(truth: dict) -> list[dict]:
    """The channels of a truth.json with the planner's parameter names (`decay`, `slope`,
    `half_sat_fen`). A file written before the rename (`theta`, `alpha`, `k_fen`) is read too,
    with a DeprecationWarning; that reading is removed in the release after 0.2.

    >>> new = {"channels": [{"id": "search_ads", "decay": 0.3, "slope": 1.2}]}
    >>> truth_channels(new)[0]["slope"]
    1.2
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     old = truth_channels({"channels": [{"id": "search_ads", "theta": 0.3, "k_fen": 9.0}]})
    >>> old[0]["decay"], old[0]["half_sat_fen"], caught[0].category.__name__
    (0.3, 9.0, 'DeprecationWarning')
    """
    out = []
    for channel in truth.get("channels", []):
        old = [k for k in OLD_CHANNEL_KEYS if k in channel]
        if old:
            warnings.warn(
                f"truth.json channel {channel.get('id')!r} uses the old names "
                f"{', '.join(old)}: read as {', '.join(OLD_CHANNEL_KEYS[k] for k in old)} "
                "(run dacu sim again to write the new names)",
                DeprecationWarning,
                stacklevel=2,
            )
        out.append({OLD_CHANNEL_KEYS.get(k, k): v for k, v in channel.items()})
    return out


def _funnel(world: World) -> dict:
    names = (
        "in_store_ctr",
        "extra_pv_mean",
        "cart_rate_browsers",
        "buy_rate_new_visitor",
        "refund_rate",
    )
    return {
        "categories": {
            cid: dict(zip(names, row.tolist(), strict=True))
            for cid, row in zip(world.category_ids, world.funnel, strict=True)
        },
        "category_mix": dict(zip(world.category_ids, world.category_mix.tolist(), strict=True)),
        "channel_behaviour_by_kind": {
            k: dict(zip(("buy_factor", "returning_share", "ad_ctr"), v, strict=True))
            for k, v in CHANNEL_BEHAVIOUR.items()
        },
        "pay_rate": PAY_RATE,
        "pay_rate_peak_day": PAY_RATE_PEAK,
        "refund_campaign_lift": 1.4,
        "buy_probability": "buy_rate_new_visitor[category] × buy_factor[channel] × cvr[day]",
    }


def _customers(world: World) -> dict:
    arrays = world.book.arrays()
    return {
        "model": "BG/NBD in operational time (intensity = demand**0.6, mean 1 over history)",
        "params": asdict(world.book.params),
        "count": len(arrays["first_purchase"]),
        "mean_lambda_per_day": float(arrays["lam"].mean()) if arrays["lam"].size else 0.0,
        "tiers": dict(zip(TIERS, TIER_MIN_PURCHASES, strict=True)),
    }


def _promotions(world: World) -> dict:
    rules = world.rules
    return {
        "tiers_fen": rules.tiers,
        "every_fen": rules.every,
        "coupons": [
            {"id": c[0], "threshold_fen": c[1], "discount_fen": c[2], "new_customer_only": c[3]}
            for c in rules.coupons
        ],
        "topup_window": TOPUP_WINDOW,
        "topup_probability": TOPUP_PROB,
        "extra_lines_mean": EXTRA_LINES,
        "coupon_use": COUPON_USE,
        "in_force": "campaign days, last year's campaign days and other promo days",
    }


def _skus(world: World, state) -> dict:
    from datetime import UTC, datetime

    ids = world.catalogue.sku_ids
    sold_out = {
        ids[k]: datetime.fromtimestamp(v / 1e6, UTC).isoformat()
        for k, v in sorted(state.stock.sold_out_at.items(), key=lambda kv: kv[1])
    }
    return {
        "hits": [ids[k] for k in np.flatnonzero(np.diff(world.catalogue.category, prepend=-1))],
        "campaign_stock": dict(zip(ids, world.listed_stock().tolist(), strict=True)),
        "sold_out_at": sold_out,
    }


def _totals(world: World, state, events: int) -> dict:
    """Sessions by the day they start; orders and money by the local day of their timestamp."""
    money = state.by_ts_day
    daily = [{**row, **{k: int(money[k][i]) for k in money}} for i, row in enumerate(state.daily)]
    by_label: dict[str, dict[str, int]] = {}
    for row in daily:
        slot = by_label.setdefault(
            row["label"],
            {
                "days": 0,
                "orders": 0,
                "gmv_fen": 0,
                "paid_gmv_fen": 0,
                "refund_fen": 0,
                "sessions": 0,
            },
        )
        slot["days"] += 1
        for key in ("orders", "gmv_fen", "paid_gmv_fen", "refund_fen", "sessions"):
            slot[key] += row[key]
    return {
        "events": events,
        "by_label": by_label,
        "daily": [{k: v for k, v in row.items() if k != "visits_by_channel"} for row in daily],
    }
