"""Demo posts (演示舆情): a day of Weibo/小红书/客服 posts about the shop with a complaint burst.

For the demo and the tests only — real posts come from `dacu analyze sentiment import`. Posts
arrive as a Poisson stream (`per_hour`), about a quarter negative, spread over the topics; from
`burst_at` for `burst_minutes` a burst of complaints about one watch keyword (default 优惠失效)
is added at `burst_per_minute`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from dacu.analyze.sentiment.data import Post

if TYPE_CHECKING:
    from pathlib import Path

POSITIVE_POSTS = (
    "双11买的口红到了，颜色很正，包装精美，很满意",
    "物流很快，第二天就到了，好评",
    "客服态度很好，耐心解答，推荐",
    "价格比平时便宜不少，划算，已经回购",
    "质量不错，做工精细，值得购买",
    "满减叠加券之后很实惠，开心",
    "发货速度快，包装完好，正品",
    "秒杀抢到了，太开心了，谢谢店家",
)
NEGATIVE_POSTS = (
    "等了五天还没发货，太慢了",
    "快递盒子破损，东西也坏了，很失望",
    "客服一直不回复，态度很差",
    "质量太差了，和图片不一样，像假货",
    "降价了不给价保，感觉被坑了",
    "退款申请了三天没人处理",
    "页面一直卡顿，付款失败好几次",
    "做工粗糙，有瑕疵，差评",
)
BURST_TEMPLATES = (
    "{kw}！领的券下单时用不了，太坑了",
    "刚领的满减券{kw}了，客服也不管，差评",
    "又是{kw}，白等到零点，失望",
    "什么情况，{kw}，付款时优惠没了，垃圾活动",
    "{kw}了吧？说好的满300减40呢，骗人",
    "大促{kw}，投诉无门，再也不买了",
)
SOURCES = ("微博", "小红书", "抖音", "客服", "评价")


def demo_posts(
    day_start: datetime,
    *,
    hours: int = 24,
    per_hour: float = 30.0,
    negative_share: float = 0.25,
    burst_at: datetime | None = None,
    burst_minutes: int = 20,
    burst_per_minute: float = 3.0,
    keyword: str = "优惠失效",
    seed: int = 7,
) -> list[Post]:
    """Posts from `day_start` for `hours`, plus the burst; sorted by time."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(per_hour * hours)
    offsets = np.sort(rng.uniform(0, hours * 3600, n))
    posts = []
    for k, off in enumerate(offsets):
        pool = NEGATIVE_POSTS if rng.random() < negative_share else POSITIVE_POSTS
        posts.append(
            Post(
                day_start + timedelta(seconds=float(off)),
                str(rng.choice(SOURCES)),
                str(pool[int(rng.integers(len(pool)))]),
                f"用户{k}",
            )
        )
    if burst_at is not None:
        m = rng.poisson(burst_per_minute * burst_minutes)
        for k, off in enumerate(np.sort(rng.uniform(0, burst_minutes * 60, m))):
            text = BURST_TEMPLATES[int(rng.integers(len(BURST_TEMPLATES)))].format(kw=keyword)
            posts.append(Post(burst_at + timedelta(seconds=float(off)), "微博", text, f"投诉{k}"))
    return sorted(posts, key=lambda p: p.time)


def write_csv(posts: list[Post], path: str | Path) -> None:
    """time,source,text,author (UTF-8 with BOM, so Excel opens it)."""
    import csv

    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        out = csv.writer(handle)
        out.writerow(["time", "source", "text", "author"])
        for p in posts:
            out.writerow([p.time.isoformat(timespec="seconds"), p.source, p.text, p.author])
