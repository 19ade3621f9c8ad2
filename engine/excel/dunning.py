"""Excel function of the dunning family: WORKLIST, the day's actions ranked by priority.

Same conventions as the other families (`encaisse.excel.args`): table ranges with their header
row or DataFrames, the as-of date as a cell, the rules folder as last argument (`dossier_regles`;
the keyword `rules_dir`, which the headless recalculation passes for --rules, wins over it; the
repository's rules/ when blank). The result spills: a header row, then one row per action.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from encaisse.excel.args import SheetError, blank, date_arg, number_arg, receivables_arg, sheet_function, table_arg
from encaisse.excel.credit import _cell, _rules

HEADERS = (
    ("rank", "Rang"),
    ("priority", "Priorité"),
    ("action", "Action"),
    ("customer_id", "Code client"),
    ("customer_name", "Raison sociale"),
    ("step", "Étape"),
    ("label", "Libellé"),
    ("invoices", "Factures"),
    ("amount_due", "Montant dû"),
    ("days_past_due", "Retard (jours)"),
    ("penalty", "Pénalités"),
    ("indemnity", "Indemnités"),
    ("risk_class", "Classe"),
    ("team", "Équipe"),
    ("invoice_ids", "N° factures"),
)
ACTIONS = {"email": "e-mail", "appel": "appel", "courrier": "courrier", "recommande": "recommandé AR",
           "escalade": "escalade", "litige": "litige (interne)"}


@sheet_function
def worklist(factures, reglements, clients, journal, date_arrete, nombre=None, dossier_regles=None, *, rules_dir=None, context=None):
    """WORKLIST(Factures; Règlements; Clients; Journal; date_arrêté[; nombre][; dossier_règles]) — les
    actions de relance du jour classées par priorité (e-mails, appels, lettres, escalades, litiges
    à relancer) ; un tableau qui se déverse, limité aux `nombre` premières lignes si donné."""
    from encaisse.dunning import dunning_state
    from encaisse.dunning import worklist as ranked
    from encaisse.tables import CUSTOMERS, INVOICES, JOURNAL, PAYMENTS

    invoices = table_arg(factures, INVOICES, context=context)
    payments = table_arg(reglements, PAYMENTS, optional=True, context=context)
    customers = table_arg(clients, CUSTOMERS, optional=True, context=context)
    log = table_arg(journal, JOURNAL, optional=True, context=context)
    as_of = date_arg(date_arrete)
    top = None if blank(nombre) else number_arg(nombre, "nombre", positive=True)
    if top is not None and top != int(top):
        raise SheetError(f"nombre « {nombre} » : un nombre entier de lignes est attendu")
    # the payments allocated once for the KPIs and this list (the same tables, date and rates)
    book = receivables_arg(factures, reglements, invoices, payments, as_of, None, context)
    state = dunning_state(invoices, payments, customers, log, _rules(dossier_regles, rules_dir, context), as_of, book=book)
    frame = ranked(state, None if top is None else int(top))
    columns = []
    for key, _ in HEADERS:  # column by column: the list has thousands of rows
        values = frame[key].tolist()
        if key == "action":
            values = [ACTIONS.get(value, value) for value in values]
        elif key == "priority":
            values = [math.floor(float(value) * 10 + 0.5) / 10 for value in values]
        elif key in ("amount_due", "penalty", "indemnity"):
            values = [math.floor(float(value) * 100 + 0.5) / 100 for value in values]
        columns.append(list(map(_cell, values)))
    return [[label for _, label in HEADERS], *map(list, zip(*columns))]


FUNCTIONS_DUNNING: dict[str, Callable[..., Any]] = {"WORKLIST": worklist}
