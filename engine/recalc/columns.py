"""Calculated columns: a run of cells down one column whose formulas differ only by their row (the
same relative, R1C1, form — what Excel writes down a table column or as a shared formula) is
evaluated as one array operation instead of one formula per cell.

`E2>0` in the cell of row 2 becomes `E2:E100001>0` for the whole run. Only formulas whose every
function works element by element are taken (IF, IFERROR, ROUND, YEAR...: an aggregate such as SUM
or MAX would swallow the column), with no relative range (`SUM(A2:C2)`) and no reference into their
own column (a running balance reads the row above: it stays cell by cell). The evaluator still
checks the result: anything but one value per row and it evaluates the cells one by one.
"""

from __future__ import annotations

import operator
import re

import numpy as np

from encaisse.recalc.scan import called_functions, mask_strings, without_digits
from encaisse.workbook.package import FormulaCell, column_index_from_string, get_column_letter
from encaisse.workbook.splice import ErrorValue

MIN_ROWS = 16  # shorter runs gain nothing worth a second way of evaluating
ELEMENTWISE = frozenset({
    "IF", "IFERROR", "IFNA", "ISBLANK", "ISERROR", "ISERR", "ISNA", "ISNUMBER", "ISTEXT", "ISLOGICAL", "NOT",
    "ABS", "ROUND", "ROUNDUP", "ROUNDDOWN", "INT", "TRUNC", "MOD", "SIGN", "DATE", "YEAR", "MONTH", "DAY",
    "LEFT", "RIGHT", "MID", "LEN", "UPPER", "LOWER", "TRIM",
})
_CELL = r"(\$?)([A-Za-z]{1,3})(\$?)([0-9]+)"
_REF = re.compile(rf"(?<![\w.$:]){_CELL}(?::{_CELL})?(?![\w(!:\[])")


class Column:
    """A run of cells of one column sharing a relative form: `anchor` stands for them all (its
    `array_ref` is the run's range, its kind "column"); `cells` are the run, top to bottom, made
    only when asked for (a column read as lists has none until then); `size` how many;
    `positions` their ranks among the sheet's plain formula cells (`package.PlainFormulas`), when
    read so: the splice writes their values there without a dictionary of updates."""

    __slots__ = ("anchor", "size", "positions", "_cells", "_texts")

    def __init__(self, anchor: FormulaCell, cells: tuple[FormulaCell, ...] | None = None, *,
                 texts: list[str] | None = None, positions: np.ndarray | None = None):
        self.anchor, self._cells, self._texts, self.positions = anchor, cells, texts, positions
        self.size = len(cells) if cells is not None else len(texts)

    @property
    def cells(self) -> tuple[FormulaCell, ...]:
        if self._cells is None:
            first, letters = self.anchor, get_column_letter(self.anchor.col)
            self._cells = tuple(FormulaCell(first.sheet, f"{letters}{row}", row, first.col, text)
                                for row, text in enumerate(self._texts, start=first.row))
            self._texts = None
        return self._cells

    @property
    def top(self) -> FormulaCell:
        """The run's first cell, as read."""
        if self._cells is not None:
            return self._cells[0]
        return FormulaCell(self.anchor.sheet, self.anchor.ref, self.anchor.row, self.anchor.col, self._texts[0])

    def __repr__(self) -> str:
        return f"Column({self.anchor!r}, {self.size} cells)"


def relative_form(text: str, row: int, col: int) -> str | None:
    """The formula's R1C1 form (references relative to its cell), or None when it cannot be
    evaluated down a column as one array: a function that is not element by element, a range
    with a relative row, or a reference into its own column."""
    masked = mask_strings(text)
    if not set(called_functions(text)) <= ELEMENTWISE:
        return None
    own = get_column_letter(col)
    pieces, pos = [], 0
    for m in _REF.finditer(masked):
        if m.group(5) is not None and ("" in (m.group(3), m.group(7))):
            return None  # a range whose rows move with the cell: one aggregate per row
        if any(m.group(start + 1).upper() == own for start in ((1, 5) if m.group(5) is not None else (1,))):
            return None
        pieces += [text[pos:m.start()], _r1c1(m, row, col)[0]]
        pos = m.end()
    pieces.append(text[pos:])
    return "".join(pieces)


