"""Read a data file into a staging DuckDB table of text columns, with the file line of every row.

CSV (optionally .gz) is streamed with pyarrow's CSV reader in blocks, so a 20-million-row file
never becomes Python objects; Excel is streamed row by row with openpyxl (read-only); Parquet is
read by DuckDB itself. Encodings UTF-8, UTF-8 with BOM and GBK/GB18030 are detected from a sample
(charset-normalizer for anything that is not UTF-8). A row with the wrong number of fields is
recorded as malformed (line, text) and skipped; the importer decides whether that fails the load.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from dacu.errors import InputError

SAMPLE_BYTES = 1 << 20
BLOCK_BYTES = 8 << 20
Progress = Callable[[int], None]  # called with bytes read so far


@dataclass
class Staged:
    """A file staged as table `name`: text columns `columns`, plus `_line` (file line number)."""

    name: str
    columns: list[str]
    rows: int
    encoding: str | None = None
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    typed: bool = False  # Parquet keeps its own column types


def _open_bytes(path: Path) -> IO[bytes]:
    # closed by the caller; gzip.open owns its file (GzipFile(fileobj=...) would leave it open)
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")


def detect_encoding(path: Path) -> str:
    """'utf-8' (with or without BOM) or the detected legacy encoding ('gb18030' for GBK)."""
    with _open_bytes(path) as handle:
        sample = handle.read(SAMPLE_BYTES)
    if not sample.strip():
        raise InputError("the file is empty (expected rows of data)", file=str(path))
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4:  # a character cut by the sample's end
            return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None:
        raise InputError("cannot tell the text encoding (expected UTF-8 or GBK)", file=str(path))
    name = best.encoding.lower()
    return "gb18030" if name in ("gbk", "gb2312", "gb18030", "hz") else name


def first_line(path: Path, encoding: str) -> str:
    with _open_bytes(path) as handle:
        text = io.TextIOWrapper(handle, encoding=encoding, errors="replace", newline="")
        return text.readline().lstrip("\ufeff")


def sniff_delimiter(line: str) -> str:
    """The most frequent of , tab ; | in the first line (',' when none)."""
    counts = {d: line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_header(path: Path, encoding: str, delimiter: str = ",") -> list[str]:
    """The column names of the first line (BOM and surrounding spaces removed)."""
    names = next(csv.reader([first_line(path, encoding)], delimiter=delimiter), [])
    names = [n.strip() for n in names]
    if not any(names):
        raise InputError(
            "the first line is empty (expected a header of column names)", file=str(path), line=1
        )
    return names


class _Counting(io.RawIOBase):
    """A file wrapper that reports bytes read to a progress callback."""

    def __init__(self, inner: IO[bytes], progress: Progress | None) -> None:
        self.inner, self.progress, self.done = inner, progress, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.done += len(data)
        if self.progress:
            self.progress(self.done)
        return len(data)


def stage_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    table: str,
    columns: list[str] | None = None,
    encoding: str | None = None,
    progress: Progress | None = None,
) -> Staged:
    """Stage a CSV file; `columns` given means the file has no header line."""
    encoding = encoding or detect_encoding(path)
    header = columns is None
    delimiter = sniff_delimiter(first_line(path, encoding))
    names = read_header(path, encoding, delimiter) if columns is None else list(columns)
    _check_names(names, path)
    malformed_text: list[str] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        malformed_text.append(row.text)
        return "skip"

    read = pacsv.ReadOptions(
        column_names=names,
        skip_rows=1 if header else 0,
        encoding="utf8" if encoding == "utf-8" else encoding,
        block_size=BLOCK_BYTES,
    )
    parse = pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid)
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    _create_text_table(con, table, names)
    rows = 0
    first_data_line = 2 if header else 1
    with _open_bytes(path) as handle:
        source = io.BufferedReader(_Counting(handle, progress), buffer_size=BLOCK_BYTES)
        try:
            reader = pacsv.open_csv(
                source, read_options=read, parse_options=parse, convert_options=convert
            )
            for batch in reader:
                rows += _insert_batch(con, table, batch, first_data_line + rows)
        except pa.ArrowInvalid as exc:
            raise InputError(f"not a readable CSV file: {exc}", file=str(path)) from None
        except UnicodeDecodeError as exc:
            raise InputError(f"not {encoding} text ({exc.reason})", file=str(path)) from None
    staged = Staged(table, names, rows, encoding)
    if malformed_text:
        staged.malformed = _locate_malformed(
            con, path, table, encoding, malformed_text, len(names), first_data_line, delimiter
        )
    return staged


def _check_names(names: list[str], path: Path) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise InputError(
                f"column name {name!r} appears twice in the header",
                file=str(path),
                line=1,
                column=f"#{index + 1}",
            )
        seen.add(name)


def _create_text_table(con: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> None:
    cols = ", ".join(f'"{n}" VARCHAR' for n in names)
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{table}" (_line BIGINT, {cols})')


def _insert_batch(
    con: duckdb.DuckDBPyConnection, table: str, batch: pa.RecordBatch, start_line: int
) -> int:
    if batch.num_rows == 0:
        return 0
    lines = pa.array(range(start_line, start_line + batch.num_rows), pa.int64())
    frame = pa.Table.from_batches([batch]).add_column(0, "_line", lines)
    con.register("_dacu_batch", frame)
    try:
        con.execute(f'INSERT INTO "{table}" SELECT * FROM _dacu_batch')
    finally:
        con.unregister("_dacu_batch")
    return batch.num_rows


def _locate_malformed(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    encoding: str,
    texts: list[str],
    expected: int,
    start_line: int,
    delimiter: str,
) -> list[tuple[int, str]]:
    """Find the lines of malformed rows (rare: a second pass) and renumber the good rows."""
    wanted = set(texts)
    found: list[tuple[int, str]] = []
    with _open_bytes(path) as handle:
        text = io.TextIOWrapper(handle, encoding=encoding, errors="replace", newline="")
        for number, line in enumerate(text, start=1):
            if number >= start_line and line.rstrip("\r\n") in wanted:
                got = len(next(csv.reader([line], delimiter=delimiter), []))
                found.append((number, f"expected {expected} fields, found {got}"))
    # A good row numbered n (counting good rows only) sits after every malformed line m whose
    # count of good rows before it, m - start_line - j (j malformed before it), is below n's.
    shifts = [m - start_line - j for j, (m, _) in enumerate(found)]
    if shifts:
        con.register("_dacu_shift", pa.table({"s": pa.array(shifts, pa.int64())}))
        con.execute(
            f'UPDATE "{table}" SET _line = _line + (SELECT count(*) FROM _dacu_shift '
            f'WHERE s <= "{table}"._line - {start_line})'
        )
        con.unregister("_dacu_shift")
    return found


def stage_parquet(con: duckdb.DuckDBPyConnection, path: Path, *, table: str) -> Staged:
    """Stage a Parquet file with its own column types; `_line` is the 1-based row number."""
    try:
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW "{table}" AS SELECT file_row_number + 1 AS _line, '
            f"* EXCLUDE (file_row_number) FROM read_parquet('{path}', file_row_number=true)"
        )
        names = [c[0] for c in con.execute(f'DESCRIBE "{table}"').fetchall()][1:]
        rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
    except duckdb.Error as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=str(path)) from None
    if rows == 0:
        raise InputError("the file is empty (no rows)", file=str(path))
    return Staged(table, names, rows, typed=True)


def stage_excel(
    con: duckdb.DuckDBPyConnection, path: Path, *, table: str, sheet: str | None = None
) -> Staged:
    """Stage the first (or named) sheet of an .xlsx workbook; line = the sheet's row number."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"not a readable Excel .xlsx workbook ({type(exc).__name__}: {exc})",
            file=str(path),
            line=1,
        ) from None
    try:
        ws = book[sheet] if sheet else book.worksheets[0]
    except KeyError:
        raise InputError(
            f"no sheet {sheet!r} (have: {', '.join(book.sheetnames)})", file=str(path)
        ) from None
    rows_iter = ws.iter_rows(values_only=True)
    header = next(rows_iter, None)
    if not header or not any(header):
        raise InputError("the sheet is empty (expected a header row)", file=str(path))
    names = [str(h).strip() if h is not None else f"column{i + 1}" for i, h in enumerate(header)]
    _check_names(names, path)
    _create_text_table(con, table, names)
    rows, chunk = 0, []
    for values in rows_iter:
        chunk.append(["" if v is None else _cell_text(v) for v in values][: len(names)])
        if len(chunk) >= 50_000:
            rows += _insert_rows(con, table, names, chunk, 2 + rows)
            chunk = []
    rows += _insert_rows(con, table, names, chunk, 2 + rows)
    book.close()
    return Staged(table, names, rows)


