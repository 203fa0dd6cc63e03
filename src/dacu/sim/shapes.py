"""`dacu sim --as orders+traffic`: the simulated store in the shapes a Tmall shop downloads.

From the simulated events (the world's clickstream, which a real platform keeps to itself) this
writes, into `OUT/shop/`:

- `orders.csv` — the order export in the Tmall layout (订单编号, 买家会员名, 总金额, 买家实际支付金额,
  收货地址, 订单创建时间, 订单付款时间, 退款金额, 退款时间, 宝贝总数量, 商家编码): one row per order, the
  order's lines summed; 买家实际支付金额 is net of refunds as in the real export;
- `traffic_day.csv`, `traffic_hour.csv` — 生意参谋 traffic by day / hour × 流量来源 (the campaign's
  channel names) plus a 全店 row per period, computed with dacu's own KPI definitions (visitors,
  page views, bounce, paying buyers, paid amount, cart users), as the platform computes its own;
- `spend_<tool>.csv` — each ad tool's hourly report (日期, 计划ID, 展现量, 点击量, 花费).

`dacu import orders shop/orders.csv --preset tmall`, `dacu import traffic shop/traffic_day.csv`
and `dacu import spend shop/spend_直通车.csv --tool 直通车` load it back.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

TRAFFIC_HEADER = [
    "统计日期",
    "流量来源",
    "访客数",
    "浏览量",
    "跳失率",
    "支付买家数",
    "支付金额",
    "加购人数",
]


def _yuan(fen: int | None) -> str:
    fen = int(fen or 0)
    return f"{fen // 100}.{fen % 100:02d}"


def orders_csv(events: Path, path: Path, tz: str) -> int:
    """The Tmall-layout order export of the simulated orders; returns the rows written."""
    local = f"strftime(timezone('{tz}', {{}}), '%Y-%m-%d %H:%M:%S')"
    sql = f"""
        SELECT order_id AS 订单编号, any_value(user_id) AS 买家会员名,
            sum(amount_fen) FILTER (WHERE event = 'order') AS total,
            sum(amount_fen) FILTER (WHERE event = 'pay') AS paid,
            coalesce(sum(amount_fen) FILTER (WHERE event = 'refund'), 0) AS refund,
            any_value(region) AS 收货地址,
            {local.format("min(ts) FILTER (WHERE event = 'order')")} AS 订单创建时间,
            {local.format("min(ts) FILTER (WHERE event = 'pay')")} AS 订单付款时间,
            {local.format("max(ts) FILTER (WHERE event = 'refund')")} AS 退款时间,
            sum(quantity) FILTER (WHERE event = 'order') AS 宝贝总数量,
            min(sku_id) FILTER (WHERE event = 'order') AS 商家编码
        FROM read_parquet('{events}')
        WHERE event IN ('order', 'pay', 'refund') AND order_id IS NOT NULL
        GROUP BY order_id HAVING count(*) FILTER (WHERE event = 'order') > 0
        ORDER BY 订单创建时间, order_id"""
    rows = duckdb.sql(sql).fetchall()
    header = [
        "订单编号",
        "买家会员名",
        "总金额",
        "买家实际支付金额",
        "收货地址",
        "订单创建时间",
        "订单付款时间",
        "退款金额",
        "退款时间",
        "宝贝总数量",
        "商家编码",
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for oid, user, total, paid, refund, region, created, paid_at, refund_at, qty, sku in rows:
            net = (paid or 0) - refund if paid_at else 0
            writer.writerow(
                [
                    oid,
                    user,
                    _yuan(total),
                    _yuan(net),
                    region or "",
                    created,
                    paid_at or "",
                    _yuan(refund),
                    refund_at or "",
                    qty or "",
                    sku or "",
                ]
            )
    return len(rows)


def traffic_csv(wh: Any, path: Path, grain: str, campaign: Any) -> int:
    """生意参谋 traffic by `grain` (day or hour) × source, plus the 全店 row of each period."""
    from dacu.metrics.kpi import kpis

    names = {c.id: c.name or c.id for c in campaign.channels}
    time_dim = "day" if grain == "day" else "hour"
    total = wh.to_arrow(kpis(wh.events(), by=(time_dim,), campaign=campaign)).to_pylist()
    split = wh.to_arrow(kpis(wh.events(), by=(time_dim, "channel"), campaign=campaign))
    rows = [("全店", r) for r in total] + [
        (names.get(r["channel"], r["channel"]), r) for r in split.to_pylist()
    ]
    header = TRAFFIC_HEADER if grain == "day" else ["时间", *TRAFFIC_HEADER[1:]]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for source, r in rows:
            if not r["uv"]:
                continue
            period = r[time_dim]
            when = (
                str(period)
                if grain == "day"
                else period.astimezone(ZoneInfo(campaign.timezone)).strftime("%Y-%m-%d %H:%M")
            )
            bounce = r["bounce_rate"]
            writer.writerow(
                [
                    when,
                    source,
                    r["uv"],
                    r["pv"],
                    f"{bounce * 100:.4f}%" if bounce is not None else "",
                    r["buyers"],
                    _yuan(r["paid_gmv_fen"]),
                    r["cart_users"],
                ]
            )
    return len(rows)


def spend_csvs(spend: Path, folder: Path, campaign: Any) -> list[Path]:
    """One report per ad tool (the campaign's channel name): hourly rows of its one plan."""
    tz = campaign.timezone
    rows = duckdb.sql(
        f"SELECT coalesce(tool, channel), strftime(timezone('{tz}', hour), '%Y-%m-%d %H:%M'), "
        f"impressions, clicks, spend_fen FROM read_parquet('{spend}') ORDER BY 1, 2"
    ).fetchall()
    written: dict[str, Any] = {}
    try:
        for tool, hour, impressions, clicks, spend_fen in rows:
            if tool not in written:
                path = folder / f"spend_{tool}.csv"
                handle = path.open("w", encoding="utf-8", newline="")
                written[tool] = (path, handle, csv.writer(handle))
                written[tool][2].writerow(["日期", "计划ID", "展现量", "点击量", "花费"])
            written[tool][2].writerow([hour, "sim", impressions, clicks, _yuan(spend_fen)])
    finally:
        for _path, handle, _writer in written.values():
            handle.close()
    return [path for path, _h, _w in written.values()]


def write_shop_exports(out: Path, campaign: Any) -> dict[str, Path]:
    """Write OUT/shop/ from OUT/events.parquet and OUT/spend.parquet (module doc)."""
    from dacu.warehouse import open_warehouse
    from dacu.warehouse.importers import import_events

    folder = Path(out) / "shop"
    folder.mkdir(parents=True, exist_ok=True)
    written = {"orders": folder / "orders.csv"}
    orders_csv(Path(out) / "events.parquet", written["orders"], campaign.timezone)
    wh = open_warehouse("duckdb://:memory:")
    try:
        import_events(wh, Path(out) / "events.parquet")
        for grain in ("day", "hour"):
            written[f"traffic_{grain}"] = folder / f"traffic_{grain}.csv"
            traffic_csv(wh, written[f"traffic_{grain}"], grain, campaign)
    finally:
        wh.close()
    for path in spend_csvs(Path(out) / "spend.parquet", folder, campaign):
        written[path.stem] = path
    return written
