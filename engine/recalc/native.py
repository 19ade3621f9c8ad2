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

import functools
import os
import re
import sys
import time
from pathlib import Path

from encaisse.recalc.cells import MAX_COLS, MAX_ROWS, Rect
from encaisse.recalc.scan import mask_strings
from encaisse.workbook.package import MovedFormula, quote_sheet, split_ref
from encaisse.workbook.splice import EXCEL_ERRORS, ErrorValue

# IronCalc's own error codes, which Excel never shows: a cell giving one is evaluated by the library.
NATIVE_ONLY_ERRORS = frozenset({"#ERROR!", "#N/IMPL!"})
CIRCULAR = "#CIRC!"
SPILL_SHEET = "encaisse~débordements"  # the scratch sheet asking the size of each spill


class NativeUnavailable(Exception):
    """IronCalc is not installed, could not load the book or failed on it: the library evaluates everything."""


def _failed(error: BaseException) -> NativeUnavailable:
    """A failure inside IronCalc as NativeUnavailable. A Rust panic reaches Python as
    pyo3_runtime.PanicException, a BaseException (not an Exception): it is caught here too, so
    that the library takes over instead of the panic ending the run."""
    if isinstance(error, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        raise error
    return NativeUnavailable(f"{type(error).__name__}: {error}")


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
    "TEXT": "format codes past the usual ones (sections, conditions, literal digits, elapsed times) give "
            "#VALUE! or another text; a logical value is given back as one (Excel writes TRUE)",
    **{name: "an error in k (the percentile, quartile or rank) is given after one in the data, where Excel "
             "gives k's first; a logical k is #VALUE! (Excel: 1 or 0)"
       for name in ("PERCENTILE", "PERCENTILE.INC", "PERCENTILE.EXC", "QUARTILE", "QUARTILE.INC", "QUARTILE.EXC",
                    "LARGE", "SMALL")},
    **{name: "two ranges of different sizes give #VALUE! (Excel: #N/A), and errors in the data another code"
       for name in ("PEARSON", "RSQ", "STEYX", "SLOPE", "INTERCEPT", "FORECAST", "FORECAST.LINEAR")},
    **{name: "logical values and texts, among the arguments or in the ranges, are not counted as Excel counts them"
       for name in ("MINA", "MAXA", "STDEVA", "STDEVPA", "VARA", "VARPA")},
    "Z.TEST": "texts and errors in the data give another result than Excel's",
    "LOOKUP": "its binary search compares values of every type, where Excel's passes over those of another "
              "type than the value sought (LOOKUP is always approximate; MATCH, VLOOKUP and HLOOKUP stay with "
              "IronCalc, whose exact mode is right and which is ten times faster on many lookups)",
    "IMSUM": "a range of complex numbers is #VALUE! (Excel sums its cells), and an error in one another code",
    "IMSUB": "a real number, an error or a suffix i beside j give another result or code than Excel's",
    "XIRR": "an error among the dates is given after one among the amounts (Excel: the dates' first); a "
            "logical guess, or one under -10 %, is taken (Excel: #VALUE!, #NUM!)",
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
    try:
        model = ironcalc.create("probe", "en", "UTC")
        for i, name in enumerate(names, start=1):
            model.update_cell_with_formula(0, i, 1, f"={name}()")
        model.evaluate()
        error = ironcalc.CellType.ErrorValue
        return frozenset(name for i, name in enumerate(names, start=1)
                         if not (model.get_cell_type(0, i, 1) == error and model.get_formatted_cell_value(0, i, 1) == "#NAME?"))
    except BaseException as failure:
        raise _failed(failure) from None


class NativeBook:
    """A workbook loaded in IronCalc: values set, evaluated, read back in the file's terms
    (float, bool, str, ErrorValue; '' for a blank)."""

    def __init__(self, path: Path, meanwhile=None):
        """`meanwhile`: work of the caller's done while a child tries the loading (see `_survives`)."""
        ironcalc = _module()
        # Loading parses every formula of the book: tried first in a child too (see `_survives`).
        if not _survives(lambda: ironcalc.load_from_xlsx(str(path), "en", "UTC"), meanwhile):
            raise NativeUnavailable("IronCalc s'est arrêté en lisant ce classeur")
        try:
            self.model = ironcalc.load_from_xlsx(str(path), "en", "UTC")
            self.index = {p["name"]: i for i, p in enumerate(self.model.get_worksheets_properties())}
        except BaseException as error:  # IronCalc's own WorkbookError, or a Rust panic
            raise _failed(error) from None
        self._error = ironcalc.CellType.ErrorValue
        self._spills: dict[tuple, tuple[int, int]] = {}
        self._tried = False  # evaluated without harm in a child since the model last changed

    def has_sheets(self, names) -> bool:
        return all(name in self.index for name in names)

    def evaluate(self) -> None:
        """The model evaluated; first tried in a child process where the system allows it (see
        `_survives`), since a formula can make IronCalc abort the process (an allocation that
        fails, a recursion past its stack), which no exception handler catches."""
        if not self._survives():
            raise NativeUnavailable("IronCalc s'est arrêté en évaluant ce classeur")
        try:
            self.model.evaluate()
        except BaseException as error:
            raise _failed(error) from None

    def try_evaluation(self, meanwhile=None) -> None:
        """The evaluation tried in a child now (see `evaluate`), `meanwhile` done by this process
        while the child evaluates; raises NativeUnavailable where it would end the process."""
        if not self._survives(meanwhile):
            raise NativeUnavailable("IronCalc s'est arrêté en évaluant ce classeur")

    def _survives(self, meanwhile=None) -> bool:
        """Whether evaluating the model now would not end the process (see `_survives`); asked
        once until a value or formula is changed."""
        self._tried = self._tried or _survives(self.model.evaluate, meanwhile)
        return self._tried

    def value(self, sheet: str, row: int, col: int):
        return self._value(self.index[sheet], row, col)

    def _value(self, index: int, row: int, col: int):
        # By sheet index, not by reference text: the same value without writing and parsing a
        # reference for each cell (ten times faster), and IronCalc's reference parser refuses
        # unquoted sheet names with accents or spaces (Prévision!B2, Tableau de bord!A1).
        value = self.model.get_cell_value(index, row, col)
        if self.model.get_cell_type(index, row, col) == self._error:
            return ErrorValue(value) if value in EXCEL_ERRORS else ErrorValue(str(value))
        if value is None:
            return ""
        return value

    def block(self, rect: Rect) -> list[list]:
        index, value = self.index[rect.sheet], self._value
        try:
            return [[value(index, r, c) for c in range(rect.c1, rect.c2 + 1)] for r in range(rect.r1, rect.r2 + 1)]
        except BaseException as error:
            raise _failed(error) from None

    def neutralise(self, sheet: str, row: int, col: int) -> None:
        """A formula the library evaluates emptied in the model before IronCalc evaluates it: used
        for those IronCalc could recurse on without end (a LAMBDA calling itself through a name),
        which would overflow its stack and end the process."""
        self._tried = False
        try:
            self.model.clear_cell_contents(self.index[sheet], row, col)
        except BaseException as error:
            raise _failed(error) from None

    def watch_spills(self, anchors) -> None:
        """Dynamic-array formulas (FormulaCell, stored spill range) whose spill IronCalc computes:
        the values spilled last time are cleared (else IronCalc would keep them as plain values),
        and a scratch sheet asks ROWS(A1#) and COLUMNS(A1#) of each, the size of its spill."""
        anchors = list(anchors)
        if not anchors:
            return
        try:
            self._watch(anchors)
        except BaseException as error:
            raise _failed(error) from None

    def _watch(self, anchors) -> None:
        if not self._survives():  # IronCalc evaluates the whole book when a sheet is added
            raise NativeUnavailable("IronCalc s'est arrêté en évaluant ce classeur")
        # Named so that no formula can mean it: IronCalc's default name (Sheet2…) would turn a
        # reference to an absent Sheet2 from #REF! into that sheet's cells.
        name = SPILL_SHEET
        while name in self.index:
            name += "~"
        self.model.add_sheet(name)
        probe = len(self.model.get_worksheets_properties()) - 1
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
            h = int(self.model.get_cell_value(probe, i, 1))
            w = int(self.model.get_cell_value(probe, i, 2))
        except (TypeError, ValueError, OverflowError):
            h = w = 1
        return Rect(sheet, row, col, min(row + max(h, 1) - 1, MAX_ROWS), min(col + max(w, 1) - 1, MAX_COLS))

    def set(self, sheet: str, row: int, col: int, value) -> None:
        """A value computed elsewhere (the engine, the library) put in the cell, replacing its formula."""
        self._tried = False
        try:
            self._set(self.index[sheet], row, col, value)
        except BaseException as error:
            raise _failed(error) from None

    def _set(self, index: int, row: int, col: int, value) -> None:
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
        self.neutralise(sheet, row, col)

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
                self._tried = False
                try:
                    self.model.update_cell_with_formula(self.index[cell.sheet], cell.row, cell.col, "=" + text)
                except BaseException as error:
                    raise _failed(error) from None


# A child evaluating the model may take this long and this much more memory than its parent;
# past either it is stopped and the library evaluates the book.
CHILD_SECONDS = 30
CHILD_EXTRA_BYTES = 1 << 29


def _survives(work, meanwhile=None) -> bool:
    """Whether `work` (IronCalc loading a book, evaluating a model) ends without ending the
    process: tried first in a forked child (a copy of this process: a model is not loaded again),
    capped in time and memory. Where fork is not available (Windows) nothing is tried first.

    `meanwhile` (no argument) is done by this process while the child works, rather than
    waiting idle: work the run needs next whatever the child's answer (parsing formulas)."""
    if not hasattr(os, "fork") or sys.platform == "darwin":  # macOS forbids fork once system frameworks run
        if meanwhile is not None:
            meanwhile()
        return True
    import resource

    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: evaluate, then leave at once (no cleanup of the parent's state)
        code = 1
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # a Rust panic prints its message on stderr
            import faulthandler

            faulthandler.disable()  # nor a fatal error report: the child's end is the answer
            _cap_memory(resource)
            work()
            code = 0
        except BaseException:  # noqa: BLE001 - a panic (the parent's own work would fail the same way)
            code = 1
        finally:
            os._exit(code)
    deadline = time.monotonic() + CHILD_SECONDS
    if meanwhile is not None:
        try:
            meanwhile()
        except BaseException:
            _kill(pid)
            raise
    return _waited(pid, deadline)


def _cap_memory(resource) -> None:
    """The child's address space capped at what it uses now and CHILD_EXTRA_BYTES more (Linux);
    under a limit of the parent's, at half the room left below it: the parent, whose reading
    threads may still be allocating, must have room for the same evaluation."""
    try:
        with open("/proc/self/statm") as statm:
            used = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = used + CHILD_EXTRA_BYTES
        if soft != resource.RLIM_INFINITY:
            cap = min(cap, used + max(soft - used, 0) // 2)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (OSError, ValueError):
        pass


def _waited(pid: int, deadline: float) -> bool:
    """Whether the child ended well before the deadline; it is killed past it, or when this
    process is interrupted while waiting (Ctrl+C, SIGTERM), so that it never outlives the run."""
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status) == 0
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
    except BaseException:
        _kill(pid)
        raise
    _kill(pid)
    return False


def _kill(pid: int) -> None:
    try:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    except OSError:
        pass


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
        moved = _name_text(entry.text).at(*split_ref(ref), off_sheet=None)  # ValueError when it cannot be moved
        moved = _inline(moved, sheet, ref, defined_names, depth + 1)
        pieces += [text[pos:m.start()], moved if _REFERENCE.fullmatch(moved) else f"({moved})"]
        pos = m.end()
    return "".join(pieces) + text[pos:]


@functools.lru_cache(maxsize=256)
def _name_text(text: str) -> MovedFormula:
    """A defined name's text, tokenised once for every cell that uses it (relative to A1)."""
    return MovedFormula("A1", text)


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
