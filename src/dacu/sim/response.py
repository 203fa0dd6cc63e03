"""How each channel's daily visits respond to spend: geometric adstock, then Hill saturation.

    A_d      = s_d + decay · A_{d-1}                  (carry-over per day)
    visits_d = v_max · A_d^s / (A_d^s + K^s)          (saturation, K = half-saturation spend)

The names are the planner's: the saturation is its own Hill curve,
`dacu.plan.response.hill(a, half_sat, slope)`, so truth.json's `half_sat_fen` is K (in fen) and
`slope` is s, and a fitted curve reads against this truth directly. `decay` is the geometric rate
of carry-over, the one `dacu.plan.response.geometric_adstock` takes (as `alpha`, pymc-marketing's
name); the planner's adstock is normalised and truncated, this one runs from the steady state of
the first day.

Spend and K are in fen of the simulated store (already × `store_fraction`), visits are expected
sessions per day; the realised sessions are Poisson around them. Non-paid channels are not
spend-driven: their visits follow the day's demand multiplier. These parameters are written to
truth.json (`channels`) so a fitted budget model can be checked against them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from dacu.config import Campaign, Channel
from dacu.plan.response import hill

# kind → (decay, slope, K as a multiple of the ordinary-day adstock, share of an ordinary day's
# visits)
PAID_KINDS = {
    "search_ads": (0.30, 1.2, 15.0, 0.22),
    "display_ads": (0.50, 1.5, 18.0, 0.10),
    "affiliate": (0.20, 1.1, 12.0, 0.06),
    "kol_live": (0.60, 1.8, 25.0, 0.05),
    "content": (0.70, 1.4, 20.0, 0.07),
}
FREE_SHARES = {
    "organic": 0.30,
    "direct": 0.12,
    "private": 0.08,
    "sms": 0.02,
    "email": 0.01,
    "push": 0.03,
    "other": 0.02,
}
# Share of a campaign channel budget spent in each phase (by days of the phase).
PHASE_SPEND = {"warmup": 0.40, "burst": 0.35, "wrapup": 0.10, "longtail": 0.15}
HISTORY_SPEND_RATIO = 0.35  # an ordinary day spends 35 % of an average campaign day
PROMO_SPEND_BOOST = 2.0  # history promo days (618, last year's campaign…)


@dataclass(frozen=True)
class ChannelModel:
    """One channel of the simulated store; visits per day in expectation."""

    id: str
    kind: str
    paid: bool
    share: float  # share of an ordinary day's visits
    decay: float = 0.0  # adstock carry-over per day
    slope: float = 1.0  # Hill exponent: `slope` of plan.response.hill
    half_sat_fen: float = 0.0  # half-saturation adstocked spend (fen per day): its `half_sat`
    vmax: float = 0.0  # visits per day at saturation

    def truth(self) -> dict:
        out = asdict(self)
        out["formula"] = (
            (
                "visits_d = vmax * A_d**slope / (A_d**slope + half_sat_fen**slope); "
                "A_d = spend_d + decay * A_(d-1)"
            )
            if self.paid
            else "visits_d ∝ demand_d"
        )
        return out


def adstock(spend: np.ndarray, decay: float) -> np.ndarray:
    """Geometric carry-over A_d = s_d + decay · A_{d−1}, started at the steady state of s_0."""
    out = np.empty(len(spend), dtype=float)
    carry = spend[0] * decay / (1 - decay) if len(spend) else 0.0
    for index, value in enumerate(spend):  # one value a day: a few hundred iterations
        carry = value + decay * carry
        out[index] = carry
    return out


def channel_kind(channel: Channel) -> str:
    if channel.is_paid and channel.kind not in PAID_KINDS:
        return "display_ads"
    return channel.kind


def daily_spend_plan(
    campaign: Campaign,
    channels: list[Channel],
    labels: list[str],
    fraction: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Spend (fen of the simulated store) per paid channel per day, with ±25 % day noise."""
    lines = {
        line.channel: line.amount
        for line in (campaign.budget.lines if campaign.budget else [])
        if line.channel
    }
    phase_days = {p: max(1, labels.count(p)) for p in PHASE_SPEND}
    out = {}
    for channel in channels:
        if not channel.is_paid:
            continue
        budget = lines.get(channel.id, 200_000 * 100) * fraction
        per_day = budget / max(1, sum(labels.count(p) for p in PHASE_SPEND))
        days = np.empty(len(labels))
        for index, label in enumerate(labels):
            phase = label.split(":")[-1]
            if label in PHASE_SPEND:
                days[index] = budget * PHASE_SPEND[label] / phase_days[label]
            elif label.startswith("last_year") and phase in PHASE_SPEND:
                days[index] = 0.8 * budget * PHASE_SPEND[phase] / phase_days[phase]
            elif label != "history" and not label.endswith("预热"):
                days[index] = per_day * HISTORY_SPEND_RATIO * PROMO_SPEND_BOOST
            else:
                days[index] = per_day * HISTORY_SPEND_RATIO
        out[channel.id] = days * rng.uniform(0.75, 1.25, len(days))
    return out


def build_channels(
    campaign: Campaign, spend: dict[str, np.ndarray], ordinary_visits: float, history_days: int
) -> list[ChannelModel]:
    """Channel models sized so an ordinary day has `ordinary_visits` sessions in total."""
    channels = campaign.channels or [Channel(id="organic", kind="organic")]
    kinds = [channel_kind(c) for c in channels]
    shares = np.array(
        [
            PAID_KINDS[k][3] if c.is_paid else FREE_SHARES.get(k, 0.02)
            for c, k in zip(channels, kinds, strict=True)
        ]
    )
    shares = shares / shares.sum()
    out = []
    for channel, kind, share in zip(channels, kinds, shares, strict=True):
        if not channel.is_paid:
            out.append(ChannelModel(channel.id, kind, False, float(share)))
            continue
        decay, slope, k_mult, _ = PAID_KINDS[kind]
        ordinary = float(np.median(adstock(spend[channel.id], decay)[: max(1, history_days)]))
        half_sat = k_mult * ordinary
        vmax = share * ordinary_visits / float(hill(ordinary, half_sat=half_sat, slope=slope))
        out.append(ChannelModel(channel.id, kind, True, float(share), decay, slope, half_sat, vmax))
    return out


def expected_paid_visits(model: ChannelModel, spend: np.ndarray) -> np.ndarray:
    visits = hill(adstock(spend, model.decay), half_sat=model.half_sat_fen, slope=model.slope)
    return model.vmax * visits
