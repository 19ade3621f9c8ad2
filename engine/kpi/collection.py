"""How customers pay: recovery rate, dispute rate, dunning success rate, payment delays.

Rates are fractions (0.95 = 95 %); NaN when their base is empty (nothing due, no invoice,
no reminder, no payment). Windows are (as_of − days, as_of]; `days=None` means every date up
to as_of.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from encaisse.kpi.periods import DAY, amounts, dates, day64, euro_invoices, in_window
from encaisse.ledger import HALF_CENT, to_euros


def _share(part: float, whole: float) -> float:
    return part / whole if whole > 0 else float("nan")


def recovery_rate(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, days: int = 90, *,
                  rates: dict[str, float] | None = None) -> float:
    """Taux de recouvrement: amounts collected in the window (every payment received, matched or
    not) / amounts falling due in it (invoices whose due date is in the window, net of credit
    notes due in it). Above 1 when older arrears were collected too."""
    if payments is None:
        payments = invoices.iloc[:0][["invoice_id", "customer_id"]].assign(payment_date=pd.NaT, amount=0.0)
    invoices, payments = to_euros(invoices, payments, rates)
    collected = amounts(payments)[in_window(dates(payments, "payment_date"), as_of, days)].sum()
    falling_due = amounts(invoices)[in_window(dates(invoices, "due_date"), as_of, days)].sum()
    return _share(float(collected), float(falling_due))


@dataclass(frozen=True)
class DisputeRate:
    """Disputed share of the invoices issued in the window, by count and by amount."""

    count: float
    amount: float


def is_disputed(invoices: pd.DataFrame, as_of: object) -> np.ndarray:
    """Litige filled (not blank) and, when Date litige is filled, dated on or before as_of."""
    if "dispute" not in invoices.columns:
        return np.zeros(len(invoices), dtype=bool)
    flag = invoices["dispute"].astype("string").str.strip().fillna("").to_numpy(dtype=object) != ""
    if "dispute_date" in invoices.columns:
        flag &= ~(dates(invoices, "dispute_date") > day64(as_of))
    return flag


def dispute_rate(invoices: pd.DataFrame, as_of: object, days: int | None = 365, *, rates: dict[str, float] | None = None) -> DisputeRate:
    """Taux de litige: disputed invoices / invoices issued in the last `days` days (default one
    year; None = all up to as_of), by count and by amount TTC. Credit notes are not invoices."""
    invoices = euro_invoices(invoices, rates)
    amount = amounts(invoices)
    issued = in_window(dates(invoices, "issue_date"), as_of, days) & (amount > 0)
    disputed = issued & is_disputed(invoices, as_of)
    return DisputeRate(_share(float(disputed.sum()), float(issued.sum())), _share(float(amount[disputed].sum()), float(amount[issued].sum())))


def settlement_dates(invoices: pd.DataFrame, payments: pd.DataFrame, as_of: object) -> np.ndarray:
    """Per invoice row, the date its matched payments (dated ≤ as_of) first add up to its amount
    (within half a cent); NaT when never. Unmatched payments and credit are not traced in time."""
    settled = np.full(len(invoices), np.datetime64("NaT"), dtype="datetime64[ns]")
    if payments is None or payments.empty or invoices.empty:
        return settled
    paid_on = dates(payments, "payment_date")
    keep = paid_on <= day64(as_of)
    index = pd.Index(invoices["invoice_id"].to_numpy(dtype=object))
    first = ~index.duplicated()
    position = pd.Index(index[first]).get_indexer(payments["invoice_id"].to_numpy(dtype=object)[keep])
    position = np.where(position >= 0, np.flatnonzero(first)[np.maximum(position, 0)], -1)
    matched = position >= 0
    position, when, paid = position[matched], paid_on[keep][matched], amounts(payments)[keep][matched]
    order = np.lexsort((when, position))
    position, when, paid = position[order], when[order], paid[order]
    running = np.cumsum(paid)
    starts = np.r_[True, position[1:] != position[:-1]] if len(position) else np.zeros(0, dtype=bool)
    start_of_group = np.maximum.accumulate(np.where(starts, np.arange(len(position)), 0))
    base = (running - paid)[start_of_group]
    reached = (running - base) >= amounts(invoices)[position] - HALF_CENT
    rows, first_hit = np.unique(position[reached], return_index=True)
    settled[rows] = when[reached][first_hit]
    return settled


def dunning_success_rate(journal: pd.DataFrame, invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object,
                         window: int = 15) -> float:
    """Taux de relance résolue: reminders followed by full payment of their invoice within
    `window` days / reminders sent.

    Every Journal row is a reminder of its invoice. Only reminders whose window has ended by
    as_of count (dated ≤ as_of − window); a reminder about an invoice already settled before
    the reminder's date is left out. An invoice is fully paid when its matched payments add up
    to its amount (see `settlement_dates`)."""
    if journal is None or journal.empty or invoices.empty:
        return float("nan")
    settled = settlement_dates(invoices, payments, as_of)
    sent = dates(journal, "date")
    due = sent <= day64(as_of) - int(window) * DAY
    index = pd.Index(invoices["invoice_id"].to_numpy(dtype=object))
    index = index[~index.duplicated()] if not index.is_unique else index
    where = index.get_indexer(journal["invoice_id"].to_numpy(dtype=object))
    first = np.flatnonzero(~pd.Index(invoices["invoice_id"].to_numpy(dtype=object)).duplicated())
    settled_on = np.where(where >= 0, settled[first[np.maximum(where, 0)]], np.datetime64("NaT"))
    counted = due & ~(settled_on < sent)
    resolved = counted & (settled_on <= sent + int(window) * DAY)
    return _share(float(resolved.sum()), float(counted.sum()))


def _matched_delays(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, days: int | None, rates):
    if payments is None or payments.empty or invoices.empty:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    invoices, payments = to_euros(invoices, payments, rates)
    paid_on = dates(payments, "payment_date")
    keep = in_window(paid_on, as_of, days)
    amount = amounts(payments)[keep]
    index = pd.Index(invoices["invoice_id"].to_numpy(dtype=object))
    first = np.flatnonzero(~index.duplicated())
    where = pd.Index(index[first]).get_indexer(payments["invoice_id"].to_numpy(dtype=object)[keep])
    row = first[np.maximum(where, 0)]
    use = (where >= 0) & (amount > 0) & (amounts(invoices)[row] > 0)
    row, when, weight = row[use], paid_on[keep][use], amount[use]
    delay = (when - dates(invoices, "issue_date")[row]) / DAY
    late = np.maximum((when - dates(invoices, "due_date")[row]) / DAY, 0.0)
    return weight, delay, late


def mean_payment_delay(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, days: int | None = 365, *,
                       rates: dict[str, float] | None = None) -> float:
    """Délai moyen de paiement: mean of (payment date − invoice date) in days, weighted by the
    amounts paid, over the payments received in the last `days` days that name an invoice
    (unmatched payments cannot be dated against an invoice; refunds are left out)."""
    weight, delay, _ = _matched_delays(invoices, payments, as_of, days, rates)
    return float(np.average(delay, weights=weight)) if weight.sum() > 0 else float("nan")


def mean_days_late(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, days: int | None = 365, *,
                   rates: dict[str, float] | None = None) -> float:
    """Retard moyen: mean of max(0, payment date − due date) in days, weighted like `mean_payment_delay`."""
    weight, _, late = _matched_delays(invoices, payments, as_of, days, rates)
    return float(np.average(late, weights=weight)) if weight.sum() > 0 else float("nan")
