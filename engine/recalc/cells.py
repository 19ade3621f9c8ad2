"""What the parts of the recalculation share: a rectangle of cells on a sheet, and the problem
found while evaluating one cell (the evaluator adds the cell's address)."""

from __future__ import annotations

from dataclasses import dataclass

from encaisse.workbook.package import cell_ref, quote_sheet

MAX_ROWS, MAX_COLS = 1048576, 16384
TITLE = "Recalcul impossible"


@dataclass(frozen=True)
class Rect:
    sheet: str  # exact sheet name
    r1: int
    c1: int
    r2: int
    c2: int

    def contains(self, row: int, col: int) -> bool:
        return self.r1 <= row <= self.r2 and self.c1 <= col <= self.c2

    def intersects(self, other: "Rect") -> bool:
        return (self.sheet == other.sheet and self.r1 <= other.r2 and other.r1 <= self.r2
                and self.c1 <= other.c2 and other.c1 <= self.c2)

    @property
    def shape(self) -> tuple[int, int]:
        return self.r2 - self.r1 + 1, self.c2 - self.c1 + 1

    def __str__(self) -> str:
        a = cell_ref(self.r1, self.c1)
        b = cell_ref(self.r2, self.c2)
        return f"{quote_sheet(self.sheet)}!{a}" + ("" if a == b else f":{b}")


class CellProblem(Exception):
    """A problem found while evaluating one cell (French text); the evaluator adds the cell's
    address unless `where` names it (a cell of a calculated column evaluated as one)."""

    def __init__(self, message: str, where: str | None = None):
        super().__init__(message)
        self.where = where
