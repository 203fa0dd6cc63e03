"""The one validator of the campaign file (issue 21): every section the services read is checked
by `parse_campaign` (so by `dacu check`, `dacu campaign add` and the API), each problem with key
path and line; YAML is loaded safely (no alias bombs, no duplicate keys); ids are safe names."""

from __future__ import annotations

import time

import pytest

from dacu.config import parse_campaign
from dacu.errors import ConfigError
from tests.conftest import ROOT

EXAMPLE = (ROOT / "examples" / "double11.yaml").read_text(encoding="utf-8")
HEAD = """\
id: t1
name: test
store: 测试店
phases:
  - {name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}
channels:
  - {id: search_ads, kind: search_ads}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_campaign(text, source="c.yaml")
    return str(caught.value).splitlines()


def test_coupon_and_flash_sale_sections_are_checked_with_lines() -> None:
    text = (
        HEAD
        + """\
coupons:
  - {id: c1, scope: store, threshold: 199, discount: 20, quantity: -5, per_customer: 0}
  - {id: c2, scope: store, threshold: 199, discount: 20, percent_off: 10, quantity: 5}
  - {id: c3, scope: store, discount: 20, quantity: 5,
     valid_from: 2026-11-11 10:00, valid_to: 2026-11-11 09:00}
flash_sales:
  - {id: s1, sku_id: A, price: 99, stock: 10, start: 2026-11-11 20:00, end: 2026-11-11 19:00}
  - {id: s1, sku_id: B, price: 99, stock: 10, start: 2026-11-11 20:00, end: 2026-11-11 21:00}
"""
    )
    found = problems(text)
    joined = "\n".join(found)
    assert "c.yaml: coupons[0] (id c1).quantity:" in joined and "(line 9)" in joined
    assert "coupons[0] (id c1).per_customer:" in joined
    assert any("coupons[1] (id c2)" in p and "not both" in p and "(line 10)" in p for p in found)
    assert any("coupons[2] (id c3).valid_to: before valid_from" in p for p in found)
    assert any(
        "flash_sales[0] (id s1)" in p and "before start" in p and "(line 14)" in p for p in found
    )
    assert any("flash_sales[1].id: duplicate id 's1'" in p for p in found)


def test_alert_and_notify_sections_are_checked() -> None:
    bad_alert = HEAD + "alerts:\n  - {id: a1, metric: no_such_metric, below: 1}\n"
    assert any("alerts[0] (id a1)" in p and "(line 9)" in p for p in problems(bad_alert))
    bad_notify = HEAD + "notify:\n  - {id: n1, type: pigeon}\n"
    assert any("notify[0] (id n1).type" in p and "(line 9)" in p for p in problems(bad_notify))


def test_implausible_targets_and_unknown_budget_channels_are_refused() -> None:
    assert any(
        "targets[0].value: 450% is not a rate" in p and "(line 9)" in p
        for p in problems(HEAD + "targets:\n  - {metric: cvr, value: 450%}\n")
    )
    budget = HEAD + "budget:\n  total: 100万\n  lines:\n    - {id: l1, amount: 10万, channel: tv}\n"
    assert any("budget.lines[0].channel: unknown channel 'tv'" in p for p in problems(budget))


def test_a_key_given_twice_is_refused_with_both_lines() -> None:
    [problem] = problems(HEAD + "name: again\n")
    assert "key 'name' appears twice" in problem and "line 2 and line 8" in problem
    nested = HEAD + "capacity:\n  cs_agents: 5\n  cs_agents: 50\n"
    assert "line 9 and line 10" in problems(nested)[0]
    merge = HEAD + "x_defaults: &d {cs_agents: 5}\n"  # a merge key may be overridden
    assert "x_defaults" in problems(merge)[0]  # (refused as an unknown key, not as a duplicate)


def test_an_alias_bomb_is_refused_quickly() -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [{','.join(['*' + previous] * 9)}]\n"
    assert len(bomb) < 1500
    started = time.process_time()
    [problem] = problems(bomb)
    assert "aliases expand to more than 100,000 values" in problem
    assert time.process_time() - started < 2  # (24.5 s and 4.8 GB before)


def test_deep_nesting_and_huge_files_are_refused() -> None:
    deep = HEAD + "history: " + "[" * 900 + "]" * 900 + "\n"
    assert "nested" in problems(deep)[0]
    big = HEAD + "watch_keywords: [" + ",".join(["关键词"] * 200_000) + "]\n"
    assert "over the 1,048,576" in problems(big)[0]


@pytest.mark.parametrize("bad", ["..", ".", "../etc", "a/b", "-x", "x" * 65, "a b"])
def test_campaign_ids_are_safe_names(bad: str) -> None:
    text = EXAMPLE.replace("id: double11-2026", f"id: {bad!r}", 1)
    assert "id:" in problems(text)[0]


def test_the_examples_pass_every_section() -> None:
    campaign = parse_campaign(EXAMPLE)
    assert campaign.id == "double11-2026" and len(campaign.alerts) == 8


def test_control_characters_are_a_config_error_not_a_crash() -> None:
    assert "not valid YAML" in problems("\x1b")[0]


def test_dacu_check_and_campaign_add_refuse_what_the_services_refuse(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dacu.cli import app
    from dacu.metadata import campaigns, open_db

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE.replace("quantity: 50000, per_customer: 1", "quantity: -5, per_customer: 0"),
        encoding="utf-8",
    )
    # the line of the coupon's quantity in the example, counted independently of the loader
    line = next(
        n
        for n, text in enumerate(EXAMPLE.splitlines(), 1)
        if "quantity: 50000, per_customer: 1" in text
    )
    runner = CliRunner()
    checked = runner.invoke(app, ["check", str(bad)])
    assert checked.exit_code != 0
    assert "coupons[0] (id store-coupon-20).quantity" in str(checked.exception)
    assert f"(line {line})" in str(checked.exception)
    status = runner.invoke(  # the service that used to refuse it without a line number
        app, ["flash", "status", "-c", str(bad), "--store", f"sqlite:///{tmp_path / 'f.db'}"]
    )
    assert status.exit_code != 0 and f"(line {line})" in str(status.exception)
    url = f"sqlite:///{tmp_path / 'meta.sqlite'}"
    monkeypatch.setenv("DACU_DB", url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    added = runner.invoke(app, ["campaign", "add", str(bad)])
    assert added.exit_code != 0 and f"(line {line})" in str(added.exception)
    with open_db(url).session() as s:
        assert campaigns.get_campaign(s, "double11-2026") is None  # nothing registered


# several mistakes in the promotions and alerts sections: each one reported, with its line
SEVERAL = (
    HEAD
    + """\
