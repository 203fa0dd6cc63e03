"""Notifiers against local receivers (webhook payloads, signing, retries, rate limit; SMTP),
watches, playbooks and detectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import socketserver
import threading
import urllib.parse
from dataclasses import dataclass
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dacu.errors import ConfigError
from dacu.monitor import playbooks
from dacu.monitor.detectors import BotFilter, detect, robust_baseline
from dacu.monitor.notifiers import Message, Notifier, RateLimiter, load_targets
from dacu.monitor.watches import (
    budget_watch,
    coupon_watch,
    flash_watch,
    stalled_skus,
    stock_watch,
)

MSG = Message("🔴 红色告警·触发：转化率骤降", "- 根因 渠道=search_ads", "red")


class Hook:
    """Answers each POST with the next (status, body) of `script`, then 200 ok; records requests."""

    def __init__(self, script: list[tuple[int, str]] = ()) -> None:
        self.requests, script = [], list(script)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(inner) -> None:
                body = inner.rfile.read(int(inner.headers["Content-Length"]))
                self.requests.append((inner.path, json.loads(body)))
                status, text = script.pop(0) if script else (200, '{"errcode":0,"code":0}')
                inner.send_response(status)
                inner.end_headers()
                inner.wfile.write(text.encode())

            def log_message(inner, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook():
    made = []

    def make(script=()):
        made.append(Hook(script))
        return made[-1]

    yield make
    for h in made:
        h.server.shutdown()
        h.server.server_close()  # the listening socket


def notifier(items: list[dict], **kw) -> Notifier:
    return Notifier(load_targets(items), backoff=0.001, **kw)


def test_dingtalk_markdown_and_signature(hook) -> None:
    h = hook()
    n = notifier(
        [
            {
                "id": "d",
                "type": "dingtalk",
                "url": f"{h.base}/robot/send?access_token=T",
                "secret": "SEC123",
                "at_mobiles": ["13800000000"],
            }
        ]
    )
    assert n.send("d", MSG).ok
    path, body = h.requests[0]
    query = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
    stamp = query["timestamp"][0]
    # DingTalk: base64(HMAC-SHA256(key=secret, msg="{timestamp}\n{secret}")), URL-encoded in the query
    want = base64.b64encode(
        hmac.new(b"SEC123", f"{stamp}\nSEC123".encode(), hashlib.sha256).digest()
    )
    assert query["sign"][0] == want.decode() and query["access_token"] == ["T"]
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == MSG.title
    assert body["at"]["atMobiles"] == ["13800000000"] and "@13800000000" in body["markdown"]["text"]


def test_feishu_wecom_slack_payloads(hook) -> None:
    h = hook([(200, '{"code":0}'), (200, '{"errcode":0}'), (200, "ok")])
    n = notifier(
        [
            {"id": "f", "type": "feishu", "url": f"{h.base}/hook/x", "secret": "fs"},
            {"id": "w", "type": "wecom", "url": f"{h.base}/cgi-bin/webhook/send?key=k"},
            {"id": "s", "type": "slack", "url": f"{h.base}/services/x"},
        ]
    )
    assert [n.send(t, MSG).ok for t in ("f", "w", "s")] == [True, True, True]
    feishu, wecom, slack = (b for _, b in h.requests)
    # Feishu: base64(HMAC-SHA256(key="{timestamp}\n{secret}", msg=b"")) in the body
    key = f"{feishu['timestamp']}\nfs".encode()
    assert feishu["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert feishu["msg_type"] == "text" and MSG.title in feishu["content"]["text"]
    assert wecom == {"msgtype": "markdown", "markdown": {"content": f"**{MSG.title}**\n{MSG.text}"}}
    assert slack["text"].startswith(f"*{MSG.title}*") and slack["blocks"][0]["type"] == "section"


def test_retries_on_5xx_and_platform_rate_limit_then_gives_up_on_4xx(hook) -> None:
    h = hook([(502, "bad gateway"), (200, '{"errcode":130101,"errmsg":"send too fast"}')])
    n = notifier([{"id": "d", "type": "dingtalk", "url": f"{h.base}/r"}])
    result = n.send("d", MSG)
    assert (result.ok, result.attempts) == (True, 3)
    bad = hook([(400, '{"errcode":300001}')])
    n2 = notifier([{"id": "d", "type": "dingtalk", "url": f"{bad.base}/r"}])
    assert (n2.send("d", MSG).ok, len(bad.requests)) == (False, 1)


def test_rate_limit_per_target() -> None:
    clock = [0.0]
    limiter = RateLimiter(clock=lambda: clock[0])
    assert [limiter.allow("d", 3) for _ in range(4)] == [True, True, True, False]
    clock[0] = 20.0  # 20 s at 3 a minute refills one token
    assert [limiter.allow("d", 3), limiter.allow("d", 3)] == [True, False]


@dataclass
class Mailbox:
    messages: list


def smtp_server() -> tuple[socketserver.TCPServer, Mailbox]:
    """A minimal SMTP server (EHLO/MAIL/RCPT/DATA/QUIT) that keeps each message."""
    box = Mailbox([])

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 local ESMTP\r\n")
            while line := self.rfile.readline():
                verb = line[:4].upper()
                if verb == b"DATA":
                    self.wfile.write(b"354 go ahead\r\n")
                    data = b"".join(iter(self.rfile.readline, b".\r\n"))
                    box.messages.append(data)
                    self.wfile.write(b"250 queued\r\n")
                elif verb == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, box


def test_email_through_a_local_smtp_server() -> None:
    server, box = smtp_server()
    port = server.server_address[1]
    n = notifier(
        [
            {
                "id": "m",
                "type": "email",
                "smtp": f"127.0.0.1:{port}",
                "from": "dacu@example.com",
                "to": ["ops@example.com"],
            }
        ]
    )
    try:
        assert n.send("m", MSG).ok
    finally:
        server.shutdown()
        server.server_close()
    mail = message_from_bytes(box.messages[0], policy=policy.default)
    assert mail["Subject"] == MSG.title and mail["To"] == "ops@example.com"
    assert "search_ads" in mail.get_content()


def test_bad_targets_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"notify\[0\] \(id x\).type: 'sms' is not one of"):
        load_targets([{"id": "x", "type": "sms"}])
    with pytest.raises(ConfigError, match=r"notify\[0\] \(id m\).smtp: missing"):
        load_targets([{"id": "m", "type": "email", "to": ["a@b"]}])
    monkeypatch.setenv("DT_SECRET", "from-env")
    target = load_targets([{"id": "d", "type": "dingtalk", "url": "u", "secret": "${DT_SECRET}"}])[
        "d"
    ]
    assert target.options["secret"] == "from-env"


def test_stock_watch_hours_to_stockout() -> None:
    skus = [
        {"sku_id": "A", "category": "makeup", "stock": 500},
        {"sku_id": "B", "category": "makeup", "stock": 100},
        {"sku_id": "C", "category": "skincare", "stock": 50},
    ]
    rows = stock_watch(skus, sold={"A": 300, "B": 10}, velocity={"A": 100.0, "B": 10.0})
    # A: (500−300)/100 = 2.0 h → yellow (2 ≤ h < 6); B: 90/10 = 9 h green; C not selling
    assert [(r.sku_id, r.stock_left, r.hours_to_stockout, r.status) for r in rows] == [
        ("A", 200, 2.0, "yellow"),
        ("B", 90, 9.0, "green"),
        ("C", 50, None, "green"),
    ]
    assert stock_watch(skus, sold={}, velocity={"C": 100.0}, top=1)[0].status == "red"  # 0.5 h


def test_the_pace_is_read_forward_by_the_plans_hour_ahead() -> None:
    # 00:20 after the midnight rush: the plan has 300 orders in 00:00–01:00 and 100 in 01:00–02:00
    # (23:00–24:00 the night before: 60). Hour behind 23:20–00:20 = 60·40/60 + 300·20/60 = 140;
    # ahead 00:20–01:20 = 300·40/60 + 100·20/60 = 233.3: more ahead, so 1 (only toward later).
    # At 00:40: behind 60·20/60 + 300·40/60 = 220, ahead 300·20/60 + 100·40/60 = 166.7 → 0.758.
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from dacu.monitor.live_stock import StockWatching
    from dacu.monitor.pacing import Plan, PlanRow

    tz = timezone(timedelta(hours=8))
    midnight = datetime(2026, 11, 11, tzinfo=tz)
    hour = timedelta(hours=1)
    rows = tuple(
        PlanRow(
            midnight + k * hour,
            midnight + (k + 1) * hour,
            None,
            None,
            {"gmv_fen": 100.0 * n, "uv": 10.0 * n, "orders": n, "buyers": n, "spend_fen": 0.0},
        )
        for k, n in ((-1, 60), (0, 300), (1, 100))
    )
    plan = Plan("c", 0.1, rows, {}, {})
    host = SimpleNamespace(plan=plan)
    at = midnight + timedelta(minutes=20)
    assert StockWatching._pace_ahead(host, at) == 1.0
    later = StockWatching._pace_ahead(host, midnight + timedelta(minutes=40))
    assert later == pytest.approx((500 / 3) / 220)
    assert StockWatching._pace_ahead(SimpleNamespace(plan=None), at) == 1.0
    # 100 units left at 100 an hour: 1 h; read forward at 0.758, 1.32 h — past the alert's hour
    [row] = stock_watch([{"sku_id": "A", "stock": 100}], {}, {"A": 100.0}, ahead=later)
    assert row.hours_to_stockout == pytest.approx(100 / (100 * later))
    assert row.units_per_hour == 100.0  # the table shows the pace as it is


def test_a_sku_still_carted_but_no_longer_ordered_is_out_of_stock_now() -> None:
    # Three earlier hours: X sold 36 orders per 60 carts; at a third (scale 1/3, one hour) that is
    # 12 per 20. Now 20 carts, no order: expected 12 · 20/20 = 12, P(0) = e^−12; X alone is
    # tested (Y's 4 orders and Z's 3 carts are too few for a rate of their own), so the score is
    # −log10(e^−12) = 12/ln 10 = 5.2115.
    earlier = {
        "X": {"orders": 36, "cart": 60, "pv": 300},
        "Y": {"orders": 4, "cart": 9, "pv": 30},
        "Z": {"orders": 6, "cart": 3, "pv": 60},
    }
    actual = {
        "X": {"orders": 0, "cart": 20, "pv": 100},
        "Y": {"orders": 0, "cart": 3, "pv": 10},
        "Z": {"orders": 0, "cart": 1, "pv": 20},
    }
    stalled = stalled_skus(earlier, actual, scale=1 / 3)
    assert list(stalled) == ["X"]
    assert (stalled["X"]["expected"], stalled["X"]["actual"]) == (pytest.approx(12.0), 0)
    assert stalled["X"]["score"] == pytest.approx(12 / math.log(10))
    # carts fell below half their pace (9 < 10): shoppers left, no evidence it cannot be bought
    assert (
        stalled_skus(earlier, {**actual, "X": {"orders": 0, "cart": 9, "pv": 100}}, scale=1 / 3)
        == {}
    )
    # the stock table still says 500 left and nothing sells: red, 0 hours, listed first
    skus = [
        {"sku_id": "A", "category": "makeup", "stock": 500},
        {"sku_id": "X", "category": "makeup", "stock": 500},
    ]
    rows = stock_watch(skus, sold={}, velocity={"A": 100.0}, stalled=stalled, top=1)
    assert [(r.sku_id, r.stock_left, r.hours_to_stockout, r.status) for r in rows] == [
        ("X", 500, 0.0, "red")
    ]
    assert rows[0].stalled == stalled["X"]


def test_budget_watch_pace_and_roi() -> None:
    rows = budget_watch(
        {"search_ads": 1000, "display_ads": 1000},
        {"search_ads": 500, "display_ads": 500},
        {"search_ads": 520, "display_ads": 700},
        {"search_ads": 5200, "display_ads": 2100},
        tolerance=0.15,
        roi_floor=5,
    )
    # search: pace 1.04, ROI 10 → green; display: pace 1.4 (> 1 + 2×15%) and ROI 3 < 5 → red
    assert [(r.channel, r.pace, r.roi, r.status) for r in rows] == [
        ("display_ads", 1.4, 3.0, "red"),
        ("search_ads", 1.04, 10.0, "green"),
    ]


@dataclass
class Entry:
    ts_ms: int
    op: str
    target: str
    outcome: str


def test_coupon_and_flash_watches_from_the_audit_trail() -> None:
    hour = 3_600_000
    entries = [
        Entry(0, "claim", "c20", "ok"),
        Entry(10, "claim", "c20", "ok"),
        Entry(20, "redeem", "c20", "ok"),
        Entry(30, "claim", "c20", "limit_reached"),
        Entry(hour + 5, "claim", "c20", "ok"),
        Entry(40, "reserve", "lipstick", "ok"),
        Entry(50, "reserve", "lipstick", "sold_out"),
        Entry(60, "reserve", "lipstick", "sold_out"),
        Entry(70, "reserve", "lipstick", "rate_limited"),
    ]
    assert coupon_watch(entries) == [
        {
            "slot_ms": 0,
            "coupon": "c20",
            "issued": 2,
            "redeemed": 1,
            "refused": 1,
            "redemption_rate": 0.5,
        },
        {
            "slot_ms": hour,
            "coupon": "c20",
            "issued": 1,
            "redeemed": 0,
            "refused": 0,
            "redemption_rate": 0.0,
        },
    ]
    assert flash_watch(entries) == [
        {
            "sale": "lipstick",
            "granted": 1,
            "refused": 3,
            "refusal_rate": 0.75,
            "reasons": {"sold_out": 2, "rate_limited": 1},
        }
    ]


def test_playbooks_use_live_numbers() -> None:
    ctx = playbooks.Context(
        channel="display_ads",
        channel_roi={"display_ads": 2.0, "search_ads": 9.0, "affiliate": 6.0},
        channel_remaining_fen={"display_ads": 1_000_000},
    )
    book = playbooks.playbook("roi_below_floor", ctx)
    move = book.actions[0]
    # 30% of ¥1万 = ¥3,000 to search_ads; 3,000 × (9 − 2) = ¥21,000 more GMV at most
    assert move.params == {"from": "display_ads", "to": "search_ads", "amount_fen": 300_000}
    assert "¥21,000.00" in move.expected_zh
    skus = [
        {"sku_id": "HIT", "category": "makeup", "price_fen": 10_000, "stock": 3},
        {"sku_id": "NEAR", "category": "makeup", "price_fen": 11_000, "stock": 500},
        {"sku_id": "FAST", "category": "makeup", "price_fen": 9_000, "stock": 600},
        {"sku_id": "DEAR", "category": "makeup", "price_fen": 30_000, "stock": 9_999},
        {"sku_id": "OTHER", "category": "skincare", "price_fen": 10_000, "stock": 9_999},
    ]
    stock = playbooks.playbook(
        "stock_out_risk",
        playbooks.Context(sku_id="HIT", skus=skus, velocity={"NEAR": 10.0, "FAST": 300.0}),
    )
    # same category, price within ±20%: NEAR (50 h of stock) beats FAST (2 h)
    assert stock.actions[0].params == {"replace": "HIT", "with": "NEAR"}
    assert (
        playbooks.kind_for("uv") == "uv_drop"
        and playbooks.kind_for("cvr", "payment_failure") == "payment_failure"
    )
    for kind in playbooks.KINDS:
        assert playbooks.playbook(kind).actions, kind


def test_dynamic_threshold_from_comparable_hours() -> None:
    base = robust_baseline([1000, 1040, 980, 1010, 990, 1500], count=True)
    # sorted 980 990 1000 1010 1040 1500 → median 1005; |x − 1005| → 5 5 15 25 35 495 → MAD 20
    # → 20 × 1.4826 = 29.65, floored at the count noise √1005 = 31.70
    assert base.median == 1005 and base.spread == pytest.approx(31.70, abs=0.01)
    # 900: z = (900 − 1005)/31.70 = −3.3 → anomaly; 950: z = −1.7 → normal
    assert detect("uv", "", 900, base) is not None and detect("uv", "", 950, base) is None
    assert detect("uv", "", 900, base).direction == "drop"


def test_bot_filter_flags_fast_users() -> None:
    import datetime as dt

    import pyarrow as pa

    from dacu.events import EVENT_SCHEMA

    t = dt.datetime(2026, 11, 11, 12, tzinfo=dt.UTC)
    rows = [{"event_id": f"b{i}", "ts": t, "user_id": "bot", "event": "pv"} for i in range(70)]
    rows += [{"event_id": f"h{i}", "ts": t, "user_id": "human", "event": "pv"} for i in range(5)]
    bots = BotFilter(max_per_minute=60)
    assert bots.observe(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)) == {"bot"}
