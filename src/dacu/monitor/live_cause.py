"""Why an alert fired and what to do: root cause (Adtributor and the associated signals) over
the rule's window against a clean one, the rule's own-kind signal or a planned sale first,
and the playbook's context."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property

from dacu.analyze.rca.confidence import located
from dacu.errors import DacuError
from dacu.monitor import coupon_signal, playbooks
from dacu.monitor.diagnose import diagnose
from dacu.monitor.live_host import LiveHost
from dacu.monitor.pacing import planned
from dacu.monitor.rules import AlertRule
from dacu.monitor.store import to_minute
from dacu.monitor.watches import LOST_MEASURE, sold_out_loss

SOLD_OUT_LOOKBACK_HOURS = 6
"""A sold-out SKU's pace (buyers per page view) is read over the hours before the rule's window:
the hours it still sold in, and some after it sold out, which can only lower the estimate."""

SIGNALS_OF = {
    "pay_rate": ("pay_failure",),
    "cvr": ("pay_failure", "cvr_drop", "stock_out"),
    "buyers": ("pay_failure", "cvr_drop", "stock_out"),
    "uv": ("traffic_drop",),
    "pv": ("traffic_drop",),
    "order_rate": ("stock_out",),
    "orders": ("cvr_drop", "stock_out"),
}
"""Associated signals that explain a rule's metric."""


def _own_signal_first(cause: dict, rule: AlertRule, key: str) -> dict:
    own = [
        s
        for s in cause.get("signals") or []
        if s.get("kind") in SIGNALS_OF.get(rule.metric, ())
        and rule.by
        and (s.get("dimension"), s.get("value")) == (rule.by, key)
    ]
    if not own:
        return cause
    elements = [
        e
        for x in cause.get("explanations", [])
        for e in x["elements"]
        if (e["dimension"], e["value"]) == (rule.by, key)
    ]
    culprit = {
        **(elements[0] if elements else {"dimension": rule.by, "value": key, "ep": None}),
        "signal": own[0]["kind"],
    }
    rest = [s for s in cause["signals"] if s is not own[0]]
    return {
        **cause,
        "culprit": culprit,
        "signals": [own[0], *rest],
        "confidence": _sure_of(own[0]) or cause.get("confidence"),
    }


def _sure_of(signal: dict) -> dict | None:
    """How sure a cause the rule located is, from its signal's evidence (`rca.located`)."""
    sure = located(signal.get("score"))
    return sure.as_dict() if sure else None


def _planned_rush_first(cause: dict, rule: AlertRule, sales: list[dict]) -> dict:
    """A rise (a rule with `above`) while a planned flash sale runs whose SKU spiked in orders:
    the sale is the culprit (signal flash_sale), its note first. Without this the rush of a
    20:00 lipstick sale was put down to the channel that carried it, with "block bot accounts"
    as the advice; the other signals stay listed (a real failure can coincide with a sale)."""
    spiked = {s.get("value") for s in cause.get("signals") or [] if s.get("kind") == "order_spike"}
    sale = next((s for s in sales if s["value"] in spiked), None)
    if rule.above is None or sale is None:
        return cause
    culprit = {"dimension": "sku_id", "value": sale["value"], "ep": None, "signal": "flash_sale"}
    rest = [s for s in cause["signals"] if s is not sale]
    spike = next(
        s for s in rest if s.get("kind") == "order_spike" and s.get("value") == sale["value"]
    )  # the sale's SKU's own spike: how sure the rush is the sale's
    return {**cause, "culprit": culprit, "signals": [sale, *rest], "confidence": _sure_of(spike)}


