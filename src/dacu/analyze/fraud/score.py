"""Abuse and fraud scoring (风控: 刷单 order brushing, 羊毛党 coupon farming, 黄牛 scalpers).

Input: the per-customer features of `dacu.analyze.fraud.features.customer_features` (a pandas
frame, one row per buyer), optional links between accounts (device, IP, address, identical basket)
and the flash-sale SKUs. Output: every customer with its points, the rules it broke (Chinese and
English reasons an operator can read), an unsupervised anomaly score (scikit-learn
IsolationForest) and the size of its linked-account cluster. A customer is flagged when its
points reach `Thresholds.flag_points`. Flagged accounts go to the flash guards' blocklist only on
an operator's approval (`approve`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dacu.analyze.fraud.graph import link_clusters

if TYPE_CHECKING:
    from dacu.flash.store import FlashStore

DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class Thresholds:
    """The numbers behind the rules; seconds, counts, points."""

    instant_account_seconds: float = 60.0  # first order this soon after the first visit
    history_seconds: float = DAY_SECONDS  # … judged only with this much of the log before it
    fast_pay_seconds: float = 30.0  # mean order→pay time of a script
    basket_peers: int = 5  # accounts with the same SKU, amount, hour, region and device
    basket_alpha: float = 0.01  # … far more than chance gives, over all the window's baskets
    link_alpha: float = 0.01  # a basket shared beyond chance (each alone) links its accounts
    cluster_size: int = 5  # accounts linked by device/IP/address/basket
    refund_share: float = 0.5  # refunds per order, with at least 2 refunds
    anomaly_share: float = 0.01  # top share of isolation-forest scores counted as anomalous
    flag_points: int = 3


@dataclass(frozen=True)
class Rule:
    id: str
    points: int
    zh: str
    en: str
    test: Callable[[pd.DataFrame, Thresholds], np.ndarray]


def _col(f: pd.DataFrame, name: str, default: float = 0.0) -> np.ndarray:
    return (
        f[name].to_numpy(dtype=float, na_value=default) if name in f else np.full(len(f), default)
    )


def _new_flash_only(f: pd.DataFrame) -> np.ndarray:
    """A day-old account that bought only the flash-sale SKU."""
    return (_col(f, "flash_only") > 0) & (_col(f, "account_age_seconds", np.inf) < DAY_SECONDS)


RULES: tuple[Rule, ...] = (
    Rule(
        "no_browse",
        2,
        "下单前无浏览",
        "orders but never browsed (no view, no cart)",
        lambda f, t: (
            (_col(f, "orders_no_browse") >= 1) & (_col(f, "views") == 0) & (_col(f, "carts") == 0)
        ),
    ),
    Rule(  # one point: new to the shop is a weak sign (a flash sale is there to win new buyers)
        "instant_account",
        1,
        "新号即下单",
        "first order within a minute of the first visit",
        lambda f, t: (
            (_col(f, "account_age_seconds", np.inf) < t.instant_account_seconds)
            & (_col(f, "observed_seconds", np.inf) >= t.history_seconds)
            & ~_new_flash_only(f)  # 新号只买秒杀品 has counted its newness
        ),
    ),
    Rule(
        "fast_pay",
        1,
        "秒付",
        "pays within seconds of ordering",
        # a flash sale's checkout is a race every buyer of it runs (a quarter of the simulator's
        # flash buyers pay within 33 s): no sign of a script there
        lambda f, t: (
            (_col(f, "mean_pay_seconds", np.inf) < t.fast_pay_seconds)
            & (_col(f, "flash_only") == 0)
        ),
    ),
    Rule(
        "identical_basket",
        2,
        "同款同价同时段多账户",
        "same basket as many accounts in the hour",
        lambda f, t: unusual_baskets(
            _col(f, "basket_peers"), _col(f, "basket_expected"), _col(f, "baskets"), t
        ),
    ),
    Rule(
        "single_sku_repeat",
        1,
        "单品反复下单",
        "orders one SKU again and again",
        lambda f, t: (_col(f, "distinct_skus") == 1) & (_col(f, "top_sku_orders") >= 2),
    ),
    Rule(
        "never_cart",
        1,
        "浏览后从不加购直接下单",
        "views, then orders, never a cart",
        lambda f, t: (_col(f, "carts") == 0) & (_col(f, "views") >= 1) & (_col(f, "orders") >= 1),
    ),
    Rule(
        "refund_heavy",
        1,
        "频繁退款",
        "refunds half of its orders or more",
        lambda f, t: (
            (_col(f, "refunds") >= 2) & (_col(f, "refunds") >= t.refund_share * _col(f, "orders"))
        ),
    ),
    # a new account racing to a flash-sale SKU is what a flash sale is for, so this is its one
    # point (新号即下单 and 秒付 are silent for it); a 黄牛 also shows a script (下单前无浏览), a
    # gang (关联账户团伙) or repeats (单品反复下单)
    Rule(
        "new_flash_only",
        1,
        "新号只买秒杀品",
        "new account buying only the flash-sale SKU",
        lambda f, t: _new_flash_only(f),
    ),
    Rule(
        "linked_cluster",
        1,
        "关联账户团伙",
        "linked to many accounts (device/IP/address)",
        lambda f, t: _col(f, "cluster_size", 1) >= t.cluster_size,
    ),
    Rule(
        "anomaly",
        1,
        "行为异常(孤立森林)",
        "unusual behaviour (isolation forest)",
        lambda f, t: _col(f, "anomaly") > 0,
    ),
)


def unusual_baskets(
    peers: np.ndarray, expected: np.ndarray, baskets: np.ndarray, t: Thresholds
) -> np.ndarray:
    """Baskets shared by at least `t.basket_peers` accounts and by more than chance explains:
    P(Poisson(expected) ≥ peers) below `t.basket_alpha` shared among the window's baskets
    (Bonferroni). On a peak day a bestseller sells hundreds an hour, and the five accounts of
    one province on one phone type sharing its basket are chance, not a ring."""
    from scipy.stats import poisson

    peers, expected = np.asarray(peers, dtype=float), np.asarray(expected, dtype=float)
    tested = np.maximum(np.asarray(baskets, dtype=float), 1.0)
    p = poisson.sf(peers - 1, np.maximum(expected, 1e-12))
    return (peers >= t.basket_peers) & (p < t.basket_alpha / tested)


def unusual_links(links: Any, t: Thresholds) -> list[tuple[str, str]]:
    """(user_id, link) pairs of a links table (`dacu.analyze.fraud.features.basket_links`, any
    frame or Arrow table with peers, expected and baskets) whose basket at least two accounts
    share beyond chance: P(Poisson(expected) ≥ peers) < `t.link_alpha`, each basket on its own.
    A link is a weaker claim than the rule's flag (it only joins accounts into a cluster, whose
    flagged members are a ring): a brushing ring spread over hours shares 2–4 accounts a basket,
    never the rule's five, and on a peak day chance sharers of bestsellers are not linked."""
    import pyarrow as pa

    table = links if isinstance(links, pa.Table) else pa.Table.from_pandas(links)
    if table.num_rows == 0:
        return []
    from scipy.stats import poisson

    peers = table["peers"].to_numpy(zero_copy_only=False).astype(float)
    expected = np.maximum(table["expected"].to_numpy(zero_copy_only=False), 1e-12)
    keep = (peers >= 2) & (poisson.sf(peers - 1, expected) < t.link_alpha)
    table = table.filter(pa.array(keep))
    return list(zip(table["user_id"].to_pylist(), table["link"].to_pylist(), strict=True))


