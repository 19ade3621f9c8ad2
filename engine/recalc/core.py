"""Headless recalculation: evaluate every formula cell of a workbook and store the cached values.

How it stays fast: the cells are read once by the fast reader (python-calamine);
encaisse functions (DSO, AGING...) are evaluated by the engine on those values; each
standard formula is compiled alone by the `formulas` library over arrays of the ranges it
refers to (structured references translated to A1 first; the text in the file is kept).
Formula cells are evaluated in dependency order; only their values are written back.
The sheets are read in two background threads (calamine's Rust parser releases the GIL)
while the main thread scans the package for formulas and loads pandas, the engine and the
formula library (without scipy: see formula_library.py), which this module imports only then;
the largest table's sheet starts before the scan. A table passed whole to an encaisse function
is converted to the engine's frame in the reading thread, once for every function. Among the
cells ready to evaluate, those reading only small sheets go first (they are read first). A big
sheet holding a table is taken to hold data only and is checked for formulas by a reading
thread once it has nothing left to read; if one does hold formulas, the book is evaluated again
with them before anything is written.

Order of dynamic arrays: a dynamic array's spill size is known only once it is evaluated, so
a formula reading any cell it might fill is ordered after it. When those possible areas make
a cycle that the spill ranges stored in the file do not (the dashboard's top-10 columns spill
down and read the aged balance spilled below them), the cells are ordered by the stored
ranges plus every possible-area edge that closes no cycle, and the order is checked against
the ranges actually spilled (evaluated once more in the corrected order if needed).

Decisions:
- `--as-of` overrides DateArrete for the evaluation only; the stored DateArrete cell is not
  changed (it is not a formula cell, and the workbook keeps saying which date it was built for).
- workbook.xml is never touched (so calcPr keeps what the file had: XlsxWriter books carry
  fullCalcOnLoad="1" and Excel recalculates on open anyway); calcChain.xml is kept as is, since
  no formula cell is added or removed.
- A plain (non-array) formula whose result is an array keeps its top-left value.
- An encaisse function that answers "#VALEUR! …" (bad arguments) fails the run with the cell
  named; other answers, "#DIV/0! …" included, are stored as Excel would show them.

Known limits (of the `formulas` library, found against LibreOffice): criteria "<>" and "?*" in
COUNTIFS/SUMIFS also count blank cells, and SUMPRODUCT(--(test), range) returns 0 — the
dashboard uses "" criteria and subtraction instead. A formula column inside a big table is
evaluated cell by cell (about a millisecond each). External links are not supported.
"""

from __future__ import annotations

import datetime as dt
import gc
import graphlib
import heapq
import inspect
import math
import re
import threading
import time
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import python_calamine as calamine

from encaisse.errors import InputError, Problem
from encaisse.fr import number
from encaisse.recalc.references import StructuredRefError, translate
from encaisse.workbook.package import (
    FormulaCell,
    Package,
    cell_ref,
    dynamic_cell_metadata,
    get_column_letter,
    has_formulas,
    open_package,
    quote_sheet,
    range_boundaries,
    read_formulas,
    read_package,
)
from encaisse.workbook.splice import EXCEL_ERRORS, CellUpdate, ErrorValue, patch_sheet, write_package

VOLATILE = ("TODAY", "NOW")
_PREFIX = re.compile(r"_xlfn\.|_xlws\.|_xludf\.", re.I)
# The formula library misreads a range ending on the sheet's last row ($G$5:$G$1048576 -> G5);
# read to the row before, which `_clip` treats as open-ended like the last row.
_LAST_ROW = re.compile(r"(?<![\w.])(\$?[A-Za-z]{1,3}\$?)1048576(?!\d)")
_CALL = re.compile(r"(?<![\w.!$\\])([A-Za-z_][\w.]*)\s*\(")
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
MAX_ROWS, MAX_COLS = 1048576, 16384
TITLE = "Recalcul impossible"


@dataclass(frozen=True)
class RecalcReport:
    source: str
    output: str
    cells: int  # formula cells evaluated
    engine_calls: int  # encaisse function calls evaluated by the engine
    seconds: float
    sheets: tuple[str, ...]  # sheets whose cached values were written
    warnings: tuple[str, ...] = ()
    values: dict = field(default_factory=dict, repr=False, compare=False)  # 'Sheet!A1' -> value written
    engine_cells: frozenset = frozenset()  # 'Sheet!A1' of values that depend on an encaisse function

    def summary(self) -> str:
        plural = "s" if self.cells > 1 else ""
        calls = "s" if self.engine_calls > 1 else ""
        lines = [
            f"Recalcul de {self.source} : {self.cells} cellule{plural} à formule évaluée{plural} "
            f"({self.engine_calls} appel{calls} aux fonctions encaisse) en {_french_seconds(self.seconds)}.",
            f"Valeurs enregistrées dans {self.output}"
            + (f" (feuilles : {', '.join(self.sheets)})." if self.sheets else " (aucune formule)."),
        ]
        lines += [f"Avertissement : {w}" for w in self.warnings]
        return "\n".join(lines)


def _french_seconds(seconds: float) -> str:
    return number(seconds, 2) + " s"


