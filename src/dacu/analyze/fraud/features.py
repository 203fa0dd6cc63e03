"""Fraud features per customer (风控特征), as Ibis expressions: the engine reduces, Python models.

`customer_features(events)` returns one row per customer who placed an order in the window, with
the columns of `FEATURE_COLUMNS` (counts, seconds, fen). Behaviour the features catch:

- 下单前无浏览 orders whose session has no pv/click/cart (a script calling the order API);
- 秒付 order-to-pay seconds (scripts pay within seconds; people take minutes); pays stamped with
  the order's own time (a source with one "buy" event) are not timings and are left out;
- 新号即下单 seconds from the account's first event to its first order (0 for an API account),
  and `observed_seconds`, how much of the table lies before that order (a short slice of a log
  cannot tell a new account from an old one);
- 同款同价同时段 identical baskets: accounts ordering the same SKU at the same amount in the same
  hour from the same region and device type (a farm or a ring acting together);
- 单品集中 orders of one SKU only, at full price, with coupon redemptions and refunds counted.

The same expressions run on DuckDB (default) or Spark through Ibis.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import ibis.selectors

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

BROWSE = ("impression", "click", "pv", "cart", "fav")
FEATURE_COLUMNS = (
    "user_id",
    "orders",
    "paid_orders",
    "refunds",
    "paid_fen",
    "refund_fen",
    "views",
    "carts",
    "coupon_orders",
    "orders_no_browse",
    "distinct_skus",
    "top_sku_orders",
    "mean_pay_seconds",
    "min_pay_seconds",
    "account_age_seconds",
    "observed_seconds",
    "basket_peers",
    "basket_expected",
    "baskets",
    "device",
    "region",
    "top_sku",
)


def _window(events: ir.Table, start: datetime | None, end: datetime | None) -> ir.Table:
    if start is not None:
        events = events.filter(events.ts >= start)
    if end is not None:
        events = events.filter(events.ts < end)
    return events


def _counts(ev: ir.Table) -> ir.Table:
    e = ev.event
    return ev.group_by("user_id").agg(
        orders=(e == "order").sum().cast("int64"),
        paid_orders=(e == "pay").sum().cast("int64"),
        refunds=(e == "refund").sum().cast("int64"),
        paid_fen=ibis.ifelse(e == "pay", ev.amount_fen, 0).sum().cast("int64"),
        refund_fen=ibis.ifelse(e == "refund", ev.amount_fen, 0).sum().cast("int64"),
        views=e.isin(("pv", "click")).sum().cast("int64"),
        carts=(e == "cart").sum().cast("int64"),
        coupon_orders=((e == "order") & ev.variant.startswith("coupon"))
        .fill_null(False)
        .sum()
        .cast("int64"),
        device=ev.device.max(),
        region=ev.region.max(),
    )


def _no_browse(ev: ir.Table, history: ir.Table) -> ir.Table:
    """Orders of the window `ev` in sessions without any browsing event, before the window
    (`history`) or in it: a session that browsed at 23:56 and ordered at 00:00 browsed, though
    the day scored starts at midnight (on the day after the peak, every such shopper read as a
    script)."""
    session = ibis.coalesce(ev.session_id, "")
    per = ev.group_by(["user_id", session.name("session")]).agg(ordered=(ev.event == "order").sum())
    per = per.filter(per.ordered > 0)
    seen = history.filter(history.event.isin(BROWSE))
    browsed = (
        seen.select("user_id", session=ibis.coalesce(seen.session_id, ""))
        .distinct()
        .mutate(browsed=ibis.literal(True))
    )
    joined = per.left_join(browsed, ["user_id", "session"])
    return joined.group_by("user_id").agg(
        orders_no_browse=ibis.ifelse(joined.browsed.isnull(), joined.ordered, 0).sum().cast("int64")
    )


def _skus(orders: ir.Table) -> ir.Table:
    per = orders.group_by(["user_id", "sku_id"]).agg(n=orders.count())
    ranked = per.mutate(
        rank=ibis.row_number().over(group_by=per.user_id, order_by=[ibis.desc(per.n), per.sku_id])
    )
    top = ranked.filter(ranked.rank == 0).select(
        "user_id", top_sku="sku_id", top_sku_orders=ranked.n.cast("int64")
    )
    width = per.group_by("user_id").agg(distinct_skus=per.sku_id.nunique().cast("int64"))
    return width.join(top, "user_id")


def _pay_timing(orders: ir.Table, ev: ir.Table) -> ir.Table:
    pays = ev.filter(ev.event == "pay").group_by("order_id").agg(pay_ts=ev.ts.min())
    first = orders.group_by(["order_id", "user_id"]).agg(order_ts=orders.ts.min())
    j = first.join(pays, "order_id")
    secs = j.pay_ts.epoch_seconds() - j.order_ts.epoch_seconds()
    j = j.filter(secs > 0)  # a pay stamped with the order's time (Taobao "buy") is not a timing
    secs = j.pay_ts.epoch_seconds() - j.order_ts.epoch_seconds()
    return j.group_by("user_id").agg(
        mean_pay_seconds=secs.mean().cast("float64"), min_pay_seconds=secs.min().cast("float64")
    )


BASKET = ("sku_id", "amount_fen", "hour", "region", "device")


def _baskets(orders: ir.Table, exclude_skus: Sequence[str]) -> ir.Table:
    """One row per (customer, basket): a basket is an order's SKU, amount, hour, region and
    device type. With it, `peers` (the accounts that placed it), `expected` (the accounts
    expected to, were the buyers of that SKU, amount and hour spread over regions and devices as
    the window's orders are: on a peak day hundreds buy a bestseller in an hour, and dozens of
    them share a province and a phone by chance) and `baskets` (how many were tested, for the
    multiple-testing correction). Flash-sale SKUs are left out: identical baskets are their
    nature."""
    mix = orders.group_by(["region", "device"]).agg(n=orders.count())
    mix = mix.mutate(share=mix.n.cast("float64") / mix.n.sum().over())
    if exclude_skus:
        orders = orders.filter(~orders.sku_id.isin(list(exclude_skus)))
    key = orders.mutate(hour=orders.ts.truncate("h"))
    peers = key.group_by(list(BASKET)).agg(peers=key.user_id.nunique())
    buyers = key.group_by(["sku_id", "amount_fen", "hour"]).agg(buyers=key.user_id.nunique())
    peers = peers.join(buyers, ["sku_id", "amount_fen", "hour"]).join(mix, ["region", "device"])
    peers = peers.select(
        *BASKET,
        peers=peers.peers.cast("int64"),
        expected=peers.buyers.cast("float64") * peers.share,
        baskets=peers.peers.count().over().cast("int64"),
    )
    mine = key.select("user_id", *BASKET).distinct()
    return mine.join(peers, list(BASKET))


def _basket_peers(orders: ir.Table, exclude_skus: Sequence[str]) -> ir.Table:
    """Per customer: its most unusual basket (`_baskets`) — its `basket_peers`,
    `basket_expected` and the window's `baskets`; the most unusual by the Poisson
    log-likelihood ratio, the exact test being the rule's (`dacu.analyze.fraud.score`)."""
    b = _baskets(orders, exclude_skus)
    surprise = ibis.ifelse(
        b.peers > b.expected,
        b.peers * (b.peers / b.expected).ln() - (b.peers - b.expected),
        0.0,
    )
    ranked = b.mutate(
        rank=ibis.row_number().over(
            group_by=b.user_id, order_by=[ibis.desc(surprise), ibis.desc(b.peers), b.sku_id]
        )
    )
    top = ranked.filter(ranked["rank"] == 0)
    return top.select(
        "user_id",
        basket_peers=top.peers,
        basket_expected=top.expected,
        baskets=top.baskets.cast("int64"),
    )


