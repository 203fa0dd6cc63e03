"""The campaign file as an Excel workbook, for operators who plan in Excel (`dacu init --xlsx`).

Sheets: 活动 (key, value), 阶段 phases, 渠道 channels, 品类 categories, 目标 targets, 预算 budget
(the total in its first row, then the lines). `read_campaign_xlsx` turns a filled workbook into
the campaign YAML — which stays the source of truth — and a wrong cell is named by sheet, row and
column, with `dacu check`'s message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from dacu.errors import ConfigError

SHEETS: dict[str, tuple[str, tuple[str, ...]]] = {  # sheet → (campaign key, columns)
    "阶段 phases": ("phases", ("name", "start", "end", "label")),
    "渠道 channels": ("channels", ("id", "name", "kind")),
    "品类 categories": ("categories", ("id", "name", "role")),
    "目标 targets": ("targets", ("metric", "value", "phase", "channel", "category")),
    "预算 budget": ("budget", ("id", "amount", "channel", "kind")),
}
MAIN = "活动 campaign"
MAIN_KEYS = ("id", "name", "platform", "store", "timezone")
EXAMPLE: dict[str, list[tuple[str, ...]]] = {
    MAIN: [
        ("id", "double11-2026"),
        ("name", "2026 双11 全店大促"),
        ("platform", "tmall"),
        ("store", "我的旗舰店"),
        ("timezone", "Asia/Shanghai"),
    ],
    "阶段 phases": [
        ("warmup", "2026-10-27 00:00", "2026-11-11 00:00", "预热蓄水"),
        ("burst", "2026-11-11 00:00", "2026-11-12 00:00", "双11当天"),
        ("wrapup", "2026-11-12 00:00", "2026-11-15 00:00", "催付与售后"),
    ],
    "渠道 channels": [("search_ads", "直通车", "search_ads"), ("organic", "自然搜索", "organic")],
    "品类 categories": [("skincare", "护肤", "profit"), ("makeup", "彩妆", "traffic")],
    "目标 targets": [("gmv", "3000万"), ("cvr", "4.5%"), ("gmv", "1500万", "burst")],
    "预算 budget": [("total", "300万"), ("search_ads", "120万", "search_ads", "media")],
}


def write_template(path: Path) -> Path:
    """An example workbook to fill in (amounts in yuan as operators write them: 3000万, ¥1,200)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for title, rows in EXAMPLE.items():
        sheet = book.create_sheet(title)
        header = ("key", "value") if title == MAIN else SHEETS[title][1]
        sheet.append(list(header))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([str(v) for v in row])  # text, so 3000万 and dates stay as written
        for column in sheet.columns:
            sheet.column_dimensions[column[0].column_letter].width = 22
    book.save(path)
    return path


def read_campaign_xlsx(path: Path) -> tuple[str, dict[tuple, str]]:
    """(campaign YAML text, key path → 'sheet, row N' for error messages)."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds for a file that is not a workbook
        raise ConfigError(f"{path.name}: not an Excel workbook ({exc})") from None
    where: dict[tuple, str] = {}
    data: dict[str, Any] = {}
    if MAIN not in book.sheetnames:
        raise ConfigError(f"{path.name}: no sheet {MAIN!r} (write one with `dacu init --xlsx`)")
    for n, row in enumerate(_rows(book[MAIN]), start=2):
        if row and row[0] in MAIN_KEYS and len(row) > 1 and row[1]:
            data[row[0]] = row[1]
            where[(row[0],)] = f"sheet {MAIN!r}, row {n}"
    for title, (key, columns) in SHEETS.items():
        if title not in book.sheetnames:
            continue
        items: list[dict[str, str]] = []
        for n, row in enumerate(_rows(book[title]), start=2):
            if not any(row):
                continue
            item = {c: v for c, v in zip(columns, row, strict=False) if v}
            if key == "budget" and item.get("id") == "total":
                data.setdefault("budget", {})["total"] = item.get("amount", "")
                where[("budget", "total")] = f"sheet {title!r}, row {n}"
                continue
            where[(key, len(items))] = f"sheet {title!r}, row {n}"
            items.append(item)
        if key == "budget":
            data.setdefault("budget", {})["lines"] = items
            where.update({("budget", "lines", *k[1:]): v for k, v in where.items() if k[0] == key})
        else:
            data[key] = items
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False), where


def _rows(sheet: Any) -> list[list[str]]:
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    return [[_text(v) for v in row] for row in rows]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):  # a date Excel typed for us
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value).strip()


def locate(message: str, where: dict[tuple, str], source: str) -> str:
    """`<xlsx>: phases[1].end: before … (line 9)` → `plan.xlsx, sheet '阶段 phases', row 3: …`."""
    out = []
    for line in message.splitlines():
        match = re.match(r"^[^:]*: ([\w.\[\]]+): (.*?)(?: \(line \d+\))?$", line)
        if not match:
            out.append(line)
            continue
        path = tuple(int(p) if p.isdigit() else p for p in re.findall(r"\w+", match[1]))
        cell = next((where[path[:n]] for n in range(len(path), 0, -1) if path[:n] in where), None)
        out.append(f"{source}, {cell}: {match[1]}: {match[2]}" if cell else f"{source}: {line}")
    return "\n".join(out)


def load_campaign_xlsx(path: Path) -> tuple[str, Any]:
    """(YAML text, Campaign) of a filled workbook; ConfigError names sheet, row and key."""
    from dacu.config import parse_campaign

    text, where = read_campaign_xlsx(path)
    try:
        return text, parse_campaign(text, source="<xlsx>")
    except ConfigError as exc:
        raise ConfigError(locate(str(exc), where, path.name)) from None
