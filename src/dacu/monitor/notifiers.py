"""Notifications (通知): DingTalk, WeCom, Feishu, Slack webhooks and SMTP e-mail, rate-limited and
retried, with Chinese-first message templates.

Campaign file:

    notify:
      - {id: ops-dingtalk, type: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=…",
         secret: "${DINGTALK_SECRET}", at_mobiles: ["138…"]}
      - {id: ops-wecom,  type: wecom,  url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"}
      - {id: ops-feishu, type: feishu, url: "https://open.feishu.cn/open-apis/bot/v2/hook/…", secret: "…"}
      - {id: ops-slack,  type: slack,  url: "https://hooks.slack.com/services/…"}
      - {id: boss-mail,  type: email, smtp: "smtp.example.com:465", ssl: true, user: …, password: "${SMTP_PASSWORD}",
         from: "dacu@example.com", to: ["boss@example.com"]}

`${NAME}` is read from the environment, so secrets stay out of the file. Signing follows each
platform: DingTalk `timestamp`+`sign` query (HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret,
base64, URL-encoded); Feishu `timestamp`+`sign` in the body (HMAC-SHA256 keyed by
"timestamp\\nsecret" over an empty message, base64). WeCom and Slack webhooks carry their key in the URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import smtplib
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx

from dacu.errors import ConfigError

TYPES = ("dingtalk", "wecom", "feishu", "slack", "email")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Message:
    title: str
    text: str  # markdown-ish body (lines)
    severity: str = "yellow"


@dataclass
class SendResult:
    target: str
    ok: bool
    attempts: int
    detail: str = ""


@dataclass(frozen=True)
class Target:
    id: str
    type: str
    options: Mapping[str, Any] = field(default_factory=dict)
    rate_per_minute: int = 20  # DingTalk allows 20 messages a minute per robot


def load_targets(items: list[dict[str, Any]], *, source: str = "campaign") -> dict[str, Target]:
    """Validate `notify:`; errors name `notify[i] (id X).field`."""
    out = {}
    for index, item in enumerate(items):
        where = f"{source}: notify[{index}] (id {item.get('id', '?')})"
        kind = item.get("type")
        if kind not in TYPES:
            raise ConfigError(f"{where}.type: {kind!r} is not one of {', '.join(TYPES)}")
        if not item.get("id"):
            raise ConfigError(f"{where}.id: missing")
        needed = ("smtp", "from", "to") if kind == "email" else ("url",)
        for key in needed:
            if not item.get(key):
                raise ConfigError(
                    f"{where}.{key}: missing (a {kind} target needs {', '.join(needed)})"
                )
        options = {
            k: _expand(v) for k, v in item.items() if k not in ("id", "type", "rate_per_minute")
        }
        out[item["id"]] = Target(item["id"], kind, options, int(item.get("rate_per_minute", 20)))
    return out


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        return _ENV.sub(lambda m: os.environ.get(m[1], ""), value)
    return value


# -- payloads ------------------------------------------------------------------------------------
def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def request_for(
    target: Target, message: Message, *, now: float | None = None
) -> tuple[str, dict[str, Any]]:
    """(url, JSON body) in the platform's own format."""
    now = time.time() if now is None else now
    url, opts = str(target.options["url"]), target.options
    if target.type == "dingtalk":
        if opts.get("secret"):
            stamp = int(now * 1000)
            sep = "&" if "?" in url else "?"
            url = f"{url}{sep}timestamp={stamp}&sign={dingtalk_sign(opts['secret'], stamp)}"
        mobiles = list(opts.get("at_mobiles") or [])
        text = message.text + ("".join(f" @{m}" for m in mobiles) if mobiles else "")
        return url, {
            "msgtype": "markdown",
            "markdown": {"title": message.title, "text": f"### {message.title}\n{text}"},
            "at": {"atMobiles": mobiles, "isAtAll": bool(opts.get("at_all", False))},
        }
    if target.type == "wecom":
        return url, {
            "msgtype": "markdown",
            "markdown": {"content": f"**{message.title}**\n{message.text}"},
        }
    if target.type == "feishu":
        body: dict[str, Any] = {
            "msg_type": "text",
            "content": {"text": f"{message.title}\n{message.text}"},
        }
        if opts.get("secret"):
            stamp = int(now)
            body = {"timestamp": str(stamp), "sign": feishu_sign(opts["secret"], stamp), **body}
        return url, body
    if target.type == "slack":
        return url, {
            "text": f"*{message.title}*\n{message.text}",
            "blocks": [
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": f"*{message.title}*\n{message.text}"},
                }
            ],
        }
    raise ValueError(f"no webhook format for {target.type}")


