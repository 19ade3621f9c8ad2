"""Read the structure of an .xlsx/.xlsm package: sheets, defined names, tables, formula cells.

Only what the recalculation needs is read, straight from the zip parts, without loading
cell values (the fast reader does that). Worksheets are scanned as bytes: a data sheet
without any `<f>` element is recognised in one pass over its decompressed stream and never
parsed; in a sheet with formulas only the `<c>` elements that hold a formula are parsed.
"""

from __future__ import annotations

import functools
import itertools
import os
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass
from typing import Literal, NamedTuple
from xml.etree import ElementTree as ET

from encaisse.errors import InputError, Problem, os_reason, shorten

NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "xda": "http://schemas.microsoft.com/office/spreadsheetml/2017/dynamicarray",
}
_R_ID = f"{{{NS['r']}}}id"

FormulaKind = Literal["normal", "array", "dynamic"]

# A formula element, as opposed to <filterColumn>, <firstFooter>, <fileVersion>...
_F_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
_CELL_START = re.compile(rb"<(?:\w+:)?c[\s>/]")
_CHUNK = 1 << 22


@dataclass(frozen=True)
class Sheet:
    name: str
    part: str  # zip member, e.g. "xl/worksheets/sheet1.xml"
    index: int


@dataclass(frozen=True)
class TableDef:
    """An Excel table (ListObject): its name, sheet, A1 range and column headers."""

    name: str
    sheet: str
    ref: str
    columns: tuple[str, ...]
    header_rows: int = 1
    totals_rows: int = 0

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """(first_col, first_row, last_col, last_row), 1-based, of the whole table."""
        return range_boundaries(self.ref)

    def column_index(self, header: str) -> int | None:
        wanted = header.strip().casefold()
        for i, column in enumerate(self.columns):
            if column.strip().casefold() == wanted:
                return i
        return None


class FormulaCell(NamedTuple):
    """One cell holding a formula; `text` has no leading '=' (as stored in the file). A named
    tuple: a calculated column has hundreds of thousands of them, made in a fraction of a
    microsecond each (a frozen dataclass takes microseconds)."""

    sheet: str
    ref: str  # "B3"
    row: int  # 1-based
    col: int  # 1-based
    text: str
    kind: FormulaKind = "normal"
    array_ref: str | None = None  # for array / dynamic-array formulas: the (spill) range

    @property
    def where(self) -> str:
        return f"{quote_sheet(self.sheet)}!{self.ref}"


_NAME_RANGE = re.compile(r"=?(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Za-z]{1,3})\$?([0-9]+)(?::\$?([A-Za-z]{1,3})\$?([0-9]+))?")


class DefinedName(NamedTuple):
    """A defined name of the workbook (DateArrete, SoldeBanque, a print area...)."""

    name: str  # as written in the workbook
    text: str  # what it refers to, without '=' (a range "Paramètres!$B$2", or any formula)
    scope: str | None  # the sheet of a sheet-local name; None for a workbook-wide one

    def range(self) -> tuple[str, int, int, int, int] | None:
        """(sheet as written in the name, first_col, first_row, last_col, last_row), 1-based, when
        the name designates one range of one sheet; None for any other formula."""
        m = _NAME_RANGE.fullmatch(self.text)
        if not m:
            return None
        c1, r1 = column_index_from_string(m.group(3).upper()), int(m.group(4))
        c2, r2 = (column_index_from_string(m.group(5).upper()), int(m.group(6))) if m.group(5) else (c1, r1)
        return (m.group(1) or "").replace("''", "'") or m.group(2), min(c1, c2), min(r1, r2), max(c1, c2), max(r1, r2)


@dataclass(frozen=True)
class Package:
    path: str
    sheets: tuple[Sheet, ...]
    defined_names: dict  # upper-cased name -> DefinedName (Excel's names are case-insensitive)
    tables: dict  # upper-cased table name -> TableDef
    members: tuple[str, ...]
    date1904: bool = False  # Excel's "1904 date system": serial 0 is 1904-01-01, not 1899-12-30
    workbook_part: str = "xl/workbook.xml"

    def sheet(self, name: str) -> Sheet | None:
        """The sheet of that name, whatever its case; also as a formula quotes it ('Cli''ents' -> Cli'ents)."""
        for candidate in dict.fromkeys((name, name.replace("''", "'"))):
            wanted = candidate.casefold()
            found = next((s for s in self.sheets if s.name.casefold() == wanted), None)
            if found is not None:
                return found
        return None

    def name_range(self, name: str) -> tuple[str, int, int, int, int] | None:
        """(sheet, first_col, first_row, last_col, last_row) of a defined name designating a range
        of one of the workbook's sheets (the sheet's name as the workbook spells it); else None."""
        entry = self.defined_names.get(name.upper())
        found = entry.range() if entry is not None else None
        sheet = self.sheet(found[0]) if found is not None else None
        return None if sheet is None else (sheet.name, *found[1:])


def quote_sheet(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) and not re.fullmatch(r"[A-Za-z]{1,3}[0-9]+", name):
        return name
    return "'" + name.replace("'", "''") + "'"


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_LETTER_COLUMN = 18278  # ZZZ: the farthest column three letters name (openpyxl's bound, kept)


# The column helpers written here with openpyxl's results (A..ZZZ in either case; ValueError for
# anything else, where openpyxl would also take a few non-ASCII letters that upper-case to ASCII):
# importing openpyxl costs a recalculation a tenth of a second on a quiet machine.
@functools.lru_cache(maxsize=None)
def get_column_letter(col: int) -> str:
    if not 1 <= col <= MAX_LETTER_COLUMN:
        raise ValueError(f"Invalid column index {col}")
    letters = ""
    while col:
        col, rest = divmod(col - 1, 26)
        letters = _LETTERS[rest] + letters
    return letters


@functools.lru_cache(maxsize=None)
def column_index_from_string(letters: str) -> int:
    if not (0 < len(letters) <= 3 and letters.isascii() and letters.isalpha()):
        raise ValueError(f"'{letters}' is not a valid column name. Column names are from A to ZZZ")
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - 64
    return index


# openpyxl's pattern for a range (A1, A1:B2, A:B, 1:2, with or without $), kept as it is.
_OPENPYXL_RANGE = re.compile(r"^[$]?(?P<min_col>[A-Za-z]{1,3})?[$]?(?P<min_row>\d+)?"
                             r"(:[$]?(?P<max_col>[A-Za-z]{1,3})?[$]?(?P<max_row>\d+)?)?$")


def range_boundaries(ref: str) -> tuple:
    """(first_col, first_row, last_col, last_row) of an A1 range, as openpyxl reads it (None for
    the side a whole-column or whole-row range leaves open; ValueError for anything else)."""
    m = _OPENPYXL_RANGE.match(ref)
    if not m:
        raise ValueError(f"{ref} is not a valid coordinate or range")
    min_col, min_row, sep, max_col, max_row = m.groups()
    if sep:
        cols, rows = (min_col, max_col), (min_row, max_row)
        if not (all(cols + rows) or all(cols) and not any(rows) or all(rows) and not any(cols)):
            raise ValueError(f"{ref} is not a valid coordinate or range")
    first_col = column_index_from_string(min_col) if min_col is not None else None
    first_row = int(min_row) if min_row is not None else None
    last_col = column_index_from_string(max_col) if max_col is not None else first_col
    last_row = int(max_row) if max_row is not None else first_row
    return first_col, first_row, last_col, last_row


