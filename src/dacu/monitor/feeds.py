"""The monitor's other feeds (besides events): the SKU table, stock levels, ad spend per hour,
coupon counts, public-opinion posts and the customer file, POSTed as JSON arrays by the shop's
systems.

The item models are built from the shared bounds of `dacu.web.batch` (`Id`, `Text`, `Amount`,
`Count`, `Instant`, `Moment`) and checked by its `validate_items`: bad items are refused one by one
with their index and reason, the good ones are stored, and the answer says both:
`{"accepted": n, "rejected": [{"index": i, "reason": "…"}]}`. Spend rows are the exception, all
or nothing (see `SpendItem`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dacu.web.batch import Amount, Count, Id, Instant, Moment, Text


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SkuItem(_Item):
    """One SKU of the SKU table (商品表): its stock is the count at the campaign start."""

    sku_id: Id
    name: Text | None = None
    category: Text | None = None
    brand: Text | None = None
    price_fen: Amount | None = None
    cost_fen: Amount | None = None
    stock: Count | None = None


class StockItem(_Item):
    """A stock level counted at a moment (库存同步): units left then."""

    sku_id: Id
    stock: Count
    at: Instant


class StockCount(_Item):
    """A line of a stock file (`dacu monitor replay --stock`): as `StockItem`, but a replay may be
    of any date, so the time is not held to the live window, and a naive one is campaign time."""

    sku_id: Id
    stock: Count
    at: datetime


class SpendItem(BaseModel):
    """Ad spend of one channel in one hour (from the ad platform's report or API); a naive hour
    is read in the campaign's time zone. Spend rows add up and carry no id, so a batch of them is
    applied all or nothing (a partial apply and a retry would count the good rows twice)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    hour: Moment
    channel: Id
    spend_fen: Amount
    impressions: Count | None = None  # 展现量 and 点击量, when the report has them: CPC/CPM/CTR
    clicks: Count | None = None


class CouponItem(_Item):
    """Coupons issued (claimed) and redeemed in one hour, from the platform's coupon report
    (券核销报表) when the coupons are not issued by dacu's own coupon store."""

    hour: Instant
    coupon: Id
    issued: Count
    redeemed: Count

    @model_validator(mode="after")
    def _fewer_redeemed(self) -> CouponItem:
        if self.redeemed > self.issued:
            raise ValueError(f"redeemed {self.redeemed} > issued {self.issued} in the hour")
        return self


class CustomerItem(_Item):
    """A customer of the shop's customer file (会员/客户表): when it first bought (首购时间; a naive
    time is campaign time). The fraud watch counts account ages from it: a customer of three
    years whose first visit of the campaign ends in an order within the minute is no 新号."""

    user_id: Id
    first_purchase: datetime | None = None


def customer_rows(items: Sequence[CustomerItem], tz: Any) -> list[tuple[str, datetime]]:
    """(user_id, aware first purchase) of the items that have one, naive times read in `tz`."""
    return [
        (
            c.user_id,
            c.first_purchase if c.first_purchase.tzinfo else c.first_purchase.replace(tzinfo=tz),
        )
        for c in items
        if c.first_purchase is not None
    ]


class PostItem(_Item):
    """A public post about the shop (Weibo, 小红书, customer service). `positive`: the probability
    it is positive when the sender scored it; otherwise the monitor scores it."""

    time: Instant
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    source: Annotated[str, Field(max_length=32)] = ""
    author: Annotated[str, Field(max_length=64)] = ""
    positive: Annotated[float, Field(ge=0, le=1)] | None = None


def answer(accepted: int, rejected: Sequence[dict]) -> tuple[dict, int]:
    """The response body and status: 422 only when nothing was stored and something was bad."""
    status = 422 if rejected and not accepted else 200
    return {"accepted": accepted, "rejected": list(rejected)}, status


def from_warehouse(monitor: Any, warehouse: Any) -> dict[str, int]:
    """The SKU table, the campaign's ad spend per hour and the customer file from the warehouse
    (`dacu import skus`, `dacu import spend` of the ad tools' reports, `dacu import customers`),
    when it has them: {"skus": n, "spend": n, "customers": n}. Spend rows of other campaigns are
    left out; rows without a campaign are the shop's."""
    import pyarrow.compute as pc

    from dacu.analyze.fraud.features import known_from_customers

    found = {"skus": 0, "spend": 0, "customers": 0}
    if warehouse.has_table("customers"):
        known = known_from_customers(
            warehouse.to_arrow(warehouse.table("customers")), monitor.campaign.tz
        )
        found["customers"] = monitor.add_customers(
            list(zip(known["user_id"].to_pylist(), known["first_seen"].to_pylist(), strict=True))
        )
    if warehouse.has_table("skus"):
        rows = warehouse.to_arrow(warehouse.table("skus")).to_pylist()
        found["skus"] = monitor.set_skus(
            {k: v for k, v in r.items() if v is not None} for r in rows
        )
    if warehouse.has_table("spend"):
        spend = warehouse.to_arrow(warehouse.table("spend"))
        start = monitor.campaign.start
        keep = pc.greater_equal(spend["hour"], pa_scalar(start, spend))
        if "campaign_id" in spend.column_names:
            mine = pc.or_kleene(
                pc.is_null(spend["campaign_id"]),
                pc.equal(spend["campaign_id"], monitor.campaign.id),
            )
            keep = pc.and_(keep, mine)
        columns = ["hour", "channel", "spend_fen", "impressions", "clicks"]
        rows = spend.filter(keep).select(columns).to_pylist()
        found["spend"] = monitor.add_spend(r for r in rows if r["spend_fen"] is not None)
    return found


def pa_scalar(moment: datetime, table: Any) -> Any:
    import pyarrow as pa

    return pa.scalar(moment, table.schema.field("hour").type)