def references(text: str, row: int, col: int) -> tuple[str, list[tuple[str, tuple[int, int, int, int]]]]:
    """(the formula's R1C1 form: its A1 references written relative to its cell, the rest of the
    text as is; its A1 references in order, each as (text without $, upper-cased; (r1, c1, r2, c2))).
    Two formulas of one sheet with the same form differ only by where they stand. What is not
    recognised as a reference (whole columns, names) stays as written, so it is the same place."""
    masked = mask_strings(text)
    pieces, found, pos = [], [], 0
    for m in _REF.finditer(masked):
        form, coordinates = _r1c1(m, row, col)
        pieces += [text[pos:m.start()], form]
        found.append((m.group(0).replace("$", "").upper(), coordinates))
        pos = m.end()
    pieces.append(text[pos:])
    return "".join(pieces), found


def _r1c1(m: re.Match, row: int, col: int) -> tuple[str, tuple[int, int, int, int]]:
    """A reference matched by _REF: (its R1C1 form relative to (row, col), (r1, c1, r2, c2))."""
    parts, rows, cols = [], [], []
    for start in (1, 5) if m.group(5) is not None else (1,):
        c_abs, letters, r_abs, digits = m.group(start, start + 1, start + 2, start + 3)
        number = column_index_from_string(letters.upper())
        c = f"C{number}" if c_abs else f"C[{number - col}]"
        r = f"R{digits}" if r_abs else f"R[{int(digits) - row}]"
        parts.append(r + c)
        rows.append(int(digits))
        cols.append(number)
    return ":".join(parts), (min(rows), min(cols), max(rows), max(cols))


def spread(text: str, rows: int) -> str:
    """The top cell's formula with each single-cell reference whose row is relative turned into
    the column range of the `rows` cells below it (E2 -> E2:E101 for 100 rows)."""
    masked = mask_strings(text)
    pieces, pos = [], 0
    for m in _REF.finditer(masked):
        if m.group(5) is None and not m.group(3):
            c_abs, letters, _, digits = m.group(1, 2, 3, 4)
            pieces += [text[pos:m.end()], f":{c_abs}{letters}{int(digits) + rows - 1}"]
            pos = m.end()
    pieces.append(text[pos:])
    return "".join(pieces)


def _template(text: str, row: int) -> tuple[str, list[int]]:
    """The formula as a format string whose fields are its relative row numbers, with each field's
    offset from the cell's row: 'IF(E{}>0,D{}-$B$1,"")', [0, 0] for IF(E2>0,D2-$B$1,"") in row 2.
    The formula of the cell `d` rows below with the same relative form is the format string filled
    with row + d + offset; without relative row (Factures[@Montant]*2, $B$1*2), the same text."""
    masked = mask_strings(text)
    pieces, offsets, pos = [], [], 0
    for m in _REF.finditer(masked):
        for start in (1, 5) if m.group(5) is not None else (1,):
            if m.group(start + 2):  # $ before the row: fixed
                continue
            digits = m.span(start + 3)
            pieces.append(text[pos:digits[0]].replace("{", "{{").replace("}", "}}"))
            pieces.append("{}")
            offsets.append(int(m.group(start + 3)) - row)
            pos = digits[1]
    pieces.append(text[pos:].replace("{", "{{").replace("}", "}}"))
    return "".join(pieces), offsets


def _run_length(rows: list[int], texts: list[str], i: int) -> int:
    """How many cells from the i-th down (cells of one column, by row: their rows and texts) are on
    consecutive rows and hold its formula moved by their row (the same relative form): compared by
    text, the moved formulas written for a growing stretch at a time (16, 32, 64... rows), so a
    column of unlike formulas costs a few comparisons per cell, not a parse each."""
    fmt, offsets = _template(texts[i], rows[i])
    length, stretch = 1, MIN_ROWS
    while i + length < len(rows):
        top = rows[i] + length
        part_texts = texts[i + length:i + length + stretch]
        got_rows = rows[i + length:i + length + stretch]
        want_rows = range(top, top + len(got_rows))
        expected = (list(map(fmt.format, *(range(top + o, top + o + len(got_rows)) for o in offsets))) if offsets
                    else [texts[i]] * len(got_rows))
        if part_texts != expected or got_rows != list(want_rows):
            return length + next(k for k in range(len(got_rows)) if got_rows[k] != want_rows[k] or part_texts[k] != expected[k])
        length += len(got_rows)
        stretch *= 2
    return length


