"""plan.xlsx as a working model: openpyxl reads formulas (not values), pycel evaluates them as a
second implementation, and an edited workbook round-trips through `dacu plan import`."""

from __future__ import annotations

import json

import openpyxl
import pytest

from dacu.config import load_campaign, parse_campaign
from dacu.errors import InputError
from dacu.plan.build import build_plan
from dacu.plan.export import write_xlsx
from dacu.plan.importer import import_workbook
from dacu.plan.targets import check_sums
from tests.conftest import ROOT
from tests.plan.cli_helper import run_cli

T, B = "目标 targets", "预算 budget"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    plan = build_plan(campaign)
    folder = tmp_path_factory.mktemp("xlsx")
    plan.write(folder / "plan.json")
    write_xlsx(plan, folder / "plan.xlsx")
    return plan, folder


def _rows(sheet, key_col: int) -> dict[str, int]:
    return {
        row[key_col].value: row[0].row
        for row in sheet.iter_rows(min_row=2)
        if isinstance(row[key_col].value, str)
    }


def _evaluate(path, tmp_path, cells: list[str]) -> list:
    """pycel on a copy saved by openpyxl (which drops xlsxwriter's cached zeros)."""
    from pycel import ExcelCompiler

    copy = tmp_path / "eval.xlsx"
    openpyxl.load_workbook(path).save(copy)
    compiler = ExcelCompiler(filename=str(copy))
    return [compiler.evaluate(c) for c in cells]


def test_targets_and_budget_sheets_hold_formulas(built):
    _, folder = built
    book = openpyxl.load_workbook(folder / "plan.xlsx")
    sheet = book[T]
    rows = _rows(sheet, 8)
    leaf = rows["total/phase/warmup/2026-10-27"]
    assert sheet[f"G{leaf}"].value == f"=C{leaf}*D{leaf}*E{leaf}"
    assert sheet[f"F{leaf}"].value == f"=C{leaf}*D{leaf}"
    assert isinstance(sheet[f"D{leaf}"].value, float) and sheet[f"D{leaf}"].number_format == "0.00%"
    assert sheet[f"E{leaf}"].number_format.startswith("¥")
    warmup = rows["total/phase/warmup"]
    assert sheet[f"G{warmup}"].value.startswith(f"=G{warmup + 1}+G{warmup + 2}+")
    assert sheet["G2"].value == "=G3" and sheet.freeze_panes == "B2"
    budget = book[B]
    brows = _rows(budget, 13)
    r = brows["channel/search_ads"]
    assert budget[f"E{r}"].value == f'=IF(OR(C{r}=0,D{r}=""),"",D{r}/C{r})'
    total = brows["total"]
    assert budget[f"C{brows['unspent']}"].value.startswith(f"=C{total}-SUM(")
    assert "情景 scenarios" in book.sheetnames
    daily = book["每日 daily"]
    assert daily["A2"].is_date and daily["H2"].number_format == "0.00%"


def test_the_formulas_compute_the_plan(built, tmp_path):
    plan, folder = built
    book = openpyxl.load_workbook(folder / "plan.xlsx")
    rows = _rows(book[T], 8)
    brows = _rows(book[B], 13)
    got = _evaluate(
        folder / "plan.xlsx",
        tmp_path,
        [
            f"'{T}'!G2",
            f"'{T}'!G{rows['total/channel']}",
            f"'{T}'!D2",
            f"'{B}'!C{brows['unspent']}",
            f"'{B}'!C{brows['reserve/emergency']}",
            f"'{B}'!L{brows['targets']}",
        ],
    )
    assert got[0] == pytest.approx(plan.targets.gmv_fen / 100, abs=0.01)
    assert got[1] == pytest.approx(plan.targets.gmv_fen / 100, abs=0.01)
    assert got[2] == pytest.approx(plan.targets.cvr, abs=1e-6)
    b = plan.budget
    assert got[3] == pytest.approx(b.unspent_fen / 100, abs=0.01)
    assert got[4] == pytest.approx(b.emergency_reserve_fen / 100, abs=0.01)
    # the lines' channel targets and the channels without a line add up to the total
    assert got[5] == pytest.approx(plan.targets.gmv_fen / 100, abs=0.01)


def test_report_budget_lines_show_their_roi_in_the_sheet(tmp_path):
    # the report: 站外广告 150万 → 580万 (ROI 3.87), 站内资源位 80万 → 320万 (ROI 4.0)
    campaign = parse_campaign(
        """
id: report
name: 年度大促
store: 示例店
phases:
  - {name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}
targets:
  - {metric: gmv, value: 5亿}
  - {metric: orders, value: 100万}
budget:
  total: 300万
  lines:
    - {id: 站外广告, amount: 150万, gmv: 580万}
    - {id: 站内资源位, amount: 80万, gmv: 320万, committed: true}
""",
        source="report.yaml",
    )
    plan = build_plan(campaign)
    assert plan.targets.asp_fen == 50_000  # ¥500
    write_xlsx(plan, tmp_path / "plan.xlsx")
    brows = _rows(openpyxl.load_workbook(tmp_path / "plan.xlsx")[B], 13)
    roi = _evaluate(
        tmp_path / "plan.xlsx",
        tmp_path,
        [f"'{B}'!E{brows['line/站外广告']}", f"'{B}'!E{brows['line/站内资源位']}"],
    )
    assert round(roi[0], 2) == 3.87 and roi[1] == 4.0


