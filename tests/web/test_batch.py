"""The edge checks of dacu.web.batch: JSON depth without parsing, per-item validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from dacu.web.batch import (
    Amount,
    BatchRefused,
    Count,
    Id,
    Instant,
    Text,
    batch_of,
    json_depth,
    validate_items,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab\n\x00'),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=3), inner, max_size=3)
    ),
    max_leaves=30,
)


def parsed_depth(value: object) -> int:
    """Second implementation: walk the parsed value."""
    if isinstance(value, list):
        return 1 + max((parsed_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((parsed_depth(v) for v in value.values()), default=0)
    return 0


@given(JSON)
def test_json_depth_equals_the_depth_of_the_parsed_value(value: object) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert json_depth(text.encode()) == parsed_depth(value)


def test_json_lines_depth_is_the_deepest_line() -> None:
    assert json_depth(b'{"a": [1]}\n{"b": {"c": {"d": []}}}\n') == 4
    assert json_depth(b"[" * 50_000 + b"]" * 50_000) == 50_000


class Row(BaseModel):
    id: Id
    name: Text
    amount_fen: Amount


def test_validate_items_keeps_the_good_and_names_each_bad_one() -> None:
    rows = [
        {"id": "a", "name": "直通车", "amount_fen": 100},
        {"id": "../etc", "name": "x", "amount_fen": 1},
        {"id": "b7", "name": "x", "amount_fen": True},
        "not a row",
        {"id": "b", "name": "x" * 257, "amount_fen": 1},
        {"id": "c", "name": "x", "amount_fen": 2**63},
    ]
    good, errors = validate_items(Row, rows)
    assert [(i, r.id) for i, r in good] == [(0, "a")]
    assert [(e["index"], e["reason"].split(":")[0]) for e in errors] == [
        (1, "id"),
        (2, "amount_fen"),
        (3, "item"),
        (4, "name"),
        (5, "amount_fen"),
    ]
    assert validate_items(Row, rows[:1])[1] == []


@pytest.mark.parametrize(
    ("body", "why"),
    [({"rows": []}, "JSON array"), ([], "empty batch"), ([{}] * 4, "4 items, at most 3")],
)
def test_a_request_that_is_not_a_batch_is_refused_whole(body: object, why: str) -> None:
    with pytest.raises(BatchRefused, match=why):
        batch_of(body, limit=3)
    assert batch_of([{}] * 3, limit=3) == [{}] * 3


def test_counts_take_csv_digits_but_never_booleans() -> None:
    count = TypeAdapter(Count)
    assert count.validate_python("12") == 12  # a CSV cell
    for bad in (True, False, -1, 10**9 + 1, 1.5, "twelve"):
        with pytest.raises(ValidationError):
            count.validate_python(bad)


def test_instants_need_a_zone_and_a_plausible_time() -> None:
    instant = TypeAdapter(Instant)
    at = instant.validate_python("2026-11-11T20:00:00+08:00")
    assert at == datetime(2026, 11, 11, 12, tzinfo=UTC)
    tomorrow_and_more = datetime.now(UTC) + timedelta(days=2)
    for bad in ("2026-11-11T20:00:00", "1999-12-31T23:00:00+00:00", tomorrow_and_more):
        with pytest.raises(ValidationError):
            instant.validate_python(bad)
