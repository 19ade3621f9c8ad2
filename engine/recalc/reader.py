"""The sheets read by python-calamine in background threads, and the formula cells found in the
package, so that reading (the longest part) overlaps with scanning and evaluating.

calamine's Rust parser releases the GIL: two threads read while the main thread scans the
package for formulas and loads pandas, the engine and the formula library. The largest table's
sheet starts before the scan. A table passed whole to an encaisse function is converted to the
engine's frame in the reading thread, once for every function (through the evaluation context).
"""

from __future__ import annotations

import io
import threading
import zipfile
import zlib
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import python_calamine as calamine

from encaisse.errors import InputError, Problem
from encaisse.recalc.cells import Rect
from encaisse.recalc.columns import Column, find_columns, find_plain_columns
from encaisse.recalc.scan import Mentions, columns_read, range_problem, with_bounded_ranges, without_digits
from encaisse.recalc.values import block, grid_from_rows, laid_over, table_frame
from encaisse.workbook.package import (
    FormulaCell,
    Package,
    PlainFormulas,
    dynamic_cell_metadata,
    error_cells_in,
    formula_texts,
    grid_problem,
    has_formulas,
    open_package,
    open_reader,
    plain_formulas,
    quote_sheet,
    read_formulas,
    scan_sheet,
)
from encaisse.workbook.sheet_columns import halves, keep_columns, reader_package
from encaisse.workbook.splice import EXCEL_ERRORS, ErrorValue

if TYPE_CHECKING:
    from encaisse.excel.context import EvaluationContext

_TINY_SHEET = 256 * 1024  # bytes of sheet XML, uncompressed: read in milliseconds
_CUT_SHEET = 4 << 20  # bytes of sheet XML from which a sheet is read only in the columns its formulas read
_HALVES_SHEET = 8 << 20  # bytes from which such a sheet is cut and read in two halves side by side
_CALCULATED_KINDS = 16  # formulas unlike but for their digits in a cut sheet's first rows, at most


