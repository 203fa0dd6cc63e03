"""Per-customer summaries from transactions, as Ibis expressions (客户汇总).

The contract between data and the CLV / RFM models (`dacu.analyze.clv`): one row per customer with

- frequency: repeat purchase days (days with a purchase after the first one);
- recency: days (or weeks) from the first to the last purchase day;
- T: days (or weeks) from the first purchase day to the end of the calibration period;
- monetary: mean amount of the repeat purchase days (0 when frequency = 0);
- first_amount, total_amount: the first day's amount and the sum of all amounts;
- days_since_last: days from the last purchase to the calibration end (the R of RFM);
- holdout_frequency: purchase days after the calibration end up to the observation end.

Purchases on the same day count once (their amounts add up), as in Fader, Hardie & Lee (2005).
Dates are calendar days in the table's own zone (use a date column, or a timestamp already in
Asia/Shanghai).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

PERIOD_DAYS = {"D": 1.0, "W": 7.0}


def customer_summary(transactions: ir.Table, *, customer: str, when: str,
                     amount: str | None = None, calibration_end: date,
                     observation_end: date | None = None, freq: str = "D") -> ir.Table:
    """Summary per customer of the transactions up to `calibration_end` (inclusive)."""
    period = PERIOD_DAYS[freq]
    t = transactions
    amt = t[amount].cast("float64") if amount else ibis.literal(0.0)
    daily = t.select(customer_id=t[customer].cast("string"), day=t[when].cast("date"), amount=amt)
    daily = daily.group_by(["customer_id", "day"]).agg(amount=daily.amount.sum())
    end = ibis.literal(calibration_end)
    cal = daily.filter(daily.day <= end)
    per = cal.group_by("customer_id").agg(
        n=cal.count(), first=cal.day.min(), last=cal.day.max(),
        total_amount=cal.amount.sum(), first_amount=cal.amount.argmin(cal.day))
    repeat = per.n - 1
    summary = per.select(
        "customer_id",
        frequency=repeat,
        recency=per["last"].delta(per["first"], unit="day") / period,
        T=end.delta(per["first"], unit="day") / period,
        monetary=ibis.ifelse(repeat > 0, (per.total_amount - per.first_amount) / repeat, 0.0),
        first_amount=per.first_amount,
        total_amount=per.total_amount,
        days_since_last=end.delta(per["last"], unit="day"),
    )
    if observation_end is None:
        return summary
    hold = daily.filter((daily.day > end) & (daily.day <= ibis.literal(observation_end)))
    hold = hold.group_by("customer_id").agg(holdout_frequency=hold.count())
    joined = summary.left_join(hold, "customer_id")
    return joined.select(*summary.columns,
                         holdout_frequency=joined.holdout_frequency.fill_null(0))
