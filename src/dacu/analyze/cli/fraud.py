"""`dacu analyze fraud score | approve`: risk control (风控). Thin shell over dacu.analyze.fraud;
guide in docs/risk.md."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from dacu.analyze.cli_io import emit_json, print_table
from dacu.errors import InputError

if TYPE_CHECKING:
    from dacu.analyze.fraud import FraudResult

fraud_app = typer.Typer(
    help="风控 Fraud and abuse: score customers, approve blocks.", no_args_is_help=True
)

EVENTS = typer.Option(
    None,
    "--events",
    "-e",
    help="events.parquet (EVENT_SCHEMA), e.g. from `dacu sim`; else the warehouse.",
)
WAREHOUSE = typer.Option(None, "--warehouse", "-w", help="Warehouse URL (default DACU_WAREHOUSE).")
CAMPAIGN = typer.Option(
    None, "--campaign", "-c", help="Campaign YAML: window, flash SKUs, watch_keywords."
)
CUSTOMERS = typer.Option(
    None,
    "--customers",
    help="The customer file (parquet/CSV: user_id, first_purchase 首购时间; the customers.parquet "
    "`dacu sim` writes): accounts the shop knew before the events are no 新号. Without it, "
    "the warehouse's customers table (`dacu import customers`) when scoring the warehouse.",
)


def register(analyze_app: typer.Typer) -> None:
    analyze_app.add_typer(fraud_app, name="fraud")


def _events(events: Path | None, warehouse: str | None) -> tuple[Any, Any]:
    """The events to score and, when they are the warehouse's, the warehouse."""
    if events is not None:
        if not events.exists():
            raise InputError(
                f"{events}: file not found (expected events.parquet)", file=str(events)
            )
        import ibis

        return ibis.duckdb.connect().read_parquet(str(events)), None
    from dacu.warehouse import open_warehouse

    store = open_warehouse(warehouse)
    return store.events(), store


def _known(customers: Path | None, store: Any, tz: Any) -> Any:
    """Account ages from the customer file, else from the warehouse's customers table."""
    import pyarrow as pa

    from dacu.analyze.fraud.features import known_from_customers

    if customers is not None:
        from dacu.monitor.commands import read_items
        from dacu.monitor.feeds import CustomerItem, customer_rows

        rows = customer_rows(read_items(customers, CustomerItem), tz)
        table = pa.table({"user_id": [u for u, _ in rows], "first_purchase": [t for _, t in rows]})
        return known_from_customers(table, tz)
    if store is not None and store.has_table("customers"):
        return known_from_customers(store.to_arrow(store.table("customers")), tz)
    return None


