"""Fraud scoring on the simulator's demo campaign (bots and a brushing ring injected; truth.json
lists their user ids): precision and recall ≥ 0.9, and the CLI around it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dacu.cli import app


@pytest.fixture(scope="module")
def sim(tmp_path_factory, examples_dir_module):
    from dacu.config import load_campaign
    from dacu.sim import simulate

    out = tmp_path_factory.mktemp("sim")
    simulate(
        load_campaign(examples_dir_module / "double11.yaml"),
        out=out,
        scale=0.3,
        seed=11,
        progress=False,
    )
    return out


@pytest.fixture(scope="module")
def examples_dir_module():
    from pathlib import Path

    return Path(__file__).resolve().parents[2] / "examples"


def test_demo_campaign_precision_and_recall(sim, examples_dir_module, tmp_path):
    flagged = tmp_path / "flagged.csv"
    result = CliRunner().invoke(
        app,
        [
            "analyze",
            "fraud",
            "score",
            "-e",
            str(sim / "events.parquet"),
            "-c",
            str(examples_dir_module / "double11.yaml"),
            "--truth",
            str(sim / "truth.json"),
            "--out",
            str(flagged),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["evaluation"]
    truth = json.loads((sim / "truth.json").read_text())
    injected = {
        u
        for i in truth["incidents"]
        if i["kind"] in ("coupon_bot", "brushing")
        for u in i["user_ids"]
    }
    assert report["true_positives"] + report["false_negatives"] == len(injected)
    assert report["precision"] >= 0.9 and report["recall"] >= 0.9
    lines = flagged.read_text().splitlines()
    assert lines[0].startswith("user_id,points,reasons_zh")
    assert len(lines) - 1 == report["true_positives"] + report["false_positives"]


def test_approve_is_a_dry_run_without_the_flag(tmp_path, examples_dir_module):
    csv = tmp_path / "f.csv"
    csv.write_text("user_id,points\nc1,9\nc2,4\n")
    result = CliRunner().invoke(
        app,
        ["analyze", "fraud", "approve", str(csv), "-c", str(examples_dir_module / "double11.yaml")],
    )
    assert result.exit_code == 0
    assert "dry run: would block 2 customers" in result.output and "c1, c2" in result.output


def test_approve_names_the_missing_column(tmp_path, examples_dir_module):
    csv = tmp_path / "f.csv"
    csv.write_text("customer,points\nc1,9\n")
    result = CliRunner().invoke(
        app,
        [
            "analyze",
            "fraud",
            "approve",
            str(csv),
            "-c",
            str(examples_dir_module / "double11.yaml"),
            "--approve",
        ],
    )
    assert result.exit_code != 0
    assert "f.csv:1: no column user_id" in str(result.exception or result.output)
