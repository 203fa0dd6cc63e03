"""`dacu sim`: simulate a campaign world (files + truth.json), optionally replay it live."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer

from dacu.errors import ConfigError

SIM_HELP = """模拟大促 — simulate a campaign world with known answers (truth.json).

Writes events, spend, skus and customers (.parquet), truth.json and stock.csv
(the shop's stock counts, for `dacu monitor replay --stock`) to --out:
400 days of history (last year's Double 11 included) and the campaign, with
repeat-buying customers (BG/NBD), channels that respond to spend (adstock +
Hill), 满减 baskets, stock-outs, flash sales and injected incidents.
Same --seed, same files. --scale 1.0 ≈ 2 million events (≈ 15 s).

Examples:

  dacu sim -c examples/double11.yaml --out sim/

  dacu sim -c examples/double11.yaml --out sim/ --scale 0.1
  --incident pay_failure@20:00:search_ads --incident coupon_bot@03:00

  dacu sim -c examples/double11.yaml --out sim/ --no-incidents --seed 42

  dacu sim -c examples/double11.yaml --out sim/
  --replay http://127.0.0.1:8000/api/events --speed 600 --key KEY

Incidents: KIND@TIME[+MINUTESm][:TARGET]; TIME is HH:MM on the burst day or
YYYY-MM-DDTHH:MM. pay_failure, cvr_drop, traffic_drop take a channel
(cvr_drop also a category); stockout and brushing a SKU; coupon_bot nothing.
Without --incident the demo set is injected. Guide: docs/sim.md.
"""


def register(app: typer.Typer) -> None:
    app.command("sim", help=SIM_HELP)(sim_command)


def sim_command(
    campaign: Path = typer.Option(..., "--campaign", "-c", help="Campaign YAML file."),
    out: Path = typer.Option(Path("sim-out"), "--out", "-o", help="Folder to write into."),
    scale: float = typer.Option(1.0, help="Size: 1.0 ≈ 2 million events; 0.005 ≈ 10⁴; 50 ≈ 10⁸."),
    seed: int = typer.Option(7, help="Random seed: same seed, same files."),
    incident: list[str] = typer.Option(
        None, "--incident", "-i", help="Inject KIND@TIME[+MINUTESm][:TARGET] (repeatable)."
    ),
    no_incidents: bool = typer.Option(False, "--no-incidents", help="Inject nothing."),
    history_days: int = typer.Option(
        None, help="Days of history (default: campaign history.days_before, else 400)."
    ),
    replay_url: str = typer.Option(
        None, "--replay", help="Collector URL to replay the campaign window to (POST JSON arrays)."
    ),
    speed: float = typer.Option(60.0, help="Replay: simulated seconds per real second (0 = max)."),
    key: str = typer.Option(
        None,
        "--key",
        envvar="DACU_COLLECTOR_KEY",
        help="Replay: API key sent as 'Authorization: Bearer KEY'.",
    ),
    since: str = typer.Option(None, "--from", help="Replay from this time (ISO, campaign zone)."),
    batch: int = typer.Option(500, help="Replay: events per POST."),
    max_events: int = typer.Option(None, help="Replay: stop after this many events."),
    max_seconds: float = typer.Option(None, help="Replay: stop after this many real seconds."),
    shapes: str = typer.Option(
        None,
        "--as",
        help="Also write the store as a shop downloads it: orders+traffic (OUT/shop/: Tmall order "
        "export, 生意参谋 traffic by day and hour, one report per ad tool).",
    ),
) -> None:
    from dacu.config import load_campaign
    from dacu.sim.engine import simulate

    if shapes not in (None, "orders+traffic", "traffic+orders"):
        raise typer.BadParameter(f"--as {shapes!r}: expected orders+traffic")

    plan = load_campaign(campaign)
    chosen = [] if no_incidents else (incident or None)
    if replay_url and not incident and _already_simulated(out, plan.id, seed, scale, history_days):
        typer.echo(f"{out}: already holds this world (campaign, seed, scale): replaying it")
    else:
        result = simulate(
            plan, out=out, scale=scale, seed=seed, incidents=chosen, days_before=history_days
        )
        _summary(result)
    if shapes:
        from dacu.sim.shapes import write_shop_exports

        for name, path in write_shop_exports(out, plan).items():
            typer.echo(f"  {name:<16} {path}")
    if replay_url:
        _replay(
            plan,
            out,
            replay_url,
            speed=speed,
            key=key,
            since=since,
            batch=batch,
            max_events=max_events,
            max_seconds=max_seconds,
        )


def _already_simulated(
    out: Path, campaign_id: str, seed: int, scale: float, history_days: int | None
) -> bool:
    truth = out / "truth.json"
    if not truth.exists() or not (out / "events.parquet").exists():
        return False
    try:
        data = json.loads(truth.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    same_history = (
        history_days is None or data.get("window", {}).get("history_days") == history_days
    )
    return same_history and (data.get("campaign_id"), data.get("seed"), data.get("scale")) == (
        campaign_id,
        seed,
        scale,
    )


def _summary(result) -> None:
    from rich.console import Console
    from rich.table import Table

    from dacu.money import format_fen

    truth = result.truth
    table = Table(title=f"模拟完成 simulated {truth['campaign_id']} in {result.seconds:.1f} s")
    table.add_column("阶段 phase")
    table.add_column("天 days", justify="right")
    table.add_column("访问 sessions", justify="right")
    table.add_column("订单 orders", justify="right")
    table.add_column("GMV", justify="right")
    for label, row in truth["totals"]["by_label"].items():
        table.add_row(
            label,
            str(row["days"]),
            f"{row['sessions']:,}",
            f"{row['orders']:,}",
            format_fen(row["gmv_fen"]),
        )
    console = Console()
    console.print(table)
    console.print(
        f"{result.events:,} events; store_fraction "
        f"{truth['sizing']['store_fraction']:.4f} of the campaign file's store"
    )
    for item in truth["incidents"]:
        target = item["channel"] or item["category"] or item["sku"] or ""
        console.print(
            f"  incident {item['kind']} {item['start']} → {item['end']} {target} "
            f"({len(item['user_ids'])} accounts)"
        )
    for name, path in result.paths.items():
        console.print(f"  {name:<9} {path}")


def _replay(
    plan,
    out: Path,
    url: str,
    *,
    speed: float,
    key: str | None,
    since: str | None,
    batch: int,
    max_events: int | None,
    max_seconds: float | None,
) -> None:
    from rich.console import Console

    from dacu.sim.replay import replay, stream_window

    start = plan.start
    if since:
        try:
            start = datetime.fromisoformat(since)
        except ValueError as exc:
            raise ConfigError(f"--from {since!r}: expected ISO time like 2026-11-11T19:00") from exc
        start = start if start.tzinfo else start.replace(tzinfo=plan.tz)
    pieces = stream_window(out / "events.parquet", start, plan.end)
    console = Console(stderr=True)
    console.print(
        f"replaying {start:%Y-%m-%d %H:%M} → {plan.end:%Y-%m-%d %H:%M} to {url} at ×{speed:g}"
    )
    stats = replay(
        pieces,
        url,
        speed=speed,
        key=key,
        batch_size=batch,
        max_events=max_events,
        max_seconds=max_seconds,
        on_batch=lambda s: console.print(f"  sent {s.events:,}", end="\r"),
    )
    console.print(json.dumps(stats.__dict__, ensure_ascii=False))
