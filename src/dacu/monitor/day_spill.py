"""The fraud watch's day on disk (风控当日事件落盘): what `LiveRisk` keeps, written as it comes.

The fraud watch scores the day so far and keeps that day's events in memory; a restart reads only
the segments written after the last checkpoint (issue #19 item 6), so without a copy of its own the
watch came back holding only what arrived after that checkpoint: a brushing ring that ordered
before the restart and after was scored on half its orders, basket peers were undercounted.

`DaySpill` appends each table the watch keeps to an Arrow IPC file of its local day, open under a
temporary name (`.2026-11-11-000007.arrows.tmp`) and not fsync'ed per write. At each collector
checkpoint (`roll`, from `LiveRisk.state`) the open files are closed, fsync'ed and renamed
(`2026-11-11-000007.arrows`), and the list of the day's files — the manifest — is what the
checkpoint commits with the rollups and the mark. A file is only ever read if a committed manifest
names it, so an event is either in a committed file (folded before that checkpoint, never in the
segments the restart replays) or in the segments after the mark (or the checkpoint's pending
events), never both: a file written after the last checkpoint, or renamed by a checkpoint that
never committed (a crash between the two), is deleted on restore and its events come back from the
replay. Files of days before the watch's cutoff leave the manifest at the next checkpoint and are
deleted once it is committed (`committed`), so the disk holds what memory holds: the day being
scored, and the day before until it has been scored at midnight, then that day's last half hour
(the start of the sessions that ordered after midnight: its files rewritten as one, `_cut`). A
restart reads that, not the campaign.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from dacu.monitor.segments import _fsync_dir

log = logging.getLogger("dacu.monitor")

MANIFEST = pa.schema([("file", pa.string()), ("day", pa.date32()), ("rows", pa.int64())])
"""A checkpoint's list of the day files it covers, in the order they were written."""

SUFFIX = ".arrows"


@dataclass
class _Open:
    """A day file being written: its temporary path, the file and the IPC writer."""

    name: str
    day: date
    handle: BinaryIO
    writer: pa.ipc.RecordBatchStreamWriter
    schema: pa.Schema
    rows: int = 0


