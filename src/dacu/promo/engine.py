"""`quote()`: price a cart under the promotions in force with the best combination of coupons.

Lines are priced in a canonical order (by store, SKU, price, quantity), so a quote does not depend
on the order of the cart's lines; the result lists lines in the cart's own order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from dacu.config import Campaign
from dacu.promo.cart import Cart, CartLine, Customer, parse_cart, parse_customer, parse_wallet
from dacu.promo.compile import Compiled, compile_cart, fen_text, short_reason
from dacu.promo.effects import Effect
from dacu.promo.load import PromoBook, load_promotions, parse_promotions
from dacu.promo.optimiser import Record, Search, Solution
from dacu.promo.quote import Applied, LineDiscount, NotApplied, Quote, QuoteLine
from dacu.promo.reasons import Reason, ReasonCode
from dacu.promo.rules import (
    STAGES,
    BuyXGetY,
    Coupon,
    DepositPresale,
    Gift,
    NPieces,
    NthItem,
    Points,
    Rule,
    ThresholdDiscount,
)

# What `quote` prices under: a loaded book, a campaign, validated rules or the campaign file's
# `promotions:` entries as dicts (None: no promotions)
Promotions = PromoBook | Campaign | Iterable[Rule] | Iterable[dict[str, Any]] | None


def as_book(promotions: Promotions) -> PromoBook:
    if isinstance(promotions, PromoBook):
        return promotions
    if isinstance(promotions, Campaign):
        return load_promotions(promotions)
    items = list(promotions or ())
    entries = [p for p in items if isinstance(p, dict)]
    if len(entries) == len(items):
        return parse_promotions(entries)
    return PromoBook(promotions=tuple(items))


def quote(
    cart: Cart | dict[str, Any],
    customer: Customer | dict[str, Any] | None,
    promotions: Promotions,
    coupons: Iterable[Coupon | str | dict[str, Any]] = (),
    gifts_left: dict[str, int] | None = None,
) -> Quote:
    """Price `cart` for `customer` under `promotions` (a PromoBook, Campaign or list of rules),
    choosing the cheapest valid combination of the held `coupons` and exclusive promotions.

    Parameters
    ----------
    cart : Cart or dict
        The lines to price: ``{"lines": [{"sku_id", "price" (yuan), "quantity", …}]}``
        (docs/promo.md lists every field) or a parsed `Cart`.
    customer : Customer, dict or None
        Who buys (member tier, new customer …); None for an anonymous buyer.
    promotions : PromoBook, Campaign or list of dict
        The rules in force: a campaign's `promotions:` section, parsed or not.
    coupons : iterable of str, dict or Coupon
        The coupons the customer holds (ids of the campaign's coupons, or coupon dicts).

    gifts_left : mapping of str to int, optional
        The gift ledger (`FlashStore.gifts_left()`: gifts left per gift promotion id, shared
        with the orders that take them); without it a gift's `stock:` in the file is used.

    Returns
    -------
    Quote
        The amount to pay in integer fen (`total_fen`), what was applied and why the rest was
        not, the discount of each line (allocated to the fen), and `breakdown(lang)`.

    Examples
    --------
    Two lipsticks at ¥199 under 满300减40 (spend ¥300, save ¥40):

    >>> from dacu.promo import parse_promotions, quote
    >>> book = parse_promotions([{"id": "store-300-40", "type": "threshold", "name": "满300减40",
    ...                           "tiers": [{"threshold": 300, "discount": 40}]}])
    >>> q = quote({"lines": [{"sku_id": "A", "price": 199, "quantity": 2}]}, None, book)
    >>> q.total_fen                       # 2 × 199 − 40 = 358 yuan
    35800
    >>> print(q.breakdown("zh").splitlines()[0])
    商品原价 ¥398.00，共优惠 ¥40.00，运费 ¥0.00，应付 ¥358.00
    """
    book = as_book(promotions)
    if isinstance(cart, dict):
        cart = parse_cart(cart, default_store=book.store)
    if not isinstance(customer, Customer):
        customer = parse_customer(customer)
    held = (
        coupons
        if coupons == ()
        or (isinstance(coupons, tuple) and all(isinstance(c, Coupon) for c in coupons))
        else parse_wallet(list(coupons), book)
    )
    keys = [_line_key(line) for line in cart.lines]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    canonical = (
        cart
        if keys == sorted(keys)
        else Cart(tuple(cart.lines[i] for i in order), cart.channel, cart.at, cart.shipping)
    )
    comp = compile_cart(canonical, customer, book, held)
    search = Search(comp)
    solution = search.run() if search.has_choice else _NO_CHOICE
    record: Record = []
    total, snaps = search.evaluate(solution.chosen, record)
    assert total == solution.total_fen or not search.has_choice, "search and evaluation disagree"
    return _build(
        comp, total, solution.chosen, record, snaps, order, customer, solution.nodes, gifts_left
    )


_NO_CHOICE = Solution(0, (), 0)


def _line_key(line: CartLine) -> tuple[str, str, int, int, str, str, str]:
    return (
        line.store,
        line.sku_id,
        line.unit_fen,
        line.quantity,
        line.category or "",
        line.brand or "",
        line.name or "",
    )


def _build(
    comp: Compiled,
    total: int,
    chosen: Sequence[Effect],
    record: Record,
    snaps: tuple[tuple[int, ...], ...],
    order: list[int],
    customer: Customer,
    nodes: int,
    gifts_left: dict[str, int] | None = None,
) -> Quote:
    per_line: list[list[LineDiscount]] = [[] for _ in comp.lines]
    applied: list[Applied] = []
    for rule_id, saved in comp.price_savings.items():
        rule = comp.price_rules[rule_id]
        _attach(per_line, rule, "price", range(len(saved)), saved)
        if any(saved):
            applied.append(Applied(rule_id, rule.label, "promotion", "price", sum(saved)))
    used: set[int] = set()
    deposit = points = 0
    for effect, shares in record:
        saving = sum(shares)
        if not saving:
            continue
        used.add(id(effect))
        rule, stage = effect.rule, STAGES[effect.stage]
        _attach(per_line, rule, stage, effect.lines, shares)
        hint = _next_tier(effect, snaps) if isinstance(rule, ThresholdDiscount) else None
        applied.append(
            Applied(
                rule.id,
                rule.label,
                effect.kind,
                stage,
                saving,
                effect.store,
                *(hint or (None, None)),
            )
        )
        if isinstance(rule, DepositPresale):
            deposit += _deposit(comp, effect, customer)
        elif isinstance(rule, Points):
            points = -(-saving * rule.points_per_yuan // 100)
    not_applied = _not_applied(comp, chosen, used, snaps)
    final = snaps[-1]
    goods = sum(final)
    shipping = total - goods
    if comp.fees:
        applied += _free_shipping(comp, snaps)
    lines = [_quote_line(comp.lines[i], per_line[i], final[i]) for i in range(len(comp.lines))]
    back = [0] * len(order)
    for position, original in enumerate(order):
        back[original] = position
    lines = [lines[p] for p in back]
    gifts, gift_applied, gift_misses = (
        _gifts(comp, snaps, gifts_left or {}) if comp.gifts else ([], [], [])
    )
    list_fen = sum(comp.list_amounts)
    return Quote(
        goods + shipping,
        goods,
        shipping,
        list_fen,
        list_fen - goods,
        deposit,
        goods + shipping - deposit,
        points,
        (*lines, *gifts),
        (*applied, *gift_applied),
        (*not_applied, *gift_misses),
        tuple(e.rule.id for e in chosen if e.kind == "coupon" and id(e) in used),
        nodes,
    )


def _attach(
    per_line: list[list[LineDiscount]],
    rule: Any,
    stage: str,
    lines: Iterable[int],
    shares: Sequence[int],
) -> None:
    label, ident = rule.label, rule.id
    for i, fen in zip(lines, shares, strict=True):
        if fen:
            per_line[i].append(LineDiscount(ident, label, stage, fen))


def _deposit(comp: Compiled, effect: Effect, customer: Customer) -> int:
    pieces = sum(
        min(comp.lines[i].quantity, customer.deposits.get(comp.lines[i].sku_id, 0))
        for i in effect.lines
    )
    deposit: int = effect.rule.deposit  # a DepositPresale: the fen a piece's deposit is worth
    return pieces * deposit


def _quote_line(line: CartLine, discounts: list[LineDiscount], paid: int) -> QuoteLine:
    return QuoteLine(
        line.sku_id,
        line.store,
        line.quantity,
        line.unit_fen,
        line.list_fen,
        paid,
        tuple(discounts),
        line.name,
    )


def _next_tier(effect: Effect, snaps: tuple[tuple[int, ...], ...]) -> tuple[str, str] | None:
    """凑单 hint for tiered 满减: how much more to reach the next tier."""
    rule = effect.rule
    if not isinstance(rule, ThresholdDiscount):
        return None
    base = sum(effect.pick(snaps[effect.snap]))
    higher = [t for t in rule.tiers if t.threshold > base]
    if not higher:
        return None
    tier = min(higher, key=lambda t: t.threshold)
    short = tier.threshold - base
    return (
        f"再买{fen_text(short)}可享满{_yuan(tier.threshold)}减{_yuan(tier.discount)}",
        f"{fen_text(short, 'en')} more for {fen_text(tier.discount, 'en')} off",
    )


def _yuan(fen: int) -> str:
    """300 for 30000 fen, 29.9 for 2990: how operators write thresholds."""
    return str(fen // 100) if fen % 100 == 0 else f"{fen / 100:g}"


def _not_applied(
    comp: Compiled, chosen: Sequence[Effect], used: set[int], snaps: tuple[tuple[int, ...], ...]
) -> list[NotApplied]:
    out = [
        NotApplied(rule.id, rule.name or rule.id, kind, r.code, r.zh, r.en, r.short_fen)
        for (kind, _), (rule, r) in comp.ineligible.items()
    ]
    for rule_id, rule in comp.price_rules.items():
        if not sum(comp.price_savings.get(rule_id, [0])):
            out.append(
                NotApplied(
                    rule_id,
                    rule.label,
                    "promotion",
                    ReasonCode.PRICE_SUPERSEDED,
                    "已有更低价或库存/限购已满",
                    "a lower price applies, or stock/limit is used up",
                )
            )
    winners = {tag: e for e in chosen if id(e) in used for tag in e.tags}
    for effect in comp.effects:
        if id(effect) in used:
            continue
        reason = _pieces_short(comp, effect) or _reason(effect, winners, snaps)
        out.append(
            NotApplied(
                effect.rule.id,
                effect.rule.label,
                effect.kind,
                reason.code,
                reason.zh,
                reason.en,
                reason.short_fen,
                effect.store,
            )
        )
    return out


def _reason(
    effect: Effect, winners: dict[str, Effect], snaps: tuple[tuple[int, ...], ...]
) -> Reason:
    base = sum(snaps[effect.snap][i] for i in effect.lines)
    short = short_reason(effect.rule, base)
    if short is not None:
        return short
    for tag in effect.tags:
        if tag in winners and winners[tag] is not effect:
            other = winners[tag].rule.label
            if tag.startswith("group:"):
                return Reason(
                    ReasonCode.EXCLUSIVE,
                    f"与「{other}」互斥，已选更省的",
                    f"exclusive with {winners[tag].rule.id}",
                )
            return Reason(
                ReasonCode.SLOT_TAKEN,
                f"同一券位已用「{other}」",
                f"slot taken by {winners[tag].rule.id}",
            )
    if effect.tags:
        return Reason(ReasonCode.NO_GAIN, "使用后总价不更低", "does not lower the total")
    return Reason(ReasonCode.NOTHING_TO_DISCOUNT, "无可优惠金额", "nothing left to discount")


def _pieces_short(comp: Compiled, effect: Effect) -> Reason | None:
    """满N件 / 第N件 / 买X送Y not reached: say how many more pieces."""
    rule = effect.rule
    if isinstance(rule, NthItem):
        need = rule.nth
    elif isinstance(rule, BuyXGetY):
        need = rule.buy + rule.get
    elif isinstance(rule, NPieces):
        need = min(t.min_qty for t in rule.tiers)
    else:
        return None
    have = sum(comp.lines[i].quantity for i in effect.lines)
    if have >= need:
        return None
    more = need - have
    return Reason(
        ReasonCode.TOO_FEW_PIECES, f"差{more}件 {rule.label}", f"{more} more piece(s) for {rule.id}"
    )


def _free_shipping(comp: Compiled, snaps: tuple[tuple[int, ...], ...]) -> list[Applied]:
    out = []
    for effect in comp.shipping:
        fee = comp.fees.get(effect.store or "", 0)
        if fee and sum(snaps[effect.snap][i] for i in effect.lines) >= effect.rule.threshold:
            out.append(
                Applied(
                    effect.rule.id, effect.rule.label, "promotion", "shipping", fee, effect.store
                )
            )
    return out


def _gifts(
    comp: Compiled, snaps: tuple[tuple[int, ...], ...], ledger: dict[str, int]
) -> tuple[list[QuoteLine], list[Applied], list[NotApplied]]:
    lines: list[QuoteLine] = []
    applied: list[Applied] = []
    misses: list[NotApplied] = []
    stock: dict[str, int | None] = {}
    for effect in comp.gifts:
        rule: Gift = effect.rule
        stock.setdefault(rule.id, ledger.get(rule.id, rule.stock))
        base = sum(snaps[effect.snap][i] for i in effect.lines)
        short = short_reason(rule, base)
        left = stock[rule.id]
        if short is None and left is not None and left < rule.quantity:
            short = Reason(ReasonCode.GIFTS_GONE, "赠品已送完", "gift out of stock")
        if short is not None:
            misses.append(
                NotApplied(
                    rule.id,
                    rule.label,
                    "promotion",
                    short.code,
                    short.zh,
                    short.en,
                    short.short_fen,
                    effect.store,
                )
            )
            continue
        if left is not None:
            stock[rule.id] = left - rule.quantity
        store = effect.store or comp.lines[effect.lines[0]].store
        lines.append(
            QuoteLine(
                rule.gift_sku,
                store,
                rule.quantity,
                0,
                0,
                0,
                (),
                rule.gift_name,
                True,
                rule.gift_value * rule.quantity,
            )
        )
        gift = rule.gift_name or rule.gift_sku
        applied.append(
            Applied(
                rule.id,
                rule.label,
                "promotion",
                "gift",
                0,
                effect.store,
                f"赠{gift}×{rule.quantity}",
                f"gift {rule.gift_sku} x{rule.quantity}",
            )
        )
    return lines, applied, misses
