"""The Jinja2 environment every stage renders pages with, inside `base.html`.

Templates are found in `dacu/web/templates/` (e.g. `base.html`) and, prefixed by the stage name, in
`dacu/<stage>/templates/` (`monitor/dashboard.html` → `dacu/monitor/templates/dashboard.html`).

In a template: `{{ t("web.nav.alerts") }}` (merged catalogues, current language), filters
`{{ amount_fen | fen }}` (¥1,234.50 / ¥12.35万 / ¥1.20亿), `{{ count | num }}` (12.35万),
`{{ ratio | pct }}` (3.12%), `{{ when | dt }}` (Asia/Shanghai, 2026-11-11 20:00). From a route:
`return render(request, "monitor/dashboard.html", {"campaign": c})`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    pass_context,
    select_autoescape,
)

from dacu.money import format_fen, format_pct
from dacu.web.i18n import pick_lang, stage_dirs, translate

TZ = ZoneInfo("Asia/Shanghai")


def format_count(value: int | float | None, lang: str = "zh") -> str:
    """Counts for people: 9,999 / 12.35万 / 1.20亿 (zh); 12.35K / 1.20M / 1.20B (en)."""
    if value is None:
        return "—"
    number = Decimal(str(value))
    units = (
        [(Decimal(10**8), "亿"), (Decimal(10**4), "万")]
        if lang == "zh"
        else [(Decimal(10**9), "B"), (Decimal(10**6), "M"), (Decimal(10**4), "K")]
    )
    for threshold, unit in units:
        if abs(number) >= threshold:
            divisor = Decimal(1000) if unit == "K" else threshold
            scaled = (number / divisor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            return f"{scaled:,}{unit}"
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"


def format_time(value: datetime | date | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time shown in Asia/Shanghai (naive times are taken as UTC, as the database stores)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))
        return aware.astimezone(TZ).strftime(fmt)
    return value.strftime("%Y-%m-%d")


@pass_context
def _fen(ctx: Any, value: int | None, compact: bool = True) -> str:
    return (
        "—"
        if value is None
        else format_fen(int(value), lang=ctx.get("lang", "zh"), compact=compact)
    )


@pass_context
def _num(ctx: Any, value: int | float | None) -> str:
    return format_count(value, ctx.get("lang", "zh"))


@pass_context
def _t(ctx: Any, key: str, default: str | None = None, **values: object) -> str:
    return translate(key, ctx.get("lang", "zh"), default, **values)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared environment (built once per process)."""
    from pathlib import Path

    web = Path(__file__).resolve().parent / "templates"
    stages = {
        d.name: FileSystemLoader(str(d / "templates"))
        for d in stage_dirs()
        if (d / "templates").is_dir() and d.name != "web"
    }
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(web)), PrefixLoader(stages)]),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        fen=_fen, num=_num, pct=lambda v, digits=2: format_pct(v, digits=digits), dt=format_time
    )
    env.globals["t"] = _t
    return env


def _session(request: Request) -> dict[str, Any]:
    """The session dict, or an empty one outside the session middleware (500 pages)."""
    return request.scope.get("session", {})


def request_lang(request: Request) -> str:
    return pick_lang(request.query_params.get("lang") or _session(request).get("lang"))


def page_context(request: Request) -> dict[str, Any]:
    """What base.html needs: language, user, CSRF token, navigation state."""
    from dacu.web.auth import csrf_token, principal_of

    who = principal_of(request)
    return {
        "request": request,
        "lang": request_lang(request),
        "user": who,
        "csrf_token": csrf_token(request) if "session" in request.scope else "",
        "path": request.url.path,
        "other_lang": "en" if request_lang(request) == "zh" else "zh",
    }


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a template inside the layout with the page context merged in."""
    html = environment().get_template(name).render({**page_context(request), **(context or {})})
    return HTMLResponse(html, status_code=status, headers=headers)
