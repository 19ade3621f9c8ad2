"""How customers pay: recovery rate, dispute rate, dunning success rate, payment delays.

Rates are fractions (0.95 = 95 %); NaN when their base is empty (nothing due, no invoice,
no reminder, no payment). Windows are (as_of − days, as_of]; `days=None` means every date up
to as_of. Each function also takes `receivables=` (a `Receivables` computed once) to reuse its
links between payments, invoices and customers instead of recomputing them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from encaisse.kpi.periods import DAY, amounts, dates, day64, euro_amounts, in_window
from encaisse.ledger import HALF_CENT, Links, Receivables, link, to_euros


def _share(part: float, whole: float) -> float:
    return part / whole if whole > 0 else float("nan")


def _links(invoices, payments, rates, receivables: Receivables | None) -> Links:
    return receivables.links if receivables is not None else link(invoices, payments, rates)


def recovery_rate(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, days: int = 90, *,
                  rates: dict[str, float] | None = None, receivables: Receivables | None = None) -> float:
    """Taux de recouvrement: amounts collected in the window (every payment received, matched or
    not) / amounts falling due in it (invoices whose due date is in the window, net of credit
    notes due in it). Above 1 when older arrears were collected too."""
    if receivables is not None:
        links = receivables.links
        paid_on, paid, due_on, due = links.payment_date, links.payment_amount, links.due_date, links.invoice_amount
    else:
        if payments is None or payments.empty:
            paid_on, paid = np.zeros(0, dtype="datetime64[ns]"), np.zeros(0)
            due = euro_amounts(invoices, rates)
        else:
            invoices, payments = to_euros(invoices, payments, rates)
            paid_on, paid, due = dates(payments, "payment_date"), amounts(payments), amounts(invoices)
        due_on = dates(invoices, "due_date")
    collected = paid[in_window(paid_on, as_of, days)].sum()
    falling_due = due[in_window(due_on, as_of, days)].sum()
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
    column = invoices["dispute"]
    flag = column.notna().to_numpy(copy=True)
    filled = np.flatnonzero(flag)
    if len(filled):  # only the few filled cells, and each distinct text once, are looked at as text
        codes, distinct = pd.factorize(column.to_numpy(dtype=object)[filled])
        flag[filled] = np.array([str(text).strip() != "" for text in distinct], dtype=bool)[codes]
    if "dispute_date" in invoices.columns:
        flag &= ~(dates(invoices, "dispute_date") > day64(as_of))
    return flag


def dispute_rate(invoices: pd.DataFrame, as_of: object, days: int | None = 365, *, rates: dict[str, float] | None = None,
                 receivables: Receivables | None = None) -> DisputeRate:
    """Taux de litige: disputed invoices / invoices issued in the last `days` days (default one
    year; None = all up to as_of), by count and by amount TTC. Credit notes are not invoices."""
    if receivables is not None:
        invoices, amount, issue = receivables.invoices, receivables.links.invoice_amount, receivables.links.issue_date
    else:
        amount, issue = euro_amounts(invoices, rates), dates(invoices, "issue_date")
    issued = in_window(issue, as_of, days) & (amount > 0)
    disputed = issued & is_disputed(invoices, as_of)
    return DisputeRate(_share(float(disputed.sum()), float(issued.sum())), _share(float(amount[disputed].sum()), float(amount[issued].sum())))


def settlement_dates(links: Links, as_of: object, wanted: np.ndarray | None = None) -> np.ndarray:
    """Per invoice row, the date its matched payments (dated ≤ as_of) first add up to its amount
    (within half a cent); NaT when never. Only rows marked in `wanted` (all when None) are
    worked out. Unmatched payments and pooled credit are not traced in time."""
    n = len(links.invoice_amount)
    settled = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    target = links.payment_invoice
    use = (links.payment_date <= day64(as_of)) & (target >= 0)
    if wanted is not None:
        use[use] = wanted[target[use]]
    position, when, paid = target[use], links.payment_date[use], links.payment_amount[use]
    if not len(position):
        return settled
    order = np.lexsort((when.view("int64"), position))
    position, when, paid = position[order], when[order], paid[order]
    running = np.cumsum(paid)
    starts = np.r_[True, position[1:] != position[:-1]]
    start_of_group = np.maximum.accumulate(np.where(starts, np.arange(len(position)), 0))
    base = (running - paid)[start_of_group]
    reached = (running - base) >= links.invoice_amount[position] - HALF_CENT
    rows, first_hit = np.unique(position[reached], return_index=True)
    settled[rows] = when[reached][first_hit]
    return settled


def dunning_success_rate(journal: pd.DataFrame, invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object,
                         window: int = 15, *, rates: dict[str, float] | None = None, receivables: Receivables | None = None) -> float:
    """Taux de relance résolue: reminders followed by full payment of their invoice within
    `window` days / reminders sent.

    Every Journal row is a reminder of its invoice. Only reminders whose window has ended by
    as_of count (dated ≤ as_of − window); a reminder about an invoice already settled before
    the reminder's date is left out; a reminder naming an unknown invoice counts as not
    resolved. An invoice is fully paid when its matched payments add up to its amount (see
    `settlement_dates`)."""
    if journal is None or journal.empty:
        return float("nan")
    links = _links(invoices, payments, rates, receivables)
    if not len(links.invoice_amount):
        return float("nan")
    sent = dates(journal, "date")
    counted = sent <= day64(as_of) - int(window) * DAY
    where = np.where(counted, links.positions(journal["invoice_id"].to_numpy(dtype=object)), -1) if counted.any() else np.full(len(sent), -1)
    wanted = np.zeros(len(links.invoice_amount), dtype=bool)
    wanted[where[where >= 0]] = True
    settled = settlement_dates(links, as_of, wanted)
    settled_on = np.where(where >= 0, settled[np.maximum(where, 0)], np.datetime64("NaT"))
    counted &= ~(settled_on < sent)
    resolved = counted & (settled_on <= sent + int(window) * DAY)
    return _share(float(resolved.sum()), float(counted.sum()))


def _matched_delays(invoices, payments, as_of, days, rates, receivables):
    if receivables is None and (payments is None or payments.empty or invoices.empty):
        return np.zeros(0), np.zeros(0), np.zeros(0)
    links = _links(invoices, payments, rates, receivables)
    target = links.payment_invoice
    use = in_window(links.payment_date, as_of, days) & (target >= 0) & (links.payment_amount > 0)
    use[use] = links.invoice_amount[target[use]] > 0
    row, when, weight = target[use], links.payment_date[use], links.payment_amount[use]
    delay = (when - links.issue_date[row]) / DAY
    late = np.maximum((when - links.due_date[row]) / DAY, 0.0)
    return weight, delay, late


def mean_payment_delay(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, days: int | None = 365, *,
                       rates: dict[str, float] | None = None, receivables: Receivables | None = None) -> float:
    """Délai moyen de paiement: mean of (payment date − invoice date) in days, weighted by the
    amounts paid, over the payments received in the last `days` days that name an invoice
    (unmatched payments cannot be dated against an invoice; refunds are left out)."""
    weight, delay, _ = _matched_delays(invoices, payments, as_of, days, rates, receivables)
    return float(np.average(delay, weights=weight)) if weight.sum() > 0 else float("nan")


def mean_days_late(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, days: int | None = 365, *,
                   rates: dict[str, float] | None = None, receivables: Receivables | None = None) -> float:
    """Retard moyen: mean of max(0, payment date − due date) in days, weighted like `mean_payment_delay`."""
    weight, _, late = _matched_delays(invoices, payments, as_of, days, rates, receivables)
    return float(np.average(late, weights=weight)) if weight.sum() > 0 else float("nan")
