"""Settings of the web app, read once from the environment (or given to `create_app`).

| variable | default | meaning |
|---|---|---|
| `DACU_DB` | `sqlite:///dacu-meta.sqlite` | metadata database (PostgreSQL: `postgresql://user@host/db`) |
| `DACU_COOKIE_SECURE` | `1` | session cookie only over HTTPS (`dacu serve` on loopback turns it off) |
| `DACU_MAX_BODY` | `1048576` | largest request body in bytes (collector: `DACU_MAX_EVENTS_BODY`, 16 MiB) |
| `DACU_MAX_JSON_DEPTH` | `32` | deepest nesting of arrays/objects in a JSON body (422 beyond) |
| `DACU_RATE_LIMIT` | `6000` | requests per minute per API key (or client address) on shop/collector APIs |
| `DACU_LOGIN_LIMIT` | `10` | login attempts per minute per client address |
| `DACU_LOGIN_ACCOUNT_LIMIT` | `5` | login attempts per minute per account name, from any address |
| `DACU_TRUSTED_PROXIES` | see `dacu serve` | proxies whose `X-Forwarded-For` names the client |
| `DACU_CORS_ORIGINS` | empty | comma-separated origins allowed to call the API from a browser (closed by default) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


@dataclass(frozen=True)
class Settings:
    db_url: str | None = None
    cookie_secure: bool = True
    session_max_age: int = 12 * 3600  # seconds
    max_body: int = 1 << 20  # bytes
    max_events_body: int = 16 << 20  # bytes, the collector's batches
    max_json_depth: int = 32  # nested arrays/objects in a request body
    rate_limit: int = 6000  # requests per minute per key or client, on public APIs
    login_limit: int = 10  # login attempts per minute per client address
    login_account_limit: int = 5  # login attempts per minute per account name (any address)
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> Settings:
        origins = tuple(
            o.strip() for o in os.environ.get("DACU_CORS_ORIGINS", "").split(",") if o.strip()
        )
        return cls(
            db_url=os.environ.get("DACU_DB") or None,
            cookie_secure=_env_bool("DACU_COOKIE_SECURE", True),
            max_body=_env_int("DACU_MAX_BODY", 1 << 20),
            max_events_body=_env_int("DACU_MAX_EVENTS_BODY", 16 << 20),
            max_json_depth=_env_int("DACU_MAX_JSON_DEPTH", 32),
            rate_limit=_env_int("DACU_RATE_LIMIT", 6000),
            login_limit=_env_int("DACU_LOGIN_LIMIT", 10),
            login_account_limit=_env_int("DACU_LOGIN_ACCOUNT_LIMIT", 5),
            cors_origins=origins,
        )
