"""Known cash movements other than customer receipts: open payables and the Trésorerie sheet's
recurring flows, each as (day after as-of, amount, plan line).

Payables (Dettes) open at the as-of date — issued on or before it and not paid by then, as for
the DPO — are paid at their due date when their priority is one the rules pay at due date
(fiscal, social, salaires: first, never moved), else on the first payment-run day on or after
their due date; an overdue one on the first day (or first run day) after the as-of date.

Recurring flows are expanded by frequency from their « Prochaine date »: weekly every 7 days;
monthly, quarterly, half-yearly and yearly on the same day of the month, a flow on the 31st
falling on the last day of shorter months (each occurrence counted from the first date, so a
flow of 31 January is on 28 February and again on 31 March); a one-off flow once. Occurrences
dated on or before the as-of date are past: already in the bank balance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from encaisse.cash.prediction import phase_in
from encaisse.cash.weeks import weekday
from encaisse.errors import Problem
from encaisse.rules.records import CashPolicy
from encaisse.tables import CELLS, FLOWS, normalize_header

# Fréquence (normalised) -> step in months (0 = weekly, None = once)
FREQUENCIES: dict[str, int | None] = {
    "hebdomadaire": 0, "hebdo": 0, "weekly": 0, "semaine": 0,
    "mensuel": 1, "mensuelle": 1, "monthly": 1, "mois": 1,
    "trimestriel": 3, "trimestrielle": 3, "quarterly": 3, "trimestre": 3,
    "semestriel": 6, "semestrielle": 6, "halfyearly": 6, "semestre": 6,
    "annuel": 12, "annuelle": 12, "yearly": 12, "annual": 12, "an": 12,
    "ponctuel": None, "ponctuelle": None, "unique": None, "once": None,
}
RECEIPT_WORDS = ("encaissement", "entree", "recette", "receipt")
DISBURSEMENT_WORDS = ("decaissement", "sortie", "depense", "disbursement")


@dataclass(frozen=True)
class Movements:
    """Cash movements: day after as-of, signed amount (+ in, − out), plan line (rules id)."""

    day: np.ndarray
    amount: np.ndarray
    line: np.ndarray  # object: a rules line id

    @staticmethod
    def concat(*parts: "Movements") -> "Movements":
        return Movements(np.concatenate([p.day for p in parts]), np.concatenate([p.amount for p in parts]),
                         np.concatenate([p.line for p in parts]))


def _day_numbers(values: np.ndarray, as_of: np.datetime64) -> np.ndarray:
    return ((values.astype("datetime64[D]") - as_of) // np.timedelta64(1, "D")).astype(np.int64)


def next_run_day(days: np.ndarray, as_of: np.datetime64, run_weekday: int) -> np.ndarray:
    """The first day numbered ≥ `days` that falls on `run_weekday` (Monday = 0)."""
    dates = as_of + days * np.timedelta64(1, "D")
    return days + (run_weekday - weekday(dates)) % 7


def priority_keys(priority: np.ndarray) -> np.ndarray:
    """Dettes priorities normalised (normalize_header; blank ""), one call per distinct value."""
    # hashed, not sorted as fixed-width text: each distinct value is looked at once all the same
    codes, distinct = pd.factorize(np.asarray(priority, dtype=object))
    return np.array([normalize_header(str(p)) for p in distinct] + [normalize_header("")], dtype=object)[codes]


def payable_movements(payables: pd.DataFrame, as_of: np.datetime64, policy: CashPolicy, *, extra_days: float = 0.0,
                      horizon: int = 1) -> Movements:
    """Open payables as outflows; `extra_days` delays those not paid at due date (the DPO lever,
    phased in over `horizon` days, see `encaisse.cash.prediction.phase_in`)."""
    if payables is None or payables.empty:
        return Movements(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, object))
    end = np.datetime64(as_of, "ns")
    issued = payables["issue_date"].to_numpy(dtype="datetime64[ns]")
    paid = payables["paid_date"].to_numpy(dtype="datetime64[ns]") if "paid_date" in payables.columns else np.full(len(payables), np.datetime64("NaT"), "datetime64[ns]")
    open_ = (issued <= end) & ~(paid <= end)
    rows = np.flatnonzero(open_)
    due = payables["due_date"].to_numpy(dtype="datetime64[ns]")[rows]
    amount = np.nan_to_num(payables["amount"].to_numpy(dtype=float, na_value=np.nan)[rows])
    priority = payables["priority"].to_numpy(dtype=object)[rows] if "priority" in payables.columns else np.full(len(rows), None, object)
    keys = priority_keys(priority)
    at_due = np.isin(keys, list(policy.paid_on_due_date))
    day = np.where(np.isnat(due), 1, _day_numbers(np.where(np.isnat(due), as_of, due), as_of))
    day = np.where(at_due, np.maximum(day, 1), phase_in(np.maximum(day, 1), extra_days, horizon))
    day = np.where(at_due, day, next_run_day(day, as_of, policy.payment_day))
    distinct, inverse = np.unique(keys.astype(str), return_inverse=True)
    line = np.array([policy.payable_lines.get(k, "fournisseurs") for k in distinct] or ["fournisseurs"], dtype=object)[inverse]
    return Movements(day.astype(np.int64), -amount, line)


def _direction(values: np.ndarray) -> np.ndarray:
    """+1 encaissement, −1 décaissement, 0 unreadable."""
    keys = [normalize_header(v) if isinstance(v, str) else "" for v in values]
    return np.array([1 if k.startswith(RECEIPT_WORDS) else -1 if k.startswith(DISBURSEMENT_WORDS) else 0 for k in keys], dtype=np.int64)


def _cell(flows: pd.DataFrame, key: str, position: int) -> str:
    """'Trésorerie!E5' for a flow's cell when the table was read from a sheet, else 'Trésorerie ligne 5'."""
    cells = flows.attrs.get(CELLS) or {}
    letter = cells.get("columns", {}).get(key)
    row = flows["row"].iloc[position] if "row" in flows.columns else position + 2
    sheet = cells.get("sheet", FLOWS.sheet)
    return f"{sheet}!{letter}{int(row)}" if letter and pd.notna(row) else f"{sheet} ligne {row}"


