"""The workbench over HTTP: a campaign from a form (checked like `dacu check`), the real Tmall
order export and a spend report uploaded as background jobs, the plan and the review built and
downloaded — and a failing job that never blocks the next one."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import openpyxl
import pytest
import yaml

from dacu.config import parse_campaign
from dacu.errors import ConfigError
from tests.web.conftest import World

TMALL = "tmall_order_report_2020_02/tmall_order_report.csv"
FORM = {
    "id": "d38-2027",
    "name": "2027 三八节",
    "store": "澜序美妆旗舰店",
    "platform": "tmall",
    "warmup_start": "2020-02-14T00:00",
    "warmup_end": "2020-02-20T00:00",
    "burst_start": "2020-02-20T00:00",
    "burst_end": "2020-02-21T00:00",
    "burst_label": "爆发日",
    "wrapup_start": "2020-02-21T00:00",
    "wrapup_end": "2020-03-01T00:00",
    "channels": "search_ads, 直通车, search_ads\norganic, 自然搜索, organic",
    "categories": "skincare, 护肤, profit",
    "gmv": "300万",
    "orders": "25000",
    "cvr": "4.5%",
    "asp": "¥120",
    "budget_total": "20万",
    "budget_lines": "zhitongche, search_ads, 8万",
    "promotions": "- {id: m300, type: threshold, name: 满300减40, "
    "tiers: [{threshold: 300, discount: 40}]}",
}
SPEND = "日期,渠道,花费,展现量,点击量\n2020-02-18,search_ads,1200.50,30000,900\n2020-02-19,search_ads,1800,42000,1300\n"


def operator(world: World):
    return world.session_of("operator")


def wait(client, job_url: str) -> dict:
    """Poll a job until it ends (the job runs in the server's background pool)."""
    for _ in range(1200):
        job = client.get(job_url, headers={"Accept": "application/json"}).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.25)
    raise AssertionError(f"job never finished: {job}")


def start(client, url: str, **kwargs) -> str:
    reply = client.post(url, headers={"Accept": "application/json"}, **kwargs)
    assert reply.status_code == 202, reply.text
    return f"/workbench/jobs/{reply.json()['id']}"


def test_form_creates_the_campaign_and_its_yaml_is_the_source_of_truth(world: World) -> None:
    client = operator(world)
    reply = client.post("/workbench/new", data=FORM, follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/workbench/d38-2027"
    text = client.get("/workbench/d38-2027/campaign.yaml").text
    campaign = parse_campaign(text)  # what `dacu check` reads
    assert [p.phase.value for p in campaign.phases] == ["warmup", "burst", "wrapup"]
    assert campaign.target("gmv").value == 300_000_000  # 300万 yuan in fen
    assert campaign.target("cvr").value == pytest.approx(0.045)
    assert campaign.budget.lines[0].amount == 8_000_000
    assert campaign.phases[1].label == "爆发日" and campaign.promotions[0]["id"] == "m300"
    page = client.get("/workbench/d38-2027").text
    assert "2027 三八节" in page and 'id="upload-form"' in page


def test_a_wrong_form_says_what_dacu_check_says_next_to_the_field(world: World) -> None:
    client = operator(world)
    bad = FORM | {"burst_end": "2020-02-19T00:00"}  # ends before it starts
    reply = client.post("/workbench/new", data=bad, follow_redirects=False)
    assert reply.status_code == 422
    expected = "phases[1].end: before phases[1].start"
    assert f'data-key="phases">{expected}</p>' in reply.text  # no file, so no line number
    assert reply.text.count('class="field-error" data-key=') == 1
    assert 'value="2020-02-19T00:00"' in reply.text  # what was typed is kept
    # the very same words as `dacu check` on that file
    from dacu.web.campaign_form import form_to_data, to_yaml

    with pytest.raises(ConfigError, match=r"phases\[1\]\.end: before phases\[1\]\.start"):
        parse_campaign(to_yaml(form_to_data(bad)))
    broken = FORM | {"coupons": "- {id: c1, discount: [oops"}
    reply = client.post("/workbench/new", data=broken, follow_redirects=False)
    assert (
        reply.status_code == 422
        and 'data-key="coupons">coupons: not valid YAML at line 1 of the box' in reply.text
    )


def test_upload_a_campaign_yaml(world: World, examples_dir: Path) -> None:
    client = operator(world)
    good = (examples_dir / "double12.yaml").read_bytes()
    reply = client.post(
        "/workbench/upload-yaml", files={"file": ("d12.yaml", good)}, follow_redirects=False
    )
    assert reply.status_code == 303
    bad = good.replace(b"store:", b"shop:", 1)
    reply = client.post("/workbench/upload-yaml", files={"file": ("d12.yaml", bad)})
    assert reply.status_code == 422 and "d12.yaml: " in reply.text and "shop" in reply.text


def test_viewers_read_but_do_not_act(world: World) -> None:
    operator(world).post("/workbench/new", data=FORM, follow_redirects=False)
    viewer = world.session_of("viewer")
    assert viewer.get("/workbench/d38-2027").status_code == 200
    assert 'id="upload-form"' not in viewer.get("/workbench/d38-2027").text
    assert viewer.post("/workbench/d38-2027/plan").status_code == 403


def paid_rows(path: Path) -> tuple[int, float]:
    """Count the export's paid orders and their payments, by hand with the csv module."""
    with path.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["订单付款时间"].strip()]
    return len(rows), sum(float(r["买家实际支付金额"]) for r in rows)