MAX_ROWS, MAX_COLS = 1048576, 16384  # Excel's sheet size
_A1_RANGE = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})(?::\$?([A-Za-z]{1,3})\$?([0-9]{1,7}))?")


def range_bounds(ref: str) -> tuple[int, int, int, int] | None:
    """(first_col, first_row, last_col, last_row), 1-based, of an A1 cell or range inside Excel's
    sheet size (B3, A1:F100); None for any other text ("ZZZ", "A1:", "", A0, XFE1)."""
    m = _A1_RANGE.fullmatch(ref or "")
    if m is None:
        return None
    c1, r1 = column_index_from_string(m.group(1).upper()), int(m.group(2))
    c2, r2 = (column_index_from_string(m.group(3).upper()), int(m.group(4))) if m.group(3) else (c1, r1)
    if not (1 <= min(r1, r2) and max(r1, r2) <= MAX_ROWS and max(c1, c2) <= MAX_COLS):
        return None
    return min(c1, c2), min(r1, r2), max(c1, c2), max(r1, r2)


def cell_ref(row: int, col: int) -> str:
    return f"{get_column_letter(col)}{row}"


def split_ref(ref: str) -> tuple[int, int]:
    """'B3' -> (row 3, col 2)."""
    m = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?([0-9]+)", ref)
    if not m:
        raise ValueError(ref)
    return int(m.group(2)), column_index_from_string(m.group(1).upper())


# Bounds that only a hostile or broken file reaches: a part that inflates more than this ratio and
# beyond this size (a "zip bomb"), too many parts, or more XML in all than any workbook holds.
MAX_PARTS = 10_000
MAX_RATIO = 200
RATIO_FROM_BYTES = 64 << 20
MAX_TOTAL_BYTES = 4 << 30


def archive_problems(zf: zipfile.ZipFile, path: str) -> list[Problem]:
    """What makes the archive unsafe to inflate, from its directory alone (nothing is decompressed)."""
    infos = zf.infolist()
    if len(infos) > MAX_PARTS:
        return [Problem(str(path), f"archive de {len(infos)} parties (au plus {MAX_PARTS}) : ce n'est pas un classeur ordinaire")]
    problems = []
    total = 0
    for info in infos:
        total += info.file_size
        if info.flag_bits & 0x1:
            problems.append(Problem(f"{path} ({info.filename})", "partie chiffrée : enregistrez le classeur sans mot de passe"))
        elif info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            problems.append(Problem(f"{path} ({info.filename})", "méthode de compression non prise en charge : réenregistrez le classeur avec Excel"))
        elif info.file_size > RATIO_FROM_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            problems.append(Problem(f"{path} ({info.filename})", f"partie de {info.file_size >> 20} Mo une fois décompressée "
                                                                 f"pour {max(info.compress_size >> 10, 1)} Ko dans le fichier : taux de compression anormal, lecture refusée"))
    if not problems and total > MAX_TOTAL_BYTES:
        problems.append(Problem(str(path), f"{total >> 20} Mo une fois décompressé (au plus {MAX_TOTAL_BYTES >> 20} Mo) : lecture refusée"))
    return problems


_NOT_A_WORKBOOK = "fichier illisible : ce n'est pas un classeur Excel .xlsx/.xlsm"


def workbook_file_problem(path) -> Problem | None:
    """Why the file at `path` cannot be an Excel workbook, in French and naming it; None when it
    is a zip archive (what .xlsx and .xlsm are). Read from the file's first bytes, so that no
    library's English message ("Cannot detect file format", "Could not find EOCD") reaches the user."""
    path = str(path)
    try:
        with open(path, "rb") as stream:
            head = stream.read(8)
    except FileNotFoundError:
        return Problem(path, "fichier introuvable")
    except IsADirectoryError:
        return Problem(path, "c'est un dossier, pas un classeur Excel .xlsx/.xlsm")
    except PermissionError:
        if os.path.isdir(path):
            return Problem(path, "c'est un dossier, pas un classeur Excel .xlsx/.xlsm")
        return Problem(path, "lecture refusée (droits d'accès insuffisants)")
    except OSError as error:
        return Problem(path, f"lecture impossible ({os_reason(error)})")
    if not head:
        return Problem(path, "fichier vide : ce n'est pas un classeur Excel .xlsx/.xlsm")
    if head == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # OLE container: Excel 97-2003, or a password-protected workbook
        return Problem(path, "classeur Excel 97-2003 (.xls) ou protégé par mot de passe : enregistrez-le au format "
                             ".xlsx sans mot de passe (Fichier > Enregistrer sous) puis relancez")
    if not head.startswith(b"PK"):
        return Problem(path, _NOT_A_WORKBOOK)
    if not zipfile.is_zipfile(path):
        return Problem(path, "fichier illisible : classeur Excel endommagé ou incomplet (archive .xlsx tronquée)")
    return None


def open_reader(path, **options):
    """The fast reader (python-calamine) on the workbook at `path`. A name that is not UTF-8 (bytes
    of another encoding on Linux: b'caf\\xe9.xlsx') cannot reach it as a path, so the file is then
    handed over open."""
    import python_calamine as calamine

    name = os.fspath(path)
    try:
        name.encode("utf-8") if isinstance(name, str) else name.decode("utf-8")
    except UnicodeError:
        with open(name, "rb") as stream:
            return calamine.CalamineWorkbook.from_filelike(stream, **options)
    return calamine.CalamineWorkbook.from_path(os.fsdecode(name), **options)


def open_package(path: str, title: str = "Recalcul impossible") -> zipfile.ZipFile:
    """The workbook's zip archive, once it is known to be one and safe to inflate."""
    problem = workbook_file_problem(path)
    if problem is not None:
        raise InputError([problem], title=title)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise InputError([Problem(str(path), _NOT_A_WORKBOOK)], title=title) from None
    problems = archive_problems(archive, path)
    if problems:
        archive.close()
        raise InputError(problems, title="Classeur refusé")
    return archive


_ERROR_CELL = re.compile(rb'<(?:\w+:)?c\s[^>]*?\bt="e"[^>]*>(.*?)</(?:\w+:)?c>', re.S)
_ERROR_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
_CELL_REF = re.compile(rb'\br="([A-Z]{1,3})([0-9]{1,7})"')


def error_cells(zf: zipfile.ZipFile, member: str) -> dict[tuple[int, int], str]:
    """Cells stored as Excel errors (`t="e"`: #N/A, #DIV/0!…): (1-based row, 0-based column) -> error.

    The fast reader gives such a cell as an empty text; this names it. A chunk of the sheet is
    searched cell by cell only when it holds the marker at all.
    """
    found: dict[tuple[int, int], str] = {}
    with zf.open(member) as stream:
        for data, end in _chunks(stream, b"</c>"):
            _find_errors(data, end, found)
    return found


