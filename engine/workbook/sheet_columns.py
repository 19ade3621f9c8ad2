"""A big sheet's XML cut down to the columns the formulas read, for the fast reader to read.

python-calamine parses a sheet at about 30 ns a byte, every cell of it: a table of 100 000
invoices on twelve columns takes it a second and a half, where a calculated column beside it
reads two of those columns. Here only the cells of the columns wanted are kept — every row
element stays, so that the rows keep their numbers — and calamine reads that from a package of
the few parts it needs, made in memory: the values are still read by calamine, its way (types,
shared strings, dates told by their style, errors).

Nothing is parsed as XML here: the cells are found as bytes, with numpy, and a sheet whose cells
are not all written `<c r="A1"…` (as Excel, LibreOffice and every library write them) is not cut
(`keep_columns` gives None): it is read whole.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from typing import NamedTuple

from encaisse.workbook.package import cell_addresses, related_parts

_SHEET_DATA, _SHEET_DATA_END = b"<sheetData>", b"</sheetData>"
_READER_PARTS = re.compile(r"(?:^|/)(?:sharedStrings|styles)\.xml$", re.I)  # what the reader needs beside the sheet
_SHARED_STRINGS = re.compile(r"(?:^|/)sharedStrings\.xml$", re.I)


class KeptColumns(NamedTuple):
    """The sheet's XML with the cells of the kept columns only; `rows`, `cols`: the farthest row
    and column (1-based) of those cells, from which the reader allocates its grid."""

    xml: bytes
    rows: int
    cols: int


def keep_columns(data: bytes, columns: frozenset[int]) -> KeptColumns | None:
    """The sheet `data` (its XML) with only the cells of `columns` (1-based numbers); None when it
    cannot be cut safely: no plain <sheetData>, a namespace prefix, a comment, CDATA or a
    processing instruction among the rows, a cell not written `<c r="A1"`."""
    import numpy as np

    start = data.find(_SHEET_DATA)
    close = data.rfind(_SHEET_DATA_END)
    if start < 0 or close < start or len(data) - close < 24 or re.search(rb"<\w+:worksheet\b", data[:4096]):
        return None
    first = start + len(_SHEET_DATA)
    if (data.count(b"!", first, close) or data.count(b"?", first, close)) and (
            data.find(b"<!", first, close) >= 0 or data.find(b"<?", first, close) >= 0):
        return None  # a comment, CDATA or processing instruction could hold what looks like a cell
    # Positions are taken in `data` itself (no copy of 30 MB): its end (</sheetData></worksheet>)
    # leaves room for the bytes read after a cell's start. "<c" is looked for two bytes at a time,
    # at even then odd offsets (half the passes over the bytes of one at a time).
    b = np.frombuffer(data, dtype=np.uint8)
    pairs = (close - first) // 2
    marks = np.concatenate([first + offset + 2 * np.flatnonzero(np.frombuffer(data, "<u2", pairs, first + offset) == 0x633C)
                            for offset in (0, 1)])
    marks.sort()
    # "<c" then a space is a cell (<col>, <color>, <charset> of rich text are not); one written
    # otherwise ("<c>", "<c\t", an attribute before r="…") would be taken with the cell before it
    following = b[marks + 2]
    if np.isin(following, (0x09, 0x0A, 0x0D, 0x3E, 0x2F)).any():
        return None
    starts = marks[following == 0x20]
    if not len(starts):
        return KeptColumns(data, 0, 0)
    after = b[starts[:, None] + np.arange(3, 9)]  # r="XYZ: the address's first three bytes after r="
    if not ((after[:, 0] == 0x72) & (after[:, 1] == 0x3D) & (after[:, 2] == 0x22)).all():
        return None
    # the column from its one to three letters (an address the reader would refuse is kept: it
    # then refuses it as it would in the whole sheet)
    c1, c2, c3 = (after[:, j].astype(np.int32) - 64 for j in (3, 4, 5))
    letter2, letter3 = (c2 >= 1) & (c2 <= 26), (c3 >= 1) & (c3 <= 26)
    cols = np.where(letter2, np.where(letter3, (c1 * 26 + c2) * 26 + c3, c1 * 26 + c2), c1)
    keep = np.isin(cols, np.fromiter(columns, dtype=np.int32, count=len(columns))) | (c1 < 1) | (c1 > 26)
    # A cell runs to the next cell or to its row's end ("</row>"): what lies between is its own.
    w = first + 4 + np.flatnonzero(b[first + 4:close] == 0x77)  # "w": rare in a sheet's XML but for <row> and </row>
    row_ends = w[(b[w - 4] == 0x3C) & (b[w - 3] == 0x2F) & (b[w - 2] == 0x72) & (b[w - 1] == 0x6F) & (b[w + 1] == 0x3E)] - 4
    following = np.append(starts[1:], close)
    next_row_end = np.append(row_ends, close)[np.searchsorted(row_ends, starts)]
    ends = np.minimum(following, next_row_end)
    dropped_starts, dropped_ends = starts[~keep], ends[~keep]
    kept_data = data
    if len(dropped_starts):
        # the cells dropped side by side make one span: a few per row, not one per cell; the
        # bytes kept are taken at once through a mask (numpy leaves Python's lock meanwhile)
        opens = np.ones(len(dropped_starts), dtype=bool)
        opens[1:] = dropped_starts[1:] != dropped_ends[:-1]
        bounds = np.empty(2 * int(opens.sum()) + 2, dtype=np.int64)
        bounds[0], bounds[-1] = 0, len(data)
        bounds[1:-1:2], bounds[2:-1:2] = dropped_starts[opens], dropped_ends[np.append(opens[1:], True)]
        kept_data = b[np.repeat(np.arange(len(bounds) - 1) % 2 == 0, np.diff(bounds))].tobytes()
    # the farthest row of the cells kept (the grid the reader allocates for them)
    _, _, rows, _ = cell_addresses(b, starts[keep] + 6)
    return KeptColumns(kept_data, int(rows.max(initial=0)), int(cols[keep].max(initial=0)))


def halves(data: bytes) -> tuple[bytes, bytes] | None:
    """The sheet `data` (its XML) as two sheets, each with half of its rows — cut at the row's end
    nearest its middle — and all that stands around them; None when it has no such place."""
    start = data.find(_SHEET_DATA)
    close = data.rfind(_SHEET_DATA_END)
    if start < 0 or close < start:
        return None
    first = start + len(_SHEET_DATA)
    cut = data.find(b"</row>", (first + close) // 2, close)
    if cut < 0 or not data.startswith(b"<row", cut + 6):
        return None
    cut += 6
    return data[:cut] + data[close:], data[:first] + data[cut:]


def reader_package(zf: zipfile.ZipFile, workbook_part: str, member: str, xml: bytes, others: tuple[str, ...] = ()) -> bytes:
    """A package the fast reader opens to read the sheet `member` as `xml`: the content types, the
    relationships, the workbook part, its styles and shared strings (only when `xml` or `others`
    may refer to them: the reader parses them all as it opens the package), that sheet and the
    sheets `others` as they are — stored uncompressed, in memory. The other sheets are left out."""
    folder, name = posixpath.split(workbook_part)
    parts = ["[Content_Types].xml", "_rels/.rels", workbook_part, posixpath.join(folder, "_rels", name + ".rels")]
    # a shared string's cell is t="s" (or t='s', t = "s"…): any "s" between quotes may be one
    strings = bool(others) or b'"s"' in xml or b"'s'" in xml
    parts += [target for target in related_parts(zf, workbook_part, str(zf.filename)).values()
              if _READER_PARTS.search(target) and (strings or not _SHARED_STRINGS.search(target))]
    parts += [other for other in others if other != member]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as package:
        for part in dict.fromkeys(parts):
            if part in zf.NameToInfo:
                package.writestr(part, zf.read(part))
        package.writestr(member, xml)
    return out.getvalue()
