"""Append rows to an Excel table of a workbook, touching nothing else.

Written the way the recalculation writes values: the table's worksheet XML is spliced (new rows
after the table's last row holding a value, styled like the column), the table part's `ref` and
its autofilter are extended, and every other zip member is copied byte for byte into a temporary
file that replaces the workbook (`splice.write_package`). A table's trailing blank rows (the
template's one formatted empty row) are filled before the table grows. Texts are written as
inline strings, so the shared-strings part is not rewritten either.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from encaisse.errors import InputError, Problem
from encaisse.workbook.package import (
    TableDef,
    get_column_letter,
    open_package,
    quote_sheet,
    read_package,
)
from encaisse.workbook.splice import CellUpdate, InlineString, patch_sheet, write_package

_ROW = re.compile(rb"<row\b[^>]*?(?:/>|>.*?</row>)", re.S)
_ROW_R = re.compile(rb'\br="([0-9]+)"')
_CELL = re.compile(rb"<c\b[^>]*?(?:/>|>.*?</c>)", re.S)
_CELL_R = re.compile(rb'\br="([A-Z]+)[0-9]+"')
_STYLE = re.compile(rb'\bs="([0-9]+)"')
_VALUE = re.compile(rb"<(?:v|is)\b")
_COL = re.compile(rb"<col\b[^>]*/>")
_TABLE_REF = re.compile(rb'(<table\b[^>]*?\sref=")([^"]*)(")', re.S)
_FILTER_REF = re.compile(rb'(<autoFilter\b[^>]*?\sref=")([^"]*)(")', re.S)

_EPOCHS = {False: dt.date(1899, 12, 30), True: dt.date(1904, 1, 1)}

TITLE = "Écriture dans le classeur impossible"


@dataclass(frozen=True)
class Appended:
    """Where the rows went: the table, its sheet, and the first and last sheet rows written."""

    table: str
    sheet: str
    first_row: int
    last_row: int

    @property
    def where(self) -> str:
        return f"{quote_sheet(self.sheet)}!{self.first_row}:{self.last_row}"


def table_columns(path: str | Path, table_name: str) -> TableDef:
    """The table's definition (name, sheet, ref, headers); InputError naming the table when absent."""
    package = read_package(str(path))
    table = package.tables.get(table_name.upper())
    if table is None:
        raise InputError([Problem(str(path), f"tableau « {table_name} » absent du classeur")], title=TITLE)
    return table


def append_rows(path: str | Path, table_name: str, rows: Sequence[Sequence[object]]) -> Appended | None:
    """Append `rows` (one value per table column, in the table's order; None leaves a cell blank).

    Values: `datetime.date` (a date serial, formatted like its column), int or float, or text.
    Returns where the rows went, or None when there were none. The workbook is replaced atomically.
    """
    if not rows:
        return None
    path = Path(path)
    package = read_package(str(path))
    table = package.tables.get(table_name.upper())
    if table is None:
        raise InputError([Problem(str(path), f"tableau « {table_name} » absent du classeur")], title=TITLE)
    if table.totals_rows:
        raise InputError([Problem(str(path), f"tableau « {table.name} » : une ligne de total empêche d'ajouter des lignes")],
                         title=TITLE)
    sheet = package.sheet(table.sheet)
    first_col, first_row, last_col, last_row = table.bounds
    width = last_col - first_col + 1
    with open_package(str(path)) as zf:
        sheet_xml = zf.read(sheet.part)
        table_part = _table_part(zf, table)
        table_xml = zf.read(table_part)
    header_end = first_row + table.header_rows - 1
    start = _last_filled_row(sheet_xml, header_end, last_row, first_col, last_col) + 1
    styles = _column_styles(sheet_xml, header_end, last_row, first_col, last_col)
    epoch = _EPOCHS[package.date1904]
    updates: dict[tuple[int, int], CellUpdate] = {}
    for offset, values in enumerate(rows):
        if len(values) > width:
            raise ValueError(f"{len(values)} valeurs pour {width} colonnes")
        row = start + offset
        for i, value in enumerate(values):
            cell = _cell_value(value, epoch)
            if cell is not None:
                col = first_col + i
                updates[(row, col)] = CellUpdate(cell, False, style=styles.get(col))
    end = start + len(rows) - 1
    new_ref = f"{get_column_letter(first_col)}{first_row}:{get_column_letter(last_col)}{max(last_row, end)}".encode()
    table_xml = _TABLE_REF.sub(lambda m: m.group(1) + new_ref + m.group(3), table_xml, count=1)
    table_xml = _FILTER_REF.sub(lambda m: m.group(1) + new_ref + m.group(3), table_xml, count=1)
    replaced = {sheet.part: patch_sheet(sheet_xml, updates), table_part: table_xml}
    try:
        write_package(path, path, replaced)
    except PermissionError:
        raise InputError([Problem(str(path), "classeur en lecture seule ou ouvert dans Excel : fermez-le puis relancez")],
                         title=TITLE) from None
    except OSError as error:
        raise InputError([Problem(str(path), f"écriture impossible ({error})")], title=TITLE) from None
    return Appended(table.name, table.sheet, start, end)