promotions:
  - {id: p1, type: threshold, threshold: 300, discount: 400}
  - {id: p2, type: flash, price: 149, group: g}
  - {id: p3, type: every, every: 300, discount: 50}
  - {id: p3, type: nosuch}
alerts:
  - {id: a1, metric: no_such_metric, below: 1}
  - {id: a2, metric: asp, below: lots}
  - {id: a1, metric: cvr, below: 0.01}
"""
)
SEVERAL_EXPECTED = [  # (what the message names, the text of its line in SEVERAL)
    ("promotions[0] (id p1).tiers[0].discount: above its threshold", "id: p1,"),
    ("promotions[1] (id p2).group: a price-stage promotion", "id: p2,"),
    ("promotions[3] (id p3).id: duplicate id 'p3'", "type: nosuch"),
    ("promotions[3] (id p3).type: unknown promotion type 'nosuch'", "type: nosuch"),
    ("alerts[0] (id a1).metric: unknown 'no_such_metric'", "id: a1, metric: no_such"),
    ("alerts[1] (id a2).below: 'lots' is not an amount in yuan", "id: a2,"),
    ("alerts[2].id: duplicate id 'a1'", "id: a1, metric: cvr"),
]


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def assert_every_problem(message: str, text: str = SEVERAL) -> None:
    for named, fragment in SEVERAL_EXPECTED:
        found = [p for p in message.splitlines() if named in p]
        assert found, f"{named!r} missing from:\n{message}"
        assert found[0].endswith(f"(line {line_of(text, fragment)})"), found[0]


def test_every_problem_of_the_promotion_and_alert_sections_is_named_with_its_line() -> None:
    found = problems(SEVERAL)
    assert len(found) == len(SEVERAL_EXPECTED), found
    assert_every_problem("\n".join(found))


def test_check_and_campaign_add_name_every_problem(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from dacu.cli import app

    bad = tmp_path / "several.yaml"
    bad.write_text(SEVERAL, encoding="utf-8")
    runner = CliRunner()
    checked = runner.invoke(app, ["check", str(bad)])
    assert checked.exit_code != 0
    assert_every_problem(str(checked.exception))
    monkeypatch.setenv("DACU_DB", f"sqlite:///{tmp_path / 'meta.sqlite'}")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    added = runner.invoke(app, ["campaign", "add", str(bad)])
    assert added.exit_code != 0
    assert_every_problem(str(added.exception))


def test_the_services_loaders_name_every_problem() -> None:
    from dacu.monitor.rules import load_rules
    from dacu.promo.load import parse_promotions

    campaign = parse_campaign(HEAD)
    alerts = [
        {"id": "a1", "metric": "no_such_metric", "below": 1},
        {"id": "a2", "metric": "asp", "below": "lots"},
    ]
    with pytest.raises(ConfigError) as caught:
        load_rules(campaign.model_copy(update={"alerts": alerts}))
    assert [p.split(":")[1].strip() for p in str(caught.value).splitlines()] == [
        "alerts[0] (id a1).metric",
        "alerts[1] (id a2).below",
    ]
    with pytest.raises(ConfigError) as caught:
        parse_promotions(
            [{"id": "p1", "type": "every", "every": 0, "discount": 5}, {"id": "p1", "type": "x"}],
            [{"id": "c1", "scope": "store", "discount": "abc"}],
        )
    assert [p.split(":")[0] for p in str(caught.value).splitlines()] == [
        "promotions[0] (id p1).every",
        "promotions[1] (id p1).id",
        "promotions[1] (id p1).type",
        "coupons[0] (id c1).discount",
    ]
