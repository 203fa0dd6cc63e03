"""The working sheets of plan.xlsx: targets, budget, scenarios and tasks with live formulas.

目标 targets: each leaf holds its inputs UV, CVR and ASP; its buyers = UV × CVR and GMV = UV × CVR ×
ASP are formulas, every parent sums its children and derives CVR = buyers / UV and ASP = GMV /
buyers, so editing a CVR cell moves GMV up the tree. The root repeats the phase view. 预算 budget:
amounts and expected GMV (what the spend buys) are inputs, ROI and totals formulas, the reserves a
share of the total; each channel's target GMV beside it, the rest of it (= target − expected) a
formula, and the channels without a line make the targets add up to the campaign's total.
情景 scenarios: UV, CVR and ASP per scenario against the target. The last column of each sheet
(键 key, hidden) is what `dacu plan import` reads the rows back by.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from xlsxwriter.utility import xl_rowcol_to_cell as cell

from dacu.plan.schema import Plan, TargetTreeNode

MONEY = "¥#,##0.00"
TARGET_HEAD = [
    "节点 node",
    "维度 dimension",
    "UV",
    "转化率 CVR",
    "客单价 ASP ¥",
    "买家 buyers",
    "GMV ¥",
    "GMV 万",
    "键 key",
]
UV, CVR, ASP, BUYERS, GMV, GMV_WAN, KEY = 2, 3, 4, 5, 6, 7, 8
BUDGET_HEAD = [
    "预算项 line",
    "类型 kind",
    "金额 ¥",
    "预计GMV ¥",
    "ROI",
    "边际ROI mROI",
    "下限 floor ¥",
    "上限 cap ¥",
    "日限额 daily cap ¥",
    "已锁定 committed",
    "来源 source",
    "渠道目标GMV ¥",
    "其余GMV ¥ (非本投放)",
    "键 key",
]
AMOUNT, EXPECTED, ROI, TARGET, OTHER, B_KEY = 2, 3, 4, 11, 12, 13
TASK_HEAD = [
    "状态 status",
    "团队 team",
    "任务 task",
    "task",
    "负责人 owner",
    "截止 due",
    "节点 when",
    "键 key",
]


@dataclass
class Formats:
    head: object
    money: object
    wan: object
    pct: object
    count: object
    ratio: object
    day: object
    bold_money: object


def formats(book) -> Formats:
    return Formats(
        head=book.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1}),
        money=book.add_format({"num_format": MONEY}),
        wan=book.add_format({"num_format": '¥#,##0.00"万"'}),
        pct=book.add_format({"num_format": "0.00%"}),
        count=book.add_format({"num_format": "#,##0"}),
        ratio=book.add_format({"num_format": "0.00"}),
        day=book.add_format({"num_format": "yyyy-mm-dd"}),
        bold_money=book.add_format({"num_format": MONEY, "bold": True}),
    )


def _header(sheet, head: list[str], fmt: Formats, widths: list[int]) -> None:
    sheet.write_row(0, 0, head, fmt.head)
    for col, width in enumerate(widths):
        sheet.set_column(col, col, width)
    sheet.set_column(len(head) - 1, len(head) - 1, 28, None, {"hidden": True})
    sheet.freeze_panes(1, 1)


# -- 目标 targets ------------------------------------------------------------------------------
def target_rows(root: TargetTreeNode) -> list[tuple[str, int, TargetTreeNode, list[int]]]:
    """(key, depth, node, child row indexes) depth first; the keys are paths of node keys."""
    rows: list[tuple[str, int, TargetTreeNode, list[int]]] = []

    def visit(node: TargetTreeNode, path: str, depth: int) -> int:
        index = len(rows)
        rows.append((path, depth, node, []))
        for child in node.children:
            rows[index][3].append(visit(child, f"{path}/{child.key}", depth + 1))
        return index

    visit(root, root.key, 0)
    return rows


def write_targets(book, plan: Plan, fmt: Formats) -> None:
    sheet = book.add_worksheet("目标 targets")
    _header(sheet, TARGET_HEAD, fmt, [30, 12, 12, 11, 13, 11, 16, 13])
    rows = target_rows(plan.targets)
    for i, (key, depth, node, children) in enumerate(rows):
        r = i + 1
        sheet.write(r, 0, "  " * depth + (node.label or node.key))
        sheet.write(r, 1, node.dimension)
        sheet.write(r, KEY, key)
        if i == 0 and children:  # the root repeats the phase view (its first view)
            _refs(sheet, r, children[0] + 1, fmt)
        elif children:
            _sums(sheet, r, [c + 1 for c in children], fmt)
        else:
            _leaf(sheet, r, node, fmt)
        sheet.write_formula(r, GMV_WAN, f"={cell(r, GMV)}/10000", fmt.wan, node.gmv_fen / 1e6)
    sheet.write(
        len(rows) + 2, 0, "改 UV / 转化率 / 客单价 (叶子行) → GMV 自动重算; edit a leaf's inputs"
    )


def _leaf(sheet, r: int, node: TargetTreeNode, fmt: Formats) -> None:
    sheet.write_number(r, UV, node.uv, fmt.count)
    sheet.write_number(r, CVR, node.buyers / node.uv if node.uv else 0, fmt.pct)
    sheet.write_number(r, ASP, node.gmv_fen / node.buyers / 100 if node.buyers else 0, fmt.money)
    sheet.write_formula(r, BUYERS, f"={cell(r, UV)}*{cell(r, CVR)}", fmt.count, node.buyers)
    if node.buyers:
        formula = f"={cell(r, UV)}*{cell(r, CVR)}*{cell(r, ASP)}"
        sheet.write_formula(r, GMV, formula, fmt.money, node.gmv_fen / 100)
    else:  # GMV without a whole buyer (a quiet hour of a small store): kept as a number
        sheet.write_number(r, GMV, node.gmv_fen / 100, fmt.money)


def _sums(sheet, r: int, children: list[int], fmt: Formats) -> None:
    for col, f in ((UV, fmt.count), (BUYERS, fmt.count), (GMV, fmt.money)):
        sheet.write_formula(r, col, "=" + "+".join(cell(c, col) for c in children), f)
    _derived(sheet, r, fmt)


def _refs(sheet, r: int, source: int, fmt: Formats) -> None:
    for col, f in ((UV, fmt.count), (BUYERS, fmt.count), (GMV, fmt.money)):
        sheet.write_formula(r, col, f"={cell(source, col)}", f)
    _derived(sheet, r, fmt)


def _derived(sheet, r: int, fmt: Formats) -> None:
    uv, buyers, gmv = cell(r, UV), cell(r, BUYERS), cell(r, GMV)
    sheet.write_formula(r, CVR, f"=IF({uv}=0,0,{buyers}/{uv})", fmt.pct)
    sheet.write_formula(r, ASP, f"=IF({buyers}=0,0,{gmv}/{buyers})", fmt.money)


def channel_names(plan: Plan) -> dict[str, str]:
    """Channel id → "直通车 search_ads" from the labels of the plan's channel view."""
    view = next((c for c in plan.targets.children if c.key == "channel"), None)
    return {
        c.key: f"{c.label} {c.key}" if c.label else c.key for c in (view.children if view else [])
    }


