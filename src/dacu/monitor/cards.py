"""Alerts as cards for the dashboard: what, where, since when, the cause in one line, the playbook's
first actions and the alert's state — names instead of ids (the id stays for a tooltip).

Pure: alert-log rows (`dacu.monitor.alertlog`) and a name map in, dicts out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

from dacu.money import format_pct
from dacu.monitor.messages import DIM_ZH, SIGNAL_ZH

Names = Mapping[str, Mapping[str, str]]  # {dimension: {id: display name}}
STATUS_ZH = {"open": "待处理", "acked": "处理中", "resolved": "已恢复"}
PLACE_ZH = {**DIM_ZH, "kind": "类型", "topic": "话题"}


def name_of(names: Names, dimension: str, value: str | None) -> str:
    if value is None:
        return "—"
    return names.get(dimension, {}).get(value) or value


def where(names: Names, dimension: str | None) -> dict:
    """`channel=search_ads` → {"text": "渠道 直通车", "title": "channel=search_ads"}."""
    if not dimension:
        return {"text": "全店", "title": ""}
    dim, _, value = dimension.partition("=")
    return {"text": f"{PLACE_ZH.get(dim, dim)} {name_of(names, dim, value)}", "title": dimension}


def what(message: str) -> str:
    """The rule's name from the alert's title line ('🔴 红色告警·触发：名称（渠道=x）' → '名称')."""
    title = message.split("\n", 1)[0]
    title = title.split("：", 1)[-1]
    if title.endswith("）") and "（" in title:
        title = title[: title.rindex("（")]
    return title.strip()


def cause_line(names: Names, cause: Mapping | None) -> str:
    """The root cause in one line an operator reads: where, and the evidence in words."""
    if not cause:
        return ""
    found = cause.get("sold_out")
    if found and found.get("main", True):  # the sell-outs explain it (`sold_out_cause`)
        skus = "、".join(s.get("name") or s["sku_id"] for s in found["skus"][:2])
        more = f"等{len(found['skus'])}款" if len(found["skus"]) > 2 else ""
        share = format_pct(found["share_without"], digits=0)
        return f"{skus}{more}已售罄：计入售罄流失后为参考的 {share}，售罄所致"
    culprit = cause.get("culprit") or {}
    if not culprit:  # below the evidence needed: the candidates, none named
        candidates = [
            f"{DIM_ZH.get(c['dimension'], c['dimension'])} "
            f"{name_of(names, c['dimension'], c.get('value'))}"
            for c in cause.get("candidates") or []
        ]
        return f"证据不足：候选 {'、'.join(candidates)}" if candidates else ""
    dim = culprit.get("dimension", "")
    place = f"{DIM_ZH.get(dim, dim)} {name_of(names, dim, culprit.get('value'))}"
    signal = culprit.get("signal")
    if signal is None:  # a signal outside the cube (a coupon) names its own kind
        outside = next(
            (
                s
                for s in cause.get("signals") or []
                if (s.get("dimension"), s.get("value")) == (dim, culprit.get("value"))
            ),
            None,
        )
        signal = outside.get("kind") if outside else None
    sure = (cause.get("confidence") or {}).get("level_zh")
    how = f"（把握 {sure}）" if sure else ""
    if signal:
        return f"{place}：{SIGNAL_ZH.get(signal, signal)}{how}"
    return f"{place}：变化主要来自这里{how}"


def named_text(names: Names, text: str) -> str:
    """Ids of SKUs and channels in a sentence replaced by their names (playbook actions)."""
    known = {k: v for dim in ("sku_id", "channel") for k, v in names.get(dim, {}).items()}
    if not known:
        return text
    pattern = re.compile(
        r"(?<![A-Za-z0-9_-])("
        + "|".join(map(re.escape, sorted(known, key=len, reverse=True)))
        + r")(?![A-Za-z0-9_-])"
    )
    return pattern.sub(lambda m: known[m.group(1)], text)


def alert_card(row: Mapping, names: Names, tz: tzinfo) -> dict:
    opened = row.get("opened_at")
    since = datetime.fromisoformat(opened).astimezone(tz).strftime("%m-%d %H:%M") if opened else ""
    playbook = row.get("playbook") or {}
    return {
        "id": row["id"],
        "rule_id": row["rule_id"],
        "severity": row["severity"],
        "status": row["status"],
        "status_text": STATUS_ZH.get(row["status"], row["status"]),
        "owner": row.get("acked_by"),
        "what": what(row.get("message") or row["rule_id"]),
        "where": where(names, row.get("dimension")),
        "since": since,
        "cause": cause_line(names, row.get("root_cause")),
        "actions": [named_text(names, a["zh"]) for a in (playbook.get("actions") or [])[:2]],
        "detail": row.get("message") or "",
    }


def alert_cards(rows: Sequence[Mapping], names: Names, tz: tzinfo) -> list[dict]:
    """Open alerts first (red before yellow), then acked, then resolved; newest first within each
    (the log's order: the sort is stable)."""
    cards = [alert_card(r, names, tz) for r in rows]
    order = {"open": 0, "acked": 1, "resolved": 2}
    return sorted(cards, key=lambda c: (order.get(c["status"], 3), c["severity"] != "red"))
