"""Solvency score 0–100 per customer from its payment history, and its risk class.

Each factor is a number measured per customer (`days_late`, `late_share`, ...). It becomes a
sub-score 0–100 by a straight line between the value that earns 100 (`best`) and the value
that earns 0 (`worst`), clipped outside them; `best` may be below or above `worst` (fewer days
late is better, more business volume is better). The score is the weighted mean of the
sub-scores, rounded half up to a whole number at the end, and the risk class is the first class
whose minimum the rounded score reaches.

The factors, measured as of `as_of` (invoices issued and payments dated after it are ignored).
The window is the `window_days` days up to as_of included (365: 01/11/2025–31/10/2026 for an
as-of of 31/10/2026). The *measured* invoices are those issued in the window plus, whatever
their age, those still open past their due date, so that a customer who stopped paying long
ago keeps being measured by them. Credit notes are not invoices here (they reduce what is open).

- `days_late`: amount-weighted mean days late over the measured invoices already due: each
  payment matched to one of them weighs its amount at max(0, payment date − due date); each
  euro still open past due weighs at as_of − due date. Unmatched payments reduce what is open
  (through `ledger.open_items`) but have no date against an invoice, so they weigh nothing.
- `late_share`: share of the measured invoices already due that were paid late (last matched
  payment after the due date) or are still open past their due date.
- `unpaid_count`: number of invoices open and past due at as_of, whatever their age.
- `dispute_rate`: share of the measured invoices with a dispute (Litige not blank).
- `volume`: sales TTC invoiced in the window (credit notes deduct).
- `external_rating`: Clients « Note externe », on the scale given by its best/worst values.
  A blank rating takes the factor out: its weight is shared over the other factors in
  proportion to their weights (the score is Σ wᵢ·sᵢ / Σ wᵢ over the factors present).

A history factor that cannot be measured (nothing due yet, so no lateness to observe) scores
`neutral_score`.

A customer with no history (no invoice issued on or before as_of) has no history factor: each
history sub-score is `neutral_score`, so its score is `neutral_score` (default 60, class B: a
new customer gets ordinary terms) unless an external rating moves it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from encaisse.ledger import Receivables, receivables as compute_receivables
from encaisse.rules.records import FACTORS, HISTORY_FACTORS, ScoringPolicy

if TYPE_CHECKING:
    from encaisse.ledger import Receivables


_CENT = 0.005  # an open amount below half a cent is settled


def _customer_universe(invoices: pd.DataFrame, customers: pd.DataFrame) -> pd.Index:
    """Clients' customers in their order, then customers seen only on invoices (sorted)."""
    listed = pd.Index(_text(customers["customer_id"]).dropna()).drop_duplicates()
    seen = pd.Index(_text(invoices["customer_id"]).dropna().unique())
    extra = seen.difference(listed).sort_values()
    return listed.append(extra).rename("customer_id")


def _text(column: pd.Series) -> pd.Series:
    return column.astype("str")  # blanks stay NA


def _has_text(column: pd.Series) -> np.ndarray:
    text = _text(column)
    filled = text.notna().to_numpy(copy=True)
    filled[filled] = text[filled].str.strip().ne("").to_numpy()
    return filled


def _days(values: np.ndarray) -> np.ndarray:
    return values.astype("datetime64[D]").astype("int64").astype("float64")


