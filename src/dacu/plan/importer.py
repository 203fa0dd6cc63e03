"""`dacu plan import plan.xlsx`: read an edited workbook back into the plan and say what changed.

The workbook's formulas are not evaluated by Excel here (openpyxl reads the formulas, not cached
values): the inputs are read — each target leaf's UV, CVR and ASP, each budget line's amount and
expected GMV, the total, each task's status, owner and due date — and the plan recomputes the
rest as the sheet would: leaf GMV = UV × CVR × ASP (a GMV typed over the formula is taken as
typed), parents sum their children. Edits in the phase → day → hour tree move the total; edits in
another view (channel, category, customers) move that view's mix, re-split to the total. Daily
and hourly rows and milestones follow; a channel's spend per day keeps its old shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from dacu.errors import InputError
from dacu.money import allocate, format_fen, format_pct
from dacu.plan.allocation import ratio_of
from dacu.plan.schema import Milestone, Plan, TargetTreeNode
from dacu.plan.targets import Shares, TargetNode, Values, check_sums, milestones, split
from dacu.plan.workbook import (
    AMOUNT,
    ASP,
    B_KEY,
    CVR,
    EXPECTED,
    GMV,
    KEY,
    STATUS_MARK,
    UV,
    target_rows,
)


@dataclass(frozen=True)
class Change:
    sheet: str
    key: str
    field: str
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.sheet} {self.key} {self.field}: {self.before} → {self.after}"


def import_workbook(plan: Plan, path: str | Path) -> tuple[Plan, list[Change]]:
    """The plan with the workbook's edits applied, and the list of what changed."""
    import openpyxl

    path = Path(path)
    if not path.exists():
        raise InputError("no such workbook", file=str(path))
    try:
        book = openpyxl.load_workbook(path)  # formulas as written, not cached values
    except Exception as exc:  # zipfile/openpyxl raise many kinds for a non-workbook
        raise InputError(f"not an .xlsx workbook ({exc})", file=str(path)) from None
    changes: list[Change] = []
    root = _targets(plan, _sheet(book, "目标 targets", path), path, changes)
    budget = _budget(plan, _sheet(book, "预算 budget", path), path, changes)
    timeline = _tasks(plan, _sheet(book, "任务 checklist", path), path, changes)
    check_sums(root)
    new_tree = TargetTreeNode.model_validate(root.to_dict())
    if new_tree.gmv_fen != plan.targets.gmv_fen:
        changes.insert(
            0,
            Change(
                "目标 targets",
                "total",
                "GMV",
                format_fen(plan.targets.gmv_fen),
                format_fen(new_tree.gmv_fen),
            ),
        )
    daily, hourly = _rows(plan, root, budget)
    day_totals = [(r.day, r.gmv_fen) for r in daily if r.channel is None]
    updated = plan.model_copy(
        update={
            "targets": new_tree,
            "budget": budget,
            "timeline": timeline,
            "daily": daily,
            "hourly": hourly,
            "milestones": [Milestone(**m.__dict__) for m in milestones(day_totals, plan.tolerance)],
            "notes": [*plan.notes, f"导入 imported from {path.name}: {len(changes)} changes"],
        }
    )
    return updated, changes


def _sheet(book, name: str, path: Path):
    if name not in book.sheetnames:
        raise InputError(
            f"no sheet {name!r} (sheets: {', '.join(book.sheetnames)})", file=str(path)
        )
    return book[name]


def _number(sheet, row: int, col: int, path: Path, what: str) -> float:
    value = sheet.cell(row=row + 1, column=col + 1).value
    if isinstance(value, bool) or not isinstance(value, int | float):
        address = sheet.cell(row=row + 1, column=col + 1).coordinate
        raise InputError(
            f"sheet {sheet.title}, cell {address} ({what}): expected a number, got {value!r}",
            file=str(path),
        )
    return float(value)


def _keys(sheet, col: int) -> dict[str, int]:
    out = {}
    for r in range(1, sheet.max_row):
        key = sheet.cell(row=r + 1, column=col + 1).value
        if isinstance(key, str) and key:
            out[key] = r
    return out


# -- targets -------------------------------------------------------------------------------------
def _targets(plan: Plan, sheet, path: Path, changes: list[Change]) -> TargetNode:
    rows = _keys(sheet, KEY)
    leaves: dict[str, Values] = {}
    for key, _, node, children in target_rows(plan.targets):
        if children or key not in rows:
            continue
        leaves[key] = _leaf(sheet, rows[key], node, key, path, changes)
    root = _rebuild(plan.targets, plan.targets.key, leaves)
    _resplit_views(root, changes)
    return root


