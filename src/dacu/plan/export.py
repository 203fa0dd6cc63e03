"""Write the plan for people: plan.xlsx (xlsxwriter) and offline HTML charts (plotly)."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date, datetime
from pathlib import Path

import xlsxwriter

from dacu.plan.schema import Plan
from dacu.plan.workbook import formats, write_budget, write_scenarios, write_targets, write_tasks

_YUAN = "¥#,##0.00"


def _sheet(
    book,
    name: str,
    header: list[str],
    rows: list[list],
    money_cols: Collection[int] = frozenset(),
    pct_cols: Collection[int] = frozenset(),
):
    """A plain sheet: money cells (fen in the rows) in yuan as ¥#,##0.00, ratios as percent,
    ISO days and hours as real dates, the header frozen."""
    sheet = book.add_worksheet(name)
    bold = book.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
    money = book.add_format({"num_format": _YUAN})
    pct = book.add_format({"num_format": "0.00%"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    hour = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(0, 0, header, bold)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if c in money_cols and isinstance(value, int | float):
                sheet.write_number(r, c, value / 100, money)
            elif c in pct_cols and isinstance(value, int | float):
                sheet.write_number(r, c, value, pct)
            elif isinstance(value, str) and _DAY.fullmatch(value):
                sheet.write_datetime(r, c, date.fromisoformat(value), day)
            elif isinstance(value, str) and _HOUR.match(value):
                local = datetime.fromisoformat(value).replace(tzinfo=None)
                sheet.write_datetime(r, c, local, hour)
            else:
                sheet.write(r, c, value)
    sheet.set_column(0, len(header) - 1, 16)
    sheet.freeze_panes(1, 0)
    return sheet


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_HOUR = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def write_xlsx(plan: Plan, path: Path) -> Path:
    """Sheets: 目标 targets and 情景 scenarios (live formulas), 每日 daily, 分时 hourly, 预算 budget
    (live formulas), 里程碑 milestones, 排期 timeline, 任务 checklist, 风险 risks, 产能 capacity,
    优惠 promotions. Money in yuan (JSON keeps fen)."""
    book = xlsxwriter.Workbook(str(path))
    fmt = formats(book)
    write_targets(book, plan, fmt)
    write_scenarios(book, plan, fmt)
    row_head = [
        "日期 day",
        "小时 hour",
        "渠道 channel",
        "GMV ¥",
        "UV",
        "订单 orders",
        "买家 buyers",
        "CVR",
        "客单价 ASP ¥",
        "花费 spend ¥",
    ]
    as_rows = [
        [
            r.day,
            r.hour,
            r.channel or "全部 all",
            r.gmv_fen,
            r.uv,
            r.orders,
            r.buyers,
            r.cvr,
            r.asp_fen,
            r.spend_fen,
        ]
        for r in plan.daily
    ]
    _sheet(book, "每日 daily", row_head, as_rows, {3, 8, 9}, {7})
    as_rows = [
        [
            r.day,
            r.hour,
            r.channel or "全部 all",
            r.gmv_fen,
            r.uv,
            r.orders,
            r.buyers,
            r.cvr,
            r.asp_fen,
            r.spend_fen,
        ]
        for r in plan.hourly
    ]
    _sheet(book, "分时 hourly", row_head, as_rows, {3, 8, 9}, {7})
    write_budget(book, plan, fmt)
    _sheet(
        book,
        "里程碑 milestones",
        [
            "日期 day",
            "日目标 GMV ¥",
            "累计 cumulative ¥",
            f"下限 −{plan.tolerance:.0%} ¥",
            f"上限 +{plan.tolerance:.0%} ¥",
            "周节点 week end",
        ],
        [
            [
                m.day,
                m.gmv_fen,
                m.cumulative_gmv_fen,
                m.low_fen,
                m.high_fen,
                "✓" if m.week_end else "",
            ]
            for m in plan.milestones
        ],
        {1, 2, 3, 4},
    )
    _timeline_sheets(book, plan)
    _sheet(
        book,
        "风险 risks",
        [
            "id",
            "指标 metric",
            "条件",
            "阈值 threshold",
            "动作 action",
            "说明 description",
            "时点 when",
            "级别 severity",
        ],
        [
            [r.id, r.metric, r.condition, r.threshold, r.action, r.description, r.when, r.severity]
            for r in plan.risks
        ],
    )
    _sheet(
        book,
        "产能 capacity",
        ["检查 check", "计划 planned", "产能 capacity", "单位 unit", "通过 ok", "说明 message"],
        [
            [c["label_zh"], c["planned"], c["capacity"], c["unit"], c["ok"], c["message"]]
            for c in plan.capacity
        ],
    )
    designs = plan.promotions.get("designs", [])
    _sheet(
        book,
        "优惠 promotions",
        [
            "方案 design",
            "优惠成本 cost ¥",
            "成本率 cost %",
            "客单价前 ASP before ¥",
            "客单价后 ASP after ¥",
            "达标率 reach",
            "毛利前 margin before ¥",
            "毛利后 margin after ¥",
            "按目标GMV成本 cost at target ¥",
            f"毛利率 margin: {plan.promotions.get('margin_basis', '')}",
        ],
        [
            [
                d["name"],
                d["discount_fen"],
                d["cost_pct"],
                d["asp_before_fen"],
                d["asp_after_fen"],
                ", ".join(f"{r:.1%}" for r in d["reach"]),
                d["margin_before_fen"],
                d["margin_after_fen"],
                d.get("cost_at_target_fen"),
                plan.promotions.get("margin_ratio"),
            ]
            for d in designs
        ]
        + _engine_rows(plan),
        {1, 3, 4, 6, 7, 8},
        {2, 9},
    )
    book.close()
    return path


def _engine_rows(plan: Plan) -> list[list]:
    rows = []
    for key, label in (
        ("engine", "全部优惠(促销引擎) all promotions, engine"),
        ("engine_with_coupons", "全部优惠+持券 … with coupons held"),
    ):
        e = plan.promotions.get(key) or {}
        if e.get("available"):
            rows.append(
                [
                    f"{label}; 平台承担 platform-funded ¥{e['platform_funded_fen'] / 100:,.2f}",
                    e["saving_fen"],
                    e["cost_pct"],
                    None,
                    None,
                    None,
                    None,
                    None,
                    e.get("cost_at_target_fen"),
                    None,
                ]
            )
    return rows


def _timeline_sheets(book, plan: Plan) -> None:
    t = plan.timeline
    _sheet(
        book,
        "排期 timeline",
        ["阶段 phase", "名称 label", "开始 start", "结束 end"],
        [[p["label_zh"], p["label"], p["start"], p["end"]] for p in t.get("phases", [])]
        + [["爆发日分时 round", r["note"], r["start"], r["end"]] for r in t.get("rounds", [])],
    )
    write_tasks(book, plan, formats(book))


def write_charts(plan: Plan, campaign, folder: Path) -> list[Path]:
    """Daily target + cumulative band, peak-day hours and the Gantt, as offline HTML (plotly.js
    written once next to them: include_plotlyjs='directory', no CDN)."""
    import plotly.graph_objects as go

    from dacu.plan.timeline import gantt_figure

    folder.mkdir(parents=True, exist_ok=True)
    days = [r for r in plan.daily if r.channel is None]
    fig = go.Figure()
    fig.add_bar(
        x=[r.day for r in days], y=[r.gmv_fen / 100 for r in days], name="日目标 daily GMV ¥"
    )
    ms = plan.milestones
    fig.add_scatter(
        x=[m.day for m in ms],
        y=[m.cumulative_gmv_fen / 100 for m in ms],
        name="累计 cumulative",
        yaxis="y2",
    )
    fig.add_scatter(
        x=[m.day for m in ms],
        y=[m.low_fen / 100 for m in ms],
        yaxis="y2",
        name=f"下限 −{plan.tolerance:.0%}",
        line={"dash": "dot"},
    )
    fig.update_layout(
        title=f"{plan.campaign_name} 每日GMV目标 daily targets",
        yaxis2={"overlaying": "y", "side": "right"},
    )
    peak = campaign.peak_day.isoformat()
    hours = [r for r in plan.hourly if r.channel is None and (r.hour or "").startswith(peak)]
    hour_fig = go.Figure(
        go.Bar(x=[(r.hour or "")[11:16] for r in hours], y=[r.gmv_fen / 100 for r in hours])
    )
    hour_fig.update_layout(title="爆发日分时GMV目标 peak-day hourly targets (¥)")
    paths = []
    for name, figure in (
        ("targets_daily", fig),
        ("targets_hourly", hour_fig),
        ("gantt", gantt_figure(campaign)),
    ):
        path = folder / f"{name}.html"
        figure.write_html(path, include_plotlyjs="directory", full_html=True)
        paths.append(path)
    return paths


def write_plan(
    campaign,
    out_dir: Path,
    history=None,
    *,
    growth: float = 0.0,
    tolerance: float = 0.15,
    lessons: dict | None = None,
):
    """Build the plan and write plan.json, plan.xlsx, plan.ics and charts/ into `out_dir`
    (the one call the demo needs). `lessons`: the last review's lessons.json, applied by
    `dacu.plan.lessons`. Returns the `Plan`."""
    from dacu.plan.build import build_plan
    from dacu.plan.lessons import apply_lessons
    from dacu.plan.timeline import write_ics

    plan = build_plan(campaign, history, growth=growth, tolerance=tolerance)
    if lessons is not None:
        plan = apply_lessons(plan, lessons)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan.write(out_dir / "plan.json")
    write_xlsx(plan, out_dir / "plan.xlsx")
    write_ics(campaign, out_dir / "plan.ics")
    write_charts(plan, campaign, out_dir / "charts")
    return plan
