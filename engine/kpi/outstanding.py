"""Days sales outstanding and how well receivables are collected: DSO, best possible DSO,
average days delinquent, collection effectiveness index (SPEC « KPIs »).

AR is the total of open items at the as-of date (after payments, credit notes and pooled
customer credit, see `encaisse.ledger.receivables`). A customer's leftover credit is a debt of
ours, not negative receivables: it is never netted against other customers' invoices.
Sales S are TTC, net of the credit notes issued in the same window or month.

Edge cases:
- AR of zero gives a DSO of 0 (nothing to collect), even without sales.
- AR with no sales in the window gives NaN (undefined: division by zero); the Excel function
  shows it as « #DIV/0! », JSON as null.
- Count-back: a month with no sales (or net negative sales, taken as 0) is walked through
  whole: receivables were outstanding during it. AR larger than every sale since the first
  invoice month: the remaining AR is converted to days at the average daily sales of the
  whole recorded history (NaN when that history has no sales).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from encaisse.fr import date
from encaisse.kpi.periods import book_of, day64, months_before, ratio_days, sales
from encaisse.ledger import HALF_CENT, Links, Receivables, receivables as compute_receivables

METHODS = ("countback", "period")


def dso(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, method: str = "countback", days: int = 90, *,
        rates: dict[str, float] | None = None, receivables: Receivables | None = None) -> float:
    """Days sales outstanding at `as_of`.

    - "period": AR / sales over the last `days` days × `days`.
    - "countback" (méthode par épuisement du CA, default): walk back month by month from the
      as-of month (counted from its 1st to the as-of day, with its sales to date): while AR ≥
      S(m), AR −= S(m) and add the month's days; then add AR / S(m) × days of month m.
      Example at 30/06 with AR 232 800, S(juin) 100 000, S(mai) 90 000, S(avril) 60 000:
      30 + 31 + 42 800 / 60 000 × 30 = 30 + 31 + 21,4 = 82,4 days.
    """
    if method not in METHODS:
        raise ValueError(f"méthode « {method} » inconnue : « countback » (épuisement) ou « period » (période)")
    book = book_of(invoices, payments, as_of, rates, receivables)
    ar = book.open_amount
    if method == "period":
        return ratio_days(ar, sales(book.links, book.as_of, days), days)
    return countback_days(book.links, book.as_of, ar)


def countback_days(links: Links, as_of: object, ar: float) -> float:
    """Days of sales that `ar` represents walking back month by month from the as-of month."""
    if ar < HALF_CENT:
        return 0.0
    end = day64(as_of)
    issue = links.issue_date
    known = issue <= end
    if not known.any():
        return float("nan")
    months = issue[known].astype("datetime64[M]")
    this_month = end.astype("datetime64[M]")
    back = (this_month - months).astype("int64")  # 0 = the as-of month, 1 = the month before, …
    per_month = np.clip(np.bincount(back, weights=links.invoice_amount[known]), 0.0, None)
    month_starts = this_month - np.arange(len(per_month))
    month_days = ((month_starts + 1).astype("datetime64[D]") - month_starts.astype("datetime64[D]")).astype("int64").astype(float)
    month_days[0] = (end.astype("datetime64[D]") - this_month.astype("datetime64[D]")).astype("int64") + 1
    walked = np.cumsum(per_month)
    k = int(np.searchsorted(walked, ar, side="left"))  # first month whose sales finish absorbing AR
    if k == len(per_month):
        total_sales, total_days = walked[-1], month_days.sum()
        if total_sales <= 0:
            return float("nan")
        return float(total_days + (ar - total_sales) / (total_sales / total_days))
    before = walked[k - 1] if k else 0.0
    return float(month_days[:k].sum() + (ar - before) / per_month[k] * month_days[k])


def best_possible_dso(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, days: int = 90, *,
                      rates: dict[str, float] | None = None, receivables: Receivables | None = None) -> float:
    """Best possible DSO: current (not yet due: days_past_due ≤ 0) AR / sales over `days` days × `days`."""
    book = book_of(invoices, payments, as_of, rates, receivables)
    return ratio_days(book.current_amount, sales(book.links, book.as_of, days), days)


def average_days_delinquent(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, method: str = "countback", days: int = 90, *,
                            rates: dict[str, float] | None = None, receivables: Receivables | None = None) -> float:
    """Average days delinquent = DSO − best possible DSO.

    DSO by `method` (count-back by default, like `dso`, so that the figures shown side by side
    add up); best possible DSO is by period (SPEC's definition) over the same `days`.
    """
    book = book_of(invoices, payments, as_of, rates, receivables)
    return dso(None, None, as_of, method, days, receivables=book) - best_possible_dso(None, None, as_of, days, receivables=book)


def cei(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, months: int = 3, *,
        rates: dict[str, float] | None = None, receivables: Receivables | None = None, receivables_begin: Receivables | None = None) -> float:
    """Collection effectiveness index (Credit Research Foundation) as a fraction, like every rate
    (1.0 = the index's 100 %), over the `months` months ending at `as_of` (from a month's last day,
    the period starts after the last day of the month `months` earlier; otherwise on the same day
    `months` earlier):

        (AR begin + S − AR end) / (AR begin + S − current AR end)

    with S = sales of the period / `months` and current AR end = AR not yet due at `as_of`.
    1.0 means everything collectable was collected. NaN when the denominator is not positive.
    """
    book = book_of(invoices, payments, as_of, rates, receivables)
    begin = months_before(book.as_of, months)
    if receivables_begin is None:
        receivables_begin = compute_receivables(None, None, begin, links=book.links)
    elif receivables_begin.as_of != begin:
        raise ValueError(f"créances de début calculées au {date(receivables_begin.as_of)} et non au {date(begin)}")
    period_days = int((book.as_of - begin).days)
    s = sales(book.links, book.as_of, period_days) / months
    current_end = book.current_amount
    ar_begin, ar_end = receivables_begin.open_amount, book.open_amount
    denominator = ar_begin + s - current_end
    if denominator <= 0:
        return float("nan")
    return (ar_begin + s - ar_end) / denominator
