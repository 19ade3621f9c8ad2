"""Headless recalculation: evaluate every formula cell of a workbook and store the cached values.

The run, in the order of the modules it goes through:
- `reader`: the sheets read once by the fast reader (python-calamine) in two background threads,
  while the main thread scans the package for formula cells (a big sheet holding a table is taken
  to hold data only and is checked for formulas by a reading thread once it has nothing left to
  read; if one does hold formulas, the book is evaluated again with them before anything is written);
- `scan`: the formula texts scanned (Excel's prefixes, encaisse calls, tables and names mentioned);
- `graph`: the cells ordered so that each comes after those it reads;
- `evaluator`: encaisse functions (DSO, AGING...) evaluated by the engine, sharing one evaluation
  context; the other formulas by the `formulas` library (loaded without scipy: see `library`),
  structured references translated to A1 first by `references`;
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
dashboard uses "" criteria and subtraction instead. A formula column inside a big table is
evaluated cell by cell (about a millisecond each). External links are not supported.
"""

from __future__ import annotations

import gc
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from encaisse.errors import InputError, Problem
from encaisse.recalc.cells import TITLE, Rect
from encaisse.recalc.evaluator import Evaluator
from encaisse.recalc.reader import SheetReader, formula_cells
from encaisse.workbook.package import read_package
from encaisse.workbook.splice import patch_sheet, write_package


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
            sheets_xml, cells = formula_cells(path, package, reader.prefetch, skip=data_sheets)
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
                sheets_xml, cells = formula_cells(path, package, reader.prefetch)
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
