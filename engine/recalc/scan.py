"""Formula text scanned without the formula library: the prefixes Excel stores removed, the calls
of named functions found with their argument texts, the tables and defined names a text mentions.

Pure text functions: string literals ("…"), quoted sheet names ('…') and the inside of structured
references ([…]) are never taken for calls or separators.
"""

from __future__ import annotations

import bisect
import itertools
import re

from encaisse.recalc.cells import CellProblem

VOLATILE = ("TODAY", "NOW", "RAND", "RANDBETWEEN", "RANDARRAY")  # a recalculation cannot reproduce them
_PREFIX = re.compile(r"_xlfn\.|_xlws\.|_xludf\.", re.I)
# The formula library misreads a range ending on the sheet's last row ($G$5:$G$1048576 -> G5);
# read to the row before, which the evaluator treats as open-ended like the last row.
_LAST_ROW = re.compile(r"(?<![\w.])(\$?[A-Za-z]{1,3}\$?|(?<![\w.$:])\$?[0-9]{1,7}:\$?)1048576(?!\d)")
# It also drops a range's last column when it is the sheet's last (A:XFD, 1:1048576 -> 'A:', '1:', an
# unknown name): read to the column before, which the evaluator treats as open-ended like the last.
_LAST_COLUMN = re.compile(r"(:\$?)XFD(?=\$?[0-9]|(?![\w.(!]))", re.I)
_CALL = re.compile(r"(?<![\w.!$\\])([A-Za-z_][\w.]*)\s*\(")


def normalise(text: str) -> str:
    """The text as the formula library reads it: without Excel's _xlfn./_xlws./_xludf. prefixes,
    and a range ending on the last row ending one row before (outside string literals)."""
    lowered = text.lower()
    if "_xl" not in lowered and "xfd" not in lowered and "1048576" not in text:
        return text  # nothing any of the three patterns could match: most formulas
    return outside_strings(text, lambda s: _LAST_COLUMN.sub(r"\g<1>XFC", _LAST_ROW.sub(r"\g<1>1048575", _PREFIX.sub("", s))))


MAX_RANGE_CELLS = 1 << 24  # 16 777 216 cells: a million rows of 16 columns
_BOUNDED_RANGE = re.compile(r"(?<![\w.$])\$?([A-Za-z]{1,3})\$?([0-9]{1,7}):\$?([A-Za-z]{1,3})\$?([0-9]{1,7})(?![\w(!])")


def range_problem(text: str) -> str | None:
    """Why a range of the formula cannot be read: a bounded range (A1:XFC100000) of more cells
    than MAX_RANGE_CELLS, which would be read whole. Whole columns and rows (A:A, 1:1, A:XFD) are
    read only as far as the sheet's used area and are never refused."""
    from encaisse.workbook.package import MAX_ROWS, column_index_from_string

    masked = None
    for m in _BOUNDED_RANGE.finditer(text):  # the raw text first: masking it costs a loop over its characters
        c1, c2 = (column_index_from_string(m.group(i).upper()) for i in (1, 3))
        r1, r2 = int(m.group(2)), int(m.group(4))
        if max(r1, r2) >= MAX_ROWS - 1:  # to the sheet's last row: read as whole columns
            continue
        cells = (abs(c2 - c1) + 1) * (abs(r2 - r1) + 1)
        masked = mask_strings(text) if masked is None else masked
        if cells > MAX_RANGE_CELLS and masked[m.start():m.end()] == m.group(0):  # not inside a string or a sheet's name
            count = lambda n: f"{n:,}".replace(",", "\u202f")  # noqa: E731
            return (f"plage « {m.group(0)} » de {count(cells)} cellules (au plus {count(MAX_RANGE_CELLS)}) : limitez-la aux données, "
                    f"ou prenez des colonnes entières (A:F), lues seulement jusqu'à la dernière ligne remplie")
    return None


def with_bounded_ranges(texts: list[str]) -> list[int]:
    """Indexes of the texts holding a bounded range (the only ones `range_problem` can refuse)."""
    return texts_matching(texts, _BOUNDED_RANGE)