@fraud_app.command("score")
def fraud_score(
    events: Path = EVENTS,
    warehouse: str = WAREHOUSE,
    campaign: Path = CAMPAIGN,
    truth: Path = typer.Option(
        None,
        "--truth",
        help="truth.json of `dacu sim`: report precision/recall against its bots and rings.",
    ),
    out: Path = typer.Option(
        None, "--out", "-o", help="Write flagged customers (CSV) for review and `fraud approve`."
    ),
    audit_store: str = typer.Option(
        None,
        "--audit-store",
        help="Flash store URL: link accounts by the devices and IPs of its audit trail (needs -c).",
    ),
    customers: Path = CUSTOMERS,
    top: int = typer.Option(20, help="Rows to print."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """风控评分 Score every buyer: readable rules + isolation forest + linked-account clusters.

    Example: dacu analyze fraud score -e sim/events.parquet -c examples/double11.yaml
    --truth sim/truth.json --out flagged.csv

    Prints flagged customers with points and reasons (下单前无浏览, 新号即下单, 秒付, …); with
    --truth also precision, recall and the genuine customers that would be blocked (their GMV).
    Nothing is blocked here: review the CSV, then `dacu analyze fraud approve`.
    """
    from zoneinfo import ZoneInfo

    from dacu.analyze.fraud import FraudConfig, evaluate, score_events, truth_fraud_ids
    from dacu.config import DEFAULT_TZ, load_campaign

    config, tz = FraudConfig(), ZoneInfo(DEFAULT_TZ)
    if campaign is not None:
        loaded = load_campaign(campaign)
        config, tz = FraudConfig.from_campaign(loaded), loaded.tz
    links = _audit_links(campaign, audit_store) if audit_store is not None else []
    table, store = _events(events, warehouse)
    known = _known(customers, store, tz)
    scores = score_events(table, config=config, links=links, known=known)
    if out is not None:
        scores.flagged[
            [
                "user_id",
                "points",
                "reasons_zh",
                "reasons_en",
                "anomaly_score",
                "cluster_size",
                "paid_fen",
                "device",
                "region",
            ]
        ].to_csv(out, index=False)
    report = (
        asdict(evaluate(scores.result, truth_fraud_ids(json.loads(truth.read_text()))))
        if truth is not None
        else None
    )
    _print_fraud(scores.result, report, top, as_json, scores.devices())


def _audit_links(campaign: Path | None, url: str) -> list[tuple[str, str]]:
    from dacu.analyze.fraud.graph import audit_links
    from dacu.config import load_campaign
    from dacu.flash import load_flash, open_store

    if campaign is None:
        raise InputError("--audit-store needs --campaign (the store's coupons and sales)")
    store = open_store(url, load_flash(load_campaign(campaign)))
    try:
        return audit_links(store.audit(limit=10_000_000))
    finally:
        store.close()


def _print_fraud(
    result: FraudResult,
    report: dict[str, Any] | None,
    top: int,
    as_json: bool,
    devices: list[dict[str, Any]],
) -> None:
    from dacu.money import format_fen

    flagged = result.flagged
    if as_json:
        emit_json(
            {
                "scored": len(result.scores),
                "flagged": len(flagged),
                "clusters": [len(c) for c in result.clusters],
                "evaluation": report,
                "devices": devices[:top],
                "top": flagged.head(top)[["user_id", "points", "reasons_zh"]].to_dict("records"),
            }
        )
        return
    print_table(
        f"风控 flagged {len(flagged)} / {len(result.scores)} buyers, "
        f"{len(result.clusters)} clusters",
        ["customer", "points", "理由 reasons", "anomaly", "cluster", "paid"],
        [
            [
                r.user_id,
                r.points,
                r.reasons_zh,
                round(r.anomaly_score, 3),
                r.cluster_size,
                format_fen(int(r.paid_fen)),
            ]
            for r in flagged.head(top).itertuples()
        ],
    )
    if devices:
        print_table(
            "共用设备/IP shared by flagged accounts",
            ["subject", "accounts", "customers"],
            [[d["subject"], d["accounts"], ", ".join(d["customers"][:5])] for d in devices[:top]],
        )
    if report:
        print_table(
            "评估 evaluation vs truth.json",
            ["precision", "recall", "TP", "FP", "FN", "genuine blocked", "their paid GMV"],
            [
                [
                    round(report["precision"], 4),
                    round(report["recall"], 4),
                    report["true_positives"],
                    report["false_positives"],
                    report["false_negatives"],
                    report["genuine_blocked"],
                    format_fen(report["genuine_blocked_gmv_fen"]),
                ]
            ],
        )


@fraud_app.command("approve")
def fraud_approve(
    flagged: Path = typer.Argument(
        ..., help="CSV from `fraud score --out` (column user_id; delete rows you do not approve)."
    ),
    campaign: Path = typer.Option(..., "--campaign", "-c", help="Campaign YAML."),
    store: str = typer.Option(
        None,
        "--store",
        "-s",
        help="Flash store URL (default DACU_STORE, else sqlite:///dacu-flash.db).",
    ),
    minutes: float = typer.Option(None, help="Block for N minutes (default: until unblocked)."),
    approve: bool = typer.Option(
        False, "--approve", help="Really block; without it, only list what would be blocked."
    ),
) -> None:
    """审批拉黑 Put approved flagged customers on the flash guards' blocklist.

    Example: dacu analyze fraud approve flagged.csv -c examples/double11.yaml --approve

    Without --approve nothing is written (a dry run that lists the accounts).
    """
    import pandas as pd

    if not flagged.exists():
        raise InputError(f"{flagged}: file not found", file=str(flagged))
    frame = pd.read_csv(flagged, dtype=str)
    if "user_id" not in frame:
        raise InputError(
            f"{flagged}:1: no column user_id (expected the CSV of fraud score --out)",
            file=str(flagged),
            line=1,
            column="user_id",
        )
    ids = [u for u in frame["user_id"].dropna().str.strip() if u]
    if not approve:
        typer.echo(
            f"dry run: would block {len(ids)} customers (add --approve): "
            + ", ".join(ids[:10])
            + (" …" if len(ids) > 10 else "")
        )
        return
    from dacu.analyze.fraud import approve as do_approve
    from dacu.config import load_campaign
    from dacu.flash import load_flash, open_store

    flash = open_store(store, load_flash(load_campaign(campaign)))
    try:
        count = do_approve(flash, ids, minutes=minutes)
    finally:
        flash.close()
    typer.echo(f"已拉黑 blocked {count} customers")
