"""The IronCalc engine (a spreadsheet engine written in Rust, PyPI `ironcalc`) as the evaluator of
the workbook's ordinary formulas.

Measured on the corpus of workbooks saved by Excel (bench/bench_corpus.py): IronCalc agrees with
Excel's cached values on more cells than the `formulas` library, and evaluates the 20 810-formula
test workbook of the `formulas` project in a quarter of a second where the library takes minutes.
It never writes the file (its own saved file drops parts it does not know, such as tables): it
loads the book, evaluates, and the values it computed are read back one cell at a time, then
spliced by `encaisse.workbook.splice` like every other value.

What it cannot do is left to the library evaluator (`evaluator.Evaluator`): the encaisse
functions (the engine computes them), and the functions IronCalc does not know (found by asking
it, see `known_functions`). Values cross between the two as plain cell values: the engine's
results are set into the IronCalc model as numbers, texts, booleans or errors, and the model is
evaluated again (see `core.recalc`).
"""

from __future__ import annotations

import re
from pathlib import Path

from encaisse.recalc.cells import MAX_COLS, MAX_ROWS, Rect
from encaisse.recalc.scan import mask_strings
from encaisse.workbook.package import get_column_letter, quote_sheet
from encaisse.workbook.splice import EXCEL_ERRORS, ErrorValue

# IronCalc's own error codes, which Excel never shows: a cell giving one is evaluated by the library.
NATIVE_ONLY_ERRORS = frozenset({"#ERROR!", "#N/IMPL!"})
CIRCULAR = "#CIRC!"


class NativeUnavailable(Exception):
    """IronCalc is not installed or could not load the book: the library evaluates everything."""


def _module():
    try:
        import ironcalc
    except ImportError as error:  # pragma: no cover - a dependency of the package
        raise NativeUnavailable(str(error)) from None
    return ironcalc


# Functions IronCalc knows but computes unlike Excel, where the library evaluator (with its fixes
# in `library`) agrees with Excel: measured cell by cell on the corpus (bench/bench_corpus.py).
# A formula calling one of them is evaluated by the library.
LIBRARY_FUNCTIONS = {
    "YEARFRAC": "a start after the end gives #NUM! (Excel swaps the dates); basis 1 off on periods under a year",
    **{f"{a}2{b}": "places given by a cell, or too few, give #VALUE! (Excel: #NUM!); an empty or blank input is #NUM! (Excel: 0)"
       for a in ("BIN", "OCT", "DEC", "HEX") for b in ("BIN", "OCT", "DEC", "HEX") if a != b},
}

# Functions whose array arguments and array results IronCalc computes as Excel does in a spilled
# (dynamic or array) formula, measured on the corpus; a spilled formula calling only these stays
# with IronCalc. Any other function in a spilled formula sends it to the library evaluator, which
# lifts a function over the cells of an array argument where IronCalc does not (MATCH(B1:B2, …)).
SPILLING_FUNCTIONS = frozenset({"INDEX", "MODE.MULT", "COUNTA", "ISFORMULA"})


def known_functions(names) -> frozenset[str]:
    """The names among `names` that IronCalc implements as Excel does: each called once in a
    scratch model with no argument; an unknown function gives #NAME?, a known one an argument
    error (or a value). Those of LIBRARY_FUNCTIONS are left out."""
    ironcalc = _module()
    names = sorted({n for n in names if re.fullmatch(r"[A-Z_][A-Z0-9_.]*", n) and n not in LIBRARY_FUNCTIONS})
    if not names:
        return frozenset()
    model = ironcalc.create("probe", "en", "UTC")
    for i, name in enumerate(names, start=1):
        model.update_cell_with_formula(0, i, 1, f"={name}()")
    model.evaluate()
    error = ironcalc.CellType.ErrorValue
    return frozenset(name for i, name in enumerate(names, start=1)
                     if not (model.get_cell_type(0, i, 1) == error and model.get_formatted_cell_value(0, i, 1) == "#NAME?"))


