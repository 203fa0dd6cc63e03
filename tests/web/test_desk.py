"""Each team's desk (我的待办): the alerts it owns and its tasks, as seen on a phone."""

from __future__ import annotations

from dacu.warehouse.metadata import alerts, campaigns
from dacu.web.desk import desk, team_of_alert
from tests.web.conftest import World

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
        campaigns.save_plan(s, world.campaign_id, {"timeline": {"tasks": TASKS}}, actor="t")
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
    assert page.count('data-team="warehouse"') == 2 and 'data-team="operations"' not in page
    ads = world.session_of("viewer").get(f"/workbench/{world.campaign_id}/desk/ads").text
    assert "GMV 落后计划" in ads  # a pace alert on a paid channel: the media buyer's
    assert 'action="/alerts/' not in ads  # a viewer reads, does not acknowledge
    assert client.get(f"/workbench/{world.campaign_id}/desk/nobody").status_code == 404
