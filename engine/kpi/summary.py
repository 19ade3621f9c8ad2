"""Every KPI at once, for `encaisse kpi`, `encaisse demo` and the dashboard.

The links between the tables are computed once; the receivables once at the as-of date (and
once more at the CEI period's start) and shared by every KPI.
"""

from __future__ import annotations

import math

from encaisse.errors import EncaisseError
from encaisse.fr import round_cents
from encaisse.kpi.aging import TOTAL, aging, bucket_labels
from encaisse.kpi.collection import dispute_rate, dunning_success_rate, mean_days_late, mean_payment_delay, recovery_rate
from encaisse.kpi.margin import gross_margin, operating_cash_flow
from encaisse.kpi.outstanding import best_possible_dso, cei, dso
from encaisse.kpi.periods import months_before
from encaisse.kpi.working_capital import cash_released, conversion_cycle, dio, dpo
from encaisse.ledger import Ledger, as_timestamp, link, receivables

# the SPEC's what-if levers: DSO −15 days, DPO +10 days, DIO −20 days
LEVERS = {"delta_dso": -15.0, "delta_dpo": 10.0, "delta_dio": -20.0}
DAYS = 90
CEI_MONTHS = 3
BEHAVIOUR_DAYS = 365
DUNNING_WINDOW = 15


def number(value: float) -> float | None:
    """A plain float for JSON: None when undefined (NaN or infinite)."""
    value = float(value)
    return value if math.isfinite(value) else None


def money(value: float) -> float | None:
    """Money for JSON: to the cent (`encaisse.fr.round_cents`, half away from zero), None when undefined."""
    value = number(value)
    return None if value is None else round_cents(value)


def resolve_as_of(ledger: Ledger, as_of: object = None):
    """The as-of date given, else the workbook's DateArrete; EncaisseError when neither."""
    if as_of is None:
        as_of = ledger.params.as_of
    if as_of is None:
        raise EncaisseError("Date d'arrêté absente : renseignez la cellule DateArrete (Paramètres) ou passez --as-of AAAA-MM-JJ")
    return as_timestamp(as_of)


def kpi_summary(ledger: Ledger, as_of: object = None, *, rates: dict[str, float] | None = None) -> dict:
    """Every KPI at `as_of` (default: the workbook's DateArrete), keyed by engine function name.

    Windows: DSO, best possible DSO, ADD, recovery rate, DPO, DIO, CCC, gross margin and cash
    released over 90 days; CEI over 3 months; dispute rate and payment delays over 365 days;
    dunning window 15 days; operating cash flow for the 12 months ending with the as-of month;
    cash released for the SPEC's levers (DSO −15 j, DPO +10 j, DIO −20 j). Money is rounded to
    the cent here (the end), days and rates are not; undefined figures are None.
    """
    as_of = resolve_as_of(ledger, as_of)
    links = link(ledger.invoices, ledger.payments, rates)
    book = receivables(None, None, as_of, links=links)
    begin = receivables(None, None, months_before(as_of, CEI_MONTHS), links=links)
    shared = {"receivables": book}
    dso_countback = dso(None, None, as_of, "countback", DAYS, **shared)
    dso_period = dso(None, None, as_of, "period", DAYS, **shared)
    payables_days = dpo(ledger.payables, ledger.activity, as_of, DAYS)
    inventory_days = dio(ledger.activity, as_of, DAYS)
    aged = aging(None, None, as_of, per_customer=False, **shared).iloc[-1]
    disputes = dispute_rate(None, as_of, BEHAVIOUR_DAYS, **shared)
    margin = gross_margin(ledger.activity, as_of, DAYS)
    flow = operating_cash_flow(None, ledger.payables, as_of, 12, **shared)
    return {
        "as_of": as_of.date().isoformat(),
        "open_amount": money(book.open_amount),
        "dso": {"countback": number(dso_countback), "period": number(dso_period)},
        "best_possible_dso": number(best_possible_dso(None, None, as_of, DAYS, **shared)),
        "average_days_delinquent": number(dso_countback - best_possible_dso(None, None, as_of, DAYS, **shared)),
        "cei": number(cei(None, None, as_of, CEI_MONTHS, receivables_begin=begin, **shared)),
        "dpo": number(payables_days),
        "dio": number(inventory_days),
        "ccc": number(conversion_cycle(dso_countback, payables_days, inventory_days)),
        "aging": [
            {"bucket": label, "amount": money(aged[label]), "count": int(aged[f"Nb {label}"])}
            for label in bucket_labels()
        ] + [{"bucket": TOTAL, "amount": money(aged[TOTAL]), "count": int(aged["Nb total"])}],
        "recovery_rate": number(recovery_rate(None, None, as_of, DAYS, **shared)),
        "dispute_rate": {"count": number(disputes.count), "amount": number(disputes.amount)},
        "dunning_success_rate": number(dunning_success_rate(ledger.journal, None, None, as_of, DUNNING_WINDOW, **shared)),
        "mean_payment_delay": number(mean_payment_delay(None, None, as_of, BEHAVIOUR_DAYS, **shared)),
        "mean_days_late": number(mean_days_late(None, None, as_of, BEHAVIOUR_DAYS, **shared)),
        "gross_margin": {"sales": money(margin.sales), "cogs": money(margin.cogs), "amount": money(margin.amount), "rate": number(margin.rate)},
        "operating_cash_flow": [
            {"month": f"{row.month:%Y-%m}", "receipts": money(row.receipts), "disbursements": money(row.disbursements), "net": money(row.net)}
            for row in flow.itertuples(index=False)
        ],
        "cash_released": {**LEVERS, "days": DAYS, "amount": money(cash_released(ledger.activity, as_of, **LEVERS, days=DAYS))},
    }