def customer_factors(
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: dt.date | pd.Timestamp,
    window_days: int = 365,
    *,
    rates: dict[str, float] | None = None,
    receivables: Receivables | None = None,
) -> pd.DataFrame:
    """The factor values per customer (index customer_id), NA where a factor cannot be measured.

    Payments are matched and allocated once, by `encaisse.ledger.receivables` (pass `receivables=`
    to share it with other computations of the same date; `rates` converts other currencies, as
    for the KPIs). Customers are integer codes (their place in the universe) and every
    per-customer figure is one np.bincount over the invoices or payments.
    """
    as_of = pd.Timestamp(as_of).normalize()
    book = receivables if receivables is not None else compute_receivables(invoices, payments, as_of, rates=rates)
    links = book.links
    invoices = links.invoices
    as_of64 = np.datetime64(as_of.to_datetime64(), "ns")
    window_start = np.datetime64((as_of - pd.Timedelta(days=window_days - 1)).to_datetime64(), "ns")
    universe = _customer_universe(invoices, customers)
    n = len(universe)

    def per_customer(codes: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        known = codes >= 0
        return np.bincount(codes[known], weights=None if weights is None else weights[known], minlength=n).astype("float64")

    customer = universe.get_indexer(_text(invoices["customer_id"]))
    open_amount = book.open_by_invoice
    days_past_due = book.days_past_due
    issue, due = links.issue_date, links.due_date
    overdue_open = book.is_item & (open_amount >= _CENT) & (days_past_due > 0)
    measured = book.is_item & ((issue >= window_start) | overdue_open)
    fallen_due = measured & (due <= as_of64)

    # Payments dated up to as_of that the allocation matched to an invoice fallen due.
    target = links.payment_invoice
    matched = (links.payment_date <= as_of64) & (target >= 0)
    matched[matched] = fallen_due[target[matched]]
    position = target[matched]
    paid_on = _days(links.payment_date[matched])
    paid_amount = np.clip(np.nan_to_num(links.payment_amount[matched]), 0.0, None)
    due_day = _days(due)

    # Days late weighted by amount: each matched payment, and each euro still open past due.
    open_part = fallen_due & (open_amount >= _CENT)
    codes = np.concatenate([customer[position], customer[open_part]])
    weights = np.concatenate([paid_amount, open_amount[open_part]])
    days = np.concatenate([np.clip(paid_on - due_day[position], 0.0, None), np.clip(days_past_due[open_part], 0.0, None)])
    weight = per_customer(codes, weights)
    days_late = per_customer(codes, weights * days) / np.where(weight > 0, weight, np.nan)

    last_payment = np.full(len(invoices), -np.inf)
    np.maximum.at(last_payment, position, paid_on)
    late = (last_payment > due_day) | overdue_open
    fallen_count = per_customer(customer[fallen_due])
    late_share = per_customer(customer[fallen_due], late[fallen_due].astype("float64")) / np.where(fallen_count > 0, fallen_count, np.nan)

    disputed = _has_text(invoices["dispute"]) if "dispute" in invoices.columns else np.zeros(len(invoices), dtype=bool)
    measured_count = per_customer(customer[measured])
    dispute_rate = per_customer(customer[measured], disputed[measured].astype("float64")) / np.where(measured_count > 0, measured_count, np.nan)
    unpaid_count = per_customer(customer[overdue_open])

    issued = issue <= as_of64
    history = per_customer(customer[issued]) > 0
    recent = issued & (issue >= window_start)
    volume = per_customer(customer[recent], np.nan_to_num(links.invoice_amount[recent]))

    rating = np.full(n, np.nan)
    if "external_rating" in customers.columns:
        rated = universe.get_indexer(_text(customers["customer_id"]))
        values = pd.to_numeric(customers["external_rating"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        keep = (rated >= 0) & ~pd.Index(rated).duplicated()  # the first line of a duplicated code
        rating[rated[keep]] = values[keep]

    return pd.DataFrame(
        {
            "has_history": history,
            "days_late": days_late,
            "late_share": late_share,
            "unpaid_count": np.where(history, unpaid_count, np.nan),
            "dispute_rate": dispute_rate,
            "volume": np.where(history, volume, np.nan),
            "external_rating": rating,
        },
        index=universe,
    )


def score_customers(
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: dt.date | pd.Timestamp,
    policy: ScoringPolicy = ScoringPolicy(),
    *,
    rates: dict[str, float] | None = None,
    receivables: Receivables | None = None,
) -> pd.DataFrame:
    """One row per customer: factor values, their sub-scores (`<factor>_score`), `score` 0–100, `risk_class`.

    A history factor that cannot be measured (no history, or nothing fallen due in the window)
    scores `policy.neutral_score`; a blank external rating drops out of the weighted mean.
    """
    frame = customer_factors(invoices, payments, customers, as_of, policy.window_days, rates=rates, receivables=receivables)
    weighted = pd.Series(0.0, index=frame.index)
    weights = pd.Series(0.0, index=frame.index)
    for name in FACTORS:  # six factors, each a whole column at once
        factor = policy.factor(name)
        sub = factor.sub_score(frame[name])
        if name in HISTORY_FACTORS:
            sub = sub.fillna(policy.neutral_score)
        frame[f"{name}_score"] = sub
        weighted += (sub * factor.weight).fillna(0.0)
        weights += sub.notna() * factor.weight
    exact = (weighted / weights.where(weights > 0)).fillna(policy.neutral_score)
    frame["score"] = np.floor(exact + 0.5)
    frame["risk_class"] = policy.risk_class(frame["score"])
    return frame.reset_index()