def accepted(target: Target, response: httpx.Response) -> tuple[bool, bool]:
    """(delivered, worth retrying) from a webhook response."""
    if response.status_code == 429 or response.status_code >= 500:
        return False, True
    if response.status_code >= 400:
        return False, False
    if target.type == "slack":
        return response.text.strip() in ("ok", ""), False
    try:
        data = response.json()
    except ValueError:
        return False, False
    code = data.get("errcode", data.get("code", data.get("StatusCode", 0)))
    # DingTalk 130101 / WeCom 45009 / Feishu 9499: sent too fast → retry later
    return code == 0, code in (130101, 45009, 9499)


# -- sending -------------------------------------------------------------------------------------
class RateLimiter:
    """Token bucket per target: `rate_per_minute` messages a minute, bursts up to that."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, key: str, rate_per_minute: int) -> bool:
        with self.lock:
            now = self.clock()
            tokens, last = self.buckets.get(key, (float(rate_per_minute), now))
            tokens = min(float(rate_per_minute), tokens + (now - last) * rate_per_minute / 60)
            if tokens < 1:
                self.buckets[key] = (tokens, now)
                return False
            self.buckets[key] = (tokens - 1, now)
            return True


class Notifier:
    """Sends messages to targets; retries (exponential backoff) on timeouts, 5xx and rate limits."""

    def __init__(
        self,
        targets: Mapping[str, Target],
        *,
        attempts: int = 3,
        backoff: float = 0.5,
        timeout: float = 5.0,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.targets = dict(targets)
        self.attempts, self.backoff, self.timeout, self.sleep = attempts, backoff, timeout, sleep
        self.limiter = limiter or RateLimiter()
        self.client = httpx.Client(timeout=timeout)
        self.sent: list[SendResult] = []

    def send(self, target_id: str, message: Message) -> SendResult:
        target = self.targets.get(target_id)
        if target is None:
            result = SendResult(target_id, False, 0, "unknown target (not in notify:)")
        elif not self.limiter.allow(target.id, target.rate_per_minute):
            result = SendResult(target_id, False, 0, "rate limited: dropped")
        else:
            result = self._with_retries(target, message)
        self.sent.append(result)
        return result

    def _with_retries(self, target: Target, message: Message) -> SendResult:
        detail = ""
        for attempt in range(1, self.attempts + 1):
            try:
                if target.type == "email":
                    send_email(target, message, timeout=self.timeout)
                    return SendResult(target.id, True, attempt)
                url, body = request_for(target, message)
                response = self.client.post(url, json=body)
                ok, retry = accepted(target, response)
                if ok:
                    return SendResult(target.id, True, attempt)
                detail = f"HTTP {response.status_code}: {response.text[:200]}"
                if not retry:
                    return SendResult(target.id, False, attempt, detail)
            except (httpx.HTTPError, OSError, smtplib.SMTPException) as exc:
                detail = f"{type(exc).__name__}: {exc}"
            if attempt < self.attempts:
                self.sleep(self.backoff * 2 ** (attempt - 1))
        return SendResult(target.id, False, self.attempts, detail)

    def close(self) -> None:
        self.client.close()


def send_email(target: Target, message: Message, *, timeout: float = 5.0) -> None:
    opts = target.options
    host, _, port = str(opts["smtp"]).partition(":")
    mail = EmailMessage()
    mail["Subject"], mail["From"] = message.title, str(opts["from"])
    recipients = opts["to"] if isinstance(opts["to"], list) else [opts["to"]]
    mail["To"] = ", ".join(recipients)
    mail.set_content(message.text)
    use_ssl = bool(opts.get("ssl"))
    factory = smtplib.SMTP_SSL if use_ssl else smtplib.SMTP
    with factory(host, int(port or (465 if use_ssl else 25)), timeout=timeout) as smtp:
        if opts.get("starttls"):
            smtp.starttls()
        if opts.get("user"):
            smtp.login(str(opts["user"]), str(opts.get("password", "")))
        smtp.send_message(mail)
