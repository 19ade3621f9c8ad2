"""Windows of time shared by the KPIs: the as-of date, the last N days, months, and Activité rows.

A window of `days` ending at the as-of date is (as_of − days, as_of]: `days` calendar days
including the as-of day. Activité gives monthly figures; a month that straddles a window's
edge counts pro rata of its days in the window (its figure spread evenly over its days).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from encaisse.fr import date
from encaisse.ledger import Links, Receivables, as_timestamp, euro_factors, receivables as compute_receivables

DAY = np.timedelta64(1, "D")


def day64(value: object) -> np.datetime64:
    return np.datetime64(as_timestamp(value).to_datetime64(), "ns")


def book_of(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, rates, given: Receivables | None) -> Receivables:
    """The receivables at as_of: the precomputed record when given (same date), else computed."""
    if given is not None:
        if given.as_of != as_timestamp(as_of):
            raise ValueError(f"créances calculées au {date(given.as_of)} et non au {date(as_timestamp(as_of))}")
        return given
    return compute_receivables(invoices, payments, as_of, rates=rates)


def euro_amounts(invoices: pd.DataFrame, rates) -> np.ndarray:
    """Invoice amounts in euros (other currencies converted with `rates` or refused)."""
    factor = euro_factors(invoices, rates)
    return amounts(invoices) if factor is None else amounts(invoices) * factor


def amounts(frame: pd.DataFrame, column: str = "amount") -> np.ndarray:
    return np.nan_to_num(frame[column].to_numpy(dtype=float, na_value=np.nan))


def dates(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy(dtype="datetime64[ns]")


def in_window(when: np.ndarray, as_of: object, days: int | None) -> np.ndarray:
    """Mask of dates in (as_of − days, as_of]; every date up to as_of when days is None."""
    end = day64(as_of)
    mask = when <= end
    if days is not None:
        mask &= when > end - int(days) * DAY
    return mask


def sales(links: Links, as_of: object, days: int) -> float:
    """Sales TTC invoiced in the window, net of credit notes issued in it."""
    return float(links.invoice_amount[in_window(links.issue_date, as_of, days)].sum())


def month_end(stamp: pd.Timestamp) -> pd.Timestamp:
    return (stamp + pd.offsets.MonthEnd(0)).normalize()


def months_before(as_of: object, months: int) -> pd.Timestamp:
    """as_of minus `months` months; from a month's last day, the last day of the earlier month."""
    stamp = as_timestamp(as_of)
    earlier = stamp - pd.DateOffset(months=int(months))
    return month_end(earlier) if stamp == month_end(stamp) else earlier


def activity_total(activity: pd.DataFrame, column: str, as_of: object, days: int) -> float:
    """Sum of an Activité column over (as_of − days, as_of], months pro rata of their days inside."""
    if activity is None or activity.empty:
        return 0.0
    start = day64(as_of) - int(days) * DAY + DAY  # first day inside the window
    end = day64(as_of)
    first = dates(activity, "month").astype("datetime64[M]")
    month_start = first.astype("datetime64[D]").astype("datetime64[ns]")
    month_stop = (first + 1).astype("datetime64[D]").astype("datetime64[ns]") - DAY  # last day
    length = (month_stop - month_start) / DAY + 1
    inside = (np.minimum(month_stop, end) - np.maximum(month_start, start)) / DAY + 1
    share = np.clip(np.nan_to_num(inside), 0.0, None) / length
    return float((amounts(activity, column) * share).sum())


def activity_at(activity: pd.DataFrame, column: str, as_of: object) -> float:
    """The column's value for the as-of month, else the latest earlier month; NaN without any."""
    if activity is None or activity.empty:
        return float("nan")
    month = dates(activity, "month").astype("datetime64[M]")
    wanted = day64(as_of).astype("datetime64[M]")
    known = month <= wanted
    if not known.any():
        return float("nan")
    latest = month[known].max()
    return float(amounts(activity, column)[month == latest].sum())


def ratio_days(numerator: float, denominator: float, days: float) -> float:
    """numerator / denominator × days; 0 when nothing is outstanding; NaN when the base is zero."""
    if abs(numerator) < 0.005:
        return 0.0
    if denominator <= 0:
        return float("nan")
    return numerator / denominator * days
