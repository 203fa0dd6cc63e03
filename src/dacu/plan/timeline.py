"""Timeline and tasks (活动排期): the phases, each team's tasks with deadlines, the peak-day hourly
plan, exported as an .ics calendar (icalendar) and a Gantt chart (plotly, offline).

Deadlines are relative to the burst day D0 (e.g. pages and ads creatives ready D-1); the phases come
from the campaign file, so moving a phase there moves the plan.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from icalendar import Calendar, Event

from dacu.config import Campaign

TEAMS = {
    "operations": "运营",
    "design": "设计",
    "customer_service": "客服",
    "tech": "技术",
    "warehouse": "仓储",
}

# (team, task 中文, task English, offset from D0 in days)
DEFAULT_TASKS: tuple[tuple[str, str, str, int], ...] = (
    ("operations", "确定目标与预算", "targets and budget signed off", -21),
    ("operations", "报名平台活动、提报商品", "register for the platform event, submit SKUs", -20),
    ("operations", "优惠券与满减配置完成并自测", "coupons and 满减 configured and self-tested", -3),
    ("operations", "库存校准", "stock calibrated against the plan", -2),
    ("operations", "催付未付款订单", "payment reminders for unpaid orders", 1),
    ("operations", "返场清仓方案上线", "encore / clearance offer live", 4),
    ("design", "预热期页面与素材上线", "warm-up pages and creatives live", -16),
    ("design", "活动页面与广告素材就绪", "campaign pages and ads creatives ready", -1),
    ("customer_service", "客服排班与扩招到位", "customer-service roster and temporary agents", -3),
    ("customer_service", "客服话术与自动回复就绪", "customer-service scripts and auto-replies", -1),
    ("customer_service", "售后与退款高峰处理", "after-sales and refund peak", 2),
    ("tech", "全链路压测", "end-to-end load test", -7),
    ("tech", "封网(变更冻结)", "change freeze", -2),
    ("tech", "大促值班与监控告警", "on-call and alerting for the peak", 0),
    ("warehouse", "物流运力与快递揽收确认", "carrier capacity and pickups confirmed", -5),
    ("warehouse", "秒杀与爆款SKU预打包", "pre-packing of flash-sale and hit SKUs", -2),
    ("warehouse", "发货高峰(48小时内发货)", "shipping peak (ship within 48 h)", 1),
)

# peak-day rounds: (start hour, end hour, channel kinds that push, what happens)
ROUNDS: tuple[tuple[int, int, tuple[str, ...], str], ...] = (
    (
        0,
        1,
        ("search_ads", "display_ads", "push", "sms", "private"),
        "开门红: 定金尾款、全渠道引爆 midnight kick-off",
    ),
    (9, 10, ("private", "push", "sms"), "早场: 私域/短信唤醒 morning wake-up"),
    (10, 11, ("search_ads", "display_ads"), "直通车/引力魔方加价 ads bid up"),
    (11, 14, ("content", "affiliate"), "午间: 短视频种草与淘宝客 content and affiliates"),
    (15, 16, ("display_ads",), "下午场: 展示广告 display push"),
    (16, 18, ("kol_live",), "达人直播 KOL live"),
    (20, 21, ("kol_live", "push", "private"), "晚场: 秒杀与直播 flash sale and live"),
    (22, 24, ("sms", "push", "private", "search_ads"), "最后冲刺: 加购未付提醒 last call"),
)


@dataclass(frozen=True)
class Task:
    team: str
    team_zh: str
    name_zh: str
    name: str
    due: date
    offset: int
    owner: str | None = None
    status: str = "todo"

    @property
    def label(self) -> str:
        sign = "D0" if self.offset == 0 else f"D{self.offset:+d}"
        return sign


@dataclass(frozen=True)
class Round:
    start: datetime
    end: datetime
    channels: tuple[str, ...]
    note: str


def tasks(campaign: Campaign) -> list[Task]:
    """The campaign file's `tasks`, else the defaults; deadlines relative to D0 or dates."""
    d0 = campaign.peak_day
    if campaign.tasks is None:
        made = [
            Task(team, TEAMS[team], zh, en, d0 + timedelta(days=off), off)
            for team, zh, en, off in DEFAULT_TASKS
        ]
    else:
        made = []
        for t in campaign.tasks:
            due = t.due if isinstance(t.due, date) else d0 + timedelta(days=t.due)
            made.append(
                Task(
                    t.team,
                    TEAMS[t.team],
                    t.task,
                    t.name or "",
                    due,
                    (due - d0).days,
                    t.owner,
                    t.status,
                )
            )
    return sorted(made, key=lambda t: (t.due, t.team))