class SheetReader:
    """Sheets read by python-calamine in background threads, each thread with its own workbook.

    `start_largest_table_sheet()` starts the largest sheet holding a table at once, before the
    formulas are scanned. `prefetch(cells)` then queues the other sheets these formulas need:
    the sheets of the tables and defined names they mention and their own sheets; tiny ones
    first (DateArrete, the formulas' own sheet: the main thread needs them at once; with the
    first formulas, every tiny sheet holding formulas), then the others largest first (the
    largest ends last). A table that a formula passes whole
    (`Factures[#All]`) to an encaisse function is converted to the engine's frame in the same
    thread right after its sheet is read.
    """

    WORKERS = 2

    def __init__(self, path: Path, package: Package, context: EvaluationContext | None = None):
        self.path = path
        self.package = package
        self._context = context
        self._context_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=self.WORKERS, thread_name_prefix="encaisse-lecture")
        self._local = threading.local()
        self._futures: dict[str, Future] = {}
        self._prepare: dict[str, set[str]] = {}  # sheet -> upper-cased names of tables to convert
        self._sheet_sizes: dict[str, int] | None = None
        self._tiny_wanted = False  # whether the tiny sheets holding formulas are queued
        self._mentions = Mentions([t.name for t in package.tables.values()], list(package.defined_names))
        self._cut: dict[str, frozenset[int]] = {}  # sheet -> the only columns read of it (`columns`)
        self._companions: dict[str, Future] = {}  # tiny sheets read with the cut one, from its package
        self._xml: dict[str, Future] = {}  # part -> its XML, inflated by a reading thread (`sheet_xml`)

    @property
    def context(self) -> EvaluationContext:
        """The evaluation context the tables are converted in (created on first use: importing the
        engine functions loads pandas, which the reading must not wait for)."""
        with self._context_lock:
            if self._context is None:
                from encaisse.excel.context import EvaluationContext

                self._context = EvaluationContext()
            return self._context

    def prefetch(self, cells: list[FormulaCell]) -> None:
        wanted: list[str] = []

        def want(sheet: str | None) -> None:
            if sheet is not None and sheet not in wanted and sheet not in self._futures:
                wanted.append(sheet)

        for sheet in dict.fromkeys(cell.sheet for cell in cells):
            want(sheet)
        if not self._tiny_wanted:
            self._tiny_wanted = True
            # With the first formulas found, every tiny sheet holding formulas: the evaluation
            # starts once their grids are read (a dynamic array's spill area is found on its own
            # sheet), and one found later would wait behind the big sheets queued now.
            for sheet in self._tiny_formula_sheets():
                want(sheet)
        # All the texts searched at once: a calculated column mentions the same few down every row.
        tables, whole, names = self._mentions.all_mentions([cell.text for cell in cells])
        for name in tables:
            want(self.package.tables[name].sheet)
        for name in whole:
            table = self.package.tables[name]
            self._prepare.setdefault(table.sheet, set()).add(table.name.upper())
        for name in names:
            want(self._name_sheet(name))
        if not wanted:
            return
        size = self.sizes()
        # The tiny sheets first (DateArrete, the formulas' own sheet: needed at once), then the
        # others largest first (with two threads, the largest ends last: it has to start first).
        queue = sorted((s for s in wanted if size.get(s, 0) < _TINY_SHEET), key=lambda s: size.get(s, 0))
        queue += sorted((s for s in wanted if size.get(s, 0) >= _TINY_SHEET), key=lambda s: -size.get(s, 0))
        for sheet in queue:
            self._futures[sheet] = self._pool.submit(self._read, sheet)

    def _tiny_formula_sheets(self) -> list[str]:
        size = self.sizes()
        tiny = [s for s in self.package.sheets if size.get(s.name, _TINY_SHEET) < _TINY_SHEET]
        try:
            with zipfile.ZipFile(self.path) as zf:
                return [s.name for s in tiny if has_formulas(zf, s.part)]
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, InputError):
            return []  # the scan reports what is wrong, with the usual message

    def start_largest_table_sheet(self) -> None:
        """Start reading the largest sheet that holds a table before the formulas are even scanned.

        It is the one that takes longest to read (Factures in an encaisse book) and the one
        formulas are most likely to refer to; starting it at once overlaps its read with the scan
        and with loading pandas and the formula library.
        """
        size = self.sizes()
        sheets = {t.sheet for t in self.package.tables.values()}
        if sheets:
            largest = max(sorted(sheets), key=lambda s: size.get(s, 0))
            columns = self._columns_to_read(largest)
            if columns is not None:
                # The cut sheet is read from a package made in memory, which holds the tiny
                # sheets too: they are read from it first (the shared strings parsed once).
                self._cut[largest] = columns
                self._xml[self.package.sheet(largest).part] = Future()
                for other in self.package.sheets:
                    if other.name != largest and size.get(other.name, _TINY_SHEET) < _TINY_SHEET:
                        self._futures[other.name] = self._companions[other.name] = Future()
            self._futures[largest] = self._pool.submit(self._read, largest)

    def _columns_to_read(self, sheet: str) -> frozenset[int] | None:
        """The only columns of a big table sheet worth reading, when it holds a calculated column:
        those its first formulas and the formulas of the small sheets read, if fewer than half of
        its tables' columns; None to read it whole (a data sheet, which the dashboard's functions
        take whole; formulas that may read any column)."""
        size = self.sizes()
        part = self.package.sheet(sheet)
        if size.get(sheet, 0) < _CUT_SHEET or part is None:
            return None
        try:
            with zipfile.ZipFile(self.path) as zf:
                with zf.open(part.part) as stream:
                    own = formula_texts(stream.read(_TINY_SHEET))
                # A few formulas moved down their column (texts alike but for their digits): a
                # table's calculated columns. Many unlike ones are a model, which reads anywhere:
                # read whole from the start rather than after a guess fell short.
                if not own or len(set(map(without_digits, own))) > _CALCULATED_KINDS:
                    return None
                formulas = [(sheet, text) for text in own]
                for other in self.package.sheets:
                    if other.name != sheet and size.get(other.name, _TINY_SHEET) < _TINY_SHEET:
                        texts = formula_texts(zf.read(other.part))
                        if texts is None:
                            return None
                        formulas += [(other.name, text) for text in texts]
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, NotImplementedError, RuntimeError):
            return None  # the whole sheet's reading names what is wrong
        # the formulas of a calculated column differ only by their rows' numbers, which do not
        # change the columns read: one of each kind is looked at
        wanted = columns_read(list({(own, without_digits(text)): (own, text) for own, text in formulas}.values()),
                              sheet, self.package)
        width = max((t.bounds[2] for t in self.package.tables.values() if t.sheet == sheet), default=0)
        return wanted if wanted is not None and len(wanted) * 2 <= width else None

    def columns(self, sheet: str) -> frozenset[int] | None:
        """The only columns of the sheet its grid holds (1-based); None when it holds them all."""
        return self._cut.get(sheet)

    def whole_grid(self, sheet: str) -> tuple[np.ndarray, dict]:
        """The sheet read whole, after a grid of some of its columns (`columns`) turned out too little."""
        self._cut.pop(sheet, None)
        future = self._futures[sheet] = self._pool.submit(self._read, sheet)
        return future.result()

    def data_sheets(self) -> frozenset[str]:
        """Sheets taken to hold only data: those with a table, too big to be tiny, and without a
        formula in their first rows (a table's calculated column starts on its first row: such a
        sheet is scanned with the others rather than found to hold formulas after evaluating)."""
        size = self.sizes()
        big = sorted({t.sheet for t in self.package.tables.values() if size.get(t.sheet, 0) >= _TINY_SHEET})
        if not big:
            return frozenset()
        parts = {s.name: s.part for s in self.package.sheets}
        try:
            with zipfile.ZipFile(self.path) as zf:
                return frozenset(s for s in big if s in parts and not has_formulas(zf, parts[s], limit=_TINY_SHEET))
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError):
            return frozenset()  # the full scan reports what is wrong, with the usual message

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

    def sizes(self) -> dict[str, int]:
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
        columns = self._cut.get(sheet)
        if columns is not None:
            try:
                found = self._read_columns(sheet, columns)
            finally:
                # whatever happened, nothing waits for ever: the formula scan for the sheet's XML
                # (it then reads it itself), the small sheets for their grids (read as any sheet)
                part = self.package.sheet(sheet)
                _settle(self._xml.get(part.part) if part is not None else None, lambda: None)
                for name, future in self._companions.items():
                    _settle(future, lambda name=name: self._read_whole(name))
            if found is not None:
                return found
            self._cut.pop(sheet, None)  # not cut after all: read whole
        return self._read_whole(sheet)

    def _read_whole(self, sheet: str) -> tuple[np.ndarray, dict]:
        book = getattr(self._local, "book", None)
        part = self.package.sheet(sheet)
        size = self.sizes().get(sheet, 0)
        # The reader allocates the sheet's grid from A1 to its farthest cell: that cell is searched
        # for before (one stray cell far away would make it billions of cells), with the cells
        # stored as errors. Opening the workbook does not allocate it: a thread's first sheet is
        # searched while it opens.
        scan = _meanwhile(lambda: _scan(self.path, part, sheet), "encaisse-etendue", book is None and size >= _TINY_SHEET)
        try:
            if book is None:
                book = self._local.book = open_reader(self.path)
        except calamine.CalamineError:
            raise _unreadable(sheet, part) from None
        finally:
            errors = scan.result()  # a cell out of bounds is what is wrong with the book, if there is one
        return self._grid_of(book, sheet, errors)

    def _grid_of(self, book, sheet: str, errors: dict) -> tuple[np.ndarray, dict]:
        """The sheet's grid read from a workbook opened by the reader, its error cells marked, and
        its tables to convert converted."""
        try:
            rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        except calamine.CalamineError:
            raise _unreadable(sheet, self.package.sheet(sheet)) from None
        grid = grid_from_rows(rows)
        del rows
        _mark_errors(grid, errors)
        frames = {}
        # The tables to convert are known once the formulas are scanned, which is usually done by
        # now; one not listed yet is converted by the main thread when a function needs it. So is
        # a table on a tiny sheet: converting it takes no time, but here it would wait for pandas
        # and the engine to be imported (by the main thread, meanwhile) before the next, big,
        # sheet could be read.
        tiny = self.sizes().get(sheet, 0) < _TINY_SHEET
        for name in () if tiny else frozenset(self._prepare.get(sheet, ())):
            table = self.package.tables[name]
            c1, r1, c2, r2 = table.bounds
            rect = Rect(table.sheet, r1, c1, r2, c2)
            frames[rect] = frame = table_frame(block(grid, rect))
            _convert_for_engine(frame, name, self.context)
        return grid, frames

    def _read_columns(self, sheet: str, columns: frozenset[int]) -> tuple[np.ndarray, dict] | None:
        """The grid of the sheet with only these columns read (`sheet_columns.keep_columns`); None
        when the sheet cannot be cut (it is then read whole). Its XML, once inflated, is handed to
        the formula scan (`sheet_xml`); a big one is cut and read in two halves of its rows side by
        side (numpy and calamine leave Python's lock), the tiny sheets read with the first."""
        part = self.package.sheet(sheet)
        data = None
        try:
            with zipfile.ZipFile(self.path) as zf:
                data = zf.read(part.part)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, NotImplementedError, RuntimeError):
            return None  # the whole sheet's reading names what is wrong
        finally:
            _settle(self._xml.get(part.part), lambda: data)  # None when unreadable: the formula scan reads it itself
        pieces = halves(data) if len(data) >= _HALVES_SHEET else None
        second = None
        if pieces is not None:
            del data
            second = _meanwhile(lambda: self._read_cut(pieces[1], columns, sheet, whole=False), "encaisse-lecture-moitie", True)
            data = pieces[0]
        first = self._read_cut(data, columns, sheet, whole=True)
        rest = second.result() if second is not None else None
        if first is None or (second is not None and rest is None):
            return None
        grid, errors = first
        if rest is not None:
            (cells, (top, left)), more = rest
            grid = laid_over(grid, cells, top, left)
            errors = {**errors, **more}
        _mark_errors(grid, errors)
        return grid, {}

    def _read_cut(self, xml: bytes, columns: frozenset[int], sheet: str, whole: bool):
        """`xml` (the sheet or half of its rows) cut to `columns` and read by calamine from a package
        made in memory: (the grid from A1, its error cells) when `whole` — the tiny sheets are read
        from the same package first —, else ((the block of cells read, (its top row, its left
        column), 0-based), its error cells); None when it cannot be cut."""
        part = self.package.sheet(sheet)
        kept = keep_columns(xml, columns)
        del xml
        if kept is None:
            return None
        problem = grid_problem(kept.rows, kept.cols, sheet)
        if problem is not None:
            raise InputError([problem], title="Classeur refusé")
        others = tuple(self.package.sheet(name).part for name in self._companions) if whole else ()
        try:
            with zipfile.ZipFile(self.path) as zf:
                package = reader_package(zf, self.package.workbook_part, part.part, kept.xml, others)
            book = calamine.CalamineWorkbook.from_filelike(io.BytesIO(package))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, NotImplementedError, RuntimeError,
                calamine.CalamineError):
            return None
        del package
        errors = error_cells_in(kept.xml)
        if whole:
            for name, future in self._companions.items():
                _settle(future, lambda name=name: self._grid_of(book, name, _scan(self.path, self.package.sheet(name), name)))
            grid, _ = self._grid_of(book, sheet, {})
            return grid, errors
        try:
            cells = book.get_sheet_by_name(sheet)
            start = cells.start or (0, 0)
            rows = cells.to_python(skip_empty_area=True)
        except calamine.CalamineError:
            raise _unreadable(sheet, part) from None
        return (grid_from_rows(rows), start), errors

    def sheet_xml(self, part: str) -> bytes | None:
        """The XML of a sheet part, when a reading thread inflates it anyway (a sheet read in some
        of its columns): waited for rather than inflated twice; None otherwise."""
        future = self._xml.get(part)
        return future.result() if future is not None else None


