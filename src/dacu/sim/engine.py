"""`simulate` (whole window → files) and `simulate_day` (one day in memory, for RCA tests)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dacu.config import Campaign
from dacu.errors import ConfigError
from dacu.events import CUSTOMER_SCHEMA, EVENT_SCHEMA, SPEND_SCHEMA
from dacu.sim.catalogue import sku_table
from dacu.sim.customers import REGIONS, TIERS, tier_of
from dacu.sim.day import SimState, generate_day, new_state
from dacu.sim.incidents import Incident, demo_incidents, parse_incident, random_incidents
from dacu.sim.truth import STOCK_FILE, build_truth, write_stock_counts
from dacu.sim.world import EVENTS_PER_SESSION, World, build_world

ROW_GROUP = 500_000
CHUNK_EVENTS = 2_000_000


@dataclass(frozen=True)
class SimResult:
    out: Path
    events: int
    seconds: float
    truth: dict

    @property
    def paths(self) -> dict[str, Path]:
        return {
            name: self.out / f"{name}.parquet" for name in ("events", "spend", "skus", "customers")
        } | {"truth": self.out / "truth.json"}


@dataclass(frozen=True)
class DayResult:
    """One simulated day. `baselines`: the same day of the same world without the incident,
    each with its own noise (filled by `incident_cases(baselines=N)`): an honest forecast."""

    events: pa.Table
    spend: pa.Table
    skus: pa.Table
    truth: dict
    baselines: tuple[pa.Table, ...] = ()


def resolve_incidents(
    campaign: Campaign, world: World, incidents: Iterable[Incident | str] | None
) -> list[Incident]:
    """None → the demo set; strings are parsed (KIND@TIME[+MINUTESm][:TARGET])."""
    if incidents is None:
        return demo_incidents(campaign, world.catalogue.sku_ids)
    out = []
    for item in incidents:
        if isinstance(item, str):
            item = parse_incident(item, campaign, world.catalogue.sku_ids)
        if item.sku is not None and world.sku_index(item.sku) < 0:
            raise ConfigError(
                f"incident {item.kind}: unknown SKU {item.sku!r} "
                f"(e.g. {world.catalogue.sku_ids[0]})"
            )
        first, last = world.days[0].day, world.days[-1].day
        if not first <= item.start.astimezone(campaign.tz).date() <= last:
            raise ConfigError(
                f"incident {item.kind}@{item.start:%Y-%m-%dT%H:%M}: outside the "
                f"simulated days {first} … {last}"
            )
        out.append(item)
    return out


class _Buffered:
    """A streaming Parquet writer that groups small daily tables into large row groups."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")
        self.parts: list[pa.Table] = []
        self.rows = 0
        self.total = 0

    def write(self, table: pa.Table) -> None:
        self.parts.append(table)
        self.rows += table.num_rows
        self.total += table.num_rows
        if self.rows >= ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.writer.write_table(pa.concat_tables(self.parts), row_group_size=ROW_GROUP)
        self.parts, self.rows = [], 0

    def close(self) -> None:
        self.flush()
        self.writer.close()


