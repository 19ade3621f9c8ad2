"""The evaluator: every formula cell of a workbook evaluated in dependency order.

Encaisse functions (DSO, AGING...) are evaluated by the engine on the cells as read, with one
`EvaluationContext` shared by all their calls; each standard formula is parsed by the
`formulas` library and its functions called over arrays of the ranges it refers to (structured
references translated to A1 first; the text in the file is kept), the parse made once for all
the formulas of a sheet that share an R1C1 form (see `_form`) and walked without building the
library's schedula graph (see `_Walked`; formulas joining ranges, LAMBDA and LET are compiled by
the library as they were); the values computed are laid over the cells as read.

Order of dynamic arrays: a dynamic array's spill size is known only once it is evaluated, so
a formula reading any cell it might fill is ordered after it. When those possible areas make
a cycle that the spill ranges stored in the file do not (the dashboard's top-10 columns spill
down and read the aged balance spilled below them), the cells are ordered by the stored
ranges plus every possible-area edge that closes no cycle, and the order is checked against
the ranges actually spilled (evaluated once more in the corrected order if needed).
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import itertools
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from encaisse.errors import InputError, Problem
from encaisse.recalc import graph
from encaisse.recalc import columns as column_formulas
from encaisse.recalc.columns import find_columns, references as a1_references
from encaisse.recalc.cells import MAX_COLS, MAX_ROWS, TITLE, CellProblem, Rect
from encaisse.recalc.reader import SheetReader
from encaisse.recalc.references import StructuredRefError, sheet_range, translate
from encaisse.recalc.scan import VOLATILE, find_calls, normalise, own_cell
from encaisse.recalc.values import (
    as_2d,
    block,
    empties,
    engine_result,
    fit,
    from_xl,
    from_xl_block,
    laid_over,
    table_frame,
    to_file,
    to_serial,
    xl_block,
)
from encaisse.workbook.package import (FormulaCell, Package, cell_ref, get_column_letter, quote_sheet, range_boundaries,
                                       range_bounds, split_ref)
from encaisse.workbook.splice import CellUpdate, ErrorValue

if TYPE_CHECKING:
    import pandas as pd


def _formulas():
    """Import the formula library on first use (it takes a second to load)."""
    from encaisse.recalc.library import get_functions

    get_functions()  # first, so that the library's own first call finds its table loaded without scipy
    import formulas
    from formulas.functions import not_implemented

    return formulas, get_functions, not_implemented


def _unreadable(text: str, error: Exception) -> CellProblem:
    """A formula the library cannot parse, named in French: the library's own text is English
    and repeats the whole formula."""
    from encaisse.errors import shorten

    detail = str(error.args[0] if error.args else error).split(":")[0].strip().lower()
    reason = {"not a valid formula": "syntaxe non reconnue"}.get(detail, "syntaxe non reconnue par la bibliothèque de formules")
    return CellProblem(f"formule illisible « ={shorten(text)} » : {reason}")


class Evaluator:
    def __init__(self, path: Path, package: Package, cells: list[FormulaCell], *, as_of=None, rules_dir=None,
                 reader: SheetReader | None = None, grouped: tuple | None = None):
        self.path = path
        self.package = package
        # (cells with each calculated column as its anchor, anchor -> column): found by the reading
        # when it has (`reader.formula_cells`), else here
        self.cells, self.columns = grouped if grouped is not None else find_columns(cells)
        self.rules_dir = str(rules_dir) if rules_dir is not None else None
        self.as_of = _parse_as_of(as_of)
        self.warnings: list[str] = []
        self.engine_calls = 0
        self.formulas, get_functions, self.not_implemented = _formulas()
        from formulas.ranges import Ranges

        self._Ranges = Ranges
        self.library = get_functions()
        self.parser = self.formulas.Parser()
        self.parser.ast_builder = _Recorder  # see _Walked: the parse is walked, not built into a graph
        self._compiling_parser = self.formulas.Parser()  # the library's own, for the formulas compiled
        self.engine = _engine_functions()
        # Any text calling an encaisse function holds one of their names before a parenthesis:
        # texts without (nearly all) skip the scan for calls.
        self._engine_names = re.compile("(?:" + "|".join(map(re.escape, sorted(self.engine, key=len, reverse=True)))
                                        + r")\s*\(", re.I) if self.engine else None
        self.by_cell = {(c.sheet, c.row, c.col): c for c in self.cells}
        self.results: dict[tuple[str, int, int], np.ndarray] = {}  # anchor -> 2-D result
        self.extents: dict[tuple[str, int, int], Rect] = {}  # anchor -> range its values occupy
        self._anchors: dict[str, list] = {}  # sheet -> evaluated formula cells (keys of results/extents)
        self._reader = reader
        self._grids: dict[str, np.ndarray] = {}
        self._adopted: list[tuple] = []  # the cells whose native results are laid over the grids
        self._xl_cache: dict[Rect, np.ndarray] = {}
        self._range_parts: dict[Rect, dict] = {}  # range -> the library's parse of its reference
        self._frames: dict[Rect, pd.DataFrame] = {}
        self._compiled: dict[str, object] = {}
        self._tokens_of: dict[str, list] = {}  # formula text -> the library's tokens
        self._builders: dict[str, _Recorder] = {}  # formula text -> what its parse recorded
        self._positions: dict[str, np.ndarray] | None = None  # sheet -> (row, col) of its formula cells
        self._forms: dict[tuple, _Form] = {}  # (sheet, R1C1 form, coinciding references) -> its parse
        self._column_trees: dict[tuple, object] = {}  # calculated column -> its parsed formula (or None)
        self._names: dict[str, Rect | str] = {}
        self._override: dict[tuple[str, int, int], object] = {}
        self._translated: dict[tuple[str, int, int], str] = {}
        self._problems: list[Problem] = []
        self._boxes: dict[str, Rect] = {}  # sheet -> bounding box of its computed cells
        self.engine_dependent: set[tuple[str, int, int]] = set()
        self._refs: dict[tuple, list[Rect]] = {}  # cell -> the ranges its formula refers to
        self._written_cells: dict | None = None
        self._active: list[tuple] = list(self.by_cell)
        self._failed: dict[tuple, str] = {}  # cell -> why it cannot be evaluated
        self._cycles: list[Problem] = []
        self._spilled: dict[str, list[Rect]] | None = None  # sheet -> stored ranges of its array formulas
        # Tolerant: a cell that cannot be evaluated keeps its stored value (`kept`) instead of
        # failing the run; the caller decides what to say of it.
        self.tolerant = False
        self.kept: dict[tuple, str] = {}

    # -- the run ------------------------------------------------------------------------------

    def run(self, only: set[tuple] | None = None) -> None:
        """Evaluate the formula cells (those of `only` when given: the others have been adopted,
        computed by the native evaluator, and are read like values)."""
        self._active = [key for key in self.by_cell if only is None or key in only]
        if self.as_of is not None:
            rect = self.name_rect("DateArrete")
            if not isinstance(rect, Rect):
                raise InputError([Problem(self.path.name, "la cellule nommée DateArrete est absente : --as-of ne peut pas s'appliquer")], title=TITLE)
            self._override[(rect.sheet, rect.r1, rect.c1)] = to_serial(self.as_of)
        deps = self._dependencies()
        if self.tolerant and self._failed:
            failed = set(self._failed)
            for key in failed:
                self._keep(key, self._failed[key])
            self._active = [key for key in self._active if key not in failed]
            deps = {key: edges - failed for key, edges in deps.items() if key not in failed}
            self._problems, self._failed = [], {}
        self._problems += self._cycles
        if self._problems:
            raise InputError(sorted(self._problems), title=TITLE)
        self._check_as_of()
        order = self._order(deps, fallback=any(c.kind == "dynamic" for c in self.cells))
        if order is None:
            # The areas where dynamic arrays may spill make a cycle (a formula reads below or to the
            # right of a dynamic array that depends on it). Order by the ranges they spilled last
            # time, plus every "may read its spill" edge that does not close a cycle; then check
            # that no formula read a range that was spilled after it (else once more, in the order
            # the actual spills give).
            deps = self._edges({key: self._stored_extent(self.by_cell[key]) for key in self._active}, add=deps)
            order = self._order(deps)
            self._evaluate_all(order)
            actual = self._edges(dict(self.extents))
            if graph.misordered(order, actual):
                deps, order = actual, self._order(actual)
                self._reset()
                self._evaluate_all(order)
                if graph.misordered(order, self._edges(dict(self.extents))):
                    first = order[0]
                    raise InputError([Problem(self.by_cell[first].where, "référence circulaire entre des tableaux dynamiques déversés")], title=TITLE)
        else:
            self._evaluate_all(order)
        for key in order:  # cells whose value comes, directly or not, from an encaisse function
            if self._engine_calls(self._translated[key]) or any(d in self.engine_dependent for d in deps[key]):
                self.engine_dependent.add(key)

    def _evaluate_all(self, order: list[tuple]) -> None:
        for key in order:
            cell = self.by_cell[key]
            try:
                self._evaluate_cell(cell)
            except CellProblem as problem:
                if self.tolerant:
                    self._keep(key, str(problem))
                    continue
                self._problems.append(Problem(problem.where or cell.where, str(problem)))
        if self._problems:
            raise InputError(sorted(self._problems, key=self._position), title=TITLE)

    def _reset(self) -> None:
        for key in self._active:
            self.results.pop(key, None)
            self.extents.pop(key, None)
        self._anchors.clear()
        self._boxes.clear()
        self.engine_calls = 0

    def _keep(self, key: tuple, reason: str) -> None:
        """A cell no evaluator can compute: the value stored in the file stays (it is not written)."""
        extent = self._stored_extent(self.by_cell[key])
        self.results[key] = self.xl_values(extent)
        self.extents[key] = extent
        self.kept[key] = reason

    def adopt(self, key: tuple, result: np.ndarray, extent: Rect) -> None:
        """A cell's values computed by the native evaluator (2-D, in the file's terms: float, bool,
        str, ErrorValue, '' for blank): kept for the output and laid over the sheet as read, so
        that the formulas evaluated here read them like any value."""
        self.results[key] = result
        self.extents[key] = extent
        self._written_cells = None
        self._adopted.append(key)
        self._lay(self.grid(extent.sheet, ()), result, extent)
        self._xl_cache.clear()
        for rect in [r for r in self._frames if r.intersects(extent)]:
            del self._frames[rect]

    def _lay(self, grid: np.ndarray, result: np.ndarray, extent: Rect) -> None:
        """A native result written over the sheet's grid (made bigger when it spills beyond)."""
        self._grids[extent.sheet] = laid_over(grid, result, extent.r1 - 1, extent.c1 - 1)

    def references(self, key: tuple) -> list[Rect]:
        """The ranges the formula of an evaluated cell reads."""
        return self._refs.get(key, [])

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
        for key in self._active:
            cell = self.by_cell[key]
            try:
                tokens, placed, coordinates = self._parsed(cell)
            except CellProblem as problem:
                self._problems.append(Problem(cell.where, str(problem)))
                self._failed.setdefault(key, str(problem))
                continue
            rects = []
            for n, token in enumerate(tokens):
                kind = type(token).__name__
                if kind == "Function":
                    name = token.name.upper()
                    self.warn_volatile(cell, name)
                    if not self._supported(name):
                        unsupported.setdefault(name, set()).add(cell.where)
                        self._failed.setdefault(key, f"fonction {name} non prise en charge")
                elif kind == "Range":
                    try:
                        if placed is not None and placed[n] is not None:
                            index, sheet = placed[n]
                            rect = Rect(sheet, *coordinates[index])
                        else:
                            rect = self._token_rect(token, cell)
                    except CellProblem as problem:
                        self._problems.append(Problem(cell.where, str(problem)))
                        self._failed.setdefault(key, str(problem))
                        continue
                    if rect is not None:
                        rects.append(rect)
            self._refs[key] = rects
            if any(r.intersects(self._stored_extent(cell)) for r in rects):
                self._cycles.append(Problem(cell.where, f"référence circulaire : {cell.where} → {cell.where}"))
        for name, where in sorted(unsupported.items()):
            cells = ", ".join(sorted(where))
            self._problems.append(Problem(cells, f"fonction {name} non prise en charge (ni par la bibliothèque de formules, ni par encaisse)"))
        return self._edges({key: self._dependency_extent(self.by_cell[key]) for key in self._active})

    def _parsed(self, cell: FormulaCell) -> tuple[list, list | None, list]:
        """(tokens, where each range token sits in the R1C1 form or None, the form's coordinates) of a
        cell's formula: its form's tokens placed when it has one, else its own text's (cached either way)."""
        text = self._translate(cell)
        form, coordinates = self._form(text, cell)
        tokens, placed = self._form_tokens(form, cell)
        if placed is None:
            tokens = self._tokens(text)
        return tokens, placed, coordinates

    def parse_ahead(self, keys) -> set[str]:
        """The formulas of `keys` parsed now, ahead of their run (kept as `_dependencies` keeps
        them; a formula the library cannot read is left for the run to name): lets the caller
        parse while IronCalc works in a child. Returns the functions they call."""
        called = set()
        for key in keys:
            cell = self.by_cell[key]
            try:
                tokens, _, _ = self._parsed(cell)
            except CellProblem:
                continue
            called.update(t.name.upper() for t in tokens if type(t).__name__ == "Function")
        return called

    def load_scipy(self, called) -> None:
        """scipy.stats, scipy.linalg and scipy.interpolate imported now if one of the library's
        functions in `called` reads them (else they are imported by its first call): about a
        second, spent while IronCalc works in a child rather than during the run."""
        known = {}
        if any(name in self.library and _reads_scipy(self.library[name], known) for name in called):
            try:
                _import_scipy()
            except ImportError:
                pass  # a broken scipy fails the functions that read it, as it would without this

    def warn_volatile(self, cell: FormulaCell, name: str) -> None:
        if name in VOLATILE and not any(cell.where in w for w in self.warnings):
            advice = "utilisez la date d'arrêté (DateArrete)" if name in ("TODAY", "NOW") else "chaque recalcul tire d'autres valeurs"
            self.warnings.append(f"{cell.where} : {name}() rend le résultat non reproductible ; {advice}")

    def calls_engine(self, cell: FormulaCell) -> bool:
        """Whether the formula calls an encaisse function (evaluated by the engine)."""
        if self._engine_names is None or self._engine_names.search(cell.text) is None:
            return False
        return bool(find_calls(normalise(cell.text), self.engine))

    def _engine_calls(self, text: str) -> list:
        """find_calls of the encaisse functions, skipped for a text that names none."""
        if self._engine_names is None or self._engine_names.search(text) is None:
            return []
        return find_calls(text, self.engine)

    def check_references(self, cell: FormulaCell) -> str | None:
        """Why the structured references of a formula cannot be read (unknown table or column), or None."""
        if "[" not in cell.text:
            return None
        try:
            self._translate(cell)
        except CellProblem as problem:
            return str(problem)
        return None

    def stored_extent(self, cell: FormulaCell) -> Rect:
        return self._stored_extent(cell)

    def _edges(self, extents: dict[tuple, Rect], add: dict[tuple, set] | None = None) -> dict[tuple, set]:
        return graph.edges(self._refs, extents, add)

    def _order(self, deps: dict[tuple, set], fallback: bool = False) -> list[tuple] | None:
        """The evaluation order; None when there is a cycle and `fallback` (dynamic arrays may spill)."""
        # Among the cells whose inputs are computed, first those that read only small sheets: the
        # reading threads finish those first, so the main thread evaluates them while the big
        # sheets are still being read instead of waiting for the first cell that needs one.
        sizes = self._reader.sizes() if self._reader is not None else {}
        sheet_index = {s.name: s.index for s in self.package.sheets}

        def priority(key: tuple) -> tuple:
            sheets = {r.sheet for r in self._refs.get(key, ())} | {key[0]}
            return (max(sizes.get(s, 0) for s in sheets), sheet_index.get(key[0], 0), key[1], key[2])

        try:
            return graph.order(deps, priority, position=lambda k: (sheet_index.get(k[0], 0), k[1], k[2]))
        except graph.Cycle as cycle:
            if fallback:
                return None
            path = " → ".join(self.by_cell[k].where for k in cycle.cells)
            raise InputError([Problem(self.by_cell[cycle.cells[0]].where, f"référence circulaire : {path}")], title=TITLE) from None

    def _stored_extent(self, cell: FormulaCell) -> Rect:
        if cell.array_ref:
            c1, r1, c2, r2 = range_bounds(cell.array_ref) or range_boundaries(cell.array_ref)
            return Rect(cell.sheet, r1, c1, r2, c2)
        return Rect(cell.sheet, cell.row, cell.col, cell.row, cell.col)

    def _dependency_extent(self, cell: FormulaCell) -> Rect:
        # A dynamic array's spill size is known only once evaluated: it may fill the free cells
        # below and to the right of its anchor, up to the next cell holding something (where
        # Excel would stop with #SPILL!); references into that area are ordered after it.
        if cell.kind != "dynamic":
            return self._stored_extent(cell)
        grid = self.grid(cell.sheet)
        if self._spilled is None:
            self._spilled = {}
            for c in self.cells:
                if c.kind in ("dynamic", "array"):
                    self._spilled.setdefault(c.sheet, []).append(self._stored_extent(c))
        spilled = self._spilled.get(cell.sheet, [])

        last_spill: list[Rect] = []  # the walk goes cell by cell: the spill holding the last one most likely holds the next

        def occupied(row: int, col: int) -> bool:
            if (cell.sheet, row, col) in self.by_cell:
                return True
            if row > grid.shape[0] or col > grid.shape[1] or grid[row - 1, col - 1] in ("", None):
                return False
            # an old spilled value is no obstacle
            if last_spill and last_spill[0].contains(row, col):
                return False
            found = next((r for r in spilled if r.contains(row, col)), None)
            if found is None:
                return True
            last_spill[:] = [found]
            return False

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

    def supports(self, name: str) -> bool:
        """Whether the library evaluator can compute this function (the library's or the engine's)."""
        return self._supported(name)

    def _supported(self, name: str) -> bool:
        if name in self.engine:
            return True
        return name in self.library and self.library[name] is not self.not_implemented

    # -- formula text ---------------------------------------------------------------------------

    def _translate(self, cell: FormulaCell) -> str:
        key = (cell.sheet, cell.row, cell.col)
        if key not in self._translated:
            text = normalise(cell.text)
            if cell.kind != "column":
                text = own_cell(text, cell.row, cell.col)
            try:
                last_row = self._stored_extent(cell).r2 if cell.kind == "column" else None
                home = None
                if "[" in text:
                    home = next((t for t in self.package.tables.values() if t.sheet == cell.sheet
                                 and t.bounds[0] <= cell.col <= t.bounds[2] and t.bounds[1] <= cell.row <= t.bounds[3]), None)
                text, _ = translate(text, self.package.tables, row=cell.row, last_row=last_row, home=home)
            except StructuredRefError as error:
                raise CellProblem(str(error)) from None
            self._translated[key] = text
        return self._translated[key]

    def _tokens(self, text: str):
        """The library's tokens of a text. The text is parsed once: its tokens are kept (the
        dependencies read them on every pass), and what the parse recorded (see `_Recorder`)."""
        tokens = self._tokens_of.get(text)
        if tokens is None:
            tokens, self._builders[text] = self._parse(text)
            self._tokens_of[text] = tokens
        return tokens

    def _parse(self, text: str):
        # LAMBDA and LET are parsed by the library into graphs of their own: with its own builder
        parser = self._compiling_parser if _DEFINES_FUNCTIONS.search(text) else self.parser
        try:
            return parser.ast("=" + text)
        except Exception as error:  # the library raises its own FormulaError family
            raise _unreadable(text, error) from None

    def _compile(self, text: str):
        fn = self._compiled.get(text)
        if fn is None:
            try:
                builder = self._compiling_parser.ast("=" + text)[1]
            except Exception as error:  # the library raises its own FormulaError family
                raise _unreadable(text, error) from None
            try:
                fn = builder.compile()
            except Exception as error:
                raise _unreadable(text, error) from None
            self._compiled[text] = fn
        return fn

    # Formulas that differ only by where they stand (the same R1C1 form on one sheet: a formula
    # filled right or down) are parsed and compiled once, on the text of the first one met; each
    # reference the library found in that text is matched to the A1 reference at the same place,
    # and for another cell read where that cell's own reference at that place points.

    def _form(self, text: str, cell: FormulaCell) -> tuple[_Form, list[tuple[int, int, int, int]]]:
        """The form of a cell's formula text, and the (r1, c1, r2, c2) of each of its A1 references."""
        form_text, found = a1_references(text, cell.row, cell.col)
        coordinates = [c for _, c in found]
        # Which references coincide is part of the form: the library reads a place named twice once.
        key = (cell.sheet, form_text, tuple(coordinates.index(c) for c in coordinates))
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = _Form(text, found)
        return form, coordinates

    def _form_tokens(self, form: _Form, cell: FormulaCell):
        """(the library's tokens of the form's text, where each Range token stands among the form's
        references: None for the others; None for all when one of the references is not found)."""
        if form.tokens is None:
            try:
                form.tokens = self._tokens(form.text)
            except CellProblem:
                form.tokens = []
                form.token_places = None
                return form.tokens, None
            items = []
            for token in form.tokens:
                attr = token.attr
                moves = type(token).__name__ == "Range" and not attr.get("is_reference")
                items.append(self._reference_read(attr, cell.sheet) if moves else None)
            form.token_places = form.places(items)
        return form.tokens, form.token_places

    def _reference_read(self, attr: dict, sheet: str) -> tuple[str, Rect] | None:
        """(reference text upper-cased, Rect) of a range the library read, None when it names no cell."""
        try:
            return str(attr.get("ref", "")).upper(), self._rect_from(attr.get("sheet"), attr, sheet)
        except CellProblem:
            return None

    def _form_function(self, form: _Form, cell: FormulaCell):
        """(the form's compiled function, where each of its inputs stands among the form's
        references: None for a name; None for all when one of the references is not found)."""
        if form.function is None:
            try:
                form.function = self._walked(form) or self._compile(form.text)
            except CellProblem:
                form.function = False
                return None, None
            items = []
            for ranges in form.function.inputs.values():
                if ranges is None or not getattr(ranges, "ranges", None):
                    items.append(None)
                    continue
                attr = ranges.ranges[0]
                if attr.get("sheet") is None and attr.get("sheet_id") not in (None, ""):
                    attr = dict(attr, sheet=attr["sheet_id"].strip("'").replace("''", "'"))
                items.append(self._reference_read(attr, cell.sheet))
            form.input_places = form.places(items)
        if form.function is False:
            return None, None
        return form.function, form.input_places

    def _walked(self, form: _Form) -> _Walked | None:
        """The form's parse, evaluated as it is (see `_Walked`), when its ranges are plain
        references and its graph holds nothing else than what the parser writes; else None (it is
        compiled)."""
        tokens = self._tokens(form.text)
        if any(token.attr.get("is_ranges") for token in tokens):
            return None  # ranges joined or intersected: compiling reads them as one
        return _Walked.walk(self._builders.get(form.text) or self._parse(form.text)[1], self._Ranges)

    # -- references -----------------------------------------------------------------------------

    def _token_rect(self, token, cell: FormulaCell) -> Rect | None:
        attr = token.attr
        if attr.get("is_reference"):
            found = self.name_rect(attr.get("ref") or token.name)
            if found is None:
                if token.name.upper().startswith("ENCAISSEVAL"):
                    return None
                raise CellProblem(f"nom « {attr.get('ref') or token.name} » inconnu")
            return found if isinstance(found, Rect) else None
        return self._rect_from(attr.get("sheet"), attr, cell.sheet)

    def _rect_from(self, sheet_name, attr: dict, default_sheet: str) -> Rect:
        sheet = default_sheet
        if sheet_name:
            found = self.package.sheet(sheet_name)
            if found is None:
                raise CellProblem(f"feuille « {sheet_name} » absente du classeur")
            sheet = found.name
        # sorted: Excel reads H6:D4 as D4:H6
        r1, r2 = sorted((int(attr.get("r1") or 1), int(attr.get("r2") or MAX_ROWS)))
        c1, c2 = sorted((int(attr.get("n1") or 1), int(attr.get("n2") or MAX_COLS)))
        if c2 == MAX_COLS - 1:  # scan.normalise wrote the sheet's last column as the one before (A:XFD -> A:XFC)
            c2 = MAX_COLS
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

    def grid(self, sheet: str, columns: tuple[int, int] | tuple[()] | None = None) -> np.ndarray:
        """The sheet's cells as read, from A1. `columns` (first, last): only those are about to be
        read; (): none, values are written; None: any may be, or its shape is needed. A big sheet
        may have been read only in the columns its formulas were guessed to read
        (`SheetReader.columns`): it is then read whole as soon as another column, or its shape, is
        asked for, and the native results already laid over it are laid again."""
        if sheet not in self._grids:
            if self._reader is None:
                self._reader = SheetReader(self.path, self.package)
            self._grids[sheet], frames = self._reader.grid(sheet)
            for rect, frame in frames.items():
                self._frames.setdefault(rect, frame)
        cut = self._reader.columns(sheet) if self._reader is not None else None
        if cut is not None and columns != () and (columns is None or not all(c in cut for c in range(columns[0], columns[1] + 1))):
            self._grids[sheet], frames = self._reader.whole_grid(sheet)
            for rect, frame in frames.items():
                self._frames.setdefault(rect, frame)
            for key in self._adopted:
                extent = self.extents.get(key)
                if extent is not None and extent.sheet == sheet and key in self.results:
                    self._lay(self._grids[sheet], self.results[key], extent)
        return self._grids[sheet]

    def raw_values(self, rect: Rect) -> np.ndarray:
        """The cells of `rect` as read (dates as date objects, blanks as ''), computed values overlaid."""
        part = block(self.grid(rect.sheet, (rect.c1, rect.c2)), rect)
        for i, j, computed in self._overlay(rect):
            part[i:i + computed.shape[0], j:j + computed.shape[1]] = from_xl_block(computed)
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
                yield r1 - rect.r1, c1 - rect.c1, self.results[key][r1 - extent.r1:r2 - extent.r1 + 1, c1 - extent.c1:c2 - extent.c1 + 1]
        for (sheet, row, col), value in self._override.items():
            if sheet == rect.sheet and rect.contains(row, col):
                yield row - rect.r1, col - rect.c1, np.array([[value]], dtype=object)

    def xl_values(self, rect: Rect) -> np.ndarray:
        """The cells of `rect` for the formula library: serial dates, EMPTY blanks."""
        rect = self._clip(rect)
        cached = self._xl_cache.get(rect)
        if cached is None:
            part = self.grid(rect.sheet, (rect.c1, rect.c2))[rect.r1 - 1:rect.r2, rect.c1 - 1:rect.c2]
            cached = self._xl_cache[rect] = xl_block(part, rect.shape)
        overlay = list(self._overlay(rect))
        if not overlay:
            return cached
        out = cached.copy()
        for i, j, computed in overlay:
            out[i:i + computed.shape[0], j:j + computed.shape[1]] = computed
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
        key = (cell.sheet, cell.row, cell.col)
        if cell.kind == "column":
            result, extent = self._evaluate_column(cell), self._stored_extent(cell)
        else:
            result = as_2d(self.evaluate(self._translate(cell), cell))
        if result.ndim != 2:  # the library nests arrays in some results (MODE.MULT of a 2-D range)
            raise CellProblem(f"résultat de forme inattendue ({result.ndim} dimensions) pour « ={self._translate(cell)} »")
        if cell.kind == "dynamic":
            h, w = result.shape
            extent = Rect(cell.sheet, cell.row, cell.col, min(cell.row + h - 1, MAX_ROWS), min(cell.col + w - 1, MAX_COLS))
            if self._formulas_within(extent) > 1:  # another formula than its own stands in the way
                result = np.array([[ErrorValue("#SPILL!")]], dtype=object)
                extent = Rect(cell.sheet, cell.row, cell.col, cell.row, cell.col)
        elif cell.kind == "array":
            extent = self._stored_extent(cell)
            result = fit(result, extent.r2 - extent.r1 + 1, extent.c2 - extent.c1 + 1)
        elif cell.kind != "column":
            result = result[:1, :1]
            extent = Rect(cell.sheet, cell.row, cell.col, cell.row, cell.col)
        self.results[key] = result
        self.extents[key] = extent
        box = self._boxes.get(cell.sheet, extent)
        self._boxes[cell.sheet] = Rect(cell.sheet, min(box.r1, extent.r1), min(box.c1, extent.c1),
                                       max(box.r2, extent.r2), max(box.c2, extent.c2))
        self._anchors.setdefault(cell.sheet, []).append(key)

    def _formulas_within(self, rect: Rect) -> int:
        """How many formula cells (anchors) stand in `rect`."""
        if self._positions is None:
            by_sheet: dict[str, list] = {}
            for sheet, row, col in self.by_cell:
                by_sheet.setdefault(sheet, []).append((row, col))
            self._positions = {sheet: np.array(cells, dtype=np.int64).reshape(-1, 2) for sheet, cells in by_sheet.items()}
        cells = self._positions.get(rect.sheet)
        if cells is None:
            return 0
        rows, cols = cells[:, 0], cells[:, 1]
        return int(np.count_nonzero((rows >= rect.r1) & (rows <= rect.r2) & (cols >= rect.c1) & (cols <= rect.c2)))

    def _evaluate_column(self, anchor: FormulaCell) -> np.ndarray:
        """A calculated column as one array operation; cell by cell when the library does not give
        one value per row (or fails: the message then names the cell)."""
        column = self.columns[(anchor.sheet, anchor.row, anchor.col)]
        tree = self.column_tree(anchor)
        if tree is not None:
            try:
                return column_formulas.evaluate(tree, anchor.row, column.size, functools.partial(self._column_cells, anchor.sheet),
                                                self._column_name)
            except column_formulas.Unsupported:
                pass
        try:
            result = as_2d(self.evaluate(self._translate(anchor), anchor))
        except CellProblem:
            result = None
        if result is not None and result.shape == (column.size, 1):
            return result
        cells = column.cells
        out = np.empty((len(cells), 1), dtype=object)
        for i, cell in enumerate(cells):
            try:
                text, _ = translate(normalise(cell.text), self.package.tables, row=cell.row)
            except StructuredRefError as error:
                raise CellProblem(str(error), where=cell.where) from None
            try:
                out[i, 0] = as_2d(self.evaluate(text, cell))[0, 0]
            except CellProblem as problem:
                raise CellProblem(str(problem), where=problem.where or cell.where) from None
        return out

    def column_tree(self, anchor: FormulaCell):
        """The parsed formula of a calculated column (its anchor's, spread) when `columns.evaluate` can do it
        with numpy, else None (the library evaluates the column)."""
        key = (anchor.sheet, anchor.row, anchor.col)
        if key not in self._column_trees:
            try:
                self._column_trees[key] = column_formulas.parse(self._translate(anchor))
            except (CellProblem, column_formulas.Unsupported):
                self._column_trees[key] = None
        return self._column_trees[key]

    def _column_cells(self, own_sheet: str, sheet_name: str | None, ref: str, rows: int) -> np.ndarray:
        sheet = self.package.sheet(sheet_name or own_sheet)
        if sheet is None:
            raise column_formulas.Unsupported(sheet_name)  # the library names the missing sheet
        r1, c1 = split_ref(ref)
        rect = Rect(sheet.name, r1, c1, r1 + rows - 1, c1)
        if rect.r2 > MAX_ROWS:
            raise column_formulas.Unsupported(ref)
        return self.xl_values(rect)[:, 0]

    def _column_name(self, name: str) -> np.ndarray:
        rect = self.name_rect(name)
        if not isinstance(rect, Rect) or rect.shape != (1, 1):
            raise column_formulas.Unsupported(name)
        return self.xl_values(rect)[:, 0]

    def evaluate(self, text: str, cell: FormulaCell):
        """Evaluate a formula text (A1 references only): encaisse calls by the engine, the rest by `formulas`."""
        calls = self._engine_calls(text)
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
        placed = None
        if not placeholders:
            form, coordinates = self._form(text, cell)
            fn, placed = self._form_function(form, cell)
        if placed is None:
            fn = self._compile(text)
        inputs = []
        for n, (name, ranges) in enumerate(fn.inputs.items()):
            if name in placeholders:
                inputs.append(as_2d(placeholders[name]))
            elif placed is not None and placed[n] is not None:
                index, sheet = placed[n]
                inputs.append(self._ranges(Rect(sheet, *coordinates[index])))
            else:
                inputs.append(self._input(name, ranges, cell))
        try:
            return self._dereference(fn(*inputs))
        except Exception as error:
            raise CellProblem(f"évaluation impossible de « ={text} » : {error}") from None

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
                        out[index] = inner.flat[0] if inner.size else empties((1, 1))[0, 0]
                return out
        return value

    def _input(self, name: str, ranges, cell: FormulaCell):
        if ranges is None:  # a defined name
            found = self.name_rect(name) or sheet_range(name, self.package)
            if found is None:
                raise CellProblem(f"nom « {name} » inconnu")
            if isinstance(found, Rect):
                return self._ranges(found)
            try:  # a name may hold structured references (=SUBTOTAL(109,Ventes[Montant]))
                text, _ = translate(normalise(found.lstrip("=")), self.package.tables, row=cell.row)
            except StructuredRefError as error:
                raise CellProblem(str(error)) from None
            return as_2d(self.evaluate(text, cell))
        attr = ranges.ranges[0]
        if attr.get("sheet") is None and attr.get("sheet_id") not in (None, ""):
            attr = dict(attr, sheet=attr["sheet_id"].strip("'").replace("''", "'"))
        rect = self._rect_from(attr.get("sheet"), attr, cell.sheet)
        return self._ranges(rect)

    def _ranges(self, rect: Rect):
        # Functions such as ROWS/COLUMNS/OFFSET need the range itself, not only its values.
        rect = self._clip(rect)
        values = self.xl_values(rect)
        parts = self._range_parts.get(rect)
        if parts is None:  # the library parses the reference text with a regex: once per range
            ref = f"{quote_sheet(rect.sheet)}!{cell_ref(rect.r1, rect.c1)}:{cell_ref(rect.r2, rect.c2)}"
            parts = self._range_parts[rect] = self._Ranges.get_range(ref)
        return self._Ranges().set_value(dict(parts), values)  # a copy: the library keeps it in its result

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
        if self._reader is not None and _parameter_position(function, "context") is not None:
            kwargs["context"] = self._reader.context  # the calls share the tables converted and the payments allocated
        self.engine_calls += 1
        try:
            result = function(*values, **kwargs)
        except Exception as error:  # the engine reports bad input as exceptions with French messages
            raise CellProblem(f"{name} : {error}") from None
        return engine_result(name, result)

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
        value = as_2d(self.evaluate(arg, cell))
        if value.shape == (1, 1):
            return from_xl(value[0, 0], None)
        return [[from_xl(v, None) for v in row] for row in value]

    def _reference(self, arg: str, cell: FormulaCell) -> Rect | None:
        """The range when the argument is nothing but a reference (A1 range or defined name)."""
        if find_calls(arg, self.engine):
            return None
        try:
            tokens = self._tokens(arg)
        except CellProblem:
            return None
        if len(tokens) != 1 or type(tokens[0]).__name__ != "Range":
            return None
        rect = self._token_rect(tokens[0], cell)
        return rect if isinstance(rect, Rect) else None

    def _frame(self, rect: Rect) -> pd.DataFrame:
        """A range with its header row, as the engine functions take it (columns = headers)."""
        self.grid(rect.sheet, (rect.c1, rect.c2))  # brings the frames converted while the sheet was read
        frame = self._frames.get(rect)
        if frame is None or any(True for _ in self._overlay(rect)):
            frame = self._frames[rect] = table_frame(self.raw_values(rect))
        return frame

    # -- output ---------------------------------------------------------------------------------

    def updates(self) -> dict[str, dict[tuple[int, int], CellUpdate]]:
        """Sheet -> (row, col) -> its new value, but for the calculated columns read as lists
        (`column_values`)."""
        out: dict[str, dict[tuple[int, int], CellUpdate]] = {}
        written = self._written()
        for key, cell in self.by_cell.items():
            if key in self.kept:
                continue
            sheet_updates = out.setdefault(cell.sheet, {})
            result, extent = self.results[key], self.extents[key]
            if cell.kind == "column":  # every cell of a calculated column keeps its own formula
                if self.columns[key].positions is not None:
                    continue
                for i, value in enumerate(written[key]):
                    sheet_updates[(cell.row + i, cell.col)] = CellUpdate(value, True)
                continue
            if cell.kind in ("dynamic", "array"):
                old = self._stored_extent(cell)
                for row in range(old.r1, old.r2 + 1):  # spill cells that are no longer part of the result
                    for col in range(old.c1, old.c2 + 1):
                        if not extent.contains(row, col):
                            sheet_updates.setdefault((row, col), CellUpdate(None, False))
            # row by row, as written: a spilled aged balance has tens of thousands of cells
            places = itertools.product(range(cell.row, cell.row + result.shape[0]), range(cell.col, cell.col + result.shape[1]))
            sheet_updates.update(zip(places, map(CellUpdate, written[key], itertools.repeat(False))))
            array_ref = None
            if cell.kind == "dynamic":
                array_ref = f"{cell_ref(extent.r1, extent.c1)}:{cell_ref(extent.r2, extent.c2)}" if (extent.r1, extent.c1) != (extent.r2, extent.c2) else cell.ref
            sheet_updates[(cell.row, cell.col)] = CellUpdate(written[key][0], True, array_ref)
        return out

    def column_values(self) -> dict[str, list[tuple[np.ndarray, list]]]:
        """Sheet -> (ranks among the sheet's plain formula cells, values as stored) of each calculated
        column read as lists: spliced where the reading found them (`splice.patch_sheet`)."""
        out: dict[str, list[tuple[np.ndarray, list]]] = {}
        written = self._written()
        for key, column in self.columns.items():
            if column.positions is not None and key not in self.kept and key in written:
                out.setdefault(key[0], []).append((column.positions, written[key]))
        return out

    def engine_cell_names(self) -> frozenset:
        written = self._written()
        return frozenset(name for key in self.engine_dependent if key in written
                         for name in _cell_names(key, self.results[key].shape))

    def written_values(self) -> dict[str, object]:
        """'Sheet!A1' -> the value written, for every cell written."""
        return self.written_values_later()()

    def written_values_later(self):
        """`written_values`, to be built when called (holding the values written, not the evaluator)."""
        written = self._written()
        shapes = {key: self.results[key].shape for key in written}

        def build() -> dict[str, object]:
            values = {}
            for key, file_values in written.items():
                values.update(zip(_cell_names(key, shapes[key]), file_values))
            return values

        return build

    def _written(self) -> dict[tuple, list]:
        """Anchor -> the values as stored of the cells its result fills, row by row."""
        if self._written_cells is None:
            self._written_cells = {key: _file_values(result) for key, result in self.results.items() if key not in self.kept}
        return self._written_cells


