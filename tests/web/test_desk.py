"""Each team's desk (我的待办): the alerts it owns and its tasks, as seen on a phone."""

from __future__ import annotations

from dacu.config import parse_campaign
from dacu.metadata import alerts, audit, campaigns
from dacu.web.desk import desk, team_of_alert
from dacu.web.tasks import set_task
from tests.web.conftest import EXAMPLE, World

PAID = {"search_ads", "display_ads"}


def test_alerts_go_to_the_team_whose_lever_they_name() -> None:
    assert team_of_alert("stock_out", "sku=SKU-SC-001", PAID) == "warehouse"
    assert team_of_alert("stock_out_risk", "", PAID) == "warehouse"
    assert team_of_alert("spend_overpace", "channel=search_ads", PAID) == "ads"
    assert team_of_alert("roi_below_floor", "channel=display_ads", PAID) == "ads"
    assert team_of_alert("refund_spike", "", PAID) == "cs"
    assert team_of_alert("traffic_drop", "channel=search_ads", PAID) == "ads"  # a paid channel
    assert team_of_alert("orders_behind_plan", "channel=organic", PAID) == "ops"
    assert team_of_alert("payment_failure", "channel=search_ads", PAID) == "ops"
    assert team_of_alert("something_new", "", PAID) == "ops"


def _alert(i: int, rule: str, severity: str = "yellow", status: str = "open", dim: str = ""):
    return {"id": i, "rule_id": rule, "severity": severity, "status": status, "dimension": dim}


TASKS = [
    {"team": "warehouse", "team_zh": "仓储", "name_zh": "发货高峰", "due": "2026-11-12"},
    {"team": "warehouse", "team_zh": "仓储", "name_zh": "预打包", "due": "2026-11-09"},
    {"team": "customer_service", "team_zh": "客服", "name_zh": "客服排班", "due": "2026-11-08"},
    {"team": "operations", "team_zh": "运营", "name_zh": "库存校准", "due": "2026-11-09"},
]


def test_a_desk_shows_its_own_first_red_and_upcoming() -> None:
    found = [
        _alert(1, "stock_out", "yellow"),
        _alert(2, "stock_out_risk", "red"),
        _alert(3, "spend_overpace", "red", dim="channel=search_ads"),
        _alert(4, "stock_out", "red", status="resolved"),
        _alert(5, "payment_failure", "red"),
    ]
    warehouse = desk("warehouse", TASKS, found, PAID, today="2026-11-10")
    assert [a["id"] for a in warehouse["alerts"]] == [2, 1]  # red first, resolved gone
    assert [t["name_zh"] for t in warehouse["tasks"]] == ["发货高峰", "预打包"]  # upcoming first
    boss = desk("boss", TASKS, found, PAID, today="2026-11-10")
    assert sorted(a["id"] for a in boss["alerts"]) == [2, 3, 5]  # every open red one
    assert len(boss["tasks"]) == 4
    assert [a["id"] for a in desk("ads", TASKS, found, PAID, "2026-11-10")["alerts"]] == [3]


def test_the_warehouse_desk_on_a_phone(world: World) -> None:
    with world.db.session() as s:
        stock = alerts.open_alert(
            s,
            campaign_id=world.campaign_id,
            rule_id="stock_out",
            severity="red",
            message="SKU-SC-001 断货",
            dimension="sku=SKU-SC-001",
        ).id
    client = world.session_of("operator")
    page = client.get(f"/workbench/{world.campaign_id}/desk/warehouse").text
    assert f'data-alert="{stock}"' in page and "SKU-SC-001 断货" in page
    assert "GMV 落后计划" not in page  # the fixture's pace alert on search ads is not theirs
    # the example file has no tasks: the plan's default ones, 3 of them the warehouse's
    assert page.count('data-team="warehouse"') == 3 and 'data-team="operations"' not in page
    ads = world.session_of("viewer").get(f"/workbench/{world.campaign_id}/desk/ads").text
    assert "GMV 落后计划" in ads  # a pace alert on a paid channel: the media buyer's
    assert 'action="/alerts/' not in ads  # a viewer reads, does not acknowledge
    assert 'class="task-form"' not in ads  # nor assigns tasks
    assert client.get(f"/workbench/{world.campaign_id}/desk/nobody").status_code == 404