def error_cells_in(data: bytes) -> dict[tuple[int, int], str]:
    """`error_cells` of a sheet's XML already in memory."""
    found: dict[tuple[int, int], str] = {}
    _find_errors(data, len(data), found)
    return found


def _chunks(stream, boundary: bytes):
    """(data, end) for each piece of the stream, data[:end] ending after the last `boundary`
    (an element is never cut in two: what follows `end` starts the next piece)."""
    tail = b""
    while chunk := stream.read(_CHUNK):
        data = tail + chunk
        end = data.rfind(boundary)
        end = end + len(boundary) if end >= 0 else max(len(data) - 4096, 0)
        yield data, end
        tail = data[end:]
    if tail:
        yield tail, len(tail)


def _find_errors(data: bytes, end: int, found: dict) -> None:
    if b't="e"' not in data[:end]:
        return
    for cell in _ERROR_CELL.finditer(data, 0, end):
        ref = _CELL_REF.search(cell.group(0), 0, cell.start(1) - cell.start(0))
        value = _ERROR_VALUE.search(cell.group(1))
        if ref:
            row, col = int(ref.group(2)), column_index_from_string(ref.group(1).decode()) - 1
            found[(row, col)] = value.group(1).decode("utf-8", "replace").strip() if value else "#VALEUR!"


class SheetScan(NamedTuple):
    """What is checked before the fast reader reads a sheet: `problem`, why it must not
    (`extent_problem`), or None; `errors`, its cells stored as Excel errors (`error_cells`)."""

    problem: Problem | None
    errors: dict[tuple[int, int], str]


def scan_sheet(zf: zipfile.ZipFile, member: str, sheet: str) -> SheetScan:
    """`extent_problem` and `error_cells` in one pass over the sheet's XML (inflating a big sheet
    twice costs a tenth of a second more). A big sheet is searched for the addresses that could
    make its grid too big; only when one may be there is its extent worked out exactly."""
    if zf.getinfo(member).file_size <= SCAN_BYTES:
        return SheetScan(extent_problem(zf, member, sheet), error_cells(zf, member))
    found: dict[tuple[int, int], str] = {}
    far = False
    with zf.open(member) as stream:
        for data, end in _chunks(stream, b"</c>"):
            _find_errors(data, end, found)
            far = far or _far_addresses_possible(data, end)
    return SheetScan(extent_problem(zf, member, sheet) if far else None, found)


_ANY_ADDRESS = re.compile(rb'\sr="([A-Z]{0,3})([0-9]{1,9})"')  # a row's number or a cell's address
_ROW_ADDRESS = re.compile(rb'row r="([0-9]{1,9})"')
_WIDE_ADDRESS = re.compile(rb'\sr="([A-Z]{2,3})([0-9]{1,9})"')  # a cell past column Z
_DEEP_ADDRESS = re.compile(rb'\sr="[A-Z]([0-9]{7,9})"')  # a cell from row 1 000 000 on
SCAN_BYTES = 1 << 20  # a sheet up to this size is searched address by address
MAX_CELLS = 40_000_000  # the grid a reader allocates for one sheet: a million invoices on 12 columns stay far below


def used_extent(zf: zipfile.ZipFile, member: str) -> tuple[int, int]:
    """(last row, last column), 1-based, of the cells the sheet actually holds: the grid a reader
    allocates from A1. Its <dimension> is not trusted (a hand-made file may say anything).

    A sheet of up to a megabyte is searched address by address. A bigger one is searched only for
    the addresses that can make its grid big (a column past Z, a row from 1 000 000 on) and for its
    rows' numbers, in one pass over its stream; without any column past Z it counts as 26 columns.
    """
    rows = cols = 0
    if zf.getinfo(member).file_size <= SCAN_BYTES:
        data = zf.read(member)
        for letters, number in set(_ANY_ADDRESS.findall(data)):
            rows = max(rows, int(number))
            if letters:
                cols = max(cols, column_index_from_string(letters.decode()))
        return rows, cols
    wide = False
    tail = b""
    with zf.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            data = tail + chunk
            end = data.rfind(b">") + 1
            rows = max(rows, max(map(int, set(_ROW_ADDRESS.findall(data, 0, end))), default=0))
            if _far_addresses_possible(data, end):
                for number in set(_DEEP_ADDRESS.findall(data, 0, end)):
                    rows = max(rows, int(number))
                for letters, number in set(_WIDE_ADDRESS.findall(data, 0, end)):
                    wide = True
                    rows, cols = max(rows, int(number)), max(cols, column_index_from_string(letters.decode()))
            tail = data[end:][-64:]
    return rows, max(cols, 26) if not wide else cols


# What the two regexes above need before them: a literal start, which the regex engine looks
# for quickly, where theirs (a whitespace class) makes them try every byte — most of a second on
# a 30 MB sheet. It finds a superset (no whitespace required), which they then sort out.
_FAR_ADDRESS_HINT = re.compile(rb'r="(?:[A-Z](?:[A-Z]|[0-9]{7})|[0-9]{7})')


def _far_addresses_possible(data: bytes, end: int) -> bool:
    """Whether data[:end] may hold an address that _WIDE_ADDRESS or _DEEP_ADDRESS finds (a column
    past Z, a row from 1 000 000 on) or a row numbered from 1 000 000 on. Without any, a sheet's
    grid is at most 999 999 rows by 26 columns: within Excel's sheet and MAX_CELLS."""
    return _FAR_ADDRESS_HINT.search(data, 0, end) is not None


def extent_problem(zf: zipfile.ZipFile, member: str, sheet: str) -> Problem | None:
    """Why the fast reader must not read this sheet (naming its farthest cell): cells beyond Excel's
    sheet, or a grid from A1 to its farthest cell too big to allocate (one stray cell far away)."""
    return grid_problem(*used_extent(zf, member), sheet)


def grid_problem(rows: int, cols: int, sheet: str) -> Problem | None:
    """Why a grid from A1 to (rows, cols) must not be allocated for the sheet (see extent_problem)."""
    count = lambda n: f"{n:,}".replace(",", "\u202f")  # noqa: E731
    if rows > MAX_ROWS or cols > MAX_COLS:
        return Problem(quote_sheet(sheet), f"cellule au-delà des limites d'une feuille Excel (ligne {count(rows)}, colonne {count(cols)} ; "
                                           f"au plus {count(MAX_ROWS)} lignes et {count(MAX_COLS)} colonnes) : classeur endommagé")
    if rows * cols > MAX_CELLS:
        return Problem(f"{quote_sheet(sheet)}!{cell_ref(rows, cols)}",
                       f"zone utilisée de la feuille trop grande ({count(rows)} lignes × {count(cols)} colonnes) : "
                       f"une cellule isolée loin des données ? Supprimez les lignes et colonnes inutilisées")
    return None


def _parse(zf: zipfile.ZipFile, member: str, path: str) -> ET.Element:
    try:
        return ET.fromstring(zf.read(member))
    except KeyError:
        raise InputError([Problem(str(path), f"partie « {member} » absente du classeur")], title="Classeur corrompu") from None
    except ET.ParseError as error:
        line, column = error.position
        raise InputError([Problem(str(path), f"partie « {member} » illisible : XML mal formé (ligne {line}, colonne {column})")],
                         title="Classeur corrompu") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError):
        raise InputError([Problem(str(path), f"partie « {member} » illisible : archive endommagée (somme de contrôle ou "
                                             f"compression incorrecte)")], title="Classeur corrompu") from None


