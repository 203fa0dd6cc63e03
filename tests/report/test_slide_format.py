"""Slide formatting: money in 万/亿 without cents, rate gaps in points, the action plan's owners."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from dacu.money import parse_fen
from dacu.report.actions import action_plan, owner_of
from dacu.report.format import fen_short, money_axis, points
from dacu.report.model import Finding, Text, tx


def test_short_money_by_hand() -> None:
    assert fen_short(854_149) == "¥8,541"  # ¥8,541.49: under 1万, whole yuan
    assert fen_short(5_712_000) == "¥5.71万"  # ¥57,120: no cents under 10万
    assert fen_short(12_345_678) == "¥12.35万"
    assert fen_short(3_000_000_000) == "¥3,000.00万"
    assert fen_short(15_000_000_000) == "¥1.50亿"
    assert fen_short(-870_400) == "-¥8,704"
    assert fen_short(550) == "¥5.50"  # a few yuan keep their cents
    assert fen_short(12_345_678, "en") == "¥123.46K"


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_short_money_reads_back_within_its_rounding(fen: int) -> None:
    shown = fen_short(fen)
    unit = 10**10 if "亿" in shown else 10**6 if "万" in shown else 100
    step = unit // 100 if unit > 100 else (1 if abs(fen) < 1_000 else 100)
    assert abs(parse_fen(shown.replace("-", ""), allow_negative=True) - abs(fen)) <= step / 2
    assert shown.startswith("-") == (fen < 0 and shown != "¥0.00")


def test_points_and_axes() -> None:
    assert points(0.0044) == "+0.44个百分点"
    assert points(-0.012, "en") == "-1.20 pp"
    assert points(None) == "—"
    assert money_axis(2_381_000_00)[0] == 10_000 and "万" in money_axis(2_381_000_00)[1]
    assert money_axis(3_000_000_000_00)[0] == 100_000_000
    assert money_axis(870_400)[:1] == (1,)


def _finding(fid: str, severity: str) -> Finding:
    return Finding(fid, severity, tx(f"发现 {fid}", fid), "x", tx(f"行动 {fid}", fid))


def test_action_plan_owner_and_due_dates() -> None:
    findings = [
        _finding("gmv-attainment", "good"),
        _finding("funnel-bottleneck", "warn"),
        _finding("bridge-uv", "bad"),
        _finding("stockouts", "warn"),
        _finding("recall", "warn"),
        _finding("something-new", "bad"),
    ]
    plan = action_plan(findings, date(2026, 11, 25))
    got = [(a["what"]["zh"], a["owner"]["zh"], a["due"].isoformat()) for a in plan]
    assert got == [
        ("行动 bridge-uv", "投放", "2026-12-09"),  # bad: two weeks
        ("行动 something-new", "运营", "2026-12-09"),  # unknown kind: operations owns it
        ("行动 funnel-bottleneck", "运营", "2026-12-23"),  # warn: four weeks
        ("行动 stockouts", "仓储", "2026-12-23"),
        ("行动 recall", "客服", "2026-12-23"),
    ]
    assert owner_of(_finding("roi-worst", "bad")) == "ads"


def test_findings_that_call_for_the_same_action_make_one_row() -> None:
    """Three coupons with a low redemption rate and slow red and yellow alerts: one row each
    for the coupon review and the on-call rota, naming the findings they answer; a bad finding
    in a group brings its due date forward to two weeks."""
    coupon = tx("复核券门槛与发放人群", "Review the threshold")
    rota = tx("爆发期安排值班", "Staff an on-call rota")

    def found(fid: str, severity: str, action: Text) -> Finding:
        return Finding(fid, severity, tx(f"发现 {fid}", f"finding {fid}"), "x", action)

    findings = [
        found("coupon-low-a", "warn", coupon),
        found("alerts-slow-red", "warn", rota),
        found("coupon-low-b", "warn", coupon),
        found("alerts-slow-yellow", "bad", rota),
        found("coupon-low-c", "warn", coupon),
        found("stockouts", "warn", tx("加备货", "Stock more")),
    ]
    plan = action_plan(findings, date(2026, 11, 25))
    got = [(a["what"]["zh"], a["owner"]["zh"], a["due"].isoformat(), a["findings"]) for a in plan]
    assert got == [
        ("爆发期安排值班", "运营", "2026-12-09", ["alerts-slow-yellow", "alerts-slow-red"]),
        (
            "复核券门槛与发放人群",
            "运营",
            "2026-12-23",
            ["coupon-low-a", "coupon-low-b", "coupon-low-c"],
        ),
        ("加备货", "仓储", "2026-12-23", ["stockouts"]),
    ]
    assert plan[1]["why"]["zh"] == "发现 coupon-low-a；发现 coupon-low-b；发现 coupon-low-c"
    assert (
        plan[1]["why"]["en"] == "finding coupon-low-a; finding coupon-low-b; finding coupon-low-c"
    )