def _cell_names(key: tuple, shape: tuple[int, int]) -> list[str]:
    """'Sheet!A1' of the cells a result of `shape` anchored at `key` fills, row by row."""
    sheet, row, col = key
    prefix = f"{quote_sheet(sheet)}!"
    if shape[1] == 1:  # a calculated column: thousands of rows
        return list(map((prefix + get_column_letter(col)).__add__, map(str, range(row, row + shape[0]))))
    letters = [get_column_letter(col + j) for j in range(shape[1])]
    return [f"{prefix}{letter}{row + i}" for i in range(shape[0]) for letter in letters]


def _file_values(result: np.ndarray) -> list:
    """`to_file` of each value of a result, row by row; a result of numbers and texts alone (a
    calculated column's, nearly always) as it is, `to_file` leaving those unchanged."""
    values = result.ravel().tolist()
    if set(map(type, values)) <= {float, str}:
        return values
    return list(map(to_file, values))


_SCIPY_NAMES = frozenset({"stats", "linalg", "interp1d"})  # what the library's statistics module imports from scipy


class _PlainDoc:
    """Stands for scipy's FunctionDoc while scipy.stats is imported: scipy parses the docstring of
    each of its ~500 array-API functions to add a note on the backends it supports (0.5 s, a
    third of the import); the docstring is left as it is instead. Supports what that decorator
    does with it (a section appended to, the text read back after a signature line)."""

    def __init__(self, function, *args, **kwargs):
        self._text = getattr(function, "__doc__", None) or ""

    def __getitem__(self, section):
        return []

    def __str__(self):
        return "\n" + self._text


