"""SUMIFS, COUNTIFS and the other criteria functions of the `formulas` library, with the criteria
matched a column at a time.

The library tests a criterion cell by cell (`np.vectorize`): for a number (">"&DateArrete) it
first reads every cell of the range as a number, text included, one call each; the dashboard's
eight SUMIFS/COUNTIFS over 100 000 payments took a second and a half that way. Here the numbers
of a range are compared at once, and only its other cells (text, booleans, errors: few in a data
column) go through the library's own test, once per distinct value. The library reads the
criterion, picks the cells and sums or counts them as before, so every result is the library's,
with one exception: its per-value cache took TRUE for 1 and FALSE for 0 (equal in Python) and
could count a boolean cell as the number met before it, or the reverse; here a boolean only ever
meets a boolean criterion, as in Excel. Criteria with wildcards (* and ?) are left to the library.
"""

from __future__ import annotations

import functools

import numpy as np


def criteria_functions() -> dict:
    """The library's criteria functions (SUMIF(S), COUNTIF(S), AVERAGEIF(S), MAXIFS, MINIFS) on
    this matcher; the same accumulators (sum, count, average, max, min) as the library's."""
    from formulas.functions import wrap_func
    from formulas.functions.math import xsum as library_sum
    from formulas.functions.stat import xaverage, xfunc

    def total(values):
        """The library's sum of the cells picked; at once when they are all numbers (as the
        library does it then: NaN left out, numpy's sum)."""
        if values.size and _numbers(values.ravel()).all():
            numbers = values.astype(np.float64).ravel()
            return np.sum(numbers[~np.isnan(numbers)])
        return library_sum(values)

    table = {
        "SUMIF": (total, "one"), "SUMIFS": (total, "many"),
        "COUNTIF": (len, "one"), "COUNTIFS": (len, "many"),
        "AVERAGEIF": (xaverage, "one"), "AVERAGEIFS": (xaverage, "many"),
        "MAXIFS": (xfunc, "many"), "MINIFS": (functools.partial(xfunc, func=min), "many"),
    }
    out = {}
    for name, (accumulator, arity) in table.items():
        if arity == "one":
            function = functools.partial(xfilter, accumulator, operating_range=None) if accumulator is len \
                else functools.partial(xfilter, accumulator)
        else:
            function = functools.partial(xfilters, accumulator, None) if accumulator is len \
                else functools.partial(xfilters, accumulator)
        out[name] = wrap_func(function)
    out["_XLFN.MAXIFS"], out["_XLFN.MINIFS"] = out["MAXIFS"], out["MINIFS"]
    return out


def xfilter(accumulator, test_range, condition, operating_range=None):
    """SUMIF, COUNTIF, AVERAGEIF: the library's `xfilter` with this matcher."""
    from formulas.functions import Array

    operating_range = test_range if operating_range is None else operating_range
    return _filtered(accumulator, operating_range, [_Range(test_range)], condition).view(Array)


def xfilters(accumulator, operating_range, test_range, condition, *args):
    """SUMIFS, COUNTIFS, AVERAGEIFS, MAXIFS, MINIFS: the library's `xfilters` with this matcher."""
    from formulas.functions import Array

    if len(args) % 2:  # the library's check (its wrapper shows #VALUE!)
        raise ValueError("Additional arguments must be supplied in (test_range, condition) pairs.")
    prepared: dict[int, _Range] = {}  # a range tested twice (between two dates) is sorted once
    ranges = [prepared.setdefault(id(r), _Range(r)) if isinstance(r, np.ndarray) else _Range(r) for r in (test_range, *args[0::2])]
    operating_range = test_range if operating_range is None else operating_range
    return _filtered(accumulator, operating_range, ranges, condition, *args[1::2]).view(Array)


def _filter_one(accumulator, operating_range, ranges, *conditions):
    """One result, for one criterion value per range (the library's `_xfilter`)."""
    from formulas.errors import FoundError

    operating_range = np.asarray(operating_range)
    try:
        chosen = None
        for test_range, condition in zip(ranges, conditions):
            mask = test_range.matches(condition)
            if chosen is None:
                chosen = mask
            else:
                chosen &= mask  # in place, as the library: ranges of different shapes give #VALUE!
        return accumulator(operating_range[chosen])
    except FoundError as ex:
        return ex.err