def _leaf(sheet, r: int, node: TargetTreeNode, key: str, path: Path, changes) -> Values:
    uv = round(_number(sheet, r, UV, path, "UV"))
    cvr = _number(sheet, r, CVR, path, "CVR")
    asp = _number(sheet, r, ASP, path, "ASP ¥")
    if uv < 0 or not 0 <= cvr <= 1 or asp < 0:
        address = sheet.cell(row=r + 1, column=CVR + 1).coordinate
        raise InputError(
            f"sheet {sheet.title}, row {r + 1} ({key}): needs UV ≥ 0, 0 ≤ CVR ≤ 1, ASP ≥ 0 "
            f"(got {uv}, {cvr}, {asp}; CVR is {address})",
            file=str(path),
        )
    buyers = round(uv * cvr)
    typed = sheet.cell(row=r + 1, column=GMV + 1).value
    if isinstance(typed, str) and typed.startswith("="):
        gmv = round(uv * cvr * asp * 100)
    else:
        gmv = round(_number(sheet, r, GMV, path, "GMV ¥") * 100)
    old = Values(node.gmv_fen, node.uv, node.buyers)
    if gmv == node.gmv_fen and uv == node.uv and buyers == node.buyers:
        return old  # unchanged (the float round trip must not move a fen)
    label = node.label or key
    if uv != node.uv:
        changes.append(Change("目标 targets", label, "UV", f"{node.uv:,}", f"{uv:,}"))
    if abs(cvr - old.cvr) > 1e-9:
        changes.append(Change("目标 targets", label, "CVR", format_pct(old.cvr), format_pct(cvr)))
    if abs(asp * 100 - old.asp_fen) > 0.5:
        changes.append(
            Change(
                "目标 targets",
                label,
                "ASP",
                format_fen(round(old.asp_fen)),
                format_fen(round(asp * 100)),
            )
        )
    changes.append(Change("目标 targets", label, "GMV", format_fen(node.gmv_fen), format_fen(gmv)))
    return Values(gmv, max(uv, buyers), buyers)


def _rebuild(node: TargetTreeNode, key: str, leaves: dict[str, Values]) -> TargetNode:
    if not node.children:
        values = leaves.get(key, Values(node.gmv_fen, node.uv, node.buyers))
        return TargetNode(node.key, node.dimension, values, node.label)
    children = [_rebuild(c, f"{key}/{c.key}", leaves) for c in node.children]
    if node.dimension == "total":  # the total is the phase view's
        values = children[0].values
    else:
        values = Values(
            sum(c.values.gmv_fen for c in children),
            sum(c.values.uv for c in children),
            sum(c.values.buyers for c in children),
        )
    return TargetNode(node.key, node.dimension, values, node.label, children)


def _resplit_views(root: TargetNode, changes: list[Change]) -> None:
    """Every view other than the phase tree re-split to the total by its (edited) shares."""
    for view in root.children[1:]:
        if view.values == root.values:
            continue
        whole = view.values
        shares = Shares(
            {c.key: c.values.gmv_fen / (whole.gmv_fen or 1) for c in view.children},
            {c.key: c.values.uv / (whole.uv or 1) for c in view.children},
            {c.key: c.values.buyers / (whole.buyers or 1) for c in view.children},
        )
        parts = split(root.values, shares)
        for child in view.children:
            child.values = parts[child.key]
        view.values = root.values
        changes.append(
            Change(
                "目标 targets",
                view.key,
                "view",
                format_fen(whole.gmv_fen),
                f"{format_fen(root.values.gmv_fen)} (re-split to the total by its new shares)",
            )
        )


# -- budget --------------------------------------------------------------------------------------
def _budget(plan: Plan, sheet, path: Path, changes: list[Change]):
    b = plan.budget
    rows = _keys(sheet, B_KEY)
    total = round(_number(sheet, rows["total"], AMOUNT, path, "总预算 total") * 100)
    if total != b.total_fen:
        changes.append(
            Change("预算 budget", "total", "金额", format_fen(b.total_fen), format_fen(total))
        )
    channels = []
    for row in b.channels:
        r = rows.get(f"channel/{row.channel}")
        if r is None:
            channels.append(row)
            continue
        spend, gmv = _line(sheet, r, path)
        channels.append(_changed(row, row.channel, spend, gmv, changes))
    other = []
    for line in b.other_lines:
        r = rows.get(f"line/{line['id']}")
        if r is None:
            other.append(line)
            continue
        spend, gmv = _line(sheet, r, path)
        if spend != line["amount_fen"]:
            changes.append(
                Change(
                    "预算 budget",
                    line["id"],
                    "金额",
                    format_fen(line["amount_fen"]),
                    format_fen(spend),
                )
            )
        roi = round(gmv / spend, 4) if gmv is not None and spend else None
        other.append({**line, "amount_fen": spend, "gmv_fen": gmv, "roi": roi})
    emergency = ratio_of(total, b.emergency_reserve_fen / b.total_fen if b.total_fen else 0)
    elastic = ratio_of(total, b.elastic_reserve_fen / b.total_fen if b.total_fen else 0)
    spent = sum(r.spend_fen for r in channels) + sum(o["amount_fen"] for o in other)
    if spent + emergency + elastic > total:
        raise InputError(
            f"sheet 预算 budget: the lines ({format_fen(spent)}) and reserves "
            f"({format_fen(emergency + elastic)}) add up to more than the total "
            f"{format_fen(total)}",
            file=str(path),
        )
    return b.model_copy(
        update={
            "total_fen": total,
            "emergency_reserve_fen": emergency,
            "elastic_reserve_fen": elastic,
            "channels": channels,
            "other_lines": other,
            "unspent_fen": total - spent - emergency - elastic,
        }
    )