def recalc(path, out=None, as_of=None, rules_dir=None) -> RecalcReport:
    """Evaluate every formula of the workbook at `path` and write the values to `out` (default: in place).

    Raises InputError (exit 1) naming the cells for a corrupt file, a missing sheet or table,
    a circular reference, an unsupported function or a bad argument; the input is then untouched.
    """
    started = time.perf_counter()
    path = Path(path)
    target = Path(out) if out is not None else path
    if out is not None and target.is_dir():
        target = target / path.name
    package = read_package(str(path))
    if package.date1904:
        # Date serials would be off by 1 462 days both ways, and the formula library counts from
        # 1900; only a result's format tells a date from a number, so the book is refused.
        raise InputError([Problem(f"{path.name} ({package.workbook_part})",
                                  "classeur au calendrier depuis 1904 (option Excel « Utiliser le calendrier depuis 1904 ») : "
                                  "non pris en charge par le recalcul ; décochez l'option dans Excel (Fichier > Options > "
                                  "Options avancées) puis relancez")], title=TITLE)
    enabled = gc.isenabled()
    gc.disable()  # the cell values are millions of small acyclic objects: collection would only cost time
    reader = SheetReader(path, package)
    reader.start_largest_table_sheet()
    try:
        try:
            # A big sheet holding a table is taken to hold data only: the main thread does not scan
            # it for formulas before evaluating, a reading thread checks it afterwards (when it has
            # nothing left to read), and in the rare book where one does hold formulas everything
            # is evaluated again with them.
            data_sheets = reader.data_sheets()
            sheets_xml, cells = _formula_cells(path, package, reader.prefetch, skip=data_sheets)
            checked = reader.check_no_formulas(data_sheets)
            try:
                evaluator = Evaluator(path, package, cells, as_of=as_of, rules_dir=rules_dir, reader=reader)
                evaluator.run()
                complete = checked.result()
            except InputError:
                if checked.result():
                    raise
                complete = False
            if not complete:
                sheets_xml, cells = _formula_cells(path, package, reader.prefetch)
                evaluator = Evaluator(path, package, cells, as_of=as_of, rules_dir=rules_dir, reader=reader)
                evaluator.run()
        finally:
            reader.close()
        replaced = {}
        for sheet_name, updates in evaluator.updates().items():
            sheet = package.sheet(sheet_name)
            replaced[sheet.part] = patch_sheet(sheets_xml[sheet.part], updates)
        replaced.update(_chart_caches(path, evaluator, {s.name for s in package.sheets if s.part in replaced}))
        if not target.parent.exists():
            raise InputError([Problem(str(target), "dossier de destination introuvable")], title=TITLE)
        write_package(path, target, replaced)
        written = tuple(s.name for s in package.sheets if s.part in replaced)
        return RecalcReport(
            source=str(path), output=str(target), cells=len(cells), engine_calls=evaluator.engine_calls,
            seconds=time.perf_counter() - started, sheets=written, warnings=tuple(evaluator.warnings),
            values=evaluator.written_values(), engine_cells=evaluator.engine_cell_names(),
        )
    finally:
        if enabled:
            gc.enable()


def _chart_caches(path: Path, evaluator: "Evaluator", changed: set[str]) -> dict[str, bytes]:
    """Chart parts whose series read a recalculated sheet, with their caches refreshed (see
    `encaisse.workbook.charts`); the other charts are copied byte for byte."""
    from encaisse.workbook.charts import refresh_caches

    if not changed:
        return {}
    with zipfile.ZipFile(path) as zf:
        parts = {name: zf.read(name) for name in zf.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", name)}

    def values_of(target):
        sheet, r1, c1, r2, c2 = target
        if sheet not in changed:
            return None
        return [v for row in evaluator.raw_values(Rect(sheet, r1, c1, r2, c2)).tolist() for v in row]

    out = {}
    for name, xml in parts.items():
        fresh = refresh_caches(xml, values_of)
        if fresh != xml:
            out[name] = fresh
    return out


_TINY_SHEET = 256 * 1024  # bytes of sheet XML, uncompressed: read in milliseconds


class SheetReader:
    """Sheets read by python-calamine in background threads, each thread with its own workbook.

    `start_largest_table_sheet()` starts the largest sheet holding a table at once, before the
    formulas are scanned. `prefetch(cells)` then queues the other sheets these formulas need:
    the sheets of the tables and defined names they mention and their own sheets; tiny ones
    first (DateArrete, the formulas' own sheet: the main thread needs them at once), then the
    others largest first (the largest ends last). A table that a formula passes whole
    (`Factures[#All]`) to an encaisse function is converted to the engine's frame in the same
    thread right after its sheet is read.
    """

    WORKERS = 2

    def __init__(self, path: Path, package: Package):
        self.path = path
        self.package = package
        self._pool = ThreadPoolExecutor(max_workers=self.WORKERS, thread_name_prefix="encaisse-lecture")
        self._local = threading.local()
        self._futures: dict[str, Future] = {}
        self._prepare: dict[str, set[str]] = {}  # sheet -> upper-cased names of tables to convert
        self._sheet_sizes: dict[str, int] | None = None
        self._names: re.Pattern | None = None
        self._tables: re.Pattern | None = None
        self._whole: re.Pattern | None = None
        if package.tables:
            names = "|".join(re.escape(t.name) for t in package.tables.values())
            self._tables = re.compile(rf"(?<![\w.])({names})\s*\[", re.I)
            self._whole = re.compile(rf"(?<![\w.])({names})\s*\[\s*#(?:All|Tout)\s*\]", re.I)
        if package.defined_names:
            names = "|".join(re.escape(n) for n in package.defined_names)
            self._names = re.compile(rf"(?<![\w.$])({names})(?![\w(\[])", re.I)

    def prefetch(self, cells: list[FormulaCell]) -> None:
        wanted: list[str] = []

        def want(sheet: str | None) -> None:
            if sheet is not None and sheet not in wanted and sheet not in self._futures:
                wanted.append(sheet)

        for cell in cells:
            want(cell.sheet)
            if self._tables is not None:
                for m in self._tables.finditer(cell.text):
                    want(self.package.tables[m.group(1).upper()].sheet)
                if _CALL.search(cell.text):
                    for m in self._whole.finditer(cell.text):
                        table = self.package.tables[m.group(1).upper()]
                        self._prepare.setdefault(table.sheet, set()).add(table.name.upper())
            if self._names is not None:
                for m in self._names.finditer(cell.text):
                    want(self._name_sheet(m.group(1)))
        if not wanted:
            return
        size = self._sizes()
        # The tiny sheets first (DateArrete, the formulas' own sheet: needed at once), then the
        # others largest first (with two threads, the largest ends last: it has to start first).
        queue = sorted((s for s in wanted if size.get(s, 0) < _TINY_SHEET), key=lambda s: size.get(s, 0))
        queue += sorted((s for s in wanted if size.get(s, 0) >= _TINY_SHEET), key=lambda s: -size.get(s, 0))
        for sheet in queue:
            self._futures[sheet] = self._pool.submit(self._read, sheet)

    def start_largest_table_sheet(self) -> None:
        """Start reading the largest sheet that holds a table before the formulas are even scanned.

        It is the one that takes longest to read (Factures in an encaisse book) and the one
        formulas are most likely to refer to; starting it at once overlaps its read with the scan
        and with loading pandas and the formula library.
        """
        size = self._sizes()
        sheets = {t.sheet for t in self.package.tables.values()}
        if sheets:
            largest = max(sorted(sheets), key=lambda s: size.get(s, 0))
            self._futures[largest] = self._pool.submit(self._read, largest)

    def data_sheets(self) -> frozenset[str]:
        """Sheets taken to hold only data: those with a table, too big to be tiny."""
        size = self._sizes()
        return frozenset(t.sheet for t in self.package.tables.values() if size.get(t.sheet, 0) >= _TINY_SHEET)

    def check_no_formulas(self, sheets: frozenset[str]) -> Future:
        """A future: True when none of these sheets holds a formula. Queued behind the reading, so
        a thread runs it once it has nothing left to read (decompressing releases the GIL)."""
        parts = [s.part for s in self.package.sheets if s.name in sheets]

        def check() -> bool:
            try:
                with zipfile.ZipFile(self.path) as zf:
                    return not any(has_formulas(zf, part) for part in parts)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError):
                return False  # the full scan then reports what is wrong, with the usual message

        return self._pool.submit(check)

    def _name_sheet(self, name: str) -> str | None:
        found = self.package.name_range(name)
        return found[0] if found is not None else None

    def _sizes(self) -> dict[str, int]:
        """Sheet name -> size of its XML, uncompressed (what the reader has to parse)."""
        if self._sheet_sizes is None:
            try:
                with zipfile.ZipFile(self.path) as zf:
                    self._sheet_sizes = {s.name: zf.getinfo(s.part).file_size for s in self.package.sheets}
            except (KeyError, OSError, zipfile.BadZipFile):
                self._sheet_sizes = {}
        return self._sheet_sizes

    def grid(self, sheet: str) -> tuple[np.ndarray, dict]:
        """(every cell of the sheet from A1, frames of its tables already converted)."""
        future = self._futures.get(sheet)
        if future is None:
            future = self._futures[sheet] = self._pool.submit(self._read, sheet)
        return future.result()

    def close(self) -> None:
        for future in self._futures.values():
            future.cancel()
        self._pool.shutdown(wait=True)

    def _read(self, sheet: str) -> tuple[np.ndarray, dict]:
        book = getattr(self._local, "book", None)
        try:
            if book is None:
                book = self._local.book = calamine.CalamineWorkbook.from_path(str(self.path))
            rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        except calamine.CalamineError as error:
            raise InputError([Problem(sheet, f"feuille illisible : {error}")], title="Classeur corrompu") from None
        grid = _grid(rows)
        del rows
        frames = {}
        # The tables to convert are known once the formulas are scanned, which is usually done by
        # now; one not listed yet is converted by the main thread when a function needs it. So is
        # a table on a tiny sheet: converting it takes no time, but here it would wait for pandas
        # and the engine to be imported (by the main thread, meanwhile) before the next, big,
        # sheet could be read.
        tiny = self._sizes().get(sheet, 0) < _TINY_SHEET
        for name in () if tiny else frozenset(self._prepare.get(sheet, ())):
            table = self.package.tables[name]
            c1, r1, c2, r2 = table.bounds
            rect = Rect(table.sheet, r1, c1, r2, c2)
            frames[rect] = frame = table_frame(_block(grid, rect))
            _convert_for_engine(frame, name)
        return grid, frames


