"""Build the review (复盘) data from the warehouse, plan.json, the alert log and competitors.

`build_review` is the one entry point; renderers (html, xlsx, pptx) only format its result.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from dacu.config import Campaign
from dacu.plan.schema import Plan
from dacu.report import sections
from dacu.report.after_the_fact import after_the_fact_incidents
from dacu.report.checks import check_findings, checks_table, cross_checks
from dacu.report.competitors import Competitor
from dacu.report.findings import derive_findings, findings_section
from dacu.report.incidents import (
    estimate_losses,
    incident_findings,
    incident_rows,
    incidents_section,
)
from dacu.report.model import Review, Section
from dacu.report.promotions import StoreFacts, read_store
from dacu.report.queries import Facts, read_facts
from dacu.report.targets import overall_actuals
from dacu.report.watch_incidents import coupon_abuse_incidents, stock_incidents


def build_review(
    campaign: Campaign,
    warehouse: Any,
    *,
    plan: Plan | None = None,
    alerts: list[dict[str, Any]] | None = None,
    rivals: list[Competitor] | None = None,
    with_attribution: bool = True,
    store: str | None = None,
) -> Review:
    """Read the facts from `warehouse` (a dacu Warehouse) and, when `store` (a flash store URL)
    is given, the coupons issued and the refusals; then assemble every section.

    Parameters
    ----------
    campaign : Campaign
        The campaign reviewed: its window, targets and channels.
    warehouse : Warehouse
        Where the events (and the skus, spend and customers tables) are (`open_warehouse`).
    plan : Plan, optional
        The plan (`plan.json`) the targets are measured against; else the campaign's targets.
    alerts : list of dict, optional
        The alert log of the monitor (severity, status, opened/acked/resolved times).
    rivals : list of Competitor, optional
        Competitors' figures (`load_competitors`).
    with_attribution : bool
        Read the journeys for multi-touch attribution (the slowest query).
    store : str, optional
        The flash store URL, for coupons issued and redeemed and the refusals.

    Returns
    -------
    Review
        The headline KPIs, the sections in the order of a real review (概览, KPI 达成, GMV 结构 …)
        and the findings; `write_review` renders it as HTML, Excel, PowerPoint and JSON.

    Examples
    --------
    Review one simulated Double 11 day of the starter campaign: the review's GMV is the value
    of the orders placed, its paid GMV the value of the payments:

    >>> from pathlib import Path
    >>> import pyarrow.compute as pc
    >>> import dacu
    >>> from dacu.config import load_campaign
    >>> from dacu.report import build_review
    >>> from dacu.sim import simulate_day
    >>> from dacu.warehouse import open_warehouse
    >>> campaign = load_campaign(Path(dacu.__file__).with_name("starter_campaign.yaml"))
    >>> day = simulate_day(campaign, scale=0.02, seed=7)
    >>> wh = open_warehouse("duckdb://:memory:")
    >>> wh.append_events(day.events).inserted == day.events.num_rows
    True
    >>> rows = wh.load_reference("skus", day.skus), wh.load_reference("spend", day.spend)
    >>> review = build_review(campaign, wh, with_attribution=False)
    >>> def value(event):
    ...     return pc.sum(day.events.filter(pc.equal(day.events["event"], event))["amount_fen"])
    >>> review.headline["gmv_fen"] == value("order").as_py()
    True
    >>> review.headline["paid_gmv_fen"] == value("pay").as_py()
    True
    >>> [s.title["zh"] for s in review.sections][:3]
    ['活动概览', 'KPI 达成', 'GMV 结构']
    >>> wh.close()
    """
    facts = read_facts(warehouse, campaign, with_journeys=with_attribution)
    store_facts = read_store(store, campaign) if store else None
    losses = estimate_losses(warehouse, campaign, alerts or [], plan)
    found = after_the_fact_incidents(warehouse, campaign, alerts or [], sections.names(campaign))
    losses |= {k: v for k, v in found.losses.items() if losses.get(k) is None}
    rings = found.rows + stock_incidents(warehouse, campaign, facts.sellouts, alerts or [])
    if store_facts is not None:
        rings += coupon_abuse_incidents(store_facts.guarded, campaign)
    return assemble(
        campaign,
        facts,
        plan=plan,
        alerts=alerts,
        rivals=rivals,
        store=store_facts,
        losses=losses,
        fraud=rings,
    )


def assemble(
    campaign: Campaign,
    facts: Facts,
    *,
    plan: Plan | None = None,
    alerts: list[dict[str, Any]] | None = None,
    rivals: list[Competitor] | None = None,
    store: StoreFacts | None = None,
    losses: dict[Any, int | None] | None = None,
    fraud: list[dict[str, Any]] | None = None,
) -> Review:
    """The sections in the order of a real review, then the findings drawn from them.
    `losses`: estimated loss per alert id (`incidents.estimate_losses`, needs the warehouse);
    `fraud`: incident rows found off the alert log — payment failures and rings of linked
    flagged accounts recomputed on the full events (`after_the_fact`), the stock watch and the
    coupon store (`watch_incidents`)."""
    attainment, bridge = sections.attainment(campaign, plan, facts, store)
    actual = overall_actuals(facts, store, campaign)
    investment = sections.investment(campaign, plan, facts, store)
    operations = sections.operations(facts, alerts, campaign, store)
    checks = cross_checks(_coupon_rows(investment), facts.skus, facts.total, _cells(facts))
    operations.tables.append(checks_table(checks))
    incidents = sorted(
        incident_rows(alerts or [], campaign, losses or {}, sections.names(campaign))
        + (fraud or []),
        key=lambda r: r["start"] or "",
    )
    parts = [
        sections.overview(campaign, facts),
        attainment,
        sections.structure(campaign, facts),
        investment,
        sections.traffic(campaign, facts),
        sections.customers(campaign, facts),
        operations,
        incidents_section(incidents, alerts is not None),
        sections.competitors(facts, rivals, actual["repurchase_rate"], campaign.store),
    ]
    findings = (
        check_findings(checks) + incident_findings(incidents) + derive_findings(parts, bridge)
    )
    parts.append(findings_section(findings))
    headline = {k: _plain(v) for k, v in facts.total.items()}
    headline.update(
        {
            "new_customers": actual["new_customers"],
            "repurchase_rate": actual["repurchase_rate"],
            "roi": actual["roi"],
            "spend_fen": sum(facts.spend.values()),
        }
    )
    return Review(
        campaign_id=campaign.id,
        campaign_name=campaign.name,
        store=campaign.store,
        platform=campaign.platform.value,
        window={
            "start": campaign.start.isoformat(),
            "end": campaign.end.isoformat(),
            "peak_day": campaign.peak_day.isoformat(),
        },
        generated_at=datetime.now(campaign.tz).isoformat(timespec="seconds"),
        headline=headline,
        sections=parts,
        findings=findings,
    )


def _coupon_rows(investment: Section) -> list[dict[str, Any]]:
    return next((t.rows for t in investment.tables if t.id == "coupons"), [])


def _cells(facts: Facts) -> dict[str, list[dict[str, Any]]]:
    return {"channel": facts.by_channel, "category": facts.by_category}


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def write_json(review: Review, path: Path) -> Path:
    import json

    path.write_text(
        json.dumps(review.to_dict(), ensure_ascii=False, indent=2, default=_plain), encoding="utf-8"
    )
    return path
