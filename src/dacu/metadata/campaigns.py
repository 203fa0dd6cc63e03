"""Campaigns, their plan versions and their generated review reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dacu.config import Campaign, parse_campaign
from dacu.errors import DacuError
from dacu.metadata import audit
from dacu.metadata.models import CampaignRow, PlanRow, ReportRow, utcnow

REPORT_KINDS = ("html", "xlsx", "pptx")


def save_campaign(
    session: Session, yaml_text: str, *, actor: str, source: str = "<campaign>"
) -> CampaignRow:
    """Validate a campaign file (ConfigError names key and line) and insert or update its row."""
    campaign = parse_campaign(yaml_text, source=source)
    row = session.get(CampaignRow, campaign.id)
    action = "campaign.update" if row else "campaign.add"
    if row is None:
        row = CampaignRow(id=campaign.id)
        session.add(row)
    _fill(row, campaign, yaml_text)
    audit.record(session, actor, action, campaign.id, {"name": campaign.name})
    session.flush()
    return row


def _fill(row: CampaignRow, campaign: Campaign, yaml_text: str) -> None:
    row.name, row.platform, row.store = campaign.name, campaign.platform.value, campaign.store
    starts = [p.start for p in campaign.phases]
    ends = [p.end for p in campaign.phases]
    row.starts_at = min(starts) if starts else None
    row.ends_at = max(ends) if ends else None
    row.config_yaml = yaml_text
    row.updated_at = utcnow()


def list_campaigns(session: Session) -> list[CampaignRow]:
    return list(session.scalars(select(CampaignRow).order_by(CampaignRow.starts_at.desc())))


def get_campaign(session: Session, campaign_id: str) -> CampaignRow | None:
    return session.get(CampaignRow, campaign_id)


def load(row: CampaignRow) -> Campaign:
    """The validated campaign model of a stored row."""
    return parse_campaign(row.config_yaml, source=f"campaign {row.id}")


def save_plan(session: Session, campaign_id: str, body: dict[str, Any], *, actor: str) -> PlanRow:
    """Store a new version of the campaign's plan.json (versions count up from 1)."""
    if session.get(CampaignRow, campaign_id) is None:
        raise LookupError(f"no campaign {campaign_id!r}")
    latest = (
        session.scalar(select(func.max(PlanRow.version)).where(PlanRow.campaign_id == campaign_id))
        or 0
    )
    row = PlanRow(campaign_id=campaign_id, version=latest + 1, body=body, created_by=actor)
    session.add(row)
    audit.record(session, actor, "plan.save", campaign_id, {"version": latest + 1})
    session.flush()
    return row


def latest_valid_plan(
    session: Session, campaign_id: str, check: Callable[[dict[str, Any]], Any]
) -> tuple[PlanRow, Any] | None:
    """The newest plan version that `check` accepts, with what it returned: a plan stored wrong
    (before the door checked it) never breaks a campaign that has a valid earlier version."""
    rows = session.scalars(
        select(PlanRow).where(PlanRow.campaign_id == campaign_id).order_by(PlanRow.version.desc())
    )
    for row in rows:
        try:
            return row, check(row.body)
        except (DacuError, ValueError, TypeError, KeyError):
            continue
    return None


def latest_plan(session: Session, campaign_id: str) -> PlanRow | None:
    return session.scalar(
        select(PlanRow)
        .where(PlanRow.campaign_id == campaign_id)
        .order_by(PlanRow.version.desc())
        .limit(1)
    )


def add_report(
    session: Session,
    campaign_id: str,
    kind: str,
    path: str,
    *,
    title: str = "",
    actor: str = "report",
) -> ReportRow:
    """Register a generated review file so the reports page lists and serves it."""
    if kind not in REPORT_KINDS:
        raise ValueError(f"report kind {kind!r}: expected one of {', '.join(REPORT_KINDS)}")
    row = ReportRow(campaign_id=campaign_id, kind=kind, path=path, title=title or kind)
    session.add(row)
    audit.record(session, actor, "report.add", campaign_id, {"kind": kind, "path": path})
    session.flush()
    return row


def list_reports(session: Session, campaign_id: str | None = None) -> list[ReportRow]:
    query = select(ReportRow).order_by(ReportRow.created_at.desc())
    if campaign_id:
        query = query.where(ReportRow.campaign_id == campaign_id)
    return list(session.scalars(query))
