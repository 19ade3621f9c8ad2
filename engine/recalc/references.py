"""Structured references (`Factures[Montant TTC]`, `Factures[#All]`, `T[[#Headers],[X]]`, `T[@X]`)
translated to absolute A1 ranges from the workbook's table definitions.

The formula library used for evaluation does not parse structured references, so each
formula is translated before compiling; the formula text in the file is never changed.
Both the English item specifiers stored in files and the French ones are accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from encaisse.recalc.cells import Rect
from encaisse.workbook.package import Package, TableDef, get_column_letter, quote_sheet, range_bounds

SPECIALS = {
    "#all": "all", "#tout": "all",
    "#data": "data", "#données": "data", "#donnees": "data",
    "#headers": "headers", "#en-têtes": "headers", "#en-tetes": "headers",
    "#totals": "totals", "#totaux": "totals",
    "#this row": "this", "#cette ligne": "this",
}

_IDENT = re.compile(r"[A-Za-z_\\][\w.\\]*")


class StructuredRefError(ValueError):
    """A structured reference that names an unknown column or item; the message is French."""


@dataclass(frozen=True)
class TableRef:
    """What a structured reference designates: a table, its item rows and columns."""

    table: TableDef
    items: tuple[str, ...]  # among all/data/headers/totals/this
    first_col: int  # 0-based index into table.columns
    last_col: int


def translate(formula: str, tables: dict, row: int | None = None, last_row: int | None = None,
              home: TableDef | None = None) -> tuple[str, list[TableRef]]:
    """Replace every structured reference in `formula` by an absolute A1 range.

    `tables` maps upper-cased table names to TableDef; `row` is the formula's row (for `[@X]`),
    or the first of the rows `row`..`last_row` of a calculated column evaluated as one array.
    `home` is the table holding the formula: a reference there may omit the table's name, as
    Excel writes the totals row (=SUBTOTAL(109,[Montant])).
    Returns the translated text and the references found, in order.
    """
    out: list[str] = []
    refs: list[TableRef] = []
    i, n = 0, len(formula)
    while i < n:
        ch = formula[i]
        if ch == '"':
            j = _skip_quoted(formula, i, '"')
            out.append(formula[i:j])
            i = j
            continue
        if ch == "'":
            j = _skip_quoted(formula, i, "'")
            out.append(formula[i:j])
            i = j
            continue
        if ch == "[" and home is not None and (i == 0 or not _word_char(formula[i - 1])):
            close = _matching_bracket(formula, i)
            if not formula[i + 1:close].isdigit():  # [1]Feuil1!A1 is another workbook
                ref = _parse_spec(home, formula[i + 1:close], formula)
                refs.append(ref)
                out.append(_a1(ref, row, last_row))
                i = close + 1
                continue
        m = _IDENT.match(formula, i) if (ch.isalpha() or ch in "_\\") and (i == 0 or not _word_char(formula[i - 1])) else None
        if m is None:
            out.append(ch)
            i += 1
            continue
        name = m.group(0)
        end = m.end()
        table = tables.get(name.upper())
        if table is not None and end < n and formula[end] == "[":
            close = _matching_bracket(formula, end)
            ref = _parse_spec(table, formula[end + 1:close], formula)
            refs.append(ref)
            out.append(_a1(ref, row, last_row))
            i = close + 1
        elif table is not None and (end >= n or formula[end] not in "!(") and not _is_cell_like(name):
            ref = TableRef(table, ("data",), 0, len(table.columns) - 1)  # a bare table name is its data body
            refs.append(ref)
            out.append(_a1(ref, row, last_row))
            i = end
        elif table is None and end < n and formula[end] == "[" and not _is_cell_like(name):
            raise StructuredRefError(f"tableau « {name} » absent du classeur")
        else:
            out.append(name)
            i = end
    return "".join(out), refs


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_.\\!$"


def _is_cell_like(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z]{1,3}[0-9]+", name) is not None


def _skip_quoted(text: str, i: int, quote: str) -> int:
    j = i + 1
    while j < len(text):
        if text[j] == quote:
            if j + 1 < len(text) and text[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return len(text)


def _matching_bracket(text: str, start: int) -> int:
    depth, j = 0, start
    while j < len(text):
        ch = text[j]
        if ch == "'":  # escape character inside structured references
            j += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise StructuredRefError(f"crochet non fermé dans « {text} »")


def _unescape(name: str) -> str:
    return re.sub(r"'(.)", r"\1", name).strip()


def _parse_spec(table: TableDef, spec: str, formula: str) -> TableRef:
    """The inside of `Table[...]`: '', 'Col', '#All', '@Col', '@[Col]', '[#Headers],[Col1]:[Col2]'..."""
    spec = spec.strip()
    items: list[str] = []
    columns: list[str] = []
    if spec.startswith("@"):
        items.append("this")
        spec = spec[1:].strip()
        if spec.startswith("[") and spec.endswith("]"):
            spec = spec[1:-1]
        if spec:
            columns.append(_unescape(spec))
    elif "[" not in spec.replace("'[", ""):
        if spec:
            key = spec.lower()
            if key in SPECIALS:
                items.append(SPECIALS[key])
            else:
                columns.append(_unescape(spec))
    else:
        parts = _split_top(spec)
        for part in parts:
            part = part.strip()
            if ":" in part and part.startswith("["):
                left, right = _split_range(part)
                columns.extend([left, right])
                continue
            inner = part[1:-1] if part.startswith("[") and part.endswith("]") else part
            key = inner.strip().lower()
            if key in SPECIALS:
                items.append(SPECIALS[key])
            else:
                columns.append(_unescape(inner))
    if not items:
        items = ["data"]
    if not columns:
        first, last = 0, len(table.columns) - 1
    else:
        indexes = []
        for column in columns:
            index = table.column_index(column)
            if index is None:
                raise StructuredRefError(f"colonne « {column} » absente du tableau {table.name} (référence « {formula} »)")
            indexes.append(index)
        first, last = min(indexes), max(indexes)
    return TableRef(table, tuple(items), first, last)


def _split_top(spec: str) -> list[str]:
    parts, depth, current, j = [], 0, [], 0
    while j < len(spec):
        ch = spec[j]
        if ch == "'" and j + 1 < len(spec):
            current.append(spec[j:j + 2])
            j += 2
            continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        j += 1
    parts.append("".join(current))
    return parts


def _split_range(part: str) -> tuple[str, str]:
    m = re.fullmatch(r"\[((?:[^\]']|'.)*)\]\s*:\s*\[((?:[^\]']|'.)*)\]", part.strip())
    if not m:
        raise StructuredRefError(f"plage de colonnes illisible « {part} »")
    return _unescape(m.group(1)), _unescape(m.group(2))


def rows_of(ref: TableRef, row: int | None = None, last_row: int | None = None) -> tuple[int, int] | None:
    """First and last worksheet rows (1-based) the reference covers; None for an absent item (#REF!)."""
    c1, r1, c2, r2 = ref.table.bounds
    h, t = ref.table.header_rows, ref.table.totals_rows
    spans = []
    for item in ref.items:
        if item == "all":
            spans.append((r1, r2))
        elif item == "data":
            spans.append((r1 + h, r2 - t))
        elif item == "headers":
            if h:
                spans.append((r1, r1 + h - 1))
        elif item == "totals":
            if t:
                spans.append((r2 - t + 1, r2))
        elif item == "this":
            last = row if last_row is None else last_row
            if row is None or not (r1 + h <= row <= last <= r2 - t):
                return None
            spans.append((row, last))
    if not spans:
        return None
    return min(s[0] for s in spans), max(s[1] for s in spans)


def _a1(ref: TableRef, row: int | None, last_row: int | None = None) -> str:
    rows = rows_of(ref, row, last_row)
    if rows is None or rows[0] > rows[1]:
        return "#REF!"
    c1 = ref.table.bounds[0]
    left, right = get_column_letter(c1 + ref.first_col), get_column_letter(c1 + ref.last_col)
    sheet = quote_sheet(ref.table.sheet)
    if rows[0] == rows[1] and left == right:
        return f"{sheet}!${left}${rows[0]}"
    return f"{sheet}!${left}${rows[0]}:${right}${rows[1]}"


def sheet_range(name: str, package: Package) -> Rect | None:
    """A range the formula library hands over as a name ("CLI'ENTS!B1:B2": a sheet whose name holds
    an apostrophe, written 'Cli''ents'!B1:B2 in the formula), as the range it is; None otherwise."""
    sheet_name, mark, ref = name.rpartition("!")
    found = package.sheet(sheet_name.strip("'")) if mark else None
    bounds = range_bounds(ref.replace("$", "")) if found is not None else None
    if bounds is None:
        return None
    c1, r1, c2, r2 = bounds
    return Rect(found.name, r1, c1, r2, c2)
