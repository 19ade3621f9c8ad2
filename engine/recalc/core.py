"""Headless recalculation: evaluate every formula cell of a workbook and store the cached values.

The run, in the order of the modules it goes through:
- `reader`: the sheets read once by the fast reader (python-calamine) in two background threads,
  while the main thread scans the package for formula cells (a big sheet holding a table, without
  a formula in its first rows, is taken to hold data only and is checked for formulas by a reading
  thread once it has nothing left to read; if one does hold formulas, the book is evaluated again
  with them before anything is written) and finds the calculated columns (`columns`);
- `scan`: the formula texts scanned (Excel's prefixes, encaisse calls, tables and names mentioned);
- `graph`: the cells ordered so that each comes after those it reads;
- `native`: the ordinary formulas evaluated by IronCalc (see `_evaluate` for the hand-over),
  except the calculated columns numpy can evaluate whole (`columns.evaluate`): IronCalc would
  first load every cell of the book;
- `evaluator`: encaisse functions (DSO, AGING...) evaluated by the engine, sharing one evaluation
  context; the formulas IronCalc cannot do by the `formulas` library (loaded without scipy: see
  `library`), structured references translated to A1 first by `references`;
- `values`: the values converted between the reader, the library, the engine and the file;
- here: only the cached values spliced into the sheet XML, every other part copied byte for byte.

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
dashboard uses "" criteria and subtraction instead. A calculated column whose formula numpy
cannot evaluate as Excel would (text read as a number, text ordered against text, a function
outside `columns.FAST_FUNCTIONS`) goes to the library evaluator, one array operation whose
operators are applied element by element (about 15 µs per element). External links are not
supported.
"""

from __future__ import annotations

import gc
import re
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from encaisse.errors import InputError, Problem, shorten
from encaisse.recalc.cells import MAX_COLS, MAX_ROWS, TITLE, CellProblem, Rect
from encaisse.recalc.evaluator import Evaluator
from encaisse.recalc.native import (CIRCULAR, NATIVE_ONLY_ERRORS, SPILLING_FUNCTIONS, NativeBook, NativeUnavailable,
                                    known_functions)
from encaisse.recalc.reader import FoundCells, SheetReader, formula_cells
from encaisse.recalc.scan import called_functions, mask_strings, normalise
from encaisse.recalc.values import to_file, to_serial
from encaisse.workbook.package import read_package
from encaisse.workbook.splice import ErrorValue, patch_sheet, prepare_splice, write_package


@dataclass(frozen=True)
class RecalcReport:
    source: str
    output: str
    cells: int  # formula cells evaluated
    engine_calls: int  # encaisse function calls evaluated by the engine
    seconds: float
    sheets: tuple[str, ...]  # sheets whose cached values were written
    warnings: tuple[str, ...] = ()
    values: Mapping = field(default_factory=dict, repr=False, compare=False)  # 'Sheet!A1' -> value written
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


class WrittenValues(Mapping):
    """'Sheet!A1' -> the value written, built on first use: the names of a big calculated column's
    cells cost a tenth of a second that `encaisse recalc` itself never needs."""

    def __init__(self, build):
        self._build, self._values = build, None

    def _all(self) -> dict:
        if self._values is None:
            self._values, self._build = self._build(), None
        return self._values

    def __getitem__(self, name: str):
        return self._all()[name]

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


