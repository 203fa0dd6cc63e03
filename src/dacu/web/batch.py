"""Checks at the edge, before anything is parsed or stored: JSON depth, and per-item validation of
the batches that enter the system (events, spend rows, SKUs, stock, posts, coupon counts, orders,
traffic). The one place for the bounds every batch shares and for the per-item validator.

    depth = json_depth(body)                    # before json.loads: 50,000 "[" cost a 422, not a 500
    good, errors = validate_items(SpendItem, batch_of(rows))
    # good: [(index, SpendItem)], errors: [{"index": 1, "reason": "hour: …"}]

`batch_of` refuses the request as a whole (not an array, empty, too many items: `BatchRefused`,
nothing applied). Otherwise each item is checked on its own: a bad item is named by its 0-based
index and the reason (the first failing field with its value), the good ones go on. Types for the
fields batches share (`Id`, `Text`, `Amount`, `Count`, `Moment`, `Instant`) carry the limits in
docs/web.md ("Security"); route parameters (`CampaignId`, `CampaignQuery`, `AlertId`) are typed
here too.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import numpy as np
from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    TypeAdapter,
    ValidationError,
)

from dacu.config import SAFE_CAMPAIGN_ID

INT64_MAX = 2**63 - 1
MAX_JSON_DEPTH = 32  # nested arrays/objects in any request body
# letters (any script), digits and . : @ # + = ~ | - _ ; at least one that is not a dot
ID_PATTERN = r"^\.*[\w:@#+=~|-][\w.:@#+=~|-]*$"
SAFE_ID = re.compile(ID_PATTERN)
MAX_TEXT = 256  # characters of a free-text field in a batch item (channel, region …)
MAX_COUNT = 10**9  # units in one count (stock, coupons issued in an hour)
MAX_ITEMS = 100_000  # items in one feed request (events: bounded by the body size instead)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)  # a clock ahead by up to a day is still plausible


def max_amount_fen() -> int:
    """Largest single amount a batch item may carry, from `DACU_MAX_AMOUNT` (yuan, e.g. `1亿`);
    default ¥1亿 = 10,000,000,000 fen. Read when the module is imported."""
    from dacu.money import parse_fen

    text = os.environ.get("DACU_MAX_AMOUNT", "").strip()
    return min(parse_fen(text), INT64_MAX) if text else 10_000_000_000


MAX_AMOUNT_FEN = max_amount_fen()


def _moment(value: str) -> str:
    """An ISO 8601 time within 2000-01-01 .. now + 1 day (naive times are read as UTC here:
    the window is wide enough that the zone does not matter)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not an ISO 8601 time (e.g. 2026-11-11T20:00:00+08:00)") from None
    _plausible(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return value


def _instant(moment: datetime) -> datetime:
    """A time with its zone, within the plausible window."""
    if moment.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-11-11T20:00:00+08:00")
    return _plausible(moment)


def _plausible(moment: datetime) -> datetime:
    if not _EARLIEST_S <= moment.timestamp() <= time.time() + _SLACK_S:
        latest = datetime.now(UTC) + FUTURE_SLACK
        raise ValueError(f"outside the plausible window 2000-01-01 .. {latest:%Y-%m-%d %H:%M} UTC")
    return moment


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):  # JSON true would otherwise count as 1
        raise ValueError("a count, not true/false")
    return value


_EARLIEST_S = EARLIEST.timestamp()
_SLACK_S = FUTURE_SLACK.total_seconds()


def is_safe_id(value: str) -> bool:
    """A name safe as a file name, URL segment, Redis key part and log token."""
    return len(value) <= 128 and bool(SAFE_ID.match(value))


# Checked in Rust by pydantic-core (a Python validator per field would cost several times more):
# the pattern also refuses ids of dots only ('..' must never name a folder).
Id = Annotated[str, Field(max_length=128, pattern=ID_PATTERN)]
NumericId = Annotated[StrictInt, Field(ge=0, le=INT64_MAX)]  # Taobao user ids are numbers
# no control characters (checked by pydantic's Rust regex: a Python loop costs 20× more)
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, pattern=r"^[^\x00-\x1f\x7f]*$")]
Amount = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_FEN)]  # fen, DACU_MAX_AMOUNT
Moment = Annotated[str, Field(max_length=64), AfterValidator(_moment)]  # kept as sent
Instant = Annotated[datetime, AfterValidator(_instant)]  # parsed, zone required
# units (stock, coupons issued): a whole number, digits in a CSV cell accepted, never a boolean
Count = Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=MAX_COUNT)]