_OWN_CELL = re.compile(r"(?<![\w.])(ROW|COLUMN)\(\s*\)", re.I)


def own_cell(text: str, row: int, col: int) -> str:
    """ROW() and COLUMN() without argument are the formula's own row and column: written as the
    numbers they are (each formula is compiled alone, without knowing where it stands; a reference
    to its own cell would read as a cycle)."""
    return outside_strings(text, lambda s: _OWN_CELL.sub(lambda m: str(row if m.group(1).upper() == "ROW" else col), s))


_DIGITS = str.maketrans("", "", "0123456789")


def without_digits(text: str) -> str:
    """The text with its digits taken out: the formulas of a calculated column (one formula moved
    down by its row) are alike so."""
    return text.translate(_DIGITS)


def outside_strings(text: str, change) -> str:
    """`change` applied to every part of `text` outside its string literals."""
    parts = re.split(r'("(?:[^"]|"")*")', text)
    return "".join(p if i % 2 else change(p) for i, p in enumerate(parts))


def has_call(text: str) -> bool:
    """Does the text call any function (a name followed by a parenthesis)?"""
    return _CALL.search(text) is not None


def called_functions(text: str) -> list[str]:
    """Upper-cased names of every function the text calls, nested ones included, in order."""
    return [m.group(1).upper() for m in _CALL.finditer(mask_strings(text))]


# Excel functions that share a name with an encaisse one, by their number of arguments: Excel's
# FORECAST(x; known_y; known_x) is a linear regression, encaisse's takes the eight tables of a book.
EXCEL_HOMONYMS = {"FORECAST": 3}


def find_calls(text: str, names) -> list[tuple[int, int, str, list[str]]]:
    """Outermost calls of the functions in `names` (upper-cased): (start, end, NAME, argument texts).
    A call shaped like Excel's own function of the same name (EXCEL_HOMONYMS) is left to the library."""
    calls = []
    masked = mask_strings(text)
    pos = 0
    while True:
        m = _CALL.search(masked, pos)
        if m is None:
            break
        name = m.group(1).upper()
        open_paren = m.end() - 1
        close = closing(masked, open_paren)
        args = split_args(text, masked, open_paren + 1, close) if name in names else None
        if args is not None and len(args) != EXCEL_HOMONYMS.get(name, -1):
            calls.append((m.start(), close + 1, name, args))
            pos = close + 1
        else:
            pos = m.end()
    return calls


def mask_strings(text: str) -> str:
    """Same length as `text`, with the inside of string literals, quoted sheet names and brackets blanked."""
    m = _OPENING.search(text)
    if m is None:
        return text  # most formulas: nothing to blank
    out = list(text)
    n = len(text)
    i = m.start()
    while i < n:
        if text[i] in "\"'":
            quote, j = text[i], i + 1
            while True:  # the closing quote; a doubled one is a quote inside
                j = text.find(quote, j)
                if j < 0:
                    j = n
                    break
                if j + 1 < n and text[j + 1] == quote:
                    j += 2
                    continue
                break
        else:  # "[": to its matching bracket
            depth, j = 0, i
            while j < n:
                if text[j] == "[":
                    depth += 1
                elif text[j] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
        out[i + 1:j] = " " * (min(j, n) - i - 1)
        found = _OPENING.search(text, j + 1)
        i = found.start() if found is not None else n
    return "".join(out)


_OPENING = re.compile(r"[\"'\[]")