class DaySpill:
    """The watch's kept events of each local day (`tz`) in `folder`, committed with checkpoints."""

    def __init__(self, folder: Path, tz: tzinfo) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.tz = tz
        self.files: list[tuple[str, date, int]] = []  # closed files: (name, day, rows)
        self._open: dict[date, _Open] = {}
        self._seq: int | None = None
        self._clean: set[str] = set()  # files of the cutoff's day holding no row before it
        self._clean_for: datetime | None = None  # … the cutoff they were checked against
        # an abandoned spill (a crash simulated, a monitor never closed) closes its open files
        # when collected; they are not in any committed manifest, so nothing reads them
        self._closer = weakref.finalize(self, _close_all, self._open)

    # -- writing ------------------------------------------------------------------------------
    def write(self, table: pa.Table, first: datetime, last: datetime) -> None:
        """Append `table` (ts between `first` and `last`) to the open file of its local day,
        cut at local midnight when it spans two."""
        start, end = self.day(first), self.day(last)
        if start == end:
            self._append(start, table)
            return
        kind = table.schema.field("ts").type
        day = start
        while day <= end:
            lo, hi = self._midnight(day), self._midnight(day + timedelta(days=1))
            within = pc.and_(
                pc.greater_equal(table["ts"], pa.scalar(lo, kind)),
                pc.less(table["ts"], pa.scalar(hi, kind)),
            )
            self._append(day, table.filter(within))
            day += timedelta(days=1)

    def day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def _midnight(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=self.tz)

    def _append(self, day: date, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        spill = self._open.get(day)
        if spill is None:
            spill = self._open[day] = self._create(day, table.schema)
        if table.schema != spill.schema:  # the collector's are all EVENT_SCHEMA
            table = table.cast(spill.schema)
        spill.writer.write_table(table)
        spill.rows += table.num_rows

    def _create(self, day: date, schema: pa.Schema) -> _Open:
        name = f"{day:%Y-%m-%d}-{self._next():06d}{SUFFIX}"
        handle = open(self.folder / _temporary(name), "wb")  # noqa: SIM115 - kept open
        try:
            writer = pa.ipc.new_stream(handle, schema)
        except BaseException:
            handle.close()
            raise
        return _Open(name, day, handle, writer, schema)

    def _next(self) -> int:
        """The next file number: above every file in the folder, committed or not."""
        if self._seq is None:
            self._seq = max((_number(p.name) for p in self.folder.iterdir()), default=0)
        self._seq += 1
        return self._seq

    # -- checkpoints --------------------------------------------------------------------------
    def roll(self, cutoff: datetime | None) -> pa.Table:
        """Close, fsync and rename the open files, drop the days before `cutoff` from the list,
        and return the manifest for the checkpoint to commit (nothing is deleted yet)."""
        opened = sorted(self._open.values(), key=lambda o: o.name)
        for spill in opened:
            _close(spill)
            os.fsync(spill.handle.fileno())
            spill.handle.close()
            os.replace(self.folder / _temporary(spill.name), self.folder / spill.name)
            self.files.append((spill.name, spill.day, spill.rows))
        self._open.clear()
        if opened:
            _fsync_dir(self.folder)
        if cutoff is not None:
            first = self.day(cutoff)
            self.files = [f for f in self.files if f[1] >= first]
            if cutoff > self._midnight(first):
                self._cut(first, cutoff)
        return self.manifest()

    def _cut(self, day: date, cutoff: datetime) -> None:
        """The closed files of `day` that hold rows before `cutoff` (the day before the one
        scored, of which the watch keeps the last minutes) rewritten as one file of their rows
        from `cutoff` on, which takes their place in the manifest (they are deleted once it is
        committed). Each file is read once per cutoff (`_clean`)."""
        if self._clean_for != cutoff:
            self._clean, self._clean_for = set(), cutoff
        todo = [f for f in self.files if f[1] == day and f[0] not in self._clean]
        if not todo:
            return
        kept = []
        for name, _, _ in todo:
            with open(self.folder / name, "rb") as handle:
                table = pa.ipc.open_stream(handle).read_all()
            kept.append(
                table.filter(pc.greater_equal(table["ts"], pa.scalar(cutoff, table["ts"].type)))
            )
        if sum(t.num_rows for t in kept) == sum(rows for _, _, rows in todo):
            self._clean.update(name for name, _, _ in todo)
            return
        rest = pa.concat_tables(kept)
        names = {name for name, _, _ in todo}
        self.files = [f for f in self.files if f[0] not in names]
        if rest.num_rows:
            spill = self._create(day, rest.schema)
            spill.writer.write_table(rest)
            spill.rows = rest.num_rows
            _close(spill)
            os.fsync(spill.handle.fileno())
            spill.handle.close()
            os.replace(self.folder / _temporary(spill.name), self.folder / spill.name)
            _fsync_dir(self.folder)
            self.files.insert(0, (spill.name, day, spill.rows))
            self._clean.add(spill.name)

    def manifest(self) -> pa.Table:
        names, days, rows = zip(*self.files, strict=True) if self.files else ((), (), ())
        return pa.table({"file": names, "day": days, "rows": rows}, MANIFEST)

    def committed(self) -> None:
        """The last manifest is committed: delete every file it does not name (days before the
        cutoff, a crashed checkpoint's file), except the files open now."""
        keep = {name for name, _, _ in self.files}
        keep |= {_temporary(o.name) for o in self._open.values()}
        gone = [p for p in self.folder.iterdir() if p.name not in keep and _number(p.name)]
        for path in gone:
            path.unlink(missing_ok=True)
        if gone:
            _fsync_dir(self.folder)

    def restore(self, manifest: pa.Table) -> Iterator[pa.Table]:
        """The committed files of `manifest`, each as one table, after deleting every other
        file in the folder (written after that checkpoint: its events are replayed)."""
        _close_all(self._open)
        self._seq = None
        self.files = [(r["file"], r["day"], r["rows"]) for r in manifest.cast(MANIFEST).to_pylist()]
        self.committed()
        for name, _, rows in self.files:
            path = self.folder / name
            try:
                with open(path, "rb") as handle:
                    table = pa.ipc.open_stream(handle).read_all().combine_chunks()
            except (OSError, pa.ArrowInvalid) as exc:  # never written so: fsync'ed, renamed
                log.warning(
                    "fraud watch: day file %s unreadable (%s), its %d events lost", path, exc, rows
                )
                continue
            yield table


def _temporary(name: str) -> str:
    return f".{name}.tmp"


def _number(name: str) -> int:
    """The file number of a day file's name (temporary or not); 0 for anything else."""
    stem = name.removeprefix(".").removesuffix(".tmp")
    if not stem.endswith(SUFFIX):
        return 0
    number = stem.removesuffix(SUFFIX).rsplit("-", 1)[-1]
    return int(number) if number.isdigit() else 0


def _close(spill: _Open) -> None:
    try:
        spill.writer.close()  # the end-of-stream marker
    finally:
        spill.handle.flush()


def _close_all(files: dict[date, _Open]) -> None:
    for spill in files.values():
        try:
            _close(spill)
        finally:
            spill.handle.close()
    files.clear()
