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


def customer_summary(
    transactions: ir.Table,
    *,
    customer: str,
    when: str,
    amount: str | None = None,
    calibration_end: date,
    observation_end: date | None = None,
    freq: str = "D",
) -> ir.Table:
    """Summary per customer of the transactions up to `calibration_end` (inclusive)."""
    period = PERIOD_DAYS[freq]
    t = transactions
    amt = t[amount].cast("float64") if amount else ibis.literal(0.0)
    daily = t.select(customer_id=t[customer].cast("string"), day=t[when].cast("date"), amount=amt)
    daily = daily.group_by(["customer_id", "day"]).agg(amount=daily.amount.sum())
    end = ibis.literal(calibration_end)
    cal = daily.filter(daily.day <= end)
    per = cal.group_by("customer_id").agg(
        n=cal.count(),
        first=cal.day.min(),
        last=cal.day.max(),
        total_amount=cal.amount.sum(),
        first_amount=cal.amount.argmin(cal.day),
    )
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
    return joined.select(*summary.columns, holdout_frequency=joined.holdout_frequency.fill_null(0))


def cohort_activity(
    transactions: ir.Table,
    *,
    customer: str,
    when: str,
    period_days: int = 7,
    cohort_column: str | None = None,
) -> ir.Table:
    """Active customers per cohort and period offset (留存 cohort table, long format).

    cohort: the first-purchase date rounded down to the period (weeks start on Monday when
    period_days = 7), or the value of `cohort_column` on the customer's first purchase (e.g.
    campaign_id); offset: whole periods since the customer's first purchase day; customers:
    distinct customers of the cohort active in that period (offset 0 = the cohort size).
    """
    t = transactions
    day = t[when].cast("date")
    rows = t.select(
        customer_id=t[customer].cast("string"),
        day=day,
        tag=t[cohort_column].cast("string") if cohort_column else ibis.null("string"),
    )
    first = rows.group_by("customer_id").agg(
        first_day=rows.day.min(), tag=rows.tag.argmin(rows.day)
    )
    j = rows.select("customer_id", "day").join(first, "customer_id")
    offset = (j.day.delta(j.first_day, unit="day") / period_days).floor().cast("int64")
    if cohort_column:
        cohort = j.tag
    elif period_days == 7:
        cohort = j.first_day.truncate("W").strftime("%Y-%m-%d")
    else:
        cohort = j.first_day.strftime("%Y-%m-%d")
    j = j.mutate(cohort=cohort, offset=offset)
    return (
        j.group_by(["cohort", "offset"])
        .agg(customers=j.customer_id.nunique())
        .order_by(["cohort", "offset"])
    )
