"""Coupons and flash sales under load (领券/核销/秒杀) with guards (风控) and an audit trail.

    from dacu.flash import open_store, load_flash, Who
    store = open_store("sqlite:///flash.db", load_flash(campaign))
    outcome = store.reserve("lipstick-2000", Who("c1", device="d1", ip="10.0.0.7"), key="req-1")
    outcome.ok, outcome.reason, outcome.message_zh   # True, Reason.OK, '成功'

Backends: `sqlite:///path` (default, env DACU_STORE) and `redis://host:port/db`.
"""

from dacu.flash.guards import Who
from dacu.flash.loading import load_flash
from dacu.flash.models import CouponTemplate, FlashConfig, FlashSale, FlashSession, Guards
from dacu.flash.open import DEFAULT_STORE_URL, open_store
from dacu.flash.reasons import MESSAGES, Outcome, Reason
from dacu.flash.store import AuditEntry, CouponCounts, FlashStore, StockCounts

__all__ = [
    "DEFAULT_STORE_URL",
    "MESSAGES",
    "AuditEntry",
    "CouponCounts",
    "CouponTemplate",
    "FlashConfig",
    "FlashSale",
    "FlashSession",
    "FlashStore",
    "Guards",
    "Outcome",
    "Reason",
    "StockCounts",
    "Who",
    "load_flash",
    "open_store",
]
