"""The web app's own JSON API: campaigns, plans, alerts, reports, users, API keys, audit.

Handlers are thin: validate with pydantic, call `dacu.metadata`, return typed models.
Who may call what is in `access.ACCESS`, not here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from dacu.metadata import accounts, alerts, audit, campaigns
from dacu.metadata.alerts import AlertFilter
from dacu.web.auth import Principal, current_principal
from dacu.web.batch import CampaignId, CampaignQuery
from dacu.web.problems import Problem

router = APIRouter(prefix="/api")


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    schema_current: bool


class Me(BaseModel):
    kind: str
    name: str
    role: str | None
    scopes: list[str]


class CampaignOut(BaseModel):
    id: str
    name: str
    platform: str
    store: str
    starts_at: datetime | None
    ends_at: datetime | None


class CampaignIn(BaseModel):
    yaml: str = Field(..., max_length=500_000, description="the campaign file (YAML text)")


class PlanOut(BaseModel):
    campaign_id: str
    version: int
    created_at: datetime
    created_by: str
    body: dict[str, Any]


class AlertOut(BaseModel):
    id: int
    campaign_id: str
    rule_id: str
    severity: str
    status: str
    metric: str | None
    dimension: str
    message: str
    value: float | None
    threshold: float | None
    root_cause: dict[str, Any] | None
    playbook: dict[str, Any] | None
    opened_at: datetime
    acked_at: datetime | None
    acked_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None = None
    resolution_note: str | None = None


class ResolveNote(BaseModel):
    """The optional body of a resolve: what was done, for the log and the review."""

    note: str | None = Field(
        None, max_length=alerts.MAX_NOTE, description="what was done, e.g. 已补货 500 件"
    )


class ReportOut(BaseModel):
    id: int
    campaign_id: str
    kind: str
    title: str
    created_at: datetime


class UserIn(BaseModel):
    username: str = Field(..., pattern=r"^[A-Za-z0-9_.@-]{2,64}$")
    password: str = Field(..., min_length=accounts.MIN_PASSWORD, max_length=200)
    role: Literal["viewer", "operator", "admin"]
    display_name: str = Field("", max_length=200)


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: datetime | None


class KeyIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=100)
    scopes: list[Literal["events:write", "shop", "metrics:read"]] = Field(..., min_length=1)


class KeyOut(BaseModel):
    key_id: str
    name: str
    scopes: list[str]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class NewKeyOut(BaseModel):
    key_id: str
    token: str = Field(..., description="shown once; store it in the client's secret store")
    scopes: list[str]


class AuditOut(BaseModel):
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any] | None


def _db(request: Request):
    return request.app.state.db


@router.get("/health", response_model=Health, summary="Liveness and schema check")
def health(request: Request) -> Health:
    from dacu.metadata import is_current

    db = _db(request)
    return Health(status="ok", database=db.engine.dialect.name, schema_current=is_current(db))


@router.get("/me", response_model=Me, summary="Who am I (user role or key scopes)")
async def me(who: Principal = Depends(current_principal)) -> Me:
    return Me(kind=who.kind, name=who.name, role=who.role, scopes=sorted(who.scopes))


@router.get("/campaigns", response_model=list[CampaignOut], summary="List campaigns")
def list_campaigns(request: Request) -> list[CampaignOut]:
    with _db(request).session() as s:
        return [
            CampaignOut.model_validate(r, from_attributes=True) for r in campaigns.list_campaigns(s)
        ]


@router.post(
    "/campaigns",
    response_model=CampaignOut,
    status_code=201,
    summary="Add or replace a campaign from its YAML file",
)
def put_campaign(
    body: CampaignIn, request: Request, who: Principal = Depends(current_principal)
) -> CampaignOut:
    with _db(request).session() as s:
        row = campaigns.save_campaign(s, body.yaml, actor=who.name, source="request body")
        return CampaignOut.model_validate(row, from_attributes=True)


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, summary="One campaign")
def get_campaign(request: Request, campaign_id: CampaignId) -> CampaignOut:
    with _db(request).session() as s:
        row = campaigns.get_campaign(s, campaign_id)
        if row is None:
            raise Problem(404, "not_found", f"no campaign {campaign_id!r}")
        return CampaignOut.model_validate(row, from_attributes=True)


@router.get(
    "/campaigns/{campaign_id}/plan", response_model=PlanOut, summary="The newest plan of a campaign"
)
def get_plan(request: Request, campaign_id: CampaignId) -> PlanOut:
    with _db(request).session() as s:
        row = campaigns.latest_plan(s, campaign_id)
        if row is None:
            raise Problem(404, "not_found", f"campaign {campaign_id!r} has no plan yet")
        return PlanOut.model_validate(row, from_attributes=True)


@router.post(
    "/campaigns/{campaign_id}/plan",
    response_model=PlanOut,
    status_code=201,
    summary="Store a new plan version (plan.json of `dacu plan build`)",
)
def post_plan(
    body: dict[str, Any],
    request: Request,
    campaign_id: CampaignId,
    who: Principal = Depends(current_principal),
) -> PlanOut:
    if body.get("campaign_id", campaign_id) != campaign_id:
        raise Problem(
            422,
            "validation",
            f"plan.campaign_id {body.get('campaign_id')!r} is not {campaign_id!r}",
        )
    from dacu.errors import ConfigError
    from dacu.plan.schema import check_plan

    try:
        check_plan(body, source="plan")
    except ConfigError as exc:
        raise Problem(422, "validation", str(exc)) from None
    with _db(request).session() as s:
        if campaigns.get_campaign(s, campaign_id) is None:
            raise Problem(404, "not_found", f"no campaign {campaign_id!r}")
        row = campaigns.save_plan(s, campaign_id, body, actor=who.name)
        return PlanOut.model_validate(row, from_attributes=True)


@router.get("/alerts", response_model=list[AlertOut], summary="The alert log, newest first")
def list_alerts(
    request: Request,
    campaign_id: CampaignQuery = None,
    status: Literal["open", "acked", "resolved"] | None = None,
    severity: Literal["red", "yellow", "green"] | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> list[AlertOut]:
    where = AlertFilter(campaign_id, status, severity, limit)
    with _db(request).session() as s:
        return [
            AlertOut.model_validate(r, from_attributes=True) for r in alerts.list_alerts(s, where)
        ]


def _change_alert(
    request: Request, alert_id: int, who: Principal, action: str, note: str | None = None
) -> AlertOut:
    with _db(request).session() as s:
        if alerts.get(s, alert_id) is None:
            raise Problem(404, "not_found", f"no alert {alert_id}")
        if action == "ack":
            row = alerts.ack(s, alert_id, actor=who.name)
        else:
            row = alerts.resolve(s, alert_id, actor=who.name, note=note)
        return AlertOut.model_validate(row, from_attributes=True)


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut, summary="Acknowledge an alert")
def ack_alert(
    request: Request,
    alert_id: int = Path(..., ge=1, le=2**62),
    who: Principal = Depends(current_principal),
) -> AlertOut:
    return _change_alert(request, alert_id, who, "ack")


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut, summary="Resolve an alert")
def resolve_alert(
    request: Request,
    alert_id: int = Path(..., ge=1, le=2**62),
    body: ResolveNote | None = Body(None),
    who: Principal = Depends(current_principal),
) -> AlertOut:
    """Resolve, optionally with a note of what was done: `{"note": "已补货 500 件"}`."""
    return _change_alert(request, alert_id, who, "resolve", body.note if body else None)


@router.get("/reports", response_model=list[ReportOut], summary="Generated review files")
def list_reports(request: Request, campaign_id: CampaignQuery = None) -> list[ReportOut]:
    with _db(request).session() as s:
        return [
            ReportOut.model_validate(r, from_attributes=True)
            for r in campaigns.list_reports(s, campaign_id)
        ]


@router.get("/users", response_model=list[UserOut], summary="Accounts (admin)")
def list_users(request: Request) -> list[UserOut]:
    with _db(request).session() as s:
        return [UserOut.model_validate(u, from_attributes=True) for u in accounts.list_users(s)]


@router.post("/users", response_model=UserOut, status_code=201, summary="Add an account (admin)")
def add_user(
    body: UserIn, request: Request, who: Principal = Depends(current_principal)
) -> UserOut:
    with _db(request).session() as s:
        if accounts.get_user(s, body.username):
            raise Problem(409, "conflict", f"user {body.username!r} exists already")
        user = accounts.add_user(
            s,
            body.username,
            body.password,
            body.role,
            display_name=body.display_name,
            actor=who.name,
        )
        s.flush()
        return UserOut.model_validate(user, from_attributes=True)


def _key_out(row: Any) -> KeyOut:
    return KeyOut(
        key_id=row.key_id,
        name=row.name,
        scopes=row.scopes.split(),
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
    )


@router.get("/keys", response_model=list[KeyOut], summary="API keys (admin; never the secrets)")
def list_keys(request: Request) -> list[KeyOut]:
    with _db(request).session() as s:
        return [_key_out(k) for k in accounts.list_keys(s)]


@router.post("/keys", response_model=NewKeyOut, status_code=201, summary="Create an API key")
def create_key(
    body: KeyIn, request: Request, who: Principal = Depends(current_principal)
) -> NewKeyOut:
    with _db(request).session() as s:
        new = accounts.create_key(s, body.name, body.scopes, actor=who.name)
    return NewKeyOut(key_id=new.key_id, token=new.token, scopes=list(new.scopes))


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke an API key")
def revoke_key(
    request: Request,
    key_id: str = Path(..., pattern=r"^[0-9a-f]{12}$"),
    who: Principal = Depends(current_principal),
) -> None:
    """Idempotent: revoking a revoked key answers 204 again and audits nothing new."""
    with _db(request).session() as s:
        if not any(k.key_id == key_id for k in accounts.list_keys(s)):
            raise Problem(404, "not_found", f"no API key {key_id!r}")
        accounts.revoke_key(s, key_id, actor=who.name)


@router.get("/audit", response_model=list[AuditOut], summary="Who changed what (admin)")
def list_audit(request: Request, limit: int = Query(100, ge=1, le=1000)) -> list[AuditOut]:
    with _db(request).session() as s:
        return [AuditOut.model_validate(r, from_attributes=True) for r in audit.recent(s, limit)]
