"""Sentiment: lexicon, topics, post import (CSV/GBK/JSON, errors), bursts, the risk watch."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from math import exp, factorial
from zoneinfo import ZoneInfo

import pytest

from dacu.analyze.sentiment import lexicon_score, tokenize, topic_keywords, topics_of
from dacu.analyze.sentiment.burst import BurstSettings, ScoredPost, detect_bursts
from dacu.analyze.sentiment.data import read_posts
from dacu.errors import InputError

SH = ZoneInfo("Asia/Shanghai")


def test_lexicon_reads_negation():
    assert lexicon_score(tokenize("质量很好，很满意")) > 0
    assert lexicon_score(tokenize("发货太慢了，很失望")) < 0
    assert lexicon_score(tokenize("一点也不满意")) < 0  # 不 flips 满意
    assert lexicon_score(tokenize("今天下午三点")) == 0


def test_topics_include_the_campaign_watch_keywords():
    topics = topic_keywords(["优惠失效", "天猫bug"])
    assert topics_of("优惠失效了，快递也没到", topics) == ["物流/发货", "优惠/价格", "优惠失效"]
    assert topics_of("天猫BUG付款失败", topics) == ["系统bug", "天猫bug"]
    assert topics_of("今天天气不错", topics) == []


def test_posts_from_csv_gbk_and_json(tmp_path):
    rows = "时间,来源,内容,作者\n2026-11-11 20:05,微博,发货太慢了,小王\n2026/11/11 20:06,小红书,好评,李\n"
    utf = tmp_path / "a.csv"
    utf.write_text(rows, encoding="utf-8-sig")
    gbk = tmp_path / "b.csv"
    gbk.write_bytes(rows.encode("gbk"))
    js = tmp_path / "c.json"
    js.write_text(
        json.dumps(
            [
                {
                    "time": "2026-11-11T20:05:00+08:00",
                    "source": "微博",
                    "text": "发货太慢了",
                    "author": "小王",
                }
            ],
            ensure_ascii=False,
        )
    )
    for path in (utf, gbk):
        posts = read_posts(path)
        assert [p.text for p in posts] == ["发货太慢了", "好评"]
        assert posts[0].time == datetime(2026, 11, 11, 20, 5, tzinfo=SH)
        assert posts[1].source == "小红书"
    assert read_posts(js)[0].time == datetime(2026, 11, 11, 20, 5, tzinfo=SH)


def test_bad_posts_name_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,source,text,author\n2026-11-11 20:05,微博,ok,a\nyesterday,微博,坏了,b\n")
    with pytest.raises(InputError, match=r"bad.csv:3: field time 'yesterday' is not a time"):
        read_posts(bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"time": "2026-11-11 20:05", "text": "好"}\n{"time": "2026-11-11 20:06"}\n')
    with pytest.raises(InputError, match=r"empty.jsonl:2: field text is empty"):
        read_posts(empty)
    header = tmp_path / "h.csv"
    header.write_text("when,body\n1,2\n")
    with pytest.raises(InputError, match=r"h.csv:1: header lacks time, text"):
        read_posts(header)


def _post(at: datetime, text: str, negative: bool = True, topic: str = "物流/发货") -> ScoredPost:
    return ScoredPost(at, text, "微博", "u", 0.1 if negative else 0.9, (topic,))


def _stream(burst_at: datetime | None) -> list[ScoredPost]:
    start = datetime(2026, 11, 11, 16, 0, tzinfo=SH)
    posts = [_post(start + timedelta(minutes=10 * k), f"日常{k}") for k in range(24)]
    posts += [
        _post(start + timedelta(minutes=3 * k), f"好评{k}", negative=False) for k in range(80)
    ]
    if burst_at is not None:  # 20 complaints in 7 minutes
        posts += [_post(burst_at + timedelta(seconds=21 * k), f"发货慢{k}") for k in range(20)]
    return posts


def test_a_burst_is_alerted_within_fifteen_minutes_with_examples():
    burst_at = datetime(2026, 11, 11, 20, 1, tzinfo=SH)
    bursts = detect_bursts(_stream(burst_at))
    assert len(bursts) == 1
    b = bursts[0]
    assert b.topic == "物流/发货"
    assert b.detected_at - burst_at <= timedelta(minutes=15)
    assert b.examples == ("发货慢0", "发货慢1", "发货慢2")
    # Poisson tail by hand: P(X ≥ n | λ) = 1 − Σ_{k<n} e^−λ λ^k / k!
    tail = 1 - sum(exp(-b.baseline) * b.baseline**k / factorial(k) for k in range(b.count))
    assert b.p_value == pytest.approx(tail, rel=1e-6, abs=1e-12)


def test_a_steady_stream_raises_nothing():
    assert detect_bursts(_stream(None)) == []
    # positives never count, however many
    start = datetime(2026, 11, 11, 20, 0, tzinfo=SH)
    assert detect_bursts([_post(start, "好", negative=False)] * 50) == []


def test_burst_settings_bucket_width():
    burst_at = datetime(2026, 11, 11, 20, 1, tzinfo=SH)
    b = detect_bursts(_stream(burst_at), BurstSettings(bucket_minutes=15))[0]
    assert b.detected_at - b.start == timedelta(minutes=15)


def test_the_risk_watch_opens_alerts_with_examples(tmp_path, examples_dir):
    from dacu.config import load_campaign
    from dacu.monitor.live import LiveMonitor

    bursts = detect_bursts(_stream(datetime(2026, 11, 11, 20, 1, tzinfo=SH)))
    live = LiveMonitor(load_campaign(examples_dir / "double11.yaml"), tmp_path, detectors=False)
    try:
        ids = live.risk(bursts)
        alerts = live.alert_log.recent(live.campaign.id)
    finally:
        live.close()
    assert len(ids) == 1
    assert alerts[0]["rule_id"] == "sentiment-burst" and alerts[0]["severity"] == "red"
    assert alerts[0]["dimension"] == "topic=物流/发货"
    assert "发货慢0" in alerts[0]["message"] and "负面舆情爆发" in alerts[0]["message"]


def test_streaming_watch_alerts_once_within_fifteen_minutes():
    from dacu.monitor.watch_risk import SentimentWatch

    burst_at = datetime(2026, 11, 11, 20, 1, tzinfo=SH)
    posts = sorted(_stream(burst_at), key=lambda p: p.time)
    watch = SentimentWatch()
    now = datetime(2026, 11, 11, 16, 0, tzinfo=SH)
    raised = []
    while now <= datetime(2026, 11, 11, 21, 0, tzinfo=SH):  # posts arrive minute by minute
        watch.add([p for p in posts if now - timedelta(minutes=1) <= p.time < now])
        raised += [(now, b) for b in watch.due(now)]
        now += timedelta(minutes=1)
    assert len(raised) == 1  # one burst, raised once
    at, burst = raised[0]
    assert burst.topic == "物流/发货" and at - burst_at <= timedelta(minutes=15)


def test_burst_alerts_go_to_every_notification_target():
    from dacu.monitor.watch_risk import notify_alerts, sentiment_alerts

    class Recorder:
        def __init__(self):
            self.sent = []

        def send(self, target, message):
            self.sent.append((target, message))
            return target

    bursts = detect_bursts(_stream(datetime(2026, 11, 11, 20, 1, tzinfo=SH)))
    recorder = Recorder()
    notify_alerts(recorder, ["ops-dingtalk", "ops-mail"], sentiment_alerts(bursts))
    assert [t for t, _ in recorder.sent] == ["ops-dingtalk", "ops-mail"]  # one burst × 2
    message = recorder.sent[0][1]
    assert message.title.startswith("负面舆情爆发 Negative burst: 物流/发货")
    assert "发货慢0" in message.text and message.severity == "red"
