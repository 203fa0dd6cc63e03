"""When the shop first saw each account (账户首见时间), for the live fraud watch's 新号 rules.

"New account orders within a minute" and "new account buys only the flash-sale SKU" need each
account's first sighting, and the watch keeps only the day it scores in memory. On the 0.3×
example shop's peak day, with the two days it used to keep as its only memory of the shop,
335 ordinary returning customers (who last came weeks before and went straight to the flash
sale) were "new accounts" and the fraud watch paged for them.

`AccountAges` holds one row per account (user_id, first_seen) in an Arrow table: fed by the
events the watch lets go of (`fold`, the earliest time of each account in them) and by the
shop's customer file (`add_known`, its first purchases: 会员 / 首购时间). It grows with the
accounts, not with the events, and a checkpoint saves it (`state`/`restore`: a collector Keeper).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

MERGE_PARTS = 16  # parts folded in before they are merged into the one table


class AccountAges:
    """One row per account: the earliest time the shop saw it (`known_schema`)."""

    def __init__(self) -> None:
        from dacu.analyze.fraud.features import known_schema

        self.schema = known_schema()
        self._table = self.schema.empty_table()
        self._parts: list[pa.Table] = []

    def fold(self, events: pa.Table) -> None:
        """The earliest time of each account in `events` (user_id, ts; any other columns)."""
        import pyarrow as pa

        if events.num_rows == 0:
            return
        first = events.select(["user_id", "ts"]).group_by("user_id").aggregate([("ts", "min")])
        self._add(
            pa.table(
                {
                    "user_id": first["user_id"].cast(pa.string()),
                    "first_seen": first["ts_min"].cast(self.schema.field("first_seen").type),
                }
            )
        )

    def add_known(self, rows: list[tuple[str, datetime]]) -> int:
        """Accounts the shop knew before (user_id, aware first-seen time: the customer file's
        first purchase); an earlier time than one held replaces it. Returns how many."""
        import pyarrow as pa

        if rows:
            users, times = zip(*rows, strict=True)
            self._add(pa.table({"user_id": list(users), "first_seen": list(times)}, self.schema))
        return len(rows)

    def _add(self, part: pa.Table) -> None:
        self._parts.append(part.select(self.schema.names))
        if len(self._parts) >= MERGE_PARTS:
            self._merge()

    def _merge(self) -> None:
        import pyarrow as pa

        if not self._parts:
            return
        both = pa.concat_tables([self._table, *self._parts])
        first = both.group_by("user_id").aggregate([("first_seen", "min")])
        self._table = pa.table(
            {"user_id": first["user_id"], "first_seen": first["first_seen_min"]}, self.schema
        )
        self._parts = []

    def table(self) -> pa.Table:
        """Every account known, once, with its earliest sighting."""
        self._merge()
        return self._table

    def __len__(self) -> int:
        return self.table().num_rows

    # a Keeper of the collector's checkpoints
    def state(self) -> pa.Table:
        return self.table()

    def restore(self, table: pa.Table) -> None:
        self._table, self._parts = table.cast(self.schema), []