def _import_scipy() -> None:
    """scipy.stats, scipy.linalg and scipy.interpolate imported, without the docstring notes of
    the array-API decorator (see `_PlainDoc`) where this scipy has it as expected (its other
    versions are imported as they are)."""
    import importlib

    patched = None
    try:
        from scipy._lib import _array_api
    except ImportError:
        _array_api = None
    if isinstance(getattr(_array_api, "FunctionDoc", None), type):
        patched, _array_api.FunctionDoc = _array_api.FunctionDoc, _PlainDoc
    try:
        for module in ("scipy.stats", "scipy.linalg", "scipy.interpolate"):
            importlib.import_module(module)
    finally:
        if patched is not None:
            _array_api.FunctionDoc = patched


def _reads_scipy(function, known=None) -> bool:
    """Whether a function of the library reads scipy.stats, scipy.linalg or interp1d, itself or
    through the functions it is made of (partials, wrappers, the module's functions it calls).
    `known`: id -> answer, shared by the calls of one question (a function met again while its
    own answer is pending counts as not reading scipy: its other parts decide)."""
    known = {} if known is None else known
    if id(function) in known:
        return known[id(function)]
    known[id(function)] = False
    if isinstance(function, functools.partial):
        parts = [function.func, *function.args, *function.keywords.values()]
    else:
        parts = [getattr(function, "__wrapped__", None)]
        code = getattr(function, "__code__", None)
        if code is not None and getattr(function, "__module__", "").startswith("formulas"):
            if set(code.co_names) & _SCIPY_NAMES and function.__globals__.get("stats") is not None:
                known[id(function)] = True
                return True
            parts += [function.__globals__.get(n) for n in code.co_names]
            parts += [c.cell_contents for c in function.__closure__ or ()]
    answer = any(callable(p) and _reads_scipy(p, known) for p in parts if p is not None)
    known[id(function)] = answer
    return answer


