"""Back-tests of payment-date forecasts on a history where invoices were settled.

A *method* is a callable `(invoices, payments, customers, as_of) -> PaymentModel` that may use
only what was known at `as_of` (`payment_dates.fit` honours this: payments after as_of are
ignored). Two protocols:

* `issue_date_backtest` — protocol (a): every settled invoice is predicted on its issue date
  from the invoices settled strictly before that date (as_of = issue date − 1 day).
  Score: mean absolute error in days of expected_date.
* `snapshot_backtest` — protocol (b): at each snapshot date S, the invoices open at S
  (issued on or before S, settled after S) are predicted; week w (1..W) is the days
  S + 7(w−1) + 1 … S + 7w. Predicted receipts of week w = Σ amount × P(paid in week w);
  actual receipts of week w = Σ amount of those invoices actually settled in week w.
  WAPE = Σ_S Σ_w |predicted − actual| / Σ_S Σ_w actual. Coverage = share of (snapshot,
  open invoice) pairs whose actual settlement date lies in [p10_date, p90_date].
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import pandas as pd

from encaisse.cash.payment_dates import (
    PaymentModel,
    fit,
    naive_model,
    predict,
    settlement_dates,
    spread,
    week_edges,
)

Method = Callable[[pd.DataFrame, pd.DataFrame, "pd.DataFrame | None", pd.Timestamp], PaymentModel]

DAY = pd.Timedelta(days=1)


def model_method(**options) -> Method:
    """`payment_dates.fit` with the given keyword options."""
    return lambda invoices, payments, customers, as_of: fit(invoices, payments, as_of, customers, **options)


def naive_method(invoices, payments, customers, as_of) -> PaymentModel:
    return naive_model(as_of)


def customer_stat_model(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, stat: str = "mean") -> PaymentModel:
    """Point forecast: due date + the customer's mean (or median) lateness over its invoices paid by
    `as_of`; a customer without history gets the mean (median) of the customers' values; due date
    when nobody has history. No spread: all the mass on one date."""
    model = naive_model(as_of)
    settled = settlement_dates(invoices, payments, as_of)
    known = settled.notna().to_numpy() & (invoices["amount"].to_numpy(dtype=float) > 0)
    if not known.any():
        return model
    late = (settled[known] - invoices.loc[known, "due_date"]).dt.days.astype(float)
    per_customer = late.groupby(invoices.loc[known, "customer_id"].astype(str).to_numpy()).agg(stat)
    fallback = float(per_customer.agg(stat))
    return replace(
        model, intercept=fallback, customers=pd.Index(per_customer.index),
        effects=per_customer.to_numpy() - fallback, counts=np.ones(len(per_customer)),
    )


def customer_stat_method(stat: str) -> Method:
    return lambda invoices, payments, customers, as_of: customer_stat_model(invoices, payments, as_of, stat)


def issue_date_backtest(
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    customers: pd.DataFrame | None,
    method: Method,
    issued_from: object = None,
    issued_to: object = None,
) -> pd.DataFrame:
    """Protocol (a). One row per settled invoice (issued within [issued_from, issued_to] when given):
    invoice_id, issue_date, actual_date, expected_date, p10_date, p90_date, error (expected − actual,
    days). One fit per distinct issue date."""
    actual = settlement_dates(invoices, payments)
    chosen = actual.notna().to_numpy() & (invoices["amount"].to_numpy(dtype=float) > 0)
    if issued_from is not None:
        chosen &= (invoices["issue_date"] >= pd.Timestamp(issued_from)).to_numpy()
    if issued_to is not None:
        chosen &= (invoices["issue_date"] <= pd.Timestamp(issued_to)).to_numpy()
    settled = invoices[chosen]
    frames = []
    for day, targets in settled.groupby("issue_date", sort=True):  # one fit per issue date
        as_of = day - DAY
        frames.append(predict(method(invoices, payments, customers, as_of), targets, as_of))
    result = pd.concat(frames).loc[settled.index]
    result.insert(1, "issue_date", settled["issue_date"])
    result.insert(2, "actual_date", actual[settled.index])
    result["error"] = (result["expected_date"] - result["actual_date"]).dt.days
    return result


@dataclass(frozen=True)
class SnapshotScore:
    wape: float  # Σ|predicted − actual weekly receipts| / Σ actual
    coverage: float  # share of actual dates within [p10, p90]
    mae: float  # mean |expected − actual| days over (snapshot, open invoice) pairs
    snapshots: int
    predictions: int
    weekly: pd.DataFrame  # snapshot, week, predicted, actual


def sundays(start: object, end: object) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="W-SUN")


def snapshot_backtest(
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    customers: pd.DataFrame | None,
    method: Method,
    snapshots: object,
    weeks: int = 4,
) -> SnapshotScore:
    """Protocol (b): see the module's docstring. Invoices never settled are left out."""
    actual = settlement_dates(invoices, payments)
    known = actual.notna().to_numpy() & (invoices["amount"].to_numpy(dtype=float) > 0)
    history = invoices[known]
    actual = actual[known]
    rows, errors, inside = [], [], []
    for snapshot in pd.DatetimeIndex(snapshots):  # a few dozen snapshots
        open_mask = (history["issue_date"] <= snapshot).to_numpy() & (actual > snapshot).to_numpy()
        edges = week_edges(snapshot, weeks)
        if not open_mask.any():
            continue
        targets = history[open_mask]
        model = method(invoices, payments, customers, snapshot)
        amount = targets["amount"].to_numpy(dtype=float)
        predicted = amount @ spread(model, targets, snapshot, edges)
        paid = actual[open_mask].to_numpy(dtype="datetime64[ns]")
        week = np.searchsorted(edges, paid, side="right") - 1  # -1 before, `weeks` after
        inside_horizon = (week >= 0) & (week < weeks)
        realised = np.bincount(week[inside_horizon], weights=amount[inside_horizon], minlength=weeks)
        rows.append(pd.DataFrame({"snapshot": snapshot, "week": np.arange(1, weeks + 1), "predicted": predicted, "actual": realised}))
        dates = predict(model, targets, snapshot)
        errors.append((dates["expected_date"].to_numpy() - paid) / np.timedelta64(1, "D"))
        inside.append((dates["p10_date"].to_numpy() <= paid) & (paid <= dates["p90_date"].to_numpy()))
    weekly = pd.concat(rows, ignore_index=True)
    error = np.concatenate(errors)
    return SnapshotScore(
        wape=float((weekly["predicted"] - weekly["actual"]).abs().sum() / weekly["actual"].sum()),
        coverage=float(np.concatenate(inside).mean()),
        mae=float(np.abs(error).mean()),
        snapshots=len(rows),
        predictions=len(error),
        weekly=weekly,
    )
