"""The SKU catalogue (商品): price, cost, stock, category, brand, and how popular each SKU is.

Within a category popularity follows a Zipf law, so SKU 001 of each category is its hit (爆款).
`stock` is what is available for the campaign window; during history the shop restocks and never
sells out. Stock is sized from expected campaign demand × a random factor, so a few hits sell out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dacu.config import Campaign
from dacu.events import SKU_SCHEMA

# Price range (yuan) and SKU count per category id; unknown categories get the "other" row.
CATEGORY_PRICES = {
    "skincare": (119, 599, 40),
    "makeup": (69, 299, 40),
    "fragrance": (259, 899, 16),
    "bodycare": (39, 159, 24),
    "other": (59, 399, 24),
}
CATEGORY_CODES = {"skincare": "SC", "makeup": "MK", "fragrance": "FR", "bodycare": "BC"}
BRANDS = ("澜序", "澜序 LAB", "澜序 Homme", "Aurora")
ZIPF_EXPONENT = 1.1


@dataclass(frozen=True)
class Catalogue:
    sku_ids: list[str]
    category: np.ndarray  # category index per SKU
    price_fen: np.ndarray
    cost_fen: np.ndarray
    brand: np.ndarray  # brand index
    weight: np.ndarray  # popularity within its category (sums to 1 per category)
    stock: np.ndarray  # units available for the campaign (filled in by `size_stock`)
    by_category: list[np.ndarray]  # SKU indices of each category
    price_order: np.ndarray  # SKU indices sorted by price (for 凑单 top-ups)

    @property
    def n(self) -> int:
        return len(self.sku_ids)


def _codes(category_ids: list[str]) -> list[str]:
    codes, used = [], set()
    for cid in category_ids:
        code = CATEGORY_CODES.get(cid) or cid[:2].upper()
        while code in used:
            code = code[0] + chr(ord(code[-1]) + 1)
        used.add(code)
        codes.append(code)
    return codes


def build_catalogue(campaign: Campaign, rng: np.random.Generator) -> Catalogue:
    category_ids = [c.id for c in campaign.categories] or ["other"]
    ids, cats, prices, weights = [], [], [], []
    for index, (cid, code) in enumerate(zip(category_ids, _codes(category_ids), strict=True)):
        low, high, count = CATEGORY_PRICES.get(cid, CATEGORY_PRICES["other"])
        # prices end in 9 as shops set them (¥129, ¥259 …), fen
        yuan = np.round(np.exp(rng.uniform(np.log(low), np.log(high), count)) / 10) * 10 - 1
        prices.append((np.maximum(yuan, 9) * 100).astype(np.int64))
        zipf = 1.0 / np.arange(1, count + 1) ** ZIPF_EXPONENT
        weights.append(zipf / zipf.sum())
        ids += [f"SKU-{code}-{k:03d}" for k in range(1, count + 1)]
        cats.append(np.full(count, index, dtype=np.int32))
    price = np.concatenate(prices)
    cost = (price * rng.uniform(0.25, 0.45, len(price))).astype(np.int64)
    category = np.concatenate(cats)
    return Catalogue(
        sku_ids=ids,
        category=category,
        price_fen=price,
        cost_fen=cost,
        brand=rng.choice(len(BRANDS), len(price), p=[0.6, 0.2, 0.1, 0.1]).astype(np.int32),
        weight=np.concatenate(weights),
        stock=np.zeros(len(price), dtype=np.int64),
        by_category=[np.flatnonzero(category == k) for k in range(len(category_ids))],
        price_order=np.argsort(price, kind="stable"),
    )


def size_stock(catalogue: Catalogue, expected_units: np.ndarray, rng: np.random.Generator) -> None:
    """Campaign stock = expected campaign units × U(1.5, 4), but × U(0.35, 1.0) for the top three
    SKUs of each category (their demand is overestimated by ≈ 1/3): many hits sell out, mostly
    on the burst day."""
    rank = np.concatenate([np.arange(len(idx)) for idx in catalogue.by_category])
    factor = np.where(
        rank < 3, rng.uniform(0.35, 1.0, catalogue.n), rng.uniform(1.5, 4.0, catalogue.n)
    )
    catalogue.stock[:] = np.maximum(10, np.ceil(expected_units * factor)).astype(np.int64)


def sku_table(
    catalogue: Catalogue, category_ids: list[str], stock: np.ndarray | None = None
) -> pa.Table:
    """skus.parquet; `stock` (default: the catalogue's) is what the shop lists per SKU."""
    names = [
        f"{BRANDS[b]} {category_ids[c]} {sid[-3:]}"
        for b, c, sid in zip(catalogue.brand, catalogue.category, catalogue.sku_ids, strict=True)
    ]
    return pa.table(
        {
            "sku_id": catalogue.sku_ids,
            "name": names,
            "category": [category_ids[c] for c in catalogue.category],
            "brand": [BRANDS[b] for b in catalogue.brand],
            "price_fen": catalogue.price_fen,
            "cost_fen": catalogue.cost_fen,
            "stock": catalogue.stock if stock is None else stock,
        },
        schema=SKU_SCHEMA,
    )