@pytest.mark.slow
def test_exports_plan_and_review_from_the_browser_api(world: World, shared_data: Path) -> None:
    client = operator(world)
    client.post("/workbench/new", data=FORM, follow_redirects=False)
    export = (shared_data / TMALL).read_bytes()
    # without "skip bad rows": the importer's line and column, nothing stored
    failed = wait(
        client,
        start(
            client,
            "/workbench/d38-2027/upload",
            data={"kind": "events", "mapping": "tmall_orders"},
            files={"file": ("tmall_order_report.csv", export)},
        ),
    )
    assert failed["status"] == "failed"
    assert "line 2, column '订单付款时间': required field is empty" in failed["error"]
    # the server carries on: the next job runs
    done = wait(
        client,
        start(
            client,
            "/workbench/d38-2027/upload",
            data={"kind": "events", "mapping": "tmall_orders", "skip_bad_rows": "1"},
            files={"file": ("tmall_order_report.csv", export)},
        ),
    )
    paid, _ = paid_rows(shared_data / TMALL)
    assert done["status"] == "done", done
    assert done["result"] == {"table": "events", "inserted": paid, "rejected": 28_010 - paid}
    spend = wait(
        client,
        start(
            client,
            "/workbench/d38-2027/upload",
            data={"kind": "spend"},
            files={"file": ("直通车报表.csv", SPEND.encode())},
        ),
    )
    assert spend["status"] == "done" and spend["result"]["inserted"] == 2
    plan = wait(client, start(client, "/workbench/d38-2027/plan"))
    assert plan["status"] == "done", plan["log"]
    book = openpyxl.load_workbook(io.BytesIO(client.get("/workbench/d38-2027/plan.xlsx").content))
    assert len(book.sheetnames) >= 3
    page = client.get("/workbench/d38-2027").text
    assert 'id="whatif"' in page and 'id="download-plan"' in page
    fed = wait(client, start(client, "/workbench/d38-2027/feed"))
    with (shared_data / TMALL).open(encoding="utf-8") as f:  # paid on the burst day, China time
        peak = sum(r["订单付款时间"].startswith("2020/2/20 ") for r in csv.DictReader(f))
    assert fed["status"] == "done", fed["log"]
    assert fed["result"]["events"] == peak > 0
    review = wait(client, start(client, "/workbench/d38-2027/review"))
    assert review["status"] == "done", review["log"]
    deck = client.get(f"/reports/{review['result']['reports']['pptx']}/file")
    assert deck.status_code == 200 and deck.content[:2] == b"PK"
    assert yaml.safe_load(client.get("/workbench/d38-2027/campaign.yaml").text)["id"] == "d38-2027"


def test_upload_the_excel_of_dacu_init_xlsx(world: World, tmp_path: Path) -> None:
    from dacu.config_xlsx import write_template

    book = openpyxl.load_workbook(write_template(tmp_path / "c.xlsx"))
    book["活动 campaign"]["B2"] = "from-excel"
    book.save(tmp_path / "c.xlsx")
    client = operator(world)
    reply = client.post(
        "/workbench/upload-yaml",
        files={"file": ("c.xlsx", (tmp_path / "c.xlsx").read_bytes())},
        follow_redirects=False,
    )
    assert reply.status_code == 303 and reply.headers["location"] == "/workbench/from-excel"
    text = client.get("/workbench/from-excel/campaign.yaml").text
    assert parse_campaign(text).target("gmv").value == 3_000_000_000
    book["阶段 phases"]["C3"] = "2026-11-10 00:00"
    book.save(tmp_path / "c.xlsx")
    reply = client.post(
        "/workbench/upload-yaml", files={"file": ("c.xlsx", (tmp_path / "c.xlsx").read_bytes())}
    )
    assert reply.status_code == 422
    assert "c.xlsx, sheet &#39;阶段 phases&#39;, row 3: phases[1].end: before" in reply.text


def test_the_budget_slider_steps_come_from_the_plan_whatif() -> None:
    """Two budget lines: 直通车 ¥10,000 at a marginal ROI of 2.0, 引力魔方 ¥5,000 with ROI 1.2
    and no marginal ROI (the plan's what-if then uses its ROI). Planned GMV ¥1,000,000.
    +10%: spend 11,000 + 5,500 = ¥16,500; GMV + 1,000 × 2.0 + 500 × 1.2 = ¥1,002,600.
    −50%: spend ¥7,500; GMV − 5,000 × 2.0 − 2,500 × 1.2 = ¥987,000."""
    from dacu.plan.schema import BudgetRow
    from dacu.web.whatif import budget_steps, whatif_base
    from tests.web.test_plan_contract import valid_plan

    body = valid_plan()
    body["targets"]["gmv_fen"] = 100_000_000
    rows = [
        BudgetRow(channel="search_ads", spend_fen=1_000_000, marginal_roi=2.0),
        BudgetRow(channel="display_ads", spend_fen=500_000, roi=1.2),
    ]
    body["budget"]["channels"] = [r.model_dump(mode="json") for r in rows]
    steps = {s["percent"]: s for s in budget_steps(body) or []}
    assert sorted(steps) == list(range(-50, 55, 5))
    assert (steps[0]["spend_fen"], steps[0]["gmv_fen"]) == (1_500_000, 100_000_000)
    assert (steps[10]["spend_fen"], steps[10]["gmv_fen"]) == (1_650_000, 100_260_000)
    assert (steps[-50]["spend_fen"], steps[-50]["gmv_fen"]) == (750_000, 98_700_000)
    base = whatif_base(body)
    assert base is not None and base["budget"] == budget_steps(body)
    body["budget"]["channels"] = [BudgetRow(channel="search_ads", spend_fen=1).model_dump()]
    assert budget_steps(body) is None  # no line with an ROI: a change cannot be priced
    assert budget_steps({"targets": {"gmv_fen": 1}}) is None  # not a plan `dacu plan build` reads