# -- 预算 budget --------------------------------------------------------------------------------
def write_budget(book, plan: Plan, fmt: Formats) -> None:
    sheet = book.add_worksheet("预算 budget")
    _header(sheet, BUDGET_HEAD, fmt, [24, 10, 14, 16, 8, 12, 14, 14, 14, 10, 16, 16, 18])
    b = plan.budget
    names = channel_names(plan)
    lines: list[tuple[str, list, int | None]] = []
    for row in b.channels:
        lines.append(
            (
                f"channel/{row.channel}",
                [
                    names.get(row.channel, row.channel),
                    row.kind or "media",
                    row.spend_fen,
                    row.expected_gmv_fen,
                    None,
                    row.marginal_roi,
                    row.floor_fen,
                    row.cap_fen,
                    row.daily_max_fen,
                    "✓" if row.committed else "",
                    row.gmv_basis or row.source,
                ],
                row.target_gmv_fen,
            )
        )
    for o in b.other_lines:
        lines.append(
            (
                f"line/{o['id']}",
                [
                    o["id"],
                    o["kind"],
                    o["amount_fen"],
                    o.get("gmv_fen"),
                    None,
                    None,
                    None,
                    None,
                    None,
                    "✓" if o.get("committed") else "",
                    "campaign",
                ],
                None,
            )
        )
    first = 1
    for i, (key, values, target) in enumerate(lines):
        r = first + i
        _budget_row(sheet, r, values, fmt)
        if target is not None:
            sheet.write_number(r, TARGET, target / 100, fmt.money)
            target_cell, expected = cell(r, TARGET), cell(r, EXPECTED)
            sheet.write_formula(
                r, OTHER, f'=IF({expected}="","",{target_cell}-{expected})', fmt.money
            )
        sheet.write(r, B_KEY, key)
    last = first + len(lines) - 1
    total_row = last + 4
    rng = lambda col: f"{cell(first, col)}:{cell(max(last, first), col)}"  # noqa: E731
    emergency = b.emergency_reserve_fen / b.total_fen if b.total_fen else 0
    elastic = b.elastic_reserve_fen / b.total_fen if b.total_fen else 0
    total = cell(total_row, AMOUNT)
    sheet.write(last + 1, 0, "应急预留 emergency reserve")
    sheet.write_formula(last + 1, AMOUNT, f"=ROUND({total}*{emergency!r},2)", fmt.money)
    sheet.write(last + 1, B_KEY, "reserve/emergency")
    sheet.write(last + 2, 0, "机动预算 elastic reserve")
    sheet.write_formula(last + 2, AMOUNT, f"=ROUND({total}*{elastic!r},2)", fmt.money)
    sheet.write(last + 2, B_KEY, "reserve/elastic")
    sheet.write(last + 3, 0, "未分配 unspent")
    sheet.write_formula(
        last + 3,
        AMOUNT,
        f"={total}-SUM({rng(AMOUNT)})-{cell(last + 1, AMOUNT)}-{cell(last + 2, AMOUNT)}",
        fmt.money,
    )
    sheet.write(last + 3, B_KEY, "unspent")
    sheet.write(total_row, 0, "总预算 total", fmt.head)
    sheet.write_number(total_row, AMOUNT, b.total_fen / 100, fmt.bold_money)
    sheet.write(total_row, B_KEY, "total")
    sheet.write(total_row + 1, 0, "投放合计 lines total")
    sheet.write_formula(total_row + 1, AMOUNT, f"=SUM({rng(AMOUNT)})", fmt.money)
    sheet.write_formula(total_row + 1, EXPECTED, f"=SUM({rng(EXPECTED)})", fmt.money)
    sheet.write_formula(
        total_row + 1,
        ROI,
        f"=IF({cell(total_row + 1, AMOUNT)}=0,0,{cell(total_row + 1, EXPECTED)}"
        f"/{cell(total_row + 1, AMOUNT)})",
        fmt.ratio,
    )
    sheet.write(total_row + 1, B_KEY, "sum")
    if b.unbudgeted_gmv_fen is not None:
        sheet.write(total_row + 2, 0, "无投放渠道 channels without a line")
        sheet.write_number(total_row + 2, TARGET, b.unbudgeted_gmv_fen / 100, fmt.money)
        sheet.write(total_row + 2, B_KEY, "unbudgeted")
        sheet.write(total_row + 3, 0, "渠道目标合计 = 总目标 channels' targets")
        targets = f"SUM({rng(TARGET)})+{cell(total_row + 2, TARGET)}"
        sheet.write_formula(total_row + 3, TARGET, f"={targets}", fmt.bold_money)
        sheet.write_formula(total_row + 1, TARGET, f"=SUM({rng(TARGET)})", fmt.money)
        sheet.write_formula(total_row + 1, OTHER, f"=SUM({rng(OTHER)})", fmt.money)
        sheet.write(total_row + 3, B_KEY, "targets")


