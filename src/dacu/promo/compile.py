"""Match rules to a cart: who is eligible, which lines, the price stage, and the effects to search.

The price stage (限时折扣, 一口价, 秒杀, 会员价) is settled here, before any search: each line takes
the lowest unit price among its price promotions (a 秒杀 only for the pieces within its stock and
per-customer limit). These are platform rules, not the customer's choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dacu.money import format_fen
from dacu.promo.cart import Cart, CartLine, Customer
from dacu.promo.effects import Effect, ValueFn, pct, stage_index, value_fn
from dacu.promo.load import PromoBook
from dacu.promo.preset import COUPON_STAGE, TYPE_STAGE, slot_of
from dacu.promo.reasons import Reason, ReasonCode
from dacu.promo.rules import (
    Coupon,
    EveryDiscount,
    FixedPrice,
    FlashSale,
    FreeShipping,
    Gift,
    MemberPrice,
    PercentDiscount,
    Rule,
    RuleKind,
    ThresholdDiscount,
)

PRICE_TYPES = (PercentDiscount, FixedPrice, FlashSale, MemberPrice)
LOCAL_STAGES = ("price", "item", "store")  # rules without `stores` apply to the campaign's store


@dataclass(slots=True)
class Compiled:
    """Everything about one cart the search and the report need."""

    lines: tuple[CartLine, ...]
    list_amounts: tuple[int, ...]
    price_amounts: tuple[int, ...]
    price_savings: dict[str, list[int]]  # price promotion id → fen saved per line
    price_rules: dict[str, Rule]
    effects: list[Effect]  # item → payment stages, auto and candidates
    gifts: list[Effect]
    shipping: list[Effect]  # FreeShipping per store
    fees: dict[str, int]
    ineligible: dict[tuple[RuleKind, str], tuple[Rule, Reason]] = field(default_factory=dict)
    by_store: dict[str, list[int]] = field(default_factory=dict)


def rule_stage(rule: Rule) -> str:
    if rule.stage:
        return rule.stage
    if isinstance(rule, Coupon):
        return COUPON_STAGE[rule.scope]
    return TYPE_STAGE[rule.type]


_UNCONDITIONAL: dict[int, tuple[Rule, bool]] = {}


def _unconditional(rule: Rule) -> bool:
    """No window, channel, customer or limit condition (cached per rule object)."""
    found = _UNCONDITIONAL.get(id(rule))
    if found is not None and found[0] is rule:
        return found[1]
    if len(_UNCONDITIONAL) > 10_000:
        _UNCONDITIONAL.clear()
    free = (
        rule.start is None
        and rule.end is None
        and rule.channels is None
        and not rule.new_customer_only
        and rule.member_tiers is None
        and rule.per_customer is None
        and not isinstance(rule, MemberPrice)
    )
    _UNCONDITIONAL[id(rule)] = (rule, free)
    return free


def global_reason(rule: Rule, cart: Cart, customer: Customer) -> Reason | None:
    """Why a rule cannot apply to this customer at this time and channel (None: it can)."""
    if _unconditional(rule):
        return None
    if cart.at is not None and (
        (rule.start and cart.at < rule.start) or (rule.end and cart.at >= rule.end)
    ):
        return Reason(ReasonCode.OUTSIDE_WINDOW, "不在活动时间内", "outside its time window")
    if rule.channels is not None and cart.channel not in rule.channels:
        only = "/".join(rule.channels)
        return Reason(ReasonCode.WRONG_CHANNEL, f"仅限渠道 {only}", f"only on {only}")
    if rule.new_customer_only and not customer.new_customer:
        return Reason(ReasonCode.NEW_CUSTOMERS_ONLY, "仅限新客", "new customers only")
    if rule.member_tiers is not None and customer.member_tier not in rule.member_tiers:
        tiers = "/".join(rule.member_tiers)
        return Reason(
            ReasonCode.MEMBER_TIERS_ONLY, f"仅限会员等级 {tiers}", f"member tiers {tiers} only"
        )
    if isinstance(rule, MemberPrice) and customer.member_tier not in rule.percent_off:
        return Reason(
            ReasonCode.NOT_A_MEMBER, "非会员，不享会员价", "not a member tier with a price"
        )
    if (
        rule.per_customer is not None
        and not isinstance(rule, FlashSale)
        and customer.used.get(rule.id, 0) >= rule.per_customer
    ):
        used = rule.per_customer
        return Reason(ReasonCode.LIMIT_REACHED, f"已达每人限用 {used} 次", f"used {used}× already")
    return None


@dataclass(frozen=True, slots=True)
class RulePlan:
    """What a rule needs to match a cart, worked out once per rule (not per quote)."""

    stage: str
    own: int
    snap: int
    per_store: bool
    stores: frozenset[str] | None
    skus: frozenset[str] | None
    exclude: frozenset[str]
    categories: frozenset[str] | None
    brands: frozenset[str] | None
    is_price: bool
    static_fn: ValueFn | None = (
        None  # value function that does not depend on the cart (满减, 每满减, 券)
    )
    side: int = 0  # 1 gift, 2 free shipping: valued after the search, not in it
    group_tag: str | None = None
    unconditional: bool = False  # no window, channel, customer or limit condition
    only_stores: bool = False  # no line condition but the store: no per-line test needed

    def matches(self, line: CartLine) -> bool:
        return (
            (self.stores is None or line.store in self.stores)
            and (self.skus is None or line.sku_id in self.skus)
            and line.sku_id not in self.exclude
            and (self.categories is None or line.category in self.categories)
            and (self.brands is None or line.brand in self.brands)
        )


_PLANS: dict[tuple[int, int, str], tuple[Rule, RulePlan]] = {}


def plan_of(rule: Rule, book: PromoBook) -> RulePlan:
    key = (id(rule), id(book.rules), book.store)
    found = _PLANS.get(key)
    if found is not None and found[0] is rule:
        return found[1]
    if len(_PLANS) > 10_000:
        _PLANS.clear()
    stage = rule_stage(rule)
    stores = rule_stores(rule, stage, book)
    per_store = (
        stage == "store"
        or isinstance(rule, FreeShipping)
        or (isinstance(rule, Coupon) and rule.scope == "store")
    )
    static = None
    if isinstance(rule, Coupon | ThresholdDiscount | EveryDiscount):
        static = value_fn(rule, (), (), Customer())
    side = 1 if isinstance(rule, Gift) else 2 if isinstance(rule, FreeShipping) else 0
    plan = RulePlan(
        stage,
        stage_index(stage),
        book.rules.snapshot(stage, rule.base),
        per_store,
        _set(stores),
        _set(rule.skus),
        frozenset(rule.exclude_skus),
        _set(rule.categories),
        _set(rule.brands),
        isinstance(rule, PRICE_TYPES),
        static,
        side,
        f"group:{rule.group}" if rule.group else None,
        _unconditional(rule),
        rule.skus is None
        and not rule.exclude_skus
        and rule.categories is None
        and rule.brands is None,
    )
    _PLANS[key] = (rule, plan)
    return plan


def _set(values: Sequence[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


def rule_stores(rule: Rule, stage: str, book: PromoBook) -> list[str] | None:
    if rule.stores is not None:
        return rule.stores
    if stage in LOCAL_STAGES and not (isinstance(rule, Coupon) and rule.scope != "store"):
        return [book.store]
    return None


def compile_cart(
    cart: Cart, customer: Customer, book: PromoBook, coupons: Sequence[Coupon] = ()
) -> Compiled:
    lines = cart.lines
    list_amounts = tuple(line.list_fen for line in lines)
    out = Compiled(lines, list_amounts, list_amounts, {}, {}, [], [], [], dict(cart.shipping))
    for i, line in enumerate(lines):
        out.by_store.setdefault(line.store, []).append(i)
    price_rules: list[tuple[Rule, tuple[int, ...]]] = []
    for rule in book.promotions:
        _add_rule(out, rule, "promotion", cart, customer, book, price_rules)
    seen: set[str] = set()
    for coupon in coupons:
        if coupon.id in seen:
            continue  # a second copy of the same coupon cannot be used on the same order
        seen.add(coupon.id)
        _add_rule(out, coupon, "coupon", cart, customer, book, price_rules)
    _price_stage(out, price_rules, customer)
    return out


def _add_rule(
    out: Compiled,
    rule: Rule,
    kind: RuleKind,
    cart: Cart,
    customer: Customer,
    book: PromoBook,
    price_rules: list[tuple[Rule, tuple[int, ...]]],
) -> None:
    plan = plan_of(rule, book)
    if not plan.unconditional:
        reason = global_reason(rule, cart, customer)
        if reason is not None:
            out.ineligible[(kind, rule.id)] = (rule, reason)
            return
    matched = _match(plan, out)
    if not matched:
        out.ineligible[(kind, rule.id)] = (
            rule,
            Reason(ReasonCode.NO_ELIGIBLE_ITEMS, "购物车中没有参与商品", "no eligible items"),
        )
        return
    if plan.is_price:
        price_rules.append((rule, matched))
        return
    if not plan.per_store:
        groups: dict[str | None, tuple[int, ...]] = {None: matched}
    elif len(out.by_store) == 1:
        groups = {out.lines[matched[0]].store: matched}
    else:
        groups = _by_store(out.lines, matched)
    for store, idx in groups.items():
        _add_effect(out, rule, kind, plan, store, idx, customer)


def _match(plan: RulePlan, out: Compiled) -> tuple[int, ...]:
    """Indexes of the lines a rule applies to, using the cart's store index."""
    lines = out.lines
    if plan.stores is None:
        pool: Sequence[int] = range(len(lines))
    elif len(plan.stores) == 1:
        pool = out.by_store.get(next(iter(plan.stores)), ())
    else:
        pool = sorted(i for store in plan.stores for i in out.by_store.get(store, ()))
    if plan.only_stores:
        return tuple(pool)
    matches = plan.matches
    return tuple(i for i in pool if matches(lines[i]))


