"""The one French formatter and the one rounding rule (encaisse.fr), with exact expected text.

NNBSP (U+202F) separates thousands and NBSP (U+00A0) precedes € and %, as Babel's fr_FR (CLDR) gives.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from encaisse import fr

NNBSP, NBSP = "\u202f", "\u00a0"


@pytest.mark.parametrize(("value", "cents"), [
    (0.125, 0.13),     # half a cent: up (Python's round() and np.round give 0.12, half-even)
    (0.135, 0.14),
    (-0.125, -0.13),   # half away from zero
    (1.005, 1.01),     # the float 1.005 is 1.00499999…: what was written as a half cent rounds up
    (2.675, 2.68),
    (330.144, 330.14),
    (-0.004, 0.0),     # no negative zero
    (1234.5, 1234.5),
])
def test_round_cents_is_half_away_from_zero(value, cents):
    rounded = fr.round_cents(value)
    assert rounded == cents and isinstance(rounded, float)
    assert str(rounded) != "-0.0"


def test_round_cents_keeps_arrays_and_series():
    array = fr.round_cents(np.array([0.125, 0.135, -0.125, np.nan]))
    assert array[:3].tolist() == [0.13, 0.14, -0.13] and np.isnan(array[3])
    series = fr.round_cents(pd.Series([0.125, 2.675], index=["a", "b"], name="total"))
    assert series.to_dict() == {"a": 0.13, "b": 2.68} and series.name == "total"


def test_euros_always_show_cents():
    assert fr.euros(1234567.891) == f"1{NNBSP}234{NNBSP}567,89{NBSP}€"
    assert fr.euros(25_000) == f"25{NNBSP}000,00{NBSP}€"
    assert fr.euros(0.125) == f"0,13{NBSP}€"
    assert fr.euros(-5.5) == f"-5,50{NBSP}€"
    assert fr.euros(-0.001) == f"0,00{NBSP}€"
    assert fr.euros(None) == fr.euros(float("nan")) == "non calculable"


def test_percentages_take_fractions():
    assert fr.percent(0.125) == f"12,5{NBSP}%"
    assert fr.percent(1.0412) == f"104,1{NBSP}%"
    assert fr.percent(0.95) == f"95,0{NBSP}%"
    assert fr.percent(0.00125, 2) == f"0,13{NBSP}%"  # half up here too
    assert fr.rate(0.1215) == f"12,15{NBSP}%"
    assert fr.rate(0.3) == f"30{NBSP}%"
    assert fr.rate(12.5) == f"1{NNBSP}250{NBSP}%"
    assert fr.percent(None) == "non calculable"
    # past Babel's 28 digits (a rate typed with 31 digits in a rules file): shown in science
    assert fr.rate(1e28) == f"1e+30{NBSP}%" and fr.percent(-1e25) == f"-1e+27{NBSP}%"


def test_numbers_days_counts_dates():
    assert fr.days(12.25) == "12,3 jours"
    assert fr.days(-3) == "-3,0 jours"
    assert fr.days(float("nan")) == "non calculable"
    assert fr.count(1_048_575) == f"1{NNBSP}048{NNBSP}575"
    assert fr.signed_days(-15) == "-15 j" and fr.signed_days(10) == "+10 j" and fr.signed_days(2.5) == "+2,5 j"
    assert fr.number(1.5, 2) == "1,50" and fr.as_written(2.15) == "2,15" and fr.as_written(3.0) == "3"
    assert fr.date(dt.date(2026, 12, 31)) == "31/12/2026"
    assert fr.date(pd.Timestamp("2026-01-05 13:00")) == "05/01/2026"
    assert [fr.month(dt.date(2026, m, 1)) for m in (1, 2, 6, 7, 8, 12)] == [
        "janv. 2026", "févr. 2026", "juin 2026", "juil. 2026", "août 2026", "déc. 2026"]
