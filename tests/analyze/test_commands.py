"""`dacu analyze …` as a user runs it: the documented examples, their JSON, and one-line errors."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "analyze"


def dacu_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh interpreter (used once: start-up and the one-line error)."""
    return subprocess.run(
        [sys.executable, "-m", "dacu.cli", *args],
        capture_output=True,
        text=True,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
        check=False,
    )


def dacu(*args: str) -> subprocess.CompletedProcess[str]:
    """`dacu.cli.main()` in this process (argv, stdout and stderr swapped): the same code path
    as the installed command without paying an interpreter start per test."""
    from dacu import cli

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        mock.patch.object(sys, "argv", ["dacu", *args]),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def _line(text: str) -> str:
    """The error as one line (rich wraps long lines at the terminal width)."""
    return " ".join(text.split())


def test_attribution_on_a_path_export(tmp_path: Path) -> None:
    paths = tmp_path / "paths.csv"
    pd.DataFrame(
        {
            "path": ["A > B", "A", "B"],
            "total_conversions": [1, 0, 1],
            "total_conversion_value": [100.0, 0.0, 50.0],
            "total_null": [0, 1, 1],
        }
    ).to_csv(paths, index=False)
    spend = tmp_path / "spend.csv"
    spend.write_text("channel,spend\nA,100\nB,200\nB,100\n", encoding="utf-8")
    result = dacu(
        "analyze",
        "attribution",
        str(paths),
        "--path",
        "path",
        "--conversions",
        "total_conversions",
        "--value",
        "total_conversion_value",
        "--null",
        "total_null",
        "--sep",
        ">",
        "--spend",
        str(spend),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["last_touch"]["channels"]["B"]["roi"] == pytest.approx(150 / 300)
    # by hand (see test_attribution): removal effects A ⅓, B 1 → conversions 0.5 / 1.5
    assert out["markov"]["removal_effects"] == pytest.approx({"A": 1 / 3, "B": 1.0})
    assert out["markov"]["channels"]["A"]["conversions"] == pytest.approx(0.5)
    assert out["first_touch"]["channels"]["A"] == {"conversions": 1.0, "value": 100.0, "roi": 1.0}
    assert "time_decay" not in out  # no touch times in a path export


def test_attribution_bad_column_is_one_line(tmp_path: Path) -> None:
    paths = tmp_path / "paths.csv"
    paths.write_text("path,conv\nA>B,1\n", encoding="utf-8")
    result = dacu_process("analyze", "attribution", str(paths), "--conversions", "total")
    assert result.returncode == 2
    assert "column 'total': no column 'total' (columns are: path, conv)" in _line(result.stderr)
    assert "Traceback" not in result.stderr


def test_clv_on_cdnow_transactions(tmp_path: Path) -> None:
    raw = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer", "date", "units", "amount"],
        dtype={"date": str},
    )
    raw["date"] = pd.to_datetime(raw.date, format="%Y%m%d").dt.strftime("%Y-%m-%d")
    csv = tmp_path / "cdnow.csv"
    raw.to_csv(csv, index=False)
    predictions = tmp_path / "clv.csv"
    result = dacu(
        "analyze",
        "clv",
        str(csv),
        "--customer",
        "customer",
        "--date",
        "date",
        "--amount",
        "amount",
        "--calibration-end",
        "1997-09-30",
        "--freq",
        "W",
        "--predictions",
        str(predictions),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["customers"] == 2357
    assert f"{out['bgnbd']['r']:.3g}" == "0.243" and f"{out['bgnbd']['b']:.3g}" == "2.43"
    assert f"{out['pareto_nbd']['s']:.3g}" == "0.606"
    assert f"{out['gamma_gamma']['p']:.3g}" == "6.25"
    assert out["holdout"]["actual"] == 1882
    per = pd.read_csv(predictions)
    assert len(per) == 2357
    assert per.p_alive_bgnbd.between(0, 1).all()
    assert per.clv_fen.sum() == out["clv_total_fen"]
    assert set(per.rfm_segment) <= {
        "重要价值客户",
        "重要发展客户",
        "重要保持客户",
        "重要挽留客户",
        "一般价值客户",
        "一般发展客户",
        "一般保持客户",
        "一般挽留客户",
    }


def test_abtest_on_cookie_cats(shared_data: Path) -> None:
    result = dacu(
        "analyze",
        "abtest",
        str(shared_data / "cookie_cats_ab" / "cookie_cats.csv"),
        "--variant",
        "version",
        "--metric",
        "retention_7",
        "--control",
        "gate_30",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    comp = out["comparisons"]["gate_40"]
    assert out["kind"] == "proportion"
    assert comp["frequentist"]["p_value"] == pytest.approx(0.0016, abs=0.0001)
    assert comp["bayesian"]["prob_beat_control"] < 0.01
    assert out["srm"]["p_value"] == pytest.approx(0.0086, abs=0.0001)


def test_abtest_unknown_control(shared_data: Path) -> None:
    result = dacu(
        "analyze",
        "abtest",
        str(shared_data / "cookie_cats_ab" / "cookie_cats.csv"),
        "--variant",
        "version",
        "--metric",
        "retention_1",
        "--control",
        "gate_50",
    )
    assert result.returncode == 2
    assert "no variant 'gate_50' (variants: gate_30, gate_40)" in _line(result.stderr)


def test_sample_size_command() -> None:
    result = dacu("analyze", "sample-size", "--baseline", "0.1", "--mde", "0.1", "--daily", "2000")
    assert result.returncode == 0, result.stderr
    # 14,751 per variant (see test_abtest) × 2 / 2,000 per day → 15 days
    assert json.loads(result.stdout) == {"n_per_variant": 14751, "n_total": 29502, "days": 15}


def test_funnel_command_on_events_file(tmp_path: Path) -> None:
    ts = pd.Timestamp("2025-11-11 02:00", tz="UTC")
    events = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b", "c"],
            "ts": [
                ts,
                ts + pd.Timedelta(hours=1),
                ts + pd.Timedelta(hours=2),
                ts,
                ts + pd.Timedelta(hours=3),
                ts,
            ],
            "event": ["pv", "cart", "pay", "pv", "cart", "pv"],
            "channel": ["search_ads"] * 3 + ["content"] * 3,
        }
    )
    file = tmp_path / "events.parquet"
    events.to_parquet(file)
    result = dacu(
        "analyze", "funnel", "--events", str(file), "--steps", "pv,cart,pay", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    (cell,) = json.loads(result.stdout)
    # 3 pv users → 2 cart (⅔) → 1 pay (½): the bottleneck is pay; hours pv→cart (1 + 3) / 2 = 2
    assert [s["users"] for s in cell["steps"]] == [3, 2, 1]
    assert cell["bottleneck"] == "pay" and cell["bottleneck_zh"] == "支付"
    assert cell["steps"][1]["hours_from_previous"] == pytest.approx(2.0)


def test_recall_command_writes_the_list(tmp_path: Path) -> None:
    orders = pd.DataFrame(
        {
            "buyer": ["a", "b", "c", "a"],
            "paid_at": ["2025-01-05", "2025-08-01", "2025-10-20", "2025-06-01"],
            "paid": [120.5, 80, 50, 30],
        }
    )
    csv = tmp_path / "orders.csv"
    orders.to_csv(csv, index=False)
    out = tmp_path / "recall.csv"
    result = dacu(
        "analyze",
        "recall",
        str(csv),
        "--customer",
        "buyer",
        "--date",
        "paid_at",
        "--amount",
        "paid",
        "--as-of",
        "2025-11-01",
        "--start",
        "2025-11-03T23:30",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    rows = pd.read_csv(out)
    # as of 11-01: a last bought 06-01 (153 days, 流失预警, ¥150.50), b 08-01 (92 days, 流失预警,
    # ¥80); c bought 12 days ago (active, not listed). 23:30 is quiet → first send 08:00 next day.
    assert rows.customer_id.tolist() == ["a", "b"]
    assert rows.total_fen.tolist() == [15050, 8000]
    assert rows.band.tolist() == ["流失预警", "流失预警"]
    assert rows.send_at.iloc[0] == "2025-11-04T08:00:00+08:00"


def test_attribution_from_the_warehouse(tmp_path: Path) -> None:
    import pyarrow as pa

    from dacu.warehouse import open_warehouse

    ts = pd.Timestamp("2025-11-10 12:00", tz="UTC")
    hour = pd.Timedelta(hours=1)
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(7)],
            "ts": [
                ts,
                ts + hour,
                ts + 2 * hour,
                ts,
                ts + hour,
                ts - pd.Timedelta(days=60),
                ts + 2 * hour,
            ],
            "user_id": ["u1", "u1", "u1", "u2", "u2", "u3", "u3"],
            "event": ["impression", "click", "pay", "click", "cart", "click", "pay"],
            "channel": ["content", "search_ads", "search_ads", "sms", None, "sms", "direct"],
            "amount_fen": [None, None, 29_900, None, None, None, 10_000],
        }
    )
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = open_warehouse(url)
    wh.append_events(pa.Table.from_pandas(events, preserve_index=False))
    wh.load_reference(
        "spend",
        pa.table(
            {
                "hour": pa.array([ts.to_pydatetime()] * 2, pa.timestamp("us", tz="UTC")),
                "channel": ["content", "search_ads"],
                "spend_fen": [10_000, 20_000],
            }
        ),
    )
    wh.close()
    result = dacu(
        "analyze",
        "attribution",
        "--from-warehouse",
        "-w",
        url,
        "--lookback-days",
        "30",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    # u1: content → search_ads → pay ¥299 (one conversion); u2: sms, no pay (a null journey);
    # u3's sms click is 60 days before its pay: outside the 30-day lookback, so no path.
    linear = out["linear"]["channels"]
    assert linear["content"] == {"conversions": 0.5, "value": 14_950.0, "roi": 1.495}
    assert linear["search_ads"]["roi"] == pytest.approx(14_950 / 20_000)
    assert linear["sms"]["conversions"] == 0.0
    # time decay, half-life 7 days: ages 1 h and 0 h → weights 2^(−1/168) and 1
    w = 2 ** (-1 / 168)
    assert out["time_decay"]["channels"]["content"]["conversions"] == pytest.approx(w / (1 + w))


def test_recall_outcome_command(tmp_path: Path) -> None:
    (tmp_path / "sent.csv").write_text(
        "customer_id,band,send_at\na,沉睡客户,2025-11-04T08:00:00+08:00\n"
        "b,流失预警,2025-11-04T08:00:00+08:00\n",
        encoding="utf-8",
    )
    (tmp_path / "orders.csv").write_text(
        "buyer,paid_at,paid\na,2025-11-05 20:00,199\nb,2025-12-30 10:00,50\n", encoding="utf-8"
    )
    result = dacu(
        "analyze",
        "recall-outcome",
        str(tmp_path / "sent.csv"),
        "--purchases",
        str(tmp_path / "orders.csv"),
        "--customer",
        "buyer",
        "--date",
        "paid_at",
        "--amount",
        "paid",
        "--cost-per-message",
        "0.5",
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    # a bought a day after the message (recalled, ¥199); b only 56 days later (outside 14 days)
    assert (out["contacted"], out["recalled"], out["recall_rate"]) == (2, 1, 0.5)
    assert out["roi"] == pytest.approx(199 / 1.0)
