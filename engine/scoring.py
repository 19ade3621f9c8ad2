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


_CENT = 0.005  # an open amount below half a cent is settled


def _customer_universe(invoices: pd.DataFrame, customers: pd.DataFrame) -> pd.Index:
    """Clients' customers in their order, then customers seen only on invoices (sorted)."""
    listed = pd.Index(customers["customer_id"].dropna().astype(str)).drop_duplicates()
    seen = pd.Index(invoices["customer_id"].dropna().astype(str).unique())
    extra = seen.difference(listed).sort_values()
    return listed.append(extra).rename("customer_id")


def _has_text(column: pd.Series) -> pd.Series:
    return column.notna() & column.astype("string").str.strip().fillna("").ne("")


def customer_factors(
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: dt.date | pd.Timestamp,
    window_days: int = 365,
) -> pd.DataFrame:
    """The factor values per customer (index customer_id), NA where a factor cannot be measured."""
    from encaisse.ledger import open_items

    as_of = pd.Timestamp(as_of).normalize()
    window_start = as_of - pd.Timedelta(days=window_days - 1)
    universe = _customer_universe(invoices, customers)

    items = open_items(invoices, payments, as_of)
    items = items.assign(customer_id=items["customer_id"].astype(str), invoice_id=items["invoice_id"].astype(str))
    overdue_open = (items["open_amount"] >= _CENT) & (items["days_past_due"] > 0)
    measured = items[(items["issue_date"] >= window_start) | overdue_open]
    fallen_due = measured[measured["due_date"] <= as_of]

    # Last matched payment per invoice, and the payments themselves as days-late observations.
    paid = payments[(payments["payment_date"] <= as_of) & _has_text(payments["invoice_id"])]
    paid = paid.assign(invoice_id=paid["invoice_id"].astype(str))
    paid = paid.merge(
        fallen_due[["invoice_id", "customer_id", "due_date"]].drop_duplicates("invoice_id"), on="invoice_id", suffixes=("_payment", ""))
    paid_days = (paid["payment_date"] - paid["due_date"]).dt.days.clip(lower=0)
    last_payment = paid.groupby("invoice_id")["payment_date"].max()

    open_part = fallen_due[fallen_due["open_amount"] >= _CENT]
    observations = pd.DataFrame({
        "customer_id": pd.concat([paid["customer_id"], open_part["customer_id"]], ignore_index=True),
        "weight": pd.concat([paid["amount"].clip(lower=0), open_part["open_amount"]], ignore_index=True),
        "days": pd.concat([paid_days, open_part["days_past_due"].clip(lower=0)], ignore_index=True).astype("float64"),
    })
    observations["weighted"] = observations["weight"] * observations["days"]
    sums = observations.groupby("customer_id")[["weighted", "weight"]].sum()
    days_late = (sums["weighted"] / sums["weight"].where(sums["weight"] > 0))

    last = pd.Series(last_payment.reindex(fallen_due["invoice_id"]).to_numpy(), index=fallen_due.index)
    late_payment = last > fallen_due["due_date"]
    still_open_late = (fallen_due["open_amount"] >= _CENT) & (fallen_due["days_past_due"] > 0)
    late_share = (late_payment | still_open_late).astype("float64").groupby(fallen_due["customer_id"]).mean()

    disputed = _has_text(measured["dispute"]) if "dispute" in measured.columns else pd.Series(False, index=measured.index)
    dispute_rate = disputed.astype("float64").groupby(measured["customer_id"]).mean()
    unpaid_count = overdue_open.astype("int64").groupby(items["customer_id"]).sum()

    issued = invoices[invoices["issue_date"] <= as_of]
    has_history = pd.Series(True, index=pd.Index(issued["customer_id"].dropna().astype(str).unique()))
    recent = issued[issued["issue_date"] >= window_start]
    volume = recent["amount"].groupby(recent["customer_id"].astype(str)).sum()

    rating = pd.Series(dtype="float64")
    if "external_rating" in customers.columns:
        rated = customers.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
        rating = pd.to_numeric(rated["external_rating"], errors="coerce").set_axis(rated["customer_id"].astype(str))

    history = has_history.reindex(universe, fill_value=False).astype(bool)
    frame = pd.DataFrame(index=universe)
    frame["has_history"] = history
    frame["days_late"] = days_late.reindex(universe)
    frame["late_share"] = late_share.reindex(universe)
    frame["unpaid_count"] = unpaid_count.reindex(universe).fillna(0).where(history)
    frame["dispute_rate"] = dispute_rate.reindex(universe)
    frame["volume"] = volume.reindex(universe).fillna(0.0).where(history)
    frame["external_rating"] = rating.reindex(universe).astype("float64")
    return frame


def score_customers(
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: dt.date | pd.Timestamp,
    policy: ScoringPolicy = ScoringPolicy(),
) -> pd.DataFrame:
    """One row per customer: factor values, their sub-scores (`<factor>_score`), `score` 0–100, `risk_class`.

    A history factor that cannot be measured (no history, or nothing fallen due in the window)
    scores `policy.neutral_score`; a blank external rating drops out of the weighted mean.
    """
    frame = customer_factors(invoices, payments, customers, as_of, policy.window_days)
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
