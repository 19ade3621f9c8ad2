"""Excel function of the cash forecast: FORECAST, the weekly plan de trésorerie as a table that spills.

Same conventions as the other families (`encaisse.excel.args`): table ranges with their header
row or DataFrames, single cells as numbers, dates or text; an error text "#VALEUR! <raison>",
never an exception. The policy comes from the rules folder given last (`dossier_regles`; the
recalculation's --rules, keyword `rules_dir`, wins), the default rules when blank.
"""

from __future__ import annotations

from typing import Callable


from encaisse.cash import LABELS, LINE_KEYS, DOUBTFUL, forecast
from encaisse.excel.args import SheetError, blank, cents, date_arg, number_arg, receivables_arg, sheet_function, table_arg
from encaisse.excel.credit import _rules
from encaisse.ledger import Ledger, Params
from encaisse.tables import ACTIVITY, CUSTOMERS, FLOWS, INVOICES, JOURNAL, PAYABLES, PAYMENTS

ALERT = "ALERTE"
AMOUNT_KEYS = (*LINE_KEYS.values(), DOUBTFUL, "receipts", "disbursements", "net", "closing_balance", "closing_balance_p10",
               "closing_balance_p90", "cushion")
HEADERS = ("Semaine", "Début", "Fin", *(LABELS[k] for k in (*LINE_KEYS.values(), DOUBTFUL)), "Total encaissements",
           "Total décaissements", LABELS["net"], LABELS["closing_balance"], LABELS["closing_balance_p10"], LABELS["closing_balance_p90"],
           "Coussin", "Alerte")


@sheet_function
def forecast_table(factures, reglements, clients, dettes, flux, activite, solde_banque, date_arrete, semaines=None, dossier_regles=None,
                   rules_dir=None, *, context=None):
    """FORECAST(Factures; Règlements; Clients; Dettes; Flux; Activité; SoldeBanque; date_arrêté[; semaines][; dossier_règles]) —
    plan de trésorerie hebdomadaire (13 semaines par défaut) : une ligne par semaine, les lignes du plan,
    le flux net, le solde de clôture et sa fourchette P10–P90, le coussin et « ALERTE » sous le coussin."""
    if blank(solde_banque):
        raise SheetError("solde bancaire vide (cellule SoldeBanque, feuille Trésorerie)")
    empty = table_arg(None, JOURNAL, optional=True)
    ledger = Ledger(
        invoices=table_arg(factures, INVOICES, context=context), payments=table_arg(reglements, PAYMENTS, optional=True, context=context),
        customers=table_arg(clients, CUSTOMERS, optional=True, context=context), payables=table_arg(dettes, PAYABLES, optional=True, context=context),
        activity=table_arg(activite, ACTIVITY, optional=True, context=context), flows=table_arg(flux, FLOWS, optional=True, context=context), journal=empty,
        params=Params(bank_balance=number_arg(solde_banque, "solde bancaire")),
    )
    weeks = None if blank(semaines) else number_arg(semaines, "semaines", whole=True, positive=True)
    if weeks is not None and weeks > 52:
        raise SheetError(f"semaines : {weeks}, au plus 52")
    as_of = date_arg(date_arrete)
    # the payments allocated once for the KPIs and the forecast of the same workbook
    book = receivables_arg(factures, reglements, ledger.invoices, ledger.payments, as_of, None, context)
    result = forecast(ledger, _rules(dossier_regles, rules_dir, context), as_of, weeks, book=book)
    table = result.table()
    table["receipts"], table["disbursements"], table["cushion"] = result.receipts, result.disbursements, result.basis.cushion
    rows = [list(HEADERS)]
    for i, record in enumerate(table.to_dict("records")):
        rows.append([record["label"], record["week_start"].to_pydatetime(), record["week_end"].to_pydatetime(),
                     *(cents(record[k]) for k in AMOUNT_KEYS), ALERT if record["below_cushion"] else ""])
    return rows


FUNCTIONS_CASH: dict[str, Callable] = {"FORECAST": forecast_table}

__all__ = ["ALERT", "FUNCTIONS_CASH", "HEADERS", "forecast_table"]
