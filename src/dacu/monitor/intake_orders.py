"""Live intake for shops without an event stream: pushed order records → events for the collector.

A platform's order API pushes an order each time it changes (placed, paid, refunded). A record is a
JSON object with the order's state at that moment:

| field | aliases (Taobao TOP trade fields) | meaning |
|---|---|---|
| order_id | tid | the order id (required) |
| order_ts | created | placed at (ISO 8601 or `2024-11-11 20:00:00`, China time if no zone; required) |
| pay_ts | pay_time | paid at (absent while unpaid) |
| refund_ts | refund_time, modified | refunded at (else the payment time) |
| order_amount | total_fee | order amount, yuan (`"1299.50"`, `1299.5`, `"¥1,299.50"`) — or order_amount_fen |
| paid_amount | payment | what was paid, yuan (else the order amount) — or paid_amount_fen |
| refund_amount | refund_fee | refunded, yuan — or refund_amount_fen |
| user_id | buyer_nick, buyer_open_uid | the buyer (else the order is its own buyer) |
| sku_id, quantity | outer_iid / num_iid, num | |
| channel, category, region, campaign_id | receiver_state (region) | |
| gifts | | the 满赠 gifts the order received: `["gift-mask"]` or `[{"id": "gift-mask", "quantity": 2}]` |
| status | | the order's state, e.g. TRADE_CLOSED / TRADE_CLOSED_BY_TAOBAO (Taobao), cancelled, refunded |

Each record gives the events of `dacu.warehouse.orders` (an order event; a pay event once paid; a
refund event once refunded) with ids `PLATFORM:ORDER:order|pay|refund`, so pushing the same order
again as it moves on adds only its new events. The events are checked against the collector's
bounds (`dacu.web.batch.EventBounds`: a record with a bad value is refused whole) and go through
the collector's public `accept`, so they are deduplicated, made durable and rolled up like any
other event. An order's gifts are taken from the campaign's gift ledger (the one quotes read), once
per order and gift however often the order is pushed, so a quote says 赠品已送完 after the last.
A closed order — a `status` of `CLOSED_STATUSES` or a refund of everything paid — gives its gifts
back, once however often it is pushed again, so the next quote can promise them again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dacu.errors import MoneyError
from dacu.money import parse_fen
from dacu.web.batch import EventBounds, is_safe_id, validate_items

MAX_GIFTS = 20  # gift lines on one order
MAX_GIFT_QUANTITY = 10_000  # as POST /api/flash/gifts/{gift}/take
MAX_STATUS = 64  # characters of an order status
# a refunded or cancelled order (Taobao TOP trade statuses, plain words): its gifts go back
CLOSED_STATUSES = frozenset(
    {
        "TRADE_CLOSED",  # refunded after payment (Taobao)
        "TRADE_CLOSED_BY_TAOBAO",  # cancelled before payment (Taobao)
        "closed",
        "cancelled",
        "canceled",
        "refunded",
        "交易关闭",
        "已取消",
        "已退款",
    }
)
GiftCall = Callable[..., Any]  # (gift_id, quantity, *, key, order_id) → flash Outcome


@dataclass(frozen=True)
class GiftLedger:
    """The campaign's gift ledger (its coupon/flash store's `take_gift` and `return_gift`)."""

    take: GiftCall
    give_back: GiftCall


ALIASES = {
    "tid": "order_id",
    "created": "order_ts",
    "pay_time": "pay_ts",
    "refund_time": "refund_ts",
    "modified": "refund_ts",
    "total_fee": "order_amount",
    "payment": "paid_amount",
    "refund_fee": "refund_amount",
    "buyer_nick": "user_id",
    "buyer_open_uid": "user_id",
    "outer_iid": "sku_id",
    "num_iid": "sku_id",
    "num": "quantity",
    "receiver_state": "region",
}
FIELDS = {
    "order_id",
    "order_ts",
    "pay_ts",
    "refund_ts",
    "order_amount",
    "paid_amount",
    "refund_amount",
    "user_id",
    "sku_id",
    "quantity",
    "channel",
    "category",
    "region",
    "campaign_id",
    "gifts",
    "status",
}
CARRIED = ("channel", "campaign_id", "sku_id", "category", "region")


def _time(value: Any, field: str, tz: ZoneInfo) -> datetime | str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        return f"{field}: expected a time such as 2024-11-11 20:00:00, got {value!r}"
    try:
        moment = datetime.fromisoformat(value.strip().replace("/", "-"))
    except ValueError:
        return f"{field}: {value!r} is not a time (e.g. 2024-11-11 20:00:00 or ISO 8601)"
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(UTC)


def _amount(record: dict, field: str) -> int | str | None:
    if record.get(f"{field}_fen") is not None:
        fen = record[f"{field}_fen"]
        if isinstance(fen, bool) or not isinstance(fen, int) or not 0 <= fen < 2**63:
            return f"{field}_fen: expected a non-negative whole number of fen, got {fen!r}"
        return fen
    value = record.get(field)
    if value in (None, ""):
        return None
    try:
        fen = parse_fen(value)
    except MoneyError as exc:
        return f"{field}: {exc}"
    return fen if fen < 2**63 else f"{field}: amount out of range: {value!r}"


def _normalise(item: Any) -> dict | str:
    if not isinstance(item, dict):
        return f"expected a JSON object (an order record), got {type(item).__name__}"
    fields: dict[str, Any] = item  # a JSON object: its keys are strings
    record: dict[str, Any] = {}
    for key, value in fields.items():
        name = ALIASES.get(key, key)
        if name not in FIELDS and not (name.endswith("_fen") and name[:-4] in FIELDS):
            known = ", ".join(sorted(FIELDS))
            return f"unknown field {key!r} (an order record has {known})"
        record.setdefault(name, value)
    return record


def order_record_events(item: Any, *, platform: str, tz: ZoneInfo) -> list[dict] | str:
    """The events (collector shape: ISO ts, amount_fen) of one order record, or why it is refused."""
    record = _normalise(item)
    if isinstance(record, str):
        return record
    if record.get("order_id") in (None, ""):
        return "order_id: missing (required: order_id, order_ts, order_amount)"
    parsed: dict[str, Any] = {}
    for field in ("order_ts", "pay_ts", "refund_ts"):
        parsed[field] = _time(record.get(field), field, tz)
    for field in ("order_amount", "paid_amount", "refund_amount"):
        parsed[field] = _amount(record, field)
    bad = next((v for v in parsed.values() if isinstance(v, str)), None)
    if bad is not None:
        return bad
    if parsed["order_ts"] is None or parsed["order_amount"] is None:
        return "order_ts and order_amount are required (the order's time and amount)"
    order_id = str(record["order_id"])
    base = {
        "user_id": str(record.get("user_id") or f"{platform}:order:{order_id}"),
        "order_id": order_id,
        "quantity": record.get("quantity"),
        **{k: str(record[k]) for k in CARRIED if record.get(k) not in (None, "")},
    }
    events = [_event(base, platform, "order", parsed["order_ts"], parsed["order_amount"])]
    if parsed["pay_ts"] is not None:
        paid = (
            parsed["paid_amount"] if parsed["paid_amount"] is not None else parsed["order_amount"]
        )
        events.append(_event(base, platform, "pay", parsed["pay_ts"], paid))
    if parsed["refund_amount"]:
        when = parsed["refund_ts"] or parsed["pay_ts"] or parsed["order_ts"]
        events.append(_event(base, platform, "refund", when, parsed["refund_amount"]))
    return events


def _event(base: dict, platform: str, kind: str, ts: datetime, fen: int) -> dict:
    return {
        **base,
        "event_id": f"{platform}:{base['order_id']}:{kind}",
        "event": kind,
        "ts": ts.isoformat(),
        "amount_fen": fen,
    }


def is_closed(item: Any) -> bool | str:
    """Whether an order record is refunded or cancelled (its status says so, or everything paid
    came back), or why its status is refused."""
    record = _normalise(item)
    if isinstance(record, str):
        return record
    status = record.get("status")
    if status is not None and (not isinstance(status, str) or len(status) > MAX_STATUS):
        return f"status: expected a word such as TRADE_CLOSED (≤ {MAX_STATUS} characters)"
    if status is not None and status.strip() in CLOSED_STATUSES:
        return True
    refund, paid = _amount(record, "refund_amount"), _amount(record, "paid_amount")
    if not isinstance(paid, int):
        paid = _amount(record, "order_amount")
    return isinstance(refund, int) and isinstance(paid, int) and 0 < paid <= refund


def gifts_of(item: Any) -> list[tuple[str, int]] | str:
    """The 满赠 gifts an order record received as [(gift promotion id, quantity)], or why not."""
    raw = item.get("gifts") if isinstance(item, dict) else None
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_GIFTS:
        return f"gifts: expected a list of at most {MAX_GIFTS} gift promotion ids"
    gifts = []
    for at, line in enumerate(raw):
        gift, quantity = (
            (line.get("id"), line.get("quantity", 1)) if isinstance(line, dict) else (line, 1)
        )
        if not isinstance(gift, str) or not is_safe_id(gift):
            return (
                f"gifts[{at}]: expected a gift promotion id (its id: in the campaign), got {gift!r}"
            )
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            return f"gifts[{at}].quantity: expected a whole number, got {quantity!r}"
        if not 1 <= quantity <= MAX_GIFT_QUANTITY:
            return f"gifts[{at}].quantity: 1 … {MAX_GIFT_QUANTITY:,}, got {quantity}"
        gifts.append((gift, quantity))
    return gifts


@dataclass(frozen=True)
class _Record:
    index: int  # in the request
    events: list[dict]
    gifts: list[tuple[str, int]]
    closed: bool  # refunded or cancelled: its gifts go back


def accept_orders(
    collector: Any,
    items: list[Any],
    *,
    platform: str,
    tz: str,
    gift_ledger: GiftLedger | None = None,
) -> dict:
    """Feed order records to `collector` (its public `accept`) and their gifts to the gift ledger
    (the campaign's coupon/flash store); the answer per record.

    `{"orders": n records read, "accepted": new events, "duplicates": events already held,
    "rejected": [{"index": record index, "reason": …}]}`, and when a record carries gifts
    `"gifts": {"taken": n, "returned": n, "refused": [{"index", "gift", "reason"}]}`."""
    records, rejected = _records(items, platform=platform, zone=ZoneInfo(tz))
    events = [event for record in records for event in record.events]
    owners = [r.index for r in records for _ in r.events]  # record index of each event
    result = collector.accept(events) if events else None
    refused = set()
    if result is not None:
        for rejection in result.rejected:
            refused.add(owners[rejection.index])
            rejected.append({"index": owners[rejection.index], "reason": rejection.reason})
    answer = {
        "orders": len(items),
        "accepted": result.accepted if result else 0,
        "duplicates": result.duplicates if result else 0,
        "rejected": sorted(rejected, key=lambda r: r["index"]),
    }
    given = [r for r in records if r.gifts]
    if given:
        kept = [r for r in given if r.index not in refused]
        answer["gifts"] = _settle_gifts(kept, gift_ledger, platform)
    return answer


def _records(
    items: list[Any], *, platform: str, zone: ZoneInfo
) -> tuple[list[_Record], list[dict]]:
    """(the usable records, [{index, reason}] of the others); a record with any event out of the
    collector's bounds is refused whole."""
    records, rejected = [], []
    for index, item in enumerate(items):
        made = order_record_events(item, platform=platform, tz=zone)
        gifts = gifts_of(item) if not isinstance(made, str) else []
        closed = is_closed(item) if not isinstance(made, str) else False
        problem = next((p for p in (made, gifts, closed) if isinstance(p, str)), None)
        if problem is not None:
            rejected.append({"index": index, "reason": problem})
            continue
        records.append(_Record(index, made, gifts, closed))  # type: ignore[arg-type]
    events = [event for record in records for event in record.events]
    owners = [position for position, record in enumerate(records) for _ in record.events]
    _, errors = validate_items(EventBounds, events)
    bad = {owners[e["index"]]: e["reason"] for e in reversed(errors)}  # the first per record
    for position, reason in bad.items():
        rejected.append({"index": records[position].index, "reason": reason})
    return [r for position, r in enumerate(records) if position not in bad], rejected


NO_LEDGER = "no gift ledger for this campaign here (DACU_CAMPAIGN and DACU_STORE)"


def _settle_gifts(records: list[_Record], ledger: GiftLedger | None, platform: str) -> dict:
    """Each order's gifts taken from the ledger once per (order, gift) — a record pushed again
    as the order moves on replays its answer — and given back once when the order is closed."""
    taken, returned, refused = 0, 0, []
    for record in records:
        order_id = record.events[0]["order_id"]
        for gift, quantity in record.gifts:
            if ledger is None:
                refused.append({"index": record.index, "gift": gift, "reason": NO_LEDGER})
                continue
            key = f"order:{platform}:{order_id}:{gift}"
            outcome = ledger.take(gift, quantity, key=key, order_id=order_id)
            if not outcome.ok:
                if not record.closed:  # a closed order's gift that was gone: nothing to return
                    reason = f"{outcome.message_zh} ({outcome.reason.value})"
                    refused.append({"index": record.index, "gift": gift, "reason": reason})
                continue
            taken += 0 if outcome.replayed else quantity
            if record.closed:
                back = ledger.give_back(gift, quantity, key=f"{key}:back", order_id=order_id)
                returned += quantity if back.ok and not back.replayed else 0
    return {"taken": taken, "returned": returned, "refused": refused}