# As in the library: a criterion given as an array gives an array of results, one per value.
_filtered = np.vectorize(_filter_one, otypes=[object], excluded={0, 1, 2})


class _Range:
    """A range tested against criteria: its cells sorted once into numbers (compared at once)
    and the others (tested one distinct value at a time)."""

    def __init__(self, values):
        self.values = values
        self._parts = None
        self._numbers = None  # the library's reading of each cell as a number, for the others

    def _split(self):
        if self._parts is None:
            from schedula.utils.cst import EMPTY

            flat = np.asarray(self.values, dtype=object).ravel()
            numbers = _numbers(flat)
            others = np.flatnonzero(~numbers)
            # The library reads a blank cell as an empty text, in every criterion.
            rest = [("" if v is EMPTY else v) for v in flat[others].tolist()]
            self._parts = (np.shape(self.values), numbers, flat[numbers].astype(np.float64), others, rest)
        return self._parts

    def matches(self, condition) -> np.ndarray:
        import formulas.functions as library

        parsed = _criterion(condition)
        if parsed is None:  # a pattern with wildcards: the library's own test
            return getattr(library, "__xfilter")({"raw": library.replace_empty(self.values, "")}, condition)
        operator, value, type_id, numeric = parsed
        from formulas.functions import _text2num
        from formulas.functions.look import _get_type_id
        from formulas.functions.operators import LOGIC_OPERATORS

        shape, numbers, floats, others, rest = self._split()
        mask = np.zeros(numbers.size, dtype=bool)
        if type_id == 0:  # a number: every number of the range compared at once
            with np.errstate(invalid="ignore"):
                mask[numbers] = LOGIC_OPERATORS[operator](floats, value)
        if others.size:
            if numeric:  # a number or an error: the library first reads text as a number (text dates too)
                if self._numbers is None:
                    read: dict = {}
                    self._numbers = [(read[k] if (k := _key(v)) in read else read.setdefault(k, _text2num(v)))
                                     if isinstance(v, str) else v for v in rest]
                candidates = self._numbers
            else:
                candidates = rest
            if operator == "=" and type_id == 1:
                folded = value.casefold()

                def test(v):
                    return _get_type_id(v) == 1 and v.casefold() == folded
            else:
                compare = LOGIC_OPERATORS[operator]

                def test(v):
                    return _get_type_id(v) == type_id and compare(v, value)

            seen: dict = {}
            mask[others] = [seen[k] if (k := _key(v)) in seen else seen.setdefault(k, bool(test(v))) for v in candidates]
        return mask.reshape(shape)


_FLOATS = (float, np.float64)


def _numbers(flat: np.ndarray) -> np.ndarray:
    """Which cells are floats (Python's, as read, or numpy's, as computed): not a boolean, an
    error or a text, all compared and summed at once."""
    return np.fromiter((type(v) in _FLOATS for v in flat), dtype=bool, count=flat.size)


def _key(value):
    """A cache key that keeps TRUE apart from 1 and an error apart from its text."""
    return type(value), value


def _criterion(condition):
    """(operator, value, its type as the library ranks types, whether the range is read as numbers)
    as the library's `__xfilter` reads a criterion; None for a pattern with wildcards."""
    import formulas.functions as library
    from formulas.errors import TokenError
    from formulas.functions import _text2num, is_number
    from formulas.functions.look import _get_type_id
    from formulas.functions.operators import LOGIC_OPERATORS
    from formulas.tokens.operand import Error, Number

    operator = "="
    if isinstance(condition, str):
        for k in LOGIC_OPERATORS:
            if condition.startswith(k) and condition != k:
                operator, condition = k, condition[len(k):]
                break
        if operator == "=":
            if library._re_condition.findall(condition):
                return None
            if "~?" in condition or "~*" in condition:
                condition = condition.replace("~?", "?").replace("~*", "*")
        for token in (Number, Error):
            try:
                token = token(condition)
                if token.end_match == len(condition):
                    condition = token.compile()
                    break
            except TokenError:
                pass
        condition = _text2num(condition)
    return operator, condition, _get_type_id(condition), is_number(condition)
