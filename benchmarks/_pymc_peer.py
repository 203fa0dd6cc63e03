"""Peer for `benchmarks/plan.py`: pymc-marketing's MMM (NUTS) on its own example data set.

Runs ONLY inside a separate venv with pymc-marketing installed (PyMC and PyTensor are no dacu
dependency): benchmarks/plan.py starts it as a subprocess in .bench/pymc-venv, which
benchmarks/_peers.py sets up from PyPI on first use. Argument: the path of mmm_example.csv.
Prints one JSON object: the posterior means of α and λ per channel, the channels' contributions
and the fit time in seconds.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import pandas as pd


def main(path: str) -> None:
    warnings.filterwarnings("ignore")
    from pymc_marketing.mmm import MMM, GeometricAdstock, LogisticSaturation

    frame = pd.read_csv(path)
    data = frame.assign(date_week=pd.to_datetime(frame["date_week"]))
    mmm = MMM(
        adstock=GeometricAdstock(l_max=8),
        saturation=LogisticSaturation(),
        date_column="date_week",
        channel_columns=["x1", "x2"],
        control_columns=["event_1", "event_2", "t"],
        yearly_seasonality=2,
    )
    began = time.perf_counter()
    mmm.fit(
        data.drop(columns=["y"]),
        data["y"],
        chains=2,
        draws=300,
        tune=300,
        cores=2,
        progressbar=False,
        random_seed=1,
    )
    seconds = time.perf_counter() - began
    post = mmm.idata.posterior
    alpha = post["adstock_alpha"].mean(("chain", "draw")).values
    lam = post["saturation_lam"].mean(("chain", "draw")).values
    contrib = (
        mmm.compute_channel_contribution_original_scale().sum("date").mean(("chain", "draw")).values
    )
    print(
        json.dumps(
            {
                "alpha": [float(a) for a in alpha],
                "lam": [float(v) for v in lam],
                "contribution": [float(c) for c in contrib],
                "seconds": seconds,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
