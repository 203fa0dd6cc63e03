"""Event rows as columns of integer codes, turned into Arrow (EVENT_SCHEMA) at the end.

Strings are only made by Arrow compute (`cast` + `binary_join`), never in a Python loop: user ids
are ``v123`` (visitor who never bought), ``c123`` (customer); sessions ``s…``, orders ``o…``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dacu.events import EVENT_SCHEMA, EVENT_TYPES

EV = {name: code for code, name in enumerate(EVENT_TYPES)}
COLUMNS = ("ts", "si", "event", "sku", "qty", "amount", "order", "creative", "variant")
SESSION_COLUMNS = ("uflag", "uid", "session", "channel", "category", "device", "region")
USER_PREFIX = ("v", "c")


@dataclass
class Blocks:
    """Accumulates blocks of events; each block is a dict column → array (scalars broadcast)."""

    parts: list[dict[str, np.ndarray]] = field(default_factory=list)

    def add(self, n: int, **columns: np.ndarray | int) -> None:
        if n == 0:
            return
        block = {}
        for name in COLUMNS:
            value = columns.get(name, -1)
            block[name] = np.broadcast_to(np.asarray(value, dtype=np.int64), (n,))
        self.parts.append(block)

    def merged(self) -> dict[str, np.ndarray]:
        if not self.parts:
            return {name: np.zeros(0, np.int64) for name in COLUMNS}
        out = {name: np.concatenate([p[name] for p in self.parts]) for name in COLUMNS}
        order = np.argsort(out["ts"], kind="stable")
        return {name: col[order] for name, col in out.items()}


def _ids(prefix: str, values: np.ndarray) -> pa.Array:
    array = pa.array(values, mask=values < 0, type=pa.int64()).cast(pa.string())
    return pc.binary_join_element_wise(prefix, array, "")


def _coded(codes: np.ndarray, names: list[str]) -> pa.Array:
    if not names:
        return pa.nulls(len(codes), pa.string())
    indices = pa.array(codes, mask=codes < 0, type=pa.int32())
    return pa.DictionaryArray.from_arrays(indices, pa.array(names, pa.string())).cast(pa.string())


def to_table(
    cols: dict[str, np.ndarray],
    sessions: dict[str, np.ndarray],
    *,
    first_id: int,
    prefix: str,
    campaign_id: str,
    names: dict[str, list[str]],
    sku_category: np.ndarray,
) -> pa.Table:
    """Event columns + per-session columns (indexed by `si`) → Arrow table of EVENT_SCHEMA.

    Event ids are `prefix` + first_id, first_id + 1, … in time order.
    """
    n = len(cols["ts"])
    per = {name: sessions[name][cols["si"]] for name in SESSION_COLUMNS}
    sku = cols["sku"]
    category = np.where(sku >= 0, sku_category[np.maximum(sku, 0)], per["category"])
    user_prefix = _coded(per["uflag"], list(USER_PREFIX))
    user = pc.binary_join_element_wise(user_prefix, pa.array(per["uid"]).cast(pa.string()), "")
    qty, amount = cols["qty"], cols["amount"]
    arrays = {
        "event_id": _ids(prefix, np.arange(first_id, first_id + n, dtype=np.int64)),
        "ts": pa.array(cols["ts"], type=pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "user_id": user,
        "session_id": _ids("s", per["session"]),
        "event": _coded(cols["event"], list(EVENT_TYPES)),
        "channel": _coded(per["channel"], names["channel"]),
        "campaign_id": _coded(np.zeros(n, np.int64), [campaign_id]),
        "sku_id": _coded(sku, names["sku"]),
        "category": _coded(category, names["category"]),
        "quantity": pa.array(qty, mask=qty < 0, type=pa.int64()).cast(pa.int32()),
        "amount_fen": pa.array(amount, mask=amount < 0, type=pa.int64()),
        "order_id": _ids("o", cols["order"]),
        "device": _coded(per["device"], names["device"]),
        "region": _coded(per["region"], names["region"]),
        "creative_id": _coded(cols["creative"], names["creative"]),
        "variant": _coded(cols["variant"], names["variant"]),
    }
    return pa.table(arrays, schema=EVENT_SCHEMA)
