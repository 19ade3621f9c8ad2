"""Read an encaisse workbook (.xlsx/.xlsm) into a Ledger, checking every cell on the way.

python-calamine reads the cells (fast, Rust); each table is found by its Excel table name,
or failing that by its sheet (header = first row that looks like the table's headers).
`encaisse.workbook.coerce` converts the columns; the checks between tables (duplicates, unknown
customers or invoices, dates out of order) are done here on whole columns. Every problem is
collected, sorted by sheet then row, and raised together as one InputError.
"""

from __future__ import annotations

import gc
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import python_calamine as calamine

from encaisse.workbook.coerce import (
    Coerced,
    coerce_amount,
    coerce_columns,
    coerce_date,
    coerce_text,
    column_letter,
    empty_frame,
    grid,
)
from encaisse.errors import InputError, Problem, os_reason
from encaisse.fr import date
from encaisse.ledger import Ledger, Params
from encaisse.workbook.package import (Package, SheetScan, open_package, open_reader, read_defined_names, read_package, scan_sheet,
                                       workbook_file_problem)
from encaisse.tables import (
    CUSTOMERS,
    INVOICES,
    NAMED_CELLS,
    PAYMENTS,
    TABLES,
    NamedCell,
    Table,
    normalize_header,
)

_HEADER_SEARCH_ROWS = 20
_TITLE = "Lecture impossible"


@dataclass(frozen=True)
class SheetProblem:
    """A problem with the workbook position used to sort the report (sheet -1 = the file itself)."""

    sheet: int
    row: int
    col: int
    problem: Problem


@dataclass(frozen=True)
class TableRead:
    table: Table
    sheet: str  # the sheet's name as written in the workbook
    coerced: Coerced

    def cell(self, key: str, row: int) -> str:
        return f"{self.sheet}!{column_letter(self.coerced.positions[key])}{row}"


def load_workbook(path: str | Path) -> Ledger:
    """The workbook's tables as canonical DataFrames; InputError listing every problem found.

    Required tables (Factures, Clients) must be there; other absent tables are empty.
    Named cells of Paramètres (and SoldeBanque) go to `Ledger.params`.
    """
    path = Path(path)
    problem = workbook_file_problem(path)
    if problem is not None:
        raise InputError([problem], title=_TITLE)
    was_enabled = gc.isenabled()
    gc.disable()  # millions of small cell objects: the cyclic collector only slows the read down
    try:
        return _load(path)
    except (calamine.CalamineError, zipfile.BadZipFile, zlib.error, ET.ParseError, EOFError):
        # The reader's own message is English ("Cannot detect file format"): the file is named instead.
        raise InputError([Problem(str(path), "fichier illisible : ce n'est pas un classeur Excel .xlsx/.xlsm lisible "
                                             "(contenu endommagé ou d'un autre format)")], title=_TITLE) from None
    except OSError as error:
        raise InputError([Problem(str(path), f"lecture impossible ({os_reason(error)})")], title=_TITLE) from None
    finally:
        if was_enabled:
            gc.enable()


def _open(path: Path) -> calamine.CalamineWorkbook:
    try:
        return open_reader(path, load_tables=True)
    except calamine.TablesNotSupported:
        return open_reader(path)


def _load(path: Path) -> Ledger:
    package = read_package(str(path), _TITLE)  # refuses what is unsafe to inflate (zip bombs, encrypted parts) before any reading
    with open_package(str(path), _TITLE) as archive, _open(path) as book:
        sheets = _Sheets(archive, package, path)
        try:
            return _read_all(path, book, sheets)
        finally:
            sheets.close()