MODEL_COLUMNS = (
    "orders",
    "paid_orders",
    "refunds",
    "views",
    "carts",
    "coupon_orders",
    "orders_no_browse",
    "distinct_skus",
    "top_sku_orders",
    "mean_pay_seconds",
    "account_age_seconds",
    "basket_peers",
)


def anomaly_scores(features: pd.DataFrame, *, seed: int = 0, fit_rows: int = 100_000) -> np.ndarray:
    """Isolation-forest anomaly score per row, higher = more unusual (≈ 0.3 ordinary … 0.8).

    Columns are log1p-transformed; missing pay times count as slow. The forest is fitted on at
    most `fit_rows` rows (a sample) and scores every row.
    """
    from sklearn.ensemble import IsolationForest

    if len(features) < 2:
        return np.zeros(len(features))
    x = np.column_stack(
        [np.log1p(np.clip(_col(features, c, DAY_SECONDS), 0, None)) for c in MODEL_COLUMNS]
    )
    rng = np.random.default_rng(seed)
    fit = x if len(x) <= fit_rows else x[rng.choice(len(x), fit_rows, replace=False)]
    forest = IsolationForest(n_estimators=100, random_state=seed).fit(fit)
    return -forest.score_samples(x)


@dataclass
class FraudResult:
    """`scores`: one row per customer (user_id, points, reasons_zh, reasons_en, anomaly_score,
    cluster_size, flagged, paid_fen, …); `clusters`: linked groups of flagged accounts."""

    scores: pd.DataFrame
    clusters: list[list[str]] = field(default_factory=list)

    @property
    def flagged(self) -> pd.DataFrame:
        return self.scores[self.scores.flagged].sort_values(
            ["points", "user_id"], ascending=[False, True]
        )