def test_an_alert_resolved_with_a_note_from_the_desk(world: World) -> None:
    client = world.session_of("operator")
    desk_url = f"/workbench/{world.campaign_id}/desk/ads"
    too_long = {"note": "x" * 501, "next": desk_url}
    assert client.post(f"/alerts/{world.alert_id}/resolve", data=too_long).status_code == 422
    done = client.post(
        f"/alerts/{world.alert_id}/resolve",
        data={"note": "  直通车出价恢复，预算追加 ¥2万  ", "next": desk_url},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == desk_url
    with world.db.session() as s:
        row = alerts.get(s, world.alert_id)
        assert (row.status, row.resolved_by) == ("resolved", "operator")
        assert row.resolution_note == "直通车出价恢复，预算追加 ¥2万"  # trimmed
        logged = audit.recent(s, action="alert.resolve")[0]
        assert logged.detail["note"] == row.resolution_note
    assert "GMV 落后计划" not in client.get(desk_url).text  # resolved: off the desk
    table = client.get(f"/alerts?campaign_id={world.campaign_id}").text
    assert "直通车出价恢复" in table  # the alerts page shows the note


def test_a_task_assigned_and_marked_done_from_the_desk(world: World) -> None:
    """The example file plans with the default tasks; the first change writes them into the
    file (the source of truth), validated, with an audit row; the desk shows the new state."""
    client = world.session_of("operator")
    url = f"/workbench/{world.campaign_id}/tasks/16"  # default task 17: the shipping peak
    name = "发货高峰(48小时内发货)"
    back = f"/workbench/{world.campaign_id}/desk/warehouse"
    form = {"task": name, "owner": "仓储 老李", "back": back}
    assert client.post(url, data=form, follow_redirects=False).status_code == 303
    assert client.post(url, data={"task": name, "status": "done"}).status_code == 200
    with world.db.session() as s:
        row = campaigns.get_campaign(s, world.campaign_id)
        text = row.config_yaml
        changes = [(a.target, a.detail) for a in audit.recent(s, action="task.update")]
    campaign = parse_campaign(text)
    assert campaign.tasks is not None and len(campaign.tasks) == 17
    shipped = campaign.tasks[16]
    assert (shipped.task, shipped.owner, shipped.status) == (name, "仓储 老李", "done")
    assert all(t.status == "todo" and t.owner is None for t in campaign.tasks[:16])
    assert text.startswith(EXAMPLE.read_text(encoding="utf-8").rstrip("\n"))  # nothing lost
    assert changes[::-1] == [  # oldest first
        (f"{world.campaign_id}#16", {"task": name, "owner": "仓储 老李"}),
        (f"{world.campaign_id}#16", {"task": name, "status": "done"}),
    ]
    page = client.get(back).text
    assert 'data-task="16" data-status="done"' in page and "负责人 仓储 老李" in page
    stale = client.post(url, data={"task": "另一个任务", "status": "doing"})
    assert stale.status_code == 409  # the file changed under the page: refuse, edit nothing
    assert client.post(url, data={"task": name, "status": "finished"}).status_code == 422
    viewer = world.session_of("viewer").post(url, data={"task": name, "status": "todo"})
    assert viewer.status_code == 403


def test_set_task_edits_only_the_task_and_keeps_the_file() -> None:
    """Block and flow style tasks, a comment, a missing key: only the values change."""
    text = EXAMPLE.read_text(encoding="utf-8").rstrip("\n") + (
        "\ntasks:  # 我们的任务\n"
        "  - team: warehouse  # 仓库\n"
        "    task: 预打包\n"
        "    due: -2\n"
        "  - {team: operations, task: 库存校准, due: 2026-11-09, owner: 小王, status: todo}\n"
    )
    campaign = parse_campaign(text)
    block = set_task(text, campaign, 0, {"owner": "老李", "status": "doing"})
    assert "  - team: warehouse  # 仓库\n    task: 预打包\n    due: -2\n" in block
    assert '    owner: "老李"\n    status: "doing"' in block and "# 我们的任务" in block
    flow = set_task(block, parse_campaign(block), 1, {"owner": None, "status": "done"})
    assert (
        '{team: operations, task: 库存校准, due: 2026-11-09, owner: null, status: "done"}' in flow
    )
    tasks = parse_campaign(flow).tasks
    assert tasks is not None
    assert [(t.owner, t.status) for t in tasks] == [("老李", "doing"), (None, "done")]