def _french_seconds(seconds: float) -> str:
    from encaisse.fr import number

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
            found = formula_cells(path, package, reader.prefetch, skip=data_sheets, xml=reader.sheet_xml)
            checked = reader.check_no_formulas(data_sheets)
            prepared = _prepare_splices(found, package)  # while the reading threads still read
            try:
                evaluator = _evaluate(path, package, found, as_of, rules_dir, reader)
                complete = checked.result()
            except InputError:
                if checked.result():
                    raise
                complete = False
            if not complete:
                found = formula_cells(path, package, reader.prefetch)
                prepared = _prepare_splices(found, package)
                evaluator = _evaluate(path, package, found, as_of, rules_dir, reader)
        finally:
            reader.close()
        replaced = {}
        columns = evaluator.column_values()
        updates = evaluator.updates()
        for sheet_name in dict.fromkeys([*updates, *columns]):
            sheet = package.sheet(sheet_name)
            replaced[sheet.part] = patch_sheet(found.sheets_xml[sheet.part], updates.get(sheet_name, {}),
                                               plain=found.plain.get(sheet.part), columns=columns.get(sheet_name, ()),
                                               prepared=prepared.get(sheet.part))
        replaced.update(_chart_caches(path, evaluator, {s.name for s in package.sheets if s.part in replaced}))
        if not target.parent.exists():
            raise InputError([Problem(str(target), "dossier de destination introuvable")], title=TITLE)
        write_package(path, target, replaced)
        written = tuple(s.name for s in package.sheets if s.part in replaced)
        return RecalcReport(
            source=str(path), output=str(target), cells=found.count, engine_calls=evaluator.engine_calls,
            seconds=time.perf_counter() - started, sheets=written, warnings=tuple(evaluator.warnings),
            values=WrittenValues(evaluator.written_values_later()), engine_cells=evaluator.engine_cell_names(),
        )
    finally:
        if enabled:
            gc.enable()


def _prepare_splices(found: FoundCells, package) -> dict:
    """Part -> its sheet cut around the cells of its calculated columns (`splice.prepare_splice`),
    ready for their values."""
    by_part: dict[str, list] = {}
    for (sheet, _, _), column in found.columns.items():
        if column.positions is not None:
            by_part.setdefault(package.sheet(sheet).part, []).append(column.positions)
    return {part: prepare_splice(found.plain[part], positions) for part, positions in by_part.items()}


# IronCalc loads every cell of the book (about 25 ns per byte of sheet XML) where the library
# evaluates only the formulas (about a millisecond each): a book with a few formulas over big
# tables (the dashboard) is cheaper for the library alone.
_NATIVE_BYTES_PER_FORMULA = 40_000
_MAX_PASSES = 8


def _evaluate(path: Path, package, found: FoundCells, as_of, rules_dir, reader: SheetReader) -> Evaluator:
    """Every formula cell evaluated: by IronCalc (`native`) where it can, by the library evaluator
    (encaisse functions, functions IronCalc does not know) for the rest, the values of each
    passed to the other until nothing changes."""
    evaluator = Evaluator(path, package, found.evaluated, as_of=as_of, rules_dir=rules_dir, reader=reader,
                          grouped=(found.evaluated, found.columns))
    native_keys, library_keys = _split(evaluator)
    called = set()
    # While a child tries IronCalc's loading, the library's formulas are parsed (needed whatever
    # its answer); while one tries the evaluation, the modules of scipy they need are imported.
    book = _native_book(path, package, evaluator, native_keys, reader,
                        meanwhile=lambda: called.update(evaluator.parse_ahead(library_keys)))
    if book is None:
        evaluator.run()
        return evaluator
    try:
        return _evaluate_both(book, evaluator, native_keys, library_keys, lambda: evaluator.load_scipy(called))
    except NativeUnavailable:
        # IronCalc failed on this book (a panic, or an evaluation that would end the process):
        # the library evaluates every formula, and names those it cannot compute.
        evaluator = Evaluator(path, package, found.evaluated, as_of=as_of, rules_dir=rules_dir, reader=reader,
                              grouped=(found.evaluated, found.columns))
        evaluator.run()
        evaluator.warnings.append("IronCalc n'a pas pu évaluer ce classeur : toutes les formules ont été évaluées "
                                  "par la bibliothèque de formules (plus lente)")
        return evaluator


