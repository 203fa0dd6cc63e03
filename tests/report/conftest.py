"""One small simulated campaign (known truth), loaded into a DuckDB warehouse, reviewed once."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT

NOTE = "切换备用支付通道后恢复"  # the first alert's resolution note (test_outputs)
RIVALS = "name,gmv,orders,asp,repurchase\n竞品A,12.5万,400,312.5,25%\n竞品B,30000,90,333.33,0.18\n"


@pytest.fixture(scope="session")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from dacu.config import load_campaign
    from dacu.report.commands import write_review
    from dacu.report.competitors import load_competitors
    from dacu.sim import simulate
    from dacu.warehouse import open_warehouse

    root = tmp_path_factory.mktemp("review")
    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    simulate(campaign, out=root / "sim", scale=0.02, seed=11, progress=False, days_before=30)
    url = f"duckdb:///{root / 'w.duckdb'}"
    wh = open_warehouse(url)
    try:
        wh.append_events(pq.read_table(root / "sim" / "events.parquet"))
        for name in ("spend", "skus", "customers"):
            wh.load_reference(name, pq.read_table(root / "sim" / f"{name}.parquet"))
    finally:
        wh.close()
    (root / "rivals.csv").write_text(RIVALS, encoding="utf-8")
    alerts = [
        {
            "severity": "red",
            "status": "resolved",
            "opened_at": "2026-11-11T20:00:00+08:00",
            "acked_at": "2026-11-11T20:04:00+08:00",
            "acked_by": "王五",
            "resolved_at": "2026-11-11T20:30:00+08:00",
            "resolved_by": "李四",
            "resolution_note": NOTE,
        },
        {
            "severity": "red",
            "status": "resolved",
            "opened_at": "2026-11-11T21:00:00+08:00",
            "acked_at": "2026-11-11T21:10:00+08:00",
            "resolved_at": "2026-11-11T22:00:00+08:00",
        },
        {"severity": "yellow", "status": "open", "opened_at": "2026-11-11T10:00:00+08:00"},
    ]
    write_review(
        campaign, url, root / "out", rivals=load_competitors(root / "rivals.csv"), alerts=alerts
    )
    return {
        "campaign": campaign,
        "root": root,
        "sim": root / "sim",
        "out": root / "out",
        "url": url,
    }


def sim_dir(reviewed: dict) -> Path:
    return reviewed["sim"]
