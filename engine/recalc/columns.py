"""Calculated columns: a run of cells down one column whose formulas differ only by their row (the
same relative, R1C1, form — what Excel writes down a table column or as a shared formula) is
evaluated as one array operation instead of one formula per cell.

`E2>0` in the cell of row 2 becomes `E2:E100001>0` for the whole run. Only formulas whose every
function works element by element are taken (IF, IFERROR, ROUND, YEAR...: an aggregate such as SUM
or MAX would swallow the column), with no relative range (`SUM(A2:C2)`) and no reference into their
own column (a running balance reads the row above: it stays cell by cell). The evaluator still
checks the result: anything but one value per row and it evaluates the cells one by one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from encaisse.recalc.scan import called_functions, mask_strings
from encaisse.workbook.package import FormulaCell, column_index_from_string, get_column_letter

MIN_ROWS = 16  # shorter runs gain nothing worth a second way of evaluating
ELEMENTWISE = frozenset({
    "IF", "IFERROR", "IFNA", "ISBLANK", "ISERROR", "ISERR", "ISNA", "ISNUMBER", "ISTEXT", "ISLOGICAL", "NOT",
    "ABS", "ROUND", "ROUNDUP", "ROUNDDOWN", "INT", "TRUNC", "MOD", "SIGN", "DATE", "YEAR", "MONTH", "DAY",
    "LEFT", "RIGHT", "MID", "LEN", "UPPER", "LOWER", "TRIM",
})
_CELL = r"(\$?)([A-Za-z]{1,3})(\$?)([0-9]+)"
_REF = re.compile(rf"(?<![\w.$:]){_CELL}(?::{_CELL})?(?![\w(!:\[])")


@dataclass(frozen=True)
class Column:
    """A run of cells of one column sharing a relative form: `anchor` stands for them all (its
    `array_ref` is the run's range, its kind "column"); `cells` are the run, top to bottom."""

    anchor: FormulaCell
    cells: tuple[FormulaCell, ...]


def relative_form(text: str, row: int, col: int) -> str | None:
    """The formula's R1C1 form (references relative to its cell), or None when it cannot be
    evaluated down a column as one array: a function that is not element by element, a range
    with a relative row, or a reference into its own column."""
    masked = mask_strings(text)
    if not set(called_functions(text)) <= ELEMENTWISE:
        return None
    own = get_column_letter(col)
    pieces, pos = [], 0
    for m in _REF.finditer(masked):
        if m.group(5) is not None and ("" in (m.group(3), m.group(7))):
            return None  # a range whose rows move with the cell: one aggregate per row
        if any(m.group(start + 1).upper() == own for start in ((1, 5) if m.group(5) is not None else (1,))):
            return None
        pieces += [text[pos:m.start()], _r1c1(m, row, col)[0]]
        pos = m.end()
    pieces.append(text[pos:])
    return "".join(pieces)


def references(text: str, row: int, col: int) -> tuple[str, list[tuple[str, tuple[int, int, int, int]]]]:
    """(the formula's R1C1 form: its A1 references written relative to its cell, the rest of the
    text as is; its A1 references in order, each as (text without $, upper-cased; (r1, c1, r2, c2))).
    Two formulas of one sheet with the same form differ only by where they stand. What is not
    recognised as a reference (whole columns, names) stays as written, so it is the same place."""
    masked = mask_strings(text)
    pieces, found, pos = [], [], 0
    for m in _REF.finditer(masked):
        form, coordinates = _r1c1(m, row, col)
        pieces += [text[pos:m.start()], form]
        found.append((m.group(0).replace("$", "").upper(), coordinates))
        pos = m.end()
    pieces.append(text[pos:])
    return "".join(pieces), found


def _r1c1(m: re.Match, row: int, col: int) -> tuple[str, tuple[int, int, int, int]]:
    """A reference matched by _REF: (its R1C1 form relative to (row, col), (r1, c1, r2, c2))."""
    parts, rows, cols = [], [], []
    for start in (1, 5) if m.group(5) is not None else (1,):
        c_abs, letters, r_abs, digits = m.group(start, start + 1, start + 2, start + 3)
        number = column_index_from_string(letters.upper())
        c = f"C{number}" if c_abs else f"C[{number - col}]"
        r = f"R{digits}" if r_abs else f"R[{int(digits) - row}]"
        parts.append(r + c)
        rows.append(int(digits))
        cols.append(number)
    return ":".join(parts), (min(rows), min(cols), max(rows), max(cols))


def spread(text: str, rows: int) -> str:
    """The top cell's formula with each single-cell reference whose row is relative turned into
    the column range of the `rows` cells below it (E2 -> E2:E101 for 100 rows)."""
    masked = mask_strings(text)
    pieces, pos = [], 0
    for m in _REF.finditer(masked):
        if m.group(5) is None and not m.group(3):
            c_abs, letters, _, digits = m.group(1, 2, 3, 4)
            pieces += [text[pos:m.end()], f":{c_abs}{letters}{int(digits) + rows - 1}"]
            pos = m.end()
    pieces.append(text[pos:])
    return "".join(pieces)


def find_columns(cells: list[FormulaCell]) -> tuple[list[FormulaCell], dict[tuple, Column]]:
    """(the cells with each run replaced by its anchor, anchor key -> the run)."""
    forms = {}
    for cell in cells:
        if cell.kind == "normal":
            form = relative_form(cell.text, cell.row, cell.col)
            if form is not None:
                forms[(cell.sheet, cell.row, cell.col)] = form
    by_key = {(c.sheet, c.row, c.col): c for c in cells}
    runs: dict[tuple, Column] = {}
    taken: set[tuple] = set()
    for key in sorted(forms, key=lambda k: (k[0], k[2], k[1])):
        if key in taken:
            continue
        sheet, row, col = key
        run = [by_key[key]]
        while (sheet, row + len(run), col) in forms and forms[(sheet, row + len(run), col)] == forms[key]:
            run.append(by_key[(sheet, row + len(run), col)])
        if len(run) < MIN_ROWS:
            continue
        first, last = run[0], run[-1]
        anchor = FormulaCell(sheet, first.ref, first.row, first.col, spread(first.text, len(run)), "column",
                             f"{first.ref}:{last.ref}")
        runs[key] = Column(anchor, tuple(run))
        taken.update((sheet, c.row, c.col) for c in run)
    if not runs:
        return cells, {}
    kept = [c for c in cells if (c.sheet, c.row, c.col) not in taken]
    return kept + [column.anchor for column in runs.values()], runs