def _rels(zf: zipfile.ZipFile, part: str, path: str) -> dict[str, str]:
    """Relationship id -> target member for `part` (empty when it has no .rels)."""
    folder, name = posixpath.split(part)
    rels_member = posixpath.join(folder, "_rels", name + ".rels")
    if rels_member not in zf.NameToInfo:
        return {}
    root = _parse(zf, rels_member, path)
    out = {}
    for rel in root.findall("rel:Relationship", NS):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        out[rel.get("Id")] = member
    return out


def related_parts(zf: zipfile.ZipFile, part: str, path: str) -> dict[str, str]:
    """Relationship id -> the member `part` relates to (its .rels part read)."""
    return _rels(zf, part, path)


def read_package(path: str, title: str = "Recalcul impossible") -> Package:
    with open_package(path, title) as zf:
        members = tuple(zf.namelist())
        workbook_part = _main_part(zf, path)
        workbook = _parse(zf, workbook_part, path)
        rels = _rels(zf, workbook_part, path)
        sheets = []
        for i, el in enumerate(workbook.findall("m:sheets/m:sheet", NS)):
            part = rels.get(el.get(_R_ID))
            if part is None or part not in zf.NameToInfo:
                raise InputError([Problem(str(path), f"feuille « {el.get('name')} » : partie introuvable dans le classeur")],
                                 title="Classeur corrompu")
            sheets.append(Sheet(el.get("name"), part, i))
        names = _defined_names(workbook, [sheet.name for sheet in sheets], f"{path} ({workbook_part})")
        tables = {}
        for sheet in sheets:
            for member in _rels(zf, sheet.part, path).values():
                if re.search(r"/tables/[^/]+\.xml$", member) and member in zf.NameToInfo:
                    table = _read_table(zf, member, sheet.name, path)
                    tables[table.name.upper()] = table
        properties = workbook.find("m:workbookPr", NS)
        date1904 = properties is not None and properties.get("date1904", "0").lower() in ("1", "true")
        return Package(str(path), tuple(sheets), names, tables, members, date1904, workbook_part)


def read_defined_names(path) -> dict[str, DefinedName]:
    """Only the defined names of a workbook (upper-cased name -> DefinedName), without its tables."""
    with open_package(path) as zf:
        part = _main_part(zf, path)
        workbook = _parse(zf, part, path)
        return _defined_names(workbook, [el.get("name", "") for el in workbook.findall("m:sheets/m:sheet", NS)], f"{path} ({part})")


def _defined_names(workbook: ET.Element, sheet_names: list[str], where: str) -> dict[str, DefinedName]:
    """The one reading of workbook.xml's <definedNames>; a workbook-wide name wins over a
    sheet-local one of the same name. A sheet-local name whose sheet number is not one of the
    workbook's sheets is refused: taken for a workbook-wide name it could hide another."""
    names: dict[str, DefinedName] = {}
    problems = []
    for el in workbook.findall("m:definedNames/m:definedName", NS):
        local = el.get("localSheetId")
        name = el.get("name", "")
        scope = None
        if local is not None:
            if not (local.isascii() and local.isdigit() and int(local) < len(sheet_names)):
                problems.append(Problem(where, f"nom défini « {shorten(name)} » : localSheetId « {shorten(local)} » n'est pas un numéro "
                                               f"de feuille (entier de 0 à {len(sheet_names) - 1} attendu)"))
                continue
            scope = sheet_names[int(local)]
        if name and (scope is None or name.upper() not in names):
            names[name.upper()] = DefinedName(name, (el.text or "").strip(), scope)
    if problems:
        raise InputError(problems, title="Classeur corrompu")
    return names


def _main_part(zf: zipfile.ZipFile, path: str) -> str:
    if "_rels/.rels" in zf.NameToInfo:
        root = _parse(zf, "_rels/.rels", path)
        for rel in root.findall("rel:Relationship", NS):
            if rel.get("Type", "").endswith("/officeDocument"):
                member = rel.get("Target", "").lstrip("/")
                if member in zf.NameToInfo:
                    return member
    if "xl/workbook.xml" in zf.NameToInfo:
        return "xl/workbook.xml"
    raise InputError([Problem(str(path), "partie xl/workbook.xml absente : ce n'est pas un classeur Excel")],
                     title="Classeur corrompu")


def _read_table(zf: zipfile.ZipFile, member: str, sheet: str, path: str) -> TableDef:
    """A table part, checked: a structured reference is translated from its range, header and
    totals rows and columns, so that a part Excel would not open gives a message, not a wrong range."""
    root = _parse(zf, member, path)
    where = f"{path} ({member})"
    name = root.get("displayName") or root.get("name")
    what = f"tableau « {shorten(name)} »" if name else "tableau"
    columns = tuple(c.get("name", "") for c in root.findall("m:tableColumns/m:tableColumn", NS))
    problems = []
    if not name:
        problems.append(Problem(where, "tableau sans nom (attribut displayName ou name attendu)"))
    ref = root.get("ref")
    bounds = range_bounds(ref) if ref is not None else None
    if bounds is None:
        shown = "absente" if ref is None else f"« {shorten(ref)} » illisible"
        problems.append(Problem(where, f"{what} : plage {shown} (attribut ref attendu, une plage A1 comme « A1:F100 »)"))
    counts = {}
    for attribute, default in (("headerRowCount", "1"), ("totalsRowCount", "0")):
        text = root.get(attribute, default)
        if not (text.isascii() and text.isdigit() and len(text) <= 7):
            problems.append(Problem(where, f"{what} : {attribute} « {shorten(text)} » n'est pas un nombre entier de lignes"))
        else:
            counts[attribute] = int(text)
    if bounds is not None and len(counts) == 2:
        c1, r1, c2, r2 = bounds
        if counts["headerRowCount"] + counts["totalsRowCount"] > r2 - r1 + 1:
            problems.append(Problem(where, f"{what} : {counts['headerRowCount']} ligne(s) d'en-tête et {counts['totalsRowCount']} de "
                                           f"total pour une plage « {ref} » de {r2 - r1 + 1} ligne(s)"))
        if len(columns) != c2 - c1 + 1:
            problems.append(Problem(where, f"{what} : {len(columns)} colonne(s) décrite(s) pour une plage « {ref} » de {c2 - c1 + 1} colonne(s)"))
    if problems:
        raise InputError(problems, title="Classeur corrompu")
    return TableDef(name=name, sheet=sheet, ref=ref, columns=columns,
                    header_rows=counts["headerRowCount"], totals_rows=counts["totalsRowCount"])


def has_formulas(zf: zipfile.ZipFile, member: str, limit: int | None = None) -> bool:
    """Scan a worksheet's stream for a formula element without keeping it in memory (only its
    first `limit` bytes, uncompressed, when given)."""
    try:
        return _has_formulas(zf, member, limit)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):  # as `_parse` names them
        raise InputError([Problem(str(zf.filename), f"partie « {member} » illisible : archive endommagée (somme de contrôle "
                                                    f"ou compression incorrecte)")], title="Classeur corrompu") from None


