"""Every alert kind has a playbook of its own: the fallback (GMV behind plan) is for kinds the
monitor does not know, never for one it lists."""

from __future__ import annotations

from dacu.monitor.playbooks import KINDS, Context, playbook


def test_every_kind_has_its_own_playbook() -> None:
    for kind in KINDS:
        found = playbook(kind, Context())
        assert found.kind == kind and found.actions, kind


def test_an_unknown_kind_gets_the_gmv_playbook() -> None:
    assert playbook("no_such_kind").kind == "gmv_behind_plan"


def test_alerts_and_playbooks_name_channels_as_the_operator_does() -> None:
    """渠道=直通车 and 检查直通车的…, not search_ads: the campaign's names reach the alert text, its
    root cause and signals, and the playbook's actions."""
    from datetime import UTC, datetime

    from dacu.monitor.messages import alert_text
    from dacu.monitor.playbooks import Context, playbook

    names = {"search_ads": "直通车", "private": "私域社群"}
    ctx = Context(channel="search_ads", names=names)
    actions = [a.zh for a in playbook("payment_failure", ctx).actions]
    assert actions[0] == "联系平台/支付渠道技术确认直通车收银台与支付链路故障"
    assert playbook("cvr_drop", ctx).actions[0].zh == "检查直通车的支付链路、库存与优惠是否失效"
    title, body = alert_text(
        kind="opened",
        severity="red",
        rule_name="渠道拍下付款率骤降",
        metric="pay_rate",
        key_dim="channel",
        key="search_ads",
        value=0.0,
        reference=0.87,
        compare="rest",
        at=datetime(2026, 11, 11, 12, 20, tzinfo=UTC),
        root_cause={
            "culprit": {"dimension": "channel", "value": "private", "signal": "pay_failure"},
            "signals": [
                {
                    "kind": "pay_failure",
                    "dimension": "channel",
                    "value": "private",
                    "measure": "paid_orders",
                    "actual": 0,
                    "expected": 6,
                }
            ],
        },
        names=names,
    )
    assert title.endswith("：渠道拍下付款率骤降（渠道=直通车）")
    assert "- 根因 渠道=私域社群（信号 拍下未付款激增）" in body
    assert "- 信号 拍下未付款激增：渠道=私域社群 支付订单 0，预期 6 (pay_failure)" in body
    assert "search_ads" not in title and "=private" not in body