def _grid(rows: list) -> np.ndarray:
    """Rows as python-calamine reads them ('' for blanks) -> a 2-D object array."""
    lengths = set(map(len, rows))
    width = max(lengths, default=0)
    grid = np.empty((len(rows), width), dtype=object)
    if rows and width:
        if len(lengths) == 1:
            grid[:] = rows
        else:
            grid[:] = [list(r) + [""] * (width - len(r)) for r in rows]
    return grid


def _block(grid: np.ndarray, rect: "Rect") -> np.ndarray:
    """The cells of `rect` in a sheet's grid (a copy), '' beyond what was read."""
    h, w = rect.r2 - rect.r1 + 1, rect.c2 - rect.c1 + 1
    part = grid[rect.r1 - 1:rect.r2, rect.c1 - 1:rect.c2]
    if part.shape != (h, w):
        full = np.full((h, w), "", dtype=object)
        full[:part.shape[0], :part.shape[1]] = part
        return full
    return part.copy()


def table_frame(values: np.ndarray) -> pd.DataFrame:
    """A range with its header row, as the engine functions take it (columns = headers)."""
    import pandas as pd  # imported on first use: `encaisse recalc` starts reading before pandas is loaded

    headers = [str(h) for h in values[0]]
    frame = pd.DataFrame(values[1:], columns=headers, dtype=object)  # blanks stay '' (read as blank)
    frame.attrs[_CONVERTED] = {}  # encaisse.excel.kpi converts the table once for every call
    return frame


def _convert_for_engine(frame: pd.DataFrame, table_name: str) -> None:
    """Convert a table ahead of the encaisse functions (which find it in the frame's cache)."""
    from encaisse.excel.args import table_arg
    from encaisse.tables import TABLES

    table = next((t for t in TABLES if t.name.upper() == table_name), None)
    if table is None:
        return
    try:
        table_arg(frame, table)
    except Exception:  # noqa: BLE001 — the function's own call reports the problem with its cell
        pass


def _formula_cells(path: Path, package: Package, found=None, skip: frozenset = frozenset()) -> tuple[dict[str, bytes], list[FormulaCell]]:
    """(XML of the sheets with formulas, their formula cells), the sheets in `skip` left out."""
    sheets_xml: dict[str, bytes] = {}
    cells: list[FormulaCell] = []
    with open_package(str(path)) as zf:
        try:
            dynamic = dynamic_cell_metadata(zf, str(path))
            for sheet in package.sheets:
                if sheet.name in skip or not has_formulas(zf, sheet.part):
                    continue
                data = zf.read(sheet.part)
                sheets_xml[sheet.part] = data
                sheet_cells = read_formulas(data, sheet.name, dynamic)
                cells.extend(sheet_cells)
                if found is not None:
                    found(sheet_cells)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError):
            raise InputError([Problem(str(path), "fichier illisible : classeur Excel endommagé")], title="Classeur corrompu") from None
    return sheets_xml, cells


# ---------------------------------------------------------------------------------------------
# Values: Excel-typed cells for the formula library


@dataclass(frozen=True)
class Rect:
    sheet: str  # exact sheet name
    r1: int
    c1: int
    r2: int
    c2: int

    def contains(self, row: int, col: int) -> bool:
        return self.r1 <= row <= self.r2 and self.c1 <= col <= self.c2

    def intersects(self, other: "Rect") -> bool:
        return (self.sheet == other.sheet and self.r1 <= other.r2 and other.r1 <= self.r2
                and self.c1 <= other.c2 and other.c1 <= self.c2)

    def __str__(self) -> str:
        a = cell_ref(self.r1, self.c1)
        b = cell_ref(self.r2, self.c2)
        return f"{quote_sheet(self.sheet)}!{a}" + ("" if a == b else f":{b}")


def to_serial(value: dt.date) -> float:
    if isinstance(value, dt.datetime):
        delta = value - _EXCEL_EPOCH
    else:
        delta = dt.datetime(value.year, value.month, value.day) - _EXCEL_EPOCH
    return delta.days + delta.seconds / 86400 + delta.microseconds / 86400e6