_ROW, _TEXT = operator.attrgetter("row"), operator.attrgetter("text")


def find_columns(cells: list[FormulaCell]) -> tuple[list[FormulaCell], dict[tuple, Column]]:
    """(the cells with each run replaced by its anchor, anchor key -> the run)."""
    by_column: dict[tuple, list[FormulaCell]] = {}
    for cell in cells:
        if cell.kind == "normal":
            by_column.setdefault((cell.sheet, cell.col), []).append(cell)
    runs: dict[tuple, Column] = {}
    taken: set[int] = set()  # id() of the cells in a run
    for (sheet, col), column in sorted(by_column.items()):
        if len(column) < MIN_ROWS:
            continue
        column.sort(key=_ROW)
        rows, texts = list(map(_ROW, column)), list(map(_TEXT, column))
        for start, length in _runs(rows, texts, col):
            run = column[start:start + length]
            runs[(sheet, rows[start], col)] = Column(_anchor(sheet, col, rows[start], length, texts[start]), tuple(run))
            taken.update(map(id, run))
    if not runs:
        return cells, {}
    kept = [] if len(taken) == len(cells) else [c for c in cells if id(c) not in taken]
    return kept + [column.anchor for column in runs.values()], runs


def find_plain_columns(sheet: str, rows: list[int], cols: list[int], texts: list[str]) -> tuple[list[FormulaCell], dict[tuple, Column]]:
    """`find_columns` for the formula cells of one sheet given as lists in sheet order (the plain
    cells of `package.plain_formulas`, all of kind "normal"): a FormulaCell is made only for the
    cells outside the runs, each run keeps its cells' ranks (`Column.positions`)."""
    count = len(rows)
    row_array, col_array = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    order = np.lexsort((row_array, col_array))  # by column, then row; stable, as find_columns sorts
    sorted_cols = col_array[order]
    bounds = np.flatnonzero(np.diff(sorted_cols)) + 1
    runs: dict[tuple, Column] = {}
    taken = np.zeros(count, dtype=bool)
    for lo, hi in zip([0, *bounds.tolist()], [*bounds.tolist(), count]):
        if hi - lo < MIN_ROWS:
            continue
        col = int(sorted_cols[lo])
        ranks = order[lo:hi]
        column_rows = row_array[ranks].tolist()
        column_texts = list(map(texts.__getitem__, ranks.tolist()))
        for start, length in _runs(column_rows, column_texts, col):
            positions = ranks[start:start + length]
            runs[(sheet, column_rows[start], col)] = Column(
                _anchor(sheet, col, column_rows[start], length, column_texts[start]),
                texts=column_texts[start:start + length], positions=positions)
            taken[positions] = True
    if not runs:
        kept = range(count)
    else:
        kept = np.flatnonzero(~taken).tolist()
    cells = [FormulaCell(sheet, f"{get_column_letter(cols[k])}{rows[k]}", rows[k], cols[k], texts[k]) for k in kept]
    return cells + [column.anchor for column in runs.values()], runs


def _runs(rows: list[int], texts: list[str], col: int):
    """(start, length) of the calculated columns among the cells of one column (by row)."""
    i = 0
    while i < len(rows):
        # A run holds one formula moved by its row: its cells' texts are the same but for their
        # digits. Fewer than MIN_ROWS such cells from here: no run worth it starts among them.
        alike = _alike(rows, texts, i)
        if alike < MIN_ROWS:
            i += alike
            continue
        length = _run_length(rows, texts, i)
        start = i
        i += length
        if length >= MIN_ROWS and relative_form(texts[start], rows[start], col) is not None:
            yield start, length