def customer_features(
    events: ir.Table,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    exclude_skus: Sequence[str] = (),
    known: ir.Table | None = None,
) -> ir.Table:
    """One row per customer with an order in [start, end): the columns of `FEATURE_COLUMNS`.

    `account_age_seconds` counts from the customer's first event in the whole table (history
    included), or its first sighting in `known` (user_id, first_seen: the shop's customer file,
    a live watch's account ages) when earlier, to the first order in the window.
    """
    return window_features(events, _window(events, start, end), exclude_skus, known)


def _first_seen(events: ir.Table, known: ir.Table | None) -> ir.Table:
    seen = events.group_by("user_id").agg(first_seen=events.ts.min())
    if known is None:
        return seen
    earlier = known.select(
        user_id=known.user_id.cast(events.user_id.type()),
        first_seen=known.first_seen.cast(events.ts.type()),
    )
    both = seen.union(earlier)
    return both.group_by("user_id").agg(first_seen=both.first_seen.min())


def window_features(
    events: ir.Table, ev: ir.Table, exclude_skus: Sequence[str], known: ir.Table | None = None
) -> ir.Table:
    """`customer_features` of the window `ev` (events already cut to it), `events` being the
    history (every event the account ages are counted from) and `known` earlier sightings."""
    orders = ev.filter(ev.event == "order")
    first_seen = _first_seen(events, known)
    # the origin as a window over all accounts, not a cross join with a one-row aggregate: on
    # Arrow tables (no statistics) DuckDB ordered that join as buyers × accounts, then joined
    # on user_id — 3.9×10⁸ rows and 12 s for a 200,000-event hour, growing with the square
    first_seen = first_seen.mutate(origin=first_seen.first_seen.min().over(ibis.window()))
    first_order = orders.group_by("user_id").agg(first_order=orders.ts.min())
    age = first_order.join(first_seen, "user_id")
    age = age.select(
        "user_id",
        account_age_seconds=(age.first_order.epoch_seconds() - age.first_seen.epoch_seconds()).cast(
            "float64"
        ),
        observed_seconds=(age.first_order.epoch_seconds() - age.origin.epoch_seconds()).cast(
            "float64"
        ),
    )
    buyers = age.join(_counts(ev), "user_id").join(_no_browse(ev, events), "user_id")
    buyers = buyers.join(_skus(orders), "user_id")
    buyers = buyers.left_join(_basket_peers(orders, exclude_skus), "user_id").select(
        ~ibis.selectors.endswith("_right")
    )
    buyers = buyers.left_join(_pay_timing(orders, ev), "user_id").select(
        ~ibis.selectors.endswith("_right")
    )
    return (
        buyers.mutate(
            basket_peers=buyers.basket_peers.fill_null(0),
            basket_expected=buyers.basket_expected.fill_null(0.0),
            baskets=buyers.baskets.fill_null(0),
        )
        .select(*FEATURE_COLUMNS)
        .order_by("user_id")
    )