def _settle(future: Future | None, work) -> None:
    """`work()`'s result, or its exception, set on a future not done yet (nothing if it is)."""
    if future is None or future.done():
        return
    try:
        try:
            result = work()
        except BaseException as error:  # noqa: BLE001 — handed to whoever waits on the future
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass  # cancelled meanwhile: the reader is closing


def _unreadable(sheet: str, part) -> InputError:
    # the reader's own message is English and may quote the file: the sheet and its part are named instead
    where = f"{quote_sheet(sheet)} ({part.part})" if part is not None else quote_sheet(sheet)
    return InputError([Problem(where, "feuille illisible : XML mal formé ou cellule d'adresse invalide ; réenregistrez "
                                      "le classeur avec Excel")], title="Classeur corrompu")


def _convert_for_engine(frame, table_name: str, context: EvaluationContext) -> None:
    """Convert a table ahead of the encaisse functions (which find it in the evaluation context)."""
    from encaisse.excel.args import table_arg
    from encaisse.tables import TABLES

    table = next((t for t in TABLES if t.name.upper() == table_name), None)
    if table is None:
        return
    try:
        table_arg(frame, table, context=context)
    except Exception:  # noqa: BLE001 — the function's own call reports the problem with its cell
        pass


class FoundCells(NamedTuple):
    """The formula cells of a book: `count` of them; `evaluated` with each calculated column as
    its anchor, `columns` anchor key -> the column (`columns.find_columns`); `plain` part -> the
    plain formula cells of the sheet (`package.plain_formulas`), which the splice reuses."""

    sheets_xml: dict[str, bytes]  # part -> XML of the sheets with formulas
    count: int
    evaluated: list[FormulaCell]
    columns: dict[tuple, Column]
    plain: dict[str, PlainFormulas]