class _Form:
    """The formulas of one sheet sharing an R1C1 form, known by the text of the first one met."""

    def __init__(self, text: str, found: list[tuple[str, tuple[int, int, int, int]]]):
        self.text = text
        self.found = found  # its A1 references: (text without $, upper-cased; (r1, c1, r2, c2))
        self.tokens = None
        self.token_places = None
        self.function = None  # compiled; False when the text cannot be
        self.input_places = None

    def places(self, items: list) -> list | None:
        """For each (reference text, Rect) the library read in the text (None for a name): the
        (index among `found`, sheet) of the A1 reference it is, or None when it does not move
        with the cell (a whole column, a name). None when an A1 reference of the text is not one
        the library read: the text's references are then not known well enough to be moved."""
        out, matched = [], set()
        for item in items:
            place = None
            if item is not None:
                ref, rect = item
                where = (rect.r1, rect.c1, rect.r2, rect.c2)
                for index, found in enumerate(self.found):
                    if found == (ref, where):
                        place = (index, rect.sheet)
                        matched.add(found)
                        break
            out.append(place)
        return out if matched >= set(self.found) else None


_DEFINES_FUNCTIONS = re.compile(r"(?<![\w.])(?:_xlfn\.)?(?:LAMBDA|LET)\s*\(", re.I)