def _by_store(
    lines: Sequence[CartLine], matched: tuple[int, ...]
) -> dict[str | None, tuple[int, ...]]:
    groups: dict[str | None, list[int]] = {}
    for i in matched:
        groups.setdefault(lines[i].store, []).append(i)
    return {store: tuple(idx) for store, idx in groups.items()}


def _add_effect(
    out: Compiled,
    rule: Rule,
    kind: RuleKind,
    plan: RulePlan,
    store: str | None,
    idx: tuple[int, ...],
    customer: Customer,
) -> None:
    if plan.side:
        target = out.gifts if plan.side == 1 else out.shipping
        target.append(Effect(rule, kind, plan.own, plan.snap, idx, _never, (), store))
        return
    tags: tuple[str, ...] = ()
    if kind == "coupon" and isinstance(rule, Coupon):
        tags = (slot_of(rule.scope, store, rule.skus, rule.slot),)
    if plan.group_tag:
        tags = (*tags, plan.group_tag)
    fn = plan.static_fn or value_fn(rule, idx, out.lines, customer)
    out.effects.append(Effect(rule, kind, plan.own, plan.snap, idx, fn, tags, store))


def _never(amounts: tuple[int, ...]) -> tuple[int, None]:  # pragma: no cover - never valued
    return 0, None


