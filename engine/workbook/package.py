"""Read the structure of an .xlsx/.xlsm package: sheets, defined names, tables, formula cells.

Only what the recalculation needs is read, straight from the zip parts, without loading
cell values (the fast reader does that). Worksheets are scanned as bytes: a data sheet
without any `<f>` element is recognised in one pass over its decompressed stream and never
parsed; in a sheet with formulas only the `<c>` elements that hold a formula are parsed.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass
from typing import Literal
from xml.etree import ElementTree as ET

from encaisse.errors import InputError, Problem

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


@dataclass(frozen=True)
class FormulaCell:
    """One cell holding a formula; `text` has no leading '=' (as stored in the file)."""

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


@dataclass(frozen=True)
class Package:
    path: str
    sheets: tuple[Sheet, ...]
    defined_names: dict  # upper-cased name -> (name, formula text, local sheet name or None)
    tables: dict  # upper-cased table name -> TableDef
    members: tuple[str, ...]
    date1904: bool = False  # Excel's "1904 date system": serial 0 is 1904-01-01, not 1899-12-30
    workbook_part: str = "xl/workbook.xml"

    def sheet(self, name: str) -> Sheet | None:
        wanted = name.casefold()
        return next((s for s in self.sheets if s.name.casefold() == wanted), None)


def quote_sheet(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) and not re.fullmatch(r"[A-Za-z]{1,3}[0-9]+", name):
        return name
    return "'" + name.replace("'", "''") + "'"


# openpyxl's reference helpers, imported on first use: `encaisse recalc` starts reading the
# largest sheet before openpyxl (a twentieth of a second) has loaded.
def get_column_letter(col: int) -> str:
    from openpyxl.utils.cell import get_column_letter as letters

    return letters(col)


def column_index_from_string(letters: str) -> int:
    from openpyxl.utils.cell import column_index_from_string as index

    return index(letters)


def range_boundaries(ref: str) -> tuple:
    """(first_col, first_row, last_col, last_row) of an A1 range, as openpyxl reads it."""
    from openpyxl.utils.cell import range_boundaries as boundaries

    return boundaries(ref)


def cell_ref(row: int, col: int) -> str:
    return f"{get_column_letter(col)}{row}"


def split_ref(ref: str) -> tuple[int, int]:
    """'B3' -> (row 3, col 2)."""
    m = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?([0-9]+)", ref)
    if not m:
        raise ValueError(ref)
    return int(m.group(2)), column_index_from_string(m.group(1).upper())


def open_package(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InputError([Problem(str(path), "fichier introuvable")], title="Recalcul impossible") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(
            [Problem(str(path), f"ce n'est pas un classeur .xlsx/.xlsm lisible (archive zip invalide : {error})")],
            title="Recalcul impossible",
        ) from None


def _parse(zf: zipfile.ZipFile, member: str, path: str) -> ET.Element:
    try:
        return ET.fromstring(zf.read(member))
    except KeyError:
        raise InputError([Problem(str(path), f"partie « {member} » absente du classeur")], title="Classeur corrompu") from None
    except (ET.ParseError, zipfile.BadZipFile, OSError, EOFError) as error:
        raise InputError([Problem(str(path), f"partie « {member} » illisible : {error}")], title="Classeur corrompu") from None


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


def read_package(path: str) -> Package:
    with open_package(path) as zf:
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
        names = {}
        for el in workbook.findall("m:definedNames/m:definedName", NS):
            local = el.get("localSheetId")
            scope = sheets[int(local)].name if local is not None and int(local) < len(sheets) else None
            name = el.get("name", "")
            if scope is None or name.upper() not in names:
                names[name.upper()] = (name, (el.text or "").strip(), scope)
        tables = {}
        for sheet in sheets:
            for member in _rels(zf, sheet.part, path).values():
                if re.search(r"/tables/[^/]+\.xml$", member) and member in zf.NameToInfo:
                    table = _read_table(zf, member, sheet.name, path)
                    tables[table.name.upper()] = table
        properties = workbook.find("m:workbookPr", NS)
        date1904 = properties is not None and properties.get("date1904", "0").lower() in ("1", "true")
        return Package(str(path), tuple(sheets), names, tables, members, date1904, workbook_part)


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
    root = _parse(zf, member, path)
    columns = tuple(c.get("name", "") for c in root.findall("m:tableColumns/m:tableColumn", NS))
    return TableDef(
        name=root.get("displayName") or root.get("name"),
        sheet=sheet,
        ref=root.get("ref"),
        columns=columns,
        header_rows=int(root.get("headerRowCount", "1")),
        totals_rows=int(root.get("totalsRowCount", "0")),
    )


def has_formulas(zf: zipfile.ZipFile, member: str) -> bool:
    """Scan a worksheet's stream for a formula element without keeping it in memory."""
    tail = b""
    prefixed = None
    with zf.open(member) as stream:
        while chunk := stream.read(_CHUNK):
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


def read_formulas(data: bytes, sheet: str, dynamic_cm: set[int]) -> list[FormulaCell]:
    """Every formula cell of one worksheet (shared formulas expanded), from its XML bytes."""
    cells: list[FormulaCell] = []
    shared: dict[str, tuple[str, str]] = {}  # si -> (master ref, master text)
    for start, end in cell_spans(data):
        element = _cell_element(data[start:end])
        ref = element.get("r")
        f = element.find("{*}f")
        if ref is None or f is None:
            continue
        row, col = split_ref(ref)
        t = f.get("t", "normal")
        text = f.text or ""
        kind: FormulaKind = "normal"
        array_ref = None
        if t == "shared":
            si = f.get("si", "")
            if f.get("ref") is not None or si not in shared:
                shared[si] = (ref, text)
            else:
                master_ref, master_text = shared[si]
                from openpyxl.formula.translate import Translator

                text = Translator("=" + master_text, origin=master_ref).translate_formula(ref)[1:]
        elif t == "array":
            cm = element.get("cm")
            kind = "dynamic" if cm is not None and int(cm) in dynamic_cm else "array"
            array_ref = f.get("ref") or ref
        elif t == "dataTable":
            continue  # what-if data tables are computed by Excel itself; left as they are
        cells.append(FormulaCell(sheet, ref, row, col, text, kind, array_ref))
    return cells


def _cell_element(raw: bytes) -> ET.Element:
    # The fragment lacks its namespace declarations; strip any prefix so it parses alone.
    raw = re.sub(rb"<(/?)\w+:", rb"<\1", raw)
    return ET.fromstring(raw)
