"""Excel functions for scoring, credit limits and late penalties: SCORE, CREDIT_HEADROOM, PENALTY.

Same conventions as the KPI family (the converters and error handling of `encaisse.excel.args`):
table ranges with their header row or DataFrames, single cells as numbers, dates or
text; the result is a number, a 2-D list with a header row (spilled in Excel), or an Excel
error text "#VALEUR! <raison>" — these functions never raise.

The policy (scoring weights, credit limits, penalty terms, legal rates) comes from the rules
folder given as last argument (`dossier_regles`; the keyword `rules_dir`, which the headless
recalculation passes for --rules, wins over it), the repository's rules/ folder when blank,
read by `encaisse.rules.load` on each call: nothing is kept between calls.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from encaisse.excel.args import SheetError, blank, date_arg, number_arg, rates_arg, receivables_arg, sheet_function, table_arg
from encaisse.excel.context import EvaluationContext
from encaisse.fr import rate as shown_rate
from encaisse.workbook.coerce import coerce_amount, coerce_text
from encaisse.resources import DEFAULT_RULES_DIR
from encaisse.rules.legal import half_year_label, half_year_start


SCORE_HEADERS = (
    ("customer_id", "Code client"),
    ("days_late", "Retard moyen (jours)"),
    ("late_share", "Part en retard"),
    ("unpaid_count", "Impayés échus"),
    ("dispute_rate", "Taux de litige"),
    ("volume", "CA 12 mois"),
    ("external_rating", "Note externe"),
    ("score", "Score"),
    ("risk_class", "Classe"),
)
HEADROOM_HEADERS = (
    ("customer_id", "Code client"),
    ("risk_class", "Classe"),
    ("exposure", "Encours"),
    ("credit_limit", "Limite"),
    ("limit_source", "Origine limite"),
    ("headroom", "Marge disponible"),
    ("usage", "Utilisation"),
    ("action", "Action"),
)


def _rules(dossier_regles: Any, rules_dir: Any = None, context: EvaluationContext | None = None):
    """The rules of `rules_dir` (the recalculation's --rules, keyword only), else of the folder
    given in the formula, else of the repository's rules/ folder. A folder that does not exist
    is an error, never a silent fallback. With an evaluation `context`, a folder is read once for
    every function of the workbook (WORKLIST and FORECAST both read it)."""
    from encaisse.rules import load

    given = rules_dir if not blank(rules_dir) else dossier_regles
    folder = None if blank(given) else coerce_text(given)
    path = Path(folder) if folder else DEFAULT_RULES_DIR
    if context is not None:
        return context.shared("rules", (), (str(path),), lambda: load(path))
    return load(path)


def _cell(value: Any) -> Any:
    """A value as a cell shows it: blank for NA, float for numbers, « ∞ » for an infinite usage."""
    if value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        return None
    if isinstance(value, (float, np.floating)) and math.isinf(value):
        return "∞"
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    return value


def _grid(frame: pd.DataFrame, headers: tuple[tuple[str, str], ...]) -> list[list[Any]]:
    body = frame[[key for key, _ in headers]].astype(object).to_numpy().tolist()
    return [[label for _, label in headers], *[[_cell(v) for v in row] for row in body]]


def _customer_row(frame: pd.DataFrame, code_client: Any) -> pd.Series:
    code = coerce_text(code_client)
    found = frame[frame["customer_id"] == code]
    if found.empty:
        raise SheetError(f"client « {code} » absent des tables Clients et Factures")
    return found.iloc[0]


def _scored(factures, reglements, clients, date_arrete, taux_change, rules, context=None):
    """The tables, the receivables as of the date (the one allocation, shared by scores and
    exposure) and the scores of every customer."""
    from encaisse.credit.scoring import score_customers
    from encaisse.ledger import receivables
    from encaisse.tables import CUSTOMERS, INVOICES, PAYMENTS

    invoices = table_arg(factures, INVOICES, context=context)
    payments = table_arg(reglements, PAYMENTS, optional=True, context=context)
    customers = table_arg(clients, CUSTOMERS, optional=True, context=context)
    as_of = date_arg(date_arrete)
    rates = rates_arg(taux_change)
    book = receivables_arg(factures, reglements, invoices, payments, as_of, rates, context=context)
    if book is None:
        book = receivables(invoices, payments, as_of, rates=rates)
    scores = score_customers(invoices, payments, customers, as_of, rules.scoring, receivables=book)
    return customers, as_of, book, scores


@sheet_function
def score(factures, reglements, clients, date_arrete, code_client=None, dossier_regles=None, taux_change=None, *, rules_dir=None, context=None):
    """SCORE(Factures; Règlements; Clients; date_arrêté[; code_client][; dossier_règles][; taux_change]) —
    score de solvabilité 0–100 du client ; sans code client, un tableau de tous les clients
    (facteurs, score, classe de risque)."""
    scores = _scored(factures, reglements, clients, date_arrete, taux_change, _rules(dossier_regles, rules_dir, context), context)[-1]
    if blank(code_client):
        return _grid(scores, SCORE_HEADERS)
    return float(_customer_row(scores, code_client)["score"])


@sheet_function
def credit_headroom(factures, reglements, clients, date_arrete, code_client=None, dossier_regles=None, taux_change=None, *, rules_dir=None, context=None):
    """CREDIT_HEADROOM(Factures; Règlements; Clients; date_arrêté[; code_client][; dossier_règles][; taux_change]) —
    marge de crédit en € = limite − encours (négative au-delà de la limite) ; sans code client, un
    tableau de tous les clients (classe, encours, limite et son origine, marge, utilisation, action)."""
    from encaisse.credit.risk import credit_exposure

    rules = _rules(dossier_regles, rules_dir, context)
    customers, as_of, book, scores = _scored(factures, reglements, clients, date_arrete, taux_change, rules, context)
    table = credit_exposure(book.invoices, book.payments, customers, as_of, rules.risk, scores, receivables=book)
    if blank(code_client):
        return _grid(table, HEADROOM_HEADERS)
    row = _customer_row(table, code_client)
    if pd.isna(row["credit_limit"]):
        raise SheetError(
            f"client « {row['customer_id']} » sans limite de crédit (Encours max vide et pas de limite pour la classe {row['risk_class']} dans risque.yaml)"
        )
    return float(row["headroom"])


@sheet_function
def penalty(montant, echeance, date_arrete, taux_contractuel=None, dossier_regles=None, *, rules_dir=None):
    """PENALTY(montant; échéance; date_arrêté[; taux_contractuel][; dossier_règles]) — pénalités de
    retard L441-10 d'une facture en € : intérêts jour par jour au taux de chaque semestre (taux BCE
    au 1er janvier / 1er juillet + 10 points, ou le taux contractuel) + l'indemnité forfaitaire de 40 €."""
    from encaisse.credit.penalty import late_penalty, penalty_basis

    amount = number_arg(montant, "montant")
    if blank(echeance):
        raise SheetError("échéance vide")
    due = date_arg(echeance, "échéance")
    as_of = date_arg(date_arrete)
    legal, rate = penalty_basis(_rules(dossier_regles, rules_dir))
    if not blank(taux_contractuel):
        try:
            rate = _rate(coerce_amount(taux_contractuel, percent=True))
        except ValueError:
            raise SheetError(f"taux contractuel « {taux_contractuel} » n'est pas un nombre (ex. 15 %, 15 ou 0,15)") from None
    if rate is not None:
        _check_contractual_rate(rate, due.date(), as_of.date(), legal)
    return float(late_penalty(amount, due, as_of, legal, contractual_rate=rate)["total"].iloc[0])