def _evaluate_both(book: NativeBook, evaluator: Evaluator, native_keys, library_keys, meanwhile=None) -> Evaluator:
    for key in library_keys:
        if _recursive(evaluator.by_cell[key].text, evaluator.package):
            book.neutralise(*key)
    if evaluator.as_of is not None:
        rect = evaluator.name_rect("DateArrete")
        if not isinstance(rect, Rect):
            evaluator.run()  # names the missing cell
        book.set(rect.sheet, rect.r1, rect.c1, to_serial(evaluator.as_of))
    book.try_evaluation(meanwhile)
    book.watch_spills((evaluator.by_cell[k], evaluator.stored_extent(evaluator.by_cell[k]))
                      for k in native_keys if evaluator.by_cell[k].kind == "dynamic")
    book.evaluate()
    values = _read_native(book, evaluator, native_keys)
    for key, (result, extent) in values.items():
        codes = {str(v) for v in result.flat if isinstance(v, ErrorValue)}
        if codes & NATIVE_ONLY_ERRORS:
            library_keys.add(key)  # IronCalc could not read or compute it: the library tries
        elif CIRCULAR in codes:
            library_keys.add(key)  # the library evaluator names the cycle, cell by cell
        else:
            evaluator.adopt(key, result, extent)
    native_keys = [k for k in native_keys if k not in library_keys]
    if not library_keys:
        _warn_errors(evaluator, native_keys)
        return evaluator
    native_view = _read_native(book, evaluator, library_keys)
    engine_dependent = set()
    evaluator.tolerant = True
    for _ in range(_MAX_PASSES):
        evaluator.engine_calls = 0
        evaluator.run(only=library_keys)
        for key in library_keys:
            if key in evaluator.kept:
                continue
            cell = evaluator.by_cell[key]
            old = evaluator.stored_extent(cell)
            result, extent = evaluator.results[key], evaluator.extents[key]
            for row in range(old.r1, old.r2 + 1):
                for col in range(old.c1, old.c2 + 1):
                    if not extent.contains(row, col):
                        book.clear(cell.sheet, row, col)
            for i in range(result.shape[0]):
                for j in range(result.shape[1]):
                    book.set(cell.sheet, extent.r1 + i, extent.c1 + j, to_file(result[i, j]))
        book.evaluate()
        fresh = _read_native(book, evaluator, native_keys)
        changed = [key for key in native_keys if not _same(fresh[key][0], evaluator.results[key])]
        for key in changed:
            evaluator.adopt(key, *fresh[key])
        if evaluator.engine_dependent:
            engine_dependent.update(changed)
        read = [r for key in library_keys for r in evaluator.references(key)]
        if not any(r.intersects(evaluator.extents[key]) for key in changed for r in read):
            break
    else:
        raise InputError([Problem(evaluator.by_cell[next(iter(library_keys))].where,
                                  "référence circulaire entre les fonctions encaisse et les autres formules")], title=TITLE)
    evaluator.engine_dependent.update(engine_dependent)
    _report_kept(evaluator, native_view)
    _warn_errors(evaluator, native_keys)
    return evaluator


def _listed(cells: list[str]) -> str:
    """The first ten cells named, the others counted."""
    return ", ".join(cells[:10]) + (f" et {len(cells) - 10} autres" if len(cells) > 10 else "")


_SHOWN_ERRORS = {
    "#REF!": "référence à une feuille ou une cellule absente",
    "#NAME?": "nom ou fonction inconnus",
}


def _warn_errors(evaluator: Evaluator, keys) -> None:
    """Cells IronCalc computed as #REF! or #NAME? (as Excel would show them) are named: in a
    book recalculated headless nobody sees them otherwise."""
    found: dict[str, list[str]] = {}
    for key in keys:
        for value in evaluator.results[key].flat:
            if isinstance(value, ErrorValue) and str(value) in _SHOWN_ERRORS:
                found.setdefault(str(value), []).append(evaluator.by_cell[key].where)
                break
    for code, cells in sorted(found.items(), key=lambda item: list(_SHOWN_ERRORS).index(item[0])):
        evaluator.warnings.append(f"{_listed(cells)} : {code} ({_SHOWN_ERRORS[code]})")