def formula_cells(path: Path, package: Package, found=None, skip: frozenset = frozenset(), xml=None) -> FoundCells:
    """The formula cells of the sheets not in `skip`, their calculated columns found. The checks
    and `found` (the prefetch) see one cell for each calculated column: its top cell (the others
    mention the same tables and names, and hold the same fixed ranges). `xml(part)`: a sheet's
    XML when already inflated elsewhere (`SheetReader.sheet_xml`), else None."""
    sheets_xml: dict[str, bytes] = {}
    plains: dict[str, PlainFormulas] = {}
    count = 0
    kept: list[FormulaCell] = []
    anchors: list[FormulaCell] = []
    columns: dict[tuple, Column] = {}
    with open_package(str(path)) as zf:
        try:
            dynamic = dynamic_cell_metadata(zf, str(path))
            for sheet in package.sheets:
                if sheet.name in skip or not has_formulas(zf, sheet.part):
                    continue
                data = (xml(sheet.part) if xml is not None else None) or zf.read(sheet.part)
                sheets_xml[sheet.part] = data
                plains[sheet.part] = plain = plain_formulas(data)
                if plain.valid:  # every formula plain: read as lists, a FormulaCell only outside the calculated columns
                    evaluated, runs = find_plain_columns(sheet.name, plain.rows, plain.cols, plain.texts)
                    count += len(plain.rows)
                else:
                    sheet_cells = read_formulas(data, sheet.name, dynamic, sheet.part, plain)
                    evaluated, runs = find_columns(sheet_cells)
                    count += len(sheet_cells)
                alone = [c for c in evaluated if c.kind != "column"]
                shown = alone + [run.top for run in runs.values()]
                _check_ranges(shown, package, {run.top: run for run in runs.values()})
                kept.extend(alone)
                anchors.extend(run.anchor for run in runs.values())
                columns.update(runs)
                if found is not None:
                    found(shown)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError):
            raise InputError([Problem(str(path), "fichier illisible : classeur Excel endommagé")], title="Classeur corrompu") from None
    return FoundCells(sheets_xml, count, kept + anchors, columns, plains)


