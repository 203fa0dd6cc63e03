"""One store interface for coupons and flash-sale stock; backends implement the state changes.

`FlashStore` does what is the same for every backend — unknown ids, quantity checks, picking the
open session of a sale — and delegates each check-and-change to the backend, which makes it atomic
(one SQLite `BEGIN IMMEDIATE` transaction, or one Redis Lua script). Every write takes an
idempotency `key`: a retry with the same key returns the stored answer (`replayed=True`) and
changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from dacu.flash.guards import Who
from dacu.flash.models import FlashConfig, FlashSale
from dacu.flash.reasons import Outcome, Reason, refused

Clock = Callable[[], float]


@dataclass(frozen=True)
class CouponCounts:
    """Counts of one coupon template. Invariant: issued = held + redeemed + expired."""

    template: str
    quantity: int
    issued: int
    held: int
    redeemed: int
    expired: int

    @property
    def remaining(self) -> int:
        return self.quantity - self.issued

    @property
    def consistent(self) -> bool:
        return (
            self.issued == self.held + self.redeemed + self.expired
            and 0 <= self.issued <= self.quantity
        )


@dataclass(frozen=True)
class StockCounts:
    """Stock of one flash-sale session. Invariant: stock = sold + reserved + available."""

    sale: str
    session: str
    stock: int
    sold: int
    reserved: int
    available: int

    @property
    def consistent(self) -> bool:
        return (
            self.stock == self.sold + self.reserved + self.available
            and min(self.sold, self.reserved, self.available) >= 0
        )


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit trail: who did what, when, from where, and how it ended."""

    ts_ms: int
    op: str
    target: str
    customer: str | None
    device: str | None
    ip: str | None
    outcome: str
    ref: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def coupon_tally(template_id: str, quantity: int, by_state: dict[str, int]) -> CouponCounts:
    """Counts from the number of coupons in each state."""
    held, redeemed, expired = (by_state.get(k, 0) for k in ("held", "redeemed", "expired"))
    return CouponCounts(template_id, quantity, held + redeemed + expired, held, redeemed, expired)


def stock_tally(sale_id: str, session_id: str, stock: int, units: dict[str, int]) -> StockCounts:
    """Counts from units per reservation state: sold = confirmed, reserved = held."""
    sold, reserved = units.get("confirmed", 0), units.get("held", 0)
    return StockCounts(sale_id, session_id, stock, sold, reserved, stock - sold - reserved)


def split_ref(ref: str) -> tuple[str, str] | None:
    """'store-coupon-20#17' → ('store-coupon-20', '17'); ids carry their template or sale."""
    owner, sep, number = ref.rpartition("#")
    return (owner, number) if sep and owner and number else None


TAG_CHARS = 24  # hex characters of a reservation id's seal (96 bits)


