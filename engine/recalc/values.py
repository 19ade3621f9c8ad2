"""Values converted between their three forms: as python-calamine reads cells ('' for blanks,
dates as date objects), as the `formulas` library computes (Excel serial numbers, its EMPTY
token, XlError), and as they are stored in the file (float, bool, str, ErrorValue) or passed to
the engine functions (DataFrame with headers, plain Python values).

Whole columns are converted at once when their kind allows (numbers, dates, text): a table's
column of 100 000 dates is one numpy operation, not 100 000 calls.
"""

from __future__ import annotations

import datetime as dt
import functools
import math

import numpy as np

from encaisse.recalc.cells import CellProblem, Rect
from encaisse.workbook.splice import EXCEL_ERRORS, ErrorValue

EXCEL_EPOCH = dt.datetime(1899, 12, 30)


@functools.lru_cache(maxsize=1)
def empty_token():
    """The formula library's blank-cell token (schedula's EMPTY, a str subclass); imported on first
    use, since `encaisse recalc` starts reading before the library is loaded."""
    from schedula.utils.cst import EMPTY

    return EMPTY


def to_serial(value: dt.date) -> float:
    """A date or datetime -> Excel serial number (1900 date system)."""
    if isinstance(value, dt.datetime):
        delta = value - EXCEL_EPOCH
    else:
        delta = dt.datetime(value.year, value.month, value.day) - EXCEL_EPOCH
    return delta.days + delta.seconds / 86400 + delta.microseconds / 86400e6


# -- read cells -> the formula library ------------------------------------------------------------