def flow_movements(flows: pd.DataFrame, as_of: np.datetime64, last_day: int, policy: CashPolicy) -> tuple[Movements, list[Problem]]:
    """Every occurrence of the recurring flows in days 1..last_day, and the problems of unreadable rows.

    The Flux table has a handful of rows: the loop is over flows, the occurrences are vectorised."""
    empty = Movements(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, object))
    if flows is None or flows.empty:
        return empty, []
    problems: list[Problem] = []
    parts = [empty]
    direction = _direction(flows["direction"].to_numpy(dtype=object))
    amounts = np.nan_to_num(flows["amount"].to_numpy(dtype=float, na_value=np.nan))
    starts = flows["next_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    frequencies = flows["frequency"].to_numpy(dtype=object)
    categories = flows["category"].to_numpy(dtype=object) if "category" in flows.columns else np.full(len(flows), None, object)
    horizon_end = as_of + last_day * np.timedelta64(1, "D")
    for i in range(len(flows)):
        key = normalize_header(frequencies[i]) if isinstance(frequencies[i], str) else ""
        if key not in FREQUENCIES:
            problems.append(Problem(_cell(flows, "frequency", i), f"fréquence « {frequencies[i]} » inconnue (attendu : hebdomadaire, "
                                                                  f"mensuel, trimestriel, semestriel, annuel ou ponctuel)"))
            continue
        if direction[i] == 0:
            problems.append(Problem(_cell(flows, "direction", i), f"sens « {flows['direction'].iloc[i]} » inconnu (attendu : encaissement ou décaissement)"))
            continue
        if np.isnat(starts[i]):
            continue  # the loader requires the date; a range passed to FORECAST may have a blank: nothing to place
        dates = occurrences(starts[i], FREQUENCIES[key], horizon_end)
        dates = dates[dates > as_of]
        category = normalize_header(categories[i]) if isinstance(categories[i], str) else ""
        default = "autres_encaissements" if direction[i] > 0 else "autres_decaissements"
        line = policy.flow_lines.get(category, default)
        parts.append(Movements(_day_numbers(dates, as_of), np.full(len(dates), direction[i] * amounts[i]), np.full(len(dates), line, object)))
    return Movements.concat(*parts), problems


def occurrences(first: np.datetime64, months: int | None, until: np.datetime64) -> np.ndarray:
    """The dates of a flow from `first` to `until` (inclusive): weekly when months == 0, once when None."""
    first = np.datetime64(first, "D")
    if first > until:
        return np.zeros(0, "datetime64[D]")
    if months is None:
        return np.array([first])
    if months == 0:
        count = int((until - first) // np.timedelta64(7, "D")) + 1
        return first + 7 * np.arange(count) * np.timedelta64(1, "D")
    month0 = first.astype("datetime64[M]")
    day0 = int((first - month0.astype("datetime64[D]")) // np.timedelta64(1, "D"))  # 0-based day of month
    count = int((until.astype("datetime64[M]") - month0) // np.timedelta64(1, "M")) // months + 1
    month = month0 + months * np.arange(count)
    length = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")) // np.timedelta64(1, "D")
    dates = month.astype("datetime64[D]") + np.minimum(day0, length - 1) * np.timedelta64(1, "D")
    return dates[dates <= until]
