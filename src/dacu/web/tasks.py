"""Owners and status of the campaign's team tasks, changed from the browser (the desk page).

    POST /workbench/{id}/tasks/{n}   form: task (its 中文 name, as shown), team, owner, status

The campaign file stays the source of truth: the change is written into its YAML — only the
task's `team`, `owner` and `status` values, in place, so the operator's comments and layout are
kept — then the whole file goes through the same validator as `dacu check` and `campaign add`,
and an audit row `task.update` says who changed what. A file without `tasks:` plans with the
default tasks (`dacu.plan.timeline`); the first change writes them into the file.

A task is named by its position `n` in the file's `tasks:` list and checked by its name, so a
file changed meanwhile (a new upload) refuses the change instead of editing another task.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import yaml
from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from dacu.config import TEAM_IDS, Campaign, PlanTask
from dacu.errors import ConfigError
from dacu.web.auth import principal_of
from dacu.web.batch import CampaignId
from dacu.web.problems import Problem

router = APIRouter(prefix="/workbench", include_in_schema=False)
STATUSES = {"todo": "待办", "doing": "进行中", "done": "已完成"}
MAX_OWNER = 64  # characters of an owner's name


def file_tasks(campaign: Campaign) -> list[PlanTask]:
    """The tasks as the file has them, or the defaults the plan uses when it has none."""
    if campaign.tasks is not None:
        return list(campaign.tasks)
    from dacu.plan.timeline import DEFAULT_TASKS

    fields = ("team", "task", "name", "due")
    return [PlanTask.model_validate(dict(zip(fields, row, strict=True))) for row in DEFAULT_TASKS]


def campaign_tasks(campaign: Campaign) -> list[dict[str, Any]]:
    """Each task with its position in the file (`id`), its deadline as a date and 中文 names."""
    from dacu.plan.timeline import TEAMS

    rows = []
    for index, task in enumerate(file_tasks(campaign)):
        due = task.due if not isinstance(task.due, int) else campaign.peak_day + timedelta(task.due)
        rows.append(
            {
                "id": index,
                "team": task.team,
                "team_zh": TEAMS[task.team],
                "name_zh": task.task,
                "due": due.isoformat(),
                "owner": task.owner,
                "status": task.status,
                "status_zh": STATUSES[task.status],
            }
        )
    return rows


def set_task(text: str, campaign: Campaign, index: int, changes: dict[str, str | None]) -> str:
    """The campaign file with task `index`'s fields set to `changes` (team, owner, status),
    everything else as it was. The result is not validated here (the caller does)."""
    if campaign.tasks is None:
        text = _with_default_tasks(text, campaign)
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    tasks = next(v for k, v in root.value if k.value == "tasks")
    item = tasks.value[index]
    edits: list[tuple[int, int, str]] = []  # (start, end, new text), applied from the end
    for key, value in item.value:
        if key.value in changes:
            edits.append(
                (value.start_mark.index, value.end_mark.index, _scalar(changes[key.value]))
            )
    missing = [k for k in changes if k not in {key.value for key, _ in item.value}]
    if missing:
        edits.append(_insertion(text, item, {k: changes[k] for k in missing}))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _scalar(value: str | None) -> str:
    return "null" if value is None else json.dumps(value, ensure_ascii=False)  # YAML-safe


def _insertion(text: str, item: yaml.MappingNode, fields: dict[str, str | None]) -> tuple:
    """Where and what to add for keys the task does not have yet (flow `{…}` or block style)."""
    pairs = [f"{key}: {_scalar(value)}" for key, value in fields.items()]
    if item.flow_style:
        at = text.rindex("}", 0, item.end_mark.index)
        return at, at, "".join(f", {p}" for p in pairs)
    last = item.value[-1][1].end_mark.index
    indent = " " * item.value[0][0].start_mark.column
    return last, last, "".join(f"\n{indent}{p}" for p in pairs)


def _with_default_tasks(text: str, campaign: Campaign) -> str:
    """The file with the default tasks written out as its `tasks:` list (flow style, one a line)."""
    lines = [
        "  - "
        + "{"
        + f"team: {t.team}, task: {_scalar(t.task)}, name: {_scalar(t.name)}, due: {t.due}, "
        + "owner: null, status: todo}"
        for t in file_tasks(campaign)
    ]
    header = "# 任务: the default tasks, written here when the first one was changed in the browser"
    return text.rstrip("\n") + "\n\n" + header + "\ntasks:\n" + "\n".join(lines) + "\n"


@router.post("/{campaign_id}/tasks/{index}")
def update_task(
    request: Request,
    campaign_id: CampaignId,
    index: int = Path(..., ge=0, le=999),
    task: str = Form(..., max_length=200),
    team: str | None = Form(None, max_length=32),
    owner: str | None = Form(None, max_length=MAX_OWNER),
    status: str | None = Form(None, max_length=8),
    back: str | None = Form(None, max_length=200),
) -> Response:
    """Assign a task (team, owner) or move its status (todo → doing → done); back to the desk."""
    from dacu.config import parse_campaign
    from dacu.metadata import audit, campaigns
    from dacu.web.workbench import _campaign, _folder

    row, campaign = _campaign(request, campaign_id)
    known = file_tasks(campaign)
    if index >= len(known) or known[index].task != task:
        raise Problem(409, "conflict", f"task {index}: the campaign file changed; reload the page")
    changes = _changes(team, owner, status)
    text = set_task(row.config_yaml, campaign, index, changes)
    try:
        parse_campaign(text, source=f"campaign {campaign_id}")  # as `dacu check` would
    except ConfigError as exc:
        raise Problem(422, "validation", str(exc)) from None
    actor = principal_of(request).name
    with request.app.state.db.session() as s:  # the file and its audit row together
        campaigns.save_campaign(s, text, actor=actor, source="task")
        audit.record(s, actor, "task.update", f"{campaign_id}#{index}", {"task": task, **changes})
    folder = _folder(request, campaign_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "campaign.yaml").write_text(text, encoding="utf-8")
    target = back if back and back.startswith("/workbench/") else f"/workbench/{campaign_id}"
    return RedirectResponse(target, status_code=303)


def _changes(team: str | None, owner: str | None, status: str | None) -> dict[str, str | None]:
    """The fields the form sets (an empty owner clears it), each checked."""
    changes: dict[str, str | None] = {}
    if team:
        if team not in TEAM_IDS:
            raise Problem(422, "validation", f"team: expected one of {', '.join(TEAM_IDS)}")
        changes["team"] = team
    if owner is not None:
        changes["owner"] = owner.strip() or None
    if status:
        if status not in STATUSES:
            raise Problem(422, "validation", f"status: expected one of {', '.join(STATUSES)}")
        changes["status"] = status
    if not changes:
        raise Problem(422, "validation", "nothing to change: give team, owner or status")
    return changes