def _alike(rows: list[int], texts: list[str], i: int) -> int:
    """How many cells from the i-th, up to MIN_ROWS, stand on consecutive rows with its text but
    for the digits (a cheap test before the formulas are compared as moved)."""
    skeleton = without_digits(texts[i])
    k = 1
    while k < MIN_ROWS and i + k < len(rows) and rows[i + k] == rows[i] + k and without_digits(texts[i + k]) == skeleton:
        k += 1
    return k


def _anchor(sheet: str, col: int, row: int, size: int, text: str) -> FormulaCell:
    letters = get_column_letter(col)
    return FormulaCell(sheet, f"{letters}{row}", row, col, spread(text, size), "column", f"{letters}{row}:{letters}{row + size - 1}")


# -- the column evaluated with numpy ----------------------------------------------------------------
#
# The formula library evaluates an operator over a column one element at a time (about 15 µs each:
# 100 000 rows of IF(E2>0,DateArrete-D2,"") take seconds), and IronCalc has to load every cell of
# the book first (about 25 µs per formula cell). The formulas a finance table computes down a
# column are made of a few operators and IF: those are evaluated here, each operator one numpy
# operation over the rows that reach it (IF evaluates each branch only on the rows that take it, as
# Excel does). Anything whose Excel meaning is not certain here (text in arithmetic, text ordered
# against text, a function not listed below) raises Unsupported, and the column goes to the
# library as before.


class Unsupported(Exception):
    """The column cannot be evaluated here: the library evaluator does it."""


