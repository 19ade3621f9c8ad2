"""What every Excel function shares: converting what a formula passes (ranges with headers, cells,
option texts) into engine values, and turning any failure into the error text the cell shows.

A range arrives as a 2-D list whose first row is the header (None for blanks, floats for
integers, datetimes for dates) or as a DataFrame whose columns are the headers; a single cell as a
number, a date, an Excel serial or text. A converter raises `SheetError` with a French reason;
`sheet_function` turns it into "#VALEUR! <raison>" so that no function ever raises into Excel.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

import pandas as pd

from encaisse import ledger
from encaisse.errors import EncaisseError
from encaisse.excel.context import EvaluationContext
from encaisse.fr import round_cents
from encaisse.tables import Table, normalize_header
from encaisse.workbook.coerce import coerce_amount, coerce_date, coerce_text, frame_from_values

VALUE_ERROR = "#VALEUR!"
DIV_ERROR = "#DIV/0!"


class SheetError(Exception):
    """A reason to return "#VALEUR! …" instead of a value (caught in each function)."""


def _one_line(error: Exception) -> str:
    problems = getattr(error, "problems", None)
    if problems:
        shown = " ; ".join(str(p) for p in problems[:3])
        return shown + (f" (et {len(problems) - 3} autres)" if len(problems) > 3 else "")
    # line breaks and runs of spaces become one space; the no-break spaces of French figures stay
    return re.sub(r"[ \t\r\n]+", " ", str(error)).strip()


def sheet_function(compute: Callable) -> Callable:
    """Turn every expected failure of `compute` into an Excel error text instead of an exception."""

    def call(*args, **kwargs):
        try:
            return compute(*args, **kwargs)
        except (SheetError, EncaisseError, ValueError) as error:
            return f"{VALUE_ERROR} {_one_line(error)}"
        except Exception as error:  # never raise into Excel, even on a bug
            # a bug of ours: the cell says so in French, never the internal exception's text
            return f"{VALUE_ERROR} erreur inattendue dans encaisse : le calcul n'a pas pu se faire (à nous signaler)"

    call.__name__ = compute.__name__
    call.__qualname__ = compute.__qualname__
    call.__doc__ = compute.__doc__
    call.__wrapped__ = compute
    return call


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, float) and math.isnan(value))


def table_arg(values: Any, table: Table, *, optional: bool = False, context: EvaluationContext | None = None) -> pd.DataFrame:
    """A range with its header row (or a DataFrame) → canonical frame; SheetError listing the problems.

    With an evaluation `context` (the headless recalculation), a range object is converted once
    for every call that passes it."""
    if values is None or (isinstance(values, (list, tuple)) and not values):
        if optional:
            values = [[column.header for column in table.columns if column.required]]
        else:
            raise SheetError(f"{table.sheet} : plage vide (sélectionnez le tableau avec sa ligne d'en-têtes, ex. {table.name}[#Tout])")
    if isinstance(values, (list, tuple)) and values and not isinstance(values[0], (list, tuple)):
        values = [values]  # a single row (header only) comes as a flat list
    if context is not None:
        return context.shared("table", (values,), (table.name,), lambda: _table_frame(values, table))
    return _table_frame(values, table)


def _table_frame(values: Any, table: Table) -> pd.DataFrame:
    frame, problems = frame_from_values(values, table)
    if problems:
        shown = " ; ".join(str(p) if p.where.startswith(table.sheet) else f"{table.sheet} : {p}" for p in problems[:3])
        raise SheetError(shown + (f" (et {len(problems) - 3} autres)" if len(problems) > 3 else ""))
    return frame


def receivables_arg(factures: Any, reglements: Any, invoices: pd.DataFrame, payments: pd.DataFrame, as_of, rates,
                    context: EvaluationContext | None = None):
    """With an evaluation `context`, payments are allocated once per date and rates for every
    function; None without one, and each KPI allocates them itself."""
    if context is None:
        return None
    extra = (pd.Timestamp(as_of), tuple(sorted(rates.items())) if rates else None)
    return context.shared("receivables", (factures, reglements), extra,
                          lambda: ledger.receivables(invoices, payments, as_of, rates=rates))


def date_arg(value: Any, label: str = "date d'arrêté") -> pd.Timestamp:
    try:
        day = coerce_date(value[0][0] if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)) else value)
    except ValueError as error:
        raise SheetError(f"{label} : {error}") from None
    if day is None:
        raise SheetError(f"{label} vide (par exemple la cellule DateArrete)")
    return pd.Timestamp(day)


def number_arg(value: Any, label: str, default: float | None = None, *, whole: bool = False, positive: bool = False) -> float:
    if blank(value):
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
    if blank(value):
        return "countback"
    method = _METHODS.get(normalize_header(value))
    if method is None:
        raise SheetError(f"méthode « {value} » inconnue : « épuisement » (par défaut) ou « période »")
    return method


def rates_arg(value: Any) -> dict[str, float] | None:
    """Exchange rates in euros per unit: text "USD=0,92; GBP=1,17" or a 2-column range (devise, taux)."""
    if blank(value):
        return None
    pairs: list[tuple[Any, Any]] = []
    if isinstance(value, pd.DataFrame):
        value = [list(value.columns), *value.to_numpy().tolist()]
    if isinstance(value, (list, tuple)):
        for row in value:
            row = list(row) if isinstance(row, (list, tuple)) else [row]
            if len(row) >= 2 and not blank(row[0]) and not blank(row[1]):
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
        if number is None or not 0 < number < 1e6:  # NaN fails both comparisons
            raise SheetError(f"taux de change de {code} absent ou nul (euros pour une unité, ex. USD=0,92)")
        rates[str(coerce_text(code)).strip().upper()] = number
    return rates


def _is_rate_header(text: str) -> bool:
    return normalize_header(text) in ("taux", "tauxdechange", "rate", "cours")


# ---------------------------------------------------------------- results


def days_or_div(value: float, why: str) -> float | str:
    return float(value) if math.isfinite(value) else f"{DIV_ERROR} {why}"


def cents(value: float) -> float:
    return round_cents(float(value))


NO_SALES = "aucune vente sur la période"