def _read_all(path: Path, book: calamine.CalamineWorkbook, sheets: "_Sheets") -> Ledger:
    sheet_names = list(book.sheet_names)
    table_names = list(book.table_names or [])
    problems: list[SheetProblem] = []
    reads: dict[str, TableRead] = {}
    frames: dict[str, pd.DataFrame] = {}
    rank = {name: i for i, name in enumerate(sheet_names)}
    for table in TABLES:
        read = _read_table(book, table, sheet_names, table_names, sheets)
        if read is None:
            frames[table.attr] = empty_frame(table)
            if table.required:
                problems.append(SheetProblem(-1, 0, 0, Problem(table.sheet, f"table « {table.name} » introuvable (ni table Excel de ce nom, ni feuille « {table.sheet} » remplie)")))
            continue
        reads[table.attr] = read
        frames[table.attr] = read.coerced.frame
        problems.extend(SheetProblem(rank.get(read.sheet, -1), p.row, p.col, p.problem) for p in read.coerced.problems)
    params, param_problems = _read_params(path, book, sheet_names, sheets)
    problems.extend(param_problems)
    problems.extend(_check_links(reads, rank))
    if problems:
        problems.sort(key=lambda p: (p.sheet, p.row, p.col))
        raise InputError([p.problem for p in problems], title=f"Le classeur {path.name} contient des erreurs")
    return Ledger(**frames, params=params, source=str(path))


# ---------------------------------------------------------------- finding and reading tables


def _find(names: list[str], *wanted: str) -> str | None:
    for name in wanted:
        if name in names:
            return name
    keys = {normalize_header(w) for w in wanted}
    return next((name for name in names if normalize_header(name) in keys), None)


class _Sheets:
    """What is checked once per sheet before the fast reader reads it: that its grid has a sane
    size (one stray cell far away makes it billions of cells, which the reader would allocate and
    die on), and which cells hold Excel errors (the fast reader gives them as empty text)."""

    def __init__(self, archive, package: Package, path: Path):
        self._archive, self._scans = archive, {}
        self._parts = {sheet.name: sheet.part for sheet in package.sheets}
        self._table_sheets = {key: table.sheet for key, table in package.tables.items()}
        # Each sheet is scanned in a thread of its own while the fast reader reads the one before
        # (inflating releases the GIL): the sheets a table is read from, in reading order.
        wanted = [t.sheet for t in TABLES if t.sheet in self._parts] + sorted(set(self._table_sheets.values()))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encaisse-erreurs")
        self._pending = {}
        for sheet in dict.fromkeys(wanted):
            self._pending[sheet] = self._pool.submit(self._scan, path, self._parts[sheet], sheet)

    @staticmethod
    def _scan(path: Path, part: str, sheet: str) -> SheetScan:
        with zipfile.ZipFile(path) as archive:
            return scan_sheet(archive, part, sheet)

    def close(self) -> None:
        for future in self._pending.values():
            future.cancel()
        self._pool.shutdown(wait=True)

    def check_table(self, name: str) -> None:
        sheet = self._table_sheets.get(name.upper())
        if sheet is not None:
            self.check(sheet)

    def _scanned(self, sheet: str) -> SheetScan:
        if sheet not in self._scans:
            part = self._parts.get(sheet)
            pending = self._pending.get(sheet)
            self._scans[sheet] = (pending.result() if pending is not None else
                                  scan_sheet(self._archive, part, sheet) if part else SheetScan(None, {}))
        return self._scans[sheet]

    def check(self, sheet: str) -> None:
        problem = self._scanned(sheet).problem
        if problem is not None:
            raise InputError([problem], title="Lecture impossible")

    def errors(self, sheet: str) -> dict[tuple[int, int], str]:
        return self._scanned(sheet).errors


def _read_table(book: calamine.CalamineWorkbook, table: Table, sheet_names: list[str], table_names: list[str],
                sheets: _Sheets | None = None) -> TableRead | None:
    name = _find(table_names, table.name, table.sheet)
    if name is not None:
        if sheets is not None:
            sheets.check_table(name)
        found = book.get_table_by_name(name)
        headers = list(found.columns)
        rows = found.to_python()
        start = found.start or (1, 0)
        coerced = coerce_columns(headers, grid(rows, len(headers)), table, sheet=found.sheet, header_row=start[0], first_col=start[1],
                                 errors=sheets.errors(found.sheet) if sheets is not None else None)
        return TableRead(table, found.sheet, coerced)
    sheet_name = _find(sheet_names, table.sheet, table.name)
    if sheet_name is None:
        return None
    if sheets is not None:
        sheets.check(sheet_name)
    sheet = book.get_sheet_by_name(sheet_name)
    rows = sheet.to_python()
    if not rows or not any(v != "" and v is not None for row in rows[:_HEADER_SEARCH_ROWS] for v in row):
        return None  # an empty sheet is an absent table
    top, left = sheet.start or (0, 0)
    at = _header_index(rows, table)
    headers = rows[at] if rows else []
    coerced = coerce_columns(headers, grid(rows[at + 1:], len(headers)), table, sheet=sheet_name, header_row=top + at + 1, first_col=left,
                             errors=sheets.errors(sheet_name) if sheets is not None else None)
    return TableRead(table, sheet_name, coerced)


