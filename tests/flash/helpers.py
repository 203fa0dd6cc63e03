"""Building blocks of the flash tests: a campaign built in code, a settable clock, store URLs."""

from __future__ import annotations

import socket
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dacu.config import parse_campaign
from dacu.flash import FlashConfig, FlashStore, load_flash
from dacu.flash.redis_store import RedisStore

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-11-11 20:05 Asia/Shanghai: inside the 20:00 session of the test campaign.
T0 = datetime(2026, 11, 11, 20, 5, tzinfo=SHANGHAI).timestamp()
REDIS_URL = "redis://127.0.0.1:6379/0"

CAMPAIGN = """
id: flash-test
name: 秒杀测试
store: 测试店
phases:
  - {name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}
coupons:
  - {id: c20, name: 满199减20, threshold: 199, discount: 20, quantity: QTY, per_customer: PER}
  - {id: new30, name: 新客立减30, discount: 30, quantity: 100, new_customer_only: true}
  - {id: short, name: 限时券, discount: 5, quantity: 10, valid_to: 2026-11-11 21:00}
flash_sales:
  - id: lipstick
    name: 口红秒杀
    sku_id: SKU-1
    price: 99
    per_customer: LIMIT
    hold_minutes: 15
    sessions:
      - {start: 2026-11-11 20:00, end: 2026-11-11 20:30, stock: STOCK}
      - {start: 2026-11-11 22:00, end: 2026-11-11 22:30, stock: 5}
guards:
  rate_per_customer_per_minute: RATE
  rate_per_device_per_minute: 0
  rate_per_ip_per_minute: 0
  failed_redemptions_to_block: 5
  failed_window_minutes: 10
  block_minutes: 30
  blocklist: {customers: [bad-guy], devices: [emulator-1]}
"""


def make_config(
    *,
    stock: int = 100,
    coupons: int = 1000,
    per_customer: int = 1,
    coupon_limit: int = 1,
    rate: int = 10,
) -> FlashConfig:
    text = (
        CAMPAIGN.replace("QTY", str(coupons))
        .replace("PER", str(coupon_limit))
        .replace("LIMIT", str(per_customer))
        .replace("STOCK", str(stock))
        .replace("RATE", str(rate))
    )
    return load_flash(parse_campaign(text, source="flash-test.yaml"))


class Clock:
    """A clock the test moves by hand (seconds since the epoch)."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta).total_seconds()


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def unique_prefix() -> str:
    return f"dacu-test-{uuid.uuid4().hex[:10]}"


def store_url(backend: str, tmp_path, prefix: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'flash.db'}"
    split = "&cluster=1" if backend == "redis-split" else ""
    return f"{REDIS_URL}?prefix={prefix}{split}"


def cleanup(store: FlashStore) -> None:
    if isinstance(store, RedisStore):
        store.delete_all()
    store.close()


def later(clock: Clock, when: datetime) -> None:
    clock.now = when.timestamp()
