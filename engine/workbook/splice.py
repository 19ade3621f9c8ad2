"""Write cached formula values into a workbook package, touching nothing else.

A worksheet's XML is spliced as bytes: only the `<c>` elements of formula cells (and the
cells of dynamic-array spill ranges) are rewritten; every other byte of the sheet stays.
Every other zip member is copied raw (same compressed bytes, no recompression), so parts
that were not recalculated are byte-identical. The new package is written to a temporary
file in the target folder and moved into place (`encaisse.atomic`).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from html import escape as _html_escape

from encaisse.atomic import atomic_path
from encaisse.workbook.package import PLAIN_FORMULA_CELL, PlainFormulas, get_column_letter, range_boundaries, range_bounds

_ROW = re.compile(rb"<row\b[^>]*?(?:/>|>.*?</row>)", re.S)
_CELL = re.compile(rb"<c\b[^>]*?(?:/>|>.*?</c>)", re.S)
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
_R_ATTR = re.compile(rb'\br="([A-Z]+)([0-9]+)"')
_ROW_R = re.compile(rb'\br="([0-9]+)"')
_F_ELEMENT = re.compile(rb"<f\b[^>]*?(?:/>|>.*?</f>)", re.S)
_DIMENSION = re.compile(rb'<dimension ref="([^"]*)"\s*/>')

# Characters XML 1.0 cannot carry, and text that looks like their escape: OOXML writes the first
# as _xHHHH_ (CHAR(1) is stored "_x0001_") and protects a literal "_x0041_" as "_x005F_x0041_",
# which is what Excel and the readers (python-calamine, openpyxl) decode. A lone surrogate (the
# library's UNICHAR(55296)) has no UTF-8 form nor a character to escape: it is dropped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")

EXCEL_ERRORS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!", "#CALC!")


@dataclass(frozen=True)
class ErrorValue:
    """An Excel error value (#DIV/0!, #N/A...) as stored in a cell with t="e"."""

    code: str

    def __str__(self) -> str:
        return self.code


@dataclass(frozen=True)
class InlineString:
    """A text typed into a cell (not a formula's result): written as an inline string, so that
    the shared-strings part is left as it is."""

    text: str


class CellUpdate(NamedTuple):
    """The new cached value of one cell. For a dynamic-array anchor, `array_ref` is its new spill range.

    `value` None clears the cell's value (a spill cell that no longer belongs to the spill range).
    `style` is the cell format index (`s`) given to a cell that does not exist yet; an existing
    cell keeps its own. A named tuple: a calculated column gives hundreds of thousands.
    """

    value: object
    formula: bool
    array_ref: str | None = None
    style: int | None = None


def escape(text: str) -> str:
    """&, < and > as XML entities (the standard library's html.escape without quotes, which is
    what xml.sax.saxutils.escape does, but without importing urllib)."""
    return _html_escape(text, quote=False)


def ooxml_text(text: str) -> str:
    """A text as a cell stores it (before XML escaping): control characters as _xHHHH_ escapes."""
    return _XML_INVALID.sub(lambda m: "" if "\ud800" <= m.group(0) <= "\udfff" else f"_x{ord(m.group(0)):04X}_", text)


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def _value_xml(value: object) -> tuple[bytes | None, bytes]:
    """(t attribute or None, <v> element) for a cached value."""
    if type(value) is float and value - value == 0:  # the common case first: a finite number
        text = repr(value)
        return None, b"<v>" + (text[:-2] if text.endswith(".0") else text).encode() + b"</v>"
    if value is None:
        return None, b""
    if isinstance(value, ErrorValue):
        return b"e", b"<v>" + escape(value.code).encode() + b"</v>"
    if isinstance(value, InlineString):
        text = escape(ooxml_text(value.text)).encode("utf-8")
        return b"inlineStr", b'<is><t xml:space="preserve">' + text + b"</t></is>"
    if isinstance(value, bool):
        return b"b", b"<v>1</v>" if value else b"<v>0</v>"
    if isinstance(value, (int, float)):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            return b"e", b"<v>#NUM!</v>"
        text = repr(number)
        if text.endswith(".0"):
            text = text[:-2]
        return None, b"<v>" + text.encode() + b"</v>"
    if isinstance(value, (dt.date, dt.datetime)):
        raise TypeError("dates must be converted to serial numbers before writing")
    return b"str", b"<v>" + escape(ooxml_text(str(value))).encode("utf-8") + b"</v>"


def _cell_xml(ref: bytes, original: bytes | None, update: CellUpdate) -> bytes:
    if original is None:  # a new cell (a value spilled where there was none): no attribute to keep
        t, v = _value_xml(update.value)
        style = b'" s="' + str(update.style).encode() if update.style is not None else b""
        if not v:
            return b'<c r="' + ref + style + b'"/>'
        return b'<c r="' + ref + style + (b'" t="' + t + b'">' if t is not None else b'">') + v + b"</c>"
    attrs: list[tuple[bytes, bytes]] = []
    f_element = b""
    if original is not None:
        head = original[: original.index(b">") + 1]
        attrs = [(k, v) for k, v in _ATTR.findall(head) if k not in (b"t", b"r")]
        fm = _F_ELEMENT.search(original)
        if update.formula and fm:
            f_element = fm.group(0)
            if update.array_ref is not None:
                f_element = _set_f_ref(f_element, update.array_ref.encode())
    if not update.formula:
        attrs = [(k, v) for k, v in attrs if k not in (b"cm", b"vm")]
    t, v = _value_xml(update.value)
    parts = [b'<c r="' + ref + b'"']
    parts += [b" " + k + b'="' + val + b'"' for k, val in attrs]
    if t is not None:
        parts.append(b' t="' + t + b'"')
    if not f_element and not v:
        parts.append(b"/>")
        return b"".join(parts)
    parts.append(b">" + f_element + v + b"</c>")
    return b"".join(parts)


def _set_f_ref(f_element: bytes, ref: bytes) -> bytes:
    head_end = f_element.index(b">")
    head = f_element[:head_end]
    if re.search(rb'\bref="', head):
        head = re.sub(rb'\bref="[^"]*"', b'ref="' + ref + b'"', head, count=1)
    else:
        head = head.rstrip(b"/") + b' ref="' + ref + b'"' + (b"/" if head.endswith(b"/") else b"")
    return head + f_element[head_end:]


def patch_sheet(data: bytes, updates: dict[tuple[int, int], CellUpdate], plain: PlainFormulas | None = None,
                columns=(), prepared: PlainSplice | None = None) -> bytes:
    """Return the worksheet XML with the given cells (row, col; 1-based) rewritten or inserted.

    `plain`: the plain formula cells of `data` as the reading found them (`package.plain_formulas`),
    so that the sheet is not searched again; `columns`: (ranks among those cells, values as stored)
    of calculated columns, whose values are written where the cells stand, all at once;
    `prepared`: the sheet already cut around them (`prepare_splice`).
    """
    if not updates and not columns:
        return data
    if columns and (plain is None or plain.data is not data):
        raise ValueError("calculated columns spliced without the offsets read from this sheet")
    if plain is not None and plain.data is data and plain.rows:
        patched, rest = _patch_plain(plain, updates, columns, prepared)
    else:
        patched, rest = _patch_plain_formulas(data, updates)
    if rest:
        patched = _patch_rows(patched, rest)
    corners = list(updates)
    for positions, _ in columns:
        if len(positions):
            first, last = int(positions[0]), int(positions[-1])
            corners += [(plain.rows[first], plain.cols[first]), (plain.rows[last], plain.cols[last])]
    return _grow_dimension(patched, corners)


# The plain formula cells, as `package.read_formulas` finds them, whole match first: their values
# are replaced where they stand, in one pass over the sheet (a calculated column has one per row).
_PLAIN_CELL = re.compile(b"(" + PLAIN_FORMULA_CELL.pattern + b")")
_STRIDE = 2 + PLAIN_FORMULA_CELL.groups  # the text before a cell, the whole cell, its groups
_T_ATTR = re.compile(rb'\s+t="[^"]*"')


def _patch_plain_formulas(data: bytes, updates: dict[tuple[int, int], CellUpdate]) -> tuple[bytes, dict]:
    """(the sheet with the new values of its plain formula cells, the updates left to `_patch_rows`)."""
    start = data.find(b"<sheetData")
    end = data.find(b"</sheetData>")
    if start < 0 or end < 0 or not any(u.formula and u.array_ref is None for u in updates.values()):
        return data, updates
    # split gives the text between cells, then each cell's groups: (whole, letters, digits, attributes, <f>)
    parts = _PLAIN_CELL.split(data[start:end])
    if len(parts) == 1:
        return data, updates
    letters, digits = parts[2::_STRIDE], parts[3::_STRIDE]
    columns = {name: _col_number(name) for name in set(letters)}
    keys = list(zip(map(int, digits), map(columns.__getitem__, letters)))
    rest = dict(updates)
    cells = parts[1::_STRIDE]
    for i, (key, attrs, f_element) in enumerate(zip(keys, parts[4::_STRIDE], parts[5::_STRIDE])):
        update = rest.get(key)
        if update is None or not update.formula or update.array_ref is not None:
            continue
        del rest[key]
        t, v = _value_xml(update.value)
        if b"t=" in attrs:
            attrs = _T_ATTR.sub(b"", attrs)
        cells[i] = b"".join((b'<c r="', letters[i], digits[i], b'"', attrs, b' t="' + t + b'">' if t is not None else b">",
                             f_element, v, b"</c>"))
    if len(rest) == len(updates):
        return data, updates
    gaps = parts[0::_STRIDE]
    body = b"".join(itertools.chain.from_iterable(zip(gaps, cells))) + gaps[-1]
    return data[:start] + body + data[end:], rest


class PlainSplice(NamedTuple):
    """A sheet cut around the plain formula cells whose values will be written (`prepare_splice`),
    ready before the values are known: for the cells at `positions` (ranks among the sheet's plain
    formula cells, in sheet order), `heads` the text from the previous one's end to the end of
    their start tag (their type attribute removed), `elements` their <f> element; `tail` the text
    after the last."""

    plain: PlainFormulas
    positions: "np.ndarray"
    heads: list
    elements: list
    tail: bytes


def prepare_splice(plain: PlainFormulas, positions) -> PlainSplice:
    """The slices of the sheet between the plain formula cells at `positions` (arrays of ranks),
    cut while the values are still being computed (the recalculation waits for its reading then)."""
    import numpy as np

    data = plain.data
    positions = np.sort(np.concatenate([np.asarray(p, dtype=np.intp) for p in positions])) if len(positions) else np.empty(0, np.intp)
    if not len(positions):
        return PlainSplice(plain, positions, [], [], data)
    attrs, tag_ends = plain.attrs[positions], plain.opens[positions] - 1
    cell_ends = plain.ends[positions]
    previous = np.concatenate([[0], cell_ends[:-1]])
    # before each cell's end of start tag: the text since the previous cell, its "<c r=…" and attributes
    heads = list(map(data.__getitem__, map(slice, previous.tolist(), tag_ends.tolist())))
    for i in np.flatnonzero(tag_ends > attrs).tolist():
        attributes = data[attrs[i]:tag_ends[i]]
        if b"t=" in attributes:  # the old type goes: the value's own is written
            heads[i] = data[previous[i]:attrs[i]] + _T_ATTR.sub(b"", attributes)
    elements = list(map(data.__getitem__, map(slice, plain.opens[positions].tolist(), plain.closes[positions].tolist())))
    return PlainSplice(plain, positions, heads, elements, data[int(cell_ends[-1]):])


def _patch_plain(plain: PlainFormulas, updates: dict[tuple[int, int], CellUpdate], columns,
                 prepared: PlainSplice | None = None) -> tuple[bytes, dict]:
    """(the whole sheet with the new values of its plain formula cells: those of `columns` and
    those `updates` names, each written as `_patch_plain_formulas` writes it; the updates left to
    `_patch_rows`). The sheet is rebuilt in one join from the slices between the cells' offsets
    (`prepared` when cut already for the same cells)."""
    import numpy as np

    data = plain.data
    columns = [(np.asarray(positions, dtype=np.intp), list(values)) for positions, values in columns]
    rest = updates
    if any(u.formula and u.array_ref is None for u in updates.values()):
        outside = np.ones(len(plain.rows), dtype=bool)
        for positions, _ in columns:
            outside[positions] = False
        rest = dict(updates)
        found, values = [], []
        for i in np.flatnonzero(outside).tolist():
            update = rest.get((plain.rows[i], plain.cols[i]))
            if update is not None and update.formula and update.array_ref is None:
                del rest[(plain.rows[i], plain.cols[i])]
                found.append(i)
                values.append(update.value)
        if found:
            columns.append((np.asarray(found, dtype=np.intp), values))
    columns = [(positions, values) for positions, values in columns if len(positions)]
    if not columns:
        return data, rest
    positions = np.concatenate([p for p, _ in columns])
    ends, cached = _cached_xml([v for _, values in columns for v in values])
    order = np.argsort(positions, kind="stable")
    positions, ends, cached = positions[order], ends[order], cached[order]
    if prepared is None or prepared.plain is not plain or not np.array_equal(prepared.positions, positions):
        prepared = prepare_splice(plain, [positions])
    pieces = np.empty(5 * len(positions) + 1, dtype=object)
    pieces[0:-1:5] = prepared.heads
    pieces[1::5] = ends
    pieces[2::5] = prepared.elements
    pieces[3::5] = cached
    pieces[4::5] = b"</c>"
    pieces[-1] = prepared.tail
    return b"".join(pieces.tolist()), rest


def _cached_xml(values: list):
    """(the end of each cell's start tag: '>' or ' t="…">'; its <v> element) for these cached values,
    as `_value_xml` writes them, the finite numbers (nearly all) formatted in one go."""
    import numpy as np

    count = len(values)
    ends, cached = np.empty(count, dtype=object), np.empty(count, dtype=object)
    ends.fill(b">")
    if set(map(type, values)) == {float}:
        numbers = np.arange(count)
        x = np.array(values, dtype=np.float64)
    else:
        numbers = np.flatnonzero(np.fromiter([type(v) is float for v in values], dtype=bool, count=count))
        x = np.array([values[i] for i in numbers.tolist()], dtype=np.float64)
    finite = np.isfinite(x)
    numbers, x = numbers[finite], x[finite]
    others = np.ones(count, dtype=bool)
    others[numbers] = False
    if len(numbers):
        # repr: the shortest text that reads back the same number, "12.0" written "12"; a whole
        # number is written as an integer (what repr gives without ".0", in a fifth of the time)
        whole = (x == np.floor(x)) & (np.abs(x) < 1e15) & ~((x == 0) & np.signbit(x))
        texts = np.empty(len(x), dtype=object)
        texts[whole] = list(map(int.__repr__, x[whole].astype(np.int64).tolist()))
        texts[~whole] = list(map(float.__repr__, x[~whole].tolist()))
        joined = "</v>\x00<v>".join(texts.tolist())
        cached[numbers] = ("<v>" + joined + "</v>").replace(".0</v>", "</v>").encode().split(b"\x00")
    written: dict[tuple, tuple[bytes, bytes]] = {}  # a column repeats a few texts ("", "En retard"...)
    for i in np.flatnonzero(others).tolist():
        value = values[i]
        key = (type(value), value)
        if key not in written:
            t, v = _value_xml(value)
            written[key] = (b">" if t is None else b' t="' + t + b'">', v)
        ends[i], cached[i] = written[key]
    return ends, cached


def _patch_rows(data: bytes, updates: dict[tuple[int, int], CellUpdate]) -> bytes:
    """The sheet with the given cells rewritten or inserted, row by row."""
    by_row: dict[int, dict[int, CellUpdate]] = {}
    for (row, col), update in updates.items():
        by_row.setdefault(row, {})[col] = update
    start = data.find(b"<sheetData")
    if start < 0:
        raise ValueError("worksheet without sheetData")
    open_end = data.index(b">", start) + 1
    if data[open_end - 2:open_end] == b"/>":  # <sheetData/>
        body_start = body_end = open_end
        prefix, suffix = data[:start] + b"<sheetData>", b"</sheetData>" + data[open_end:]
    else:
        body_start, body_end = open_end, data.index(b"</sheetData>", open_end)
        prefix, suffix = data[:body_start], data[body_end:]
    body = data[body_start:body_end]
    pieces: list[bytes] = []
    pos = 0
    pending = sorted(by_row)
    p = 0
    wanted = set(by_row)
    for m in _ROW.finditer(body):
        rm = _ROW_R.search(body, m.start(), body.index(b">", m.start()))
        row_number = int(rm.group(1)) if rm else None
        if row_number is None:
            continue
        while p < len(pending) and pending[p] < row_number:
            pieces.append(body[pos:m.start()])
            pos = m.start()
            pieces.append(_new_row(pending[p], by_row[pending[p]]))
            p += 1
        if row_number in wanted:
            pieces.append(body[pos:m.start()])
            pieces.append(_patch_row(m.group(0), row_number, by_row[row_number]))
            pos = m.end()
            if p < len(pending) and pending[p] == row_number:
                p += 1
    pieces.append(body[pos:])
    while p < len(pending):
        pieces.append(_new_row(pending[p], by_row[pending[p]]))
        p += 1
    return prefix + b"".join(pieces) + suffix


@functools.lru_cache(maxsize=None)
def _column_letters(col: int) -> bytes:
    return get_column_letter(col).encode()


def _new_row(row: int, cells: dict[int, CellUpdate]) -> bytes:
    number = str(row).encode()
    pieces = [b'<row r="' + number + b'">']
    for c in sorted(cells):
        update = cells[c]
        value = update.value
        # A spilled result fills thousands of new cells, nearly all finite numbers without a
        # style: written here as _cell_xml writes them, without its two calls per cell.
        if type(value) is float and value - value == 0 and update.style is None:
            text = repr(value)
            pieces.append(b'<c r="' + _column_letters(c) + number + b'"><v>'
                          + (text[:-2] if text.endswith(".0") else text).encode() + b"</v></c>")
        else:
            pieces.append(_cell_xml(_column_letters(c) + number, None, update))
    pieces.append(b"</row>")
    return b"".join(pieces)


def _patch_row(row_xml: bytes, row: int, cells: dict[int, CellUpdate]) -> bytes:
    head_end = row_xml.index(b">") + 1
    if row_xml[head_end - 2:head_end] == b"/>":
        head = row_xml[: head_end - 2] + b">"
        body, tail = b"", b"</row>"
    else:
        head, body, tail = row_xml[:head_end], row_xml[head_end:-len(b"</row>")], b"</row>"
    # the spans hint may no longer cover inserted cells; it is optional, so drop it
    head = re.sub(rb'\s+spans="[^"]*"', b"", head)
    found = _cells_by_address(body, row, cells)
    if found is not None:
        pieces, pos = [], 0
        for start, end, ref, xml, col in found:
            pieces += (body[pos:start], _cell_xml(ref, xml, cells[col]))
            pos = end
        return head + b"".join(pieces) + body[pos:] + tail
    pieces, pos = [], 0
    remaining = sorted(cells)
    k = 0
    for m in _CELL.finditer(body):
        rm = _R_ATTR.search(body, m.start(), body.index(b">", m.start()) + 1)
        if rm is None:
            continue
        col = _col_number(rm.group(1))
        while k < len(remaining) and remaining[k] < col:
            pieces.append(body[pos:m.start()])
            pos = m.start()
            pieces.append(_cell_xml(_column_letters(remaining[k]) + str(row).encode(), None, cells[remaining[k]]))
            k += 1
        if col in cells:
            pieces.append(body[pos:m.start()])
            pieces.append(_cell_xml(rm.group(1) + rm.group(2), m.group(0), cells[col]))
            pos = m.end()
            if k < len(remaining) and remaining[k] == col:
                k += 1
    pieces.append(body[pos:])
    while k < len(remaining):
        pieces.append(_cell_xml(_column_letters(remaining[k]) + str(row).encode(), None, cells[remaining[k]]))
        k += 1
    return head + b"".join(pieces) + tail


def _cells_by_address(body: bytes, row: int, cells: dict[int, CellUpdate]) -> list[tuple] | None:
    """(start, end, address, XML, column) of each cell of `cells` in a row's XML, in the row's
    order, each found by its address written first (r="B7", as Excel and the libraries write it):
    a row of many cells is not walked cell by cell. None when one is not found so (a new cell, or
    attributes in another order): the row is then walked."""
    found = []
    for col in cells:
        ref = _column_letters(col) + str(row).encode()
        start = body.find(b'<c r="' + ref + b'"')
        cell = _CELL.match(body, start) if start >= 0 else None
        if cell is None:
            return None
        found.append((start, cell.end(), ref, cell.group(0), col))
    found.sort()
    return found


def _grow_dimension(data: bytes, cells: list[tuple[int, int]]) -> bytes:
    """The sheet's <dimension> grown to hold the (row, col) cells written."""
    m = _DIMENSION.search(data)
    if m is None or not cells:
        return data
    ref = m.group(1).decode("ascii", "replace")
    bounds = range_bounds(ref)  # the usual A1:G100 without importing openpyxl; its reader for the rest
    if bounds is None:
        try:
            bounds = range_boundaries(ref)
        except ValueError:
            return data
    c1, r1, c2, r2 = bounds
    rows = [r for r, _ in cells]
    cols = [c for _, c in cells]
    n1, m1 = min(c1 or 1, min(cols)), min(r1 or 1, min(rows))
    n2, m2 = max(c2 or 1, max(cols)), max(r2 or 1, max(rows))
    if (n1, m1, n2, m2) == (c1, r1, c2, r2):
        return data
    ref = f"{get_column_letter(n1)}{m1}:{get_column_letter(n2)}{m2}".encode()
    return data[: m.start(1)] + ref + data[m.end(1):]


def _raw_member(source: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The compressed bytes of a member, as stored (read past its local file header)."""
    fp = source.fp
    fp.seek(info.header_offset)
    header = fp.read(zipfile.sizeFileHeader)
    if header[:4] != zipfile.stringFileHeader:
        raise zipfile.BadZipFile(f"en-tête local invalide pour {info.filename}")
    name_len = int.from_bytes(header[26:28], "little")
    extra_len = int.from_bytes(header[28:30], "little")
    fp.seek(info.header_offset + zipfile.sizeFileHeader + name_len + extra_len)
    return fp.read(info.compress_size)


# Deflate level of the rewritten parts: level 1 compresses a 34 MB sheet five times faster than the
# default 6 (a quarter of a second instead of over a second) for about 18 % more bytes.
_REPLACED_LEVEL = 1


def write_package(source: str | Path, target: str | Path, replaced: dict[str, bytes]) -> None:
    """Copy the package `source` to `target`, replacing the content of the members in `replaced`.

    Unchanged members are copied compressed as they are. Written atomically through
    `encaisse.atomic.atomic_path` (so `target` may be `source`).
    """
    with atomic_path(target) as tmp, zipfile.ZipFile(source) as src, zipfile.ZipFile(tmp, "w") as out:
        for info in src.infolist():
            if info.filename in replaced:
                data = replaced[info.filename]
                if info.compress_type == zipfile.ZIP_DEFLATED and len(data) >= _PARALLEL_DEFLATE:
                    clone = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                    clone.compress_type, clone.flag_bits = info.compress_type, info.flag_bits
                    clone.external_attr, clone.create_system = info.external_attr, info.create_system
                    clone.CRC, raw = _deflate_in_two(data)
                    clone.compress_size, clone.file_size = len(raw), len(data)
                    _write_raw(out, clone, raw)
                    continue
                clone = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                clone.compress_type = info.compress_type
                clone.external_attr = info.external_attr
                clone.create_system = info.create_system
                out.writestr(clone, data, compress_type=info.compress_type, compresslevel=_REPLACED_LEVEL)
                continue
            raw = _raw_member(src, info)
            _write_raw(out, info, raw)


# A rewritten part from this size (a big table's sheet) is deflated in two halves side by side.
_PARALLEL_DEFLATE = 4 << 20


def _deflate_in_two(data: bytes) -> tuple[int, bytes]:
    """(CRC-32, raw deflate stream) of `data`, its two halves deflated at once on two threads (zlib
    leaves Python's lock), as pigz does: the first half ends with a full flush — on a byte
    boundary, without the last-block mark, its compressor's window emptied — so the second,
    deflated from scratch, follows it as one stream any inflater reads."""
    import zlib
    from concurrent.futures import ThreadPoolExecutor

    view = memoryview(data)
    half = len(data) // 2

    def first() -> tuple[int, bytes]:
        deflater = zlib.compressobj(_REPLACED_LEVEL, zlib.DEFLATED, -15)
        return zlib.crc32(view[:half]), deflater.compress(view[:half]) + deflater.flush(zlib.Z_FULL_FLUSH)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="encaisse-compression") as pool:
        head = pool.submit(first)
        deflater = zlib.compressobj(_REPLACED_LEVEL, zlib.DEFLATED, -15)
        tail = deflater.compress(view[half:]) + deflater.flush()
        crc, start = head.result()
    return zlib.crc32(view[half:], crc), start + tail


def _write_raw(out: zipfile.ZipFile, info: zipfile.ZipInfo, raw: bytes) -> None:
    # zipfile has no public raw copy: write the local header and the stored bytes ourselves,
    # then register the entry so that close() writes it into the central directory.
    clone = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    clone.compress_type = info.compress_type
    clone.external_attr = info.external_attr
    clone.create_system = info.create_system
    clone.flag_bits = info.flag_bits & ~0x08  # sizes and CRC go in the local header, no data descriptor
    clone.CRC = info.CRC
    clone.compress_size = info.compress_size
    clone.file_size = info.file_size
    clone.header_offset = out.fp.tell()
    out.fp.write(clone.FileHeader(zip64=clone.file_size > zipfile.ZIP64_LIMIT or clone.compress_size > zipfile.ZIP64_LIMIT))
    out.fp.write(raw)
    out.start_dir = out.fp.tell()
    out.filelist.append(clone)
    out.NameToInfo[clone.filename] = clone
    out._didModify = True