def basket_links(
    events: ir.Table,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    exclude_skus: Sequence[str] = (),
) -> ir.Table:
    """(user_id, link) pairs: a link is one identical basket — SKU, amount, hour, region and
    device type of an order. Accounts sharing a link are joined in the account graph."""
    return window_links(_window(events, start, end), exclude_skus)


def window_links(ev: ir.Table, exclude_skus: Sequence[str]) -> ir.Table:
    """`basket_links` of the window `ev` (events already cut to it): (user_id, link) with the
    basket's `peers`, `expected` and the window's `baskets` (`_baskets`), so that only unusual
    baskets join accounts (`dacu.analyze.fraud.score.unusual_links`)."""
    b = _baskets(ev.filter(ev.event == "order"), exclude_skus)
    link = ibis.literal("basket:").concat(
        b.sku_id.fill_null(""),
        "|",
        b.amount_fen.cast("string").fill_null(""),
        "|",
        b.hour.epoch_seconds().cast("int64").cast("string"),
        "|",
        b.region.fill_null(""),
        "|",
        b.device.fill_null(""),
    )
    return b.select("user_id", link=link, peers=b.peers, expected=b.expected, baskets=b.baskets)


def known_schema() -> pa.Schema:
    """Account ages known beyond the events (`customer_features`' `known`): when the shop
    first saw each account — its customer file's first purchase, a live watch's earlier days."""
    import pyarrow as pa

    return pa.schema([("user_id", pa.string()), ("first_seen", pa.timestamp("us", tz="UTC"))])