class _Recorder:
    """The builder the library's parser is given (in place of its `AstBuilder`): it records each
    function the formula calls, with the nodes it reads and the node it writes, in the order the
    parser meets them (each after those it reads), instead of adding them to a schedula graph
    (a third of a parse's time). The tokens, their attributes and the functions are the library's
    own; what `AstBuilder.append`, `get_node_id` and `finish` decide is decided the same way."""

    Operator = Function = Operand = FormulaError = NONE = EMPTY = None  # the library's classes, set on first use

    def __init__(self, match=None):
        if _Recorder.Operand is None:
            from formulas.errors import FormulaError
            from formulas.tokens.function import Function
            from formulas.tokens.operand import Operand
            from formulas.tokens.operator import Operator
            from schedula import EMPTY, NONE

            _Recorder.Operator, _Recorder.Function, _Recorder.Operand = Operator, Function, Operand
            _Recorder.FormulaError, _Recorder.NONE, _Recorder.EMPTY = FormulaError, NONE, EMPTY
        self.match = match
        self._stack: list = []
        self.nodes: dict = {}  # token -> its node
        self.missing_operands: set = set()
        self.data: dict = {}  # node -> True, in the order met
        self.defaults: dict = {}  # node -> its constant value
        self.computed: set = set()  # nodes a step writes
        self.steps: list[tuple] = []  # (function, nodes it reads, node it writes)
        self.unusual = False  # a function given with more than the library's usual keys

    def __len__(self):
        return len(self._stack)

    def __getitem__(self, index):
        return self._stack[index]

    def pop(self):
        return self._stack.pop()

    def append(self, token):
        if isinstance(token, (self.Operator, self.Function)):
            try:
                tokens = [self.pop() for _ in range(token.get_n_args)][::-1]
            except IndexError:
                raise self.FormulaError() from None
            token.update_input_tokens(*tokens)
            inputs = [self.get_node_id(t) for t in tokens]
            token.set_expr(*tokens)
            out = token.node_id
            if out not in self.data:  # else the same expression met again: its node is read
                function = token.compile()
                if isinstance(function, dict):
                    extra = function.get("extra_inputs", {})
                    for name, value in extra.items():
                        self.data[name] = True
                        if value is not self.NONE:
                            self.defaults[name] = value
                    inputs = list(extra) + inputs
                    # solve_cycle: read only when the library solves a circular book, which this never does
                    self.unusual = self.unusual or bool(set(function) - {"function", "extra_inputs", "solve_cycle"})
                    function = function["function"]
                for name in inputs:
                    self.data.setdefault(name, True)
                self.data[out] = True
                self.computed.add(out)
                self.steps.append((function, tuple(inputs), out))
        elif isinstance(token, self.Operand):
            self.missing_operands.add(token)
        self._stack.append(token)

    def get_node_id(self, token):
        if token in self.nodes:
            return self.nodes[token]
        if isinstance(token, self.Operand):
            self.missing_operands.remove(token)
            token.set_expr()
            node = token.node_id
            self.data[node] = True
            value = self.EMPTY if token.attr.get("is_reference", False) else token.compile()
            if value is self.EMPTY:  # as schedula takes it: no default value
                self.defaults.pop(node, None)
            else:
                self.defaults[node] = value
        else:
            node = token.node_id
        self.nodes[token] = node
        return node

    def finish(self):
        for token in list(self.missing_operands):
            self.get_node_id(token)


