"""Where each session came in (进店): its entry channel and its entry category.

A session's entry channel is the first channel seen for it; its entry category the first category
seen for it (the SKU or category page it landed on). Every event of the session carries them in
the rollups: the `channel` dim counts a visit under the channel it came from, the
`entry_category` dim counts each order once, under the category its shopper entered on — not
under every category it has a line in, as the `category` dim does (an add-on line, 凑单, of a
shopper who came for another category is that category's GMV, not its conversion). Orders by
entry category over visitors by entry category is the category conversion rate a 生意参谋 user
reads (类目转化), and what the root cause's conversion-drop signal reads.

Bounded memory: the sessions seen in the last SESSION_HOURS to 2 × SESSION_HOURS of event time
(a session quiet for longer starts over); `state`/`restore` keep them across a restart (a
`Keeper` of the collector's checkpoints).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

SESSION_HOURS = 6
Entry = tuple[str | None, str | None]
"""(entry channel, entry category) of a session; None where no event of it had one yet."""

STATE_SCHEMA = pa.schema(
    [
        pa.field("session_id", pa.string()),
        pa.field("channel", pa.string()),
        pa.field("category", pa.string()),
        pa.field("older", pa.bool_()),
        pa.field("era", pa.int64()),
    ]
)


class SessionEntries:
    """Each recent session's (entry channel, entry category), filled batch by batch."""

    def __init__(self) -> None:
        self.current: dict[str, Entry] = {}
        self.older: dict[str, Entry] = {}
        self.era: int | None = None  # newest minute // (60 × SESSION_HOURS)
        self._pairs: dict[Entry, Entry] = {}  # one tuple per distinct pair, shared by sessions

    def __len__(self) -> int:
        return len(self.current) + len(self.older)

    def tag(self, events: pa.Table) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
        """Each event's session entry channel and entry category ("" for none): one dictionary
        look-up per session of the batch (not per event); events without a session keep their
        own. A session first seen without a category (a home page) takes the first category
        that comes later; its entry channel stays the first channel seen."""
        sessions = events.select(["session_id", "channel"]).append_column(
            "category",
            events["category"]
            if "category" in events.column_names
            else pa.nulls(events.num_rows, pa.string()),
        )
        sessions = sessions.combine_chunks()
        firsts = sessions.group_by("session_id", use_threads=False).aggregate(
            [
                ("channel", "first", pc.ScalarAggregateOptions(skip_nulls=False)),
                ("category", "first", pc.ScalarAggregateOptions(skip_nulls=True)),
            ]
        )
        firsts = firsts.filter(pc.is_valid(firsts["session_id"]))
        ids = firsts["session_id"].to_pylist()
        batch = zip(
            ids,
            firsts["channel_first"].to_pylist(),
            firsts["category_first"].to_pylist(),
            strict=True,
        )
        known = [self._entry(session, channel, category) for session, channel, category in batch]
        where = pc.index_in(
            sessions["session_id"], value_set=firsts["session_id"].combine_chunks(), skip_nulls=True
        )
        channel = pc.take(pa.array([k[0] for k in known], pa.string()), where)
        category = pc.take(pa.array([k[1] for k in known], pa.string()), where)
        return (
            pc.coalesce(channel, sessions["channel"], ""),
            pc.coalesce(category, sessions["category"], ""),
        )

    def _entry(self, session: str, channel: str | None, category: str | None) -> Entry:
        """The session's entry, set at its first sight (or taken over from the older era); a
        missing category is filled by the first batch that has one."""
        category = category or None  # "" is no category
        entry = self.current.get(session)
        if entry is None:
            entry = self.older.get(session, (channel, category))
        elif entry[1] is not None or category is None:
            return entry
        if entry[1] is None and category:
            entry = (entry[0], category)
        entry = self._pairs.setdefault(entry, entry)
        self.current[session] = entry
        return entry

    def rotate(self, newest_minute: int) -> None:
        """Keep the sessions of the last SESSION_HOURS to 2 × SESSION_HOURS of event time."""
        era = newest_minute // (60 * SESSION_HOURS)
        if self.era is None:  # the first batch: its sessions are of this era
            self.era = era
        elif era > self.era:
            self.older = self.current if era == self.era + 1 else {}
            self.current = {}
            self.era = era

    # -- a Keeper of the collector's checkpoints ----------------------------------------------------
    def state(self) -> pa.Table:
        parts = []
        for older, held in ((False, self.current), (True, self.older)):
            channels, categories = zip(*held.values(), strict=True) if held else ((), ())
            parts.append(
                pa.table(
                    {
                        "session_id": pa.array(list(held), pa.string()),
                        "channel": pa.array(channels, pa.string()),
                        "category": pa.array(categories, pa.string()),
                        "older": pa.repeat(pa.scalar(older), len(held)),
                        "era": pa.repeat(pa.scalar(self.era, pa.int64()), len(held)),
                    },
                    schema=STATE_SCHEMA,
                )
            )
        return pa.concat_tables(parts)

    def restore(self, table: pa.Table) -> None:
        self.current, self.older, self._pairs = {}, {}, {}
        if table.num_rows == 0:
            return
        self.era = table["era"][0].as_py()
        for session, channel, category, older in zip(
            *(table[name].to_pylist() for name in ("session_id", "channel", "category", "older")),
            strict=True,
        ):
            entry = self._pairs.setdefault((channel, category), (channel, category))
            (self.older if older else self.current)[session] = entry