def _budget_row(sheet, r: int, values: list, fmt: Formats) -> None:
    name, kind, amount, expected, _, mroi, floor, cap, daily, committed, source = values
    sheet.write(r, 0, name)
    sheet.write(r, 1, kind)
    sheet.write_number(r, AMOUNT, amount / 100, fmt.money)
    if expected is not None:
        sheet.write_number(r, EXPECTED, expected / 100, fmt.money)
    sheet.write_formula(
        r,
        ROI,
        f'=IF(OR({cell(r, AMOUNT)}=0,{cell(r, EXPECTED)}=""),"",'
        f"{cell(r, EXPECTED)}/{cell(r, AMOUNT)})",
        fmt.ratio,
    )
    if mroi is not None:
        sheet.write_number(r, 5, mroi, fmt.ratio)
    for col, value in ((6, floor), (7, cap), (8, daily)):
        if value is not None:
            sheet.write_number(r, col, value / 100, fmt.money)
    sheet.write(r, 9, committed)
    sheet.write(r, 10, source)


# -- 情景 scenarios -----------------------------------------------------------------------------
def write_scenarios(book, plan: Plan, fmt: Formats) -> None:
    """Conservative / expected / stretch (the forecast's, else −15% / target / +15%) as UV at
    the plan's CVR and ASP; edit any cell to try a scenario."""
    sheet = book.add_worksheet("情景 scenarios")
    head = [
        "情景 scenario",
        "UV",
        "转化率 CVR",
        "客单价 ASP ¥",
        "GMV ¥",
        "GMV 万",
        "对目标 vs target",
    ]
    _header(sheet, [*head, "键 key"], fmt, [26, 12, 11, 13, 16, 13, 14])
    t = plan.targets
    proposal = plan.forecast.get("proposal") or {}
    cases = [
        ("保守 conservative", proposal.get("conservative") or t.gmv_fen * 0.85),
        ("预期 expected", proposal.get("expected") or t.gmv_fen),
        ("目标 target", t.gmv_fen),
        ("冲刺 stretch", max(proposal.get("stretch") or 0, t.gmv_fen * 1.15)),
    ]
    cvr = t.buyers / t.uv if t.uv else 0
    asp = t.gmv_fen / t.buyers / 100 if t.buyers else 0
    target_cell = "'目标 targets'!" + cell(1, GMV, row_abs=True, col_abs=True)
    for i, (name, gmv) in enumerate(cases, start=1):
        uv = round(gmv / 100 / (cvr * asp)) if cvr and asp else 0
        sheet.write(i, 0, name)
        sheet.write_number(i, 1, uv, fmt.count)
        sheet.write_number(i, 2, cvr, fmt.pct)
        sheet.write_number(i, 3, asp, fmt.money)
        sheet.write_formula(i, 4, f"={cell(i, 1)}*{cell(i, 2)}*{cell(i, 3)}", fmt.money)
        sheet.write_formula(i, 5, f"={cell(i, 4)}/10000", fmt.wan)
        sheet.write_formula(i, 6, f"=IF({target_cell}=0,0,{cell(i, 4)}/{target_cell})", fmt.pct)
        sheet.write(i, 7, f"scenario/{i}")


# -- 任务 tasks ---------------------------------------------------------------------------------
STATUS_MARK = {"todo": "☐ 待办", "doing": "◐ 进行中", "done": "☑ 完成"}


def write_tasks(book, plan: Plan, fmt: Formats) -> None:
    sheet = book.add_worksheet("任务 checklist")
    _header(sheet, TASK_HEAD, fmt, [12, 10, 34, 44, 12, 12, 8])
    tasks = plan.timeline.get("tasks", [])
    for i, task in enumerate(tasks, start=1):
        sheet.write(i, 0, STATUS_MARK.get(task.get("status", "todo"), "☐ 待办"))
        sheet.write(i, 1, task["team_zh"])
        sheet.write(i, 2, task["name_zh"])
        sheet.write(i, 3, task.get("name") or "")
        sheet.write(i, 4, task.get("owner") or "")
        sheet.write_datetime(i, 5, date.fromisoformat(task["due"]), fmt.day)
        sheet.write(i, 6, task["when"])
        sheet.write(i, 7, f"task/{i - 1}")
    sheet.data_validation(
        1, 0, max(len(tasks), 1), 0, {"validate": "list", "source": list(STATUS_MARK.values())}
    )