def _header_index(rows: list[list[object]], table: Table) -> int:
    """The first row naming at least two of the table's columns, else the first non-empty row."""
    names = {normalize_header(n) for c in table.columns for n in c.names()}
    first = None
    for i, row in enumerate(rows[:_HEADER_SEARCH_ROWS]):
        cells = [normalize_header(v) for v in row if isinstance(v, str)]
        if sum(c in names for c in cells) >= 2:
            return i
        if first is None and any(v != "" and v is not None for v in row):
            first = i
    return first or 0


# ---------------------------------------------------------------- named cells


def _read_params(path: Path, book: calamine.CalamineWorkbook, sheet_names: list[str], checked: _Sheets) -> tuple[Params, list[SheetProblem]]:
    if not zipfile.is_zipfile(path):
        return Params(), []
    try:
        names = read_defined_names(path)
    except InputError:  # no xl/workbook.xml (an .ods read by calamine): no named cells
        names = {}
    rank = {name: i for i, name in enumerate(sheet_names)}
    sheets: dict[str, list[list[object]]] = {}
    values: dict[str, object] = {}
    problems: list[SheetProblem] = []
    for cell in NAMED_CELLS:
        entry = names.get(cell.name.upper())
        place = entry.range() if entry is not None else None
        if place is None or place[0] not in rank:
            continue
        sheet, col, row = place[0], place[1] - 1, place[2] - 1
        if sheet not in sheets:
            checked.check(sheet)
            sheets[sheet] = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        cells = sheets[sheet]
        raw = cells[row][col] if row < len(cells) and col < len(cells[row]) else ""
        try:
            values[cell.key] = _param_value(cell, raw)
        except ValueError as error:
            where = f"{sheet}!{column_letter(col)}{row + 1}"
            problems.append(SheetProblem(rank[sheet], row + 1, col, Problem(where, str(error))))
    return Params(**values), problems


def _param_value(cell: NamedCell, raw: object) -> object:
    if cell.kind == "date":
        return coerce_date(raw)
    if cell.kind in ("amount", "number"):
        return coerce_amount(raw, percent=cell.kind == "number")
    return coerce_text(raw)


# ---------------------------------------------------------------- checks between tables


def _factorize(*columns: pd.Series) -> tuple[list[np.ndarray], int]:
    """Codes shared by several id columns (equal ids, equal codes; blank = -1), and how many ids."""
    arrays = [c.to_numpy(dtype=object) for c in columns]
    codes, uniques = pd.factorize(np.concatenate(arrays))
    return np.split(codes, np.cumsum([len(a) for a in arrays])[:-1]), len(uniques)


def _first_positions(codes: np.ndarray, count: int) -> np.ndarray:
    """For each id code, the position of its first line (len(codes) when it has none)."""
    first = np.full(count, len(codes), dtype=np.int64)
    valid = codes >= 0
    np.minimum.at(first, codes[valid], np.flatnonzero(valid))
    return first


