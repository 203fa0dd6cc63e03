"""Target decomposition: exact sums, GMV = UV × CVR × ASP, overrides, milestones, what-if."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dacu.errors import InputError
from dacu.plan.targets import (
    Shares,
    TargetNode,
    Values,
    check_sums,
    from_target,
    grow,
    milestones,
    rebalance,
    split,
    what_if,
)


def test_top_of_tree_from_target():
    # 3000万 GMV at ASP ¥330 and CVR 4.5%: buyers = 3e9 / 33,000 = 90,909.09 → 90,909;
    # UV = 90,909 / 0.045 = 2,020,200
    top = from_target(3_000_000_000, 0.045, 33_000)
    assert (top.buyers, top.uv) == (90_909, 2_020_200)
    assert top.uv * top.cvr * top.asp_fen == pytest.approx(top.gmv_fen)


def test_rebalance_around_override():
    shares = rebalance({"a": 0.5, "b": 0.3, "c": 0.2}, {"a": 0.2})
    # a fixed at 20%; b and c share the other 80% as 3:2 → 48% and 32%
    assert shares == pytest.approx({"a": 0.2, "b": 0.48, "c": 0.32})
    with pytest.raises(InputError, match="more than 100%"):
        rebalance({"a": 1, "b": 1}, {"a": 0.7, "b": 0.5})
    with pytest.raises(InputError, match="unknown key 'z'"):
        rebalance({"a": 1}, {"z": 0.1})


def test_what_if_cvr_half_point():
    # search ads: 400,000 UV, CVR 5% (20,000 buyers), ASP ¥300 → GMV ¥600万.
    # CVR +0.5 pt → 22,000 buyers × ¥300 = +2,000 × 30,000 fen = 60,000,000 fen (¥60万)
    cell = Values(gmv_fen=600_000_000, uv=400_000, buyers=20_000)
    assert what_if(cell, cvr_points=0.005) == 60_000_000
    assert what_if(cell, asp_ratio=0.1) == 60_000_000


def test_milestones_band():
    rows = milestones([("d1", 100), ("d2", 300)], tolerance=0.15)
    assert [m.cumulative_gmv_fen for m in rows] == [100, 400]
    assert (rows[1].low_fen, rows[1].high_fen) == (340, 460)
    weekly = milestones([(f"d{i}", 10) for i in range(16)])
    assert [m.day for m in weekly if m.week_end] == ["d6", "d13", "d15"]
    assert weekly[6].cumulative_gmv_fen == 70


share_maps = st.dictionaries(
    st.sampled_from(list("abcdefgh")), st.floats(0.01, 10), min_size=1, max_size=8
)


@settings(max_examples=80, deadline=None)
@given(
    gmv=st.integers(0, 10**12),
    uv_per_buyer=st.integers(1, 200),
    asp=st.integers(100, 10**6),
    gmv_w=share_maps,
    uv_w=share_maps,
)
def test_children_sum_exactly(gmv, uv_per_buyer, asp, gmv_w, uv_w):
    buyers = gmv // asp
    parent = Values(gmv, buyers * uv_per_buyer, buyers)
    keys = list(gmv_w)
    uv_shares = {k: uv_w.get(k, 1.0) for k in keys}
    children = split(parent, Shares(rebalance(gmv_w), rebalance(uv_shares)))
    assert sum(c.gmv_fen for c in children.values()) == parent.gmv_fen
    assert sum(c.uv for c in children.values()) == parent.uv
    assert sum(c.buyers for c in children.values()) == parent.buyers
    for cell in children.values():
        if cell.buyers:
            assert cell.uv * cell.cvr * cell.asp_fen == pytest.approx(cell.gmv_fen)


def test_tree_levels_sum_and_views():
    root = TargetNode("total", "total", from_target(1_000_000_00, 0.04, 25_000))
    phase_view = TargetNode("phase", "view", root.values)
    root.children.append(phase_view)
    for node in grow(phase_view, "phase", Shares({"warmup": 0.3, "burst": 0.7})):
        grow(node, "day", Shares({"d1": 1 / 3, "d2": 1 / 3, "d3": 1 / 3}))
    channel_view = TargetNode("channel", "view", root.values)
    root.children.append(channel_view)
    grow(channel_view, "channel", Shares({"search": 0.6, "kol": 0.4}))
    check_sums(root)  # raises on any mismatch
    burst = root.find("phase", "burst")
    assert burst.values.gmv_fen == 70_000_000


def test_a_channel_target_far_above_its_history_is_flagged_with_the_traffic_it_needs() -> None:
    # history: a ¥100 on 100 UV, b ¥300 on 300 UV (GMV shares 25% / 75%). The file fixes a at
    # 50% of GMV: 2.0× its share; b is scaled to 50% (0.67×). At its own CVR and ASP a needs
    # 100·2 = 200 UV of 200 + 300·(2/3) = 400 → 50% of UV (history 25%): flagged; b is not.
    import pandas as pd

    from dacu.plan.shares import dimension_shares

    daily = pd.DataFrame(
        {"channel": ["a", "b"], "gmv_fen": [100, 300], "uv": [100, 300], "buyers": [10, 30]}
    )
    notes: list[str] = []
    shares = dimension_shares(daily, "channel", ["a", "b"], {"a": 0.5}, notes, {"a": "直通车"})
    assert shares.uv == pytest.approx({"a": 0.5, "b": 0.5})
    [note] = notes
    assert note.startswith(
        "渠道 直通车 的GMV目标是历史占比的2.0倍：按其转化率与客单价需 UV 占比 50%（历史 25%）"
    )
    dimension_shares(daily, "channel", ["a", "b"], {"a": 0.3}, notes)  # 1.2×: within reach
    assert len(notes) == 1


def test_whatif_moves_gmv_and_budget_by_hand():
    from dacu.config import load_campaign
    from dacu.plan.build import build_plan
    from dacu.plan.whatif import whatif
    from tests.conftest import ROOT

    plan = build_plan(load_campaign(ROOT / "examples" / "double11.yaml"))
    t = plan.targets
    same = whatif(plan)
    assert same["gmv_fen"] == t.gmv_fen and same["delta_gmv_fen"] == 0
    # CVR +0.5 pt on the whole plan: UV × 0.005 × ASP more
    up = whatif(plan, cvr_points=0.005)
    assert (
        up["delta_gmv_fen"]
        == round(t.uv * (t.buyers / t.uv + 0.005) * t.gmv_fen / t.buyers) - t.gmv_fen
    )
    assert up["delta_gmv_fen"] == pytest.approx(t.uv * 0.005 * t.asp_fen, rel=1e-6)
    # UV +10% and ASP −10% on one channel: its GMV × (1.1 × 0.9 − 1), the rest held
    search = next(c for c in t.children[1].children if c.key == "search_ads")
    moved = whatif(plan, uv_ratio=0.1, asp_ratio=-0.1, channel="search_ads")
    assert moved["delta_gmv_fen"] == pytest.approx(search.gmv_fen * (1.1 * 0.9 - 1), abs=2)
    # budget +20%: the channel lines 255万 → 306万 (no curves without history: no ROI, no GMV)
    more = whatif(plan, budget_ratio=0.2)
    assert more["spend_fen"] == round(sum(r.spend_fen * 1.2 for r in plan.budget.channels))
    with pytest.raises(InputError, match="no channel 'tv'"):
        whatif(plan, channel="tv")
