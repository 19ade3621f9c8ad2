"""The Excel functions as plain Python, one module per family, merged into one registry.

`FUNCTIONS` maps each Excel name (DSO, AGING, SCORE…) to a function that takes what a formula
passes and returns a number, a 2-D list with a header row (spilled), or an error text
"#VALEUR! <raison>". The add-in (`encaisse.addin.udfs`) and the headless recalculation
(`encaisse.recalc`) both go through it. Families: `kpi` (cash and receivables KPIs), `credit`
(scores, credit limits, late penalties), `dunning` (the day's worklist), `cash` (the 13-week forecast); `args` holds the converters they share.
"""

from __future__ import annotations

from typing import Callable

from encaisse.excel.cash import FUNCTIONS_CASH
from encaisse.excel.credit import FUNCTIONS_CREDIT
from encaisse.excel.dunning import FUNCTIONS_DUNNING
from encaisse.excel.kpi import FUNCTIONS_KPI

FUNCTIONS: dict[str, Callable] = {**FUNCTIONS_KPI, **FUNCTIONS_CREDIT, **FUNCTIONS_DUNNING, **FUNCTIONS_CASH}

__all__ = ["FUNCTIONS"]