class NativeBook:
    """A workbook loaded in IronCalc: values set, evaluated, read back in the file's terms
    (float, bool, str, ErrorValue; '' for a blank)."""

    def __init__(self, path: Path):
        ironcalc = _module()
        try:
            self.model = ironcalc.load_from_xlsx(str(path), "en", "UTC")
        except Exception as error:  # IronCalc's own WorkbookError, or a Rust panic turned into an exception
            raise NativeUnavailable(f"{type(error).__name__}: {error}") from None
        self.index = {p["name"]: i for i, p in enumerate(self.model.get_worksheets_properties())}
        self._error = ironcalc.CellType.ErrorValue
        self._spills: dict[tuple, tuple[int, int]] = {}

    def has_sheets(self, names) -> bool:
        return all(name in self.index for name in names)

    def evaluate(self) -> None:
        try:
            self.model.evaluate()
        except Exception as error:
            raise NativeUnavailable(f"{type(error).__name__}: {error}") from None

    def value(self, sheet: str, row: int, col: int):
        index = self.index[sheet]
        value = self.model.get_cell_value_by_ref(f"{sheet}!{get_column_letter(col)}{row}")
        if self.model.get_cell_type(index, row, col) == self._error:
            return ErrorValue(value) if value in EXCEL_ERRORS else ErrorValue(str(value))
        if value is None:
            return ""
        return value

    def block(self, rect: Rect) -> list[list]:
        return [[self.value(rect.sheet, r, c) for c in range(rect.c1, rect.c2 + 1)] for r in range(rect.r1, rect.r2 + 1)]

    def watch_spills(self, anchors) -> None:
        """Dynamic-array formulas (FormulaCell, stored spill range) whose spill IronCalc computes:
        the values spilled last time are cleared (else IronCalc would keep them as plain values),
        and a scratch sheet asks ROWS(A1#) and COLUMNS(A1#) of each, the size of its spill."""
        anchors = list(anchors)
        if not anchors:
            return
        self.model.new_sheet()
        probe = len(self.model.get_worksheets_properties()) - 1
        self._probe = self.model.get_worksheets_properties()[probe]["name"]
        for i, (cell, stored) in enumerate(anchors, start=1):
            index = self.index[cell.sheet]
            for row in range(stored.r1, stored.r2 + 1):
                for col in range(stored.c1, stored.c2 + 1):
                    if (row, col) != (cell.row, cell.col):
                        self.model.clear_cell_contents(index, row, col)
            anchor = f"{quote_sheet(cell.sheet)}!{cell.ref}#"
            self.model.update_cell_with_formula(probe, i, 1, f"=ROWS({anchor})")
            self.model.update_cell_with_formula(probe, i, 2, f"=COLUMNS({anchor})")
            self._spills[(cell.sheet, cell.row, cell.col)] = (probe, i)

    def watches(self, cell) -> bool:
        return (cell.sheet, cell.row, cell.col) in self._spills

    def spill(self, sheet: str, row: int, col: int) -> Rect:
        """The range a watched dynamic-array formula spilled to (its anchor alone on #SPILL!)."""
        probe, i = self._spills[(sheet, row, col)]
        try:
            h = int(self.model.get_cell_value_by_ref(f"{self._probe}!A{i}"))
            w = int(self.model.get_cell_value_by_ref(f"{self._probe}!B{i}"))
        except (TypeError, ValueError):
            h = w = 1
        return Rect(sheet, row, col, min(row + max(h, 1) - 1, MAX_ROWS), min(col + max(w, 1) - 1, MAX_COLS))

    def set(self, sheet: str, row: int, col: int, value) -> None:
        """A value computed elsewhere (the engine, the library) put in the cell, replacing its formula."""
        index = self.index[sheet]
        if isinstance(value, ErrorValue) or (isinstance(value, str) and value in EXCEL_ERRORS and type(value) is not str):
            self.model.update_cell_with_formula(index, row, col, f"={value}")
        elif isinstance(value, bool):
            self.model.update_cell_with_bool(index, row, col, value)
        elif isinstance(value, (int, float)):
            self.model.update_cell_with_number(index, row, col, float(value))
        elif value is None:
            self.model.clear_cell_contents(index, row, col)
        else:
            self.model.update_cell_with_text(index, row, col, str(value))

    def clear(self, sheet: str, row: int, col: int) -> None:
        self.model.clear_cell_contents(self.index[sheet], row, col)

    def inline_names(self, cells, defined_names: dict) -> None:
        """The formulas of `cells` (plain or dynamic-array formulas) that mention defined names given to
        IronCalc with the names written out (see `inline_names`): it reads a name that designates
        a range as the whole range where Excel intersects it with the formula's row or column
        (=-Liste beside Liste), and knows no name that holds a formula. The file keeps its text.
        A formula set this way is read by IronCalc as a dynamic array, so in a plain formula the
        ranges Excel intersects are marked so (see `intersected`)."""
        if not defined_names:
            return
        for cell in cells:
            text = inline_names(cell.text, cell.sheet, cell.ref, defined_names)
            if text is not None:
                text = text if cell.kind == "dynamic" else intersected(text)
                self.model.update_cell_with_formula(self.index[cell.sheet], cell.row, cell.col, "=" + text)


