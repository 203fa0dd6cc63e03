"""Customer journeys (paths) as compact arrays: the input of every attribution model.

A `PathSummary` holds one row per distinct path (or per journey) with how many journeys took it and
converted (`conversions`), how much value they brought (`value`, in the unit of the input: yuan in a
CSV export, fen from the warehouse) and how many did not convert (`nulls`). Touches are stored
flattened (`touches`, channel codes) with `offsets` marking where each path starts, so models run on
NumPy arrays without Python loops over paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dacu.errors import InputError


@dataclass(frozen=True)
class PathSummary:
    """Distinct paths with their outcome counts.

    channels: channel names; `touches` holds indexes into it.
    touches: int32 channel code of every touch, path after path, in time order.
    offsets: int64, len n_paths + 1; path i is touches[offsets[i]:offsets[i+1]].
    conversions, value, nulls: float64 per path (counts may be weights, e.g. 0.5).
    ages_days: optional float64 per touch, days from the touch to the conversion (or journey end);
        needed only by the time-decay model.
    """

    channels: tuple[str, ...]
    touches: np.ndarray
    offsets: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    ages_days: np.ndarray | None = None

    @property
    def n_paths(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def path_of_touch(self) -> np.ndarray:
        """Index of the path each touch belongs to."""
        return np.repeat(np.arange(self.n_paths), self.lengths)

    def path_strings(self, sep: str = ">") -> list[str]:
        names = np.asarray(self.channels, dtype=object)[self.touches]
        return [
            sep.join(names[a:b]) for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)
        ]


def from_strings(
    paths: Sequence[str],
    conversions: Sequence[float],
    value: Sequence[float] | None = None,
    nulls: Sequence[float] | None = None,
    *,
    sep: str = ">",
    source: str | None = None,
) -> PathSummary:
    """Build a `PathSummary` from path texts such as "search_ads > content > private".

    Channel names are stripped of surrounding spaces. Empty paths are refused (an error names the
    row, counted from 1 as in a spreadsheet after the header: line = row + 2).
    """
    series = pd.Series(list(paths), dtype=object)
    n = len(series)
    conv = _numbers(conversions, n, "conversions", source)
    val = _numbers(value, n, "value", source) if value is not None else np.zeros(n)
    nul = _numbers(nulls, n, "null", source) if nulls is not None else np.zeros(n)
    bad = series.isna() | (series.astype(str).str.strip() == "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"empty path (expected channels separated by {sep!r}, e.g. 'search_ads{sep}content')",
            file=source,
            line=row + 2,
            column="path",
        )
    lists = pc.split_pattern(pa.array(series.astype(str), type=pa.string()), sep)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    names = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    empty = pc.equal(names, "").to_numpy(zero_copy_only=False)
    if empty.any():
        row = int(np.repeat(np.arange(n), lengths)[np.flatnonzero(empty)[0]])
        raise InputError(
            f"empty channel name in path {series.iloc[row]!r}",
            file=source,
            line=row + 2,
            column="path",
        )
    encoded = pc.dictionary_encode(names)
    found = encoded.dictionary.to_pylist()
    channels = sorted(found)
    remap = np.array([channels.index(u) for u in found], dtype=np.int32)
    codes = remap[encoded.indices.to_numpy(zero_copy_only=False)]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return PathSummary(tuple(channels), codes, offsets, conv, val, nul)


def from_lists(
    paths: Sequence[Sequence[str]],
    conversions: Sequence[float],
    value: Sequence[float] | None = None,
    nulls: Sequence[float] | None = None,
    ages_days: Sequence[Sequence[float]] | None = None,
) -> PathSummary:
    """Build a `PathSummary` from lists of channel names (and optionally touch ages in days)."""
    if any(len(p) == 0 for p in paths):
        raise InputError("every path needs at least one touch")
    n = len(paths)
    lengths = np.array([len(p) for p in paths], dtype=np.int64)
    flat = np.array([c for p in paths for c in p], dtype=object)
    codes, uniques = pd.factorize(flat, sort=True)
    ages = None
    if ages_days is not None:
        ages = np.array([a for path in ages_days for a in path], dtype=np.float64)
        if len(ages) != len(flat):
            raise InputError("ages_days must give one age per touch")
    return PathSummary(
        tuple(str(u) for u in uniques),
        codes.astype(np.int32),
        np.concatenate([[0], np.cumsum(lengths)]),
        _numbers(conversions, n, "conversions", None),
        _numbers(value, n, "value", None) if value is not None else np.zeros(n),
        _numbers(nulls, n, "null", None) if nulls is not None else np.zeros(n),
        ages,
    )


def from_journeys(journeys: pd.DataFrame, sep: str = ">") -> PathSummary:
    """A `PathSummary` (one row per journey, with touch ages) from the result of
    `dacu.metrics.paths.journeys` (columns path, ages_days, converted, value_fen)."""
    if journeys.empty:
        raise InputError("no journeys (no impression/click events with a channel)")
    converted = journeys.converted.to_numpy(dtype=np.float64)
    summary = from_strings(
        journeys.path, converted, journeys.value_fen.to_numpy(np.float64), 1.0 - converted, sep=sep
    )
    ages = np.concatenate([np.asarray(a, dtype=np.float64) for a in journeys.ages_days])
    if len(ages) != len(summary.touches):
        raise InputError("ages_days must give one age per touch of the path")
    return replace(summary, ages_days=ages)


def _numbers(values: Sequence[float], n: int, column: str, source: str | None) -> np.ndarray:
    numeric = pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce")
    if len(numeric) != n:
        raise InputError(f"{len(numeric)} values for {n} paths", file=source, column=column)
    bad = numeric.isna() | (numeric < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"expected a number ≥ 0, got {np.asarray(values)[row]!r}",
            file=source,
            line=row + 2,
            column=column,
        )
    return numeric.to_numpy(dtype=np.float64)


@dataclass(frozen=True)
class Credit:
    """Conversions and value credited to each channel by one model."""

    model: str
    channels: tuple[str, ...]
    conversions: np.ndarray
    value: np.ndarray
    removal_effects: np.ndarray | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def as_dict(self, spend: Mapping[str, float] | None = None) -> dict[str, object]:
        """JSON shape: {channel: {conversions, value[, roi]}} and removal_effects for Markov."""
        out: dict[str, object] = {}
        for i, ch in enumerate(self.channels):
            row: dict[str, float | None] = {
                "conversions": float(self.conversions[i]),
                "value": float(self.value[i]),
            }
            if spend is not None:
                cost = spend.get(ch)
                row["roi"] = float(self.value[i]) / cost if cost else None
            out[ch] = row
        result: dict[str, object] = {"channels": out}
        if self.removal_effects is not None:
            result["removal_effects"] = {
                ch: float(r) for ch, r in zip(self.channels, self.removal_effects, strict=True)
            }
        result.update(self.extra)
        return result
