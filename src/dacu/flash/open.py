"""`open_store(url, config)`: pick the backend from a URL (or env DACU_STORE)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from dacu.errors import StoreError
from dacu.flash.models import FlashConfig
from dacu.flash.store import Clock, FlashStore

DEFAULT_STORE_URL = "sqlite:///dacu-flash.db"


def store_url(url: str | None = None) -> str:
    return url or os.environ.get("DACU_STORE") or DEFAULT_STORE_URL


def open_store(
    url: str | None, config: FlashConfig, *, clock: Clock | None = None, setup: bool = True
) -> FlashStore:
    """Open the coupon/flash-sale store and create what the campaign needs (never resets counts).

    `sqlite:///flash.db` (relative path), `sqlite:////var/lib/dacu/flash.db` (absolute),
    `redis://127.0.0.1:6379/0?prefix=dacu` (keys start with the prefix, default "dacu"; add
    `&cluster=1` behind a Redis Cluster proxy so guards and operations run as separate scripts,
    each on one hash slot).

    Parameters
    ----------
    url : str or None
        The store URL; None reads $DACU_STORE, else `sqlite:///dacu-flash.db`.
    config : FlashConfig
        The campaign's coupons, flash sales and guards (`load_flash(campaign)`).
    clock : callable, optional
        Seconds since the epoch (default `time.time`): sessions open and holds expire by it.
    setup : bool
        Create the tables / keys the campaign needs (counts already there are kept).

    Returns
    -------
    FlashStore
        `issue` / `redeem` coupons, `reserve` / `pay` / `release` flash-sale stock; every call
        returns an `Outcome` with a stable `Reason` and its Chinese message.

    Examples
    --------
    A flash sale of 2 lipsticks, one per customer, at 20:05 on the day:

    >>> import tempfile
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> from dacu.config import parse_campaign
    >>> from dacu.flash import Who, load_flash, open_store
    >>> campaign = parse_campaign('''
    ... id: flash-demo
    ... name: 秒杀演示
    ... store: 示例店
    ... phases: [{name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}]
    ... flash_sales:
    ...   - {id: lipstick, name: 口红秒杀, sku_id: SKU-1, price: 99, stock: 2, per_customer: 1,
    ...      start: 2026-11-11 20:00, end: 2026-11-11 20:30}
    ... ''')
    >>> at = datetime(2026, 11, 11, 20, 5, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    >>> url = f"sqlite:///{tempfile.mkdtemp()}/flash.db"
    >>> store = open_store(url, load_flash(campaign), clock=lambda: at)
    >>> [store.reserve("lipstick", Who(c), key=c).ok for c in ("c1", "c2", "c3")]
    [True, True, False]
    >>> refused = store.reserve("lipstick", Who("c4"), key="c4")
    >>> refused.reason, refused.message_zh
    (<Reason.SOLD_OUT: 'sold_out'>, '已抢光')
    >>> store.reserve("lipstick", Who("c1"), key="c1").replayed   # same key: same answer
    True
    >>> store.close()
    """
    url = store_url(url)
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        from dacu.flash.sqlite_store import SQLiteStore

        path = url.removeprefix("sqlite:///")
        if not path or path == url:
            raise StoreError(f"store URL {url!r}: expected sqlite:///path/to/flash.db")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        store: FlashStore = SQLiteStore(path, config, clock=clock)
    elif parts.scheme in ("redis", "rediss"):
        from dacu.flash.redis_store import RedisStore

        query = parse_qs(parts.query)
        prefix = query.get("prefix", ["dacu"])[0]
        cluster = query.get("cluster", ["0"])[0].lower() in ("1", "true", "yes")
        store = RedisStore(
            url.split("?", 1)[0], config, prefix=prefix, clock=clock, cluster=cluster
        )
    else:
        raise StoreError(
            f"store URL {url!r}: expected sqlite:///path or redis://host:port/db "
            "(set DACU_STORE or --store)"
        )
    if setup:
        store.setup()
    return store