# A name in a formula: not a function (followed by "("), a sheet ("!"), a table ("["), a cell
# reference or a part of one (D$18, A:A).
_NAME = re.compile(r"(?<![\w.!$:\\])([A-Za-z_\\][\w.\\]*)(?![\w.(!\[$:])")
_ERROR_LITERAL = re.compile(r"#(?:NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|GETTING_DATA|SPILL!|CALC!)", re.I)
_EXTERNAL = re.compile(r"\[\d+\]")  # [1]Feuil1!A1: a cell of another workbook
_REFERENCE = re.compile(r"(?:'(?:[^']|'')+'|[^'!():,\s]+)!\$?[A-Za-z]{1,3}\$?[0-9]+(?::\$?[A-Za-z]{1,3}\$?[0-9]+)?")


def inline_names(text: str, sheet: str, ref: str, defined_names: dict) -> str | None:
    """The formula with each defined name it mentions replaced by what the name designates, as
    Excel reads it in that cell: a name's relative references are relative to A1 (a name
    "Feuil1!$B1" used in C5 is Feuil1!$B5), a range stays a reference, a formula is put in
    parentheses, names in names are written out in turn. None when no name was replaced, or a
    name's text cannot be moved to the cell, or names nest in a cycle."""
    try:
        inlined = _inline(text, sheet, ref, defined_names, 0)
    except ValueError:
        return None
    return None if inlined == text else inlined


def _inline(text: str, sheet: str, ref: str, defined_names: dict, depth: int) -> str:
    if depth > 8:
        raise ValueError("names nested too deep")
    masked = _ERROR_LITERAL.sub(lambda m: " " * len(m.group(0)), mask_strings(text))  # the A of #N/A is no name
    pieces, pos = [], 0
    for m in _NAME.finditer(masked):
        entry = defined_names.get(m.group(1).upper())
        if entry is None or entry.scope not in (None, sheet) or not entry.text or _EXTERNAL.search(entry.text):
            continue
        from openpyxl.formula.translate import Translator

        try:
            moved = Translator("=" + entry.text, origin="A1").translate_formula(ref)[1:]
        except Exception as error:  # openpyxl's tokenizer and translator raise bare errors on odd texts
            raise ValueError(str(error)) from None
        moved = _inline(moved, sheet, ref, defined_names, depth + 1)
        pieces += [text[pos:m.start()], moved if _REFERENCE.fullmatch(moved) else f"({moved})"]
        pos = m.end()
    return "".join(pieces) + text[pos:]


_RANGE = re.compile(r"(?<![\w.$@:!])((?:'[^']*'|[A-Za-z_][\w.]*)!)?\$?[A-Za-z]{1,3}\$?[0-9]+:\$?[A-Za-z]{1,3}\$?[0-9]+(?![\w(!:])")


def intersected(text: str) -> str:
    """A plain formula with "@" before each range outside any parentheses: in a formula that is
    not an array, Excel intersects such a range with the formula's row or column (=A1:A3*2 in
    B2 is A2*2); a formula given to IronCalc after loading is evaluated as a dynamic array,
    where the range would spill instead."""
    masked = mask_strings(text)
    depth, top = 0, []
    for char in masked:
        top.append(depth == 0)
        depth += (char == "(") - (char == ")")
    starts = [m.start() for m in _RANGE.finditer(masked) if top[m.start()]]
    for start in reversed(starts):
        text = text[:start] + "@" + text[start:]
    return text
