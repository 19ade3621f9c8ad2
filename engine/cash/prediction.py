"""Predicted payment dates of the open invoices: what the forecast needs from a payment-date model.

`DatePrediction` is the interface: per open invoice, the most likely payment day, its P10 and P90,
and `points`, K equally likely payment days (each carries 1/K of the amount) — spreading the
amount over the weeks by the distribution of past prediction errors rather than on one date.
Every day is a number of days after the as-of date (≥ 1: a prediction is never in the past).

`predict_payment_days` reads them from the payment-date model (`encaisse.cash.payment_dates`,
learned from the payments dated on or before the as-of date only, overdue invoices predicted
conditionally on not being paid yet).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import pandas as pd

from encaisse.cash import payment_dates
from encaisse.kpi.collection import settlement_dates
from encaisse.ledger import DAY, Links, Receivables

POINTS = 20  # equally likely payment days per invoice: levels 2.5 %, 7.5 %, … 97.5 %
LEVELS = (np.arange(POINTS) + 0.5) / POINTS
LATENESS_RANGE = (-90.0, 365.0)  # latenesses outside are clipped: a typo in a date must not move the whole base


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

    @staticmethod
    def concat(first: "DatePrediction", second: "DatePrediction") -> "DatePrediction":
        """The invoices of `first`, then those of `second`."""
        return DatePrediction(*(np.concatenate([a, b]) for a, b in zip(
            (first.expected, first.p10, first.p90, first.points), (second.expected, second.p10, second.p90, second.points))))

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


def settled_history(book: Receivables | Links, as_of: object = None) -> np.ndarray:
    """Per invoice row of positive amount, the date its matched payments dated ≤ as-of settled it
    (NaT when not, and for the other rows): what the model and the history learn from, worked out
    once. From the `Links` and `as_of` alone, it needs no receivables."""
    links, as_of = (book, as_of) if isinstance(book, Links) else (book.links, book.as_of)
    return settlement_dates(links, as_of, links.invoice_amount > 0)


def history(book: Receivables, settled: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(row positions, lateness in days) of the invoices fully paid by matched payments dated ≤ as-of
    (`settled`: `settled_history(book)`, computed when not given)."""
    links = book.links
    settled = settled_history(book) if settled is None else settled
    paid = np.flatnonzero(~np.isnat(settled) & ~np.isnat(links.due_date) & book.is_item)
    lateness = ((settled[paid] - links.due_date[paid]) / DAY).astype(float)
    return paid, np.clip(lateness, *LATENESS_RANGE)


def fit_payment_model(links: Links, as_of: object, customers: pd.DataFrame | None, settled: np.ndarray,
                      attributes: payment_dates.InvoiceAttributes | None = None) -> payment_dates.PaymentModel:
    """The payment-date model (`encaisse.cash.payment_dates`) fitted at `as_of` on the history
    `settled` (`settled_history`); `attributes`: `payment_dates.invoice_attributes` of the invoices,
    when worked out already."""
    return payment_dates.fit(links.invoices, links.payments, as_of, customers, links=links, settled=settled, attributes=attributes)


def predicted_days(model: payment_dates.PaymentModel, book: Receivables, rows: np.ndarray,
                   attributes: payment_dates.InvoiceAttributes | None = None) -> DatePrediction:
    """The invoices at row positions `rows` read from `model`: their conditional distribution
    (never on or before the as-of date) as POINTS equally likely days, and its median, P10 and P90."""
    start = np.datetime64(book.as_of.date(), "D").astype(np.int64)
    days = payment_dates.quantiles(model, book.invoices, book.as_of, (*LEVELS, 0.5, 0.1, 0.9), rows, links=book.links,
                                   attributes=attributes) - start
    return DatePrediction(days[:, POINTS], days[:, POINTS + 1], days[:, POINTS + 2], np.maximum(days[:, :POINTS], 1))


def predict_payment_days(book: Receivables, rows: np.ndarray, customers: pd.DataFrame | None = None,
                         settled: np.ndarray | None = None) -> DatePrediction:
    """The payment-date model fitted at the book's as-of date on its history (`settled`:
    `settled_history(book)`, computed when not given), for the invoices at row positions `rows`
    (`fit_payment_model`, then `predicted_days`)."""
    settled = settled_history(book) if settled is None else settled
    model = fit_payment_model(book.links, book.as_of, customers, settled)
    return predicted_days(model, book, rows)