BLANK, NUMBER, TEXT, BOOL, ERROR = range(5)
FAST_FUNCTIONS = frozenset({"IF", "IFERROR", "IFNA", "ISBLANK", "ISNUMBER", "ISTEXT", "ISLOGICAL", "ISERROR",
                            "ISERR", "ISNA", "NOT", "ABS", "INT"})

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"]|"")*")
  | (?P<ref>(?:(?P<sheet>'(?:[^']|'')+'|[A-Za-z_][\w.]*)!)?
            (?P<a>\$?[A-Za-z]{1,3}\$?[0-9]{1,7})(?::(?P<b>\$?[A-Za-z]{1,3}\$?[0-9]{1,7}))?)(?![\w(!.:\[])
  | (?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<call>[A-Za-z_][\w.]*)\s*\(
  | (?P<name>[A-Za-z_\\][\w.]*)(?![\w(!\[])
  | (?P<op><>|<=|>=|[-+*/^&=<>%(),])
""", re.X)


def parse(text: str):
    """The formula as a tree of tuples, or Unsupported: ("num", x), ("str", s), ("bool", b),
    ("ref", sheet, a, b), ("name", n), ("call", NAME, [args]), ("op", op, left, right),
    ("neg", x), ("pct", x), ("empty",)."""
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise Unsupported(text[pos:pos + 10])
        pos = m.end()
        kind = m.lastgroup
        if kind == "space":
            continue
        if kind in ("sheet", "a", "b"):
            kind = "ref"
        tokens.append((kind, m))
    parser = _Parser(tokens)
    tree = parser.expression()
    if parser.i != len(tokens):
        raise Unsupported("fin inattendue")
    return tree


class _Parser:
    # Excel's precedence: comparison < & < + - < * / < ^ < % < unary minus
    _LEVELS = (("=", "<>", "<", ">", "<=", ">="), ("&",), ("+", "-"), ("*", "/"), ("^",))

    def __init__(self, tokens):
        self.tokens, self.i = tokens, 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def op(self):
        kind, m = self.peek()
        return m.group(0) if kind == "op" else None

    def expression(self, level: int = 0):
        if level == len(self._LEVELS):
            return self.unary()
        left = self.expression(level + 1)
        while self.op() in self._LEVELS[level]:
            op = self.op()
            self.i += 1
            left = ("op", op, left, self.expression(level + 1))
        return left

    def unary(self):
        op = self.op()
        if op in ("-", "+"):
            self.i += 1
            inner = self.unary()
            return ("neg", inner) if op == "-" else ("plus", inner)
        node = self.primary()
        while self.op() == "%":
            self.i += 1
            node = ("pct", node)
        return node

    def primary(self):
        kind, m = self.peek()
        if kind is None:
            raise Unsupported("fin inattendue")
        self.i += 1
        if kind == "number":
            return ("num", float(m.group(0)))
        if kind == "string":
            return ("str", m.group(0)[1:-1].replace('""', '"'))
        if kind == "ref":
            sheet = m.group("sheet")
            if sheet is not None and sheet.startswith("'"):
                sheet = sheet[1:-1].replace("''", "'")
            return ("ref", sheet, m.group("a"), m.group("b"))
        if kind == "name":
            name = m.group(0)
            if name.upper() in ("TRUE", "FALSE"):
                return ("bool", name.upper() == "TRUE")
            return ("name", name)
        if kind == "call":
            name = m.group("call").upper()
            if name not in FAST_FUNCTIONS:
                raise Unsupported(name)
            args = []
            if self.op() == ")":
                self.i += 1
                return ("call", name, args)
            while True:
                if self.op() in (",", ")"):
                    args.append(("empty",))
                else:
                    args.append(self.expression())
                op = self.op()
                self.i += 1
                if op == ")":
                    return ("call", name, args)
                if op != ",":
                    raise Unsupported("argument")
        if kind == "op" and m.group(0) == "(":
            inner = self.expression()
            if self.op() != ")":
                raise Unsupported("parenthèse")
            self.i += 1
            return inner
        raise Unsupported(m.group(0))


class Values:
    """One value per row: `kind` (BLANK, NUMBER, TEXT, BOOL, ERROR), `num` (numbers, booleans as
    0/1), `obj` (the text, or the error code; None when the rows hold neither)."""

    __slots__ = ("kind", "num", "obj")

    def __init__(self, kind: np.ndarray, num: np.ndarray, obj: np.ndarray | None = None):
        self.kind, self.num, self.obj = kind, num, obj

    @classmethod
    def full(cls, n: int, kind: int, num: float = 0.0, obj=None) -> "Values":
        objects = None
        if obj is not None:
            objects = np.empty(n, dtype=object)
            objects.fill(obj)
        return cls(np.full(n, kind, dtype=np.int8), np.full(n, num, dtype=np.float64), objects)

    def take(self, rows: np.ndarray) -> "Values":
        return Values(self.kind[rows], self.num[rows], None if self.obj is None else self.obj[rows])

    def objects(self) -> np.ndarray:
        if self.obj is None:
            self.obj = np.empty(len(self.kind), dtype=object)
        return self.obj


def _from_cells(values: np.ndarray) -> Values:
    """Cells as the evaluator gives them to the library (serial dates, EMPTY blanks, XlError) or as
    computed in the file's terms (float, bool, str, ErrorValue) -> Values."""
    from encaisse.recalc.values import empty_token

    n = len(values)
    kinds = np.fromiter(map(type, values), dtype=object, count=n)
    out = Values(np.zeros(n, dtype=np.int8), np.zeros(n, dtype=np.float64))
    empty = type(empty_token())
    for t in set(kinds.tolist()):
        mask = kinds == t
        if t is float or t is int or (isinstance(t, type) and issubclass(t, (np.floating, np.integer))):
            out.kind[mask] = NUMBER
            out.num[mask] = values[mask].astype(np.float64)
        elif t is bool or t is np.bool_:
            out.kind[mask] = BOOL
            out.num[mask] = values[mask].astype(np.float64)
        elif t is empty:
            from encaisse.recalc.values import is_empty

            if not all(map(is_empty, values[mask])):
                raise Unsupported("valeur")
            out.kind[mask] = BLANK
        elif t is str:
            out.kind[mask] = TEXT
            out.objects()[mask] = values[mask]
        elif t is ErrorValue or t.__name__ == "XlError":
            out.kind[mask] = ERROR
            out.objects()[mask] = [str(v) for v in values[mask]]
        else:
            raise Unsupported(t.__name__)
    return out


def to_cells(result: Values) -> np.ndarray:
    """Values -> one column of file values (float, bool, str, ErrorValue); a blank is 0 as in Excel."""
    out = result.num.astype(object)
    booleans = result.kind == BOOL
    if booleans.any():
        out[booleans] = (result.num[booleans] != 0).astype(object)
    texts = result.kind == TEXT
    if texts.any():
        out[texts] = result.obj[texts]
    errors = result.kind == ERROR
    if errors.any():
        out[errors] = [ErrorValue(code) for code in result.obj[errors]]
    return out.reshape(-1, 1)


_A1 = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]+)")


def evaluate(tree, top: int, n: int, cells, name) -> np.ndarray:
    """The values (n x 1, in the file's terms) of the column of `n` rows from row `top`, from the
    tree (`parse`) of its anchor's formula (`spread`: E2:E100001 for each row's own E cell): a
    range over exactly the column's rows gives one value per row, a single cell the same value to
    all; `cells(sheet or None, "E2", rows)` gives the `rows` cells from E2 down, `name(text)` the
    cell a defined name designates, each as a 1-D object array as the library would read them.
    Unsupported when not certain."""
    return ColumnEvaluator(top, n, cells, name).run(tree)


class ColumnEvaluator:
    """Evaluates a parsed column formula over `n` rows from row `top` (see `evaluate`)."""

    def __init__(self, top: int, n: int, cells, name):
        self.top, self.n, self._cells, self._name = top, n, cells, name
        self._inputs: dict = {}

    def _rows(self, node) -> int:
        """How many cells a reference gives: 1 for a cell, n for a range over the column's rows."""
        if node[3] is None:
            return 1
        (c1, r1), (c2, r2) = (_A1.fullmatch(ref).groups() for ref in node[2:4])
        if c1.upper() != c2.upper() or int(r1) != self.top or int(r2) != self.top + self.n - 1:
            raise Unsupported("plage")  # not one value per row of the column
        return self.n

    def run(self, tree) -> np.ndarray:
        result = self.eval(tree, np.arange(self.n))
        return to_cells(result)

    def _input(self, key, fetch) -> Values:
        if key not in self._inputs:
            values = fetch()
            if values is None or len(values) not in (1, self.n):
                raise Unsupported("plage")
            self._inputs[key] = _from_cells(values)
        return self._inputs[key]

    def eval(self, node, rows: np.ndarray) -> Values:
        kind = node[0]
        m = len(rows)
        if kind == "num":
            return Values.full(m, NUMBER, node[1])
        if kind == "str":
            return Values.full(m, TEXT, obj=node[1])
        if kind == "bool":
            return Values.full(m, BOOL, float(node[1]))
        if kind == "empty":
            return Values.full(m, BLANK)
        if kind == "ref":
            values = self._input(node, lambda: self._cells(node[1], node[2], self._rows(node)))
            if len(values.kind) == 1:
                return values.take(np.zeros(m, dtype=np.intp))
            return values.take(rows)
        if kind == "name":
            values = self._input(node, lambda: self._name(node[1]))
            if len(values.kind) == 1:
                return values.take(np.zeros(m, dtype=np.intp))
            return values.take(rows)
        if kind == "neg":
            x = self._numbers(self.eval(node[1], rows))
            return self._number_result(-x[0], x[1])
        if kind == "plus":
            return self.eval(node[1], rows)
        if kind == "pct":
            x = self._numbers(self.eval(node[1], rows))
            return self._number_result(x[0] / 100, x[1])
        if kind == "op":
            return self._operator(node[1], self.eval(node[2], rows), self.eval(node[3], rows))
        if kind == "call":
            return self._call(node[1], node[2], rows)
        raise Unsupported(kind)

    # -- operators ---------------------------------------------------------------------------------

    @staticmethod
    def _first_error(*operands: Values):
        """(mask of rows holding an error in any operand, their codes: the leftmost operand's)."""
        m = len(operands[0].kind)
        mask = np.zeros(m, dtype=bool)
        codes = None
        for v in operands:
            errors = (v.kind == ERROR) & ~mask
            if errors.any():
                codes = np.empty(m, dtype=object) if codes is None else codes
                codes[errors] = v.obj[errors]
                mask |= errors
        return mask, codes

    def _numbers(self, v: Values) -> tuple[np.ndarray, tuple]:
        """Numbers for arithmetic (blank 0, TRUE 1); text would need Excel's parsing of numbers."""
        if (v.kind == TEXT).any():
            raise Unsupported("texte dans un calcul")
        return v.num, self._first_error(v)

    @staticmethod
    def _number_result(num: np.ndarray, errors, division: np.ndarray | None = None) -> Values:
        mask, codes = errors
        out = Values(np.full(len(num), NUMBER, dtype=np.int8), num)
        bad = ~np.isfinite(num) & ~mask
        if division is not None:
            zero = division & ~mask
            if zero.any():
                out.kind[zero] = ERROR
                out.objects()[zero] = "#DIV/0!"
                bad &= ~zero
        if bad.any():
            out.kind[bad] = ERROR
            out.objects()[bad] = "#NUM!"
        if mask.any():
            out.kind[mask] = ERROR
            out.objects()[mask] = codes[mask]
        out.num = np.where(out.kind == NUMBER, num, 0.0)
        return out

    def _operator(self, op: str, a: Values, b: Values) -> Values:
        if op in ("+", "-", "*", "/", "^"):
            if (a.kind == TEXT).any() or (b.kind == TEXT).any():
                raise Unsupported("texte dans un calcul")
            errors = self._first_error(a, b)
            with np.errstate(all="ignore"):
                if op == "+":
                    return self._number_result(a.num + b.num, errors)
                if op == "-":
                    return self._number_result(a.num - b.num, errors)
                if op == "*":
                    return self._number_result(a.num * b.num, errors)
                if op == "/":
                    return self._number_result(a.num / np.where(b.num == 0, 1.0, b.num), errors, division=b.num == 0)
                if ((a.num == 0) & (b.num == 0)).any():
                    raise Unsupported("0^0")
                return self._number_result(np.power(a.num, b.num), errors)
        if op == "&":
            return self._concatenate(a, b)
        return self._compare(op, a, b)

    @staticmethod
    def _text(v: Values) -> np.ndarray:
        out = np.empty(len(v.kind), dtype=object)
        out.fill("")
        texts = v.kind == TEXT
        if texts.any():
            out[texts] = v.obj[texts]
        booleans = v.kind == BOOL
        if booleans.any():
            out[booleans] = np.where(v.num[booleans] != 0, "TRUE", "FALSE").astype(object)
        numbers = v.kind == NUMBER
        if numbers.any():
            x = v.num[numbers]
            if not (np.all(x == np.floor(x)) and np.all(np.abs(x) < 1e15)):
                raise Unsupported("nombre en texte")  # Excel's general format: not reproduced here
            out[numbers] = [str(int(i)) for i in x]
        return out

    def _concatenate(self, a: Values, b: Values) -> Values:
        mask, codes = self._first_error(a, b)
        out = Values.full(len(a.kind), TEXT)
        out.obj = self._text(a) + self._text(b)
        if mask.any():
            out.kind[mask] = ERROR
            out.obj[mask] = codes[mask]
        return out

    def _compare(self, op: str, a: Values, b: Values) -> Values:
        # A blank takes the other side's kind (0, "" or FALSE); then number < text < boolean.
        ka, kb = a.kind.copy(), b.kind.copy()
        ka[ka == BLANK] = np.where(kb[ka == BLANK] == BLANK, NUMBER, kb[ka == BLANK])
        kb[kb == BLANK] = ka[kb == BLANK]
        ra = np.select([ka == NUMBER, ka == TEXT, ka == BOOL], [0, 1, 2], 3)
        rb = np.select([kb == NUMBER, kb == TEXT, kb == BOOL], [0, 1, 2], 3)
        # -1, 0, 1 for each row: by kind, then by value; numbers equal to 15 significant digits are
        # equal, as in Excel (0.1+0.2=0.3 is TRUE)
        order = np.sign(ra - rb).astype(np.float64)
        same = ra == rb
        numeric = same & (ra != 1)
        x, y = a.num[numeric], b.num[numeric]
        close = np.abs(x - y) <= 1e-15 * np.maximum(np.abs(x), np.abs(y))
        order[numeric] = np.where(close, 0.0, np.sign(x - y))
        texts = same & (ra == 1)
        if texts.any():
            left = np.array([("" if a.kind[i] == BLANK else a.obj[i]).lower() for i in np.flatnonzero(texts)], dtype=object)
            right = np.array([("" if b.kind[i] == BLANK else b.obj[i]).lower() for i in np.flatnonzero(texts)], dtype=object)
            equal = left == right
            if op not in ("=", "<>") and not equal.all():
                raise Unsupported("texte comparé à un texte")  # Excel's collation is not Python's
            order[texts] = np.where(equal, 0.0, 1.0)
        result = {"=": order == 0, "<>": order != 0, "<": order < 0, ">": order > 0, "<=": order <= 0, ">=": order >= 0}[op]
        out = Values(np.full(len(order), BOOL, dtype=np.int8), result.astype(np.float64))
        mask, codes = self._first_error(a, b)
        if mask.any():
            out.kind[mask] = ERROR
            out.objects()[mask] = codes[mask]
            out.num[mask] = 0.0
        return out

    # -- functions ---------------------------------------------------------------------------------

    def _condition(self, v: Values) -> tuple[np.ndarray, np.ndarray]:
        """(true, error) masks of a logical argument: numbers are true unless 0, a blank is false."""
        if (v.kind == TEXT).any():
            raise Unsupported("texte comme condition")
        return (v.num != 0) & (v.kind != ERROR) & (v.kind != BLANK), v.kind == ERROR

    def _call(self, name: str, args: list, rows: np.ndarray) -> Values:
        m = len(rows)
        if name == "IF":
            if not 1 < len(args) <= 3:
                raise Unsupported("IF")
            test = self.eval(args[0], rows)
            true, error = self._condition(test)
            false = ~true & ~error
            out = Values.full(m, ERROR)
            if error.any():
                out.objects()[error] = test.obj[error]
            branches = [(true, args[1]), (false, args[2] if len(args) == 3 else ("bool", False))]
            for mask, node in branches:
                if mask.any():
                    self._place(out, mask, self._branch(node, rows[mask]))
            return out
        if name in ("IFERROR", "IFNA"):
            if len(args) != 2:
                raise Unsupported(name)
            value = self._branch(args[0], rows)
            caught = value.kind == ERROR
            if name == "IFNA":
                caught &= np.array([code == "#N/A" for code in value.obj], dtype=bool) if caught.any() else caught
            if caught.any():
                self._place(value, caught, self._branch(args[1], rows[caught]))
            return value
        if len(args) != 1 or args[0][0] == "empty":
            raise Unsupported(name)
        v = self.eval(args[0], rows)
        if name.startswith("IS"):
            if name == "ISBLANK":
                result = v.kind == BLANK
            elif name == "ISNUMBER":
                result = v.kind == NUMBER
            elif name == "ISTEXT":
                result = v.kind == TEXT
            elif name == "ISLOGICAL":
                result = v.kind == BOOL
            else:
                errors = v.kind == ERROR
                codes = v.obj if errors.any() else None
                na = np.zeros(m, dtype=bool) if codes is None else np.array([c == "#N/A" for c in codes], dtype=bool)
                result = {"ISERROR": errors, "ISNA": errors & na, "ISERR": errors & ~na}[name]
            return Values(np.full(m, BOOL, dtype=np.int8), result.astype(np.float64))
        if name == "NOT":
            true, error = self._condition(v)
            out = Values(np.full(m, BOOL, dtype=np.int8), (~true).astype(np.float64))
            if error.any():
                out.kind[error] = ERROR
                out.objects()[error] = v.obj[error]
                out.num[error] = 0.0
            return out
        x, errors = self._numbers(v)
        return self._number_result(np.abs(x) if name == "ABS" else np.floor(x), errors)

    def _branch(self, node, rows: np.ndarray) -> Values:
        # An omitted argument (IF(A2,,1)) is 0, as in Excel.
        if node[0] == "empty":
            return Values.full(len(rows), NUMBER, 0.0)
        return self.eval(node, rows)

    @staticmethod
    def _place(out: Values, mask: np.ndarray, part: Values) -> None:
        out.kind[mask] = part.kind
        out.num[mask] = part.num
        if part.obj is not None:
            out.objects()[mask] = part.obj