def _check_links(reads: dict[str, TableRead], rank: dict[str, int]) -> list[SheetProblem]:
    """Checks across lines and tables, on id codes (one hashing pass per kind of id)."""
    problems: list[SheetProblem] = []

    def add(read: TableRead, key: str, at: np.ndarray, message) -> None:
        frame = read.coerced.frame
        sheet, col = rank.get(read.sheet, -1), read.coerced.positions[key]
        for i in at:
            row = int(frame["row"].iat[i])
            problems.append(SheetProblem(sheet, row, col, Problem(read.cell(key, row), message(i))))

    def has(read: TableRead | None, *keys: str) -> bool:
        return read is not None and all(k in read.coerced.positions for k in keys)

    invoices, payments, customers = (reads.get(t.attr) for t in (INVOICES, PAYMENTS, CUSTOMERS))
    inv = invoices.coerced.frame if invoices else None
    pay = payments.coerced.frame if payments else None

    if has(invoices, "issue_date", "due_date"):
        early = np.flatnonzero((inv["due_date"] < inv["issue_date"]).to_numpy())
        due, issue = inv["due_date"], inv["issue_date"]
        add(invoices, "due_date", early, lambda i: f"échéance {date(due.iat[i])} antérieure à la date facture {date(issue.iat[i])}")

    # Invoice numbers: duplicates, payments naming an unknown invoice or another customer's.
    inv_first = None
    if has(invoices, "invoice_id"):
        pay_ids = pay["invoice_id"] if has(payments, "invoice_id") else pd.Series([], dtype="str")
        (inv_codes, pay_codes), count = _factorize(inv["invoice_id"], pay_ids)
        inv_first = _first_positions(inv_codes, count)
        problems.extend(_duplicates(invoices, "invoice_id", "N° facture", inv_codes, inv_first, rank))
        if has(payments, "invoice_id"):
            known = np.zeros(count + 1, dtype=bool)
            known[inv_codes[inv_codes >= 0]] = True
            unknown = np.flatnonzero((pay_codes >= 0) & ~known[pay_codes])
            ids = pay["invoice_id"]
            add(payments, "invoice_id", unknown, lambda i: f"facture « {ids.iat[i]} » inconnue (absente de Factures)")

    # Customer codes: duplicates in Clients, invoices and payments naming an unknown customer.
    parts = [(read, read.coerced.frame["customer_id"]) for read in (customers, invoices, payments) if has(read, "customer_id")]
    if parts:
        codes, count = _factorize(*(column for _, column in parts))
        code_of = {id(read): c for (read, _), c in zip(parts, codes)}
        if has(customers, "customer_id"):
            client_codes = code_of[id(customers)]
            problems.extend(_duplicates(customers, "customer_id", "code client", client_codes, _first_positions(client_codes, count), rank))
            known = np.zeros(count + 1, dtype=bool)
            known[client_codes[client_codes >= 0]] = True
            for read in (invoices, payments):
                if has(read, "customer_id"):
                    mine = code_of[id(read)]
                    ids = read.coerced.frame["customer_id"]
                    add(read, "customer_id", np.flatnonzero((mine >= 0) & ~known[mine]), lambda i, ids=ids: f"client « {ids.iat[i]} » inconnu (absent de Clients)")
        if inv_first is not None and has(payments, "invoice_id", "customer_id") and has(invoices, "customer_id"):
            inv_cust, pay_cust = code_of[id(invoices)], code_of[id(payments)]
            owner = np.append(inv_first, len(inv_cust))[pay_codes]  # first line of the payment's invoice
            owner_cust = np.append(inv_cust, -1)[owner]
            other = np.flatnonzero((pay_cust >= 0) & (owner_cust >= 0) & (pay_cust != owner_cust))
            ids, cust, inv_ids, inv_rows = pay["invoice_id"], pay["customer_id"], inv["customer_id"], inv["row"]
            add(payments, "customer_id", other, lambda i: (
                f"client « {cust.iat[i]} » différent de celui de la facture « {ids.iat[i]} » "
                f"({inv_ids.iat[owner[i]]}, {invoices.cell('customer_id', int(inv_rows.iat[owner[i]]))})"
            ))
    return problems


def _duplicates(read: TableRead, key: str, what: str, codes: np.ndarray, first: np.ndarray, rank: dict[str, int]) -> list[SheetProblem]:
    """One problem per repeated id, naming the line where it first appears."""
    positions = np.flatnonzero(codes >= 0)  # blank ids (code -1) are reported as missing, not as duplicates
    again = positions[first[codes[positions]] != positions]
    frame = read.coerced.frame
    sheet, col = rank.get(read.sheet, -1), read.coerced.positions[key]
    problems = []
    for i in again:
        row, first_row = int(frame["row"].iat[i]), int(frame["row"].iat[first[codes[i]]])
        where = read.cell(key, row)
        problems.append(SheetProblem(sheet, row, col, Problem(where, f"{what} « {frame[key].iat[i]} » en double (déjà en {read.cell(key, first_row)})")))
    return problems
