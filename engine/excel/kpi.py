"""The Excel functions as plain Python: what `=DSO(...)`, `=AGING(...)` and the others compute.

Each takes what a formula gives — table ranges as 2-D lists whose first row is the header
(None for blanks, floats for integers, datetimes for dates) or DataFrames whose columns are
the headers; single cells as numbers, dates, Excel serials or text — converts them with
`encaisse.workbook.coerce`, calls `encaisse.kpi`, and returns a float, a 2-D list with a header row
(AGING spills), or an Excel error text. These functions never raise:

- bad input gives "#VALEUR! <what is wrong, in French>", e.g.
  "#VALEUR! Factures : colonne obligatoire « Échéance » absente (en-têtes lus : …)";
- a KPI that is undefined (no sales in the window, …) gives "#DIV/0! <why>".

`FUNCTIONS_KPI` maps each Excel name of this family to its function; `encaisse.excel.FUNCTIONS`
merges every family for the add-in (`encaisse.addin.udfs`) and the headless recalculation.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import pandas as pd

from encaisse import kpi
from encaisse.excel.args import (
    NO_SALES,
    SheetError,
    blank,
    cents,
    date_arg,
    days_or_div,
    method_arg,
    number_arg,
    rates_arg,
    receivables_arg,
    sheet_function,
    table_arg,
)
from encaisse.kpi.aging import check_buckets
from encaisse.tables import ACTIVITY, INVOICES, PAYABLES, PAYMENTS, normalize_header

# ---------------------------------------------------------------- the functions


@sheet_function
def dso(factures, reglements, date_arrete, methode=None, jours=None, taux_change=None, *, context=None):
    """DSO(Factures; Règlements; date_arrêté[; méthode][; jours][; taux_change]) — délai moyen de
    recouvrement en jours, par épuisement du CA (défaut) ou sur la période (`jours`, défaut 90)."""
    invoices, payments = table_arg(factures, INVOICES, context=context), table_arg(reglements, PAYMENTS, optional=True, context=context)
    as_of, rates = date_arg(date_arrete), rates_arg(taux_change)
    value = kpi.dso(invoices, payments, as_of, method_arg(methode), number_arg(jours, "jours", 90, whole=True, positive=True),
                    rates=rates, receivables=receivables_arg(factures, reglements, invoices, payments, as_of, rates, context))
    return days_or_div(value, NO_SALES)


@sheet_function
def bpdso(factures, reglements, date_arrete, jours=None, taux_change=None, *, context=None):
    """BPDSO(Factures; Règlements; date_arrêté[; jours][; taux_change]) — meilleur DSO possible:
    créances non échues / CA TTC des `jours` derniers jours × jours."""
    invoices, payments = table_arg(factures, INVOICES, context=context), table_arg(reglements, PAYMENTS, optional=True, context=context)
    as_of, rates = date_arg(date_arrete), rates_arg(taux_change)
    value = kpi.best_possible_dso(invoices, payments, as_of, number_arg(jours, "jours", 90, whole=True, positive=True),
                                  rates=rates, receivables=receivables_arg(factures, reglements, invoices, payments, as_of, rates, context))
    return days_or_div(value, NO_SALES)


@sheet_function
def add(factures, reglements, date_arrete, methode=None, jours=None, taux_change=None, *, context=None):
    """ADD(Factures; Règlements; date_arrêté[; méthode][; jours][; taux_change]) — retard moyen
    (average days delinquent) = DSO − meilleur DSO possible, en jours."""
    invoices, payments = table_arg(factures, INVOICES, context=context), table_arg(reglements, PAYMENTS, optional=True, context=context)
    as_of, rates = date_arg(date_arrete), rates_arg(taux_change)
    value = kpi.average_days_delinquent(invoices, payments, as_of, method_arg(methode),
                                        number_arg(jours, "jours", 90, whole=True, positive=True), rates=rates,
                                        receivables=receivables_arg(factures, reglements, invoices, payments, as_of, rates, context))
    return days_or_div(value, NO_SALES)


@sheet_function
def cei(factures, reglements, date_arrete, mois=None, taux_change=None, *, context=None):
    """CEI(Factures; Règlements; date_arrêté[; mois][; taux_change]) — indice d'efficacité du
    recouvrement sur les `mois` derniers mois (défaut 3), en fraction comme tout taux (1,041 = 104,1 %)."""
    invoices, payments = table_arg(factures, INVOICES, context=context), table_arg(reglements, PAYMENTS, optional=True, context=context)
    as_of, rates = date_arg(date_arrete), rates_arg(taux_change)
    value = kpi.cei(invoices, payments, as_of, number_arg(mois, "mois", 3, whole=True, positive=True), rates=rates,
                    receivables=receivables_arg(factures, reglements, invoices, payments, as_of, rates, context))
    return days_or_div(value, "dénominateur nul ou négatif (créances de début + ventes mensuelles − créances non échues)")


@sheet_function
def dpo(dettes, activite, date_arrete, jours=None, *, context=None):
    """DPO(Dettes; Activité; date_arrêté[; jours]) — délai moyen de paiement des fournisseurs en
    jours: dettes ouvertes / achats TTC des `jours` derniers jours × jours."""
    value = kpi.dpo(table_arg(dettes, PAYABLES, optional=True, context=context), table_arg(activite, ACTIVITY, optional=True, context=context), date_arg(date_arrete),
                    number_arg(jours, "jours", 90, whole=True, positive=True))
    return days_or_div(value, "aucun achat sur la période")


@sheet_function
def dio(activite, date_arrete, jours=None, *, context=None):
    """DIO(Activité; date_arrêté[; jours]) — rotation des stocks en jours: stock fin de mois /
    coût des ventes des `jours` derniers jours × jours."""
    value = kpi.dio(table_arg(activite, ACTIVITY, optional=True, context=context), date_arg(date_arrete), number_arg(jours, "jours", 90, whole=True, positive=True))
    return days_or_div(value, "pas de stock connu à la date ou aucun coût des ventes sur la période")


@sheet_function
def ccc(factures, reglements, dettes, activite, date_arrete, methode=None, jours=None, taux_change=None, *, context=None):
    """CCC(Factures; Règlements; Dettes; Activité; date_arrêté[; méthode][; jours][; taux_change]) —
    cycle de conversion de trésorerie en jours = DIO + DSO − DPO."""
    invoices, payments = table_arg(factures, INVOICES, context=context), table_arg(reglements, PAYMENTS, optional=True, context=context)
    as_of, rates = date_arg(date_arrete), rates_arg(taux_change)
    value = kpi.ccc(invoices, payments, table_arg(dettes, PAYABLES, optional=True, context=context), table_arg(activite, ACTIVITY, optional=True, context=context),
                    as_of, method_arg(methode), number_arg(jours, "jours", 90, whole=True, positive=True), rates=rates,
                    receivables=receivables_arg(factures, reglements, invoices, payments, as_of, rates, context))
    return days_or_div(value, "DSO, DPO ou DIO indéfini (ventes, achats, coût des ventes ou stock manquants sur la période)")


_AGE_BASES = {"echeance": "due_date", "duedate": "due_date", "facture": "issue_date", "datefacture": "issue_date", "emission": "issue_date",
              "issuedate": "issue_date"}


def buckets_arg(value: Any) -> tuple[int, ...]:
    if blank(value):
        return (0, 30, 60, 90)
    if isinstance(value, pd.DataFrame):
        value = [list(value.columns), *value.to_numpy().tolist()]
    if isinstance(value, (list, tuple)):
        cells = [c for row in value for c in (row if isinstance(row, (list, tuple)) else [row]) if not blank(c)]
    elif isinstance(value, (int, float)):
        cells = [value]
    else:
        cells = [c for c in re.split(r"[;|\s]+", str(value)) if c]
    return check_buckets(number_arg(c, "tranche", whole=True) for c in cells)


@sheet_function
def aging(factures, reglements, date_arrete, tranches=None, base=None, par_client=None, taux_change=None, *, context=None):
    """AGING(Factures; Règlements; date_arrêté[; tranches][; base][; par_client][; taux_change]) —
    balance âgée: montants et nombres de factures ouvertes par tranche de retard (« 0;30;60;90 »
    par défaut: non échu, 1-30, 31-60, 61-90, > 90 j), par client puis total. `base` =
    « échéance » (défaut) ou « facture »; `par_client` = FAUX pour la seule ligne Total."""
    by = "due_date" if blank(base) else _AGE_BASES.get(normalize_header(base))
    if by is None:
        raise SheetError(f"base « {base} » inconnue : « échéance » (défaut) ou « facture »")
    per_customer = True if blank(par_client) else bool(par_client) if isinstance(par_client, (bool, int, float)) else \
        normalize_header(par_client) not in ("faux", "false", "non", "0")
    invoices, payments = table_arg(factures, INVOICES, context=context), table_arg(reglements, PAYMENTS, optional=True, context=context)
    as_of, rates = date_arg(date_arrete), rates_arg(taux_change)
    table = kpi.aging(invoices, payments, as_of, buckets_arg(tranches), by, per_customer, rates=rates,
                      receivables=receivables_arg(factures, reglements, invoices, payments, as_of, rates, context))
    header = ["Code client", *table.columns[1:]]
    body = table.to_numpy(dtype=object).tolist()
    amounts = len(table.columns) // 2  # customer_id, then amounts up to Total, then counts
    return [header, *[[row[0], *(cents(v) for v in row[1:amounts + 1]), *(float(v) for v in row[amounts + 1:])] for row in body]]


@sheet_function
def recovery_rate(factures, reglements, date_arrete, jours=None, taux_change=None, *, context=None):
    """RECOVERY_RATE(Factures; Règlements; date_arrêté[; jours][; taux_change]) — taux de
    recouvrement: encaissements des `jours` derniers jours (défaut 90) / montants échus sur la
    période (0,95 = 95 %)."""
    invoices, payments = table_arg(factures, INVOICES, context=context), table_arg(reglements, PAYMENTS, optional=True, context=context)
    value = kpi.recovery_rate(invoices, payments, date_arg(date_arrete), number_arg(jours, "jours", 90, whole=True, positive=True),
                              rates=rates_arg(taux_change))
    return days_or_div(value, "aucune facture à échéance sur la période")


_MEASURES = {"nombre": "count", "count": "count", "nb": "count", "montant": "amount", "amount": "amount"}


@sheet_function
def dispute_rate(factures, date_arrete, mesure=None, jours=None, taux_change=None, *, context=None):
    """DISPUTE_RATE(Factures; date_arrêté[; mesure][; jours][; taux_change]) — taux de litige des
    factures émises sur les `jours` derniers jours (défaut 365), en « nombre » (défaut) ou en
    « montant » (0,12 = 12 %)."""
    measure = "count" if blank(mesure) else _MEASURES.get(normalize_header(mesure))
    if measure is None:
        raise SheetError(f"mesure « {mesure} » inconnue : « nombre » (défaut) ou « montant »")
    rate = kpi.dispute_rate(table_arg(factures, INVOICES, context=context), date_arg(date_arrete), number_arg(jours, "jours", 365, whole=True, positive=True),
                            rates=rates_arg(taux_change))
    return days_or_div(getattr(rate, measure), "aucune facture émise sur la période")


@sheet_function
def cash_released(activite, date_arrete, delta_dso=None, delta_dpo=None, delta_dio=None, jours=None, *, context=None):
    """CASH_RELEASED(Activité; date_arrêté; Δ DSO; Δ DPO; Δ DIO[; jours]) — trésorerie libérée
    (en €) en réduisant le DSO et le DIO ou en allongeant le DPO du nombre de jours donné (ex. −15;
    10; −20), sur le CA, les achats et le coût des ventes des `jours` derniers jours (défaut 90)."""
    value = kpi.cash_released(
        table_arg(activite, ACTIVITY, optional=True, context=context), date_arg(date_arrete),
        number_arg(delta_dso, "Δ DSO", 0.0), number_arg(delta_dpo, "Δ DPO", 0.0), number_arg(delta_dio, "Δ DIO", 0.0),
        number_arg(jours, "jours", 90, whole=True, positive=True),
    )
    return cents(value)


FUNCTIONS_KPI: dict[str, Callable] = {
    "DSO": dso,
    "BPDSO": bpdso,
    "ADD": add,
    "CEI": cei,
    "DPO": dpo,
    "DIO": dio,
    "CCC": ccc,
    "AGING": aging,
    "RECOVERY_RATE": recovery_rate,
    "DISPUTE_RATE": dispute_rate,
    "CASH_RELEASED": cash_released,
}