def closing(masked: str, open_paren: int) -> int:
    """Index of the parenthesis closing the one at `open_paren` (in a masked text)."""
    depth = 0
    for j in range(open_paren, len(masked)):
        if masked[j] == "(":
            depth += 1
        elif masked[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    raise CellProblem("parenthèse non fermée")


def split_args(text: str, masked: str, start: int, end: int) -> list[str]:
    """The argument texts between `start` and `end` (separated by top-level , or ;)."""
    args, depth, last = [], 0, start
    for j in range(start, end):
        ch = masked[j]
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif ch in ",;" and depth == 0:
            args.append(text[last:j])
            last = j + 1
    tail = text[last:end]
    if args or tail.strip():
        args.append(tail)
    return args


def texts_matching(texts: list[str], pattern: re.Pattern) -> list[int]:
    """Indexes of the texts in which `pattern` (a regex none of whose matches can hold a NUL
    character) finds a match: one search over all of them joined, not one per text."""
    joined = "\x00".join(texts)
    starts = None
    found: list[int] = []
    for m in pattern.finditer(joined):
        if starts is None:
            starts = list(itertools.accumulate((len(t) + 1 for t in texts), initial=0))
        i = bisect.bisect_right(starts, m.start()) - 1
        if not found or found[-1] != i:
            found.append(i)
    return found


class Mentions:
    """Finds the tables and defined names a formula text mentions (before it is parsed)."""

    def __init__(self, tables, names):
        self._tables = self._whole = self._names = None
        if tables:
            alternatives = "|".join(re.escape(t) for t in tables)
            self._tables = re.compile(rf"(?<![\w.])({alternatives})\s*\[", re.I)
            self._whole = re.compile(rf"(?<![\w.])({alternatives})\s*\[\s*#(?:All|Tout)\s*\]", re.I)
        if names:
            alternatives = "|".join(re.escape(n) for n in names)
            self._names = re.compile(rf"(?<![\w.$])({alternatives})(?![\w(\[])", re.I)

    def tables(self, text: str) -> list[str]:
        """Upper-cased names of the tables the text refers to with a structured reference."""
        return [] if self._tables is None else [m.group(1).upper() for m in self._tables.finditer(text)]

    def whole_tables(self, text: str) -> list[str]:
        """Upper-cased names of the tables passed whole (`T[#All]`) to a function call."""
        if self._whole is None or not has_call(text):
            return []
        return [m.group(1).upper() for m in self._whole.finditer(text)]

    def names(self, text: str) -> list[str]:
        """The defined names the text mentions, as written."""
        return [] if self._names is None else [m.group(1) for m in self._names.finditer(text)]

    def all_mentions(self, texts: list[str]) -> tuple[list[str], list[str], list[str]]:
        """(upper-cased names of the tables, of the tables passed whole, the defined names as first
        written) that the texts mention, each once, in the order first mentioned: one search over
        the texts joined for the tables and names."""
        joined = "\x00".join(texts)
        tables = list(dict.fromkeys(self.tables(joined)))
        whole = [] if self._whole is None else list(dict.fromkeys(
            name for i in texts_matching(texts, self._whole) for name in self.whole_tables(texts[i])))
        names: dict[str, str] = {}
        for name in self.names(joined):
            names.setdefault(name.upper(), name)
        return tables, whole, list(names.values())

    def mentioning(self, texts: list[str]) -> list[int]:
        """Indexes of the texts that mention a table or a defined name (found in one search)."""
        patterns = [p for p in (self._tables, self._names) if p is not None]
        if not patterns:
            return []
        return sorted(set().union(*(texts_matching(texts, p) for p in patterns)))


# -- the columns of a sheet that formulas read ----------------------------------------------------

_A1_REFERENCE = re.compile(
    r"(?<![\w.$])(?:('(?:[^']|'')*'|[^\s'!():,;=<>&+\-*/^%{}\"\[\]]+)!)?"  # an optional sheet
    r"\$?([A-Za-z]{1,3})(\$?[0-9]{1,7})?(?:\s*:\s*\$?([A-Za-z]{1,3})\$?[0-9]{0,7})?(?![\w(!\[])")
_WHOLE_ROWS = re.compile(r"(?<![\w.$:])\$?[0-9]{1,7}\s*:\s*\$?[0-9]{1,7}(?![\w.(])")
_RANGE_BY_FUNCTION = re.compile(r":\s*[A-Za-z_][\w.]*\s*\(|\)\s*:")  # A9:CHOOSE(…), INDEX(…):B9
_COMPUTED_REFERENCES = frozenset({"INDIRECT", "OFFSET"})
_BRACKETS = re.compile(r"\[(?:[^\[\]']|'.|\[(?:[^\[\]']|'.)*\])*\]")  # T[Col], [@Col], T[[#This Row],[Col]]
_ITEM = re.compile(r"\[((?:[^\[\]']|'.)*)\]")
_SPECIAL_ITEM = re.compile(r"#(?:this\s*row|data|all|headers|totals|données|tout|en-têtes|totaux|cette\s*ligne)$", re.I)


def columns_read(formulas: list[tuple[str, str]], sheet: str, package) -> frozenset[int] | None:
    """The columns (1-based) of `sheet` that these formulas ((own sheet, text) pairs) read, as far
    as their texts tell: A1 references and ranges, whole columns, structured references to its
    tables' columns, defined names of its ranges. None when they may read any column: a table
    or whole rows taken whole, INDIRECT or OFFSET, a range ended by a function, a name that is a
    formula. A guess made before reading (it decides which columns are read first): the
    evaluation itself asks for any other column it turns out to need."""
    wanted: set[int] = set()
    target = sheet.casefold()
    tables = [t for t in package.tables.values() if t.sheet.casefold() == target]
    whole_table = (re.compile(r"(?<![\w.])(?:" + "|".join(re.escape(t.name) for t in tables) + r")(?![\w.(!])(?!\s*\[)", re.I)
                   if tables else None)
    names = Mentions([], list(package.defined_names))
    from encaisse.workbook.package import column_index_from_string

    def letters(text: str) -> int:
        return column_index_from_string(text.upper())

    for own, text in formulas:
        masked = mask_strings(text)
        if (_COMPUTED_REFERENCES.intersection(m.group(1).upper() for m in _CALL.finditer(masked))
                or _RANGE_BY_FUNCTION.search(masked) or _WHOLE_ROWS.search(masked)
                or (whole_table is not None and whole_table.search(masked))):
            return None
        on_own = own.casefold() == target
        for m in _A1_REFERENCE.finditer(masked):
            quoted = text[m.start(1):m.end(1)] if m.group(1) else None
            named = quoted.strip("'").replace("''", "'").casefold() if quoted else None
            if (named if named is not None else (target if on_own else None)) != target:
                continue
            if m.group(3) is None and m.group(4) is None:
                continue  # a bare word (a name, TRUE): not a reference
            try:
                first = letters(m.group(2))
                last = letters(m.group(4)) if m.group(4) else first
            except ValueError:
                continue
            wanted.update(range(min(first, last), max(first, last) + 1))
        for m in _BRACKETS.finditer(text):
            if masked[m.start()] != "[":
                continue  # inside a string
            before = re.search(r"([\w.]+)\s*$", text[:m.start()])
            if before is None:  # [@Col] in a table's own column: any table of the formula's sheet
                candidates = tables if on_own else []
            else:
                table = package.tables.get(before.group(1).upper())
                candidates = [table] if table is not None and table.sheet.casefold() == target else []
            if not candidates:
                continue
            inner = m.group(0)[1:-1]
            items = [_unescape(item.lstrip("@").strip()) for item in (_ITEM.findall(inner) if "[" in inner else [inner])]
            items = [item for item in items if item and not _SPECIAL_ITEM.match(item)]
            if not items:
                return None  # the whole table (T[], T[#All], T[#Data])
            for table in candidates:
                columns = [table.column_index(item) for item in items]
                if "]:[" in inner.replace(" ", "") and len(columns) == 2 and None not in columns:
                    columns = list(range(min(columns), max(columns) + 1))
                wanted.update(table.bounds[0] + c for c in columns if c is not None)
            if not any(table.column_index(item) is not None for item in items for table in candidates):
                return None  # a column this guess does not find
        for name in names.names(masked):
            found = package.name_range(name)
            if found is None:
                if "(" in package.defined_names[name.upper()].text:
                    return None  # a name computed by a formula may designate any range
                continue
            if found[0].casefold() == target:
                wanted.update(range(found[1], found[3] + 1))
    return frozenset(wanted)


def _unescape(item: str) -> str:
    """A structured reference's column name as its header reads ('[ -> [, '# -> #, '' -> ')."""
    return re.sub(r"'(.)", r"\1", item)