def _cell_value(value: object, epoch: dt.date) -> object:
    if value is None or (isinstance(value, str) and value == ""):
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return (value - epoch).days
    if isinstance(value, bool):
        return InlineString("VRAI" if value else "FAUX")
    if isinstance(value, (int, float)):
        return value
    return InlineString(str(value))


def _table_part(zf: zipfile.ZipFile, table: TableDef) -> str:
    wanted = table.name.encode()
    for member in zf.namelist():
        if re.fullmatch(r"xl/tables/[^/]+\.xml", member):
            head = zf.read(member)[:2048]
            if re.search(rb'\bdisplayName="' + re.escape(wanted) + rb'"', head) or re.search(
                    rb'\bname="' + re.escape(wanted) + rb'"', head):
                return member
    raise InputError([Problem(table.name, "définition du tableau introuvable dans le classeur")], title=TITLE)


def _rows(sheet_xml: bytes, low: int, high: int):
    """(row number, row XML) of the sheet's rows numbered low..high."""
    for m in _ROW.finditer(sheet_xml):
        head_end = sheet_xml.index(b">", m.start())
        rm = _ROW_R.search(sheet_xml, m.start(), head_end)
        if rm is None:
            continue
        number = int(rm.group(1))
        if low <= number <= high:
            yield number, m.group(0)
        elif number > high:
            return


def _cells(row_xml: bytes, first_col: int, last_col: int):
    """(column number, cell XML) of the row's cells within the columns first..last."""
    for m in _CELL.finditer(row_xml):
        rm = _CELL_R.search(m.group(0))
        if rm is None:
            continue
        col = 0
        for ch in rm.group(1):
            col = col * 26 + ch - 64
        if first_col <= col <= last_col:
            yield col, m.group(0)


def _last_filled_row(sheet_xml: bytes, header_end: int, last_row: int, first_col: int, last_col: int) -> int:
    """The last row of the table body holding a value (the header row when the body is blank)."""
    last = header_end
    for number, row_xml in _rows(sheet_xml, header_end + 1, last_row):
        if any(_VALUE.search(cell) for _, cell in _cells(row_xml, first_col, last_col)):
            last = number
    return last


def _column_styles(sheet_xml: bytes, header_end: int, last_row: int, first_col: int, last_col: int) -> dict[int, int]:
    """Per column, the format a new cell gets: the column's own (<col style>), else the last body cell's."""
    styles: dict[int, int] = {}
    for m in _COL.finditer(sheet_xml):
        element = m.group(0)
        low, high, style = (re.search(rb'\b' + name + rb'="([0-9]+)"', element) for name in (b"min", b"max", b"style"))
        if low and high and style:
            for col in range(max(first_col, int(low.group(1))), min(last_col, int(high.group(1))) + 1):
                styles[col] = int(style.group(1))
    for _, row_xml in _rows(sheet_xml, header_end + 1, last_row):
        for col, cell in _cells(row_xml, first_col, last_col):
            sm = _STYLE.search(cell[: cell.index(b">") + 1])
            if sm and col not in styles:
                styles[col] = int(sm.group(1))
    return styles


__all__ = ["Appended", "append_rows", "table_columns"]
