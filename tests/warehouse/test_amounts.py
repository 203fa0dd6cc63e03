"""Property test: amounts in yuan, as shops write them, become exact integer fen."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dacu.warehouse import open_warehouse
from dacu.warehouse.importers import import_events
from dacu.warehouse.mapping import Mapping

WH = open_warehouse("duckdb://:memory:")


def _written(fen: int, style: int) -> str:
    """fen as text in one of the ways exports write yuan: 1299.5, 1,299.50, ¥1,299.50, ￥1299.50."""
    yuan = Decimal(fen) / 100
    plain = f"{yuan:.2f}"
    grouped = f"{yuan:,.2f}"
    return [
        plain.rstrip("0").rstrip(".") if "." in plain else plain,
        f'"{grouped}"',
        f'"¥{grouped}"',
        f"￥{plain}",
    ][style]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**11), st.integers(0, 3)), min_size=1, max_size=40))
def test_yuan_text_becomes_exact_fen(tmp_path_factory, amounts):
    path: Path = tmp_path_factory.mktemp("amounts") / "pay.csv"
    lines = ["event_id,ts,user_id,event,金额"]
    lines += [
        f"a{i},2024-11-11T12:00:00Z,u,pay,{_written(fen, style)}"
        for i, (fen, style) in enumerate(amounts)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    WH.staging().execute("DELETE FROM events")
    import_events(WH, path, Mapping(columns={"amount_fen": "金额"}))
    got = WH.to_arrow(WH.events().order_by("event_id").select("event_id", "amount_fen"))
    stored = dict(zip(got["event_id"].to_pylist(), got["amount_fen"].to_pylist(), strict=True))
    assert stored == {f"a{i}": fen for i, (fen, _) in enumerate(amounts)}
