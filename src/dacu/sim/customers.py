"""Customers with repeat buying (BG/NBD): Poisson purchases while alive, geometric drop-out.

Each customer draws a purchase rate λ ~ Gamma(r, scale=1/α) (per day) and a drop-out probability
p ~ Beta(a, b). Born at a first purchase, she then repeats at Poisson(λ) times; after each repeat
purchase she leaves for good with probability p (Fader, Hardie & Lee 2005, the generator of
`lifetimes.generate_data.beta_geometric_nbd_model`). Time runs in *operational days*: on a
campaign day one calendar day counts as several (`intensity`), so promotions pull purchases
forward without changing λ; an average history day has intensity 1.

Region, device and favourite category are fixed per customer (a hash of the id).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DAY_US = 86_400 * 1_000_000
REGIONS = (
    "广东",
    "浙江",
    "江苏",
    "上海",
    "北京",
    "山东",
    "四川",
    "河南",
    "湖北",
    "福建",
    "湖南",
    "其他",
)
REGION_P = np.array([14, 10, 10, 7, 6, 7, 6, 6, 5, 5, 4, 20], dtype=float) / 100
DEVICES = ("android", "ios", "mini_program", "pc")
DEVICE_P = np.array([0.46, 0.40, 0.08, 0.06])
TIERS = ("member", "silver", "gold", "platinum")  # 普通会员 / 银卡 / 金卡 / 铂金
TIER_MIN_PURCHASES = (1, 2, 4, 8)


@dataclass(frozen=True)
class BGNBDParams:
    r: float = 0.55
    alpha: float = 55.0  # mean λ = r/α ≈ 0.01 purchases a day
    a: float = 0.9
    b: float = 4.0  # mean p = a/(a+b) ≈ 0.18


def hashed_choice(ids: np.ndarray, probs: np.ndarray, salt: int) -> np.ndarray:
    """A stable pseudo-random choice per id (same id → same region/device), vectorised."""
    mixed = (ids.astype(np.uint64) * np.uint64(2654435761) + np.uint64(salt * 97531)) % np.uint64(
        2**32
    )
    u = mixed.astype(np.float64) / 2**32
    return np.searchsorted(np.cumsum(probs), u, side="right").clip(0, len(probs) - 1)


class OperationalClock:
    """Maps calendar µs ↔ operational days (intensity-weighted), slope 1 outside the window."""

    def __init__(self, day_starts_us: np.ndarray, intensity: np.ndarray) -> None:
        self.edges = np.append(day_starts_us, day_starts_us[-1] + DAY_US).astype(np.float64)
        self.cum = np.concatenate([[0.0], np.cumsum(intensity)])

    def tau(self, t_us: np.ndarray) -> np.ndarray:
        t = np.asarray(t_us, dtype=np.float64)
        inside = np.interp(t, self.edges, self.cum)
        before = (t - self.edges[0]) / DAY_US
        after = self.cum[-1] + (t - self.edges[-1]) / DAY_US
        return np.where(t < self.edges[0], before, np.where(t > self.edges[-1], after, inside))

    def time(self, tau: np.ndarray) -> np.ndarray:
        tau = np.asarray(tau, dtype=np.float64)
        inside = np.interp(tau, self.cum, self.edges)
        before = self.edges[0] + tau * DAY_US
        after = self.edges[-1] + (tau - self.cum[-1]) * DAY_US
        return np.where(tau < 0, before, np.where(tau > self.cum[-1], after, inside)).astype(
            np.int64
        )


@dataclass
class CustomerBook:
    """All customers born so far, and their scheduled repeat purchases bucketed by day."""

    params: BGNBDParams
    clock: OperationalClock
    day_starts: np.ndarray
    first_purchase: list[np.ndarray] = field(default_factory=list)
    lam: list[np.ndarray] = field(default_factory=list)
    drop: list[np.ndarray] = field(default_factory=list)
    prior: list[np.ndarray] = field(default_factory=list)  # purchases before the window
    count: int = 0
    pending: dict[int, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    genuine: list[np.ndarray] = field(default_factory=list)  # ids of real (non-fraud) customers
    device: list[np.ndarray] = field(default_factory=list)  # fixed per customer
    region: list[np.ndarray] = field(default_factory=list)
    _genuine_cache: np.ndarray | None = None
    _profile_cache: tuple[np.ndarray, np.ndarray] | None = None

    def profile(self) -> tuple[np.ndarray, np.ndarray]:
        """(device, region) code of every customer id so far."""
        if self._profile_cache is None or len(self._profile_cache[0]) != self.count:
            empty = np.zeros(0, np.int64)
            self._profile_cache = (
                np.concatenate(self.device) if self.device else empty,
                np.concatenate(self.region) if self.region else empty,
            )
        return self._profile_cache

    def _keep_profile(
        self, ids: np.ndarray, device: np.ndarray | None, region: np.ndarray | None
    ) -> None:
        """New customers keep the device and region of the visit that made them customers."""
        key = ids * 2 + 1
        self.device.append(device if device is not None else hashed_choice(key, DEVICE_P, 1))
        self.region.append(region if region is not None else hashed_choice(key, REGION_P, 2))

    def genuine_ids(self) -> np.ndarray:
        """Ids of real customers (bots and brushing accounts excluded), for browsing sessions."""
        if self._genuine_cache is None:
            self._genuine_cache = (
                np.concatenate(self.genuine) if self.genuine else np.zeros(0, np.int64)
            )
        return self._genuine_cache

    def add(
        self,
        birth_us: np.ndarray,
        rng: np.random.Generator,
        *,
        prior_ok: bool = False,
        device: np.ndarray | None = None,
        region: np.ndarray | None = None,
    ) -> np.ndarray:
        """Register customers born at `birth_us`; schedule their repeat purchases. Returns ids."""
        n = len(birth_us)
        if n == 0:
            return np.zeros(0, np.int64)
        ids = np.arange(self.count, self.count + n, dtype=np.int64)
        self.count += n
        lam = rng.gamma(self.params.r, 1.0 / self.params.alpha, n)
        drop = rng.beta(self.params.a, self.params.b, n)
        times, owners = self._schedule(birth_us, lam, drop, rng)
        early = times < self.day_starts[0]
        prior = np.bincount(owners[early] - ids[0], minlength=n) if prior_ok else np.zeros(n, int)
        self.first_purchase.append(birth_us.astype(np.int64))
        self.lam.append(lam)
        self.drop.append(drop)
        self.prior.append(prior)
        self._bucket(times[~early], owners[~early])
        self._keep_profile(ids, device, region)
        self.genuine.append(ids)
        self._genuine_cache = None
        return ids

    def register(
        self,
        birth_us: np.ndarray,
        device: np.ndarray | None = None,
        region: np.ndarray | None = None,
    ) -> np.ndarray:
        """Accounts that buy once and never again (bots, brushing rings): no schedule."""
        n = len(birth_us)
        ids = np.arange(self.count, self.count + n, dtype=np.int64)
        self.count += n
        self._keep_profile(ids, device, region)
        self.first_purchase.append(birth_us.astype(np.int64))
        self.lam.append(np.zeros(n))
        self.drop.append(np.ones(n))
        self.prior.append(np.zeros(n, int))
        return ids

    def _schedule(
        self, birth_us: np.ndarray, lam: np.ndarray, drop: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        tau0 = self.clock.tau(birth_us)
        horizon = self.clock.cum[-1] - tau0
        cap = np.ceil(lam * np.maximum(horizon, 0) * 3 + 5).astype(np.int64)
        repeats = np.minimum(rng.geometric(np.clip(drop, 1e-6, 1)), cap)
        owner = np.repeat(np.arange(len(birth_us)), repeats)
        # A gap past the horizon ends the customer's purchases in the window either way; capping
        # it keeps the running sum small, so each customer's times (running sum − her offset)
        # keep their precision: uncapped, the 1/λ tail pushed the sum past 1e15 days at scale 32
        # and rounded repeat purchases into a few hours of the day.
        gaps = np.minimum(
            rng.exponential(1.0, len(owner)) / lam[owner], np.maximum(horizon, 0)[owner] + 1.0
        )
        csum = np.cumsum(gaps)
        starts = np.concatenate([[0], np.cumsum(repeats)[:-1]])
        offset = np.repeat(csum[starts - 1] * (starts > 0), repeats) if len(owner) else csum
        tau = tau0[owner] + csum - offset
        keep = tau < self.clock.cum[-1]
        first_id = self.count - len(birth_us)
        return self.clock.time(tau[keep]), owner[keep] + first_id

    def _bucket(self, times: np.ndarray, owners: np.ndarray) -> None:
        if not len(times):
            return
        day = np.searchsorted(self.day_starts, times, side="right") - 1
        order = np.argsort(day, kind="stable")
        day, times, owners = day[order], times[order], owners[order]
        keys, starts = np.unique(day, return_index=True)
        for key, part_t, part_o in zip(
            keys, np.split(times, starts[1:]), np.split(owners, starts[1:]), strict=True
        ):
            self.pending.setdefault(int(key), []).append((part_t, part_o))

    def purchases_on(self, day_index: int) -> tuple[np.ndarray, np.ndarray]:
        """(times µs, customer ids) of the repeat purchases scheduled on that day (removed)."""
        parts = self.pending.pop(day_index, [])
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))

    def arrays(self) -> dict[str, np.ndarray]:
        cat = np.concatenate
        empty = np.zeros(0)
        return {
            "first_purchase": cat(self.first_purchase) if self.first_purchase else empty,
            "lam": cat(self.lam) if self.lam else empty,
            "drop": cat(self.drop) if self.drop else empty,
            "prior": cat(self.prior) if self.prior else empty,
        }


def tier_of(purchases: np.ndarray) -> np.ndarray:
    """Member tier index from the number of purchases before the campaign."""
    return np.searchsorted(np.array(TIER_MIN_PURCHASES), np.maximum(purchases, 1), side="right") - 1
