"""What the parts of the live monitor read of it: the attributes `LiveMonitor.__init__` sets and
the methods it (or another part) defines. `RuleReading`, `CauseFinding` and `StockWatching` are
mixins of `LiveMonitor`; deriving from `LiveHost` declares what they use, so each part is
type-checked on its own. Declarations only: nothing here exists at run time but the class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dacu.config import Campaign
    from dacu.monitor.ads import AdLedger
    from dacu.monitor.pacing import Plan
    from dacu.monitor.store import RollupStore


class LiveHost:
    """The monitor as its mixins see it (set in `LiveMonitor.__init__`)."""

    campaign: Campaign
    plan: Plan | None
    skus: list[Mapping[str, Any]]
    store: RollupStore
    now: datetime | None  # the event clock's latest tick
    ads: AdLedger
    pay_grace: timedelta
    stock_counting: str  # the event that takes a unit from stock: "order" or "pay"
    flash_audit: Callable[[], list[Any]] | None
    stalls: dict[str, dict[str, Any]]
    _memo: dict[Any, Any] | None  # readings of the current tick (None outside a tick)
    _spreads: dict[Any, Any]

    if TYPE_CHECKING:  # defined by LiveMonitor and StockWatching

        def spend_between(self, start: int, end: int, channel: str | None = None) -> int: ...

        def _live(self) -> int | None: ...

        def _bump(self) -> None: ...

        def stock(self, top: int = 100) -> list[Any]: ...

        def sold_out_now(self) -> set[str]: ...

        def skus_now(self) -> list[dict[str, Any]]: ...

        def sku_category(self, sku_id: str) -> str | None: ...

        def _window(self, rule: Any, now: datetime) -> tuple[datetime, datetime] | None: ...

        def _kpis(self, dim: str | None, key: str, start: datetime, end: datetime) -> Any: ...

        @property
        def _flash_openings(self) -> tuple[datetime, ...]: ...

        @property
        def _campaign_flash_sales(self) -> tuple[Any, ...]: ...