def test_round_trip_two_edited_cells(built, tmp_path):
    """Raise one warm-up day's CVR by 1 pt and cut 直通车 to ¥90万 in openpyxl, then import."""
    plan, folder = built
    path = tmp_path / "plan.xlsx"
    book = openpyxl.load_workbook(folder / "plan.xlsx")
    sheet, budget = book[T], book[B]
    r = _rows(sheet, 8)["total/phase/warmup/2026-10-27"]
    uv, cvr, asp = (sheet[f"{c}{r}"].value for c in "CDE")
    sheet[f"D{r}"] = cvr + 0.01
    budget[f"C{_rows(budget, 13)['channel/search_ads']}"] = 900_000
    book.save(path)
    (tmp_path / "plan.json").write_text((folder / "plan.json").read_text(encoding="utf-8"))

    result = run_cli(["plan", "import", str(path)])
    assert result.exit_code == 0, result.output
    new = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    added = round(uv * (cvr + 0.01) * asp * 100) - round(uv * cvr * asp * 100)
    assert new["targets"]["gmv_fen"] == plan.targets.gmv_fen + added
    assert added == pytest.approx(uv * 0.01 * asp * 100, abs=2)  # 36,000 × 1 pt × ¥315.79
    row = next(x for x in new["daily"] if x["day"] == "2026-10-27" and x["channel"] is None)
    assert row["buyers"] == round(uv * (cvr + 0.01))
    spend = {c["channel"]: c for c in new["budget"]["channels"]}
    assert spend["search_ads"]["spend_fen"] == 90_000_000
    assert new["budget"]["unspent_fen"] == plan.budget.unspent_fen + 20_000_000
    days = [x for x in new["daily"] if x["channel"] == "search_ads"]
    assert sum(x["spend_fen"] for x in days) == 90_000_000
    assert new["milestones"][-1]["cumulative_gmv_fen"] == new["targets"]["gmv_fen"]
    assert "CVR" in result.output and "search_ads" in result.output
    # every view still sums to the new total
    from dacu.plan.schema import load_plan
    from dacu.plan.targets import TargetNode, Values

    def node(n):
        return TargetNode(
            n.key,
            n.dimension,
            Values(n.gmv_fen, n.uv, n.buyers),
            n.label,
            [node(c) for c in n.children],
        )

    check_sums(node(load_plan(tmp_path / "plan.json").targets))


def test_import_names_a_bad_cell(built, tmp_path):
    plan, folder = built
    book = openpyxl.load_workbook(folder / "plan.xlsx")
    r = _rows(book[T], 8)["total/phase/warmup/2026-10-28"]
    book[T][f"D{r}"] = "五"
    book.save(tmp_path / "bad.xlsx")
    with pytest.raises(InputError, match=rf"cell D{r} \(CVR\): expected a number"):
        import_workbook(plan, tmp_path / "bad.xlsx")
    book[T][f"D{r}"] = 0.05
    book["任务 checklist"]["A2"] = "maybe"
    book.save(tmp_path / "bad.xlsx")
    with pytest.raises(InputError, match="cell A2: status 'maybe'"):
        import_workbook(plan, tmp_path / "bad.xlsx")


def test_tasks_round_trip_owner_and_status(built, tmp_path):
    plan, folder = built
    book = openpyxl.load_workbook(folder / "plan.xlsx")
    sheet = book["任务 checklist"]
    sheet["A2"], sheet["E2"] = "☑ 完成", "小王"
    book.save(tmp_path / "plan.xlsx")
    new, changes = import_workbook(plan, tmp_path / "plan.xlsx")
    first = new.timeline["tasks"][0]
    assert first["status"] == "done" and first["owner"] == "小王"
    assert {c.field for c in changes} == {"status", "owner"}


def test_an_edit_in_the_channel_view_moves_the_mix_not_the_total(built, tmp_path):
    plan, folder = built
    book = openpyxl.load_workbook(folder / "plan.xlsx")
    sheet = book[T]
    r = _rows(sheet, 8)["total/channel/search_ads"]
    sheet[f"D{r}"] = sheet[f"D{r}"].value * 2  # double 直通车's CVR
    book.save(tmp_path / "plan.xlsx")
    new, changes = import_workbook(plan, tmp_path / "plan.xlsx")
    assert new.targets.gmv_fen == plan.targets.gmv_fen
    before = {c.key: c.gmv_fen for c in plan.targets.children[1].children}
    after = {c.key: c.gmv_fen for c in new.targets.children[1].children}
    assert sum(after.values()) == new.targets.gmv_fen
    # 直通车 600万 of 3000万 doubles to 1200万 of 3600万 before the re-split: 1/3 of the total
    assert after["search_ads"] == pytest.approx(new.targets.gmv_fen / 3, rel=1e-6)
    assert after["display_ads"] < before["display_ads"]
    assert any(c.field == "view" and c.key == "channel" for c in changes)
