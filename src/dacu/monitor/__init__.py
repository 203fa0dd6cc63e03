"""Live monitoring (实时监控): pacing against the plan, alert rules, anomaly detectors, root cause,
playbooks, watches and notifications — fed by the event collector, read from per-minute rollups.

    from dacu.monitor import LiveMonitor, load_rules, pace

Ingest: `Collector` (采集), `Rollups` / `RollupStore` (分钟级汇总). Rules: `load_rules` /
`RuleEngine` (告警规则), `detect` (异常检测), `playbook` (预案), the watches (盯盘); root cause
is `dacu.monitor.diagnose.diagnose` over `dacu.analyze.explain`. Presentation: `snapshot` (the dashboard's data), `Notifier` (通知), the alert logs.
Names are imported lazily so `dacu monitor --help` stays fast; docs/monitor.md is the guide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dacu._lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, for type checkers and IDEs
    from dacu.monitor.alertlog import AlertLog, MemoryAlertLog, MetadataAlertLog
    from dacu.monitor.collector import Collector, IngestResult
    from dacu.monitor.dashboard import snapshot
    from dacu.monitor.detectors import BotFilter, detect
    from dacu.monitor.live import LiveMonitor
    from dacu.monitor.notifiers import Message, Notifier, load_targets
    from dacu.monitor.pacing import hourly_pace, pace
    from dacu.monitor.playbooks import playbook
    from dacu.monitor.rollups import Rollups
    from dacu.monitor.rule_engine import RuleEngine
    from dacu.monitor.rules import AlertRule, load_rules
    from dacu.monitor.store import RollupStore
    from dacu.monitor.watches import budget_watch, coupon_watch, flash_watch, stock_watch

_LAZY = {
    **dict.fromkeys(["AlertLog", "MemoryAlertLog", "MetadataAlertLog"], "dacu.monitor.alertlog"),
    **dict.fromkeys(["Collector", "IngestResult"], "dacu.monitor.collector"),
    "snapshot": "dacu.monitor.dashboard",
    **dict.fromkeys(["BotFilter", "detect"], "dacu.monitor.detectors"),
    "LiveMonitor": "dacu.monitor.live",
    **dict.fromkeys(["Message", "Notifier", "load_targets"], "dacu.monitor.notifiers"),
    **dict.fromkeys(["hourly_pace", "pace"], "dacu.monitor.pacing"),
    "playbook": "dacu.monitor.playbooks",
    "Rollups": "dacu.monitor.rollups",
    **dict.fromkeys(["AlertRule", "load_rules"], "dacu.monitor.rules"),
    "RuleEngine": "dacu.monitor.rule_engine",
    "RollupStore": "dacu.monitor.store",
    **dict.fromkeys(
        ["budget_watch", "coupon_watch", "flash_watch", "stock_watch"], "dacu.monitor.watches"
    ),
}
__all__ = [
    "AlertLog",
    "AlertRule",
    "BotFilter",
    "Collector",
    "IngestResult",
    "LiveMonitor",
    "MemoryAlertLog",
    "Message",
    "MetadataAlertLog",
    "Notifier",
    "RollupStore",
    "Rollups",
    "RuleEngine",
    "budget_watch",
    "coupon_watch",
    "detect",
    "flash_watch",
    "hourly_pace",
    "load_rules",
    "load_targets",
    "pace",
    "playbook",
    "snapshot",
    "stock_watch",
]
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
