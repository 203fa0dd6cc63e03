"""Lessons of the last review → the next plan (`dacu plan build --lessons lessons.json`).

The review writes lessons.json: its findings and the figures behind them (`report.findings.
lesson_data`). Three of them change the next plan, each change written into the plan's notes with
the lesson it came from:

- budget: a tenth of the lowest-ROI channel's spend (never below its floor) moves to the
  highest-ROI channel (never above its cap: the response curve's limit), when both are in this
  plan's budget;
- stock: each SKU that sold out gets a buffer — stock at least (units sold + estimated lost) × 1.2;
- alerts: a rule that fired three times or more is named as too noisy, to review its threshold.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from dacu.errors import InputError
from dacu.money import format_fen
from dacu.plan.schema import Plan

SHIFT = 0.10  # share of the worst channel's spend moved to the best
STOCK_BUFFER = 1.2
NOISY = 3  # alerts of one rule in a campaign that make it noisy


def read_lessons(path: str | Path) -> dict[str, Any]:
    """lessons.json (or the review folder holding it), with a clear error when it is not one."""
    path = Path(path)
    if path.is_dir():
        path = path / "lessons.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read lessons: {exc}", file=str(path)) from None
    if not isinstance(data, dict) or not isinstance(data.get("lessons"), list):
        raise InputError(
            "expected the lessons.json of `dacu report review` (with a lessons list)",
            file=str(path),
        )
    return data


def apply_lessons(plan: Plan, lessons: dict[str, Any]) -> Plan:
    """A copy of `plan` changed by the lessons; every change is a note that cites its lesson."""
    data = lessons.get("data") or {}
    source = str(lessons.get("campaign_id") or "the last campaign")
    plan = plan.model_copy(deep=True)
    notes = _budget(plan, data, source) + _stock(data, source) + _alerts(data, source)
    plan.notes.extend(notes or [f"吸取 {source} 复盘：无可执行的经验 (no actionable lesson)"])
    return plan


def _budget(plan: Plan, data: dict, source: str) -> list[str]:
    roi = data.get("roi_by_line") or {}
    rows = {r.channel: r for r in plan.budget.channels if r.channel in roi}
    if len(rows) < 2:
        return []
    cites = "、".join(data.get("roi_lessons") or ["roi"])
    movable = [c for c in rows if rows[c].spend_fen > (rows[c].floor_fen or 0)]
    open_ = [c for c in rows if (cap := rows[c].cap_fen) is None or cap > rows[c].spend_fen]
    worst = min(movable, key=lambda c: roi[c], default=None)
    best = max(open_, key=lambda c: roi[c], default=None)
    if worst is None or best is None or roi[best] <= roi[worst]:
        top, low = max(rows, key=lambda c: roi[c]), min(rows, key=lambda c: roi[c])
        return [
            f"预算核对：上次 ROI 最高的 {top}（{roi[top]:.2f}）本次预算 "
            f"{format_fen(rows[top].spend_fen)}，最低的 {low}（{roi[low]:.2f}）本次预算 "
            f"{format_fen(rows[low].spend_fen)}；已在上下限内，无可再移 — 依据 {source} 复盘经验 "
            f"{cites} (budget already at its limits toward the best ROI, lesson {cites})"
        ]
    give, take = rows[worst], rows[best]
    room = take.cap_fen - take.spend_fen if take.cap_fen is not None else math.inf
    moved = int(min(give.spend_fen * SHIFT, give.spend_fen - (give.floor_fen or 0), room))
    if moved <= 0:
        return []
    give.spend_fen -= moved
    take.spend_fen += moved
    return [
        f"预算调整：{format_fen(moved)} 从 {worst}（上次 ROI {roi[worst]:.2f}）移至 {best}（上次 "
        f"ROI {roi[best]:.2f}），不低于下限、不超过上限 — 依据 {source} 复盘经验 {cites} "
        f"(budget toward the best measured ROI, lesson {cites})"
    ]


def _stock(data: dict, source: str) -> list[str]:
    cite = data.get("sold_out_lesson") or "stockouts"
    out = []
    for sku in data.get("sold_out") or []:
        taken = sku.get("taken", sku.get("units")) or 0  # lessons written before `taken`: paid
        need = math.ceil((taken + (sku.get("lost_units") or 0)) * STOCK_BUFFER)
        if need <= (sku.get("stock") or 0):
            continue
        out.append(
            f"备货缓冲：{sku['sku_id']} 上次 {sku.get('sold_out_at') or ''} 售罄（库存 "
            f"{sku.get('stock')}，已减库存 {taken}，估计少卖 {sku.get('lost_units') or 0}）"
            f"→ 本次备货不少于 {need} 件 — 依据 {source} 复盘经验 {cite} "
            f"(stock buffer for a SKU that sold out, lesson {cite})"
        )
    return out


def _alerts(data: dict, source: str) -> list[str]:
    return [
        f"告警降噪：「{rule}」上次触发 {count} 次 → 复核阈值、for 或 min_volume — 依据 {source} "
        f"复盘事件 (noisy alert rule, lesson incidents)"
        for rule, count in sorted((data.get("alerts_by_rule") or {}).items())
        if count >= NOISY
    ]


def metadata_db_if_any() -> Any:
    """The metadata DB (`DACU_DB`, else its default SQLite file) when there is one — a missing
    default file is not created — else None."""
    from dacu.metadata.db import db_url, open_db

    url = db_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return None
    return open_db(url)


def last_review_lessons(store: str, campaign_id: str) -> tuple[Path, dict[str, Any]] | None:
    """The lessons of the newest review of another campaign of `store` registered in the
    metadata DB, or None when the DB has none. A review is registered by `dacu report review`
    (when a metadata DB exists) and by the web workbench; its lessons.json sits beside it."""
    from sqlalchemy.exc import SQLAlchemyError

    from dacu.errors import DacuError
    from dacu.metadata.campaigns import get_campaign, list_reports

    try:
        db = metadata_db_if_any()
        if db is None:
            return None
        try:
            with db.session() as session:
                rows = [(r.campaign_id, r.path) for r in list_reports(session)]
                stores = {c: getattr(get_campaign(session, c), "store", None) for c, _ in rows}
        finally:
            db.dispose()
    except (DacuError, SQLAlchemyError):
        return None  # a metadata DB that cannot be read (not migrated): nothing to learn from
    for owner, file in rows:
        path = Path(file).parent / "lessons.json"
        if owner == campaign_id or not path.is_file():
            continue
        data = read_lessons(path)
        if (data.get("store") or stores.get(owner)) == store:
            return path, data
    return None
