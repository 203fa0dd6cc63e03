"""The monitor's other feeds (besides events): the SKU table, stock levels, ad spend per hour and
public-opinion posts, POSTed as JSON arrays by the shop's systems.

Each item is validated on its own (pydantic: types, bounds, lengths); bad items are refused one by
one with their index and reason, the good ones are stored, and the answer says both:
`{"accepted": n, "rejected": [{"index": i, "reason": "…"}]}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MAX_ITEMS = 100_000  # per request
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Fen = Annotated[int, Field(ge=0, le=10**13)]  # up to ¥1000亿


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-11-11T20:00:00+08:00")
    return value


class SkuItem(_Item):
    """One SKU of the SKU table (商品表): its stock is the count at the campaign start."""

    sku_id: Id
    name: Annotated[str, Field(max_length=200)] | None = None
    category: Annotated[str, Field(max_length=64)] | None = None
    brand: Annotated[str, Field(max_length=64)] | None = None
    price_fen: Fen | None = None
    cost_fen: Fen | None = None
    stock: Annotated[int, Field(ge=0, le=10**9)] | None = None


class StockItem(_Item):
    """A stock level counted at a moment (库存同步): units left then."""

    sku_id: Id
    stock: Annotated[int, Field(ge=0, le=10**9)]
    at: datetime

    _tz = field_validator("at")(_aware)


class SpendItem(_Item):
    """Ad spend of one channel in one hour (from the ad platform's report or API)."""

    hour: datetime
    channel: Id
    spend_fen: Fen

    _tz = field_validator("hour")(_aware)


class CouponItem(_Item):
    """Coupons issued (claimed) and redeemed in one hour, from the platform's coupon report
    (券核销报表) when the coupons are not issued by dacu's own coupon store."""

    hour: datetime
    coupon: Id
    issued: Annotated[int, Field(ge=0, le=10**9)]
    redeemed: Annotated[int, Field(ge=0, le=10**9)]

    _tz = field_validator("hour")(_aware)

    @model_validator(mode="after")
    def _fewer_redeemed(self) -> CouponItem:
        if self.redeemed > self.issued:
            raise ValueError(f"redeemed {self.redeemed} > issued {self.issued} in the hour")
        return self


class PostItem(_Item):
    """A public post about the shop (Weibo, 小红书, customer service). `positive`: the probability
    it is positive when the sender scored it; otherwise the monitor scores it."""

    time: datetime
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    source: Annotated[str, Field(max_length=32)] = ""
    author: Annotated[str, Field(max_length=64)] = ""
    positive: Annotated[float, Field(ge=0, le=1)] | None = None

    _tz = field_validator("time")(_aware)


M = TypeVar("M", bound=_Item)


def validate_items(model: type[M], items: Any) -> tuple[list[M], list[dict]]:
    """(good items, [{"index", "reason"}]) of a JSON array."""
    if not isinstance(items, list):
        return [], [{"index": None, "reason": "send a JSON array of items"}]
    if len(items) > MAX_ITEMS:
        return [], [{"index": None, "reason": f"at most {MAX_ITEMS:,} items per request"}]
    good, bad = [], []
    for index, item in enumerate(items):
        try:
            good.append(model.model_validate(item))
        except ValidationError as exc:
            bad.append({"index": index, "reason": _reason(exc)})
    return good, bad


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "item"
    return f"{where}: {first['msg']}"


def answer(accepted: int, rejected: Sequence[dict]) -> tuple[dict, int]:
    """The response body and status: 422 only when nothing was stored and something was bad."""
    status = 422 if rejected and not accepted else 200
    return {"accepted": accepted, "rejected": list(rejected)}, status


def from_warehouse(monitor: Any, warehouse: Any) -> dict[str, int]:
    """The SKU table and the campaign's ad spend per hour from the warehouse (`dacu import skus`,
    `dacu import spend` of the ad tools' reports), when it has them: {"skus": n, "spend": n}.
    Spend rows of other campaigns are left out; rows without a campaign are the shop's."""
    import pyarrow.compute as pc

    found = {"skus": 0, "spend": 0}
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
        rows = spend.filter(keep).select(["hour", "channel", "spend_fen"]).to_pylist()
        found["spend"] = monitor.add_spend(r for r in rows if r["spend_fen"] is not None)
    return found


def pa_scalar(moment: datetime, table: Any) -> Any:
    import pyarrow as pa

    return pa.scalar(moment, table.schema.field("hour").type)
