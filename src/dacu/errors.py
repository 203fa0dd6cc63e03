"""The dacu error hierarchy: every message says what was wrong, where, and what was expected.

The CLI prints a `DacuError` as one red line without a traceback (`--debug` shows one).
"""

from __future__ import annotations


class DacuError(Exception):
    """Base of every error dacu raises on purpose."""


class ConfigError(DacuError):
    """A campaign file (or another YAML/JSON input) is invalid: names the key path and line."""


class MoneyError(DacuError, ValueError):
    """A text or number that is not a valid amount of money."""


class InputError(DacuError):
    """A data file (CSV, Excel, JSON) has bad content: names the file, line and column."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                file,
                f"line {line}" if line is not None else None,
                f"column {column!r}" if column else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.line, self.column, self.reason = file, line, column, message


class WarehouseError(DacuError):
    """The warehouse cannot be opened or a load failed (nothing was written)."""


class StoreError(DacuError):
    """The coupon/flash-sale store cannot be reached or is inconsistent."""
