"""Cash: predicted payment dates, the 13-week forecast (plan de trésorerie), what-if and actions.

Pure computation on the ledger and the rules at an as-of date (never the clock). Modules:
`weeks` (weekly buckets), `payment_dates` (the payment-date model: fit, predict, spread),
`backtest` (its protocols), `prediction` (the forecast's view of the model's dates), `outflows` (payables and
recurring flows), `forecast` (the weekly table, band and alerts), `actions` (levers and ranked
actions).
"""

from encaisse.cash.forecast import (
    DOUBTFUL,
    LABELS,
    LINE_KEYS,
    WEEK_KEYS,
    Alert,
    Basis,
    CashForecast,
    Levers,
    assemble,
    forecast,
    prepare,
)
from encaisse.cash.weeks import Weeks, make_weeks

__all__ = ["DOUBTFUL", "LABELS", "LINE_KEYS", "WEEK_KEYS", "Alert", "Basis", "CashForecast", "Levers", "Weeks", "assemble", "forecast",
           "make_weeks", "prepare"]
