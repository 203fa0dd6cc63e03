"""The campaign file from the workbench's form (or the workbook of `dacu init --xlsx`): the form's
fields → the campaign file's data → YAML, checked with `dacu check`'s rules and the errors grouped
by the field they belong to. Pure functions; the pages are `dacu.web.workbench`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from dacu.config import Campaign, parse_campaign
from dacu.errors import ConfigError, DacuError

PHASES = (("warmup", "预热期"), ("burst", "爆发期"), ("wrapup", "收尾期"), ("longtail", "长尾期"))
TARGETS = (  # metric, label, example
    ("gmv", "GMV 成交总额 (元)", "3000万"),
    ("paid_gmv", "支付金额 paid (元)", "2700万"),
    ("orders", "订单数 orders", "95000"),
    ("uv", "访客 UV", "1800000"),
    ("cvr", "转化率 CVR", "4.5%"),
    ("asp", "客单价 ASP (元)", "330"),
)
LISTS = ("promotions", "coupons", "flash_sales", "alerts")  # written as YAML in the form


def form_to_data(form: dict[str, str]) -> dict[str, Any]:
    """The campaign file's data from the form's fields (amounts stay as the operator wrote them,
    in yuan: `3000万`, `¥1,200`; the campaign model parses them like the YAML file)."""
    data: dict[str, Any] = {
        "id": form.get("id", "").strip(),
        "name": form.get("name", "").strip(),
        "platform": form.get("platform", "tmall"),
        "store": form.get("store", "").strip(),
        "timezone": form.get("timezone", "").strip() or "Asia/Shanghai",
        "phases": [],
    }
    for key, _label in PHASES:
        start, end = form.get(f"{key}_start", "").strip(), form.get(f"{key}_end", "").strip()
        if start or end:
            phase = {"name": key, "start": start.replace("T", " "), "end": end.replace("T", " ")}
            if form.get(f"{key}_label", "").strip():
                phase["label"] = form[f"{key}_label"].strip()
            data["phases"].append(phase)
    data["channels"] = _rows(form.get("channels", ""), ("id", "name", "kind"))
    data["categories"] = _rows(form.get("categories", ""), ("id", "name", "role"))
    data["targets"] = [
        {"metric": metric, "value": form[metric].strip()}
        for metric, _label, _ex in TARGETS
        if form.get(metric, "").strip()
    ]
    if form.get("budget_total", "").strip():
        lines = _rows(form.get("budget_lines", ""), ("id", "channel", "amount", "gmv"))
        data["budget"] = {"total": form["budget_total"].strip(), "lines": lines}
    for key in LISTS:
        text = form.get(key, "").strip()
        if text:
            data[key] = _yaml_list(key, text)
    return data


def _rows(text: str, keys: tuple[str, ...]) -> list[dict[str, str]]:
    """`id, 名称, kind` lines (comma or tab separated) → a list of mappings; blanks dropped."""
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[,，\t]", line)]
        if any(cells):
            out.append({k: v for k, v in zip(keys, cells, strict=False) if v})
    return out


def _yaml_list(key: str, text: str) -> list[Any]:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} of the box" if mark else ""
        raise ConfigError(f"<form>: {key}: not valid YAML{where}") from None
    if not isinstance(value, list):
        raise ConfigError(f"<form>: {key}: expected a list (lines starting with '- ')")
    return value


def to_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def check_campaign(text: str, source: str) -> tuple[Campaign | None, dict[str, list[str]]]:
    """`dacu check`'s rules (and the promotion engine's), errors grouped by top-level key."""
    try:
        campaign = parse_campaign(text, source=source)
        from dacu.promo import load_promotions

        load_promotions(campaign)
    except DacuError as exc:
        return None, group_errors(str(exc))
    return campaign, {}


def group_errors(message: str) -> dict[str, list[str]]:
    """`src: phases[1].end: before … (line 9)` lines → {"phases": [...]}; others under "_"."""
    out: dict[str, list[str]] = {}
    for line in message.splitlines():
        match = re.match(r"^[^:]*: ([A-Za-z_]+)", line)
        if line.startswith("<form>: "):  # the form has no file lines to point at
            line = re.sub(r" \(line \d+\)$", "", line.removeprefix("<form>: "))
        out.setdefault(match.group(1) if match else "_", []).append(line)
    return out


def campaign_from_xlsx(raw: bytes, name: str) -> tuple[str, dict[str, list[str]]]:
    """The YAML of an uploaded campaign workbook, or its errors under "_"."""
    import tempfile

    from dacu.config_xlsx import load_campaign_xlsx

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(name).name
        path.write_bytes(raw)
        try:
            return load_campaign_xlsx(path)[0], {}
        except ConfigError as exc:
            return "", {"_": str(exc).splitlines()}