def _price_stage(
    out: Compiled, price_rules: list[tuple[Rule, tuple[int, ...]]], customer: Customer
) -> None:
    """Each line takes its lowest unit price; 秒杀 pieces limited by stock and per-customer limit."""
    offers: dict[int, list[tuple[int, Rule]]] = {}
    for rule, idx in price_rules:
        out.price_rules[rule.id] = rule
        for i in idx:
            unit = out.lines[i].unit_fen
            price = _unit_price(rule, unit, customer)
            if price < unit:
                offers.setdefault(i, []).append((price, rule))
    stock = {r.id: r.stock for r, _ in price_rules if isinstance(r, FlashSale)}
    amounts = list(out.list_amounts)
    for i in sorted(offers):
        amounts[i] = _price_line(out, i, sorted(offers[i], key=lambda o: o[0]), stock, customer)
    out.price_amounts = tuple(amounts)


def _unit_price(rule: Rule, unit: int, customer: Customer) -> int:
    if isinstance(rule, PercentDiscount):
        return unit - pct(unit, rule.percent_off)
    if isinstance(rule, FixedPrice | FlashSale):
        return min(rule.price, unit)
    assert isinstance(rule, MemberPrice) and customer.member_tier is not None  # the price types
    return unit - pct(unit, rule.percent_off[customer.member_tier])


def _price_line(
    out: Compiled,
    i: int,
    offers: list[tuple[int, Rule]],
    stock: dict[str, int | None],
    customer: Customer,
) -> int:
    line = out.lines[i]
    left, amount = line.quantity, 0
    for price, rule in offers:
        pieces = left
        if isinstance(rule, FlashSale):
            if rule.limit is not None:
                pieces = min(pieces, max(0, rule.limit - customer.used.get(rule.id, 0)))
            in_stock = stock.get(rule.id)
            if in_stock is not None:
                pieces = min(pieces, in_stock)
                stock[rule.id] = in_stock - pieces
        if pieces <= 0:
            continue
        amount += pieces * price
        saved = out.price_savings.setdefault(rule.id, [0] * len(out.lines))
        saved[i] += pieces * (line.unit_fen - price)
        left -= pieces
        if not left:
            break
    return amount + left * line.unit_fen


def fen_text(fen: int, lang: str = "zh") -> str:
    """`format_fen` with a fast path for the small amounts of hints (same text)."""
    if 0 <= fen < 1_000_000:
        return f"¥{fen // 100:,}.{fen % 100:02d}"
    return format_fen(fen, lang=lang)


def short_reason(rule: Rule, base_total: int) -> Reason | None:
    """凑单 hint for a threshold not reached: 差¥23.00 满300减40."""
    threshold = _lowest_threshold(rule)
    if threshold is None or base_total >= threshold:
        return None
    short = threshold - base_total
    label = rule.name or rule.id
    return Reason(
        ReasonCode.BELOW_THRESHOLD,
        f"差{fen_text(short)} {label}",
        f"{fen_text(short, 'en')} short of {label}",
        short,
    )


def _lowest_threshold(rule: Rule) -> int | None:
    if isinstance(rule, ThresholdDiscount):  # the one rule with money tiers (at least one)
        return min(t.threshold for t in rule.tiers)
    if isinstance(rule, Coupon | Gift | FreeShipping):
        return rule.threshold or None
    return getattr(rule, "every", None)