def _xl_cell(value):
    """A calamine value -> what the formula library expects (dates as serial numbers)."""
    if value is None or (isinstance(value, str) and value == ""):
        return _EMPTY
    if isinstance(value, (dt.date, dt.datetime)):
        return to_serial(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86400
    return value


_to_xl = np.frompyfunc(_xl_cell, 1, 1)


def _empties(shape) -> np.ndarray:
    # not np.full: it would turn the EMPTY token (a str subclass) into a plain 'empty' string
    out = np.empty(shape, dtype=object)
    out.fill(_EMPTY)
    return out


def _xl_column(values: np.ndarray) -> np.ndarray:
    """A column of calamine values for the formula library, whole-column when its kind allows."""
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
    out = _empties(len(values))
    out[~blank] = converted
    return out
_EMPTY = None  # set in _formulas() (schedula's EMPTY marker)


def _formulas():
    """Import the formula library on first use (it takes a second to load)."""
    global _EMPTY
    from encaisse.recalc.library import get_functions

    get_functions()  # first, so that the library's own first call finds its table loaded without scipy
    import formulas
    import schedula as sh
    from formulas.functions import not_implemented
    from formulas.tokens.operand import XlError

    _EMPTY = sh.EMPTY
    return formulas, get_functions, not_implemented, XlError


class Evaluator:
    def __init__(self, path: Path, package: Package, cells: list[FormulaCell], *, as_of=None, rules_dir=None,
                 reader: SheetReader | None = None):
        self.path = path
        self.package = package
        self.cells = cells
        self.rules_dir = str(rules_dir) if rules_dir is not None else None
        self.as_of = _parse_as_of(as_of)
        self.warnings: list[str] = []
        self.engine_calls = 0
        self.formulas, get_functions, self.not_implemented, self.XlError = _formulas()
        from formulas.ranges import Ranges

        self._Ranges = Ranges
        self.library = get_functions()
        self.parser = self.formulas.Parser()
        self.engine = _engine_functions()
        self.by_cell = {(c.sheet, c.row, c.col): c for c in cells}
        self.results: dict[tuple[str, int, int], np.ndarray] = {}  # anchor -> 2-D result
        self.extents: dict[tuple[str, int, int], Rect] = {}  # anchor -> range its values occupy
        self._anchors: dict[str, list] = {}  # sheet -> evaluated formula cells (keys of results/extents)
        self._reader = reader
        self._grids: dict[str, np.ndarray] = {}
        self._xl_cache: dict[Rect, np.ndarray] = {}
        self._frames: dict[Rect, pd.DataFrame] = {}
        self._compiled: dict[str, object] = {}
        self._names: dict[str, Rect | str] = {}
        self._override: dict[tuple[str, int, int], object] = {}
        self._translated: dict[tuple[str, int, int], str] = {}
        self._problems: list[Problem] = []
        self._boxes: dict[str, Rect] = {}  # sheet -> bounding box of its computed cells
        self.engine_dependent: set[tuple[str, int, int]] = set()
        self._refs: dict[tuple, list[Rect]] = {}  # cell -> the ranges its formula refers to
        self._written_cells: dict | None = None

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> None:
        if self.as_of is not None:
            rect = self.name_rect("DateArrete")
            if not isinstance(rect, Rect):
                raise InputError([Problem(self.path.name, "la cellule nommée DateArrete est absente : --as-of ne peut pas s'appliquer")], title=TITLE)
            self._override[(rect.sheet, rect.r1, rect.c1)] = to_serial(self.as_of)
        deps = self._dependencies()
        if self._problems:
            raise InputError(sorted(self._problems), title=TITLE)
        self._check_as_of()
        order = self._order(deps, fallback=True)
        if order is None:
            # The areas where dynamic arrays may spill make a cycle (a formula reads below or to the
            # right of a dynamic array that depends on it). Order by the ranges they spilled last
            # time, plus every "may read its spill" edge that does not close a cycle; then check
            # that no formula read a range that was spilled after it (else once more, in the order
            # the actual spills give).
            deps = self._edges({key: self._stored_extent(c) for key, c in self.by_cell.items()}, add=deps)
            order = self._order(deps)
            self._evaluate_all(order)
            actual = self._edges(dict(self.extents))
            if self._misordered(order, actual):
                deps, order = actual, self._order(actual)
                self._reset()
                self._evaluate_all(order)
                if self._misordered(order, self._edges(dict(self.extents))):
                    first = order[0]
                    raise InputError([Problem(self.by_cell[first].where, "référence circulaire entre des tableaux dynamiques déversés")], title=TITLE)
        else:
            self._evaluate_all(order)
        for key in order:  # cells whose value comes, directly or not, from an encaisse function
            if _find_calls(self._translated[key], self.engine) or any(d in self.engine_dependent for d in deps[key]):
                self.engine_dependent.add(key)

    def _evaluate_all(self, order: list[tuple]) -> None:
        for key in order:
            cell = self.by_cell[key]
            try:
                self._evaluate_cell(cell)
            except _CellProblem as problem:
                self._problems.append(Problem(cell.where, str(problem)))
        if self._problems:
            raise InputError(sorted(self._problems, key=self._position), title=TITLE)

    def _misordered(self, order: list[tuple], deps: dict[tuple, set]) -> bool:
        position = {key: i for i, key in enumerate(order)}
        return any(position[d] > position[key] for key in order for d in deps[key])

    def _reset(self) -> None:
        self.results.clear()
        self.extents.clear()
        self._anchors.clear()
        self._boxes.clear()
        self.engine_calls = 0

    def _position(self, problem: Problem):
        cell = next((c for c in self.cells if c.where == problem.where), None)
        return (cell.sheet, cell.row, cell.col) if cell else ("", 0, 0)

    def _check_as_of(self) -> None:
        """One clear message when the formulas need DateArrete and it is blank (rather than one per cell)."""
        if self.as_of is not None or not any("datearrete" in c.text.lower() for c in self.cells):
            return
        rect = self.name_rect("DateArrete")
        if isinstance(rect, Rect) and self.raw_values(Rect(rect.sheet, rect.r1, rect.c1, rect.r1, rect.c1))[0, 0] in ("", None):
            where = f"{quote_sheet(rect.sheet)}!{cell_ref(rect.r1, rect.c1)}"
            raise InputError([Problem(where, "date d'arrêté (DateArrete) vide : renseignez-la, ou passez --as-of AAAA-MM-JJ")], title=TITLE)

    def _dependencies(self) -> dict[tuple, set]:
        unsupported: dict[str, set[str]] = {}
        for key, cell in self.by_cell.items():
            try:
                text = self._translate(cell)
                tokens = self._tokens(text)
            except _CellProblem as problem:
                self._problems.append(Problem(cell.where, str(problem)))
                continue
            rects = []
            for token in tokens:
                kind = type(token).__name__
                if kind == "Function":
                    name = token.name.upper()
                    if name in VOLATILE and not any(cell.where in w for w in self.warnings):
                        self.warnings.append(
                            f"{cell.where} : {name}() rend le résultat non reproductible ; utilisez la date d'arrêté (DateArrete)")
                    if not self._supported(name):
                        unsupported.setdefault(name, set()).add(cell.where)
                elif kind == "Range":
                    try:
                        rect = self._token_rect(token, cell)
                    except _CellProblem as problem:
                        self._problems.append(Problem(cell.where, str(problem)))
                        continue
                    if rect is not None:
                        rects.append(rect)
            self._refs[key] = rects
            if any(r.sheet == cell.sheet and r.contains(cell.row, cell.col) for r in rects):
                self._problems.append(Problem(cell.where, f"référence circulaire : {cell.where} → {cell.where}"))
        for name, where in sorted(unsupported.items()):
            cells = ", ".join(sorted(where))
            self._problems.append(Problem(cells, f"fonction {name} non prise en charge (ni par la bibliothèque de formules, ni par encaisse)"))
        return self._edges({key: self._dependency_extent(c) for key, c in self.by_cell.items()})

    def _edges(self, extents: dict[tuple, Rect], add: dict[tuple, set] | None = None) -> dict[tuple, set]:
        """Cell -> the formula cells whose values (in `extents`) its references meet; then each
        edge of `add` that does not make a cycle."""
        anchors = list(extents.items())
        deps = {
            key: {other for other, extent in anchors if other != key and any(r.intersects(extent) for r in rects)}
            for key, rects in self._refs.items()
        }
        for key in sorted(add or ()):
            for other in sorted(add[key] - deps[key]):
                if not _reaches(deps, other, key):
                    deps[key].add(other)
        return deps

    def _order(self, deps: dict[tuple, set], fallback: bool = False) -> list[tuple] | None:
        sorter = graphlib.TopologicalSorter(deps)
        try:
            sorter.prepare()
        except graphlib.CycleError as error:
            if fallback and any(c.kind == "dynamic" for c in self.cells):
                return None
            cycle = error.args[1][:-1]
            start = cycle.index(min(cycle, key=lambda k: (self.package.sheet(k[0]).index, k[1], k[2])))
            cycle = cycle[start:] + cycle[:start] + [cycle[start]]  # from the first cell, for a stable message
            path = " → ".join(self.by_cell[k].where for k in cycle)
            raise InputError([Problem(self.by_cell[cycle[0]].where, f"référence circulaire : {path}")], title=TITLE) from None
        # Among the cells whose inputs are computed, first those that read only small sheets: the
        # reading threads finish those first, so the main thread evaluates them while the big
        # sheets are still being read instead of waiting for the first cell that needs one.
        sizes = self._reader._sizes() if self._reader is not None else {}
        sheet_index = {s.name: s.index for s in self.package.sheets}

        def priority(key: tuple) -> tuple:
            sheets = {r.sheet for r in self._refs.get(key, ())} | {key[0]}
            return (max(sizes.get(s, 0) for s in sheets), sheet_index.get(key[0], 0), key[1], key[2])

        ready: list[tuple] = []
        order = []
        while sorter.is_active():
            for key in sorter.get_ready():
                heapq.heappush(ready, (priority(key), key))
            _, key = heapq.heappop(ready)
            order.append(key)
            sorter.done(key)
        return order

    def _stored_extent(self, cell: FormulaCell) -> Rect:
        if cell.array_ref:
            c1, r1, c2, r2 = range_boundaries(cell.array_ref)
            return Rect(cell.sheet, r1, c1, r2, c2)
        return Rect(cell.sheet, cell.row, cell.col, cell.row, cell.col)

    def _dependency_extent(self, cell: FormulaCell) -> Rect:
        # A dynamic array's spill size is known only once evaluated: it may fill the free cells
        # below and to the right of its anchor, up to the next cell holding something (where
        # Excel would stop with #SPILL!); references into that area are ordered after it.
        if cell.kind != "dynamic":
            return self._stored_extent(cell)
        grid = self.grid(cell.sheet)
        spilled = [self._stored_extent(c) for c in self.cells if c.sheet == cell.sheet and c.kind in ("dynamic", "array")]

        def occupied(row: int, col: int) -> bool:
            if (cell.sheet, row, col) in self.by_cell:
                return True
            if row > grid.shape[0] or col > grid.shape[1] or grid[row - 1, col - 1] in ("", None):
                return False
            return not any(r.contains(row, col) for r in spilled)  # an old spilled value is no obstacle

        last_row = cell.row
        while last_row < max(grid.shape[0], cell.row) and not occupied(last_row + 1, cell.col):
            last_row += 1
        if last_row >= grid.shape[0]:
            last_row = MAX_ROWS
        last_col = cell.col
        while last_col < max(grid.shape[1], cell.col) and not occupied(cell.row, last_col + 1):
            last_col += 1
        if last_col >= grid.shape[1]:
            last_col = MAX_COLS
        return Rect(cell.sheet, cell.row, cell.col, last_row, last_col)

    def _supported(self, name: str) -> bool:
        if name in self.engine:
            return True
        return name in self.library and self.library[name] is not self.not_implemented

    # -- formula text ---------------------------------------------------------------------------

    def _translate(self, cell: FormulaCell) -> str:
        key = (cell.sheet, cell.row, cell.col)
        if key not in self._translated:
            text = _outside_strings(cell.text, lambda s: _LAST_ROW.sub(r"\g<1>1048575", _PREFIX.sub("", s)))
            try:
                text, _ = translate(text, self.package.tables, row=cell.row)
            except StructuredRefError as error:
                raise _CellProblem(str(error)) from None
            self._translated[key] = text
        return self._translated[key]

    def _tokens(self, text: str):
        try:
            return self.parser.ast("=" + text)[0]
        except Exception as error:  # the library raises its own FormulaError family
            raise _CellProblem(f"formule illisible « ={text} » ({error})") from None

    def _compile(self, text: str):
        fn = self._compiled.get(text)
        if fn is None:
            try:
                fn = self.parser.ast("=" + text)[1].compile()
            except Exception as error:
                raise _CellProblem(f"formule illisible « ={text} » ({error})") from None
            self._compiled[text] = fn
        return fn

    # -- references -----------------------------------------------------------------------------

    def _token_rect(self, token, cell: FormulaCell) -> Rect | None:
        attr = token.attr
        if attr.get("is_reference"):
            found = self.name_rect(attr.get("ref") or token.name)
            if found is None:
                if token.name.upper().startswith("ENCAISSEVAL"):
                    return None
                raise _CellProblem(f"nom « {attr.get('ref') or token.name} » inconnu")
            return found if isinstance(found, Rect) else None
        return self._rect_from(attr.get("sheet"), attr, cell.sheet)

    def _rect_from(self, sheet_name, attr: dict, default_sheet: str) -> Rect:
        sheet = default_sheet
        if sheet_name:
            found = self.package.sheet(sheet_name)
            if found is None:
                raise _CellProblem(f"feuille « {sheet_name} » absente du classeur")
            sheet = found.name
        r1, r2 = int(attr.get("r1") or 1), int(attr.get("r2") or MAX_ROWS)
        c1, c2 = int(attr.get("n1") or 1), int(attr.get("n2") or MAX_COLS)
        return Rect(sheet, max(r1, 1), max(c1, 1), r2, c2)

    def name_rect(self, name: str) -> Rect | str | None:
        """A defined name -> the range it designates, or its formula text when it is not a range."""
        key = name.upper()
        if key in self._names:
            return self._names[key]
        entry = self.package.defined_names.get(key)
        if entry is None:
            table = self.package.tables.get(key)
            return None if table is None else self._table_rect(table)
        found = self.package.name_range(key)
        result: Rect | str = entry.text if found is None else Rect(found[0], found[2], found[1], found[4], found[3])
        self._names[key] = result
        return result

    def _table_rect(self, table) -> Rect:
        c1, r1, c2, r2 = table.bounds
        return Rect(table.sheet, r1 + table.header_rows, c1, r2 - table.totals_rows, c2)

    # -- cell values ----------------------------------------------------------------------------

    def grid(self, sheet: str) -> np.ndarray:
        if sheet not in self._grids:
            if self._reader is None:
                self._reader = SheetReader(self.path, self.package)
            self._grids[sheet], frames = self._reader.grid(sheet)
            for rect, frame in frames.items():
                self._frames.setdefault(rect, frame)
        return self._grids[sheet]

    def raw_values(self, rect: Rect) -> np.ndarray:
        """The cells of `rect` as read (dates as date objects, blanks as ''), computed values overlaid."""
        part = _block(self.grid(rect.sheet), rect)
        for i, j, block in self._overlay(rect):
            part[i:i + block.shape[0], j:j + block.shape[1]] = _from_xl_raw(block)
        return part

    def _overlay(self, rect: Rect):
        """(row offset, column offset, 2-D block) of the computed values and overrides inside `rect`."""
        box = self._boxes.get(rect.sheet)
        if box is not None and rect.intersects(box):
            for key in self._anchors.get(rect.sheet, ()):
                extent = self.extents[key]
                if not rect.intersects(extent):
                    continue
                r1, r2 = max(rect.r1, extent.r1), min(rect.r2, extent.r2)
                c1, c2 = max(rect.c1, extent.c1), min(rect.c2, extent.c2)
                block = self.results[key][r1 - extent.r1:r2 - extent.r1 + 1, c1 - extent.c1:c2 - extent.c1 + 1]
                yield r1 - rect.r1, c1 - rect.c1, block
        for (sheet, row, col), value in self._override.items():
            if sheet == rect.sheet and rect.contains(row, col):
                yield row - rect.r1, col - rect.c1, np.array([[value]], dtype=object)

    def xl_values(self, rect: Rect) -> np.ndarray:
        """The cells of `rect` for the formula library: serial dates, EMPTY blanks."""
        rect = self._clip(rect)
        cached = self._xl_cache.get(rect)
        if cached is None:
            grid = self.grid(rect.sheet)
            h, w = rect.r2 - rect.r1 + 1, rect.c2 - rect.c1 + 1
            part = grid[rect.r1 - 1:rect.r2, rect.c1 - 1:rect.c2]
            cached = _empties((h, w))
            for j in range(part.shape[1]):
                cached[:part.shape[0], j] = _xl_column(part[:, j])
            self._xl_cache[rect] = cached
        overlay = list(self._overlay(rect))
        if not overlay:
            return cached
        out = cached.copy()
        for i, j, block in overlay:
            out[i:i + block.shape[0], j:j + block.shape[1]] = block
        return out

    def _clip(self, rect: Rect) -> Rect:
        """Whole columns/rows (A:A, 2:2) are cut to the used area of the sheet (and computed cells)."""
        if rect.r2 < MAX_ROWS - 1 and rect.c2 < MAX_COLS:
            return rect
        grid = self.grid(rect.sheet)
        rows, cols = grid.shape
        box = self._boxes.get(rect.sheet)
        if box is not None:
            rows, cols = max(rows, box.r2), max(cols, box.c2)
        r2 = min(rect.r2, max(rows, rect.r1))
        c2 = min(rect.c2, max(cols, rect.c1))
        return Rect(rect.sheet, rect.r1, rect.c1, r2, c2)

    # -- evaluation -----------------------------------------------------------------------------

    def _evaluate_cell(self, cell: FormulaCell) -> None:
        text = self._translate(cell)
        value = self.evaluate(text, cell)
        result = _as_2d(value)
        key = (cell.sheet, cell.row, cell.col)
        if cell.kind == "dynamic":
            h, w = result.shape
            extent = Rect(cell.sheet, cell.row, cell.col, min(cell.row + h - 1, MAX_ROWS), min(cell.col + w - 1, MAX_COLS))
            blocked = [c.where for k, c in self.by_cell.items() if k != key and c.sheet == cell.sheet and extent.contains(c.row, c.col)]
            if blocked:
                result = np.array([[ErrorValue("#SPILL!")]], dtype=object)
                extent = Rect(cell.sheet, cell.row, cell.col, cell.row, cell.col)
        elif cell.kind == "array":
            extent = self._stored_extent(cell)
            result = _fit(result, extent.r2 - extent.r1 + 1, extent.c2 - extent.c1 + 1)
        else:
            result = result[:1, :1]
            extent = Rect(cell.sheet, cell.row, cell.col, cell.row, cell.col)
        self.results[key] = result
        self.extents[key] = extent
        box = self._boxes.get(cell.sheet, extent)
        self._boxes[cell.sheet] = Rect(cell.sheet, min(box.r1, extent.r1), min(box.c1, extent.c1),
                                       max(box.r2, extent.r2), max(box.c2, extent.c2))
        self._anchors.setdefault(cell.sheet, []).append(key)

    def evaluate(self, text: str, cell: FormulaCell):
        """Evaluate a formula text (A1 references only): encaisse calls by the engine, the rest by `formulas`."""
        calls = _find_calls(text, self.engine)
        placeholders: dict[str, object] = {}
        if calls:
            pieces, pos = [], 0
            for k, (start, end, name, args) in enumerate(calls):
                value = self._engine_call(name, args, cell)
                if start == 0 and end == len(text) and len(calls) == 1:
                    return value
                token = f"ENCAISSEVAL{k}"
                placeholders[token] = value
                pieces += [text[pos:start], token]
                pos = end
            pieces.append(text[pos:])
            text = "".join(pieces)
        fn = self._compile(text)
        inputs = []
        for name, ranges in fn.inputs.items():
            if name in placeholders:
                inputs.append(_as_2d(placeholders[name]))
                continue
            inputs.append(self._input(name, ranges, cell))
        try:
            return self._dereference(fn(*inputs))
        except Exception as error:
            raise _CellProblem(f"évaluation impossible de « ={text} » : {error}") from None

    def _dereference(self, value):
        """References in a result (INDEX over an array of positions gives one per position) -> their values."""
        Ranges = self._Ranges
        if isinstance(value, np.ndarray) and value.dtype == object and value.size > 1:
            found = [isinstance(v, Ranges) for v in value.flat]
            if any(found):
                out = value.copy()
                for index, is_range in zip(np.ndindex(value.shape), found):
                    if is_range:
                        inner = np.asarray(value[index].value, dtype=object)
                        out[index] = inner.flat[0] if inner.size else _EMPTY
                return out
        return value

    def _input(self, name: str, ranges, cell: FormulaCell):
        if ranges is None:  # a defined name
            found = self.name_rect(name)
            if found is None:
                raise _CellProblem(f"nom « {name} » inconnu")
            if isinstance(found, Rect):
                return self._ranges(found)
            return _as_2d(self.evaluate(_PREFIX.sub("", found.lstrip("=")), cell))
        attr = ranges.ranges[0]
        if attr.get("sheet") is None and attr.get("sheet_id") not in (None, ""):
            attr = dict(attr, sheet=attr["sheet_id"].strip("'").replace("''", "'"))
        rect = self._rect_from(attr.get("sheet"), attr, cell.sheet)
        return self._ranges(rect)

    def _ranges(self, rect: Rect):
        # Functions such as ROWS/COLUMNS/OFFSET need the range itself, not only its values.
        rect = self._clip(rect)
        values = self.xl_values(rect)
        ref = f"{quote_sheet(rect.sheet)}!{cell_ref(rect.r1, rect.c1)}:{cell_ref(rect.r2, rect.c2)}"
        return self._Ranges().push(ref, values)

    def _engine_call(self, name: str, args: list[str], cell: FormulaCell):
        values = [self._engine_argument(arg, cell) for arg in args]
        function = self.engine[name]
        kwargs = {}
        position = _parameter_position(function, "rules_dir")
        if self.rules_dir is not None and position is not None:  # --rules wins over the formula's own argument
            if len(values) > position:
                values[position] = self.rules_dir
            else:
                kwargs["rules_dir"] = self.rules_dir
        self.engine_calls += 1
        try:
            result = function(*values, **kwargs)
        except Exception as error:  # the engine reports bad input as exceptions with French messages
            raise _CellProblem(f"{name} : {error}") from None
        return _engine_result(name, result)

    def _engine_argument(self, arg: str, cell: FormulaCell):
        """An argument of an encaisse function: a range -> DataFrame (first row = headers) or a value."""
        arg = arg.strip()
        if not arg:
            return None
        rect = self._reference(arg, cell)
        if rect is not None:
            rect = self._clip(rect)
            if rect.r1 == rect.r2 and rect.c1 == rect.c2:
                value = self.raw_values(rect)[0, 0]
                return None if isinstance(value, str) and value == "" else value
            return self._frame(rect)
        value = _as_2d(self.evaluate(arg, cell))
        if value.shape == (1, 1):
            return _from_xl(value[0, 0], None)
        return [[_from_xl(v, None) for v in row] for row in value]

    def _reference(self, arg: str, cell: FormulaCell) -> Rect | None:
        """The range when the argument is nothing but a reference (A1 range or defined name)."""
        if _find_calls(arg, self.engine):
            return None
        try:
            tokens = self._tokens(arg)
        except _CellProblem:
            return None
        if len(tokens) != 1 or type(tokens[0]).__name__ != "Range":
            return None
        rect = self._token_rect(tokens[0], cell)
        return rect if isinstance(rect, Rect) else None

    def _frame(self, rect: Rect) -> pd.DataFrame:
        """A range with its header row, as the engine functions take it (columns = headers)."""
        self.grid(rect.sheet)  # brings the frames converted while the sheet was read
        frame = self._frames.get(rect)
        if frame is None or any(True for _ in self._overlay(rect)):
            frame = self._frames[rect] = table_frame(self.raw_values(rect))
        return frame

    # -- output ---------------------------------------------------------------------------------

    def updates(self) -> dict[str, dict[tuple[int, int], CellUpdate]]:
        out: dict[str, dict[tuple[int, int], CellUpdate]] = {}
        written = self._written()
        for key, cell in self.by_cell.items():
            sheet_updates = out.setdefault(cell.sheet, {})
            result, extent = self.results[key], self.extents[key]
            if cell.kind in ("dynamic", "array"):
                old = self._stored_extent(cell)
                for row in range(old.r1, old.r2 + 1):  # spill cells that are no longer part of the result
                    for col in range(old.c1, old.c2 + 1):
                        if not extent.contains(row, col):
                            sheet_updates.setdefault((row, col), CellUpdate(None, False))
            values = iter(written[key][1])
            for i in range(result.shape[0]):
                for j in range(result.shape[1]):
                    sheet_updates[(cell.row + i, cell.col + j)] = CellUpdate(next(values), False)
            array_ref = None
            if cell.kind == "dynamic":
                array_ref = f"{cell_ref(extent.r1, extent.c1)}:{cell_ref(extent.r2, extent.c2)}" if (extent.r1, extent.c1) != (extent.r2, extent.c2) else cell.ref
            sheet_updates[(cell.row, cell.col)] = CellUpdate(written[key][1][0], True, array_ref)
        return out

    def engine_cell_names(self) -> frozenset:
        written = self._written()
        return frozenset(name for key in self.engine_dependent for name in written[key][0])

    def written_values(self) -> dict[str, object]:
        values = {}
        for names, file_values in self._written().values():
            values.update(zip(names, file_values))
        return values

    def _written(self) -> dict[tuple, tuple[list[str], list]]:
        """Anchor -> ('Sheet!A1' names, values as stored) of the cells its result fills, row by row."""
        if self._written_cells is None:
            self._written_cells = {}
            for (sheet, row, col), result in self.results.items():
                prefix = f"{quote_sheet(sheet)}!"
                letters = [get_column_letter(col + j) for j in range(result.shape[1])]
                names = [f"{prefix}{letter}{row + i}" for i in range(result.shape[0]) for letter in letters]
                self._written_cells[(sheet, row, col)] = (names, [_to_file(v, self.XlError) for v in result.flat])
        return self._written_cells


def _reaches(deps: dict[tuple, set], start: tuple, target: tuple) -> bool:
    """Does `start` depend, directly or not, on `target`?"""
    seen, todo = {start}, [start]
    while todo:
        for other in deps.get(todo.pop(), ()):
            if other == target:
                return True
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return False


class _CellProblem(Exception):
    """A problem found while evaluating one cell; the evaluator adds the cell's address."""


# ---------------------------------------------------------------------------------------------
# helpers


_CONVERTED = "encaisse.converted"  # encaisse.excel.args.CONVERTED


def _engine_functions() -> dict:
    try:
        from encaisse.excel import FUNCTIONS
    except ModuleNotFoundError as error:  # only when the module itself is absent, not on a broken import
        if error.name != "encaisse.excel.kpi":
            raise
        return {}
    return {name.upper(): fn for name, fn in FUNCTIONS.items()}


def _parameter_position(function, parameter: str) -> int | None:
    """Index of a positional parameter, len(parameters) for a keyword-only one, None when absent."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return None
    for i, p in enumerate(parameters):
        if p.name == parameter:
            return i if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) else len(parameters)
    return None


def _parse_as_of(value) -> dt.date | None:
    from encaisse.workbook.coerce import as_of_date  # with pandas: not before the reading has started

    return as_of_date(value, title=TITLE)


def _outside_strings(text: str, change) -> str:
    parts = re.split(r'("(?:[^"]|"")*")', text)
    return "".join(p if i % 2 else change(p) for i, p in enumerate(parts))


def _find_calls(text: str, names: dict) -> list[tuple[int, int, str, list[str]]]:
    """Outermost calls of encaisse functions in `text`: (start, end, NAME, argument texts)."""
    calls = []
    masked = _mask_strings(text)
    pos = 0
    while True:
        m = _CALL.search(masked, pos)
        if m is None:
            break
        name = m.group(1).upper()
        open_paren = m.end() - 1
        close = _closing(masked, open_paren)
        if name in names:
            args = _split_args(text, masked, open_paren + 1, close)
            calls.append((m.start(), close + 1, name, args))
            pos = close + 1
        else:
            pos = m.end()
    return calls


def _mask_strings(text: str) -> str:
    """Same length as `text`, with the inside of string literals and quoted sheet names blanked."""
    out = list(text)
    i = 0
    while i < len(text):
        if text[i] in "\"'":
            quote, j = text[i], i + 1
            while j < len(text):
                if text[j] == quote:
                    if j + 1 < len(text) and text[j + 1] == quote:
                        j += 2
                        continue
                    break
                j += 1
            for k in range(i + 1, min(j, len(text))):
                out[k] = " "
            i = j + 1
        elif text[i] == "[":
            depth, j = 0, i
            while j < len(text):
                if text[j] == "[":
                    depth += 1
                elif text[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            for k in range(i + 1, min(j, len(text))):
                out[k] = " "
            i = j + 1
        else:
            i += 1
    return "".join(out)


def _closing(masked: str, open_paren: int) -> int:
    depth = 0
    for j in range(open_paren, len(masked)):
        if masked[j] == "(":
            depth += 1
        elif masked[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    raise _CellProblem("parenthèse non fermée")


def _split_args(text: str, masked: str, start: int, end: int) -> list[str]:
    args, depth, last = [], 0, start
    for j in range(start, end):
        ch = masked[j]
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif ch in ",;" and depth == 0:
            args.append(text[last:j])
            last = j + 1
    tail = text[last:end]
    if args or tail.strip():
        args.append(tail)
    return args


def _as_2d(value) -> np.ndarray:
    if isinstance(value, np.ndarray):
        array = np.asarray(value, dtype=object)
        if array.ndim == 0:
            return np.array([[array.item()]], dtype=object)
        if array.ndim == 1:
            return array.reshape(1, -1)
        return array
    return np.array([[value]], dtype=object)


def _fit(result: np.ndarray, h: int, w: int) -> np.ndarray:
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


def _engine_result(name: str, result):
    """An encaisse function's return value -> Excel-typed scalar or 2-D object array."""
    if isinstance(result, str) and result.startswith("#"):
        code = result.split()[0]
        if code.startswith("#VALEUR") or code.startswith("#VALUE"):
            raise _CellProblem(f"{name} : {result}")
        return result
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        rows = [list(map(str, result.columns))] + result.to_numpy(dtype=object).tolist()
        result = rows
    if isinstance(result, (list, tuple)):
        rows = [list(r) if isinstance(r, (list, tuple, np.ndarray)) else [r] for r in result]
        width = max((len(r) for r in rows), default=1)
        array = np.full((max(len(rows), 1), width), "", dtype=object)
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                array[i, j] = _xl_scalar(v)
        return array
    return _xl_scalar(result)


def _xl_scalar(value):
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


def _from_xl_raw(block: np.ndarray) -> np.ndarray:
    return np.frompyfunc(lambda v: _from_xl(v, ""), 1, 1)(block).astype(object)


def _is_empty(value) -> bool:
    # schedula's EMPTY token is a str subclass; the library may hand back a copy of it
    return value is _EMPTY or (type(value) is type(_EMPTY) and value == _EMPTY)


def _from_xl(value, empty):
    """A formula-library value back to a plain Python value for the engine."""
    if _is_empty(value):
        return empty
    if isinstance(value, np.generic):
        return value.item()
    return value


def _to_file(value, xl_error) -> object:
    """A computed value as it will be stored: float, bool, str, ErrorValue."""
    kind = type(value)  # the common cases first (a spilled aged balance has thousands of cells)
    if kind is float:
        return value
    if kind is str:
        return ErrorValue(value) if value in EXCEL_ERRORS else value
    if value is None or _is_empty(value):
        return 0.0
    if isinstance(value, xl_error) or type(value).__name__ == "XlError":
        return ErrorValue(str(value))
    if isinstance(value, ErrorValue):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value in EXCEL_ERRORS:
        return ErrorValue(value)
    return str(value)
