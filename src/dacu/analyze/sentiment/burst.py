"""Bursts of negative posts per topic (负面舆情爆发), against the topic's own baseline.

Negative posts are counted per topic in buckets of `bucket_minutes` (5 by default). The baseline
rate λ of a topic is an exponentially weighted moving average (EWMA) of its earlier buckets,
floored at `floor` posts per bucket so a quiet topic does not alarm on its second post. A bucket
is a burst when its count is at least `min_posts` and its Poisson upper-tail probability
P(X ≥ count | λ) is below `alpha`. The alert is due at the end of the bucket, so it is raised at
most `bucket_minutes` after the burst's first post; a burst lasting several buckets is one burst.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from scipy.stats import poisson


@dataclass(frozen=True)
class ScoredPost:
    """A post with its sentiment and topics (see `sentiment.topics_of`)."""

    time: datetime
    text: str
    source: str
    author: str
    positive: float  # probability the post is positive
    topics: tuple[str, ...]

    @property
    def negative(self) -> bool:
        return self.positive < 0.5


@dataclass(frozen=True)
class Burst:
    topic: str
    start: datetime  # start of the first burst bucket
    detected_at: datetime  # end of the bucket that crossed the threshold
    count: int  # negative posts in that bucket
    baseline: float  # EWMA posts per bucket before it
    p_value: float
    examples: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "start": self.start.isoformat(),
            "detected_at": self.detected_at.isoformat(),
            "count": self.count,
            "baseline": round(self.baseline, 3),
            "p_value": self.p_value,
            "examples": list(self.examples),
        }


@dataclass(frozen=True)
class BurstSettings:
    bucket_minutes: int = 5
    alpha: float = 0.001
    min_posts: int = 5
    floor: float = 0.5  # posts per bucket
    ewma_weight: float = 0.1  # weight of the newest bucket in the baseline
    examples: int = 3


def _bucket(moment: datetime, minutes: int) -> datetime:
    width = minutes * 60
    stamp = int(moment.timestamp()) // width * width
    return datetime.fromtimestamp(stamp, moment.tzinfo)


def negative_counts(
    posts: Sequence[ScoredPost], minutes: int
) -> dict[str, dict[datetime, list[ScoredPost]]]:
    """topic → bucket start → the negative posts of that topic in the bucket."""
    cells: dict[str, dict[datetime, list[ScoredPost]]] = defaultdict(lambda: defaultdict(list))
    for post in posts:
        if post.negative:
            for topic in post.topics or ("其他",):
                cells[topic][_bucket(post.time, minutes)].append(post)
    return cells


def detect_bursts(
    posts: Sequence[ScoredPost], settings: BurstSettings | None = None
) -> list[Burst]:
    """Bursts of every topic, in time order."""
    s = settings or BurstSettings()
    width = timedelta(minutes=s.bucket_minutes)
    out = []
    for topic, buckets in negative_counts(posts, s.bucket_minutes).items():
        out += _topic_bursts(topic, buckets, width, s)
    return sorted(out, key=lambda b: (b.detected_at, b.topic))


def _topic_bursts(
    topic: str, buckets: dict[datetime, list[ScoredPost]], width: timedelta, s: BurstSettings
) -> list[Burst]:
    out: list[Burst] = []
    first = min(buckets)
    steps = int((max(buckets) - first) / width) + 1
    rate, in_burst = s.floor, False
    for k in range(steps):
        at = first + k * width
        found = buckets.get(at, [])
        count = len(found)
        lam = max(rate, s.floor)
        p = float(poisson.sf(count - 1, lam)) if count else 1.0
        burst = count >= s.min_posts and p < s.alpha
        if burst and not in_burst:
            examples = tuple(
                post.text for post in sorted(found, key=lambda x: x.time)[: s.examples]
            )
            out.append(Burst(topic, at, at + width, count, lam, p, examples))
        in_burst = burst
        if not burst:  # a burst does not raise its own baseline
            rate = (1 - s.ewma_weight) * rate + s.ewma_weight * count
    return out