class FlashStore(ABC):
    """Coupons (claim, redeem, release, expire) and flash sales (reserve, confirm, cancel)."""

    def __init__(self, config: FlashConfig, *, clock: Clock = time.time) -> None:
        self.config = config
        self.clock = clock
        self._sales = {sale.id: sale for sale in config.sales}
        # (session id, start ms, end ms) per sale, computed once (asked on every reservation)
        self._windows = {
            sale.id: [(s.id, *s.window_ms) for s in sale.sessions] for sale in config.sales
        }

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- coupons -----------------------------------------------------------------------------
    def claim(self, template_id: str, who: Who, *, key: str, new_customer: bool = False) -> Outcome:
        """领券: give `who` one coupon of the template, within quantity and per-customer limit."""
        if self.config.template(template_id) is None:
            return self._refuse("claim", template_id, who, Reason.UNKNOWN_TEMPLATE)
        if self._listed(who):
            return self._refuse("claim", template_id, who, Reason.RISK_BLOCKED)
        return self._claim(template_id, who, key, new_customer)

    def redeem(
        self,
        coupon_id: str,
        order_id: str,
        who: Who,
        *,
        key: str,
        order_amount_fen: int | None = None,
    ) -> Outcome:
        """核销: use the coupon on an order, exactly once (same order again → ok, no change)."""
        parts = split_ref(coupon_id)
        if self._listed(who):
            return self._refuse(
                "redeem", parts[0] if parts else coupon_id, who, Reason.RISK_BLOCKED
            )
        if parts is None or self.config.template(parts[0]) is None:
            return self._redeem_unknown(coupon_id, order_id, who, key)
        return self._redeem(parts[0], coupon_id, order_id, who, key, order_amount_fen)

    def release(self, coupon_id: str, order_id: str, *, key: str) -> Outcome:
        """The order was cancelled: the coupon goes back to its owner (or expires if too late)."""
        parts = split_ref(coupon_id)
        if parts is None or self.config.template(parts[0]) is None:
            return self._refuse("release", coupon_id, Who(""), Reason.UNKNOWN_COUPON)
        return self._release(parts[0], coupon_id, order_id, key)

    def expire_coupons(self) -> int:
        """Move held coupons of templates past their valid_to to expired; returns how many."""
        now = self.now_ms()
        return sum(self._expire_coupons(t.id) for t in self.config.coupons if t.window_ms[1] <= now)

    # -- flash sales -------------------------------------------------------------------------
    def reserve(
        self, sale_id: str, who: Who, *, key: str, quantity: int = 1, session: str | None = None
    ) -> Outcome:
        """秒杀下单: hold `quantity` units for `hold_minutes`, first come first served."""
        sale = self._sales.get(sale_id)
        if sale is None:
            return self._refuse("reserve", sale_id, who, Reason.UNKNOWN_SALE)
        if quantity < 1:
            return self._refuse("reserve", sale_id, who, Reason.BAD_QUANTITY)
        if quantity > sale.per_customer:
            return self._refuse("reserve", sale_id, who, Reason.LIMIT_REACHED)
        if self._listed(who):
            return self._refuse("reserve", sale_id, who, Reason.RISK_BLOCKED)
        chosen, reason = self._pick_session(sale, session)
        if chosen is None:
            return self._refuse("reserve", sale_id, who, reason)
        return self._sealed(self._reserve(sale, chosen, who, key, quantity), who.customer)

    def confirm(self, reservation_id: str, order_id: str, *, key: str, customer: str) -> Outcome:
        """Payment arrived: the held units become sold (refused once the hold has expired).
        Only the customer who reserved may confirm (the id is sealed to her)."""
        raw = self._unseal(reservation_id, customer)
        if isinstance(raw, Reason):
            return self._refuse("confirm", reservation_id[:200], Who(customer), raw)
        sale_id = raw.rpartition("#")[0]
        return self._sealed(self._confirm(sale_id, raw, order_id, key), customer)

    def cancel(self, reservation_id: str, *, key: str, customer: str) -> Outcome:
        """The buyer gave up: the held units go back to stock, exactly once (hers only)."""
        raw = self._unseal(reservation_id, customer)
        if isinstance(raw, Reason):
            return self._refuse("cancel", reservation_id[:200], Who(customer), raw)
        sale_id = raw.rpartition("#")[0]
        return self._sealed(self._cancel(sale_id, raw, key), customer)

    # -- reservation ids: `SALE#N.TAG`, TAG = HMAC(store secret, "SALE#N|customer") -----------
    def _tag(self, raw: str, customer: str) -> str:
        if getattr(self, "_ref_secret", None) is None:
            self._ref_secret = self._load_secret().encode()
        message = f"{raw}|{customer}".encode()
        return hmac.new(self._ref_secret, message, hashlib.sha256).hexdigest()[:TAG_CHARS]

    def _sealed(self, outcome: Outcome, customer: str) -> Outcome:
        """The backend's `SALE#N` as the id a customer sees: unguessable and hers alone."""
        if outcome.ref is None or "#" not in outcome.ref:
            return outcome
        return replace(outcome, ref=f"{outcome.ref}.{self._tag(outcome.ref, customer)}")

    def _unseal(self, reservation_id: str, customer: str) -> str | Reason:
        """`SALE#N` of a sealed id, or why it is refused (not an id of ours / not hers)."""
        raw, _, tag = reservation_id.rpartition(".")
        parts = split_ref(raw)
        if (
            parts is None
            or len(tag) != TAG_CHARS
            or not parts[1].isdigit()
            or len(parts[1]) > 18  # the backends' counters are 64-bit
            or self.config.sale(parts[0]) is None
        ):
            return Reason.UNKNOWN_RESERVATION
        if not hmac.compare_digest(tag, self._tag(raw, customer)):
            return Reason.NOT_YOUR_RESERVATION
        return raw

    # -- 满赠 gift ledger ----------------------------------------------------------------------
    def take_gift(self, gift_id: str, quantity: int, *, key: str, order_id: str) -> Outcome:
        """An order got `quantity` of the gift: its stock goes down once per key, or 赠品已送完
        when not enough is left (quotes read `gifts_left`, so they stop promising it)."""
        if self.config.gift(gift_id) is None:
            return self._refuse("gift", gift_id[:200], Who(""), Reason.UNKNOWN_GIFT)
        if quantity < 1:
            return self._refuse("gift", gift_id, Who(""), Reason.BAD_QUANTITY)
        return self._take_gift(gift_id, quantity, key, order_id)

    def return_gift(self, gift_id: str, quantity: int, *, key: str, order_id: str) -> Outcome:
        """A refunded or cancelled order gives back the gift it took: the stock goes up once per
        key, so the next quote can promise it again. Call it only after that order's take."""
        if self.config.gift(gift_id) is None:
            return self._refuse("gift_return", gift_id[:200], Who(""), Reason.UNKNOWN_GIFT)
        if quantity < 1:
            return self._refuse("gift_return", gift_id, Who(""), Reason.BAD_QUANTITY)
        return self._return_gift(gift_id, quantity, key, order_id)

    @abstractmethod
    def gifts_left(self) -> dict[str, int]:
        """Gifts left per gift promotion id (stock − given)."""

    @abstractmethod
    def _take_gift(self, gift_id: str, quantity: int, key: str, order_id: str) -> Outcome: ...

    @abstractmethod
    def _return_gift(self, gift_id: str, quantity: int, key: str, order_id: str) -> Outcome: ...

    def expire_holds(self) -> int:
        """Return the stock of every unpaid hold past its time; returns how many holds."""
        return sum(self._expire_holds(sale.id, None) for sale in self.config.sales)

    def _listed(self, who: Who) -> bool:
        """On the campaign file's blocklist (the store's own blocks are checked by the backend)."""
        listed = self.config.guards.blocklist
        return (
            who.customer in listed.customers
            or (who.device in listed.devices)
            or (who.ip in listed.ips)
        )

    def _pick_session(self, sale: FlashSale, wanted: str | None) -> tuple[str | None, Reason]:
        """The session asked for, or the one open now; else why none is (not started / ended)."""
        now = self.now_ms()
        windows = self._windows[sale.id]
        if wanted is not None:
            window = next((w for w in windows if w[0] == wanted), None)
            if window is None:
                return None, Reason.UNKNOWN_SALE
            if now < window[1]:
                return None, Reason.NOT_STARTED
            return (wanted, Reason.OK) if now < window[2] else (None, Reason.ENDED)
        for session_id, start, end in windows:
            if start <= now < end:
                return session_id, Reason.OK
        upcoming = any(now < start for _, start, _ in windows)
        return None, Reason.NOT_STARTED if upcoming else Reason.ENDED

    # -- reading -----------------------------------------------------------------------------
    def all_counts(self) -> tuple[list[CouponCounts], list[StockCounts]]:
        coupons = [c for t in self.config.coupons if (c := self.coupon_counts(t.id))]
        stock = [
            counts
            for sale in self.config.sales
            for s in sale.sessions
            if (counts := self.stock_counts(sale.id, s.id))
        ]
        return coupons, stock

    @abstractmethod
    def setup(self) -> None:
        """Create templates and sessions that are not in the store yet (never resets counts)."""

    @abstractmethod
    def coupon_counts(self, template_id: str) -> CouponCounts | None: ...

    @abstractmethod
    def stock_counts(self, sale_id: str, session_id: str) -> StockCounts | None: ...

    @abstractmethod
    def recount_coupons(self, template_id: str) -> CouponCounts:
        """Counts rebuilt from the coupons themselves (to check the counters: `dacu flash check`)."""

    @abstractmethod
    def recount_stock(self, sale_id: str, session_id: str) -> StockCounts:
        """Counts rebuilt from the reservations themselves (sold = confirmed, reserved = held)."""

    def check(self) -> list[str]:
        """Problems found: counters that break an invariant or disagree with the records."""
        problems = []
        for template in self.config.coupons:
            counted, rebuilt = self.coupon_counts(template.id), self.recount_coupons(template.id)
            if counted is None or not counted.consistent or counted != rebuilt:
                problems.append(f"coupon {template.id}: counters {counted} vs records {rebuilt}")
        for sale in self.config.sales:
            for session in sale.sessions:
                stock = self.stock_counts(sale.id, session.id)
                tallied = self.recount_stock(sale.id, session.id)
                if stock is None or not stock.consistent or stock != tallied:
                    problems.append(
                        f"flash {sale.id}/{session.id}: counters {stock} vs records {tallied}"
                    )
        return problems

    @abstractmethod
    def audit(
        self,
        *,
        customer: str | None = None,
        target: str | None = None,
        since_ms: int | None = None,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        """Audit entries, oldest first, filtered by customer and/or target (template or sale)."""

    @abstractmethod
    def block(self, kind: str, value: str, *, minutes: float | None = None) -> None:
        """Put a customer/device/ip on the blocklist (for `minutes`, or until unblocked)."""

    @abstractmethod
    def unblock(self, kind: str, value: str) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional for backends
        """Release connections."""

    # -- backend hooks -------------------------------------------------------------------------
    @abstractmethod
    def _claim(self, template_id: str, who: Who, key: str, new_customer: bool) -> Outcome: ...

    @abstractmethod
    def _redeem(
        self,
        template_id: str,
        coupon_id: str,
        order_id: str,
        who: Who,
        key: str,
        order_amount_fen: int | None,
    ) -> Outcome: ...

    @abstractmethod
    def _redeem_unknown(self, coupon_id: str, order_id: str, who: Who, key: str) -> Outcome:
        """An id that names no template: a failed redemption (counts towards blocking)."""

    @abstractmethod
    def _release(self, template_id: str, coupon_id: str, order_id: str, key: str) -> Outcome: ...

    @abstractmethod
    def _expire_coupons(self, template_id: str) -> int: ...

    @abstractmethod
    def _reserve(
        self, sale: FlashSale, session: str, who: Who, key: str, quantity: int
    ) -> Outcome: ...

    @abstractmethod
    def _confirm(self, sale_id: str, reservation_id: str, order_id: str, key: str) -> Outcome: ...

    @abstractmethod
    def _cancel(self, sale_id: str, reservation_id: str, key: str) -> Outcome: ...

    @abstractmethod
    def _expire_holds(self, sale_id: str, session: str | None) -> int: ...

    @abstractmethod
    def _load_secret(self) -> str:
        """The store's secret for reservation ids: made once, shared by every process."""

    @abstractmethod
    def _record(self, entry: AuditEntry) -> None:
        """Append one audit entry on its own (refusals decided before the backend is asked)."""

    def _refuse(self, op: str, target: str, who: Who, reason: Reason) -> Outcome:
        self._record(
            AuditEntry(
                self.now_ms(), op, target, who.customer or None, who.device, who.ip, reason.value
            )
        )
        return refused(reason)
