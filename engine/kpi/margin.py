"""Gross margin and monthly operating cash flow."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from encaisse.kpi.periods import activity_total, amounts, dates, day64
from encaisse.ledger import Receivables


@dataclass(frozen=True)
class GrossMargin:
    """Marge brute over a window: sales − cost of sales (amount) and its share of sales (rate)."""

    sales: float
    cogs: float
    amount: float
    rate: float


def gross_margin(activity: pd.DataFrame, as_of: object, days: int = 90) -> GrossMargin:
    """Marge brute from Activité over the last `days` days (months pro rata): CA − coût des
    ventes, and (CA − coût des ventes) / CA (NaN without sales). Seed: 50 000 € of sales and
    30 000 € of cost of sales in a month → 20 000 €, 40 %."""
    sales = activity_total(activity, "sales", as_of, days)
    cogs = activity_total(activity, "cogs", as_of, days)
    margin = sales - cogs
    return GrossMargin(sales, cogs, margin, margin / sales if sales > 0 else float("nan"))


def operating_cash_flow(payments: pd.DataFrame | None, payables: pd.DataFrame | None, as_of: object, months: int = 12, *,
                        receivables: Receivables | None = None) -> pd.DataFrame:
    """Cash-flow d'exploitation per calendar month, the `months` months ending with the as-of
    month (which counts up to the as-of day): receipts = customer payments (Règlements) dated
    in the month; disbursements = payables (Dettes) paid in the month (Payé le), whatever their
    priority (suppliers, taxes, social charges, salaries are all operating). Loans and
    investments are not in these tables, so financing and investment flows are excluded by
    construction; Trésorerie's recurring flows are a forecast, not history, and are not used.

    Columns: month (first day), receipts, disbursements, net (= receipts − disbursements).
    With `receivables`, receipts are its payments in euros."""
    end = day64(as_of)
    this_month = end.astype("datetime64[M]")
    first = this_month - (int(months) - 1)

    def per_month(when, amount):
        keep = (when <= end) & (when.astype("datetime64[M]") >= first)
        slot = (when[keep].astype("datetime64[M]") - first).astype("int64")
        return np.bincount(slot, weights=amount[keep], minlength=int(months))

    def of(frame, column):
        if frame is None or frame.empty or column not in frame.columns:
            return np.zeros(0, dtype="datetime64[ns]"), np.zeros(0)
        return dates(frame, column), amounts(frame)

    if receivables is not None:
        receipts = per_month(receivables.links.payment_date, receivables.links.payment_amount)
    else:
        receipts = per_month(*of(payments, "payment_date"))
    disbursements = per_month(*of(payables, "paid_date"))
    return pd.DataFrame({
        "month": (first + np.arange(int(months))).astype("datetime64[ns]"),
        "receipts": receipts,
        "disbursements": disbursements,
        "net": receipts - disbursements,
    })