def _has_formulas(zf: zipfile.ZipFile, member: str, limit: int | None) -> bool:
    tail = b""
    prefixed = None
    size = _CHUNK if limit is None else min(_CHUNK, limit)
    read = 0
    with zf.open(member) as stream:
        while (limit is None or read < limit) and (chunk := stream.read(size)):
            read += len(chunk)
            data = tail + chunk
            if prefixed is None:  # <x:worksheet ...>: elements carry a namespace prefix
                prefixed = re.search(rb"<\w+:worksheet\b", data[:4096]) is not None
            if prefixed:
                if _F_TAG.search(data):
                    return True
            else:
                pos = data.find(b"<f")  # memchr-fast; the regex only checks the hits
                while pos >= 0:
                    if data[pos + 2:pos + 3] in (b" ", b">", b"/"):
                        return True
                    pos = data.find(b"<f", pos + 2)
            tail = chunk[-8:]
    return False


def dynamic_cell_metadata(zf: zipfile.ZipFile, path: str) -> set[int]:
    """The `cm` indexes (1-based) of cell metadata records that mark a dynamic-array formula."""
    member = next((m for m in zf.namelist() if m.endswith("metadata.xml") and m.startswith("xl/")), None)
    if member is None:
        return set()
    root = _parse(zf, member, path)
    types = [t.get("name") for t in root.findall("m:metadataTypes/m:metadataType", NS)]
    future = root.find("m:futureMetadata[@name='XLDAPR']", NS)
    dynamic_bk = []
    if future is not None:
        for bk in future.findall("m:bk", NS):
            props = bk.find(".//xda:dynamicArrayProperties", NS)
            dynamic_bk.append(props is not None and props.get("fDynamic") in ("1", "true"))
    out = set()
    for i, bk in enumerate(root.findall("m:cellMetadata/m:bk", NS), start=1):
        rc = bk.find("m:rc", NS)
        if rc is None:
            continue
        t, v = int(rc.get("t", "0")), int(rc.get("v", "0"))
        if 0 < t <= len(types) and types[t - 1] == "XLDAPR" and v < len(dynamic_bk) and dynamic_bk[v]:
            out.add(i)
    return out


def cell_spans(data: bytes):
    """Yield (start, end) of every `<c>` element that contains a formula, in document order."""
    pos = 0
    while m := _F_TAG.search(data, pos):
        start = data.rfind(b"<c ", 0, m.start())
        # a bare <c> can only be nearer than the last "<c ": searching further back would make the
        # scan quadratic in the number of formulas (writers that never write <c>)
        start = max(start, data.rfind(b"<c>", max(start, 0), m.start()))
        if start < 0:
            prefixed = [m2.start() for m2 in _CELL_START.finditer(data, max(0, m.start() - 4096), m.start())]
            start = prefixed[-1] if prefixed else -1
        end = data.find(b"</c>", m.end())
        if start < 0 or end < 0:
            pos = m.end()
            continue
        end += len(b"</c>")
        yield start, end
        pos = end