def _report_kept(evaluator: Evaluator, native_view: dict) -> None:
    """Cells neither evaluator can compute keep the value Excel stored, and the run says so; an
    encaisse function that cannot be evaluated fails the run (its figures are the product's)."""
    def engine(key) -> bool:
        try:
            return evaluator.calls_engine(evaluator.by_cell[key])
        except CellProblem:
            return False

    refused = [Problem(evaluator.by_cell[key].where, reason) for key, reason in evaluator.kept.items() if engine(key)]
    if refused:
        raise InputError(refused, title=TITLE)
    by_reason: dict[str, list[str]] = {}
    order = {s.name: s.index for s in evaluator.package.sheets}
    for key, reason in sorted(evaluator.kept.items(), key=lambda item: (order.get(item[0][0], 0), item[0][1], item[0][2])):
        result, extent = native_view[key]
        errors = {str(v) for v in result.flat if isinstance(v, ErrorValue)}
        if result.shape == (1, 1) and errors and not errors & (NATIVE_ONLY_ERRORS | {CIRCULAR}):
            # An unknown function or name, a missing sheet: Excel shows the same error.
            del evaluator.kept[key]
            evaluator.adopt(key, result, extent)
            by_reason.setdefault(f"{result[0, 0]} comme dans Excel : {reason}", []).append(evaluator.by_cell[key].where)
            continue
        by_reason.setdefault(f"non recalculée, valeur enregistrée conservée : {reason}", []).append(evaluator.by_cell[key].where)
    for reason, cells in sorted(by_reason.items()):
        evaluator.warnings.append(f"{_listed(cells)} : {shorten(reason, 200)}")


_WHOLE_COLUMNS = re.compile(r"(?<![\w.$])\$?([A-Za-z]{1,3}):\$?([A-Za-z]{1,3})(?![\w(!])")
_WHOLE_ROWS = re.compile(r"(?<![\w.$:])\$?([0-9]{1,7}):\$?([0-9]{1,7})(?![\w(!:])")
# IronCalc reads every cell of a range, the library only the sheet's used area: a formula over
# more whole columns or rows than this goes to the library (A:XFD would be 17 billion cells).
_NATIVE_MAX_CELLS = 1 << 22


def _whole_ranges_too_big(text: str) -> bool:
    from encaisse.workbook.package import column_index_from_string

    if _WHOLE_COLUMNS.search(text) is None and _WHOLE_ROWS.search(text) is None:
        return False  # the raw text first: masking it costs a loop over its characters
    masked = mask_strings(text)
    for m in _WHOLE_COLUMNS.finditer(masked):
        try:
            width = abs(column_index_from_string(m.group(2).upper()) - column_index_from_string(m.group(1).upper())) + 1
        except ValueError:
            continue
        if width * MAX_ROWS > _NATIVE_MAX_CELLS:
            return True
    for m in _WHOLE_ROWS.finditer(masked):
        if (abs(int(m.group(2)) - int(m.group(1))) + 1) * MAX_COLS > _NATIVE_MAX_CELLS:
            return True
    return False


# IronCalc parses by recursion: a formula nested thousands deep overflows its stack (the process
# dies). Excel nests at most 64 functions; deeper formulas go to the library evaluator.
_NATIVE_MAX_NESTING = 64


def _nesting(text: str) -> int:
    depth = deepest = 0
    for char in mask_strings(text):
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest


def _recursive(text: str, package) -> bool:
    """Whether IronCalc could recurse on the formula without end: one that defines a LAMBDA or
    calls a defined name (which may hold one calling itself). Such a formula, when it goes to the
    library, is emptied in IronCalc's model so that IronCalc does not evaluate it either."""
    called = set(called_functions(normalise(text)))
    return "LAMBDA" in called or any(name in package.defined_names for name in called)