class CauseFinding(LiveHost):
    """LiveMonitor's cause part (a mixin: it uses the monitor's store, clock and plan)."""

    def root_cause(
        self, rule: AlertRule, now: datetime, *, key: str = "", onset: datetime | None = None
    ) -> dict | None:
        """Adtributor and the associated signals over the rule's window against the last clean
        window — the one before the window in which the condition began (`onset`, else now) —
        or, without data there, the same window a day earlier; scaled by the plan's curve when
        there is a plan. (On the peak day the day before is another regime; an alert that fired
        after `for: 1h` would otherwise be compared with a window inside the incident.)

        For a rule on one dimension value (`by`), a signal of the alert's own kind on that very
        value (unpaid orders on the channel whose pay rate fell) is the culprit: the alert already
        says where, the signal says why, and it outranks whatever else moved in the shop."""
        if rule.metric == "stock_hours":  # the SKU's own velocity, or its orders stopped
            row = next((r for r in self.stock() if r.sku_id == key and r.stalled), None)
            if row is None:
                return None
            return {
                "metric": "orders",
                "culprit": {"dimension": "sku_id", "value": key, "ep": None, "signal": "stock_out"},
                "signals": [row.stalled],
                "explanations": [],
                "confidence": _sure_of(row.stalled),
            }
        end = to_minute(now) + (now.second > 0)  # the rule read the minute under way too
        width = int(rule.window.total_seconds() // 60) if rule.scope == "window" else 60
        window = (end - width, end)
        began = to_minute(min(onset or now, now))
        before = (began - 2 * width, began - width)
        baseline = before if self.store.totals(*before).uv > 0 else (end - width - 1440, end - 1440)
        scale = self._plan_scale(window, baseline)
        metric = "cvr" if rule.metric == "pay_rate" else rule.metric  # unpaid orders: fewer buyers
        if metric not in ("uv", "cvr", "asp_fen", "gmv_fen", "paid_gmv_fen"):
            metric = "paid_gmv_fen"
        categories = {s["sku_id"]: s["category"] for s in self.skus if s.get("category")}
        cause = diagnose(
            self.store,
            metric,
            window,
            baseline,
            scale=scale,
            signals=self._signals(window, baseline),
            sku_category=categories or None,
        )
        if not cause.explanations:
            return None
        found = _own_signal_first(cause.as_dict(), rule, key)
        sales = self._flash_sales(window)
        if sales:  # a planned rush explains a spike: say so next to the strongest signal
            found["signals"] = [*found["signals"][:1], *sales, *found["signals"][1:]]
        return _planned_rush_first(found, rule, sales)

    def sold_out_cause(
        self, rule: AlertRule, key: str, value: float | None, reference: float | None, at: datetime
    ) -> dict | None:
        """A shortfall the shop's sold-out SKUs explain, as the alert's cause: had their shoppers
        bought at the SKUs' pace before (`watches.sold_out_loss`), the rule would hold. On the
        0.3× example shop's incident-free peak day the plan's 转化率低于计划80% paged red at
        11:50 (72% of plan), after bestsellers SKU-BC-002 and BC-003 had sold out: a real
        shortfall, with a cause the shop already knows (the stock watch forecast both) and a
        remedy that is not the conversion playbook's (fix pages, offers, payment) but the
        sell-out's (fill the slots with an in-stock substitute, stop promoting what cannot be
        bought). None when the rule would fire without them too (a drop beyond the sell-outs
        stays red). `sold_out.main`: they are the main part of the shortfall, its cause; else they
        only tipped the window over the bound (the alert keeps its own cause, at yellow)."""
        if (
            rule.below is None
            or value is None
            or not reference
            or rule.metric not in LOST_MEASURE
            or rule.by not in (None, "category")
            or rule.id.startswith("anomaly-")  # its value is a deviation (σ), not the metric
        ):
            return None
        window = self._window(rule, at)
        sold = self.sold_out_now()
        if rule.by == "category":
            sold = {k for k in sold if self.sku_category(k) == key}
        if window is None or not sold:
            return None
        start, end = window
        first, last = to_minute(start), to_minute(end)
        in_window, before = self.store.by_value_many(
            "sku_id", [(first, last), (first - 60 * SOLD_OUT_LOOKBACK_HOURS, first)]
        )
        loss = sold_out_loss(
            rule.metric, value, self._kpis(rule.by, key, start, end), in_window, before, sold
        )
        if loss is None or not loss.lifts(rule.below, reference):
            return None
        names = {s["sku_id"]: s.get("name") for s in self.skus}
        skus = [
            {"sku_id": k, "name": names.get(k), "views": in_window[k].pv, "lost": round(x, 1)}
            for k, x in sorted(loss.lost.items(), key=lambda kv: -kv[1])
        ]
        return {
            "metric": rule.metric,
            "culprit": {
                "dimension": "sku_id",
                "value": skus[0]["sku_id"],
                "ep": None,
                "signal": "sold_out",
            },
            "signals": [],
            "explanations": [],
            "confidence": None,
            "sold_out": {
                "skus": skus,
                # a CVR's lost paid orders of a SKU are its lost buyers (one each)
                "measure": "buyers"
                if rule.metric in ("cvr", "buyers")
                else LOST_MEASURE[rule.metric][0],
                "lost": round(sum(loss.lost.values()), 1),
                "share_without": loss.value_without / reference,
                "share_of_gap": (loss.value_without - value) / (reference - value),
                "main": loss.explains(rule.below, reference),  # the cause, not only the tipping
                "demoted": rule.severity == "red",
                "bound": rule.below,
            },
        }

    def _flash_sales(self, window: tuple[int, int]) -> list[dict]:
        """The campaign's flash-sale sessions (秒杀场次) running in minutes [start, end) or ended
        within the last half hour, as notes for the root cause."""
        out = []
        for sale in self._campaign_flash_sales:
            for session in sale.sessions:
                if to_minute(session.start) < window[1] and window[0] < to_minute(session.end) + 30:
                    out.append(
                        {
                            "kind": "flash_sale",
                            "dimension": "sku_id",
                            "value": sale.sku_id,
                            "name": sale.name or sale.id,
                            "start": session.start.isoformat(),
                            "end": session.end.isoformat(),
                        }
                    )
        return out

    @cached_property
    def _flash_openings(self) -> tuple[datetime, ...]:
        """When each flash-sale session of the campaign opens."""
        return tuple(s.start for sale in self._campaign_flash_sales for s in sale.sessions)

    @cached_property
    def _campaign_flash_sales(self) -> tuple:
        from dacu.flash.loading import load_flash

        try:
            return load_flash(self.campaign).sales
        except DacuError:  # reported by `dacu flash`; the monitor runs without the notes
            return ()

    def _plan_scale(self, window: tuple[int, int], baseline: tuple[int, int]) -> float:
        if self.plan is None:
            return 1.0
        stamp = lambda m: datetime.fromtimestamp(m * 60, UTC)  # noqa: E731
        now_plan = planned(self.plan, stamp(window[0]), stamp(window[1]))["uv"]
        base_plan = planned(self.plan, stamp(baseline[0]), stamp(baseline[1]))["uv"]
        return now_plan / base_plan if now_plan and base_plan else 1.0

    def _signals(self, window: tuple[int, int], baseline: tuple[int, int]) -> list[dict]:
        """The stock watch's red SKUs and, with a flash audit trail, the coupon templates whose
        refusals surged in the window against the baseline (minutes; scored, may be the culprit)."""
        out = [
            {
                "kind": "stock_out",
                "dimension": "category",
                "value": row.category,
                "sku_id": row.sku_id,
                "hours_to_stockout": row.hours_to_stockout,
            }
            for row in self.stock()
            if row.status == "red" and row.category
        ]
        if self.flash_audit is not None:
            ms = lambda span: (span[0] * 60_000, span[1] * 60_000)  # noqa: E731
            out += coupon_signal.coupon_signals(self.flash_audit(), ms(window), ms(baseline))
        return out

    def _context(self, rule: AlertRule, key: str, cause: dict | None) -> playbooks.Context:
        culprit = (cause or {}).get("culprit") or {}
        channel = (
            key
            if rule.by == "channel"
            else (culprit.get("value") if culprit.get("dimension") == "channel" else None)
        )
        since, now = to_minute(self.campaign.start), to_minute(self.now or self.campaign.start)
        gmv = {c: k.gmv_fen for c, k in self.store.by_value("channel", since, now).items()}
        roi = {c: gmv[c] / s for c in gmv if (s := self.spend_between(since, now, c))}
        coupon = aov = None
        if culprit.get("dimension") == coupon_signal.DIMENSION:  # a coupon named by its signal
            coupon = coupon_signal.find((cause or {}).get("signals") or [], culprit["value"])
            paid = self.store.totals(now - 60, now)  # the hour's paid GMV per order: its effect
            aov = round(paid.paid_gmv_fen / paid.paid_orders) if paid.paid_orders else None
        return playbooks.Context(
            channel=channel,
            sku_id=key
            if rule.by == "sku_id"
            else (culprit.get("value") if culprit.get("dimension") == "sku_id" else None),
            channel_roi=roi,
            skus=self.skus_now(),
            velocity={r.sku_id: r.units_per_hour for r in self.stock()},
            coupon=coupon,
            coupon_id=culprit.get("value") if coupon else None,
            aov_fen=aov,
            names=self.campaign.display_names(),
        )
