"""The `formulas` library's function table, loaded without scipy until a formula needs it.

`formulas.functions.get_functions()` imports every function module of the library, and its
statistics module imports scipy.stats, scipy.linalg and scipy.interpolate at its top: 0.45 s,
a fifth of a 100 000-invoice `encaisse recalc`, although only statistical functions (NORM.DIST,
PERCENTILE, T.TEST, LINEST...) use them, when they run. While the table loads, those three
modules are stand-ins that import the real module on first use; sys.modules is restored right
after, so any other `import scipy.stats` (or a second stand-in lookup) gets the real module.
The library's code is not changed: its statistics functions find scipy when they first run.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
import threading
import types

from encaisse.recalc.criteria import criteria_functions

# module -> the functions the library imports from it by name (`from scipy.interpolate import interp1d`)
DEFERRED = {"scipy.stats": (), "scipy.linalg": (), "scipy.interpolate": ("interp1d",)}
_loading = threading.Lock()


class _DeferredModule(types.ModuleType):
    """Stands for a scipy module: attribute lookups go to the real module, imported then.

    While the library imports, the functions it imports by name are bound to callables that
    import the module when called; any other attribute (another thread's `scipy.stats.norm`,
    a future version of the library) imports the real module at once, so it is always right.
    """

    def __init__(self, name: str, by_name: tuple[str, ...]):
        super().__init__(name)
        self._by_name = by_name
        self._binding = True

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        if self._binding and attribute in self._by_name:
            return _deferred_attribute(self.__name__, attribute)
        if sys.modules.get(self.__name__) is self:  # still standing in: make way for the real module
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attribute)


def _deferred_attribute(module: str, attribute: str):
    """A callable bound by `from module import attribute` that imports the module when called."""

    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), attribute)(*args, **kwargs)

    call.__name__ = call.__qualname__ = attribute
    return call


@functools.lru_cache(maxsize=1)
def get_functions():
    """`formulas.functions.get_functions()`, with scipy imported only when a function uses it."""
    with _loading:
        stand_ins = {name: _DeferredModule(name, by_name) for name, by_name in DEFERRED.items() if name not in sys.modules}
        sys.modules.update(stand_ins)
        try:
            from formulas.functions import get_functions as library_functions

            functions = library_functions()
        finally:
            for name, module in stand_ins.items():
                module._binding = False
                if sys.modules.get(name) is module:
                    del sys.modules[name]
    functions.update(_base_conversions())
    functions.update(_random_between())
    functions.update(_rounding())
    functions.update(_year_fraction())
    functions.update(_subtotal(functions))
    functions.update(criteria_functions())
    functions.update(_text())
    functions.update(_lookup(functions))
    _quiet_dispatcher()
    return functions


def _quiet_dispatcher() -> None:
    """The library's dispatcher (schedula) logs each function that fails, with its Python
    traceback, on stderr when the program sets no logging: encaisse reports the cell itself, in
    French, so those records go nowhere (a handler of their own keeps Python's last-resort
    handler from printing them)."""
    import logging

    logger = logging.getLogger("schedula")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


_BASES = {"BIN": 2, "OCT": 8, "DEC": 10, "HEX": 16}
_SIGN_BIT = {2: 1 << 9, 8: 1 << 29, 16: 1 << 39}  # Excel's 10-digit two's complement


def _base_conversions() -> dict:
    """DEC2HEX, HEX2BIN and the other base conversions as Excel computes them (checked on the
    3 046 cells of xlcalculator's BASES workbook). The library's take `places` wrongly (a cell
    reference gives #VALUE!) and apply it to negative numbers, which Excel always writes on
    10 digits; Excel checks `places` (1 to 10) first, even for a negative number, reads a blank
    as 0, and refuses a sign in a binary, octal or hexadecimal number."""
    import itertools

    import numpy as np
    from formulas.functions import Error, XlError, flatten, wrap_func
    from schedula.utils.cst import EMPTY

    def one(value):
        values = list(flatten(value, None))
        if len(values) != 1 or isinstance(values[0], bool):
            return Error.errors["#VALUE!"]
        return values[0]

    def read(value, base):
        if value is EMPTY:
            return 0
        if base == 10:
            try:
                return int(float(value))
            except (TypeError, ValueError):
                return Error.errors["#VALUE!"]
        if value == "":
            return 0
        text = str(int(value)) if isinstance(value, (int, float, np.number)) and float(value).is_integer() else str(value)
        if len(text) > 10 or not text.isalnum():
            return Error.errors["#NUM!"]
        try:
            number = int(text, base)
        except ValueError:
            return Error.errors["#NUM!"]
        sign = _SIGN_BIT[base]
        return (number & ~sign) - (sign & number)

    def write(number, base, places):
        sign = _SIGN_BIT[base]
        if not -sign <= number < sign:
            return Error.errors["#NUM!"]
        digits = np.base_repr(number + (sign << 1) if number < 0 else number, base)
        if number < 0 or places is None:
            return digits
        if places < len(digits):
            return Error.errors["#NUM!"]
        return digits.zfill(places)

    def conversion(source, target):
        def convert(value, places=None):
            value = one(value)
            if isinstance(value, XlError):
                return value
            if places is not None:
                places = one(places)
                if isinstance(places, XlError):
                    return places
                if places is EMPTY:
                    places = None
                else:
                    try:
                        places = int(float(places))
                    except (TypeError, ValueError):
                        return Error.errors["#VALUE!"]
                    if not 1 <= places <= 10:
                        return Error.errors["#NUM!"]
            number = read(value, _BASES[source])
            if isinstance(number, XlError):
                return number
            if target == "DEC":
                return number
            return write(number, _BASES[target], places)

        return wrap_func(convert)

    return {f"{a}2{b}": conversion(a, b) for a, b in itertools.permutations(_BASES, 2)}


def _random_between() -> dict:
    """RANDBETWEEN draws a whole number between its bounds, as Excel does (the library's draws a real)."""
    import math
    import random

    from formulas.functions import Error, XlError, flatten, wrap_func

    def draw(bottom, top):
        bounds = []
        for value in (bottom, top):
            values = list(flatten(value, None))
            if len(values) != 1 or isinstance(values[0], bool):
                return Error.errors["#VALUE!"]
            if isinstance(values[0], XlError):
                return values[0]
            try:
                bounds.append(float(values[0]))
            except (TypeError, ValueError):
                return Error.errors["#VALUE!"]
        low, high = math.ceil(bounds[0]), math.floor(bounds[1])
        if low > high:
            return Error.errors["#NUM!"]
        return float(random.randint(low, high))

    return {"RANDBETWEEN": wrap_func(draw)}


def _year_fraction() -> dict:
    """YEARFRAC as Excel computes it (checked on the 2 737 cells of pycel's yearfrac workbook).

    The library's actual/actual (basis 1) always divides by the average length of the years the
    period touches; Excel does so only for a period longer than a year, and divides a shorter one
    by 366 when it holds a 29 February, else 365. Its US 30/360 (basis 0) misses the rule that
    makes a period from one end of February to another a whole number of months.
    """
    import calendar

    from formulas.functions import Error, flatten, raise_errors, wrap_func
    from formulas.functions.date import day_count, xday
    from schedula.utils.cst import EMPTY

    def leap(year):
        return year == 1900 or calendar.isleap(year)  # Excel's calendar holds 29 February 1900

    def end_of_february(year, month, day):
        return month == 2 and day == (29 if leap(year) else 28)

    def us_30_360(start, end):
        (y1, m1, d1), (y2, m2, d2) = start, end
        if end_of_february(*start):
            if end_of_february(*end):
                d2 = 30
            d1 = 30
        if d2 == 31 and d1 >= 30:
            d2 = 30
        d1 = min(d1, 30)
        return (360 * (y2 - y1) + 30 * (m2 - m1) + d2 - d1) / 360

    def actual_actual(start, end):
        days = day_count(start, end, 1)
        (y1, m1, d1), (y2, m2, d2) = start, end
        if y1 == y2:
            return days / (366 if leap(y1) else 365)
        if y2 == y1 + 1 and (m1, d1) >= (m2, d2):  # at most a year
            holds_29_february = (leap(y1) and (m1, d1) <= (2, 29)) or (leap(y2) and (m2, d2) >= (2, 29))
            return days / (366 if holds_29_february else 365)
        years = range(y1, y2 + 1)
        return days / (sum(366 if leap(y) else 365 for y in years) / len(years))

    def yearfrac(start_date, end_date, basis=0):
        # Excel checks the basis before the dates: YEARFRAC(#DIV/0!, 1, 5) is #NUM!.
        raise_errors(basis)
        basis = tuple(flatten(basis, None))
        if len(basis) != 1 or isinstance(basis[0], bool):
            return Error.errors["#VALUE!"]
        try:
            basis = 0 if basis[0] is EMPTY else int(float(basis[0]))
        except (TypeError, ValueError):
            return Error.errors["#VALUE!"]
        if basis not in (0, 1, 2, 3, 4):
            return Error.errors["#NUM!"]
        raise_errors(start_date, end_date)
        dates = [tuple(flatten(d, None)) for d in (start_date, end_date)]
        if any(len(d) != 1 or isinstance(d[0], bool) for d in dates):
            return Error.errors["#VALUE!"]
        start, end = sorted(xday(d[0], slice(0, 3)) for d in dates)
        if basis == 0:
            return us_30_360(start, end)
        if basis == 1:
            return actual_actual(start, end)
        if basis == 4:
            (y1, m1, d1), (y2, m2, d2) = start, end
            return (360 * (y2 - y1) + 30 * (m2 - m1) + min(d2, 30) - min(d1, 30)) / 360
        return day_count(start, end, 1) / (360 if basis == 2 else 365)

    return {"YEARFRAC": wrap_func(yearfrac)}


def _subtotal(functions: dict) -> dict:
    """SUBTOTAL, which the library lacks: its function number (1 to 11, or 101 to 111 to skip
    hidden rows) picks AVERAGE, COUNT... of the library. Headless, no row is hidden, and the
    other SUBTOTAL cells a range may hold are counted (a table's totals row reads only the data
    rows, where this does not arise)."""
    from formulas.functions import Error, XlError, flatten, wrap_func

    names = ("AVERAGE", "COUNT", "COUNTA", "MAX", "MIN", "PRODUCT", "STDEV", "STDEVP", "SUM", "VAR", "VARP")

    def subtotal(number, *references):
        values = list(flatten(number, None))
        if len(values) != 1:
            return Error.errors["#VALUE!"]
        if isinstance(values[0], XlError):
            return values[0]
        try:
            number = int(float(values[0]))
        except (TypeError, ValueError):
            return Error.errors["#VALUE!"]
        if not (1 <= number <= 11 or 101 <= number <= 111) or not references:
            return Error.errors["#VALUE!"]
        return functions[names[number % 100 - 1]](*references)

    return {"SUBTOTAL": wrap_func(subtotal)}


def _rounding() -> dict:
    """ROUND, ROUNDDOWN, ROUNDUP and TRUNC with any number of digits: the library computes 10 to the
    power of the digits as a whole number, which for ROUND(x, 1E+308) never ends. A float carries
    about 17 significant digits, so past them the number is already rounded (Excel gives it back);
    rounding to a place above 1E+308 gives 0 (ROUNDUP of a non-zero number: #NUM!, it would overflow)."""
    import functools
    import math

    from formulas.functions import Error, wrap_ufunc
    from formulas.functions.math import round_up, xround

    def rounded(x, d, func=round_up):
        d = math.trunc(float(d))
        if not math.isfinite(x):
            return x
        if x == 0:
            return 0.0
        if d > 0 and abs(x) * 10.0 ** min(d, 308) >= 1e17:
            return x
        if d < -308:
            return Error.errors["#NUM!"] if func is math.ceil else 0.0
        return xround(x, d, func)

    def truncated(x, d=0):
        return rounded(x, d, func=math.trunc)

    return {
        "ROUND": wrap_ufunc(rounded),
        "ROUNDDOWN": wrap_ufunc(functools.partial(rounded, func=math.floor)),
        "ROUNDUP": wrap_ufunc(functools.partial(rounded, func=math.ceil)),
        "TRUNC": wrap_ufunc(truncated),
    }


def _text() -> dict:
    """TEXT as Excel writes it (see `text_format`): the library's reads only the usual codes, takes
    a blank format for "0" and gives back a logical value unchanged (Excel writes TRUE)."""
    import numpy as np
    from formulas.functions import Error, XlError, wrap_ufunc
    from formulas.functions.text import xtext, xvalue
    from schedula.utils.cst import EMPTY

    from encaisse.recalc import text_format

    def as_text(value) -> str:
        if value is EMPTY:
            return ""
        if isinstance(value, (bool, np.bool_)):
            return "TRUE" if value else "FALSE"
        if isinstance(value, (int, float, np.number)):
            return text_format.format_number(float(value), "General")
        return str(value)

    def text(value, format_code):
        for argument in (value, format_code):
            if isinstance(argument, XlError):
                return argument
        code = as_text(format_code)
        if isinstance(value, (bool, np.bool_)):
            return "TRUE" if value else "FALSE"
        try:
            if value is EMPTY:
                number = 0.0
            elif isinstance(value, str):
                number = text_format.number_from_text(value)
                if number is None and re.search(r"[-/]|[A-Za-z]{3}", value) and not re.fullmatch(r"[\s\d:.]*", value):
                    try:  # a date written out ("1987-08-26", "3 Feb 2007 19:08")
                        number = float(xvalue(value))
                    except (ValueError, TypeError, AssertionError, IndexError, KeyError):
                        number = None
                if number is None:
                    return text_format.format_text(value, code)
            else:
                number = float(value)
            return text_format.format_number(number, code)
        except text_format.FormatRefused:
            return Error.errors["#VALUE!"]
        except text_format.Unsupported:
            return xtext(value, code)

    return {"TEXT": wrap_ufunc(text, input_parser=lambda *a: a, args_parser=lambda *a: a,
                               check_error=lambda *a: None)}


def _lookup(functions: dict) -> dict:
    """LOOKUP with a range of several rows and columns, as Excel reads it: the value is sought in
    its first row when it is wider than tall, else in its first column; with no result vector (the
    array form) the result is read at the same place in its last row or column. The library
    searched the whole range and, in the array form, gave back the position found."""
    import numpy as np
    from formulas.functions import wrap_func

    vector_form = functions["LOOKUP"]

    def lookup(value, array, *result):
        grid = np.asarray(array, object)
        if grid.ndim != 2 or min(grid.shape) == 1:
            return vector_form(value, array, *(result or (array,)))
        wide = grid.shape[1] > grid.shape[0]
        sought = grid[:1, :] if wide else grid[:, :1]
        if not result:
            result = (grid[-1:, :] if wide else grid[:, -1:],)
        return vector_form(value, sought, *result)

    return {"LOOKUP": wrap_func(lookup)}
