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
