"""The forecast as one JSON-ready document (`encaisse forecast --json`): English keys, numbers as
numbers (money to the cent, here at the end), ISO dates.

Keys: `weeks` (week_start, week_end, label, one key per line of the plan — customer_receipts,
other_receipts, suppliers, payroll, taxes, loans, other_disbursements, and doubtful_receivables,
shown apart and never counted —, net, closing_balance, closing_balance_p10, closing_balance_p90,
below_cushion), `invoices` (invoice_id, customer_id, open_amount, due_date, expected_date,
p10_date, p90_date, status), `alerts`, `actions`; and `what_if` only when levers are given.
"""

from __future__ import annotations

import pandas as pd

from encaisse.cash.actions import LEVER_LABELS, RankedAction, cash_released
from encaisse.cash.forecast import WEEK_KEYS, CashForecast
from encaisse.kpi.summary import money

DATE_KEYS = ("week_start", "week_end", "due_date", "expected_date", "p10_date", "p90_date")


def _value(key: str, value):
    if key in DATE_KEYS:
        return None if pd.isna(value) else pd.Timestamp(value).date().isoformat()
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        return bool(value)
    if isinstance(value, str) or value is None:
        return value
    return money(value)


def _records(frame: pd.DataFrame, keys) -> list[dict]:
    columns = {key: frame[key].tolist() for key in keys}
    return [{key: _value(key, columns[key][i]) for key in keys} for i in range(len(frame))]


def forecast_document(result: CashForecast, actions: tuple[RankedAction, ...] = ()) -> dict:
    """weeks, invoices, alerts, actions (and what_if when the forecast has levers)."""
    document = {
        "weeks": _records(result.table(), WEEK_KEYS),
        "invoices": _records(result.invoices(), ("invoice_id", "customer_id", "open_amount", "due_date", "expected_date", "p10_date",
                                                 "p90_date", "status")),
        "alerts": [
            {"week_start": a.week_start.date().isoformat(), "week_end": a.week_end.date().isoformat(), "label": a.label,
             "closing_balance": money(a.closing_balance), "cushion": money(a.cushion), "shortfall": money(a.shortfall),
             "level": a.level, "first": i == 0}
            for i, a in enumerate(result.alerts)
        ],
        "actions": [
            {"rank": a.rank, "id": a.action.id, "label": a.action.label, "kind": a.action.kind, "effort": a.action.effort,
             "impact": money(a.impact), "cost": money(a.cost), "low_point_gain": money(a.low_point_gain), "where": a.action.where}
            for a in actions
        ],
    }
    if result.levers.any:
        levers = result.levers
        document["what_if"] = {
            "levers": {"dso": levers.dso, "dpo": levers.dpo, "dio": levers.dio, "margin": levers.margin, "deposit": levers.deposit},
            "cash_released": {name: money(value) for name, value in cash_released(result.basis, levers).items()},
        }
    return document


__all__ = ["LEVER_LABELS", "forecast_document"]