def _cell_text(value: object) -> str:
    from datetime import datetime

    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    names: list[str],
    rows: list[list[str]],
    start_line: int,
) -> int:
    if not rows:
        return 0
    cols = {
        n: pa.array([r[i] if i < len(r) else "" for r in rows], pa.string())
        for i, n in enumerate(names)
    }
    batch = pa.RecordBatch.from_pydict(cols)
    return _insert_batch(con, table, batch, start_line)


def stage_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    table: str,
    columns: list[str] | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    progress: Progress | None = None,
) -> Staged:
    """Stage a file by its extension: .xlsx, .parquet, else delimited text (.csv, .tsv, .txt,
    optionally .gz; the delimiter , tab ; or | is taken from the first line)."""
    if not path.exists():
        raise InputError("no such file", file=str(path))
    if path.is_dir():
        raise InputError(
            "this is a folder, not a file (give the export file itself)", file=str(path)
        )
    if path.stat().st_size == 0:
        raise InputError("the file is empty (expected rows of data)", file=str(path))
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return stage_parquet(con, path, table=table)
    if suffix in (".xlsx", ".xlsm"):
        return stage_excel(con, path, table=table, sheet=sheet)
    _refuse_binary(path)
    return stage_csv(con, path, table=table, columns=columns, encoding=encoding, progress=progress)


BINARY_KINDS = {
    b"PK\x03\x04": "a zip archive or Excel workbook (name it .xlsx to read it as Excel)",
    b"PAR1": "a Parquet file (name it .parquet)",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook (save it as .xlsx or CSV)",
    b"%PDF": "a PDF document",
}


def _refuse_binary(path: Path) -> None:
    """A binary file given as text: say what it looks like, at line 1, column 1."""
    with _open_bytes(path) as handle:
        try:
            head = handle.read(4096)
        except (OSError, EOFError) as exc:
            raise InputError(f"cannot read the file ({exc})", file=str(path)) from None
    kind = next((what for magic, what in BINARY_KINDS.items() if head.startswith(magic)), None)
    if kind is None and b"\x00" in head:
        kind = "binary data (it has NUL bytes)"
    if kind is not None:
        raise InputError(
            f"not a text file: this looks like {kind}; expected CSV text",
            file=str(path),
            line=1,
            column="#1",
        )
