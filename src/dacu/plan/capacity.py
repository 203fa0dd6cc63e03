"""Capacity checks (产能) and the risk register (风险清单) with triggers the monitor watches.

A plan that outruns the warehouse is a bad plan: forecast orders per hour against shipping capacity,
customer-service agents against forecast inquiries, and peak orders per second against the
system's tested capacity — each flagged when the plan exceeds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from dacu.config import Capacity


@dataclass(frozen=True)
class CapacityCheck:
    check: str
    label_zh: str
    planned: float
    capacity: float | None
    unit: str
    ok: bool | None
    message: str

    @property
    def utilisation(self) -> float | None:
        return self.planned / self.capacity if self.capacity else None

    def to_dict(self) -> dict:
        return {**asdict(self), "utilisation": self.utilisation}


def check_capacity(
    hourly_orders: Sequence[int],
    capacity: Capacity,
    *,
    inquiries_per_order: float = 0.35,
    peak_second_factor: float = 8.0,
) -> list[CapacityCheck]:
    """Peak hour orders vs warehouse/hour; inquiries vs agents × inquiries/agent-hour; peak
    orders/s = peak-hour orders / 3600 × `peak_second_factor` (the first minutes of a round spike)."""
    peak = max(hourly_orders, default=0)
    inquiries = peak * inquiries_per_order
    per_second = peak / 3600 * peak_second_factor
    agents_hour = (
        capacity.cs_agents * capacity.cs_inquiries_per_agent_hour if capacity.cs_agents else None
    )
    return [
        _check(
            "warehouse",
            "仓储发货",
            peak,
            capacity.warehouse_orders_per_hour,
            "orders/h",
            "加临时仓储人手或预打包 add warehouse staff or pre-pack",
        ),
        _check(
            "customer_service",
            "客服接待",
            inquiries,
            agents_hour,
            "inquiries/h",
            f"需要 {inquiries / capacity.cs_inquiries_per_agent_hour:.0f} 名客服 agents needed; "
            "加派外包客服或智能客服 add agents or a bot",
        ),
        _check(
            "system",
            "系统下单峰值",
            per_second,
            capacity.system_orders_per_second,
            "orders/s",
            "扩容并重新压测 scale out and re-run the load test",
        ),
    ]


def _check(
    name: str, label: str, planned: float, cap: float | None, unit: str, action: str
) -> CapacityCheck:
    if not cap:
        return CapacityCheck(
            name,
            label,
            planned,
            None,
            unit,
            None,
            f"{label}: 未填写产能 no capacity given in the campaign file",
        )
    ok = planned <= cap
    message = (
        f"{label}: 计划 {planned:,.0f} {unit} ≤ 产能 {cap:,.0f} ({planned / cap:.0%})"
        if ok
        else f"{label}: 计划 {planned:,.0f} {unit} 超出产能 exceeds {cap:,.0f} "
        f"({planned / cap:.0%}) → {action}"
    )
    return CapacityCheck(name, label, planned, cap, unit, ok, message)


@dataclass(frozen=True)
class RiskItem:
    id: str
    metric: str
    condition: str
    threshold: float
    action: str
    description: str
    when: str | None = None
    severity: str = "yellow"


def risk_register(n_days: int, checks: Sequence[CapacityCheck] = ()) -> list[RiskItem]:
    """Default register; attainment checkpoints at day 10 and 20 when the campaign is that long."""
    risks = [
        RiskItem(
            "orders-below-plan",
            "orders_attainment",
            "<",
            0.60,
            "加推流量、启用机动预算 add traffic, release the elastic reserve",
            "小时订单低于计划60% orders below 60% of plan in an hour",
            severity="red",
        ),
        RiskItem(
            "gmv-pace",
            "gmv_attainment",
            "<",
            0.85,
            "复盘渠道与转化，调整投放 review channels and conversion, move budget",
            "累计GMV低于进度85% cumulative GMV below 85% of pace",
        ),
        RiskItem(
            "spend-overpace",
            "spend_pace",
            ">",
            1.20,
            "暂停低ROI渠道 pause low-ROI channels",
            "花费超进度20% spend 20% ahead of plan",
        ),
        RiskItem(
            "cvr-drop",
            "cvr_vs_plan",
            "<",
            0.80,
            "检查页面/优惠/支付 check pages, offers and payment",
            "转化率低于计划80% CVR below 80% of plan",
            severity="red",
        ),
        RiskItem(
            "refund-spike",
            "refund_rate",
            ">",
            0.15,
            "排查质量与物流 check quality and shipping",
            "退款率超过15% refund rate above 15%",
        ),
    ]
    for day, level in ((10, 0.70), (20, 0.85)):
        if n_days >= day:
            risks.append(
                RiskItem(
                    f"gmv-day{day}",
                    "gmv_attainment",
                    "<",
                    level,
                    "升级到负责人，启用应急预算 escalate, release the emergency reserve",
                    f"第{day}天GMV达成率低于{level:.0%} attainment below {level:.0%} at day {day}",
                    when=f"day {day}",
                    severity="red",
                )
            )
    for check in checks:
        if check.ok is False:
            risks.append(
                RiskItem(
                    f"capacity-{check.check}",
                    f"{check.check}_load",
                    ">",
                    1.0,
                    check.message.split("→")[-1].strip(),
                    check.message,
                    severity="red",
                )
            )
    return risks