class _Walked:
    """A formula evaluated from what its parse recorded (`_Recorder`), without compiling it:
    the functions it calls are called one after the other in the order the parser met them, on
    the inputs `compile` would take (its plain references and the names, in the same order).
    Compiling builds a schedula graph from the parse, runs it twice on the way, and each run of
    the compiled graph costs about a millisecond of scheduling per formula; the functions are
    the library's own, called with the same values. `walk` gives None for a parse holding what
    this does not know (then it is compiled)."""

    def __init__(self, steps, defaults, inputs, output, Ranges, none):
        self.steps, self.defaults, self.inputs, self.output = steps, defaults, inputs, output
        self._Ranges, self._none = Ranges, none

    @classmethod
    def walk(cls, recorded: _Recorder, Ranges) -> _Walked | None:
        from formulas.errors import AnchorRangeName, InvalidRangeName

        if not isinstance(recorded, _Recorder) or recorded.unusual:
            return None  # parsed by the library's own builder (LAMBDA, LET), or a function this does not know
        inputs = {}
        for name in sorted(recorded.data):  # in the order `compile` takes them
            if name in recorded.computed:
                continue
            if name in recorded.defaults:
                value = recorded.defaults[name]
                if isinstance(value, Ranges) and value.ranges:
                    inputs[name] = value
                continue
            try:
                inputs[name] = Ranges().push(name)
            except AnchorRangeName:
                inputs[name] = recorded.NONE
            except InvalidRangeName:
                inputs[name] = None  # a defined name
        defaults = {name: value for name, value in recorded.defaults.items() if name not in inputs}
        return cls(recorded.steps, defaults, inputs, recorded.get_node_id(recorded[-1]), Ranges, recorded.NONE)

    def __call__(self, *values):
        known = dict(self.defaults)
        known.update(zip(self.inputs, values))
        none = self._none
        for function, inputs, output in self.steps:
            try:
                arguments = [known[name] for name in inputs]
            except KeyError:
                continue  # an input the library gave no value (a function answered nothing): nor does this one
            value = function(*arguments)
            if value is not none:
                known[output] = value
        value = known[self.output]  # KeyError when nothing reached the end: the cell cannot be evaluated
        return value.value if isinstance(value, self._Ranges) else value


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

