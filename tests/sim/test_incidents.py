"""Incident syntax, defaults, and the generator of many varied cases for RCA evaluation."""

from __future__ import annotations

import pytest

from dacu.errors import ConfigError
from dacu.sim import KINDS, incident_cases, parse_incident, random_incidents
from dacu.sim.incidents import demo_incidents

SKUS = ["SKU-SC-001", "SKU-MK-001", "SKU-MK-002"]


def test_parse_short_and_full_forms(double11):
    short = parse_incident("pay_failure@20:00:search_ads", double11, SKUS)
    assert short.start.isoformat() == "2026-11-11T20:00:00+08:00"
    assert short.end.isoformat() == "2026-11-11T21:00:00+08:00"  # default one hour
    assert short.channel == "search_ads" and short.severity == pytest.approx(0.08)
    full = parse_incident("cvr_drop@2026-11-05T14:30+90m:makeup", double11, SKUS)
    assert (full.category, full.end.isoformat()) == ("makeup", "2026-11-05T16:00:00+08:00")
    stock = parse_incident("stockout@09:00:SKU-MK-001", double11, SKUS)
    assert stock.sku == "SKU-MK-001" and stock.end == double11.end  # until the end
    bot = parse_incident("coupon_bot@03:00", double11, SKUS)
    assert (bot.channel, bot.sku, bot.category) == (None, None, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pay_failure", r"expected KIND@TIME\[\+MINUTESm\]\[:TARGET\], e\.g\. pay_failure@20:00"),
        ("meteor@20:00", r"unknown kind 'meteor' \(one of pay_failure, cvr_drop"),
        ("pay_failure@25:00:search_ads", r"bad time '25:00'"),
        ("pay_failure@20:00:tv", r"unknown target 'tv' for pay_failure \(channel: search_ads, "),
        (
            "stockout@20:00:SKU-XX-999",
            r"unknown target 'SKU-XX-999' for stockout \(sku: SKU-SC-001",
        ),
    ],
)
def test_bad_incidents_say_what_was_expected(double11, text, message):
    with pytest.raises(ConfigError, match=message):
        parse_incident(text, double11, SKUS)


def test_demo_set_has_the_four_classics(double11):
    kinds = [i.kind for i in demo_incidents(double11, SKUS)]
    assert kinds == ["pay_failure", "coupon_bot", "brushing", "stockout"]


def test_many_varied_incidents(double11):
    incidents = random_incidents(double11, SKUS, 60, seed=1)
    assert len(incidents) == 60
    assert {i.kind for i in incidents} == set(KINDS)
    assert len({i.channel for i in incidents if i.channel}) >= 5
    assert len({i.category for i in incidents if i.category}) >= 3
    assert any(i.device for i in incidents) and any(i.region for i in incidents)
    assert len({i.start.date() for i in incidents}) >= 10
    assert all(double11.start <= i.start < double11.end for i in incidents)


def test_incident_cases_are_cheap_one_day_worlds_with_the_answer(double11):
    cases = list(incident_cases(double11, n=6, seed=3, scale=0.02))
    assert [c.truth["incidents"][0]["kind"] for c in cases] == list(KINDS)
    for case in cases:
        answer = case.truth["incidents"][0]
        assert case.events.num_rows > 300
        if answer["kind"] in ("coupon_bot", "brushing"):
            assert answer["user_ids"] and answer["order_ids"]
            orders = set(case.events.column("order_id").drop_null().to_pylist())
            assert set(answer["order_ids"]) <= orders


def test_incident_outside_the_simulated_days_is_refused(double11, tmp_path):
    from dacu.sim import simulate

    with pytest.raises(ConfigError, match=r"outside the simulated days 2026-10-17 … 2026-11-21"):
        simulate(
            double11,
            out=tmp_path,
            scale=0.01,
            days_before=10,
            progress=False,
            incidents=["coupon_bot@2026-12-01T10:00"],
        )