MAX_FORMULA_CHARS = 8192  # Excel's own limit on a formula's length
MAX_ARRAY_CELLS = MAX_ROWS  # a legacy array formula over at most one whole column's worth of cells
_FORMULA_KINDS = ("normal", "shared", "array", "dataTable")
# A cell of a shared formula other than its first, as Excel writes it: <c r="B5" s="3"><f t="shared"
# si="0"/><v>2</v></c>. Matched whole, it needs no parsing; any other form goes through the parser.
_SHARED_CHILD = re.compile(rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"[^<>/]*><f t="shared" si="([0-9]{1,9})"/>(?:<v>[^<]*</v>)?</c>')
_CELL_ADDRESS = re.compile(rb'\br="([^"]{0,20})"')


def read_formulas(data: bytes, sheet: str, dynamic_cm: set[int], part: str = "",
                  plain: PlainFormulas | None = None) -> list[FormulaCell]:
    """Every formula cell of one worksheet (shared formulas expanded), from its XML bytes.

    Raises InputError naming each cell Excel itself would not open: a formula cell that is not
    well-formed XML, without a valid address, of an unknown kind, a shared formula without a
    whole-number `si` or without its first formula, an array formula whose range is not an A1
    range holding its cell or is bigger than a column, a formula longer than Excel allows.
    `plain`: the sheet's `plain_formulas`, when already found.
    """
    fast, count = _plain_formulas(data, sheet, plain)
    if len(fast) == count:
        return [cell for _, cell in fast]
    done = {start for start, _ in fast}
    cells: list[tuple[int, FormulaCell]] = list(fast)
    problems: list[Problem] = []
    shared: dict[int, tuple[str, str] | MovedFormula] = {}  # si -> (master ref, master text), tokenised once needed
    quoted = quote_sheet(sheet)
    in_sheet = f"{quoted} ({part})" if part else quoted
    for start, end in cell_spans(data):
        if start in done:
            continue
        raw = data[start:end]
        child = _SHARED_CHILD.fullmatch(raw)
        if child is not None and int(child.group(3)) in shared:
            # A cell of a shared formula as Excel writes it: its text is its master's, moved.
            col, row = column_index_from_string(child.group(1).decode()), int(child.group(2))
            if col <= MAX_COLS and row <= MAX_ROWS:
                master = shared[int(child.group(3))]
                if not isinstance(master, MovedFormula):
                    try:
                        master = shared[int(child.group(3))] = MovedFormula(*master)
                    except ValueError:
                        master = None  # named by the general path below
                if master is not None:
                    ref = (child.group(1) + child.group(2)).decode()
                    cells.append((start, FormulaCell(sheet, ref, row, col, master.at(row, col))))
                    continue
        address = _CELL_ADDRESS.search(raw[:raw.find(b">") + 1])
        shown = address.group(1).decode("utf-8", "replace") if address else None
        where = f"{quoted}!{shorten(shown, 20)}" if shown else in_sheet
        try:
            element = _cell_element(raw)
        except ET.ParseError:
            problems.append(Problem(where, "cellule à formule illisible : XML mal formé"))
            continue
        f = element.find("{*}f")
        if f is None:
            continue
        ref = element.get("r")
        if ref is None:
            problems.append(Problem(in_sheet, "cellule à formule sans adresse (attribut r attendu, comme « B3 »)"))
            continue
        bounds = range_bounds(ref)
        if bounds is None or bounds[:2] != bounds[2:]:
            problems.append(Problem(in_sheet, f"cellule à formule d'adresse « {shorten(ref, 20)} » invalide (attendu une cellule de A1 à XFD1048576)"))
            continue
        col, row = bounds[:2]
        ref = cell_ref(row, col)
        where = f"{quoted}!{ref}"
        t = f.get("t", "normal")
        text = f.text or ""
        if t not in _FORMULA_KINDS:
            problems.append(Problem(where, f"formule de type « {shorten(t, 20)} » inconnu (attendu : {', '.join(_FORMULA_KINDS)})"))
            continue
        if len(text) > MAX_FORMULA_CHARS:
            problems.append(Problem(where, f"formule de {len(text):,} caractères : Excel en admet au plus {MAX_FORMULA_CHARS:,}".replace(",", "\u202f")))
            continue
        kind: FormulaKind = "normal"
        array_ref = None
        if t == "shared":
            si = f.get("si")
            if si is None or not (si.isascii() and si.isdigit() and len(si) <= 9):
                shown_si = "absent" if si is None else f"« {shorten(si, 20)} »"
                problems.append(Problem(where, f"formule partagée (t=\"shared\") de numéro si {shown_si} : un nombre entier est attendu"))
                continue
            number = int(si)
            if f.get("ref") is not None or number not in shared:
                if not text.strip():
                    problems.append(Problem(where, f"formule partagée si={number} sans sa formule (la première cellule du partage doit la porter)"))
                    continue
                shared[number] = (ref, text)
            else:
                master = shared[number]
                if not isinstance(master, MovedFormula):
                    try:
                        master = shared[number] = MovedFormula(*master)
                    except ValueError:  # openpyxl's tokenizer refuses the text (an unbalanced parenthesis...)
                        problems.append(Problem(where, f"formule partagée si={number} illisible : « ={shorten(master[1], 60)} »"))
                        continue
                text = master.at(row, col)
        elif t == "array":
            cm = element.get("cm")
            dynamic = cm is not None and cm.isascii() and cm.isdigit() and int(cm) in dynamic_cm
            kind = "dynamic" if dynamic else "array"
            array_ref = f.get("ref") or ref
            spread = range_bounds(array_ref)
            if spread is None or spread[:2] != (col, row):
                problems.append(Problem(where, f"formule matricielle de plage « {shorten(array_ref, 40)} » invalide "
                                               f"(attendu une plage A1 commençant à {ref}, comme « {ref}:{cell_ref(row + 9, col)} »)"))
                continue
            cells_spread = (spread[2] - spread[0] + 1) * (spread[3] - spread[1] + 1)
            if cells_spread > MAX_ARRAY_CELLS:
                problems.append(Problem(where, f"formule matricielle sur « {shorten(array_ref, 40)} » ({cells_spread:,} cellules ; "
                                               f"au plus {MAX_ARRAY_CELLS:,}) : réduisez sa plage".replace(",", "\u202f")))
                continue
        elif t == "dataTable":
            continue  # what-if data tables are computed by Excel itself; left as they are
        elif not text.strip():
            continue  # an empty <f ca="1"/>: Excel marks so the spilled cells of a volatile dynamic array
        cells.append((start, FormulaCell(sheet, ref, row, col, text, kind, array_ref)))
    if problems:
        raise InputError(problems, title="Classeur corrompu")
    cells.sort(key=lambda item: item[0])
    return [cell for _, cell in cells]


# A plain formula cell as Excel and XlsxWriter write one down a column: <c r="F2" s="1"><f>E2*2</f>
# <v>0</v></c>, a formula element without attribute and well-formed text. One regex over the sheet
# finds them all; every other formula cell (shared, array, prefixed, odd) goes through the parser.
# (Possessive quantifiers: a cell without formula is given up at its <v>, without backtracking.)
PLAIN_FORMULA_CELL = re.compile(rb'<c r="([A-Z]{1,3})([1-9][0-9]{0,6})"([^<>/]*+)>(<f>[^<\r]++</f>)(?:<v>[^<]*+</v>)?</c>')
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"))


@functools.lru_cache(maxsize=None)
def _formula_tokenizer():
    """openpyxl's formula tokenizer module. It imports nothing but `re`: it is loaded from its file
    without the openpyxl package, whose import (workbook, reader, writer, styles...) costs a
    recalculation of a book with shared formulas a sixth of a second; imported as usual when it
    cannot be (openpyxl not installed as files)."""
    import importlib.util
    import sys

    loaded = sys.modules.get("openpyxl.formula.tokenizer")
    if loaded is not None:
        return loaded
    try:
        package = importlib.util.find_spec("openpyxl")
        path = os.path.join(os.path.dirname(package.origin), "formula", "tokenizer.py")
        spec = importlib.util.spec_from_file_location("encaisse_openpyxl_tokenizer", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    except (ImportError, AttributeError, TypeError, OSError):
        import openpyxl.formula.tokenizer

        return openpyxl.formula.tokenizer


class MovedFormula:
    """A formula written for one cell, as it reads in another: its relative references moved by
    the offset between the two cells (a shared formula's cells, a defined name used in a cell),
    as Excel moves a copied formula and openpyxl's `Translator` does. The text is tokenised once
    (by openpyxl's tokenizer: what is a reference, a name, a string); each cell then only writes
    the moved row numbers and column letters. A reference moved off the sheet becomes #REF!, as
    Excel shows it."""

    # The references openpyxl's Translator moves, with the same patterns (A1:B2 is moved end by end).
    _ROWS = re.compile(r"(\$?)([1-9][0-9]{0,6}):(\$?)([1-9][0-9]{0,6})$")
    _COLUMNS = re.compile(r"(\$?)([A-Za-z]{1,3}):(\$?)([A-Za-z]{1,3})$")
    _CELL = re.compile(r"(\$?)([A-Za-z]{1,3})(\$?)([1-9][0-9]{0,6})$")

    def __init__(self, origin: str, text: str):
        tokenizer = _formula_tokenizer()
        Token, Tokenizer = tokenizer.Token, tokenizer.Tokenizer  # noqa: N806 — openpyxl's classes

        self.row, self.col = split_ref(origin)
        # Each piece: a text kept as is, or a reference as a list of parts, each a text kept as is,
        # ("r", row) a relative row, or ("c", column) a relative column.
        self.pieces: list = []
        try:
            tokens = Tokenizer("=" + text).items
        except Exception as error:  # openpyxl's TokenizerError and bare errors on odd texts
            raise ValueError(str(error)) from None
        for token in tokens:
            if token.type == Token.OPERAND and token.subtype == Token.RANGE:
                parts = self._reference(token.value)
                self.pieces.append(parts if any(isinstance(p, tuple) for p in parts) else token.value)
            else:
                self.pieces.append(token.value)

    def _reference(self, text: str) -> list:
        sheet, _, ref = text.rpartition("!")
        parts = [sheet + "!"] if sheet else []
        if m := self._ROWS.match(ref):
            parts += [*self._row(*m.group(1, 2)), ":", *self._row(*m.group(3, 4))]
        elif m := self._COLUMNS.match(ref):
            parts += [*self._column(*m.group(1, 2)), ":", *self._column(*m.group(3, 4))]
        elif ":" in ref:
            for i, end in enumerate(ref.split(":")):
                parts += ([":"] if i else []) + self._reference(end)
        elif m := self._CELL.match(ref):
            parts += [*self._column(*m.group(1, 2)), *self._row(*m.group(3, 4))]
        else:
            parts.append(ref)  # a name
        return parts

    @staticmethod
    def _row(fixed: str, digits: str) -> list:
        return [fixed + digits] if fixed else [("r", int(digits))]

    @staticmethod
    def _column(fixed: str, letters: str) -> list:
        return [fixed + letters] if fixed else [("c", column_index_from_string(letters.upper()))]

    def at(self, row: int, col: int, off_sheet: str | None = "#REF!") -> str:
        """The formula text (without "=") as it reads in the cell (row, col); a reference moved
        off the sheet is written `off_sheet`, or raises ValueError when it is None."""
        down, right = row - self.row, col - self.col
        out = []
        for piece in self.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            moved = []
            for part in piece:
                if isinstance(part, str):
                    moved.append(part)
                elif part[0] == "r":
                    if part[1] + down < 1:
                        break
                    moved.append(str(part[1] + down))
                elif 1 <= part[1] + right <= _MAX_LETTERS:
                    moved.append(get_column_letter(part[1] + right))
                else:
                    break
            else:
                out.append("".join(moved))
                continue
            if off_sheet is None:
                raise ValueError(f"référence hors de la feuille une fois déplacée en {cell_ref(row, col)}")
            out.append(off_sheet)
        return "".join(out)


_MAX_LETTERS = 18278  # ZZZ: the last column three letters can write


def _count_formula_tags(data: bytes, plain: int | None = None) -> int:
    """How many formula elements the sheet holds (`plain`: how many plain ones were found, which
    one count of "<f" confirms when the sheet has no other element starting so)."""
    if re.search(rb"<\w+:worksheet\b", data[:4096]) is None:  # no prefix: bytes counted, without a regex
        if plain is not None and data.count(b"<f") == plain:
            return plain
        return sum(data.count(b"<f" + end) for end in (b">", b"/", b" ", b"\t", b"\n", b"\r"))
    return len(_F_TAG.findall(data))


class PlainFormulas(NamedTuple):
    """The plain formula cells of a sheet (those PLAIN_FORMULA_CELL matches), in sheet order, as
    offsets into its XML `data`, without a FormulaCell each: `starts` (the "<c"), `attrs` (its
    attributes after r="…"), `opens` (the "<f>"), `closes` (after "</f>"), `ends` (after "</c>");
    `rows` and `cols` their addresses, `texts` their formulas (entities replaced; None when one
    needs the XML parser), `count` the formula elements of the sheet in all (more than the plain
    ones: shared, array...), `valid` whether every one is plain and needs no more checking
    (address in the sheet, text neither empty nor longer than Excel allows). The splice writes the
    new values between these offsets."""

    data: bytes
    starts: "np.ndarray"
    attrs: "np.ndarray"
    opens: "np.ndarray"
    closes: "np.ndarray"
    ends: "np.ndarray"
    rows: list[int]
    cols: list[int]
    texts: list[str] | None
    count: int
    valid: bool


def plain_formulas(data: bytes) -> PlainFormulas:
    """The plain formula cells of a sheet's XML (see PlainFormulas): where PLAIN_FORMULA_CELL
    matches, found with a few numpy passes over the bytes (the regex, tried at every "<c", takes
    most of a second on a 100 000-row sheet)."""
    starts, attrs, opens, closes, ends, rows, cols, raw_texts, tags = _plain_offsets(data)
    # elements written <x:f>: counted by the regex
    count = _count_formula_tags(data) if re.search(rb"<\w+:worksheet\b", data[:4096]) else tags
    rows, cols = rows.tolist(), cols.tolist()
    if not rows:
        return PlainFormulas(data, starts, attrs, opens, closes, ends, [], [], [], count, count == 0)
    texts = _formula_texts(raw_texts)
    valid = (texts is not None and len(rows) == count and max(rows) <= MAX_ROWS and max(cols) <= MAX_COLS
             and max(map(len, texts)) <= MAX_FORMULA_CHARS and all(map(str.strip, texts)))
    return PlainFormulas(data, starts, attrs, opens, closes, ends, rows, cols, texts, count, valid)


def _plain_offsets(data: bytes):
    """(starts, attrs, opens, closes, ends, rows, cols) of the cells PLAIN_FORMULA_CELL matches in
    `data`, as numpy arrays (see PlainFormulas), their formula texts as stored (bytes), and how
    many formula elements it holds in all (unprefixed: <f>, <f/>, <f t=…>). Found from the bytes
    "f" of the sheet — in its XML nearly all in <f> and </f> —: each "<f>" is taken with the last
    "<" before it (its cell's start tag), the first "</f>" after it, and what follows (</c>, or
    <v>…</v></c>), and kept when the bytes are what the regex asks, checked for all at once."""
    import numpy as np

    size = len(data)
    none = np.empty(0, dtype=np.int64)
    # (a few bytes, padded: the windows below read from position 0 to _START_TAG_WINDOW)
    b = np.frombuffer(data if size >= _START_TAG_WINDOW else data.ljust(_START_TAG_WINDOW, b"\x00"), dtype=np.uint8)
    f = np.flatnonzero(b[:size] == 0x66)
    f = f[(f >= 1) & (f <= size - 2)]
    before, after = b[f - 1], b[f + 1]
    opening = before == 0x3C
    tags = int(np.count_nonzero(opening & np.isin(after, (0x3E, 0x2F, 0x20, 0x09, 0x0A, 0x0D))))
    opens = f[opening & (after == 0x3E)] - 1  # "<f>"
    closers = f[(before == 0x2F) & (b[np.maximum(f - 2, 0)] == 0x3C) & (after == 0x3E) & (f >= 2)] - 2  # "</f>"
    if not len(opens):
        return none, none, none, none, none, none, none, [], tags
    last = size - 1
    index = np.int32 if size < 2**31 - 64 else np.int64  # smaller windows of positions: faster gathers
    # the cell's start tag: the last "<" before <f> (searched in the bytes just before, then, for
    # a long start tag, one by one)
    near = opens >= _START_TAG_WINDOW
    window = b[np.where(near, opens, _START_TAG_WINDOW).astype(index)[:, None] + np.arange(-_START_TAG_WINDOW, 0, dtype=index)]
    is_lt = window == 0x3C
    starts = opens - 1 - np.argmax(is_lt[:, ::-1], axis=1)
    for i in np.flatnonzero(~(is_lt.any(axis=1) & near)).tolist():
        starts[i] = data.rfind(b"<", 0, int(opens[i]))
    ok = (starts >= 0) & (b[opens - 1] == 0x3E)
    starts = np.maximum(starts, 0)
    for j, char in enumerate(b'<c r="'):
        ok &= b[np.minimum(starts + j, last)] == char
    valid, length, rows, cols = cell_addresses(b, starts + 6)
    ok &= valid
    attrs = starts + 6 + length
    ok &= attrs <= opens - 1
    ok &= _no_tag_bytes(data, b, attrs, opens - 1)  # the attributes: neither ">" nor "/"
    # </f>: the first after <f>, with at least one character between (the text is checked below)
    at = np.searchsorted(closers, opens + 3)
    closes = np.append(closers, size)[at]
    ok &= (closes < size) & (closes > opens + 3)
    after_f = np.minimum(closes + 4, last)
    following = b[np.minimum(after_f[:, None] + np.arange(4), last)]
    bare = (following[:, 0] == 0x3C) & (following[:, 1] == 0x2F) & (following[:, 2] == 0x63) & (following[:, 3] == 0x3E)
    valued = (following[:, 0] == 0x3C) & (following[:, 1] == 0x76) & (following[:, 2] == 0x3E)
    # <v>…</v></c>: the value's end is the first "<" after <v> (searched just after, then one by one)
    window = b[np.minimum((after_f + 3).astype(index)[:, None] + np.arange(_VALUE_WINDOW, dtype=index), last)] == 0x3C
    value_end = after_f + 3 + np.argmax(window, axis=1)
    for i in np.flatnonzero(valued & ~window.any(axis=1)).tolist():
        value_end[i] = data.find(b"<", int(after_f[i]) + 3)
    value_end = np.where(value_end < 0, last, value_end)
    tail = b[np.minimum(value_end[:, None] + np.arange(8), last)]
    valued &= (tail == np.frombuffer(b"</v></c>", dtype=np.uint8)).all(axis=1)
    ok &= bare | valued
    ends = np.where(bare, after_f + 4, value_end + 8)
    keep = np.flatnonzero(ok)
    # the text: neither "<" (the next "<" after <f> is its </f>) nor "\r"
    texts = list(map(data.__getitem__, map(slice, (opens[keep] + 3).tolist(), closes[keep].tolist())))
    joined = b"".join(texts)
    if b"<" in joined or b"\r" in joined:
        plain = [i for i, text in enumerate(texts) if b"<" not in text and b"\r" not in text]
        keep, texts = keep[plain], [texts[i] for i in plain]
    return (starts[keep].astype(np.int64), attrs[keep].astype(np.int64), opens[keep].astype(np.int64),
            (closes[keep] + 4).astype(np.int64), ends[keep].astype(np.int64), rows[keep], cols[keep], texts, tags)


_START_TAG_WINDOW = 32  # bytes before a <f> searched for its cell's "<": <c r="L100001" s="12" t="str"> and less
_VALUE_WINDOW = 24  # bytes after a <v> searched for its "</v>": a number, an error, a short text


def cell_addresses(b, at):
    """For each position in `at` of the padded bytes `b` (just after a cell's r="): whether an
    address is there — one to three capitals, one to seven digits not starting with 0, then the
    closing quote — and (its length with the quote, its 1-based row, its 1-based column), as numpy
    arrays (meaningless where not valid)."""
    import numpy as np

    index = np.int32 if len(b) < 2**31 - 64 else np.int64
    window = b[np.minimum(at.astype(index)[:, None] + np.arange(12, dtype=index), len(b) - 1)]
    letters = np.minimum(np.argmin((window >= 65) & (window <= 90), axis=1), 4)
    each = np.arange(len(at))
    after = window[each[:, None], letters[:, None] + np.arange(8)]
    digits = np.argmin((after >= 48) & (after <= 57), axis=1)
    valid = ((letters >= 1) & (letters <= 3) & (digits >= 1) & (digits <= 7) & (after[:, 0] != 0x30)
             & (window[each, letters + digits] == 0x22))
    cols = np.zeros(len(at), dtype=np.int64)
    rows = np.zeros(len(at), dtype=np.int64)
    for j in range(3):
        cols = np.where(j < letters, cols * 26 + window[:, j].astype(np.int64) - 64, cols)
    for j in range(7):
        rows = np.where(j < digits, rows * 10 + after[:, j].astype(np.int64) - 48, rows)
    return valid, letters + digits + 1, rows, cols


_ATTRIBUTES_WINDOW = 32  # bytes: ' s="12" t="str"' and the like; longer ones checked one by one


def _no_tag_bytes(data: bytes, b, start, end):
    """For each [start, end) of `data` (`b` its bytes, padded), whether it holds neither ">" nor "/"."""
    import numpy as np

    length = end - start
    ok = np.ones(len(start), dtype=bool)
    some = np.flatnonzero(length > 0)
    if len(some):
        window = b[np.minimum(start[some][:, None] + np.arange(_ATTRIBUTES_WINDOW), len(b) - 1)]
        inside = np.arange(_ATTRIBUTES_WINDOW) < length[some][:, None]
        ok[some] = ~(((window == 0x3E) | (window == 0x2F)) & inside).any(axis=1)
    for i in np.flatnonzero(length > _ATTRIBUTES_WINDOW).tolist():  # long attribute lists: rare
        part = data[start[i]:end[i]]
        ok[i] = b">" not in part and b"/" not in part
    return ok


_FORMULA_TEXT = re.compile(rb"<(?:\w+:)?f(?:\s[^>]*)?>([^<]*)</(?:\w+:)?f>")


def formula_texts(data: bytes) -> list[str] | None:
    """The texts of the formula elements in some of a sheet's XML, maybe cut anywhere (a shared
    formula's first cell gives its text, the others none); None when one is not plain text."""
    texts = _FORMULA_TEXT.findall(data)
    return _formula_texts(texts) if texts else []


def _formula_texts(texts: list[bytes]) -> list[str] | None:
    """Formula texts as stored between <f> and </f>, decoded and their entities replaced all at
    once (joined by a character no formula holds); None when one is not XML 1.0 or holds a numeric
    character reference: the parser decides."""
    try:
        joined = b"\x00".join(texts).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if joined.count("\x00") != len(texts) - 1 or "\x01" in joined:
        return None  # not XML 1.0: the parser names the cell
    if "&" in joined:
        for entity, char in _ENTITIES:
            joined = joined.replace(entity, char)
        joined = joined.replace("&amp;", "\x01")  # a control character, which no formula text holds either
        if "&" in joined:
            return None  # a numeric character reference, or not XML: the parser decides
        joined = joined.replace("\x01", "&")
    return joined.split("\x00")


def _plain_formulas(data: bytes, sheet: str, plain: PlainFormulas | None = None) -> tuple[list[tuple[int, FormulaCell]], int]:
    """((position, cell) of the plain formula cells of a sheet (see PLAIN_FORMULA_CELL) whose
    address and text need no more checking, the number of formula elements of the sheet); the
    others are left to `read_formulas`. The position is the cell's offset in the sheet, or its
    rank when they are all the sheet's formulas."""
    plain = plain_formulas(data) if plain is None else plain
    if not plain.rows or plain.texts is None:
        return [], plain.count
    refs = [get_column_letter(col) + str(row) for row, col in zip(plain.rows, plain.cols)]
    if plain.valid:
        # Every formula of the sheet is plain: the checks made on whole lists, the cells made at once.
        return list(enumerate(map(FormulaCell, itertools.repeat(sheet), refs, plain.rows, plain.cols, plain.texts))), plain.count
    out = []
    for i, (ref, row, col, text) in enumerate(zip(refs, plain.rows, plain.cols, plain.texts)):
        if col > MAX_COLS or row > MAX_ROWS or len(text) > MAX_FORMULA_CHARS or not text.strip():
            continue
        out.append((i, FormulaCell(sheet, ref, row, col, text)))
    if len(out) == len(plain.rows) == plain.count:
        return out, plain.count  # every formula of the sheet: no order to merge with the parser's
    starts = plain.starts.tolist()
    return [(starts[i], cell) for i, cell in out], plain.count


def _cell_element(raw: bytes) -> ET.Element:
    # The fragment lacks its namespace declarations; strip any prefix so it parses alone.
    raw = re.sub(rb"<(/?)\w+:", rb"<\1", raw)
    return ET.fromstring(raw)