def _check_ranges(cells: list[FormulaCell], package: Package, runs: dict | None = None) -> None:
    """Each formula's ranges, and those of the defined names it mentions, small enough to be read
    (a bounded range is read whole: A1:XFC100000 would be 1,6 billion cells). `runs`: top cell of a
    calculated column -> the column, whose cells are each named when the top one is refused."""
    problems = []
    names = Mentions([], list(package.defined_names))
    # Only the formulas holding a bounded range or mentioning a defined name can have a problem:
    # found in one search over all the texts, then looked at one by one.
    texts = [cell.text for cell in cells]
    named = {key: range_problem(package.defined_names[key].text)
             for key in {name.upper() for name in names.names("\x00".join(texts))}}
    candidates = set(with_bounded_ranges(texts))
    if any(message is not None for message in named.values()):
        candidates.update(names.mentioning(texts))
    for i in sorted(candidates):
        cell = cells[i]
        message = range_problem(cell.text)
        for name in names.names(cell.text) if message is None else ():
            if named[name.upper()] is not None:
                message = f"nom « {name} » : {named[name.upper()]}"
                break
        if message is not None:
            column = (runs or {}).get(cell)
            problems += [(c.row, c.col, Problem(c.where, message)) for c in (column.cells if column is not None else (cell,))]
    if problems:
        raise InputError([problem for _, _, problem in sorted(problems, key=lambda p: p[:2])], title="Recalcul impossible")


def _scan(path, part, sheet: str) -> dict:
    """The cells of the sheet stored as Excel errors; InputError if the fast reader must not read
    it (`package.scan_sheet`)."""
    if part is None:
        return {}
    with zipfile.ZipFile(path) as archive:
        problem, errors = scan_sheet(archive, part.part, sheet)
    if problem is not None:
        raise InputError([problem], title="Classeur refusé")
    return errors


def _meanwhile(work, name: str, in_thread: bool) -> Future:
    """`work()` done in a thread of its own (`in_thread`) or at once; its result or its exception
    in the future, for the reading thread to raise."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as error:  # noqa: BLE001 — handed to the reading thread, which raises it
            future.set_exception(error)

    if in_thread:
        threading.Thread(target=run, name=name, daemon=True).start()
    else:
        run()
    return future


def _mark_errors(grid: np.ndarray, found: dict) -> None:
    """Cells stored as Excel errors (#N/A…), which the fast reader gives as empty text, put back as
    errors, so that ISERROR, IFERROR, COUNTIF and the encaisse functions see them."""
    for (row, col), text in found.items():
        if row - 1 < grid.shape[0] and col < grid.shape[1]:
            grid[row - 1, col] = ErrorValue(text if text in EXCEL_ERRORS else "#VALUE!")
