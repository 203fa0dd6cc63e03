"""`dacu monitor …`: replay events into the live monitor, check alert rules, test notifications."""

from __future__ import annotations

import itertools
import json
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import typer
from rich.console import Console

from dacu.errors import ConfigError, InputError

if TYPE_CHECKING:
    from pydantic import BaseModel

Item = TypeVar("Item", bound="BaseModel")  # a feed's item model (dacu.monitor.feeds)

console = Console()
monitor_app = typer.Typer(
    help="实时监控 Live monitoring: replay, alert rules, notifications.", no_args_is_help=True
)
CAMPAIGN = typer.Option(..., "--campaign", "-c", help="Campaign YAML file (alerts:, notify:).")


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")


def _records(batch: pa.Table) -> list[dict]:
    rows = batch.to_pylist()
    for row in rows:
        row["ts"] = row["ts"].isoformat()
        for key in [k for k, v in row.items() if v is None]:
            del row[key]
    return rows


@monitor_app.command("replay")
def replay(
    campaign: Path = CAMPAIGN,
    events: Path = typer.Option(..., "--events", "-e", help="events.parquet (EVENT_SCHEMA)."),
    plan: Path | None = typer.Option(
        None, "--plan", help="plan.json: pacing, plan rules and the plan's risk triggers."
    ),
    skus: Path | None = typer.Option(None, "--skus", help="skus.parquet for stock watches."),
    out: Path = typer.Option(
        Path("monitor-data"),
        "--out",
        help="Folder for segments, rollups and the alert log (alerts.json); a previous "
        "replay's are replaced.",
    ),
    since: str | None = typer.Option(
        None, "--since", help="Replay from this time (ISO, Asia/Shanghai)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Replay up to (not including) this time (ISO, Asia/Shanghai)."
    ),
    backfill: bool = typer.Option(
        True,
        "--backfill/--no-backfill",
        help="With --since: load the campaign's events before it "
        "first, without alerts (campaign-to-date, baselines).",
    ),
    history: bool = typer.Option(
        True,
        "--history/--no-history",
        help="With --since: load what the rules compare with from before the campaign, "
        "without alerts (last year's same window for last_year rules, 7 baseline days).",
    ),
    step: str = typer.Option(
        "10s", "--step", help="Evaluate the rules every STEP of event time (10s live, 10m fast)."
    ),
    speed: float = typer.Option(
        0.0, "--speed", help="Data seconds per real second (0 = flat out)."
    ),
    batch: int = typer.Option(5000, "--batch", help="Events per collector batch."),
    notify: bool = typer.Option(False, "--notify/--no-notify", help="Send notifications."),
    store: str | None = typer.Option(
        None,
        "--store",
        "-s",
        help="The campaign's coupon/flash-sale store "
        "(sqlite:///path or redis://…): coupon and flash "
        "watches, coupon refusals in the root cause.",
    ),
    posts: Path | None = typer.Option(
        None, "--posts", help="Public posts (CSV/JSON: time, source, text, author): 负面舆情爆发."
    ),
    coupons: Path | None = typer.Option(
        None,
        "--coupons",
        help="Coupons per hour (CSV/JSON: hour, coupon, issued, redeemed): 分时段发券建议.",
    ),
    stock: Path | None = typer.Option(
        None,
        "--stock",
        help="Stock counts over time (CSV/JSON: sku_id, stock, at — the stock.csv `dacu sim` "
        "writes), each fed when the replay reaches its time: 断货 from the count, not the orders.",
    ),
    customers: Path | None = typer.Option(
        None,
        "--customers",
        help="The customer file (parquet/CSV/JSON: user_id, first_purchase — the customers.parquet "
        "`dacu sim` writes): account ages for the fraud watch, so loyal customers are no 新号.",
    ),
    alerts_out: Path | None = typer.Option(
        None, "--alerts", help="Write the alert log here (JSON), e.g. for `dacu report review`."
    ),
) -> None:
    """Replay events through the collector → rollups → rules → root cause → playbook, in event time.

    Prints each alert as it opens, with its root cause, and writes the alert log to
    OUT/alerts.json for `dacu report review --alerts`. The peak day of Double 11, as the demo
    replays it:

      dacu monitor replay -c examples/double11.yaml -e sim/events.parquet --plan plan.json \\
          --skus sim/skus.parquet --stock sim/stock.csv --customers sim/customers.parquet \\
          --since 2026-11-11T00:00 --until 2026-11-12T00:00 --step 10m
    """
    from dacu.config import load_campaign
    from dacu.monitor.live import LiveMonitor
    from dacu.monitor.notifiers import Notifier, load_targets
    from dacu.monitor.replay import fresh_folder, replay_wall, run_replay, write_alert_log
    from dacu.monitor.rules import parse_duration

    config = load_campaign(campaign)
    start = _moment(since, config.timezone, "--since") if since else None
    end = _moment(until, config.timezone, "--until") if until else None
    if start and end and end <= start:
        raise ConfigError(f"--until {until}: must be after --since {since}")
    try:
        every = parse_duration(step)
    except ValueError as exc:
        raise ConfigError(f"--step: {exc}") from None
    table = _read_events(events)
    notifier = (
        Notifier(load_targets(list(config.notify), source=str(campaign)))
        if notify and config.notify
        else None
    )
    coupon_store = _open_coupons(store, config) if store else None  # a bad URL fails before --out
    loaded_plan = _checked_plan(plan, config.timezone) if plan else None
    levels = read_stock(stock, config.timezone) if stock else []
    fresh_folder(out)
    monitor = LiveMonitor(
        config,
        out,
        plan=loaded_plan,
        skus=pq.read_table(skus).to_pylist() if skus else (),
        notifier=notifier,
        step=every,
        wall=replay_wall(table),
    )
    if coupon_store is not None:
        from dacu.monitor.live import recent_audit

        monitor.flash_audit = recent_audit(coupon_store, monitor)
    if customers is not None:
        from dacu.monitor.feeds import CustomerItem, customer_rows

        monitor.add_customers(customer_rows(read_items(customers, CustomerItem), config.tz))
    if posts is not None:
        monitor.add_posts(read_post_items(posts, config.timezone))
    if coupons is not None:
        from dacu.monitor.feeds import CouponItem

        monitor.add_coupon_counts(read_items(coupons, CouponItem))
    earlier, replayed = run_replay(
        monitor,
        table,
        since=start,
        until=end,
        backfill=backfill,
        history=history,
        feed=lambda m, t: _feed(m, t, batch=batch, speed=speed, levels=levels),
    )
    if start and (backfill or history):
        console.print(
            f"backfilled {earlier:,} events before {since} (no alerts): "
            + ", ".join(
                [
                    *(["the campaign since its start"] if backfill else []),
                    *(["history"] if history else []),
                ]
            ),
            markup=False,
        )
    monitor.close()
    log = write_alert_log(monitor, out)
    opened = [f for f in monitor.feed if f["kind"] == "opened"]
    console.print(
        f"replayed {replayed:,} events; {len(opened)} alerts opened; "
        f"{len(monitor.bots.bots)} bot users suppressed; rollups in {out}; alert log {log}",
        markup=False,
    )
    if monitor.flash_audit is not None:
        _print_coupons(monitor.flash_audit())
    if alerts_out is not None:
        rows = monitor.alert_log.recent(config.id, limit=100_000)[::-1]
        alerts_out.write_text(
            json.dumps(rows, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
        )
        console.print(f"alert log: {alerts_out}", markup=False)


def read_post_items(path: Path, tz: str) -> list:
    """Posts of a CSV/JSON file (`dacu.analyze.sentiment.data.read_posts`) as the posts feed
    takes them."""
    from dacu.analyze.sentiment.data import read_posts
    from dacu.monitor.feeds import PostItem

    return [
        PostItem(time=p.time, text=p.text, source=p.source, author=p.author)
        for p in read_posts(path, tz=tz)
    ]


def read_items(path: Path, model: type[Item]) -> list[Item]:
    """Items of a CSV, JSON or parquet file validated as a feed validates them; the first bad
    one is an error naming the file, line (row of a parquet file) and field."""
    import csv

    from dacu.web.batch import validate_items

    if not path.exists():
        raise InputError("no such file", file=str(path))
    if path.suffix.lower() == ".parquet":
        good, bad = validate_items(model, pq.read_table(path).to_pylist())
        if bad:
            field, _, reason = bad[0]["reason"].partition(": ")
            raise InputError(f"row {bad[0]['index'] + 1}: {reason}", file=str(path), column=field)
        return [item for _, item in good]
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        rows, first_line = json.loads(text), 0
    else:
        rows, first_line = list(csv.DictReader(text.splitlines())), 2  # after the header
    good, bad = validate_items(model, rows)
    if bad:
        index, (field, _, reason) = bad[0]["index"], bad[0]["reason"].partition(": ")
        line = index + first_line if first_line and index is not None else None
        raise InputError(reason, file=str(path), line=line, column=field)
    return [item for _, item in good]


def read_stock(path: Path, tz: str) -> list[dict]:
    """Stock counts of a CSV/JSON file ({sku_id, stock, at} in time order, as
    `LiveMonitor.set_stock` takes them); a bad line is an error naming the file, line and field."""
    from zoneinfo import ZoneInfo

    from dacu.monitor.feeds import StockCount

    zone = ZoneInfo(tz)
    counts = [
        {
            "sku_id": c.sku_id,
            "stock": c.stock,
            "at": c.at if c.at.tzinfo else c.at.replace(tzinfo=zone),
        }
        for c in read_items(path, StockCount)
    ]
    return sorted(counts, key=lambda c: c["at"])


def counts_due(levels: list[dict], batch: pa.Table) -> list[dict]:
    """The stock counts taken by the time of the batch's first event, removed from `levels`:
    a replay sets them before it accepts the batch, as the shop's stock feed would have."""
    first = pc.min(batch["ts"]).as_py() if batch.num_rows else None
    due = [level for level in levels if first is not None and level["at"] <= first]
    levels[:] = [level for level in levels if level not in due]
    return due


def _checked_plan(path: Path, tz: str):
    """plan.json checked against its schema (key path of what is wrong), then read for pacing."""
    from dacu.monitor.pacing import load_plan
    from dacu.plan.schema import check_plan

    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable plan.json ({exc})") from None
    check_plan(body, source=str(path))
    return load_plan(path, tz=tz)


def _open_coupons(url: str, config):
    from dacu.flash.loading import load_flash
    from dacu.flash.open import open_store

    return open_store(url, load_flash(config), setup=False)


def _print_coupons(entries: list) -> None:
    from dacu.monitor.watches import coupon_watch

    totals: dict[str, list[int]] = {}
    for row in coupon_watch(entries):
        cell = totals.setdefault(row["coupon"], [0, 0, 0])
        for i, name in enumerate(("issued", "redeemed", "refused")):
            cell[i] += row[name]
    for coupon, (issued, redeemed, refused) in sorted(totals.items()):
        console.print(
            f"领券 coupon {coupon}: 发放 issued {issued:,}, 核销 redeemed {redeemed:,}, "
            f"拒绝 refused {refused:,}",
            markup=False,
        )


def _read_events(path: Path) -> pa.Table:
    if not path.exists():
        raise InputError("no such events file", file=str(path))
    return pq.read_table(path).sort_by("ts")


def _moment(text: str, tz: str, option: str = "--since") -> datetime | None:
    from dacu.config import parse_local_time

    return parse_local_time(text, tz, option=option)


def _feed(monitor, table: pa.Table, *, batch: int, speed: float, levels: list[dict]) -> None:
    from rich.progress import Progress

    shown = 0
    started, first = time.monotonic(), None
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("replay 回放", total=table.num_rows)
        for offset, length in minute_slices(table, batch):
            chunk = table.slice(offset, length)
            if speed > 0:
                ts = chunk["ts"][0].as_py()
                first = first or ts
                wait = (ts - first).total_seconds() / speed - (time.monotonic() - started)
                if wait > 0:
                    time.sleep(wait)
            due = counts_due(levels, chunk)
            if due:
                monitor.set_stock(due)
            result = monitor.collector.accept(_records(chunk))
            if result.rejected:
                raise InputError(
                    f"event {offset + result.rejected[0].index}: {result.rejected[0].reason}"
                )
            progress.advance(task, chunk.num_rows)
            feed = list(monitor.feed)
            for item in reversed(feed[: len(feed) - shown] if len(feed) > shown else []):
                progress.console.print(f"[bold]{item['title']}[/bold]\n{item['body']}")
            shown = len(feed)


def minute_slices(table: pa.Table, batch: int) -> list[tuple[int, int]]:
    """(offset, length) of batches of at most `batch` events that never span two minutes, so the
    rules are evaluated at every minute of data even when the data is sparse."""
    import numpy as np

    minutes = pc.divide(pc.cast(table["ts"], pa.int64()), 60_000_000).to_numpy()
    cuts = [0, *(np.flatnonzero(np.diff(minutes)) + 1).tolist(), len(minutes)]
    out = []
    for start, end in itertools.pairwise(cuts):
        out += [(o, min(batch, end - o)) for o in range(start, end, batch)]
    return out


@monitor_app.command("rules")
def rules(
    campaign: Path = CAMPAIGN,
    plan: Path | None = typer.Option(
        None, "--plan", help="plan.json: list its risk triggers, watched as rules too."
    ),
) -> None:
    """Validate and list the alert rules (alerts:), the plan's risk triggers (--plan) and the
    notification targets (notify:). Money bounds are yuan in the file and shown as ¥.

    Example: dacu monitor rules -c examples/double11.yaml --plan plan-out/plan.json
    """
    from dacu.config import load_campaign
    from dacu.monitor.notifiers import load_targets
    from dacu.monitor.plan_rules import plan_rules
    from dacu.monitor.rules import load_rules

    config = load_campaign(campaign)
    found = load_rules(config, source=str(campaign))
    targets = load_targets(list(config.notify), source=str(campaign))
    for rule in found:
        missing = [t for t in rule.notify if t not in targets]
        if missing:
            raise ConfigError(
                f"{campaign}: alerts (id {rule.id}).notify: unknown target(s) {missing}"
            )
        console.print(f"✓ {describe_rule(rule)}", markup=False)
    if plan is not None:
        risks = _checked_plan(plan, config.timezone).raw.get("risks") or []
        extra, unwatched = plan_rules(risks, taken=[r.id for r in found], capacity=config.capacity)
        for rule in extra:
            console.print(f"✓ {describe_rule(rule)} ← plan", markup=False)
        for item in unwatched:
            console.print(f"· {item.id}: not watched live — {item.reason}", markup=False)
        found = found + extra
    console.print(f"{len(found)} rules, {len(targets)} notification targets")


def describe_rule(rule) -> str:
    """'asp-floor: 客单价 asp_fen < ¥200 (absolute), window 1:00:00 …' in the KPI's unit."""
    from dacu.monitor.messages import show

    sign, bound = ("<", rule.below) if rule.below is not None else (">", rule.above)
    shown = show(rule.metric, bound) if rule.compare == "absolute" else f"{bound:.0%}"
    return (
        f"{rule.id}: {rule.name or ''} {rule.metric}{f' by {rule.by}' if rule.by else ''} "
        f"{sign} {shown} ({rule.compare}), window {rule.window}, for {rule.for_}, {rule.severity}"
    )


@monitor_app.command("notify-test")
def notify_test(
    campaign: Path = CAMPAIGN,
    target: str = typer.Option(..., "--target", "-t", help="Target id from notify:."),
) -> None:
    """Send a test message to one notification target (checks URL, secret and signing).

    Example: dacu monitor notify-test -c examples/double11.yaml -t ops-dingtalk
    """
    from dacu.config import load_campaign
    from dacu.monitor.notifiers import Message, Notifier, load_targets

    config = load_campaign(campaign)
    notifier = Notifier(load_targets(list(config.notify), source=str(campaign)))
    result = notifier.send(
        target, Message("【测试】dacu 大促监控通知", "这是一条测试消息 test message", "yellow")
    )
    notifier.close()
    console.print(json.dumps(result.__dict__, ensure_ascii=False))
    if not result.ok:
        raise typer.Exit(1)
