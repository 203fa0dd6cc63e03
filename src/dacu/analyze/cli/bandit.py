"""`dacu analyze bandit`: traffic shares for creatives (Thompson sampling, UCB1), or a simulation."""

from __future__ import annotations

from pathlib import Path

import typer

from dacu.analyze.cli_io import emit_json
from dacu.errors import InputError


def bandit_cmd(
    arms_file: Path = typer.Argument(None, help="CSV: one row per arm (creative, coupon variant)."),
    arm: str = typer.Option("arm", "--arm", help="Arm name column."),
    trials: str = typer.Option("shows", "--trials", help="Column: shows / sends so far."),
    successes: str = typer.Option("clicks", "--successes", help="Column: clicks / redemptions."),
    policy: str = typer.Option("thompson", "--policy", help="thompson or ucb1."),
    drop_below: float = typer.Option(
        0.01,
        "--drop-below",
        help="Thompson: drop arms whose probability of being best is below this.",
    ),
    simulate_rates: str = typer.Option(
        None,
        "--simulate",
        help="Instead: simulate a week of "
        "4-hour batches with these true rates, e.g. 0.04,0.05,0.07.",
    ),
    batch_size: int = typer.Option(2000, "--batch-size", help="Units per batch (simulation)."),
) -> None:
    """多臂老虎机 Bandit: next batch's traffic split for creatives / coupon variants.

    Run it every 4 hours on the counts so far ("drop the losers"); --simulate compares the
    policies' regret against a fixed split on known rates.

    Examples: dacu analyze bandit creatives.csv --arm creative_id --trials shows --successes clicks
              dacu analyze bandit --simulate 0.04,0.05,0.055,0.07
    """
    from dacu.analyze.bandit import POLICIES, ArmStats, simulate, thompson_shares, ucb1_shares

    if simulate_rates:
        rates = [float(r) for r in simulate_rates.split(",")]
        results = {p: simulate(p, rates, batch_size=batch_size) for p in POLICIES}
        emit_json(
            {
                p: {
                    "regret": r.regret,
                    "successes": r.successes,
                    "units": r.units,
                    "final_shares": r.final_shares,
                }
                for p, r in results.items()
            }
        )
        return
    if arms_file is None:
        raise InputError("give an ARMS.csv file or --simulate RATES")
    from dacu.analyze.cli_io import read_table

    frame = read_table(arms_file, [arm, trials, successes])
    arms = [ArmStats(str(r[arm]), int(r[trials]), int(r[successes])) for _, r in frame.iterrows()]
    if policy == "thompson":
        shares = thompson_shares(arms, drop_below=drop_below)
    elif policy == "ucb1":
        shares = ucb1_shares(arms)
    else:
        raise InputError(f"--policy: expected thompson or ucb1, got {policy!r}")
    emit_json(
        {
            "policy": policy,
            "next_shares": shares,
            "dropped": [a for a, s in shares.items() if s == 0],
        }
    )


def register(app: typer.Typer) -> None:
    app.command("bandit")(bandit_cmd)