def rounds(campaign: Campaign) -> list[Round]:
    """The campaign file's `rounds`, else the default rounds naming the campaign's channels of
    the kinds that push in each (a round names no channel the campaign does not have)."""
    d0, zone = campaign.peak_day, campaign.tz
    if campaign.rounds is not None:
        table = [(r.start, r.end, tuple(r.channels), r.action) for r in campaign.rounds]
    else:
        table = [
            (start, end, tuple(c.id for c in campaign.channels if c.kind in kinds), note)
            for start, end, kinds, note in ROUNDS
        ]
    out = []
    for start, end, channels, note in table:
        begin = datetime.combine(d0, time(start), zone)
        finish = datetime.combine(d0, time(0), zone) + timedelta(hours=end)
        out.append(Round(begin, finish, channels, note))
    return out


def timeline_dict(campaign: Campaign) -> dict:
    return {
        "phases": [
            {
                "phase": p.phase.value,
                "label_zh": p.phase.label_zh,
                "label": p.label,
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
            }
            for p in campaign.phases
        ],
        "tasks": [
            {**asdict(t), "due": t.due.isoformat(), "when": t.label} for t in tasks(campaign)
        ],
        "rounds": [
            {
                "start": r.start.isoformat(),
                "end": r.end.isoformat(),
                "channels": list(r.channels),
                "note": r.note,
            }
            for r in rounds(campaign)
        ],
    }


def write_ics(campaign: Campaign, path: Path) -> Path:
    """Phases (all-day spans), tasks (all-day on their deadline) and peak-day rounds (timed)."""
    cal = Calendar()
    cal.add("prodid", "-//dacu//plan//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{campaign.name} 活动排期")
    stamp = datetime.now(campaign.tz)
    for index, p in enumerate(campaign.phases):
        first = p.start.astimezone(campaign.tz).date()
        last = (p.end - timedelta(microseconds=1)).astimezone(campaign.tz).date()
        _event(
            cal,
            f"phase-{index}",
            f"{p.phase.label_zh} {p.label or p.phase.value}",
            first,
            last + timedelta(days=1),
            stamp,
            campaign.id,
        )
    for index, task in enumerate(tasks(campaign)):
        _event(
            cal,
            f"task-{index}",
            f"[{task.team_zh}] {task.name_zh} ({task.label})",
            task.due,
            task.due + timedelta(days=1),
            stamp,
            campaign.id,
            description=task.name,
        )
    for index, r in enumerate(rounds(campaign)):
        _event(
            cal,
            f"round-{index}",
            f"{r.note} — {', '.join(r.channels)}",
            r.start,
            r.end,
            stamp,
            campaign.id,
        )
    path.write_bytes(cal.to_ical())
    return path


def _event(
    cal: Calendar,
    uid: str,
    summary: str,
    start,
    end,
    stamp: datetime,
    campaign_id: str,
    description: str = "",
) -> None:
    event = Event()
    event.add("uid", f"{campaign_id}-{uid}@dacu")
    event.add("summary", summary)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("dtstamp", stamp)
    if description:
        event.add("description", description)
    cal.add_component(event)


def gantt_figure(campaign: Campaign):
    """Plotly Gantt of phases and tasks (each task one day ending on its deadline)."""
    import plotly.graph_objects as go

    rows = [
        (f"{p.phase.label_zh} {p.phase.value}", p.start, p.end, "phase") for p in campaign.phases
    ]
    for t in tasks(campaign):
        start = datetime.combine(t.due, time(0), campaign.tz)
        rows.append((f"{t.team_zh} {t.name_zh}", start, start + timedelta(days=1), t.team))
    fig = go.Figure()
    for group in dict.fromkeys(r[3] for r in rows):
        part = [r for r in rows if r[3] == group]
        fig.add_bar(
            y=[r[0] for r in part],
            x=[(r[2] - r[1]).total_seconds() * 1000 for r in part],
            base=[r[1].isoformat() for r in part],
            orientation="h",
            name=TEAMS.get(group, "阶段 phase"),
        )
    fig.update_layout(
        title=f"{campaign.name} 甘特图 Gantt",
        xaxis_type="date",
        barmode="overlay",
        yaxis_autorange="reversed",
        height=300 + 22 * len(rows),
    )
    return fig
