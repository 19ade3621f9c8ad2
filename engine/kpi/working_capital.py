"""Working capital in days: DPO, DIO, cash conversion cycle, and the cash released by moving them.

DPO = payables open at as-of / purchases TTC over the last `days` days × `days`, where a
payable (Dettes) is open when issued on or before as-of and not paid by then (Payé le blank or
after as-of). DIO = stock at the as-of month's end / cost of sales over the last `days` days ×
`days`. Purchases, cost of sales and stock come from Activité (monthly rows; months straddling
the window count pro rata, see `encaisse.kpi.periods`). The stock is the as-of month's « Stock
fin de mois », or the latest earlier month's when the as-of month has no row; NaN without any.
Nothing owed (or no stock) gives 0 days; something owed with no purchases (or cost of sales)
in the window gives NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from encaisse.kpi.outstanding import dso as dso_days
from encaisse.kpi.periods import activity_at, activity_total, amounts, dates, day64, ratio_days
from encaisse.ledger import Receivables


def open_payables(payables: pd.DataFrame, as_of: object) -> float:
    """Total of the payables issued on or before as-of and not paid by then."""
    if payables is None or payables.empty:
        return 0.0
    end = day64(as_of)
    paid = dates(payables, "paid_date") if "paid_date" in payables.columns else np.full(len(payables), np.datetime64("NaT"), "datetime64[ns]")
    is_open = (dates(payables, "issue_date") <= end) & ~(paid <= end)
    return float(amounts(payables)[is_open].sum())


def dpo(payables: pd.DataFrame, activity: pd.DataFrame, as_of: object, days: int = 90) -> float:
    """Days payables outstanding: open payables / purchases TTC over `days` days × `days`."""
    return ratio_days(open_payables(payables, as_of), activity_total(activity, "purchases", as_of, days), days)


def dio(activity: pd.DataFrame, as_of: object, days: int = 90) -> float:
    """Days inventory outstanding: stock at the as-of month's end / cost of sales over `days` days × `days`."""
    stock = activity_at(activity, "inventory", as_of)
    if np.isnan(stock):
        return float("nan")
    return ratio_days(stock, activity_total(activity, "cogs", as_of, days), days)


def conversion_cycle(dso: float, dpo: float, dio: float) -> float:
    """Cash conversion cycle in days = DIO + DSO − DPO (seed: 90 + 60 − 30 = 120)."""
    return dio + dso - dpo


def ccc(invoices: pd.DataFrame, payments: pd.DataFrame | None, payables: pd.DataFrame, activity: pd.DataFrame, as_of: object,
        method: str = "countback", days: int = 90, *, rates: dict[str, float] | None = None, receivables: Receivables | None = None) -> float:
    """Cash conversion cycle at `as_of` = DIO + DSO (by `method`) − DPO, all over `days` days."""
    return conversion_cycle(
        dso_days(invoices, payments, as_of, method, days, rates=rates, receivables=receivables),
        dpo(payables, activity, as_of, days),
        dio(activity, as_of, days),
    )


def released_cash(delta_dso: float = 0.0, delta_dpo: float = 0.0, delta_dio: float = 0.0, *,
                  sales: float, purchases: float, cogs: float, days: float = 30) -> float:
    """Cash released once by moving DSO, DPO and DIO by the given days (negative = shorter),
    on `sales`, `purchases` and `cogs` of a period of `days` days:

        −ΔDSO × sales/days + ΔDPO × purchases/days − ΔDIO × cogs/days

    Seed: DSO 60→35, DPO 30→40, DIO 90→65 on 50 000 € of monthly sales and 30 000 € of monthly
    purchases and cost of sales: 25 × 50 000/30 + 10 × 30 000/30 + 25 × 30 000/30 = 76 666,67 €.
    """
    return (-delta_dso * sales + delta_dpo * purchases - delta_dio * cogs) / days


def cash_released(activity: pd.DataFrame, as_of: object, delta_dso: float = 0.0, delta_dpo: float = 0.0, delta_dio: float = 0.0,
                  days: int = 90) -> float:
    """Cash released by the lever changes on the sales, purchases and cost of sales of Activité
    over the last `days` days (see `released_cash`); positive = cash freed, negative = consumed."""
    return released_cash(
        delta_dso, delta_dpo, delta_dio,
        sales=activity_total(activity, "sales", as_of, days),
        purchases=activity_total(activity, "purchases", as_of, days),
        cogs=activity_total(activity, "cogs", as_of, days),
        days=days,
    )
