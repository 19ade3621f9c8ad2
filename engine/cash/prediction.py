"""Predicted payment dates of the open invoices: what the forecast needs from a payment-date model.

`DatePrediction` is the interface: per open invoice, the most likely payment day, its P10 and P90,
and `points`, K equally likely payment days (each carries 1/K of the amount) — spreading the
amount over the weeks by the distribution of past prediction errors rather than on one date.
Every day is a number of days after the as-of date (≥ 1: a prediction is never in the past).

`predict_lateness` is a first model, learned from the payments dated on or before the as-of date
only: each customer's mean lateness (settlement − due date) shrunk toward the overall mean when
the customer has few paid invoices; the errors of that rule on the history give the spread. An
invoice already overdue is predicted conditionally on not being paid yet: its error is drawn from
the history's errors large enough to put the payment after the as-of date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from encaisse.kpi.collection import settlement_dates
from encaisse.ledger import DAY, Receivables

POINTS = 20  # equally likely payment days per invoice: levels 2.5 %, 7.5 %, … 97.5 %
LEVELS = (np.arange(POINTS) + 0.5) / POINTS
SHRINKAGE = 3.0  # weight of the overall mean, in paid invoices, in a customer's mean lateness
LATENESS_RANGE = (-90.0, 365.0)  # latenesses outside are clipped: a typo in a date must not move a customer
BEYOND_HISTORY_DAYS = (7.0, 97.0)  # overdue beyond any lateness seen: spread evenly over these days from now


@dataclass(frozen=True)
class DatePrediction:
    """Per open invoice (aligned with the `rows` given to the model), days after as-of."""

    expected: np.ndarray  # int64, most likely payment day
    p10: np.ndarray  # int64
    p90: np.ndarray  # int64
    points: np.ndarray  # int64 (n, K): K equally likely payment days

    def phased(self, lever: float, horizon: int, mask: np.ndarray) -> "DatePrediction":
        """Dates of the invoices in `mask` moved by a lever phased in over the horizon (see `phase_in`)."""
        def move(days: np.ndarray) -> np.ndarray:
            rows = mask if days.ndim == 1 else mask[:, None]
            return np.where(rows, phase_in(days, lever, horizon), days)

        return DatePrediction(move(self.expected), move(self.p10), move(self.p90), move(self.points))

    def floored(self, floor: np.ndarray) -> "DatePrediction":
        """Every date at least `floor` (per invoice)."""
        return DatePrediction(np.maximum(self.expected, floor), np.maximum(self.p10, floor), np.maximum(self.p90, floor),
                              np.maximum(self.points, floor[:, None]))

    def share_by(self, day: int) -> np.ndarray:
        """Per invoice, the fraction of its amount expected on or before `day`."""
        return (self.points <= day).mean(axis=1)


def phase_in(days: np.ndarray, lever: float, horizon: int) -> np.ndarray:
    """A payment due on day `days` moved by `lever` days phased in over `horizon` days: by
    lever × day / horizon, the whole lever from the horizon's end on; never before day 1. A change
    of payment terms reaches the whole book only gradually (the seed's « transition »)."""
    if not lever:
        return days
    moved = days + np.rint(lever * np.minimum(np.maximum(days, 0) / max(horizon, 1), 1.0)).astype(np.int64)
    return np.maximum(moved, 1)


def _days(book: Receivables, dates: np.ndarray) -> np.ndarray:
    """datetime64 values as day numbers after the as-of date."""
    return ((dates.astype("datetime64[D]") - np.datetime64(book.as_of.date(), "D")) // DAY.astype("timedelta64[D]")).astype(np.int64)


def history(book: Receivables) -> tuple[np.ndarray, np.ndarray]:
    """(row positions, lateness in days) of the invoices fully paid by matched payments dated ≤ as-of."""
    links = book.links
    wanted = book.is_item & (links.invoice_amount > 0)
    settled = settlement_dates(links, book.as_of, wanted)
    paid = np.flatnonzero(~np.isnat(settled) & ~np.isnat(links.due_date))
    lateness = ((settled[paid] - links.due_date[paid]) / DAY).astype(float)
    return paid, np.clip(lateness, *LATENESS_RANGE)


def predict_lateness(book: Receivables, rows: np.ndarray) -> DatePrediction:
    """Predicted payment days of the invoices at row positions `rows` (open at the book's as-of)."""
    links = book.links
    paid, lateness = history(book)
    customers = links.invoice_customer
    n_customers = len(links.customers)
    overall = float(lateness.mean()) if len(lateness) else 0.0
    counts = np.bincount(np.maximum(customers[paid], 0), minlength=n_customers)[:n_customers] if n_customers else np.zeros(0)
    sums = np.bincount(np.maximum(customers[paid], 0), weights=lateness, minlength=n_customers)[:n_customers] if n_customers else np.zeros(0)
    customer_mean = (sums + SHRINKAGE * overall) / (counts + SHRINKAGE) if n_customers else np.zeros(0)

    def mean_of(positions: np.ndarray) -> np.ndarray:
        codes = customers[positions]
        return np.where(codes >= 0, customer_mean[np.maximum(codes, 0)] if n_customers else overall, overall)

    errors = np.sort(lateness - mean_of(paid)) if len(paid) else np.zeros(1)
    due = _days(book, links.due_date[rows])
    mean = mean_of(rows)
    # payment day = due + mean + error, conditioned on being after the as-of date (the invoice is
    # still open): error > −due − mean. It matters for overdue invoices, and for early payers.
    first = np.searchsorted(errors, -due - mean, side="right")
    left = len(errors) - first

    def at(levels: np.ndarray) -> np.ndarray:
        """Payment days at the given quantile levels (conditional on the invoice being unpaid)."""
        index = first[:, None] + np.floor(levels[None, :] * np.maximum(left, 1)[:, None]).astype(np.int64)
        error = errors[np.minimum(index, len(errors) - 1)]
        day = due[:, None] + np.rint(mean[:, None] + error).astype(np.int64)
        beyond = (left == 0)[:, None]
        spread = np.rint(BEYOND_HISTORY_DAYS[0] + levels * (BEYOND_HISTORY_DAYS[1] - BEYOND_HISTORY_DAYS[0])).astype(np.int64)
        return np.maximum(np.where(beyond, spread[None, :], day), 1)

    points = at(LEVELS)
    edges = at(np.array([0.1, 0.5, 0.9]))
    return DatePrediction(edges[:, 1], edges[:, 0], edges[:, 2], points)