def xl_cell(value):
    """A calamine value -> what the formula library expects (dates as serial numbers, EMPTY blanks)."""
    if value is None or (isinstance(value, str) and value == ""):
        return empty_token()
    if isinstance(value, (dt.date, dt.datetime)):
        return to_serial(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86400
    if isinstance(value, ErrorValue):  # an error stored in a cell: the library's own error value
        from formulas.functions import Error

        return Error.errors.get(str(value), Error.errors["#VALUE!"])
    return value


_to_xl = np.frompyfunc(xl_cell, 1, 1)


def empties(shape) -> np.ndarray:
    # not np.full: it would turn the EMPTY token (a str subclass) into a plain 'empty' string
    out = np.empty(shape, dtype=object)
    out.fill(empty_token())
    return out


_SMALL_COLUMN = 64  # cells: a column up to this long is converted cell by cell (pandas' passes cost more)


def xl_column(values: np.ndarray) -> np.ndarray:
    """A column of calamine values for the formula library, whole-column when its kind allows."""
    if len(values) <= _SMALL_COLUMN:
        small = _xl_small_column(values)
        if small is not None:
            return small
    import pandas as pd

    blank = values == ""
    present = values[~blank]
    kind = pd.api.types.infer_dtype(present, skipna=False)
    if kind in ("floating", "integer", "mixed-integer-float"):
        converted = present.astype(np.float64).astype(object)
    elif kind in ("date", "datetime"):
        stamps = pd.to_datetime(pd.Series(present, dtype=object)).to_numpy(dtype="datetime64[us]")
        converted = ((stamps - np.datetime64("1899-12-30", "us")) / np.timedelta64(1, "D")).astype(object)
    elif kind in ("string", "empty"):
        converted = present
    else:
        return _to_xl(values)
    out = empties(len(values))
    out[~blank] = converted
    return out


def _xl_small_column(values: np.ndarray) -> np.ndarray | None:
    """`xl_column` of a short column of numbers or of texts (blanks aside), as its whole-column
    conversion gives it: numbers as floats, texts as they are; None for any other kind."""
    items = values.tolist()
    present = {type(v) for v in items if not (type(v) is str and v == "")}
    if present and present <= {float, int}:
        convert = float
    elif present <= {str}:
        convert = None
    else:
        return None
    out = empties(len(items))
    for i, v in enumerate(items):
        if not (type(v) is str and v == ""):
            out[i] = v if convert is None else convert(v)
    return out


def xl_block(part: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Cells as read (`part`, possibly smaller than `shape`: nothing read there) for the library."""
    out = empties(shape)
    for j in range(part.shape[1]):
        out[:part.shape[0], j] = xl_column(part[:, j])
    return out


# -- sheets as read -------------------------------------------------------------------------------


_MANY_ROWS = 10_000


def grid_from_rows(rows: list) -> np.ndarray:
    """Rows as python-calamine reads them ('' for blanks) -> a 2-D object array."""
    lengths = set(map(len, rows))
    width = max(lengths, default=0)
    if len(lengths) == 1 and len(rows) >= _MANY_ROWS:
        # pandas' C routine, a quarter of numpy's time on a big sheet, which takes long enough to
        # read for pandas to be loaded by then (a small sheet is read before: it does without)
        from encaisse.workbook.coerce import grid as object_grid

        return object_grid(rows, width)
    grid = np.empty((len(rows), width), dtype=object)
    if rows and width:
        if len(lengths) == 1:
            grid[:] = rows
        else:
            grid[:] = [list(r) + [""] * (width - len(r)) for r in rows]
    return grid


def laid_over(grid: np.ndarray, values: np.ndarray, top: int, left: int) -> np.ndarray:
    """`values` written over a sheet's grid from (top, left), 0-based: the grid itself, or a bigger
    one ('' in the new cells) when they reach beyond it."""
    h, w = values.shape
    rows, cols = max(grid.shape[0], top + h), max(grid.shape[1], left + w)
    if (rows, cols) != grid.shape:
        bigger = np.full((rows, cols), "", dtype=object)
        bigger[:grid.shape[0], :grid.shape[1]] = grid
        grid = bigger
    grid[top:top + h, left:left + w] = values
    return grid


def block(grid: np.ndarray, rect: Rect) -> np.ndarray:
    """The cells of `rect` in a sheet's grid (a copy), '' beyond what was read."""
    h, w = rect.shape
    part = grid[rect.r1 - 1:rect.r2, rect.c1 - 1:rect.c2]
    if part.shape != (h, w):
        full = np.full((h, w), "", dtype=object)
        full[:part.shape[0], :part.shape[1]] = part
        return full
    return part.copy()


def table_frame(values: np.ndarray):
    """A range with its header row, as the engine functions take it (columns = headers)."""
    import pandas as pd  # imported on first use: `encaisse recalc` starts reading before pandas is loaded

    headers = [str(h) for h in values[0]]
    return pd.DataFrame(values[1:], columns=headers, dtype=object)  # blanks stay '' (read as blank)


# -- the formula library's results ----------------------------------------------------------------


def as_2d(value) -> np.ndarray:
    """A scalar or an array of any rank up to 2 -> a 2-D object array."""
    if isinstance(value, np.ndarray):
        array = np.asarray(value, dtype=object)
        if array.ndim == 0:
            return np.array([[array.item()]], dtype=object)
        if array.ndim == 1:
            return array.reshape(1, -1)
        return array
    return np.array([[value]], dtype=object)


def fit(result: np.ndarray, h: int, w: int) -> np.ndarray:
    """A legacy array formula's result fitted to its range: a single row/column repeats, the rest is #N/A."""
    out = np.full((h, w), ErrorValue("#N/A"), dtype=object)
    rh, rw = result.shape
    for i in range(h):
        for j in range(w):
            si = 0 if rh == 1 else i
            sj = 0 if rw == 1 else j
            if si < rh and sj < rw:
                out[i, j] = result[si, sj]
    return out


def is_empty(value) -> bool:
    empty = empty_token()
    # the library may hand back a copy of the token
    return value is empty or (type(value) is type(empty) and value == empty)


def from_xl(value, empty):
    """A formula-library value back to a plain Python value for the engine (`empty` for blanks)."""
    if is_empty(value):
        return empty
    if isinstance(value, np.generic):
        return value.item()
    return value


def from_xl_block(values: np.ndarray) -> np.ndarray:
    """Computed values laid over cells as read: blanks as ''."""
    return np.frompyfunc(lambda v: from_xl(v, ""), 1, 1)(values).astype(object)


def to_file(value) -> object:
    """A computed value as it will be stored: float, bool, str, ErrorValue."""
    kind = type(value)  # the common cases first (a spilled aged balance has thousands of cells)
    if kind is float:
        return value
    if kind is str:  # a text, even "#N/A" (=VALUETOTEXT(#N/A)); errors come as ErrorValue or XlError
        return value
    if value is None or is_empty(value):
        return 0.0
    if isinstance(value, ErrorValue):
        return value
    if type(value).__name__ == "XlError":  # the formula library's error values
        return ErrorValue(str(value))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value in EXCEL_ERRORS:
        return ErrorValue(value)
    return str(value)


# -- the engine functions' results ----------------------------------------------------------------


def engine_result(name: str, result):
    """An encaisse function's return value -> Excel-typed scalar or 2-D object array.

    "#VALEUR! …" (bad arguments) is a CellProblem: the run fails with the cell named."""
    if isinstance(result, str) and result.startswith("#"):
        code = result.split()[0]
        if code.startswith("#VALEUR") or code.startswith("#VALUE"):
            raise CellProblem(f"{name} : {result}")
        return ErrorValue(result) if result in EXCEL_ERRORS else result
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        rows = [list(map(str, result.columns))] + result.to_numpy(dtype=object).tolist()
        result = rows
    if isinstance(result, (list, tuple)):
        rows = [list(r) if isinstance(r, (list, tuple, np.ndarray)) else [r] for r in result]
        width = max((len(r) for r in rows), default=1)
        array = np.full((max(len(rows), 1), width), "", dtype=object)
        for i, row in enumerate(rows):
            # texts, whole numbers, booleans and numbers other than NaN are what xl_scalar leaves as they are
            for j, v in enumerate(row):
                array[i, j] = v if type(v) in _AS_THEY_ARE and v == v else xl_scalar(v)
        return array
    return xl_scalar(result)


_AS_THEY_ARE = frozenset({str, int, float, bool})


def xl_scalar(value):
    """A Python value from the engine -> an Excel-typed scalar (dates as serials, blanks '')."""
    import pandas as pd

    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return to_serial(pd.Timestamp(value).to_pydatetime() if isinstance(value, pd.Timestamp) else value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value
