"""Flash sales (秒杀) of the campaign file: a rush of members on one SKU at a low price.

For each `flash_sales` entry (sku_id, price in yuan, stock, start, end): about three members
try per unit of (scaled) flash stock, most in the first minute; each views the SKU, clicks buy
(cart), and the first ones get an order at the flash price until the flash stock is gone (it is
separate from the SKU's regular stock); 95 % pay within two minutes. Results are in truth.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from dacu.config import Campaign
from dacu.errors import ConfigError
from dacu.money import parse_fen
from dacu.sim.blocks import EV, Blocks
from dacu.sim.sessions import Sessions, merge

TRIES_PER_UNIT = 3.0
RUSH_US = 30e6  # mean seconds after the start at which members arrive
FLASH_PAY_RATE = 0.95


@dataclass
class FlashSale:
    id: str
    sku: int
    price_fen: int
    stock: int  # scaled to the simulated store
    start_us: int
    end_us: int
    left: int = 0
    sold_out_at: int | None = None
    tries: int = 0
    order_ids: list[str] | None = None

    def truth(self, sku_ids: list[str]) -> dict:
        from datetime import UTC

        def iso(us: int | None) -> str | None:
            return None if us is None else datetime.fromtimestamp(us / 1e6, UTC).isoformat()

        return {
            "id": self.id,
            "sku": sku_ids[self.sku],
            "price_fen": self.price_fen,
            "stock": self.stock,
            "sold": self.stock - self.left,
            "tries": self.tries,
            "start": iso(self.start_us),
            "end": iso(self.end_us),
            "sold_out_at": iso(self.sold_out_at),
            "order_ids": self.order_ids or [],
        }


def _moment(value, campaign: Campaign, where: str) -> int:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{where}: expected a time like 2026-11-11 20:00") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=campaign.tz)
    return int(moment.timestamp() * 1_000_000)


def read_flash_sales(campaign: Campaign, sku_ids: list[str], fraction: float) -> list[FlashSale]:
    """The file's flash sales on SKUs of the simulated catalogue (others are skipped)."""
    out = []
    for index, item in enumerate(campaign.flash_sales):
        where = f"flash_sales[{index}] (id {item.get('id', '?')})"
        if item.get("sku_id") not in sku_ids:
            continue
        try:
            price = parse_fen(item["price"])
            stock = max(5, round(int(item["stock"]) * fraction))
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"{where}: needs price (yuan) and stock (units)") from exc
        out.append(
            FlashSale(
                str(item.get("id", f"flash-{index}")),
                sku_ids.index(item["sku_id"]),
                price,
                stock,
                _moment(item.get("start"), campaign, f"{where}.start"),
                _moment(item.get("end"), campaign, f"{where}.end"),
                left=stock,
            )
        )
    return out


def flash_sessions(
    world,
    bounds: tuple[int, int],
    state,
    s: Sessions,
    uflag: np.ndarray,
    uid: np.ndarray,
    rng: np.random.Generator,
    blocks: Blocks,
):
    """Append the flash-sale rush of the flash sales that start inside `bounds`."""
    parts, flags, uids = [s], [uflag], [uid]
    known = world.book.genuine_ids()
    for sale in world.flash_sales:
        if not (bounds[0] <= sale.start_us < bounds[1]) or not len(known):
            continue
        offset = sum(len(p) for p in parts)
        new = _rush(world, sale, state, known, offset, rng, blocks)
        parts.append(new)
        flags.append(np.ones(len(new), np.int64))
        uids.append(new.uid)
    if len(parts) == 1:
        return s, uflag, uid
    return merge(parts), np.concatenate(flags), np.concatenate(uids)


def _rush(
    world,
    sale: FlashSale,
    state,
    known: np.ndarray,
    offset: int,
    rng: np.random.Generator,
    blocks: Blocks,
) -> Sessions:
    n = min(len(known), int(sale.stock * TRIES_PER_UNIT))
    who = rng.choice(known, n, replace=False)  # one try per member (per_customer limit)
    arrive = sale.start_us + np.minimum(
        rng.exponential(RUSH_US, n), sale.end_us - sale.start_us - 60e6
    ).astype(np.int64)
    buy_ts = np.sort(arrive + rng.integers(1_000_000, 8_000_000, n))
    si = offset + np.arange(n)
    blocks.add(n, si=si, ts=arrive, event=EV["pv"], sku=sale.sku)
    blocks.add(n, si=si, ts=buy_ts, event=EV["cart"], sku=sale.sku, qty=1)
    won = np.arange(n) < sale.left
    k = int(won.sum())
    order_id = state.next_order + np.arange(k)
    state.next_order += k
    common = {"si": si[won], "sku": sale.sku, "qty": 1, "amount": sale.price_fen, "order": order_id}
    blocks.add(k, ts=buy_ts[won] + 500_000, event=EV["order"], **common)
    paid = rng.random(k) < FLASH_PAY_RATE
    pay_ts = buy_ts[won] + rng.integers(5_000_000, 120_000_000, k)
    blocks.add(
        int(paid.sum()),
        ts=pay_ts[paid],
        event=EV["pay"],
        **{key: (v[paid] if isinstance(v, np.ndarray) else v) for key, v in common.items()},
    )
    sale.tries += n
    sale.order_ids = (sale.order_ids or []) + [f"o{i}" for i in order_id]
    sale.left -= k
    if sale.left == 0 and k < n:
        sale.sold_out_at = int(buy_ts[k])
    channel = max(world.channel_index("private"), 0)
    who = who.astype(np.int64)
    device, region = world.book.profile()
    return Sessions(
        arrive,
        np.full(n, channel),
        np.full(n, world.catalogue.category[sale.sku]),
        np.full(n, 1),
        who,
        buy_ts,
        device[who],
        region[who],
    )
