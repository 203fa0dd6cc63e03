"""The campaign world simulator: a deterministic (seeded) store with known answers.

    from dacu.sim import simulate, simulate_day
    result = simulate(campaign, out=Path("sim"), scale=1.0, seed=7)   # files + truth.json
    day = simulate_day(campaign, incidents=["pay_failure@20:00:search_ads"])  # in memory
    for case in incident_cases(campaign, n=60): ...   # RCA evaluation, one incident each

See docs/sim.md for the model and the files.
"""

from dacu.sim.engine import DayResult, SimResult, incident_cases, simulate, simulate_day
from dacu.sim.incidents import (
    KINDS,
    Incident,
    demo_incidents,
    parse_incident,
    random_incidents,
)
from dacu.sim.world import scale_for_store

__all__ = [
    "KINDS",
    "DayResult",
    "Incident",
    "SimResult",
    "demo_incidents",
    "incident_cases",
    "parse_incident",
    "random_incidents",
    "scale_for_store",
    "simulate",
    "simulate_day",
]
