"""French text of numbers for people, and the one rounding rule for money.

Everything a person reads — the KPI report, `rules explain`, messages, letters — formats its
figures here, with Babel's fr_FR (CLDR) patterns, so that the same figure reads the same way
everywhere:

- money: always two decimals, `1 234,56 €` (U+202F narrow no-break space between thousands,
  U+00A0 no-break space before €, as CLDR fr gives it);
- rates are fractions in values and JSON and percentages only here: 0.125 → `12,5 %`
  (U+00A0 before %);
- day counts: `12,3 jours`, whole numbers `1 234`, dates `31/12/2026`, months `janv. 2026`;
- the minus sign is CLDR fr's hyphen-minus: `-5,50 €`;
- an undefined figure (None, NaN) reads « non calculable ».

Rounding: `round_cents` is the one rounding of money, to the cent, commercial (half away from
zero: 0,125 € → 0,13 €, −0,125 € → −0,13 €), applied once at the end of a computation, never
to intermediate sums. Binary floats cannot hold 1,005 exactly (it is 1,00499999…), so values
are first cleaned to a millionth of a cent: what a person typed as a half cent rounds up. Text
uses the same rule (Babel's own default is half-even); the value handed to Babel is already
rounded, so Babel only lays it out.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from decimal import Decimal

import numpy as np
import pandas as pd

UNDEFINED = "non calculable"
_CURRENCY = "EUR"
_NOISE = 1e6  # binary noise is cleaned to a millionth of the last digit kept (of a cent for money)


def round_half_up(values, digits: int = 2):
    """`values` rounded to `digits` decimals, half away from zero; a float stays a float, an
    array an array, a Series a Series (same index). NaN stays NaN."""
    scale = 10.0 ** digits
    if isinstance(values, (int, float)):  # one figure (a report line, a letter): plain floats, same operations
        x = float(values)
        if not math.isfinite(x):
            return x
        scaled = abs(x) * scale * _NOISE
        if not math.isfinite(scaled):  # 1e308: far past the last decimal a float holds, nothing to round
            return x
        cleaned = round(scaled) / _NOISE
        return math.copysign(math.floor(cleaned + 0.5), x) / scale + 0.0  # + 0.0: no negative zero
    if isinstance(values, pd.Series):
        return pd.Series(round_half_up(values.to_numpy(dtype="float64"), digits), index=values.index, name=values.name)
    array = np.asarray(values, dtype="float64")
    with np.errstate(over="ignore"):
        cleaned = np.rint(np.abs(array) * scale * _NOISE) / _NOISE
    rounded = np.copysign(np.floor(cleaned + 0.5), array) / scale + 0.0
    rounded = np.where(np.isinf(cleaned) & np.isfinite(array), array, rounded)  # as above: 1e308 stays itself
    return float(rounded) if rounded.ndim == 0 else rounded


def round_cents(values):
    """Money rounded to the cent, half away from zero (0.125 → 0.13, −0.125 → −0.13): the one
    rounding rule, applied at the end only. Floats, numpy arrays and pandas Series."""
    return round_half_up(values, 2)


def _undefined(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and math.isnan(value))


@functools.cache
def _locale():
    # Babel is imported on first use: loading a workbook or computing never pays for it.
    from babel import Locale

    return Locale.parse("fr_FR")


@functools.cache
def _pattern(kind: str, decimals: int = 2, trim: bool = False):
    """The locale's own pattern for `kind` with the decimals wanted, parsed once. The euro sign is
    put in as a literal (what CLDR fr shows for EUR) so that Babel skips its per-call currency lookups."""
    from babel.numbers import get_currency_symbol, parse_pattern

    locale = _locale()
    fraction = ("." + ("#" if trim else "0") * decimals) if decimals else ""
    if kind == "money":
        text = locale.currency_formats["standard"].pattern.replace("¤", get_currency_symbol(_CURRENCY, locale))
    elif kind == "percent":
        text = locale.percent_formats[None].pattern.replace("#,##0", "#,##0" + fraction, 1)
    else:
        text = "#,##0" + fraction
    return parse_pattern(text)


def _format_date(day, pattern: str) -> str:
    from babel.dates import format_date

    return format_date(day, pattern, locale=_locale())


_HUGE = 1e18  # past this a figure is no amount nor count: it is shown as written in science, 1e+308


def _huge(value) -> str | None:
    """A figure too big for Babel's layout (its decimal context holds 28 digits) in scientific notation, else None."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return format(x, ".6g").replace(".", ",") if math.isfinite(x) and abs(x) >= _HUGE else None


def _exact(value: float, decimals: int) -> Decimal:
    """The value rounded half up, as the Decimal Babel lays out without rounding again."""
    return Decimal(f"{round_half_up(float(value), decimals):.{decimals}f}")


def euros(value) -> str:
    """1234.5 → '1 234,50 €': always two decimals (cents), rounded half up."""
    if _undefined(value):
        return UNDEFINED
    if (huge := _huge(value)) is not None:
        return huge + "\u00a0€"
    return _pattern("money").apply(_exact(value, 2), _locale())


def number(value, decimals: int = 1, *, trim: bool = False) -> str:
    """12.34 → '12,3' (`decimals` digits; with `trim`, trailing zeros dropped: 12.0 → '12')."""
    if _undefined(value):
        return UNDEFINED
    if (huge := _huge(value)) is not None:
        return huge
    return _pattern("number", decimals, trim).apply(_exact(value, decimals), _locale())


def percent(fraction, decimals: int = 1, *, trim: bool = False) -> str:
    """A fraction as a percentage: 0.125 → '12,5 %'; percent(0.1215, 2, trim=True) → '12,15 %',
    percent(0.3, 2, trim=True) → '30 %'."""
    if _undefined(fraction):
        return UNDEFINED
    if (huge := _huge(float(fraction) * 100.0)) is not None:
        return huge + "\u00a0%"
    shown = _exact(float(fraction) * 100.0, decimals) / 100
    return _pattern("percent", decimals, trim).apply(shown, _locale())


def as_written(value) -> str:
    """A figure as a person wrote it (in a rules file, a cell): no rounding beyond 6 decimals,
    no trailing zeros: 3.0 → '3', 2.15 → '2,15', 1000 → '1 000'."""
    return number(value, 6, trim=True)


def rate(fraction) -> str:
    """A rate as the rules write it, up to two decimals: 0.1215 → '12,15 %', 0.3 → '30 %'."""
    return percent(fraction, 2, trim=True)


def count(value) -> str:
    """A whole number: 1234 → '1 234'."""
    return number(int(value), 0)


def days(value, decimals: int = 1) -> str:
    """A day count: 12.34 → '12,3 jours'."""
    return UNDEFINED if _undefined(value) else f"{number(value, decimals)} jours"


def signed_days(value) -> str:
    """A change in days: 10 → '+10 j', -15 → '-15 j', 2.5 → '+2,5 j'."""
    text = number(value, 1, trim=True)
    return ("+" if float(value) > 0 else "") + text + " j"


def date(day: dt.date | pd.Timestamp) -> str:
    """31/12/2026."""
    return _format_date(day, "dd/MM/yyyy")


def month(day: dt.date | pd.Timestamp) -> str:
    """The month of a date, abbreviated: 'janv. 2026', 'août 2026'."""
    return _format_date(day, "MMM yyyy")
