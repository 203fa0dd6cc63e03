"""plan.json is a validated contract (issue #16): a wrong plan is refused where it enters with its
key path, and a plan stored wrong never breaks the monitor or the page of a campaign that has a
valid earlier version (defect: `"spend_fen": "abc"` made every event batch fail with 500)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from dacu.errors import ConfigError
from dacu.metadata import campaigns
from dacu.plan.schema import Budget, BudgetRow, Plan, TargetTreeNode, check_plan
from tests.web.conftest import World


def valid_plan() -> dict:
    root = TargetTreeNode(
        key="all", dimension="all", gmv_fen=100, uv=10, buyers=1, cvr=0.1, asp_fen=100.0
    )
    plan = Plan(
        campaign_id="double11-2026",
        generated_at=datetime(2026, 10, 1),
        targets=root,
        daily=[],
        hourly=[],
        budget=Budget(
            total_fen=1000,
            emergency_reserve_fen=0,
            elastic_reserve_fen=0,
            channels=[BudgetRow(channel="search_ads", spend_fen=700)],
        ),
        risks=[],
    )
    return json.loads(plan.model_dump_json())


def broken_plan() -> dict:
    body = valid_plan()
    body["budget"]["channels"][0]["spend_fen"] = "abc"
    return body


def test_a_wrong_plan_is_refused_with_its_key_path() -> None:
    with pytest.raises(ConfigError) as caught:
        check_plan(broken_plan(), source="plan.json")
    message = str(caught.value)
    assert message.startswith("plan.json: budget.channels.0.spend_fen: ")
    assert "valid integer" in message and "got 'abc'" in message
    with pytest.raises(ConfigError, match=r"schema_version: 7 is not one of 1, 2, 3"):
        check_plan({**valid_plan(), "schema_version": 7})
    assert check_plan(valid_plan()).budget.channels[0].spend_fen == 700


def test_campaign_add_refuses_a_wrong_plan(tmp_path: Path) -> None:
    from dacu.web.commands import _read_plan

    path = tmp_path / "plan.json"
    path.write_text(json.dumps(broken_plan()), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"plan\.json: budget\.channels\.0\.spend_fen"):
        _read_plan(path)


def test_the_plan_api_refuses_a_wrong_plan_and_keeps_the_good_one(world: World) -> None:
    client = world.session_of("operator")
    url = f"/api/campaigns/{world.campaign_id}/plan"
    assert client.post(url, json=valid_plan()).status_code == 201
    refused = client.post(url, json=broken_plan())
    assert refused.status_code == 422, refused.text
    assert "budget.channels.0.spend_fen" in refused.text
    latest = client.get(url).json()
    assert latest["version"] == 1


def test_a_plan_stored_wrong_is_passed_over_by_the_monitor_and_the_page(world: World) -> None:
    from dacu.monitor.api import _valid_plan_body

    good = valid_plan()
    with world.db.session() as s:
        campaigns.save_plan(s, world.campaign_id, good, actor="ops")
        # stored before the door checked plans: the store itself takes any JSON
        campaigns.save_plan(s, world.campaign_id, broken_plan(), actor="ops")
    with world.db.session() as s:
        campaign = campaigns.load(campaigns.get_campaign(s, world.campaign_id))
        body = _valid_plan_body(campaigns, s, campaign)
    assert body["budget"]["channels"][0]["spend_fen"] == 700  # version 1, not the broken 2
    page = world.session_of("viewer").get(f"/campaigns/{world.campaign_id}")
    assert page.status_code == 200, page.text[:300]


def test_schema_3s_distinct_ratios_and_peak_slots_are_checked_at_the_door() -> None:
    shares = [[1 / 6] * 6] * 24
    slots = {"day": "2025-11-11", "uv": shares[:23], "orders": shares, "gmv_fen": shares}
    with pytest.raises(ConfigError, match=r"peak_slots\.uv: List should have at least 24 items"):
        check_plan({**valid_plan(), "peak_slots": {**slots, "buyers": shares}})
    distinct = {"minutes": [60], "peak": {"days": [], "uv": {"": ["x"]}, "buyers": {}}}
    with pytest.raises(
        ConfigError, match=r"distinct\.peak\.uv\.\.0: Input should be a valid number"
    ):
        check_plan({**valid_plan(), "distinct": distinct})
