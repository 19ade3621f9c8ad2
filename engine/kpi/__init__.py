"""Cash and receivables KPIs (SPEC « KPIs »): pure functions of canonical DataFrames and an as-of date.

Every function taking invoices and payments also accepts `receivables=` (an
`encaisse.ledger.Receivables` computed once for the as-of date) so that many KPIs share one
allocation of payments, and `rates=` (euros per unit of another currency).

Modules: `outstanding` (DSO, best possible DSO, ADD, CEI), `working_capital` (DPO, DIO, CCC,
cash released), `aging`, `collection` (recovery, disputes, dunning, payment delays), `margin`
(gross margin, operating cash flow), `summary` (everything at once), `periods` (windows).
"""

from encaisse.kpi.aging import aging, bucket_labels
from encaisse.kpi.collection import (
    DisputeRate,
    dispute_rate,
    dunning_success_rate,
    mean_days_late,
    mean_payment_delay,
    recovery_rate,
    settlement_dates,
)
from encaisse.kpi.margin import GrossMargin, gross_margin, operating_cash_flow
from encaisse.kpi.outstanding import average_days_delinquent, best_possible_dso, cei, countback_days, dso
from encaisse.kpi.summary import kpi_summary
from encaisse.kpi.working_capital import cash_released, ccc, conversion_cycle, dio, dpo, open_payables, released_cash

__all__ = [
    "DisputeRate", "GrossMargin", "aging", "average_days_delinquent", "best_possible_dso", "bucket_labels", "cash_released",
    "ccc", "cei", "conversion_cycle", "countback_days", "dio", "dispute_rate", "dpo", "dso", "dunning_success_rate",
    "gross_margin", "kpi_summary", "mean_days_late", "mean_payment_delay", "open_payables", "operating_cash_flow",
    "recovery_rate", "released_cash", "settlement_dates",
]
