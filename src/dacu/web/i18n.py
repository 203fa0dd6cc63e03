"""Message catalogues: every stage may ship `dacu/<stage>/i18n/zh.json` and `en.json` (flat
`{"key": "text"}`, keys prefixed by the stage: `monitor.tile.gmv`); they are merged here.

Chinese is the first language: a key missing in English falls back to Chinese, then to the key
itself, so an untranslated screen still shows something sensible. `{name}` placeholders are filled
from keyword arguments: `t("web.alerts.count", n=3)`.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

import dacu

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
log = logging.getLogger("dacu.web")


def stage_dirs() -> list[Path]:
    """The stage folders of the installed dacu package, in name order."""
    roots = [Path(p) for p in dacu.__path__]
    return sorted(
        (
            d
            for root in roots
            for d in root.iterdir()
            if d.is_dir() and not d.name.startswith(("_", "."))
        ),
        key=lambda d: d.name,
    )


@lru_cache(maxsize=1)
def catalogues() -> dict[str, dict[str, str]]:
    """{lang: {key: text}} merged over every stage; a key defined twice is logged."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGS}
    for stage in stage_dirs():
        for lang in LANGS:
            path = stage / "i18n" / f"{lang}.json"
            if path.exists():
                _merge(merged[lang], _read(path), path)
    return merged


def _read(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{path}: expected a flat JSON object of strings")
    return data


def _merge(into: dict[str, str], new: dict[str, str], path: Path) -> None:
    for key, text in new.items():
        if key in into and into[key] != text:
            log.warning("i18n key %s defined twice (again in %s)", key, path)
        into[key] = text


def translate(
    key: str, lang: str = DEFAULT_LANG, default: str | None = None, **values: object
) -> str:
    """The text of `key` in `lang` (fallback: Chinese, then `default`, then the key itself),
    placeholders filled."""
    books = catalogues()
    text = books.get(lang, {}).get(key) or books[DEFAULT_LANG].get(key) or default or key
    if values:
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def pick_lang(value: str | None) -> str:
    """A supported language code from a query/cookie value, else Chinese."""
    if value and value.lower()[:2] in LANGS:
        return value.lower()[:2]
    return DEFAULT_LANG
