"""Excel-shaped values to canonical typed columns: header matching and cell conversion.

A table arrives as a header row plus columns of raw cell values (what python-calamine or
xlwings give: str, float, int, datetime/date, '' or None for blank). `frame_from_values`
matches the headers against `encaisse.tables` and converts each column as a whole; only
the few cells that a fast path cannot take are looked at one kind at a time, and each cell
that stays unreadable becomes a `Problem` naming its cell.

Dates: Excel serial numbers (1900 system), date/datetime objects, text 2026-01-31,
31/01/2026, 31/01/26, 31-01-2026, 31.01.2026. Amounts: numbers or French text
"1 234,56 €" (normal, no-break or narrow no-break spaces), "-12,5", "1234.56".
Text: stripped; a number standing for a code (1001.0) becomes "1001".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from encaisse.errors import InputError, Problem, shorten
from encaisse.fr import date
from encaisse.tables import CELLS, JOURNAL, PROMISE_DATE, PROMISE_WORD, Column, Table, normalize_header

# Day numbers (days since 1970-01-01) that datetime64[ns] can hold.
_MIN_DAY = int(np.datetime64("1677-09-22", "D").astype(np.int64))
_MAX_DAY = int(np.datetime64("2262-04-10", "D").astype(np.int64))
_SERIAL_1970 = 25569  # Excel serial of 1970-01-01 (1900 date system)
_MAX_SERIAL = 2958465  # 9999-12-31

_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
_DATE_EXPECTED = "attendu : une date jj/mm/aaaa"
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
# Excel keeps 15 significant digits: no amount, count or rate of a book reaches this. Larger (or
# infinite) numbers are refused rather than carried into sums that overflow into nonsense.
MAX_NUMBER = 1e15
_OUT_OF_RANGE = "hors limites (au plus 999 999 999 999 999 en valeur absolue)"
# Thousands separators and currency marks that French exports put in amounts.
_AMOUNT_NOISE = r"[\s\u00a0\u202f\u2009'’€]|EUR|eur"

_CATEGORY = {
    **dict.fromkeys((float, int, np.float64, np.int64, np.float32, np.int32), "num"),
    **dict.fromkeys((dt.datetime, dt.date, pd.Timestamp, np.datetime64), "date"),
    str: "str",
}

_PLURAL = ("achats", "conditions")
_FEMININE = ("conditions", "date", "échéance", "raison", "fréquence", "prochaine", "étape", "devise", "note", "adresse", "issue", "catégorie", "priorité")


@dataclass(frozen=True)
class Located:
    """A problem with the sort keys of its place (row 0 = the table itself, then the header row)."""

    row: int
    col: int
    problem: Problem


@dataclass(frozen=True)
class Coerced:
    """A converted table: canonical frame, problems with their places, where each column sits."""

    frame: pd.DataFrame
    problems: tuple[Located, ...]
    positions: dict[str, int] = field(default_factory=dict)  # canonical key -> 0-based sheet column
    headers: dict[str, str] = field(default_factory=dict)  # canonical key -> header as read


def column_letter(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def show(value: object) -> str:
    """A raw cell value as a person typed it, for messages (cut past 80 characters)."""
    return shorten(_shown(value))


def _shown(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return date(value) + (f" {value:%H:%M}" if (value.hour or value.minute) else "")
    if isinstance(value, dt.date):
        return date(value)
    return str(value).strip() if isinstance(value, str) else str(value)


def label(column: Column) -> str:
    """'Échéance' -> 'échéance', 'N° facture' and 'CA TTC' stay as they are."""
    header = column.header
    return header[0].lower() + header[1:] if len(header) > 1 and header[1].islower() else header


def missing_message(column: Column) -> str:
    name = label(column)
    first = name.split()[0].lower()
    ending = "e" if first in _FEMININE else ""
    plural = "s" if first in _PLURAL else ""
    return f"{name} manquant{ending}{plural}"


def bad_message(column: Column | None, kind: str, raw: object) -> str:
    if kind == "date":
        return f"date « {show(raw)} » illisible ({_DATE_EXPECTED})"
    name = "montant" if kind == "amount" else label(column) if column is not None else "valeur"
    if _is_number(raw):
        return f"{name} « {show(raw)} » {_OUT_OF_RANGE}"
    return f"{name} « {show(raw)} » n'est pas un nombre"


def _is_number(raw: object) -> bool:
    """A number, or text that reads as one (a number refused is then refused for its size)."""
    if isinstance(raw, (int, float, np.integer, np.floating)) and not isinstance(raw, bool):
        return True
    return isinstance(raw, str) and not np.isnan(parse_numbers(np.array([raw], dtype=object))[0])


def _refuse_out_of_range(numbers: np.ndarray, bad: np.ndarray) -> None:
    """Mark numbers whose size is absurd (or infinite) as bad, in place."""
    with np.errstate(invalid="ignore"):
        huge = ~(np.abs(numbers) < MAX_NUMBER) & ~np.isnan(numbers)
    if huge.any():
        bad |= huge
        numbers[huge] = np.nan


# ---------------------------------------------------------------- header matching


def match_headers(headers: Sequence[object], table: Table) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """Map canonical keys to header indexes; problems as (index or -1, message).

    A header equal to a column's French header or canonical key wins over an alias of another
    column. A header naming two columns at the same level, or a column named by two headers,
    is a problem (the first header found is still used, so that the cells are checked).
    """
    normalized = [normalize_header(h) for h in headers]
    primary: dict[str, list[Column]] = {}
    alias: dict[str, list[Column]] = {}
    for column in table.columns:
        for name in {normalize_header(column.header), normalize_header(column.key)}:
            primary.setdefault(name, []).append(column)
        for name in {normalize_header(a) for a in column.aliases}:
            alias.setdefault(name, []).append(column)
    found: dict[str, int] = {}
    problems: list[tuple[int, str]] = []
    for level in (primary, alias):
        for index, name in enumerate(normalized):
            if not name or (level is alias and name in primary):
                continue
            candidates = list(dict.fromkeys(level.get(name, ())))
            if len(candidates) > 1:
                names = " et à ".join(f"« {c.header} »" for c in candidates)
                problems.append((index, f"en-tête « {show(headers[index])} » ambigu : il correspond à {names}"))
            elif candidates and candidates[0].key in found:
                first = found[candidates[0].key]
                problems.append((index, f"colonne « {candidates[0].header} » présente deux fois (en-têtes « {show(headers[first])} » et « {show(headers[index])} »)"))
            elif candidates:
                found[candidates[0].key] = index
    problems.sort()
    return found, problems


def missing_columns_message(column: Column, headers: Sequence[object]) -> str:
    read = ", ".join(show(h) for h in headers if normalize_header(h)) or "aucun"
    return f"colonne obligatoire « {column.header} » absente (en-têtes lus : {read})"


# ---------------------------------------------------------------- column conversion


def inspect(values: np.ndarray) -> tuple[str, np.ndarray]:
    """(pandas' inferred kind of the column, mask of cells with nothing in them: '', None, NaN, NaT).

    Whitespace-only text counts as blank later, once stripped.
    """
    kind = infer_dtype(values, skipna=False)
    if kind == "string":
        return kind, np.asarray(values == "", dtype=bool)
    if kind in ("boolean", "integer"):
        return kind, np.zeros(len(values), dtype=bool)
    if kind in ("date", "datetime", "datetime64", "floating", "mixed-integer-float"):
        return kind, np.asarray(pd.isna(values), dtype=bool)  # a '' would have made the kind "mixed"
    if values.dtype == object:
        return kind, np.asarray(pd.isna(values) | (values == ""), dtype=bool)
    return kind, np.asarray(pd.isna(values), dtype=bool)


def _categories(values: np.ndarray) -> np.ndarray:
    """'num', 'str', 'date' or 'other' for each cell, from its Python type (bool is 'other')."""
    if not len(values):
        return np.empty(0, dtype=object)
    types = pd.Series(np.frompyfunc(type, 1, 1)(values), dtype=object)
    return types.map(_CATEGORY).fillna("other").to_numpy(dtype=object)


def _strip(values: np.ndarray) -> np.ndarray:
    """Stripped str values (object array), whitespace-only become ''; `values` itself when none needs it."""
    if not _has_outer_space(values):
        return values
    return pd.Series(values, dtype=object).str.strip().to_numpy(dtype=object, copy=True)


_OUTER_SPACE = re.compile(r"\x00\s")


def _has_outer_space(values: np.ndarray) -> bool:
    """Does any of these strings begin or end with whitespace? One C-speed scan instead of a strip per cell."""
    joined = "\x00" + "\x00".join(values) + "\x00"  # NUL cannot occur in a cell (XML)
    return bool(_OUTER_SPACE.search(joined) or _OUTER_SPACE.search(joined[::-1]))


def parse_numbers(texts: np.ndarray, *, percent: bool = False) -> np.ndarray:
    """French or plain number text -> float64 (NaN where not a number). Vectorised over the array.

    With `percent`, a trailing % divides by 100 as Excel does when one types it ("15 %" -> 0.15).
    """
    s = pd.Series(texts, dtype=object).str.strip()
    negative = s.str.match(r"^\(.*\)$") | s.str.endswith("-")
    s = s.str.replace(r"^\((.*)\)$", r"\1", regex=True).str.rstrip("-")
    is_percent = np.zeros(len(s), dtype=bool)
    if percent:
        is_percent = s.str.endswith("%").to_numpy(dtype=bool)
        s = s.str.rstrip("%")
    s = s.str.replace(_AMOUNT_NOISE, "", regex=True)
    comma = s.str.rfind(",")
    dot = s.str.rfind(".")
    decimal_comma = comma > dot
    s = s.where(~decimal_comma, s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    s = s.where(decimal_comma, s.str.replace(",", "", regex=False))
    valid = s.str.fullmatch(_NUMBER).fillna(False).astype(bool)
    numbers = pd.to_numeric(s.where(valid), errors="coerce").to_numpy(dtype=np.float64)
    numbers = np.where(negative.to_numpy(dtype=bool) & (numbers > 0), -numbers, numbers)
    return np.where(is_percent, numbers / 100.0, numbers)


def to_numbers(values: np.ndarray, *, percent: bool = False, seen: tuple[str, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cells -> (float64 with NaN for blank/bad, mask of non-blank cells that are not numbers).

    `seen` is `inspect(values)` when the caller has it already.
    """
    values = np.asarray(values, dtype=object)
    n = len(values)
    kind, blank = seen or inspect(values)
    if kind in ("floating", "integer", "mixed-integer-float", "empty"):
        numbers, bad = values.astype(np.float64), np.zeros(n, dtype=bool)
        _refuse_out_of_range(numbers, bad)
        return numbers, bad
    numbers = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(~blank)
    vals = values[idx]
    kinds = _categories(vals)
    is_num = kinds == "num"
    numbers[idx[is_num]] = vals[is_num].astype(np.float64)
    is_str = kinds == "str"
    if is_str.any():
        texts = _strip(vals[is_str])
        parsed = parse_numbers(texts, percent=percent)
        where = idx[is_str]
        numbers[where] = parsed
        bad[where] = np.isnan(parsed) & (texts != "")
    bad[idx[~(is_num | is_str)]] = True
    _refuse_out_of_range(numbers, bad)
    return numbers, bad


def _days_from_dates(vals: np.ndarray) -> np.ndarray:
    """date/datetime objects -> day numbers (float, NaN where not convertible)."""
    try:
        stamps = pd.to_datetime(pd.Series(vals, dtype=object), errors="coerce", utc=False)
    except (TypeError, ValueError):
        stamps = pd.Series([pd.to_datetime(v, errors="coerce") for v in vals], dtype="datetime64[ns]")
    days = stamps.to_numpy(dtype="datetime64[ns]" if stamps.dtype.kind != "M" else stamps.dtype).astype("datetime64[D]")
    out = days.astype(np.int64).astype(np.float64)
    out[np.isnat(days)] = np.nan
    return out


def _days_from_serials(serials: np.ndarray) -> np.ndarray:
    serials = serials.astype(np.float64)
    whole = np.floor(serials)
    # Excel counts a 29/02/1900 that never was: serials below 61 are one day later than the epoch says.
    days = whole - _SERIAL_1970 + (whole < 61)
    return np.where((serials >= 1) & (serials <= _MAX_SERIAL), days, np.nan)


def _days_from_texts(texts: np.ndarray) -> np.ndarray:
    s = pd.Series(texts, dtype=object)
    out = np.full(len(texts), np.nan)
    todo = np.ones(len(texts), dtype=bool)
    for fmt in _DATE_FORMATS:
        if not todo.any():
            break
        parsed = pd.to_datetime(s[todo], format=fmt, errors="coerce")
        ok = parsed.notna().to_numpy()
        where = np.flatnonzero(todo)[ok]
        out[where] = parsed[ok].to_numpy().astype("datetime64[D]").astype(np.int64)
        todo[where] = False
    return out


def to_dates(values: np.ndarray, *, seen: tuple[str, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cells -> (datetime64[ns] at midnight with NaT for blank/bad, mask of non-blank unreadable cells)."""
    values = np.asarray(values)
    n = len(values)
    if values.dtype.kind == "M":
        return values.astype("datetime64[D]").astype("datetime64[ns]"), np.zeros(n, dtype=bool)
    values = values.astype(object, copy=False)
    days = np.full(n, np.nan)
    kind, blank = seen or inspect(values)
    blank = blank.copy()
    if blank.any():
        idx = np.flatnonzero(~blank)
        vals = values[idx]
        kind = infer_dtype(vals, skipna=False)
    else:
        idx = np.arange(n)
        vals = values
    if kind in ("date", "datetime", "datetime64"):
        days[idx] = _days_from_dates(vals)
    elif kind in ("floating", "integer", "mixed-integer-float"):
        days[idx] = _days_from_serials(vals)
    elif len(vals):
        kinds = _categories(vals)
        is_date = kinds == "date"
        if is_date.any():
            days[idx[is_date]] = _days_from_dates(vals[is_date])
        is_num = kinds == "num"
        if is_num.any():
            days[idx[is_num]] = _days_from_serials(vals[is_num])
        is_str = kinds == "str"
        if is_str.any():
            texts = _strip(vals[is_str])
            filled = texts != ""
            parsed = np.full(len(texts), np.nan)
            parsed[filled] = _days_from_texts(texts[filled])
            days[idx[is_str]] = parsed
            blank[idx[is_str][~filled]] = True
    out_of_range = (days < _MIN_DAY) | (days > _MAX_DAY)
    days[out_of_range] = np.nan
    bad = np.isnan(days) & ~blank
    result = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = ~np.isnan(days)
    result[ok] = days[ok].astype(np.int64).astype("datetime64[D]").astype("datetime64[ns]")
    return result, bad


def _code_texts(numbers: np.ndarray) -> np.ndarray:
    """1001.0 -> '1001', 12.5 -> '12.5'."""
    out = np.empty(len(numbers), dtype=object)
    integral = np.isfinite(numbers) & (numbers == np.floor(numbers)) & (np.abs(numbers) < 2**63)
    out[integral] = numbers[integral].astype(np.int64).astype(str).astype(object)
    out[~integral] = [str(x) for x in numbers[~integral].tolist()]  # rare: codes are whole numbers
    return out


def to_texts(values: np.ndarray, *, seen: tuple[str, np.ndarray] | None = None) -> pd.Series:
    """Cells -> pandas str Series (NaN for blank). Never a problem: everything can be text."""
    return _texts(values, seen)[0]


def _texts(values: np.ndarray, seen: tuple[str, np.ndarray] | None = None) -> tuple[pd.Series, np.ndarray]:
    """(str Series, mask of blank cells)."""
    values = np.asarray(values, dtype=object)
    kind, blank = seen or inspect(values)
    if kind == "string":
        texts = _strip(values)
        if texts is not values:  # something was stripped: whitespace-only cells are blank too
            blank = texts == ""
    else:
        texts = np.empty(len(values), dtype=object)
        texts[blank] = ""
        idx = np.flatnonzero(~blank)
        vals = values[idx]
        kinds = _categories(vals)
        is_str = kinds == "str"
        texts[idx[is_str]] = _strip(vals[is_str])
        is_num = kinds == "num"
        if is_num.any():
            texts[idx[is_num]] = _code_texts(vals[is_num].astype(np.float64))
        other = ~(is_str | is_num)
        if other.any():
            texts[idx[other]] = np.frompyfunc(show, 1, 1)(vals[other])
        blank = texts == ""
    if blank.any():
        texts = texts.copy() if texts is values else texts
        texts[blank] = np.nan
    return pd.Series(texts, dtype="str"), np.asarray(blank, dtype=bool)


# ---------------------------------------------------------------- single cells


_PROMISED_ON = re.compile(r"(\d{4}-\d{2}-\d{2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})")


def promise_dates(outcomes: np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Journal « Issue » cells -> (promised date, datetime64[ns] with NaT elsewhere; mask of
    promises whose date cannot be read).

    A promise is an outcome starting with « promesse » (any case), followed somewhere by the
    promised date in one of the workbook's date formats: « promesse 15/12/2026 »,
    « Promesse de paiement au 2026-12-15 ».
    """
    texts = pd.Series(np.asarray(outcomes, dtype=object), dtype=object).str.strip()  # NaN for blanks
    promised = texts.str.lower().str.startswith(PROMISE_WORD).fillna(False).to_numpy(dtype=bool)
    result = np.full(len(texts), np.datetime64("NaT"), dtype="datetime64[ns]")
    if not promised.any():
        return result, np.zeros(len(texts), dtype=bool)
    found = texts[promised].str.extract(_PROMISED_ON, expand=False)
    days = np.full(len(found), np.nan)
    has = found.notna().to_numpy()
    if has.any():
        days[has] = _days_from_texts(found[has].to_numpy(dtype=object))
    ok = ~np.isnan(days) & (days >= _MIN_DAY) & (days <= _MAX_DAY)
    where = np.flatnonzero(promised)
    result[where[ok]] = days[ok].astype(np.int64).astype("datetime64[D]").astype("datetime64[ns]")
    bad = np.zeros(len(texts), dtype=bool)
    bad[where[~ok]] = True
    return result, bad


def coerce_date(value: object) -> dt.date | None:
    """One cell -> date; None when blank; ValueError (French message) when unreadable."""
    result, bad = to_dates(np.array([value], dtype=object))
    if bad[0]:
        raise ValueError(bad_message(None, "date", value))
    return None if np.isnat(result[0]) else pd.Timestamp(result[0]).date()


def as_of_date(value: object, where: str = "--as-of", *, title: str = "Option invalide") -> dt.date | None:
    """The as-of date a person gives (a command's --as-of, recalc's argument): every form a workbook
    cell accepts (2026-09-30, 30/09/2026, 30.09.2026, a date); None when blank; otherwise InputError
    naming `where`. The one parser of as-of dates: the loader reads DateArrete and the Excel
    functions their date argument through `coerce_date` as well."""
    if isinstance(value, str):
        value = value.strip()
    try:
        day = coerce_date(value)
    except ValueError:
        raise InputError([Problem(where, f"date « {value} » illisible ; attendu : AAAA-MM-JJ, JJ/MM/AAAA ou JJ.MM.AAAA")],
                         title=title) from None
    return day


def coerce_amount(value: object, *, percent: bool = False) -> float | None:
    """One cell -> float; None when blank; ValueError (French message) when not a number."""
    numbers, bad = to_numbers(np.array([value], dtype=object), percent=percent)
    if bad[0]:
        raise ValueError(bad_message(None, "amount", value))
    return None if np.isnan(numbers[0]) else float(numbers[0])


def coerce_text(value: object) -> str | None:
    text = to_texts(np.array([value], dtype=object)).iloc[0]
    return None if pd.isna(text) else str(text)


# ---------------------------------------------------------------- whole tables


def grid(rows: list[list[object]], width: int) -> np.ndarray:
    """Rows of cells -> 2-D object array, short rows padded (pandas' C routine: several times faster than np.array)."""
    if not rows:
        return np.empty((0, width), dtype=object)
    try:
        from pandas._libs.lib import to_object_array

        return to_object_array(rows, min_width=width)
    except (ImportError, TypeError):
        widest = max(width, *(len(r) for r in rows))
        return np.array([list(r) + [None] * (widest - len(r)) for r in rows], dtype=object)


def empty_frame(table: Table) -> pd.DataFrame:
    derived = {PROMISE_DATE: np.zeros(0, dtype="datetime64[ns]")} if table.name == JOURNAL.name else {}
    return pd.DataFrame({**{c.key: _empty_column(c, 0) for c in table.columns}, "row": np.zeros(0, dtype=np.int64), **derived})


def _empty_column(column: Column, n: int):
    if column.kind == "date":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if column.kind in ("amount", "number"):
        return np.full(n, np.nan)
    return pd.Series(np.full(n, np.nan, dtype=object), dtype="str")


def coerce_columns(
    headers: Sequence[object],
    columns: Sequence[np.ndarray] | np.ndarray,
    table: Table,
    *,
    sheet: str | None = None,
    header_row: int = 1,
    first_col: int = 0,
    errors: Mapping[tuple[int, int], str] | None = None,
) -> Coerced:
    """Header cells + one array of raw cells per header (or a 2-D object array) -> Coerced.

    `header_row` is the Excel row of the headers (data starts the row below), `first_col` the
    0-based sheet column of the first header. Rows with no cell filled in the table's columns
    are dropped silently (Excel tables keep an empty last row). `errors` maps (Excel row,
    0-based sheet column) to the Excel error a cell holds (#N/A…): such a cell is a problem named
    as that error, in any column the table reads, never a blank.
    """
    located: list[Located] = []

    def where(index: int, row: int | None = None, header: object = None) -> str:
        if sheet is not None:
            return f"{sheet}!{column_letter(first_col + index)}{header_row if row is None else row}"
        if row is None:
            return f"{table.sheet}, en-tête « {show(header)} »"
        return f"{table.sheet}, ligne {row}, colonne « {show(header)} »"

    found, header_problems = match_headers(headers, table)
    for index, message in header_problems:
        located.append(Located(header_row, index, Problem(where(index, header=headers[index]), message)))
    for column in table.columns:
        if column.required and column.key not in found:
            located.append(Located(0, -1, Problem(sheet or table.sheet, missing_columns_message(column, headers))))

    def raw(index: int) -> np.ndarray:
        return np.asarray(columns[:, index] if isinstance(columns, np.ndarray) and columns.ndim == 2 else columns[index], dtype=object)

    height = (columns.shape[0] if isinstance(columns, np.ndarray) and columns.ndim == 2 else (len(columns[0]) if len(columns) else 0)) if found else 0
    raws = {key: raw(index) for key, index in found.items()}
    seen = {key: inspect(values) for key, values in raws.items()}
    keep = np.zeros(height, dtype=bool)
    for _, blank in seen.values():
        keep |= ~blank
    key_at = {first_col + index: key for key, index in found.items()}
    error_at = {(row, key_at[col]): text for (row, col), text in (errors or {}).items()
                if col in key_at and 0 <= row - header_row - 1 < height}
    for row, _ in error_at:
        keep[row - header_row - 1] = True
    rows = header_row + 1 + np.arange(height, dtype=np.int64)
    if not keep.all():
        rows = rows[keep]
        raws = {key: values[keep] for key, values in raws.items()}
        seen = {key: (kind, blank[keep]) for key, (kind, blank) in seen.items()}
    n = len(rows)

    data: dict[str, object] = {}
    for column in table.columns:
        if column.key not in raws:
            data[column.key] = _empty_column(column, n)
            continue
        values = raws[column.key]
        index = found[column.key]
        if column.kind == "date":
            converted, bad = to_dates(values, seen=seen[column.key])
            missing = np.isnat(converted) & ~bad
        elif column.kind in ("amount", "number"):
            converted, bad = to_numbers(values, percent=column.kind == "number", seen=seen[column.key])
            missing = np.isnan(converted) & ~bad
        else:
            converted, missing = _texts(values, seen[column.key])
            bad = np.zeros(n, dtype=bool)
        data[column.key] = converted
        for i in np.flatnonzero(bad):
            if (int(rows[i]), column.key) not in error_at:
                located.append(Located(int(rows[i]), index, Problem(where(index, int(rows[i]), headers[index]), bad_message(column, column.kind, values[i]))))
        if column.required:
            text = missing_message(column)
            for i in np.flatnonzero(missing):
                if (int(rows[i]), column.key) not in error_at:
                    located.append(Located(int(rows[i]), index, Problem(where(index, int(rows[i]), headers[index]), text)))
    for (row, key), text in error_at.items():
        index = found[key]
        column = table.column(key)
        located.append(Located(row, index, Problem(where(index, row, headers[index]),
                                                   f"valeur d'erreur Excel {shorten(text, 20)} dans « {column.header} » : corrigez la formule ou la saisie")))
    data["row"] = rows
    if table.name == JOURNAL.name:  # the promised date of « promesse 15/12/2026 » outcomes, read once here
        # A « promesse » without a readable date stays free text (no pause): journals written before
        # the dated form, or by hand, must still open; dunning pauses only on a dated promise.
        data[PROMISE_DATE], _ = promise_dates(data["outcome"])
    frame = pd.DataFrame(data, copy=False)  # the columns are fresh arrays: no need for pandas to copy them
    if sheet is not None:  # so that a later check (e.g. the currency) can name cells, not just rows
        frame.attrs[CELLS] = {"sheet": sheet, "columns": {key: column_letter(first_col + index) for key, index in found.items()}}
    located.sort(key=lambda p: (p.row, p.col))
    return Coerced(
        frame=frame,
        problems=tuple(located),
        positions={key: first_col + index for key, index in found.items()},
        headers={key: show(headers[index]) for key, index in found.items()},
    )


def frame_from_values(
    values: Sequence[Sequence[object]] | pd.DataFrame,
    table: Table,
    *,
    sheet: str | None = None,
    first_row: int = 1,
    first_col: int = 0,
) -> tuple[pd.DataFrame, list[Problem]]:
    """An Excel range (first row = headers) or a DataFrame (columns = headers) -> canonical frame, problems.

    `first_row` is the Excel row of the header row, `first_col` the 0-based column of the first
    header (0 = A). The frame has every key of `table` (absent optional columns are blank) plus
    `row`, the Excel row of each line. Problems name cells ('Factures!E12') when `sheet` is given.
    """
    if isinstance(values, pd.DataFrame):
        headers = list(values.columns)
        columns = [values.iloc[:, j].to_numpy(dtype=object) for j in range(values.shape[1])]
        result = coerce_columns(headers, columns, table, sheet=sheet, header_row=first_row, first_col=first_col)
    else:
        rows = [r if isinstance(r, list) else list(r) for r in values]
        headers = rows[0] if rows else []
        result = coerce_columns(headers, grid(rows[1:], len(headers)), table, sheet=sheet, header_row=first_row, first_col=first_col)
    return result.frame, [p.problem for p in result.problems]
