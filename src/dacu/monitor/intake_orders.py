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

Each record gives the events of `dacu.warehouse.orders` (an order event; a pay event once paid; a
refund event once refunded) with ids `PLATFORM:ORDER:order|pay|refund`, so pushing the same order
again as it moves on adds only its new events. The events go through the collector's public
`accept`, so they are deduplicated, made durable and rolled up like any other event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dacu.errors import MoneyError
from dacu.money import parse_fen

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
    record: dict[str, Any] = {}
    for key, value in item.items():
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


def accept_orders(collector: Any, items: list[Any], *, platform: str, tz: str) -> dict:
    """Feed order records to `collector` (its public `accept`); the answer per record.

    `{"orders": n records read, "accepted": new events, "duplicates": events already held,
    "rejected": [{"index": record index, "reason": …}]}`."""
    zone = ZoneInfo(tz)
    events: list[dict] = []
    owners: list[int] = []  # record index of each event
    rejected: list[dict] = []
    for index, item in enumerate(items):
        made = order_record_events(item, platform=platform, tz=zone)
        if isinstance(made, str):
            rejected.append({"index": index, "reason": made})
            continue
        events += made
        owners += [index] * len(made)
    result = collector.accept(events) if events else None
    if result is not None:
        for rejection in result.rejected:
            rejected.append({"index": owners[rejection.index], "reason": rejection.reason})
    return {
        "orders": len(items),
        "accepted": result.accepted if result else 0,
        "duplicates": result.duplicates if result else 0,
        "rejected": sorted(rejected, key=lambda r: r["index"]),
    }