def known_from_customers(customers: pa.Table, tz: Any) -> pa.Table:
    """The shop's customer file (user_id, first_purchase: 首购时间) as `known` account ages;
    customers without a first purchase are left out, and a time without a zone (a CSV export's
    "2025-03-01 12:00:00") is read in `tz`, the campaign's zone, not as UTC."""
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = known_schema()
    if "first_purchase" not in customers.column_names or customers.num_rows == 0:
        return schema.empty_table()
    bought = customers.filter(pc.is_valid(customers["first_purchase"]))
    first = bought["first_purchase"]
    if not pa.types.is_timestamp(first.type):
        first = pc.cast(first, pa.timestamp("us"))
    if first.type.tz is None:
        first = pc.assume_timezone(first, timezone=_arrow_zone(tz))
    return pa.table(
        {
            "user_id": pc.cast(bought["user_id"], pa.string()),
            "first_seen": first.cast(schema.field("first_seen").type),
        },
        schema,
    )


def _arrow_zone(tz: Any) -> str:
    """A zone as Arrow names it: the IANA key of a ZoneInfo, "+08:00" for a fixed offset."""
    key = getattr(tz, "key", None)
    if key:
        return str(key)
    minutes = int(tz.utcoffset(None).total_seconds() // 60)
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class CompiledFeatures:
    """`customer_features` and `basket_links` compiled once to DuckDB SQL and run on Arrow tables.

    The live fraud watch scores the day so far every 15 minutes with the same expressions on new
    data; compiling them (Ibis → SQL) cost more than running them. `run(history, window)` takes the
    events already cut to the window in Arrow, so the SQL has no time literals and never changes.
    """

    def __init__(self, schema: pa.Schema, exclude_skus: Sequence[str] = ()) -> None:
        self.schema = schema
        self.exclude_skus = tuple(exclude_skus)
        self._backend = ibis.duckdb.connect()  # ibis's session settings (UTC) for the same results
        history = ibis.table(ibis.schema(schema), name="history")
        window = ibis.table(ibis.schema(schema), name="span")
        known = ibis.table(ibis.Schema.from_pyarrow(known_schema()), name="known")
        features = window_features(history, window, exclude_skus, known)
        links = window_links(window, exclude_skus)
        self._features = (self._backend.compile(features), features)
        self._links = self._backend.compile(links)

    def run(
        self, history: pa.Table, window: pa.Table, known: pa.Table | None = None
    ) -> tuple[pd.DataFrame, pa.Table]:
        """(features as `customer_features(...).to_pandas()` gives them, the links as
        `basket_links` gives them); `known`: earlier sightings of accounts (`known_schema`)."""
        con = self._backend.con
        con.register("history", history)
        con.register("span", window)
        con.register("known", known if known is not None else known_schema().empty_table())
        try:
            return self.run_on(con)
        finally:
            for name in ("history", "span", "known"):
                con.unregister(name)

    def run_on(self, con: Any) -> tuple[pd.DataFrame, pa.Table]:
        """`run` on a DuckDB connection (session time zone UTC, as Ibis's) where `history`,
        `span` and `known` are already tables or views: the live fraud watch's day lies in a
        database of its own (`dacu.monitor.fraud_day`), not in Arrow."""
        from ibis.backends.duckdb.converter import DuckDBPandasData

        sql, expr = self._features
        table = con.sql(sql).to_arrow_table()
        links = con.sql(self._links).to_arrow_table()
        frame = expr.__pandas_result__(DuckDBPandasData.convert_table(_frame(table), expr.schema()))
        return frame, links

    def close(self) -> None:
        self._backend.disconnect()


def _frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow result as a DataFrame the way Ibis's DuckDB backend builds one (`execute`)."""
    import pandas as pd
    import pyarrow.types as pat

    return pd.DataFrame(
        {
            name: (
                col.to_pylist()
                if pat.is_nested(col.type) or pat.is_dictionary(col.type) or col.null_count
                else col.to_pandas()
            )
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
    )
