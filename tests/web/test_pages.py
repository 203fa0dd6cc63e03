"""Pages (Chinese first, English switch), formatting filters and the message catalogues."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from dacu.metadata import campaigns
from dacu.web import i18n
from dacu.web.templating import environment, format_count, format_time
from tests.web.conftest import World

WEB = Path(__file__).resolve().parents[2] / "src" / "dacu" / "web"
PLAN = {
    "campaign_id": "double11-2026",
    "targets": {
        "key": "all",
        "dimension": "all",
        "gmv_fen": 3_000_000_000,
        "uv": 1_800_000,
        "buyers": 90_909,
        "cvr": 0.0505,
        "asp_fen": 33_000.0,
        "children": [],
    },
    "daily": [
        {
            "day": "2026-11-10",
            "channel": None,
            "category": None,
            "gmv_fen": 120_000_000,
            "uv": 1,
            "orders": 1,
            "buyers": 1,
            "cvr": 1,
            "asp_fen": 1,
        },
        {
            "day": "2026-11-11",
            "channel": None,
            "category": None,
            "gmv_fen": 1_500_000_000,
            "uv": 1,
            "orders": 1,
            "buyers": 1,
            "cvr": 1,
            "asp_fen": 1,
        },
        {
            "day": "2026-11-11",
            "channel": "search_ads",
            "category": None,
            "gmv_fen": 9,
            "uv": 1,
            "orders": 1,
            "buyers": 1,
            "cvr": 1,
            "asp_fen": 1,
        },
    ],
    "budget": {
        "total_fen": 350_000_000,
        "emergency_reserve_fen": 0,
        "elastic_reserve_fen": 0,
        "channels": [
            {"channel": "search_ads", "spend_fen": 110_000_000, "expected_gmv_fen": 880_000_000}
        ],
    },
    "risks": [
        {
            "id": "r1",
            "metric": "cvr",
            "condition": "<",
            "threshold": 0.03,
            "action": "加大优惠券投放",
        }
    ],
}


def test_campaign_page_in_chinese_with_formatted_money(world: World) -> None:
    with world.db.session() as s:
        campaigns.save_plan(s, world.campaign_id, PLAN, actor="ops")
    html = world.login("viewer").get(f"/campaigns/{world.campaign_id}").text
    assert '<html lang="zh-CN">' in html and "预热期" in html and "爆发期" in html
    # double11.yaml: gmv target 3000万 = 3,000,000,000 fen → ¥3,000.00万; budget 350万
    assert "¥3,000.00万" in html and "总预算: <strong>¥350.00万</strong>" in html
    assert "直通车" in html and "¥110.00万" in html and "¥8.80亿" not in html
    assert "¥880.00万" in html  # expected GMV of search ads: 880,000,000 fen
    assert "4.50%" in html  # cvr target "4.5%"
    assert "180.00万" in html  # uv 1,800,000 → 180.00万
    assert "2026-10-27 00:00" in html  # phases shown in Asia/Shanghai, as written in the file
    chart = json.loads(re.search(r'id="plan-chart-data">(.*?)</script>', html, re.S).group(1))
    # only the all-channel rows; yuan = fen / 100
    assert chart == {"x": ["2026-11-10", "2026-11-11"], "y": [1_200_000.0, 15_000_000.0]}
    assert '<script src="/vendor/plotly.min.js"></script>' in html
    assert "GMV 落后计划 18%" in html  # the campaign's alert


def test_language_switch_to_english_and_back(world: World) -> None:
    client = world.login("viewer")
    client.get("/lang/en", params={"next": "/campaigns"})
    html = client.get(f"/campaigns/{world.campaign_id}").text
    assert '<html lang="en">' in html and "Warm-up" in html and "Total budget" in html
    assert "¥30.00M" in html  # 3,000,000,000 fen = ¥30,000,000 = ¥30.00M in English
    assert "中文" in html  # the switch back
    client.get("/lang/zh")
    assert "预热期" in client.get(f"/campaigns/{world.campaign_id}").text


def test_pages_list_campaigns_alerts_reports(world: World) -> None:
    client = world.login("operator")
    assert "2026 双11 全店大促" in client.get("/campaigns").text
    alerts_html = client.get("/alerts", params={"status": "open"}).text
    assert "GMV 落后计划 18%" in alerts_html and "确认" in alerts_html  # operator can ack
    assert "确认</button>" not in world.login("viewer").get("/alerts").text  # viewer cannot
    reports_html = client.get("/reports").text
    assert "双11复盘" in reports_html
    served = client.get(f"/reports/{world.report_id}/file")
    assert served.status_code == 200 and served.text == "<h1>复盘</h1>"


def test_first_run_login_page_says_how_to_create_the_admin(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from dacu.web.app import create_app
    from dacu.web.settings import Settings
    from tests.web.conftest import sqlite_db

    app = create_app(Settings(), db=sqlite_db(tmp_path))
    html = TestClient(app, base_url="https://t").get("/login").text
    assert "dacu user add admin --role admin" in html and "没有默认密码" in html


def test_plotly_is_served_locally(world: World) -> None:
    reply = world.client().get("/vendor/plotly.min.js")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/javascript")
    assert len(reply.content) > 1_000_000 and b"plotly" in reply.content[:2000].lower()


def test_pages_fit_a_phone() -> None:
    base = (WEB / "templates" / "base.html").read_text(encoding="utf-8")
    css = (WEB / "static" / "app.css").read_text(encoding="utf-8")
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in base
    assert "@media (max-width: 640px)" in css and ".table-wrap { overflow-x:auto; }" in css


def _template_keys() -> set[str]:
    keys: set[str] = set()
    for path in (WEB / "templates").glob("*.html"):
        keys |= set(re.findall(r't\("(web\.[a-z_.]+[a-z_])"', path.read_text(encoding="utf-8")))
    return keys


def test_every_message_used_by_a_template_exists_in_both_languages() -> None:
    books = i18n.catalogues()
    for lang in ("zh", "en"):
        missing = sorted(k for k in _template_keys() if k not in books[lang])
        assert not missing, f"{lang}.json lacks {missing}"
    assert set(json.loads((WEB / "i18n" / "zh.json").read_text(encoding="utf-8"))) == set(
        json.loads((WEB / "i18n" / "en.json").read_text(encoding="utf-8"))
    )


def test_catalogues_of_stages_are_merged_with_chinese_fallback(tmp_path: Path, monkeypatch) -> None:
    stage = tmp_path / "monitor" / "i18n"
    stage.mkdir(parents=True)
    (stage / "zh.json").write_text(
        '{"monitor.tile.gmv": "实时GMV", "monitor.only_zh": "只有中文"}', encoding="utf-8"
    )
    (stage / "en.json").write_text('{"monitor.tile.gmv": "Live GMV {n}"}', encoding="utf-8")
    monkeypatch.setattr(i18n, "stage_dirs", lambda: [WEB, tmp_path / "monitor"])
    i18n.catalogues.cache_clear()
    try:
        assert i18n.translate("monitor.tile.gmv", "en", n=3) == "Live GMV 3"
        assert i18n.translate("monitor.only_zh", "en") == "只有中文"
        assert i18n.translate("web.nav.alerts", "en") == "Alerts"
        assert i18n.translate("no.such.key", "en") == "no.such.key"
    finally:
        i18n.catalogues.cache_clear()


def test_stage_templates_render_inside_the_layout(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "monitor" / "templates"
    folder.mkdir(parents=True)
    (folder / "dashboard.html").write_text(
        '{% extends "base.html" %}{% block content %}<p>{{ 123456789 | fen }}</p>{% endblock %}',
        encoding="utf-8",
    )
    monkeypatch.setattr("dacu.web.templating.stage_dirs", lambda: [tmp_path / "monitor"])
    environment.cache_clear()
    try:
        from types import SimpleNamespace

        user = SimpleNamespace(is_user=False)
        html = (
            environment()
            .get_template("monitor/dashboard.html")
            .render(lang="zh", user=user, path="/", csrf_token="t", other_lang="en")
        )
        assert "<p>¥123.46万</p>" in html and 'class="brand"' in html
    finally:
        environment.cache_clear()


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_count_format_matches_a_decimal_reading(n: int) -> None:
    shown = format_count(n, "zh")
    if abs(n) >= 10**8:
        assert shown.endswith("亿")
        value = Decimal(shown[:-1].replace(",", "")) * 10**8
        assert abs(value - n) <= Decimal("0.005") * 10**8  # rounded to 0.01亿
    elif abs(n) >= 10**4:
        assert shown.endswith("万")
        value = Decimal(shown[:-1].replace(",", "")) * 10**4
        assert abs(value - n) <= Decimal("0.005") * 10**4
    else:
        assert int(shown.replace(",", "")) == n


def test_count_and_time_examples() -> None:
    assert format_count(9_999) == "9,999"
    assert format_count(123_456) == "12.35万"  # 12.3456万 rounded half up
    assert format_count(120_000_000) == "1.20亿"
    assert format_count(1_234_567, "en") == "1.23M"
    assert format_count(None) == "—"
    # 2026-11-10 16:00 UTC is midnight of Double 11 in Shanghai (UTC+8)
    assert format_time(datetime(2026, 11, 10, 16, 0, tzinfo=UTC)) == "2026-11-11 00:00"
    assert format_time(datetime(2026, 11, 10, 16, 0)) == "2026-11-11 00:00"  # naive = UTC