def _rate(value: float | None) -> float | None:
    """A yearly rate as a fraction: 0,15 (a cell formatted in %) stays, 15 or « 15 % » (the workbook's
    convention for rates) is divided by 100. A penalty rate of 1 % or less is never
    lawful, so a value up to 1 can only be a fraction."""
    return None if value is None else value / 100.0 if value > 1 else value


def _check_contractual_rate(rate: float, due: dt.date, as_of: dt.date, legal) -> None:
    """L441-10: a contractual rate may not be below 3 × the legal interest rate of a half-year it covers."""
    if not 0 < rate <= 1:
        raise SheetError(f"taux contractuel {shown_rate(rate)} hors de 0 % à 100 % (ex. 15 %, 15 ou 0,15)")
    start = half_year_start(due + dt.timedelta(days=1))
    while start <= as_of:  # the half-years with days late: a handful
        minimum = legal.minimum_penalty_rate(start)
        if rate < minimum:
            raise SheetError(
                f"taux contractuel {shown_rate(rate)} inférieur au minimum légal de {shown_rate(minimum)} "
                f"(3 × le taux d'intérêt légal du semestre {half_year_label(start)})"
            )
        start = dt.date(start.year, 7, 1) if start.month == 1 else dt.date(start.year + 1, 1, 1)


FUNCTIONS_CREDIT: dict[str, Callable] = {"SCORE": score, "CREDIT_HEADROOM": credit_headroom, "PENALTY": penalty}