def simulate(
    campaign: Campaign,
    *,
    out: Path,
    scale: float = 1.0,
    seed: int = 7,
    incidents: Iterable[Incident | str] | None = None,
    progress: bool = True,
    days_before: int | None = None,
) -> SimResult:
    """Simulate history + campaign; write events/spend/skus/customers parquet and truth.json."""
    if not 0 < scale <= 1000:
        raise ConfigError(f"--scale {scale}: expected a number above 0 (1.0 ≈ 2 million events)")
    began = time.perf_counter()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    world = build_world(campaign, scale=scale, seed=seed, days_before=days_before)
    chosen = resolve_incidents(campaign, world, incidents)
    state = new_state(world)
    events = _Buffered(out / "events.parquet", EVENT_SCHEMA)
    spend = _Buffered(out / "spend.parquet", SPEND_SCHEMA)
    try:
        for day in _progress(world, progress):
            for key, hours in _chunks(world, day.index):
                rng = np.random.default_rng([seed, 1, day.index, *key])
                table, spend_table = generate_day(world, state, day, chosen, rng, hours)
                events.write(table)
                spend.write(spend_table)
    finally:
        events.close()
        spend.close()
    pq.write_table(
        sku_table(world.catalogue, world.category_ids, world.listed_stock()), out / "skus.parquet"
    )
    pq.write_table(customer_table(world, state), out / "customers.parquet")
    seconds = time.perf_counter() - began
    truth = build_truth(world, state, chosen, events=events.total, seconds=seconds)
    (out / "truth.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    write_stock_counts(truth, out / STOCK_FILE)
    return SimResult(out, events.total, seconds, truth)


def _chunks(world: World, day_index: int) -> list[tuple[tuple[int, ...], tuple[int, int]]]:
    """A day is generated whole unless it is big: then in runs of hours of ≈ CHUNK_EVENTS,
    so memory stays flat at any scale. Returns (rng key suffix, (first hour, end hour))."""
    expected = world.visits[:, day_index].sum() * EVENTS_PER_SESSION
    count = min(24, int(np.ceil(expected / CHUNK_EVENTS)))
    if count <= 1:
        return [((), (0, 24))]
    parts = np.array_split(np.arange(24), count)
    return [((k,), (int(p[0]), int(p[-1]) + 1)) for k, p in enumerate(parts)]


def _progress(world: World, show: bool):
    if not show:
        yield from world.days
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("模拟 simulating days", total=len(world.days))
        for day in world.days:
            yield day
            bar.advance(task)


def customer_table(world: World, state: SimState) -> pa.Table:
    """customers.parquet: id, first purchase, member tier at the campaign's start, region."""
    arrays = world.book.arrays()
    n = len(arrays["first_purchase"])
    ids = np.arange(n, dtype=np.int64)
    campaign_start = int(world.day_starts[[d.in_campaign for d in world.days]].min())
    before = arrays["first_purchase"] < campaign_start
    repeats = (
        np.concatenate(state.repeat_before_campaign)
        if state.repeat_before_campaign
        else np.zeros(0, np.int64)
    )
    count = arrays["prior"] + before + np.bincount(repeats, minlength=n)[:n]
    tier = np.where(before, tier_of(count), 0)
    region = world.book.profile()[1]
    return pa.table(
        {
            "user_id": pc.binary_join_element_wise("c", pa.array(ids).cast(pa.string()), ""),
            "first_purchase": pa.array(arrays["first_purchase"]).cast(pa.timestamp("us", tz="UTC")),
            "member_tier": pa.DictionaryArray.from_arrays(
                pa.array(tier, pa.int32()), pa.array(TIERS)
            ).cast(pa.string()),
            "region": pa.DictionaryArray.from_arrays(
                pa.array(region, pa.int32()), pa.array(REGIONS)
            ).cast(pa.string()),
        },
        schema=CUSTOMER_SCHEMA,
    )


def simulate_day(
    campaign: Campaign,
    day: date | None = None,
    *,
    scale: float = 0.1,
    seed: int = 7,
    incidents: Iterable[Incident | str] = (),
    noise_seed: int | None = None,
    hours: tuple[int, int] = (0, 24),
) -> DayResult:
    """One day (default: the burst day) of a small world with no history, in memory.

    `seed` fixes the world (channels, catalogue, customers, curves); `noise_seed` (default: the
    same as `seed`) draws the day's visits, baskets and payments. Two calls with the same `seed`
    and different `noise_seed` are two days of the same shop with independent noise.
    `hours` (local, [first, end)) limits the day to a window of hours, e.g. an incident's.
    Cheap (well under a second at the default scale): for generating many incident cases.
    """
    world = build_world(campaign, scale=scale, seed=seed, days_before=0)
    return _run_day(
        world,
        day or campaign.peak_day,
        incidents,
        seed if noise_seed is None else noise_seed,
        hours,
    )


def _run_day(
    world: World,
    wanted: date,
    incidents: Iterable[Incident | str],
    noise_seed: int,
    hours: tuple[int, int],
) -> DayResult:
    campaign = world.campaign
    chosen = resolve_incidents(campaign, world, incidents)
    info = next((d for d in world.days if d.day == wanted), None)
    if info is None:
        raise ConfigError(f"simulate_day: {wanted} is not a day of campaign {campaign.id}")
    state = new_state(world)
    rng = np.random.default_rng([noise_seed, 1, info.index])
    events, spend = generate_day(world, state, info, chosen, rng, hours)
    truth = {
        "day": wanted.isoformat(),
        "store_fraction": world.fraction,
        "incidents": [_with_actors(inc, state, k).truth() for k, inc in enumerate(chosen)],
    }
    return DayResult(
        events, spend, sku_table(world.catalogue, world.category_ids, world.listed_stock()), truth
    )


NOISE_OFFSET = 1_000_003  # baseline noise seeds: far from every world seed used for cases


def incident_cases(
    campaign: Campaign, n: int = 60, *, seed: int = 0, scale: float = 0.2, baselines: int = 0
) -> Iterator[DayResult]:
    """`n` one-day worlds, each with one random incident (varied kind, channel, category, SKU,
    day and hour), for evaluating root-cause analysis: `result.truth["incidents"][0]` is the
    answer. About 0.1 s and 10 k events a case at the default scale.

    `baselines=N` adds N incident-free simulations of the same world (same world seed) over the
    same hours, each with its own noise seed, as `result.baselines`: the forecast an RCA compares
    the incident window with. They share nothing with the incident day but the world. With
    baselines, only the hours of the incident window are simulated (the day up to its end),
    which makes a larger `scale` affordable."""
    world = build_world(campaign, scale=scale, seed=seed, days_before=0)
    for index, incident in enumerate(random_incidents(campaign, world.catalogue.sku_ids, n, seed)):
        day = incident.start.astimezone(campaign.tz).date()
        if not baselines:
            yield simulate_day(campaign, day, scale=scale, seed=seed + index, incidents=[incident])
            continue
        hours = _window_hours(incident, campaign)
        case = _run_day(copy.deepcopy(world), day, [incident], seed + index, hours)
        runs = tuple(
            _run_day(
                copy.deepcopy(world), day, [], NOISE_OFFSET + (seed + index) * 97 + k, hours
            ).events
            for k in range(baselines)
        )
        yield replace(case, baselines=runs)


def _window_hours(incident: Incident, campaign: Campaign) -> tuple[int, int]:
    """Local hours [first, end) of the incident's day that its window covers."""
    start, end = incident.start.astimezone(campaign.tz), incident.end.astimezone(campaign.tz)
    last = 24 if end.date() > start.date() else end.hour + (end.minute > 0)
    return start.hour, max(last, start.hour + 1)


def _with_actors(incident: Incident, state: SimState, index: int) -> Incident:
    actors = state.actors.get(index)
    if not actors:
        return incident
    return incident.with_actors(actors["user_ids"], actors["order_ids"], actors["devices"])
