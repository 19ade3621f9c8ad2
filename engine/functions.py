"""The Excel functions as plain Python: what `=DSO(...)`, `=AGING(...)` and the others compute.

Each takes what a formula gives — table ranges as 2-D lists whose first row is the header
(None for blanks, floats for integers, datetimes for dates) or DataFrames whose columns are
the headers; single cells as numbers, dates, Excel serials or text — converts them with
`encaisse.coerce`, calls `encaisse.kpi`, and returns a float, a 2-D list with a header row
(AGING spills), or an Excel error text. These functions never raise:

- bad input gives "#VALEUR! <what is wrong, in French>", e.g.
  "#VALEUR! Factures : colonne obligatoire « Échéance » absente (en-têtes lus : …)";
- a KPI that is undefined (no sales in the window, …) gives "#DIV/0! <why>".

`FUNCTIONS` maps each Excel name to its function; the add-in (`encaisse.addin.udfs`) and the
headless recalculation (`encaisse.recalc`) both go through it. Other modules add their entries
(SCORE, CREDIT_HEADROOM, PENALTY come from `encaisse.functions_risk`).
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

import pandas as pd

from encaisse import kpi, ledger
from encaisse.coerce import coerce_amount, coerce_date, coerce_text, frame_from_values
from encaisse.errors import EncaisseError
from encaisse.kpi.aging import check_buckets
from encaisse.tables import ACTIVITY, INVOICES, PAYABLES, PAYMENTS, Table, normalize_header

VALUE_ERROR = "#VALEUR!"
DIV_ERROR = "#DIV/0!"


class SheetError(Exception):
    """A reason to return "#VALEUR! …" instead of a value (caught in each function)."""


def _one_line(error: Exception) -> str:
    problems = getattr(error, "problems", None)
    if problems:
        shown = " ; ".join(str(p) for p in problems[:3])
        return shown + (f" (et {len(problems) - 3} autres)" if len(problems) > 3 else "")
    return " ".join(str(error).split())


def sheet_function(compute: Callable) -> Callable:
    """Turn every expected failure of `compute` into an Excel error text instead of an exception."""

    def call(*args, **kwargs):
        try:
            return compute(*args, **kwargs)
        except (SheetError, EncaisseError, ValueError) as error:
            return f"{VALUE_ERROR} {_one_line(error)}"
        except Exception as error:  # never raise into Excel, even on a bug
            return f"{VALUE_ERROR} erreur inattendue ({type(error).__name__} : {_one_line(error)})"

    call.__name__ = compute.__name__
    call.__qualname__ = compute.__qualname__
    call.__doc__ = compute.__doc__
    call.__wrapped__ = compute
    return call


# ---------------------------------------------------------------- arguments


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, float) and math.isnan(value))


def table_arg(values: Any, table: Table, *, optional: bool = False) -> pd.DataFrame:
    """A range with its header row (or a DataFrame) → canonical frame; SheetError listing the problems."""
    if values is None or (isinstance(values, (list, tuple)) and not values):
        if optional:
            values = [[column.header for column in table.columns if column.required]]
        else:
            raise SheetError(f"{table.sheet} : plage vide (sélectionnez le tableau avec sa ligne d'en-têtes, ex. {table.name}[#Tout])")
    if isinstance(values, (list, tuple)) and values and not isinstance(values[0], (list, tuple)):
        values = [values]  # a single row (header only) comes as a flat list
    # The headless recalculation passes each table range as one DataFrame to every function and
    # marks it with a cache (attrs[CONVERTED]) so that the table is converted once, not per call.
    cache = values.attrs.get(CONVERTED) if isinstance(values, pd.DataFrame) else None
    if cache is not None and table.name in cache:
        return cache[table.name]
    frame, problems = frame_from_values(values, table)
    if problems:
        shown = " ; ".join(str(p) if p.where.startswith(table.sheet) else f"{table.sheet} : {p}" for p in problems[:3])
        raise SheetError(shown + (f" (et {len(problems) - 3} autres)" if len(problems) > 3 else ""))
    if cache is not None:
        cache[table.name] = frame
    return frame


CONVERTED = "encaisse.converted"  # DataFrame.attrs key: table name -> canonical frame already converted


def _receivables(factures: Any, reglements: Any, invoices: pd.DataFrame, payments: pd.DataFrame, as_of, rates):
    """In a headless recalculation (tables marked with CONVERTED), payments are allocated once per
    date for every function; None elsewhere, and each KPI allocates them itself."""
    cache = factures.attrs.get(CONVERTED) if isinstance(factures, pd.DataFrame) else None
    if cache is None:
        return None
    key = ("receivables", id(reglements), pd.Timestamp(as_of), tuple(sorted(rates.items())) if rates else None)
    if key not in cache:
        cache[key] = ledger.receivables(invoices, payments, as_of, rates=rates)
    return cache[key]


def date_arg(value: Any, label: str = "date d'arrêté") -> pd.Timestamp:
    try:
        day = coerce_date(value[0][0] if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)) else value)
    except ValueError as error:
        raise SheetError(f"{label} : {error}") from None
    if day is None:
        raise SheetError(f"{label} vide (par exemple la cellule DateArrete)")
    return pd.Timestamp(day)


def number_arg(value: Any, label: str, default: float | None = None, *, whole: bool = False, positive: bool = False) -> float:
    if _blank(value):
        if default is None:
            raise SheetError(f"{label} vide")
        return default
    try:
        number = coerce_amount(value)
    except ValueError:
        raise SheetError(f"{label} « {value} » n'est pas un nombre") from None
    if whole and number != int(number):
        raise SheetError(f"{label} « {value} » doit être un nombre entier de jours")
    if positive and number <= 0:
        raise SheetError(f"{label} doit être supérieur à 0 (lu : {value})")
    return int(number) if whole else number


_METHODS = {"countback": "countback", "epuisement": "countback", "parepuisement": "countback", "period": "period", "periode": "period"}


def method_arg(value: Any) -> str:
    if _blank(value):
        return "countback"
    method = _METHODS.get(normalize_header(value))
    if method is None:
        raise SheetError(f"méthode « {value} » inconnue : « épuisement » (par défaut) ou « période »")
    return method


def rates_arg(value: Any) -> dict[str, float] | None:
    """Exchange rates in euros per unit: text "USD=0,92; GBP=1,17" or a 2-column range (devise, taux)."""
    if _blank(value):
        return None
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, pd.DataFrame):
        value = [list(value.columns), *value.to_numpy().tolist()]
    if isinstance(value, (list, tuple)):
        for row in value:
            row = list(row) if isinstance(row, (list, tuple)) else [row]
            if len(row) >= 2 and not _blank(row[0]) and not _blank(row[1]):
                pairs.append((row[0], row[1]))
    else:
        for part in re.split(r"[;\n]+", str(value)):
            if part.strip():
                code, _, rate = part.partition("=")
                pairs.append((code, rate))
    rates: dict[str, float] = {}
    for code, rate in pairs:
        try:
            number = coerce_amount(rate)
        except ValueError:
            if isinstance(rate, str) and _is_rate_header(rate):
                continue  # a header row such as « Taux »
            raise SheetError(f"taux de change « {rate} » pour {code} n'est pas un nombre") from None
        if number is None or number <= 0:
            raise SheetError(f"taux de change de {code} absent ou nul (euros pour une unité, ex. USD=0,92)")
        rates[str(coerce_text(code)).strip().upper()] = number
    return rates


def _is_rate_header(text: str) -> bool:
    return normalize_header(text) in ("taux", "tauxdechange", "rate", "cours")


# ---------------------------------------------------------------- results


def _days(value: float, why: str) -> float | str:
    return float(value) if math.isfinite(value) else f"{DIV_ERROR} {why}"


def _cents(value: float) -> float:
    return round(float(value), 2)


NO_SALES = "aucune vente sur la période"


# ---------------------------------------------------------------- the functions


@sheet_function
def dso(factures, reglements, date_arrete, methode=None, jours=None, taux_change=None):
    """DSO(Factures; Règlements; date_arrêté[; méthode][; jours][; taux_change]) — délai moyen de
    recouvrement en jours, par épuisement du CA (défaut) ou sur la période (`jours`, défaut 90)."""
    invoices, payments = table_arg(factures, INVOICES), table_arg(reglements, PAYMENTS, optional=True)
    as_of, rates = date_arg(date_arrete), rates_arg(taux_change)
    value = kpi.dso(invoices, payments, as_of, method_arg(methode), number_arg(jours, "jours", 90, whole=True, positive=True),
                    rates=rates, receivables=_receivables(factures, reglements, invoices, payments, as_of, rates))
    return _days(value, NO_SALES)


@sheet_function
def bpdso(factures, reglements, date_arrete, jours=None, taux_change=None):
    """BPDSO(Factures; Règlements; date_arrêté[; jours][; taux_change]) — meilleur DSO possible:
    créances non échues / CA TTC des `jours` derniers jours × jours."""
    invoices, payments = table_arg(factures, INVOICES), table_arg(reglements, PAYMENTS, optional=True)
    as_of, rates = date_arg(date_arrete), rates_arg(taux_change)
    value = kpi.best_possible_dso(invoices, payments, as_of, number_arg(jours, "jours", 90, whole=True, positive=True),
                                  rates=rates, receivables=_receivables(factures, reglements, invoices, payments, as_of, rates))
    return _days(value, NO_SALES)


@sheet_function
def add(factures, reglements, date_arrete, methode=None, jours=None, taux_change=None):
    """ADD(Factures; Règlements; date_arrêté[; méthode][; jours][; taux_change]) — retard moyen
    (average days delinquent) = DSO − meilleur DSO possible, en jours."""
    invoices, payments = table_arg(factures, INVOICES), table_arg(reglements, PAYMENTS, optional=True)
    as_of, rates = date_arg(date_arrete), rates_arg(taux_change)
    value = kpi.average_days_delinquent(invoices, payments, as_of, method_arg(methode),
                                        number_arg(jours, "jours", 90, whole=True, positive=True), rates=rates,
                                        receivables=_receivables(factures, reglements, invoices, payments, as_of, rates))
    return _days(value, NO_SALES)


@sheet_function
def cei(factures, reglements, date_arrete, mois=None, taux_change=None):
    """CEI(Factures; Règlements; date_arrêté[; mois][; taux_change]) — indice d'efficacité du
    recouvrement en % sur les `mois` derniers mois (défaut 3)."""
    invoices, payments = table_arg(factures, INVOICES), table_arg(reglements, PAYMENTS, optional=True)
    as_of, rates = date_arg(date_arrete), rates_arg(taux_change)
    value = kpi.cei(invoices, payments, as_of, number_arg(mois, "mois", 3, whole=True, positive=True), rates=rates,
                    receivables=_receivables(factures, reglements, invoices, payments, as_of, rates))
    return _days(value, "dénominateur nul ou négatif (créances de début + ventes mensuelles − créances non échues)")


@sheet_function
def dpo(dettes, activite, date_arrete, jours=None):
    """DPO(Dettes; Activité; date_arrêté[; jours]) — délai moyen de paiement des fournisseurs en
    jours: dettes ouvertes / achats TTC des `jours` derniers jours × jours."""
    value = kpi.dpo(table_arg(dettes, PAYABLES, optional=True), table_arg(activite, ACTIVITY, optional=True), date_arg(date_arrete),
                    number_arg(jours, "jours", 90, whole=True, positive=True))
    return _days(value, "aucun achat sur la période")


@sheet_function
def dio(activite, date_arrete, jours=None):
    """DIO(Activité; date_arrêté[; jours]) — rotation des stocks en jours: stock fin de mois /
    coût des ventes des `jours` derniers jours × jours."""
    value = kpi.dio(table_arg(activite, ACTIVITY, optional=True), date_arg(date_arrete), number_arg(jours, "jours", 90, whole=True, positive=True))
    return _days(value, "pas de stock connu à la date ou aucun coût des ventes sur la période")


@sheet_function
def ccc(factures, reglements, dettes, activite, date_arrete, methode=None, jours=None, taux_change=None):
    """CCC(Factures; Règlements; Dettes; Activité; date_arrêté[; méthode][; jours][; taux_change]) —
    cycle de conversion de trésorerie en jours = DIO + DSO − DPO."""
    invoices, payments = table_arg(factures, INVOICES), table_arg(reglements, PAYMENTS, optional=True)
    as_of, rates = date_arg(date_arrete), rates_arg(taux_change)
    value = kpi.ccc(invoices, payments, table_arg(dettes, PAYABLES, optional=True), table_arg(activite, ACTIVITY, optional=True),
                    as_of, method_arg(methode), number_arg(jours, "jours", 90, whole=True, positive=True), rates=rates,
                    receivables=_receivables(factures, reglements, invoices, payments, as_of, rates))
    return _days(value, "DSO, DPO ou DIO indéfini (ventes, achats, coût des ventes ou stock manquants sur la période)")


_AGE_BASES = {"echeance": "due_date", "duedate": "due_date", "facture": "issue_date", "datefacture": "issue_date", "emission": "issue_date",
              "issuedate": "issue_date"}


def buckets_arg(value: Any) -> tuple[int, ...]:
    if _blank(value):
        return (0, 30, 60, 90)
    if isinstance(value, pd.DataFrame):
        value = [list(value.columns), *value.to_numpy().tolist()]
    if isinstance(value, (list, tuple)):
        cells = [c for row in value for c in (row if isinstance(row, (list, tuple)) else [row]) if not _blank(c)]
    elif isinstance(value, (int, float)):
        cells = [value]
    else:
        cells = [c for c in re.split(r"[;|\s]+", str(value)) if c]
    return check_buckets(number_arg(c, "tranche", whole=True) for c in cells)


@sheet_function
def aging(factures, reglements, date_arrete, tranches=None, base=None, par_client=None, taux_change=None):
    """AGING(Factures; Règlements; date_arrêté[; tranches][; base][; par_client][; taux_change]) —
    balance âgée: montants et nombres de factures ouvertes par tranche de retard (« 0;30;60;90 »
    par défaut: non échu, 1-30, 31-60, 61-90, > 90 j), par client puis total. `base` =
    « échéance » (défaut) ou « facture »; `par_client` = FAUX pour la seule ligne Total."""
    by = "due_date" if _blank(base) else _AGE_BASES.get(normalize_header(base))
    if by is None:
        raise SheetError(f"base « {base} » inconnue : « échéance » (défaut) ou « facture »")
    per_customer = True if _blank(par_client) else bool(par_client) if isinstance(par_client, (bool, int, float)) else \
        normalize_header(par_client) not in ("faux", "false", "non", "0")
    invoices, payments = table_arg(factures, INVOICES), table_arg(reglements, PAYMENTS, optional=True)
    as_of, rates = date_arg(date_arrete), rates_arg(taux_change)
    table = kpi.aging(invoices, payments, as_of, buckets_arg(tranches), by, per_customer, rates=rates,
                      receivables=_receivables(factures, reglements, invoices, payments, as_of, rates))
    header = ["Code client", *table.columns[1:]]
    body = table.to_numpy(dtype=object).tolist()
    amounts = len(table.columns) // 2  # customer_id, then amounts up to Total, then counts
    return [header, *[[row[0], *(_cents(v) for v in row[1:amounts + 1]), *(float(v) for v in row[amounts + 1:])] for row in body]]


@sheet_function
def recovery_rate(factures, reglements, date_arrete, jours=None, taux_change=None):
    """RECOVERY_RATE(Factures; Règlements; date_arrêté[; jours][; taux_change]) — taux de
    recouvrement: encaissements des `jours` derniers jours (défaut 90) / montants échus sur la
    période (0,95 = 95 %)."""
    invoices, payments = table_arg(factures, INVOICES), table_arg(reglements, PAYMENTS, optional=True)
    value = kpi.recovery_rate(invoices, payments, date_arg(date_arrete), number_arg(jours, "jours", 90, whole=True, positive=True),
                              rates=rates_arg(taux_change))
    return _days(value, "aucune facture à échéance sur la période")


_MEASURES = {"nombre": "count", "count": "count", "nb": "count", "montant": "amount", "amount": "amount"}


@sheet_function
def dispute_rate(factures, date_arrete, mesure=None, jours=None, taux_change=None):
    """DISPUTE_RATE(Factures; date_arrêté[; mesure][; jours][; taux_change]) — taux de litige des
    factures émises sur les `jours` derniers jours (défaut 365), en « nombre » (défaut) ou en
    « montant » (0,12 = 12 %)."""
    measure = "count" if _blank(mesure) else _MEASURES.get(normalize_header(mesure))
    if measure is None:
        raise SheetError(f"mesure « {mesure} » inconnue : « nombre » (défaut) ou « montant »")
    rate = kpi.dispute_rate(table_arg(factures, INVOICES), date_arg(date_arrete), number_arg(jours, "jours", 365, whole=True, positive=True),
                            rates=rates_arg(taux_change))
    return _days(getattr(rate, measure), "aucune facture émise sur la période")


@sheet_function
def cash_released(activite, date_arrete, delta_dso=None, delta_dpo=None, delta_dio=None, jours=None):
    """CASH_RELEASED(Activité; date_arrêté; Δ DSO; Δ DPO; Δ DIO[; jours]) — trésorerie libérée
    (en €) en réduisant le DSO et le DIO ou en allongeant le DPO du nombre de jours donné (ex. −15;
    10; −20), sur le CA, les achats et le coût des ventes des `jours` derniers jours (défaut 90)."""
    value = kpi.cash_released(
        table_arg(activite, ACTIVITY, optional=True), date_arg(date_arrete),
        number_arg(delta_dso, "Δ DSO", 0.0), number_arg(delta_dpo, "Δ DPO", 0.0), number_arg(delta_dio, "Δ DIO", 0.0),
        number_arg(jours, "jours", 90, whole=True, positive=True),
    )
    return _cents(value)


FUNCTIONS: dict[str, Callable] = {
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

# SCORE, CREDIT_HEADROOM, PENALTY (scoring, credit limits, late penalties)
from encaisse.functions_risk import FUNCTIONS_RISK, credit_headroom, penalty, score  # noqa: E402,F401  (after FUNCTIONS: the registry is one dict)

FUNCTIONS.update(FUNCTIONS_RISK)
