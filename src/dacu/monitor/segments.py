"""The segment log (落盘): the collector's append-only Arrow IPC files, fsync'ed per batch.

A batch is acknowledged only after `SegmentLog.append` has made it durable, so a restart loses no
acknowledged event: `replay` feeds the segments written after the last checkpoint back into the
rollups, and `compact` merges the segments a checkpoint covers into one compressed archive. The
collector that writes them is `dacu.monitor.collector`.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa

from dacu.events import EVENT_SCHEMA

SEGMENT_BYTES = 64 * 1024 * 1024


class SegmentLog:
    """Append-only Arrow IPC segments in a folder, fsync'ed per batch.

    A crash in the middle of a write leaves a truncated tail, which `replay` ignores: that batch was
    never acknowledged.
    """

    def __init__(self, folder: Path, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.fsync = True  # off only where durability is not the point (tests, benchmarks)
        self._file: BinaryIO | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._closer: weakref.finalize | None = None

    def segments(self) -> list[Path]:
        return sorted(self.folder.glob("segment-*.arrows"))

    @staticmethod
    def number(path: Path) -> int:
        return int(path.stem.split("-")[1])

    def append(self, table: pa.Table) -> None:
        file, writer = self._current()
        writer.write_table(table)
        file.flush()
        if self.fsync:
            os.fsync(file.fileno())

    def _current(self) -> tuple[BinaryIO, pa.ipc.RecordBatchStreamWriter]:
        """The open segment and its writer; a new segment when none is open or it is full."""
        if self._file is None or self._writer is None or self._file.tell() >= self.segment_bytes:
            return self._open_next()
        return self._file, self._writer

    def _open_next(self) -> tuple[BinaryIO, pa.ipc.RecordBatchStreamWriter]:
        self.close()
        segments = self.segments()
        number = self.number(segments[-1]) + 1 if segments else self._archived() + 1
        path = self.folder / f"segment-{number:06d}.arrows"
        file = open(path, "ab")  # noqa: SIM115 - kept open across appends
        try:
            writer = pa.ipc.new_stream(file, EVENT_SCHEMA)
        except BaseException:
            file.close()
            raise
        self._file, self._writer = file, writer
        # an abandoned log (a crash simulated, a monitor never closed) still closes its file when
        # collected; every appended batch is already fsync'ed, so nothing is lost by not closing
        self._closer = weakref.finalize(self, _close_segment, file, writer)
        file.flush()
        os.fsync(file.fileno())
        _fsync_dir(self.folder)
        return file, writer

    def close(self) -> None:
        if self._closer is not None:
            self._closer()  # runs once: writer then file
        self._writer = self._file = self._closer = None

    def roll(self) -> int:
        """Close the open segment (the next append starts a new one); the number of the last
        segment written, 0 for none."""
        self.close()
        segments = self.segments()
        return self.number(segments[-1]) if segments else self._archived()

    def _archived(self) -> int:
        archives = sorted(self.folder.glob("archive-*.arrows"))
        return int(archives[-1].stem.split("-")[-1]) if archives else 0

    def compact(self, *, upto: int) -> int:
        """Merge the closed segments numbered ≤ `upto` into one zstd-compressed archive
        (`archive-FIRST-LAST.arrows`, kept for audit and re-loads; a restart after the
        checkpoint never reads it) and remove them. Returns the segments merged."""
        old = [p for p in self.segments() if self.number(p) <= upto]
        if not old:
            return 0
        first, last = self.number(old[0]), self.number(old[-1])
        path = self.folder / f"archive-{first:06d}-{last:06d}.arrows"
        tmp = path.with_name(f".{path.name}.tmp")
        options = pa.ipc.IpcWriteOptions(compression="zstd")
        with (
            open(tmp, "wb") as handle,
            pa.ipc.new_stream(handle, EVENT_SCHEMA, options=options) as out,
        ):
            for source in old:
                for table in _read_segment(source):
                    out.write_table(table)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.folder)
        for source in old:
            source.unlink()
        _fsync_dir(self.folder)
        return len(old)

    def replay(self, *, after: int = 0, archives: bool = False) -> Iterator[pa.Table]:
        """Every durable batch of the segments numbered above `after`, in order (a truncated
        tail is skipped)."""
        if archives:
            for path in sorted(self.folder.glob("archive-*.arrows")):
                yield from _read_segment(path)
            after = max(after, self._archived())  # a crash while compacting left both
        for path in self.segments():
            if self.number(path) <= after:
                continue
            yield from _read_segment(path)


def _close_segment(file: BinaryIO, writer: pa.ipc.RecordBatchStreamWriter) -> None:
    try:
        writer.close()  # the end-of-stream marker
    finally:
        file.close()


def _read_segment(path: Path) -> Iterator[pa.Table]:
    """The batches of one segment file (a truncated tail ends it)."""
    with open(path, "rb") as handle:
        try:
            reader = pa.ipc.open_stream(handle)
            for batch in reader:
                yield pa.Table.from_batches([batch])
        except (pa.ArrowInvalid, OSError):
            return


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