def _line(sheet, r: int, path: Path) -> tuple[int, int | None]:
    spend = round(_number(sheet, r, AMOUNT, path, "金额 ¥") * 100)
    if spend < 0:
        raise InputError(f"sheet 预算 budget, row {r + 1}: a negative amount", file=str(path))
    raw = sheet.cell(row=r + 1, column=EXPECTED + 1).value
    gmv = None if raw in (None, "") else round(_number(sheet, r, EXPECTED, path, "预计GMV") * 100)
    return spend, gmv


def _changed(row, name: str, spend: int, gmv: int | None, changes: list[Change]):
    if spend == row.spend_fen and gmv == row.expected_gmv_fen:
        return row
    if spend != row.spend_fen:
        changes.append(
            Change("预算 budget", name, "金额", format_fen(row.spend_fen), format_fen(spend))
        )
    if gmv != row.expected_gmv_fen:
        changes.append(
            Change(
                "预算 budget",
                name,
                "预计GMV",
                format_fen(row.expected_gmv_fen or 0),
                format_fen(gmv or 0),
            )
        )
    return row.model_copy(
        update={
            "spend_fen": spend,
            "expected_gmv_fen": gmv,
            "roi": round(gmv / spend, 4) if gmv is not None and spend else None,
            "other_gmv_fen": None
            if row.target_gmv_fen is None or gmv is None
            else row.target_gmv_fen - gmv,
            "source": "workbook",
        }
    )


# -- tasks ---------------------------------------------------------------------------------------
_STATUS = {mark: status for status, mark in STATUS_MARK.items()}
_STATUS |= {"☐": "todo", "☑": "done", "todo": "todo", "doing": "doing", "done": "done"}


def _tasks(plan: Plan, sheet, path: Path, changes: list[Change]) -> dict:
    tasks = [dict(t) for t in plan.timeline.get("tasks", [])]
    for key, r in _keys(sheet, 7).items():
        index = int(key.split("/")[1])
        if index >= len(tasks):
            continue
        task = tasks[index]
        mark = str(sheet.cell(row=r + 1, column=1).value or "").strip()
        status = _STATUS.get(mark)
        if status is None:
            raise InputError(
                f"sheet 任务 checklist, cell A{r + 1}: status {mark!r} is not one of "
                f"{', '.join(STATUS_MARK.values())}",
                file=str(path),
            )
        owner = sheet.cell(row=r + 1, column=5).value or None
        due = sheet.cell(row=r + 1, column=6).value
        due = due.date() if isinstance(due, datetime) else due
        if not isinstance(due, date):
            raise InputError(
                f"sheet 任务 checklist, cell F{r + 1}: due {due!r} is not a date", file=str(path)
            )
        for field, old, new in (
            ("status", task.get("status", "todo"), status),
            ("owner", task.get("owner"), owner),
            ("due", task["due"], due.isoformat()),
        ):
            if old != new:
                changes.append(Change("任务 checklist", task["name_zh"], field, str(old), str(new)))
                task[field] = new
    return {**plan.timeline, "tasks": tasks}


# -- rows ------------------------------------------------------------------------------------------
def _rows(plan: Plan, root: TargetNode, budget):
    """Daily/hourly rows of the new tree; a channel's spend per day keeps its old shape."""
    from dacu.plan.build import plan_rows

    days = [r.day for r in plan.daily if r.channel is None]
    spend_by_day = {}
    for row in budget.channels:
        old = [r.spend_fen for r in plan.daily if r.channel == row.channel]
        if len(old) != len(days) or not sum(old):
            old = [1] * len(days)
        spend_by_day[row.channel] = allocate(row.spend_fen, old)
    return plan_rows(ZoneInfo(plan.timezone), root, spend_by_day)


__all__ = ["Change", "import_workbook"]