def _split(evaluator: Evaluator) -> tuple[list[tuple], set[tuple]]:
    """(cells for IronCalc, cells for the library evaluator)."""
    called = {key: set(called_functions(normalise(cell.text))) for key, cell in evaluator.by_cell.items()}
    try:
        known = known_functions(set().union(*called.values())) if called else frozenset()
    except NativeUnavailable:
        return [], set(evaluator.by_cell)
    native, library = [], set()
    problems = [Problem(cell.where, reason) for cell in evaluator.by_cell.values()
                if (reason := evaluator.check_references(cell)) is not None]
    if problems:
        raise InputError(problems, title=TITLE)
    for key, cell in evaluator.by_cell.items():
        for name in called[key]:
            evaluator.warn_volatile(cell, name)
        try:
            engine = evaluator.calls_engine(cell)
        except CellProblem:
            engine = True  # unreadable: the library evaluator names the problem
        # IronCalc does not lift a function over the cells of an array argument (MATCH(B1:B2, …)
        # spilled), which the library does: spilled formulas calling functions go to the library,
        # but for those IronCalc spills as Excel does (SPILLING_FUNCTIONS: INDEX(range, row, 0)...).
        # A legacy array formula of references and operators alone (=G2:G5+E2:E5 over G9:H12) is
        # broadcast over its range by the library as by Excel, where IronCalc gives #VALUE!.
        lifted = (cell.kind in ("dynamic", "array") and all(map(evaluator.supports, called[key]))
                  and (not called[key] <= SPILLING_FUNCTIONS if called[key] else cell.kind == "array"))
        # A calculated column numpy can evaluate is done at once by the library evaluator
        # (`columns.evaluate`): IronCalc would first have to load every cell of the book.
        fast_column = cell.kind == "column" and not engine and evaluator.column_tree(cell) is not None
        if (fast_column or not called[key] <= known or engine or lifted or _whole_ranges_too_big(cell.text)
                or (cell.text.count("(") > _NATIVE_MAX_NESTING and _nesting(cell.text) > _NATIVE_MAX_NESTING)):
            library.add(key)
        else:
            native.append(key)
    return native, library


def _native_book(path: Path, package, evaluator: Evaluator, native_keys, reader: SheetReader, meanwhile=None):
    """The book loaded in IronCalc, or None when the library alone is cheaper or IronCalc cannot load it.
    `meanwhile` is done while a child tries the loading (see `NativeBook`)."""
    if not native_keys:
        return None
    count = sum(evaluator.stored_extent(evaluator.by_cell[k]).shape[0] if evaluator.by_cell[k].kind == "column" else 1
                for k in native_keys)
    if count * _NATIVE_BYTES_PER_FORMULA < sum(reader.sizes().values()):
        return None
    if any(cell.text.count("(") > _NATIVE_MAX_NESTING and _nesting(cell.text) > _NATIVE_MAX_NESTING
           for cell in evaluator.by_cell.values()):
        return None  # IronCalc parses every formula of the book as it loads it: the deep one would overflow its stack
    try:
        book = NativeBook(path, meanwhile)
    except NativeUnavailable:
        return None
    if not book.has_sheets(s.name for s in package.sheets):
        return None
    plain = (evaluator.by_cell[k] for k in native_keys if evaluator.by_cell[k].kind in ("normal", "column", "dynamic"))
    book.inline_names((c for cell in plain for c in (evaluator.columns[(cell.sheet, cell.row, cell.col)].cells
                                                      if cell.kind == "column" else [cell])), package.defined_names)
    return book


def _read_native(book: NativeBook, evaluator: Evaluator, keys) -> dict:
    """Anchor -> (2-D values in the file's terms, range they fill) as IronCalc computed them."""
    out = {}
    for key in keys:
        cell = evaluator.by_cell[key]
        if cell.kind == "dynamic" and book.watches(cell):
            extent = book.spill(cell.sheet, cell.row, cell.col)
        elif cell.kind == "dynamic":
            extent = Rect(cell.sheet, cell.row, cell.col, cell.row, cell.col)
        elif cell.kind in ("array", "column"):
            extent = evaluator.stored_extent(cell)
        else:
            extent = Rect(cell.sheet, cell.row, cell.col, cell.row, cell.col)
        out[key] = (np.array(book.block(extent), dtype=object).reshape(extent.shape), extent)
    return out


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and all(type(x) is type(y) and x == y for x, y in zip(a.flat, b.flat))


def _chart_caches(path: Path, evaluator: Evaluator, changed: set[str]) -> dict[str, bytes]:
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
