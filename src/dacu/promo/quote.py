"""What a quote returns: lines with their allocated discounts, what applied, what did not and why.

`Quote.to_dict()` is the JSON of `dacu quote --format json` and `POST /api/quote`;
`Quote.breakdown("zh"|"en")` the human-readable explanation; `refund(quote, lines)` the amount to
give back for returned lines, consistent with the allocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from dacu.errors import InputError
from dacu.money import allocate, format_fen
from dacu.promo.reasons import ReasonCode
from dacu.promo.rules import RuleKind


class LineDiscount(NamedTuple):
    """One discount's share of one line, in fen."""

    id: str
    name: str
    stage: str
    amount_fen: int


@dataclass(slots=True)
class QuoteLine:
    sku_id: str
    store: str
    quantity: int
    unit_fen: int
    list_fen: int
    paid_fen: int
    discounts: tuple[LineDiscount, ...] = ()
    name: str | None = None
    gift: bool = False
    gift_value_fen: int = 0


@dataclass(slots=True)
class Applied:
    id: str
    name: str
    kind: RuleKind
    stage: str
    saving_fen: int
    store: str | None = None
    hint_zh: str | None = None  # 凑单: 再买¥x 可享 …
    hint_en: str | None = None


@dataclass(slots=True)
class NotApplied:
    id: str
    name: str
    kind: RuleKind
    code: ReasonCode  # stable, for programs: why (reason_zh/en say it to people)
    reason_zh: str
    reason_en: str
    short_fen: int | None = None  # how much more to reach the threshold (凑单)
    store: str | None = None


@dataclass(slots=True)
class Quote:
    total_fen: int  # goods paid + shipping
    goods_fen: int
    shipping_fen: int
    list_fen: int
    saving_fen: int
    deposit_fen: int  # deposits (定金) already paid, part of total_fen
    due_fen: int  # what is left to pay now (尾款) = total − deposits
    points_used: int
    lines: tuple[QuoteLine, ...]
    applied: tuple[Applied, ...]
    not_applied: tuple[NotApplied, ...]
    coupons_used: tuple[str, ...] = ()
    searched_nodes: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for line in data["lines"]:
            line["discounts"] = [d._asdict() for d in line["discounts"]]
        data["breakdown_zh"] = self.breakdown("zh")
        data["breakdown_en"] = self.breakdown("en")
        return data

    def breakdown(self, lang: str = "zh") -> str:
        return _breakdown_zh(self) if lang == "zh" else _breakdown_en(self)


def _money(fen: int, lang: str) -> str:
    return format_fen(fen, lang=lang, compact=False)


def _breakdown_zh(q: Quote) -> str:
    out = [
        f"商品原价 {_money(q.list_fen, 'zh')}，共优惠 {_money(q.saving_fen, 'zh')}，"
        f"运费 {_money(q.shipping_fen, 'zh')}，应付 {_money(q.total_fen, 'zh')}"
    ]
    if q.deposit_fen:
        out.append(f"  已付定金 {_money(q.deposit_fen, 'zh')}，尾款 {_money(q.due_fen, 'zh')}")
    for a in q.applied:
        where = f"（{a.store}）" if a.store else ""
        hint = f"；{a.hint_zh}" if a.hint_zh else ""
        out.append(f"  ✓ {a.name}{where} 省 {_money(a.saving_fen, 'zh')}{hint}")
    for n in q.not_applied:
        out.append(f"  ✗ {n.name}：{n.reason_zh}")
    for line in q.lines:
        extra = "（赠品）" if line.gift else ""
        out.append(
            f"  · {line.name or line.sku_id}{extra} ×{line.quantity} "
            f"{_money(line.list_fen, 'zh')} → {_money(line.paid_fen, 'zh')}"
        )
    return "\n".join(out)


def _breakdown_en(q: Quote) -> str:
    out = [
        f"List {_money(q.list_fen, 'en')}, saving {_money(q.saving_fen, 'en')}, shipping "
        f"{_money(q.shipping_fen, 'en')}, to pay {_money(q.total_fen, 'en')}"
    ]
    if q.deposit_fen:
        out.append(
            f"  deposit paid {_money(q.deposit_fen, 'en')}, balance due {_money(q.due_fen, 'en')}"
        )
    for a in q.applied:
        where = f" ({a.store})" if a.store else ""
        hint = f"; {a.hint_en}" if a.hint_en else ""
        out.append(f"  + {a.id}{where} saves {_money(a.saving_fen, 'en')}{hint}")
    for n in q.not_applied:
        out.append(f"  - {n.id}: {n.reason_en}")
    for line in q.lines:
        extra = " (gift)" if line.gift else ""
        out.append(
            f"  * {line.sku_id}{extra} x{line.quantity} {_money(line.list_fen, 'en')} → "
            f"{_money(line.paid_fen, 'en')}"
        )
    return "\n".join(out)


def refund(quote: Quote, lines: Mapping[str, int] | list[str]) -> int:
    """Fen to refund for returned pieces: their share of the paid amounts as allocated.

    `lines` is a list of SKU ids (whole lines) or {sku_id: pieces}. A line's paid amount is spread
    over its pieces with the same largest-remainder rule as every allocation; returned pieces are
    taken from the dearest shares first, so returning every piece refunds exactly `paid_fen`.
    """
    wanted = {sku: None for sku in lines} if isinstance(lines, list) else dict(lines)
    by_sku: dict[str, list[QuoteLine]] = {}
    for line in quote.lines:
        if not line.gift:
            by_sku.setdefault(line.sku_id, []).append(line)
    total = 0
    for sku, pieces in wanted.items():
        if sku not in by_sku:
            raise InputError(f"SKU {sku!r} is not a paid line of this quote", column="sku_id")
        for line in by_sku[sku]:
            count = line.quantity if pieces is None else min(pieces, line.quantity)
            if count < 0 or (pieces is not None and pieces > sum(x.quantity for x in by_sku[sku])):
                raise InputError(
                    f"SKU {sku!r}: cannot return {pieces} pieces of "
                    f"{sum(x.quantity for x in by_sku[sku])}",
                    column="quantity",
                )
            shares = sorted(allocate(line.paid_fen, [1] * line.quantity), reverse=True)
            total += sum(shares[:count])
            if pieces is not None:
                pieces -= count
    return total
