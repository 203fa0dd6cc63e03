"""Ad-tool reports: appended, deduplicated, channels resolved, CPC/CPM/CTR/ROI by hand."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from dacu.config import Channel, load_campaign
from dacu.errors import InputError
from dacu.metrics.ads import ad_kpis
from dacu.metrics.commands import register as register_kpi
from dacu.warehouse.adreports import import_spend, resolve_channel
from dacu.warehouse.commands import register as register_import

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

ZTC = (
    "日期,计划ID,计划名称,展现量,点击量,花费,总成交金额\n"
    "2024-11-10,p1,核心词,10000,250,500.00,3000.00\n"
    "2024-11-10,p2,长尾词,4000,80,120.50,0\n"
    '2024-11-11,p1,核心词,"20,000",600,"1,500.00",12000.00\n'
)
TBK = "日期,计划ID,点击数,支出佣金,结算金额\n2024-11-10,tk1,300,88.00,1100.00\n2024-11-11,tk1,900,260,3250\n"


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _table(wh) -> list[tuple]:
    rows = wh.to_arrow(wh.table("spend")).to_pylist()
    keys = ("hour", "tool", "plan_id", "channel", "spend_fen", "impressions", "clicks")
    return sorted(tuple(r[k] for k in (*keys, "attributed_gmv_fen")) for r in rows)


def test_two_reports_in_either_order_give_the_same_table(tmp_path):
    from dacu.warehouse import open_warehouse

    ztc, tbk = _file(tmp_path, "直通车.csv", ZTC), _file(tmp_path, "淘宝客.csv", TBK)
    tables = []
    for order in ((ztc, "直通车", tbk, "淘宝客"), (tbk, "淘宝客", ztc, "直通车")):
        wh = open_warehouse(f"duckdb:///{tmp_path / f'{order[1]}.duckdb'}")
        import_spend(wh, order[0], order[1])
        import_spend(wh, order[2], order[3])
        tables.append(_table(wh))
        wh.close()
    assert tables[0] == tables[1] and len(tables[0]) == 5
    assert {(r[1], r[3]) for r in tables[0]} == {("直通车", "search_ads"), ("淘宝客", "affiliate")}


def test_reimport_adds_nothing_and_a_corrected_report_replaces_its_own_rows(wh, tmp_path):
    import_spend(wh, _file(tmp_path, "z.csv", ZTC), "直通车")
    import_spend(wh, _file(tmp_path, "t.csv", TBK), "淘宝客")
    before = _table(wh)
    again = import_spend(wh, _file(tmp_path, "z.csv", ZTC), "直通车")
    assert (again.inserted, again.duplicates) == (0, 3) and _table(wh) == before

    corrected = ZTC.replace('"1,500.00"', '"1,600.00"')
    report = import_spend(wh, _file(tmp_path, "z2.csv", corrected), "直通车")
    assert (report.inserted, report.duplicates) == (0, 3)
    after = _table(wh)
    assert len(after) == 5 and sum(r[4] for r in after) == sum(r[4] for r in before) + 10000

    header_only = import_spend(wh, _file(tmp_path, "h.csv", ZTC.splitlines()[0] + "\n"), "直通车")
    assert header_only.inserted == 0 and _table(wh) == after  # a header-only file wipes nothing

    replaced = import_spend(wh, _file(tmp_path, "t.csv", TBK), "淘宝客", replace=True)
    assert replaced.inserted == 2 and {r[1] for r in _table(wh)} == {"淘宝客"}


def test_cpc_cpm_ctr_roi_equal_the_hand_computed_values(wh, tmp_path):
    import_spend(wh, _file(tmp_path, "z.csv", ZTC), "直通车")
    import_spend(wh, _file(tmp_path, "t.csv", TBK), "淘宝客")
    rows = {r["channel"]: r for r in wh.to_arrow(ad_kpis(wh.table("spend"))).to_pylist()}
    ztc, tbk = rows["search_ads"], rows["affiliate"]
    # 直通车: spend 500 + 120.50 + 1,500 = ¥2,120.50 = 212,050 fen; clicks 250 + 80 + 600 = 930;
    # impressions 10,000 + 4,000 + 20,000 = 34,000; GMV 3,000 + 0 + 12,000 = ¥15,000
    assert (ztc["spend_fen"], ztc["clicks"], ztc["impressions"]) == (212050, 930, 34000)
    assert ztc["cpc_fen"] == pytest.approx(212050 / 930)  # ¥2.28 per click
    assert ztc["cpm_fen"] == pytest.approx(212050 * 1000 / 34000)  # ¥62.37 per 1,000 views
    assert ztc["ctr"] == pytest.approx(930 / 34000)  # 2.74%
    assert ztc["roi"] == pytest.approx(1_500_000 / 212050)  # 7.07
    # 淘宝客: commission 88 + 260 = ¥348; clicks 1,200; no impressions → CPM and CTR unknown
    assert (tbk["spend_fen"], tbk["clicks"], tbk["impressions"]) == (34800, 1200, None)
    assert tbk["cpc_fen"] == pytest.approx(29.0) and tbk["roi"] == pytest.approx(12.5)
    assert tbk["cpm_fen"] is None and tbk["ctr"] is None


def test_dacu_kpi_shows_the_ad_table(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    app = typer.Typer()
    register_import(app)
    register_kpi(app)
    runner = CliRunner()
    ztc = _file(tmp_path, "直通车.csv", ZTC)
    out = runner.invoke(app, ["import", "spend", str(ztc), "--tool", "直通车", "-w", url])
    assert out.exit_code == 0, out.output
    shown = runner.invoke(app, ["kpi", "--by", "", "-w", url])
    assert shown.exit_code == 0, shown.output
    assert "投放 Ads" in shown.output and "¥2.28" in shown.output and "2.74%" in shown.output
    as_json = runner.invoke(app, ["kpi", "--ads", "-f", "json", "-w", url])
    assert '"cpc_fen": 228.01' in as_json.output


def test_channels_resolve_through_the_campaign_names_and_kinds():
    campaign = load_campaign(EXAMPLES / "double11.yaml")
    assert resolve_channel("直通车", campaign) == "search_ads"  # by name
    assert resolve_channel("超级推荐", campaign) == "display_ads"  # by kind (named 引力魔方 there)
    assert resolve_channel("淘宝客") == "affiliate"  # no campaign: the kind
    own = SimpleNamespace(channels=[Channel(id="ztc", name="直通车", kind="search_ads")])
    assert resolve_channel("直通车", own) == "ztc"  # the shop's own id for it
    assert resolve_channel("京东快车", own) == "ztc"  # same kind


def test_a_report_without_tool_or_channel_asks_for_the_tool(wh, tmp_path):
    with pytest.raises(InputError, match=r"pass --tool 直通车"):
        import_spend(wh, _file(tmp_path, "z.csv", ZTC))
    with pytest.raises(InputError, match=r"unknown ad tool '百度'"):
        import_spend(wh, _file(tmp_path, "z.csv", ZTC), "百度")


def test_a_generic_spend_file_with_a_channel_column_still_imports(wh, tmp_path):
    path = _file(
        tmp_path,
        "spend.csv",
        '日期,渠道,花费,展现量,点击量\n2024-11-11,search_ads,"1,200.50",100000,3000\n',
    )
    assert import_spend(wh, path).inserted == 1
    row = wh.to_arrow(wh.table("spend")).to_pylist()[0]
    assert (row["channel"], row["spend_fen"], row["clicks"]) == ("search_ads", 120050, 3000)


def test_a_duplicate_plan_row_in_one_report_is_named(wh, tmp_path):
    text = ZTC + "2024-11-10,p1,核心词,1,1,1,1\n"
    with pytest.raises(InputError) as caught:
        import_spend(wh, _file(tmp_path, "z.csv", text), "直通车")
    assert caught.value.line == 5 and "first at line 2" in caught.value.reason
    assert wh.to_arrow(wh.table("spend").count())["value"][0].as_py() == 0