class EventBounds(BaseModel):
    """The bounds of one collector event (the contract itself — required fields, event types,
    which events carry money — is checked by `dacu.monitor.collector`)."""

    model_config = ConfigDict(extra="ignore")  # unknown fields: named by the collector

    event_id: Id | NumericId | None = None
    ts: Moment | None = None
    user_id: Id | NumericId | None = None
    session_id: Id | NumericId | None = None
    event: Annotated[str, Field(max_length=32)] | None = None
    channel: Text | None = None
    campaign_id: Id | NumericId | None = None
    sku_id: Id | NumericId | None = None
    category: Text | None = None
    quantity: Annotated[StrictInt, Field(ge=1, lt=2**31)] | None = None
    amount_fen: Amount | None = None
    order_id: Id | NumericId | None = None
    device: Text | None = None
    region: Text | None = None
    creative_id: Id | NumericId | None = None
    variant: Text | None = None


# -- path parameters: a bad value is a 422 naming the rule before any handler runs ---------------
CampaignId = Annotated[
    str,
    Path(
        pattern=f"^{SAFE_CAMPAIGN_ID.pattern}$",  # the campaign file's `id:` (dacu.config)
        max_length=64,
        description="campaign id: letters, digits, '-', '_' or '.', the first a letter or digit",
    ),
]
# the same rule for a campaign id given in the query (`/api/events?campaign=…`); absent: the
# route finds the campaign itself (the one being served, or the events' campaign_id)
CampaignQuery = Annotated[
    str | None,
    Query(
        pattern=f"^{SAFE_CAMPAIGN_ID.pattern}$",
        max_length=64,
        description="campaign id: letters, digits, '-', '_' or '.', the first a letter or digit",
    ),
]
AlertId = Annotated[
    int, Path(ge=1, le=INT64_MAX, description="alert id (a positive 64-bit integer)")
]

M = TypeVar("M", bound=BaseModel)


class BatchRefused(ValueError):
    """The request as a whole is refused (not a JSON array, empty, too many items): nothing in
    it is applied."""


def batch_of(items: Any, *, limit: int = MAX_ITEMS) -> list[Any]:
    """`items` when it is a JSON array of 1 … `limit` items, else BatchRefused saying why."""
    if not isinstance(items, list):
        raise BatchRefused("body: send a JSON array of items")
    if not items:
        raise BatchRefused("body: no items (an empty batch)")
    if len(items) > limit:
        raise BatchRefused(f"body: {len(items):,} items, at most {limit:,} per request")
    return items


def validate_items(model: type[M], items: Iterable[Any]) -> tuple[list[tuple[int, M]], list[dict]]:
    """Each item checked against `model`: ([(index, instance)], [{"index", "reason"}]).

    The whole list is validated in one call of pydantic's core (fast on large batches); an item is
    good when no error points into it."""
    items = list(items)
    adapter = _adapter(model)
    try:
        return list(enumerate(adapter.validate_python(items))), []
    except ValidationError as exc:
        reasons: dict[int, str] = {}
        for error in exc.errors(include_url=False):
            loc = error["loc"]
            if not loc or not isinstance(loc[0], int):
                raise
            reasons.setdefault(loc[0], _reason(loc[1:], error))
    kept = [index for index in range(len(items)) if index not in reasons]
    good = list(zip(kept, adapter.validate_python([items[i] for i in kept]), strict=True))
    errors = [{"index": i, "reason": r} for i, r in sorted(reasons.items())]
    return good, errors


_ADAPTERS: dict[type, TypeAdapter] = {}


def _adapter(model: type[BaseModel]) -> TypeAdapter:
    if model not in _ADAPTERS:
        _ADAPTERS[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
    return _ADAPTERS[model]


def _is_tag(part: Any) -> bool:
    """pydantic's names of union members and validators in an error's location (not fields)."""
    return isinstance(part, str) and ("-" in part or "[" in part or part in ("str", "int"))


def _reason(loc: tuple, error: Mapping[str, Any]) -> str:
    where = ".".join(str(part) for part in loc if not _is_tag(part)) or "item"
    value = error.get("input")
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "…"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message} (got {shown})" if loc else f"{where}: {message}"


# -- JSON depth, before parsing ----------------------------------------------------------------------
_CODES = np.zeros(256, dtype=np.int8)
_CODES[ord("[")] = _CODES[ord("{")] = 1
_CODES[ord("]")] = _CODES[ord("}")] = -1
_QUOTE = 2
_CODES[ord('"')] = _QUOTE


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (or JSON lines), brackets inside
    strings not counted — computed without parsing, in NumPy (C speed on 16 MiB batches)."""
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")  # escapes cannot open or close
    codes = _CODES[np.frombuffer(body, dtype=np.uint8)]
    marks = codes[np.flatnonzero(codes)]
    if not marks.size:
        return 0
    quotes = marks == _QUOTE
    inside = (np.cumsum(quotes) % 2 == 1) & ~quotes  # after an odd number of quotes: in a string
    steps = np.where(quotes | inside, 0, marks).astype(np.int64)
    return int(max(0, np.cumsum(steps).max()))


class TooDeep(ValueError):
    """A request body nested deeper than the limit."""


def check_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    depth = json_depth(body)
    if depth > limit:
        raise TooDeep(f"body: JSON nested {depth} levels deep (at most {limit})")
