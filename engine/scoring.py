"""Solvency score 0–100 per customer from its payment history, and its risk class.

Each factor is a number measured per customer (`days_late`, `late_share`, ...). It becomes a
sub-score 0–100 by a straight line between the value that earns 100 (`best`) and the value
that earns 0 (`worst`), clipped outside them; `best` may be below or above `worst` (fewer days
late is better, more business volume is better). The score is the weighted mean of the
sub-scores, rounded half up to a whole number at the end, and the risk class is the first class
whose minimum the rounded score reaches.

The factors, measured as of `as_of` (invoices issued after it are ignored):

- `days_late`: amount-weighted mean days late of the money due in the look-back window: each
  payment matched to an invoice weighs its amount at max(0, payment date − due date); each euro
  still open on an overdue invoice weighs at as_of − due date. Unmatched payments reduce what is
  open (through `ledger.open_items`) but carry no date of their own for an invoice.
- `late_share`: share of the invoices falling due in the window that were paid late (a matched
  payment after the due date) or are still open past their due date.
- `unpaid_count`: number of invoices open and past due at as_of, whatever their age.
- `dispute_rate`: share of the invoices issued in the window with a dispute (Litige not blank).
- `volume`: sales TTC invoiced in the window (credit notes deduct).
- `external_rating`: Clients « Note externe », on the scale given by its best/worst values.
  A blank rating takes the factor out: its weight is shared over the other factors in
  proportion to their weights (the score is Σ wᵢ·sᵢ / Σ wᵢ over the factors present).

The window is the `window_days` days up to as_of, as_of included. "Invoices falling due in the
window" also counts older invoices still open and past due, so that a customer who stopped
paying long ago keeps being measured by it.

A customer with no history (no invoice issued on or before as_of) has no history factor: each
history sub-score is `neutral_score`, so its score is `neutral_score` (default 60, class B: a
new customer gets ordinary terms) unless an external rating moves it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Factor:
    """How one factor counts: its weight, the value scoring 100 (`best`) and the one scoring 0 (`worst`)."""

    weight: float
    best: float
    worst: float

    def sub_score(self, values: pd.Series) -> pd.Series:
        """0–100 on the straight line from worst (0) to best (100), clipped; NA stays NA."""
        span = self.best - self.worst
        return ((values.astype("float64") - self.worst) / span * 100.0).clip(0.0, 100.0)


HISTORY_FACTORS: tuple[str, ...] = ("days_late", "late_share", "unpaid_count", "dispute_rate", "volume")
FACTORS: tuple[str, ...] = (*HISTORY_FACTORS, "external_rating")

FACTOR_LABELS: dict[str, str] = {
    "days_late": "Retard moyen pondéré (jours)",
    "late_share": "Part de factures en retard",
    "unpaid_count": "Factures échues impayées",
    "dispute_rate": "Taux de litige",
    "volume": "Chiffre d'affaires 12 mois",
    "external_rating": "Note externe",
}


@dataclass(frozen=True)
class ScoringPolicy:
    """Weights, scales and class thresholds of the solvency score (rules/scoring.yaml).

    Weights are relative (they need not add up to 100). `classes` lists (class, minimum score)
    from the best class down; the last class should have minimum 0 so that every score gets one.
    """

    days_late: Factor = Factor(weight=30.0, best=0.0, worst=60.0)
    late_share: Factor = Factor(weight=20.0, best=0.0, worst=1.0)
    unpaid_count: Factor = Factor(weight=20.0, best=0.0, worst=5.0)
    dispute_rate: Factor = Factor(weight=10.0, best=0.0, worst=0.25)
    volume: Factor = Factor(weight=10.0, best=50_000.0, worst=0.0)
    external_rating: Factor = Factor(weight=10.0, best=100.0, worst=0.0)
    classes: tuple[tuple[str, float], ...] = (("A", 80.0), ("B", 60.0), ("C", 40.0), ("D", 0.0))
    neutral_score: float = 60.0
    window_days: int = 365

    def factor(self, name: str) -> Factor:
        return getattr(self, name)

    def risk_class(self, scores: pd.Series) -> pd.Series:
        """The first class (best first) whose minimum the score reaches; the last class otherwise."""
        ordered = sorted(self.classes, key=lambda item: item[1], reverse=True)
        conditions = [scores >= minimum for _, minimum in ordered]
        labels = [label for label, _ in ordered]
        return pd.Series(np.select(conditions, labels, default=labels[-1]), index=scores.index, dtype=object)
