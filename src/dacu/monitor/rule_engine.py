"""Evaluation of the alert rules (告警规则): a pure state machine per (rule, dimension value).

Condition true since T → firing after `for`; firing → escalated after `escalate.after` unless
acknowledged; condition false for `resolve_after` (default 5m) since the last breach → resolved.
One open alert per key (de-duplication); notifications are suppressed inside silences.
The rules themselves — their model, parsing and loading — are `dacu.monitor.rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # annotations only: rules.py imports this module to re-export the engine
    from dacu.monitor.rules import AlertRule


@dataclass
class AlertState:
    rule_id: str
    key: str  # dimension value ("" for the whole shop)
    pending_since: datetime | None = None
    fired_at: datetime | None = None
    escalated: bool = False
    acked: bool = False
    alert_id: int | None = None
    last_value: float | None = None
    last_reference: float | None = None
    last_breach: datetime | None = None


@dataclass(frozen=True)
class Transition:
    """What changed at a tick: opened, escalated or resolved (and whether to notify)."""

    kind: Literal["opened", "escalated", "resolved"]
    rule: AlertRule
    key: str
    at: datetime
    value: float | None
    reference: float | None
    severity: str
    notify: tuple[str, ...]
    silenced: bool
    state: AlertState = field(compare=False, repr=False)
    alert_id: int | None = None  # the logged alert this transition is about (the state's is
    # cleared once an alert resolves)


Reading = tuple[float | None, float | None] | tuple[float | None, float | None, float | None]
"""(value, reference[, p-value]) of a rule for one dimension value at a tick; the p-value is the
chance of a deviation this large from sampling noise alone (`detectors.rate_tail_p`)."""


class RuleEngine:
    """Holds the alert states; `tick(now, read)` evaluates every rule at `now`.

    `read(rule, now) -> {dimension value: (value, reference)}` comes from the live monitor (rollups,
    plan, baselines); the engine itself is pure and testable with hand-made readings.
    """

    def __init__(self, rules: list[AlertRule]) -> None:
        self.rules = rules
        self.states: dict[tuple[str, str], AlertState] = {}
        self.slots: dict[str, int] = {}  # rule id → last evaluated slot (rules with `every`)

    def _due(self, rule: AlertRule, now: datetime) -> bool:
        if rule.every is None:
            return True
        slot = int(now.timestamp() // max(1.0, rule.every.total_seconds()))
        if self.slots.get(rule.id) == slot:
            return False
        self.slots[rule.id] = slot
        return True

    def tick(
        self, now: datetime, read: Callable[[AlertRule, datetime], Mapping[str, Reading]]
    ) -> list[Transition]:
        out = []
        for rule in self.rules:
            if not self._due(rule, now):
                continue
            readings = read(rule, now)
            for key, (value, reference, *chance) in readings.items():
                state = self.states.setdefault((rule.id, key), AlertState(rule.id, key))
                state.last_value, state.last_reference = value, reference
                breached = rule.breached(value, reference)
                # evidence opens an alert; only a value back past the threshold closes it (a few
                # orders in a window are rarely "significant", and an incident is not over then)
                bad = breached and (
                    state.fired_at is not None
                    or rule.significant(chance[0] if chance else None, len(readings))
                )
                change = self._step(rule, state, now, bad)
                if change is not None:
                    out.append(change)
        return out

    def _step(
        self, rule: AlertRule, state: AlertState, now: datetime, bad: bool
    ) -> Transition | None:
        if not bad:
            state.pending_since = None
            if state.fired_at is None:
                return None
            if state.last_breach is not None and now - state.last_breach < rule.resolve_after:
                return None  # hysteresis: one quiet tick does not end an incident
            change = self._transition("resolved", rule, state, now, rule.severity, rule.notify)
            state.fired_at, state.escalated, state.acked, state.alert_id = None, False, False, None
            return change
        state.last_breach = now
        if state.pending_since is None:
            state.pending_since = now
        if state.fired_at is None:
            if now - state.pending_since < rule.for_:
                return None
            state.fired_at = now
            return self._transition("opened", rule, state, now, rule.severity, rule.notify)
        escalate = rule.escalate
        if (
            escalate
            and not state.escalated
            and not state.acked
            and now - state.fired_at >= escalate.after
        ):
            state.escalated = True
            return self._transition(
                "escalated",
                rule,
                state,
                now,
                escalate.severity,
                tuple(dict.fromkeys((*rule.notify, *escalate.notify))),
            )
        return None

    @staticmethod
    def _transition(
        kind: Literal["opened", "escalated", "resolved"],
        rule: AlertRule,
        state: AlertState,
        now: datetime,
        severity: str,
        notify: tuple[str, ...],
    ) -> Transition:
        silenced = any(s.start <= now < s.end for s in rule.silence)
        return Transition(
            kind,
            rule,
            state.key,
            now,
            state.last_value,
            state.last_reference,
            severity,
            notify,
            silenced,
            state,
            state.alert_id,
        )

    def acknowledge(self, rule_id: str, key: str) -> bool:
        """Stop escalation of a firing alert (the operator is on it)."""
        state = self.states.get((rule_id, key))
        if state is None or state.fired_at is None:
            return False
        state.acked = True
        return True

    def firing(self) -> list[AlertState]:
        return [s for s in self.states.values() if s.fired_at is not None]
