"""Late-payment penalties of Code de commerce L441-10 on open invoices, as of a date.

Interest runs from the day after the due date to the as-of date included (days late =
as_of − due date) and accrues day by day: each day late bears the rate of the half-year it
falls in, on a 365-day year:

    interest = open amount × Σ over half-years (rate of the half-year × days late in it) / 365

The rate of a half-year is, by default, the ECB main refinancing rate in force on its
1 January or 1 July + 10 points (`LegalData.penalty_rate`); a contractual rate replaces it
for every half-year. Each invoice open past its due date also owes the fixed recovery
indemnity (40 €, B2B). Money is rounded to the cent only at the end (`encaisse.fr.round_cents`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from encaisse.fr import round_cents
from encaisse.rules.legal import LegalData, half_year_start

_CENT = 0.005


def _next_half_year(start: dt.date) -> dt.date:
    return dt.date(start.year, 7, 1) if start.month == 1 else dt.date(start.year + 1, 1, 1)


def late_penalty(
    open_amount,
    due_date,
    as_of: dt.date | pd.Timestamp,
    legal: LegalData,
    contractual_rate=None,
) -> pd.DataFrame:
    """Penalties per invoice: columns `days_late`, `interest`, `indemnity`, `total` (€, to the cent).

    `open_amount` and `due_date` are aligned sequences (Series keep their index, a scalar is one
    invoice). `contractual_rate` is None (legal default), a fraction (0.12 for 12 %) for every
    invoice, or a sequence with NaN where the default applies. An invoice not past due, or with
    nothing open, owes nothing. Raises encaisse.rules.legal.LegalDataError when a half-year falls
    outside the legal data.
    """
    index = open_amount.index if isinstance(open_amount, pd.Series) else None
    amount = np.atleast_1d(np.asarray(open_amount, dtype="float64"))
    due = pd.DatetimeIndex(pd.to_datetime(np.atleast_1d(np.asarray(due_date)))).normalize()
    if index is None:
        index = due_date.index if isinstance(due_date, pd.Series) else pd.RangeIndex(len(amount))
    as_of = pd.Timestamp(as_of).normalize()
    if contractual_rate is None:
        contract = np.full(len(amount), np.nan)
    else:
        contract = np.broadcast_to(np.asarray(contractual_rate, dtype="float64"), amount.shape)

    # Whole days since 1970-01-01: a day late d bears the rate of the half-year containing d.
    due_day = due.values.astype("datetime64[D]").astype("int64")
    as_of_day = np.datetime64(as_of.date(), "D").astype("int64")
    days_late = (as_of_day - due_day).astype("float64")
    owing = (amount >= _CENT) & (days_late > 0)
    interest = np.zeros(len(amount))
    if owing.any():
        first_late_day = due_day[owing].min() + 1
        start = half_year_start(dt.date(1970, 1, 1) + dt.timedelta(days=int(first_late_day)))
        while start <= as_of.date():  # one pass per half-year spanned (a handful), whole columns each
            end = _next_half_year(start)
            start_day = np.datetime64(start, "D").astype("int64")
            end_day = np.datetime64(end, "D").astype("int64")
            # days late in [start, end): from max(due + 1, start) to min(as_of + 1, end), exclusive
            days_in = np.clip(np.minimum(as_of_day + 1, end_day) - np.maximum(due_day + 1, start_day), 0, None)
            if (days_in[owing] > 0).any():
                rate = np.where(np.isnan(contract), legal.penalty_rate(start), contract)
                interest += np.where(owing, amount * rate * days_in / 365.0, 0.0)
            start = end
    indemnity = np.where(owing, legal.recovery_indemnity, 0.0)
    interest = round_cents(interest)
    return pd.DataFrame(
        {
            "days_late": np.where(owing, days_late, 0.0).astype("int64"),
            "interest": interest,
            "indemnity": indemnity,
            "total": round_cents(interest + indemnity),
        },
        index=index,
    )


def penalty_basis(rules) -> tuple[LegalData, float | None]:
    """The legal data and contractual rate that a rules folder sets (conditions.yaml « penalites_retard »).

    Mode « contractuel » gives its rate (None for « bce_plus_10 », the legal default); the
    rules' indemnity (at least 40 €) replaces the legal one.
    """
    terms = rules.payment.penalty
    legal = dataclasses.replace(rules.legal, recovery_indemnity=terms.recovery_indemnity)
    return legal, terms.contractual_rate if terms.mode == "contractuel" else None
