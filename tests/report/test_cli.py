"""`dacu report review` on the command line: outputs listed, bad inputs named in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dacu.cli import app
from dacu.errors import InputError
from dacu.report.competitors import load_competitors
from tests.conftest import ROOT

runner = CliRunner()
CAMPAIGN = str(ROOT / "examples" / "double11.yaml")


def test_cli_writes_every_output(reviewed: dict, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "report",
            "review",
            "--campaign",
            CAMPAIGN,
            "-w",
            reviewed["url"],
            "--out",
            str(tmp_path),
            "--lang",
            "en",
        ],
    )
    assert result.exit_code == 0, result.output
    for name in ("review.html", "review.xlsx", "review.pptx", "review.json", "lessons.json"):
        assert (tmp_path / name).stat().st_size > 0
        assert name in result.output
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,gmv,orders\nA,1,2\n", "line 1: missing column(s) asp, repurchase"),
        (
            "name,gmv,orders,asp,repurchase\nA,12万,400,300,20%\nB,abc,1,1,0.1\n",
            "line 3, column 'gmv': not an amount of money: 'abc'",
        ),
        ("name,gmv,orders,asp,repurchase\nA,1,2.5,3,0.1\n", "line 2, column 'orders'"),
        (
            "name,gmv,orders,asp,repurchase\nA,1,2,3,130%\n",
            "line 2, column 'repurchase': '130%' is not a rate between 0 and 1",
        ),
    ],
)
def test_competitor_file_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rivals.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_competitors(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_bad_plan_and_lang_are_one_line_errors(reviewed: dict, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('{"campaign_id": "x"}', encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "report",
            "review",
            "--campaign",
            CAMPAIGN,
            "-w",
            reviewed["url"],
            "--plan",
            str(plan),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code != 0
    # the CLI's main() prints a DacuError as this one line (tests/test_cli.py covers the printing)
    assert f"{plan}: generated_at: Field required" in str(result.exception)
    result = runner.invoke(
        app, ["report", "review", "--campaign", CAMPAIGN, "--lang", "fr", "--out", str(tmp_path)]
    )
    assert "--lang 'fr': expected zh or en" in str(result.exception)
    assert not (tmp_path / "review.html").exists()


def test_plan_targets_in_attainment(reviewed: dict, tmp_path: Path) -> None:
    """One target per KPI and scope: the campaign file's burst GMV target (1500万) is kept over
    the plan's burst node; the plan's makeup node (no file target) is a plan row measured as
    placed GMV, like its target; the bridge starts from the paid GMV target of the table (the
    file's 2700万), not from the plan's root UV × CVR × ASP (defect: two different targets)."""
    from datetime import datetime

    from dacu.plan.schema import Budget, Plan, TargetTreeNode
    from dacu.report.builder import assemble
    from dacu.report.queries import read_facts
    from dacu.warehouse import open_warehouse

    def node(key: str, dimension: str, gmv_fen: int, children=()) -> TargetTreeNode:
        return TargetTreeNode(
            key=key,
            dimension=dimension,
            gmv_fen=gmv_fen,
            uv=2000,
            buyers=100,
            cvr=0.05,
            asp_fen=gmv_fen / 100,
            children=list(children),
        )

    phases = node("phases", "view", 10_000_000, [node("burst", "phase", 5_000_000)])
    categories = node("categories", "view", 10_000_000, [node("makeup", "category", 3_000_000)])
    plan = Plan(
        campaign_id="double11-2026",
        generated_at=datetime(2026, 10, 1),
        targets=node("all", "all", 10_000_000, [phases, categories]),
        daily=[],
        hourly=[],
        budget=Budget(total_fen=0, emergency_reserve_fen=0, elastic_reserve_fen=0, channels=[]),
        risks=[],
    )
    wh = open_warehouse(reviewed["url"])
    try:
        facts = read_facts(wh, reviewed["campaign"], with_journeys=False)
    finally:
        wh.close()
    review = assemble(reviewed["campaign"], facts, plan=plan)
    rows = review.table("attainment").rows
    keys = [(r["metric"], r["scope"]) for r in rows]
    assert len(keys) == len(set(keys))  # one target per KPI and scope
    burst = next(r for r in rows if (r["metric"], r["scope"]) == ("gmv", "phase=burst"))
    assert (burst["target"], burst["source"]) == (15_000_000_00, "campaign")
    makeup = next(r for r in rows if r["source"] == "plan" and r["scope"] == "category=makeup")
    placed = next(r["gmv_fen"] for r in facts.by_category if r["category"] == "makeup")
    assert (makeup["metric"], makeup["target"], makeup["actual"]) == ("gmv", 3_000_000, placed)
    paid = next(r for r in rows if (r["metric"], r["scope"]) == ("paid_gmv", "all"))
    assert paid["target"] == 27_000_000_00 and paid["actual"] == facts.total["paid_gmv_fen"]
    bridge = {r["part"].split(" ")[0]: r["fen"] for r in review.table("gmv_bridge").rows}
    assert bridge["目标支付金额"] == paid["target"]
    assert bridge["实际支付金额"] == paid["actual"]
    assert bridge["差额"] == paid["gap"]


@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**12),
            st.integers(0, 10**7),
            st.integers(0, 10**8),
            st.integers(0, 100),
        ),
        min_size=1,
        max_size=5,
    )
)
@settings(max_examples=40, deadline=None)
def test_competitor_amounts_round_trip(rows: list[tuple[int, int, int, int]]) -> None:
    """Any fen amount written as yuan text (¥1,234.56 or plain) reads back to the same fen."""
    import tempfile

    lines = ["name,gmv,orders,asp,repurchase"]
    for i, (gmv, orders, asp, pct) in enumerate(rows):
        lines.append(f's{i},"¥{gmv // 100:,}.{gmv % 100:02d}",{orders},{asp / 100:.2f},{pct}%')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        got = load_competitors(path)
    assert [(c.gmv_fen, c.orders, c.asp_fen) for c in got] == [(g, o, a) for g, o, a, _ in rows]
    assert [c.repurchase for c in got] == pytest.approx([p / 100 for *_, p in rows])


def test_empty_warehouse_is_one_clear_error(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    result = runner.invoke(
        app, ["report", "review", "--campaign", CAMPAIGN, "-w", url, "--out", str(tmp_path / "out")]
    )
    assert result.exit_code != 0
    assert (
        "no events between 2026-10-27T00:00+08:00 and 2026-11-22T00:00+08:00 (campaign "
        "double11-2026) in the warehouse"
    ) in str(result.exception)
    assert not (tmp_path / "out" / "review.html").exists()
