"""A small simulated Double 11 (dacu.sim, scale 0.08, the demo's incidents) for the served-path
tests: the scaled campaign, the SKU table, spend, and the peak day's events split from the days
before (which a live monitor backfills)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dacu.config import Campaign, Phase, load_campaign
from dacu.demo import EXAMPLE, write_scaled_campaign


@dataclass
class PeakDay:
    campaign: Campaign
    campaign_path: Path
    sim: Path
    skus: list[dict]
    spend: pa.Table
    earlier: pa.Table  # the campaign's events before the peak day
    day: pa.Table  # the peak day's events, in time order
    truth: dict

    def day_until(self, moment: datetime) -> pa.Table:
        return self.day.filter(pc.less(self.day["ts"], moment))


def build(out: Path, *, scale: float = 0.08, seed: int = 11) -> PeakDay:
    from dacu.sim import simulate

    original = load_campaign(EXAMPLE)
    sim = out / "sim"
    simulate(original, out=sim, scale=scale, seed=seed, progress=False)
    truth = json.loads((sim / "truth.json").read_text(encoding="utf-8"))
    path = out / "campaign.yaml"
    write_scaled_campaign(EXAMPLE, path, float(truth["sizing"]["store_fraction"]))
    campaign = load_campaign(path)
    window = campaign.phase_window(Phase.BURST) or campaign.phases[0]
    events = pq.read_table(sim / "events.parquet")
    ts = events["ts"]
    earlier = events.filter(
        pc.and_(pc.greater_equal(ts, campaign.start), pc.less(ts, window.start))
    )
    day = events.filter(pc.and_(pc.greater_equal(ts, window.start), pc.less(ts, window.end)))
    return PeakDay(
        campaign,
        path,
        sim,
        pq.read_table(sim / "skus.parquet").to_pylist(),
        pq.read_table(sim / "spend.parquet"),
        earlier,
        day.sort_by("ts"),
        truth,
    )


def records(table: pa.Table) -> list[dict]:
    """Events as a client POSTs them (ISO times, no nulls)."""
    rows = table.to_pylist()
    for row in rows:
        row["ts"] = row["ts"].isoformat()
        for key in [k for k, v in row.items() if v is None]:
            del row[key]
    return rows


def spend_rows(spend: pa.Table, until: datetime, *, since: datetime | None = None) -> list[dict]:
    """The ad platforms' hourly spend in [since, until), as the spend feed POSTs it."""
    keep = pc.less(spend["hour"], until)
    if since is not None:
        keep = pc.and_(keep, pc.greater_equal(spend["hour"], since))
    rows = spend.filter(keep).select(["hour", "channel", "spend_fen"])
    return [{**r, "hour": r["hour"].isoformat()} for r in rows.to_pylist()]


def make_plan(peak: PeakDay, folder: Path):
    """The campaign's plan from the simulated history (`dacu plan build`), as the monitor reads it."""
    from dacu.monitor.pacing import load_plan
    from dacu.plan import read_sim_dir, write_plan

    write_plan(peak.campaign, folder, read_sim_dir(peak.sim, peak.campaign))
    return load_plan(folder / "plan.json", tz=peak.campaign.timezone)
