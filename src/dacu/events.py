"""The event contract: one row per event, append-only, idempotent by `event_id`.

Timestamps are stored in UTC with the zone (`timestamp[us, tz=UTC]`); campaigns are read in
Asia/Shanghai. Money is integer fen (`amount_fen`), present on order, pay and refund events.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa


class EventType(StrEnum):
    IMPRESSION = "impression"
    CLICK = "click"
    PV = "pv"
    CART = "cart"
    FAV = "fav"
    ORDER = "order"
    PAY = "pay"
    REFUND = "refund"


EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)
MONEY_EVENTS = frozenset({"order", "pay", "refund"})

EVENT_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("session_id", pa.string()),
        pa.field("event", pa.string(), nullable=False),
        pa.field("channel", pa.string()),
        pa.field("campaign_id", pa.string()),
        pa.field("sku_id", pa.string()),
        pa.field("category", pa.string()),
        pa.field("quantity", pa.int32()),
        pa.field("amount_fen", pa.int64()),
        pa.field("order_id", pa.string()),
        pa.field("device", pa.string()),
        pa.field("region", pa.string()),
        pa.field("creative_id", pa.string()),
        pa.field("variant", pa.string()),
    ]
)
REQUIRED_FIELDS: tuple[str, ...] = ("event_id", "ts", "user_id", "event")

SKU_SCHEMA = pa.schema(
    [
        pa.field("sku_id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("category", pa.string()),
        pa.field("brand", pa.string()),
        pa.field("price_fen", pa.int64()),
        pa.field("cost_fen", pa.int64()),
        pa.field("stock", pa.int64()),
    ]
)

SPEND_SCHEMA = pa.schema(
    [
        pa.field("hour", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("campaign_id", pa.string()),
        pa.field("spend_fen", pa.int64()),
        pa.field("impressions", pa.int64()),
        pa.field("clicks", pa.int64()),
        pa.field("tool", pa.string()),  # the ad tool of the report: 直通车, 引力魔方, 淘宝客 …
        pa.field("plan_id", pa.string()),  # its campaign/plan (推广计划) id; "" when not given
        pa.field("attributed_gmv_fen", pa.int64()),  # 成交金额 the tool attributes to itself
    ]
)
SPEND_KEY = ("hour", "tool", "plan_id")  # one row of an ad-tool report; a re-import replaces it

CUSTOMER_SCHEMA = pa.schema(
    [
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("first_purchase", pa.timestamp("us", tz="UTC")),
        pa.field("member_tier", pa.string()),
        pa.field("region", pa.string()),
    ]
)

# 生意参谋-style traffic aggregates: one row per period (day, hour or minute) and traffic source.
# A row of source "" and channel "all" is the shop total of its period (visitors counted once).
TRAFFIC_SCHEMA = pa.schema(
    [
        pa.field("period", pa.timestamp("us", tz="UTC"), nullable=False),  # start of the period
        pa.field("grain", pa.string(), nullable=False),  # day, hour or minute
        pa.field("source", pa.string(), nullable=False),  # 流量来源 as the report names it
        pa.field("channel", pa.string()),  # its channel id (campaign names/kinds), "all" = total
        pa.field("uv", pa.int64()),  # 访客数
        pa.field("pv", pa.int64()),  # 浏览量
        pa.field("bounce_rate", pa.float64()),  # 跳失率 (0..1)
        pa.field("buyers", pa.int64()),  # 支付买家数
        pa.field("paid_fen", pa.int64()),  # 支付金额
        pa.field("cart_users", pa.int64()),  # 加购人数
    ]
)
TRAFFIC_KEY = ("period", "grain", "source")

REFERENCE_SCHEMAS: dict[str, pa.Schema] = {
    "events": EVENT_SCHEMA,
    "skus": SKU_SCHEMA,
    "spend": SPEND_SCHEMA,
    "customers": CUSTOMER_SCHEMA,
    "traffic": TRAFFIC_SCHEMA,
}