def score_customers(
    features: pd.DataFrame,
    *,
    links: Iterable[tuple[str, str]] = (),
    flash_skus: Sequence[str] = (),
    thresholds: Thresholds | None = None,
    seed: int = 0,
) -> FraudResult:
    """Rules + isolation forest + linked-account clusters → points, reasons and flags."""
    t = thresholds or Thresholds()
    f, clusters = _linked(features, links, flash_skus)
    f["anomaly_score"] = anomaly_scores(f, seed=seed)
    cut = np.quantile(f["anomaly_score"], 1 - t.anomaly_share) if len(f) else 0.0
    # the top share, and above the typical score: in a handful of alike buyers none is unusual
    typical = np.median(f["anomaly_score"]) if len(f) else 0.0
    unusual = (f["anomaly_score"] >= cut) & (f["anomaly_score"] > typical)
    f["anomaly"] = unusual.astype(int) if len(f) > 1 else 0
    hits = _hits(f, t)
    f["points"] = (hits * np.array([r.points for r in RULES])).sum(axis=1).astype(int)
    f["reasons_zh"], f["reasons_en"] = _reasons(hits)
    f["flagged"] = f["points"] >= t.flag_points
    flagged = set(f.loc[f.flagged, "user_id"])
    groups = [g for g in clusters.groups(t.cluster_size) if flagged & set(g)]
    return FraudResult(f, groups)


def flag_candidates(
    features: pd.DataFrame,
    *,
    links: Iterable[tuple[str, str]] = (),
    flash_skus: Sequence[str] = (),
    thresholds: Thresholds | None = None,
) -> pd.DataFrame:
    """The rows `score_customers` may flag, found without the isolation forest: those whose other
    rules reach the flag less the anomaly rule's points. A watch that has already alerted every
    one of them can skip the forest, the costly part of a scoring."""
    t = thresholds or Thresholds()
    f, _ = _linked(features, links, flash_skus)
    f["anomaly"] = 0
    points = (_hits(f, t) * np.array([r.points for r in RULES])).sum(axis=1)
    anomaly_points = sum(r.points for r in RULES if r.id == "anomaly")
    return f[points >= t.flag_points - anomaly_points]


