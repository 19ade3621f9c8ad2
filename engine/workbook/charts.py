"""Chart caches: the values a chart part (xl/charts/chartN.xml) keeps beside each series reference.

A chart stores, for each series, the formula of its range (`<c:f>'Prévision'!$O$8:$O$20</c:f>`)
and a cache of the values last computed; viewers that do not recalculate (previews, mail
readers, converters) draw the cache. After a recalculation the caches of the ranges whose cells
changed are rewritten with the new values — numbers as a number cache, text (week labels) as a
string cache — and nothing else in the part moves.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Callable

from encaisse.workbook.splice import escape

_SERIES = re.compile(rb"<c:(numRef|strRef)><c:f>([^<]*)</c:f>(?:<c:(?:numCache|strCache)>.*?</c:(?:numCache|strCache)>)?</c:\1>", re.S)
_RANGE = re.compile(r"^(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?$")
_FORMAT = re.compile(rb"<c:formatCode>(.*?)</c:formatCode>", re.S)


def _column(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def parse_range(text: str) -> tuple[str, int, int, int, int] | None:
    """'\\'Prévision\\'!$A$8:$A$20' -> ('Prévision', 8, 1, 20, 1) (1-based rows and columns); None otherwise."""
    found = _RANGE.match(text.strip())
    if not found:
        return None
    sheet = found.group(1).replace("''", "'") if found.group(1) is not None else found.group(2)
    c1, r1 = _column(found.group(3)), int(found.group(4))
    c2, r2 = (_column(found.group(5)), int(found.group(6))) if found.group(5) else (c1, r1)
    return sheet, r1, c1, r2, c2


def _number(value) -> str | None:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(float(value)) if not float(value).is_integer() else str(int(value))
    return None


def _cache(values: list, format_code: bytes) -> tuple[bytes, bytes]:
    """(kind, cache XML) for the values: a string cache as soon as one value is text."""
    values = [None if v == "" else v for v in values]
    texts = any(isinstance(v, str) for v in values)
    points = []
    for index, value in enumerate(values):
        if value is None:
            continue
        if isinstance(value, (dt.date, dt.datetime)):
            value = value.strftime("%d/%m/%Y") if texts else (value - dt.date(1899, 12, 30) if isinstance(value, dt.date) and not
                                                                isinstance(value, dt.datetime) else value - dt.datetime(1899, 12, 30)).days
        shown = str(value) if texts else _number(value)
        if shown is None:
            continue
        points.append(f'<c:pt idx="{index}"><c:v>{escape(shown)}</c:v></c:pt>'.encode("utf-8"))
    count = f'<c:ptCount val="{len(values)}"/>'.encode()
    if texts:
        return b"strRef", b"<c:strCache>" + count + b"".join(points) + b"</c:strCache>"
    return b"numRef", b"<c:numCache><c:formatCode>" + format_code + b"</c:formatCode>" + count + b"".join(points) + b"</c:numCache>"


def refresh_caches(xml: bytes, values_of: Callable[[tuple[str, int, int, int, int]], list | None]) -> bytes:
    """The chart part with the cache of every series range that `values_of` knows (None: left as is)."""

    def replace(match: re.Match) -> bytes:
        reference = match.group(2).decode("utf-8")
        target = parse_range(reference.replace("&apos;", "'").replace("&amp;", "&"))
        values = values_of(target) if target is not None else None
        if values is None:
            return match.group(0)
        found = _FORMAT.search(match.group(0))
        kind, cache = _cache(values, found.group(1) if found else b"General")
        return b"<c:" + kind + b"><c:f>" + match.group(2) + b"</c:f>" + cache + b"</c:" + kind + b">"

    return _SERIES.sub(replace, xml)