def _linked(
    features: pd.DataFrame, links: Iterable[tuple[str, str]], flash_skus: Sequence[str]
) -> tuple[pd.DataFrame, Any]:
    """The features with `flash_only` and `cluster_size`, and the account clusters."""
    f = features.reset_index(drop=True).copy()
    f["flash_only"] = (
        ((f["distinct_skus"] == 1) & f["top_sku"].isin(list(flash_skus))).astype(int)
        if len(flash_skus)
        else 0
    )
    clusters = link_clusters(f["user_id"].tolist(), links)
    f["cluster_size"] = clusters.size.astype(int) if len(f) else []
    return f, clusters


def _hits(f: pd.DataFrame, t: Thresholds) -> np.ndarray:
    return np.column_stack([r.test(f, t) for r in RULES]) if len(f) else np.zeros((0, len(RULES)))


def _reasons(hits: np.ndarray) -> tuple[list[str], list[str]]:
    """Reason texts per row, built once per distinct combination of rules (fast for 10⁶ rows)."""
    if not len(hits):
        return [], []
    masks = hits.astype(np.int64) @ (1 << np.arange(len(RULES), dtype=np.int64))
    codes, inverse = np.unique(masks, return_inverse=True)
    zh = ["、".join(r.zh for k, r in enumerate(RULES) if c >> k & 1) for c in codes]
    en = ["; ".join(r.en for k, r in enumerate(RULES) if c >> k & 1) for c in codes]
    return [zh[i] for i in inverse.ravel()], [en[i] for i in inverse.ravel()]


def flagged_devices(
    result: FraudResult, links: Iterable[tuple[str, str]], *, min_accounts: int = 2
) -> list[dict[str, Any]]:
    """Devices/IPs/addresses shared by at least `min_accounts` flagged customers."""
    flagged = set(result.flagged.user_id)
    seen: dict[str, set[str]] = {}
    for customer, link in links:
        if customer in flagged and not link.startswith("basket:"):
            seen.setdefault(link, set()).add(customer)
    rows = [
        {"subject": k, "accounts": len(v), "customers": sorted(v)}
        for k, v in seen.items()
        if len(v) >= min_accounts
    ]
    return sorted(rows, key=lambda r: (-r["accounts"], r["subject"]))


@dataclass(frozen=True)
class Evaluation:
    """Flags against ground truth: precision, recall, and what the false positives cost."""

    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    genuine_blocked: int
    genuine_blocked_gmv_fen: int  # paid GMV of the genuine customers that would be blocked
    genuine_customers: int


def evaluate(result: FraudResult, fraud_ids: Iterable[str]) -> Evaluation:
    truth = set(fraud_ids)
    s = result.scores
    flagged = set(s.loc[s.flagged, "user_id"])
    scored = set(s.user_id)
    tp = len(flagged & truth)
    fp_rows = s[s.flagged & ~s.user_id.isin(truth)]
    fn = len((truth & scored) - flagged)
    return Evaluation(
        tp,
        len(fp_rows),
        fn,
        tp / len(flagged) if flagged else 1.0,
        tp / (tp + fn) if tp + fn else 1.0,
        len(fp_rows),
        int(fp_rows["paid_fen"].sum()),
        int((~s.user_id.isin(truth)).sum()),
    )


def truth_fraud_ids(truth: dict[str, Any]) -> list[str]:
    """User ids of the simulator's injected bots and brushing rings (truth.json incidents)."""
    return sorted(
        {
            u
            for inc in truth.get("incidents", [])
            if inc.get("kind") in ("coupon_bot", "brushing")
            for u in inc["user_ids"]
        }
    )


def approve(
    store: FlashStore,
    customers: Iterable[str],
    *,
    devices: Iterable[str] = (),
    minutes: float | None = None,
) -> int:
    """Put approved customers (and devices) on the flash guards' blocklist; returns how many."""
    count = 0
    for customer in customers:
        store.block("customer", customer, minutes=minutes)
        count += 1
    for device in devices:
        store.block("device", device, minutes=minutes)
        count += 1
    return count
