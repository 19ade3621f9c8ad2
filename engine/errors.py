"""Problems found in input, carried as data with their location, reported together.

Like beancount's loader: validation never stops at the first problem; it returns
`Problem` records, and the edge (CLI, Excel function) raises or shows them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in the input. `where` is 'Factures!E12' for a cell, 'rules/relances.yaml:14:7' for YAML."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where} : {self.message}" if self.where else self.message


class EncaisseError(Exception):
    """Base of every error that encaisse reports to a person (exit code 1)."""


class InputError(EncaisseError):
    """The workbook (or another input) has problems; `problems` lists every one with its location."""

    def __init__(self, problems: Iterable[Problem] | str, title: str = "Le classeur contient des erreurs"):
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.title = title
        super().__init__(self.report())

    def report(self) -> str:
        count = len(self.problems)
        head = f"{self.title} ({count} problème{'s' if count > 1 else ''}) :"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])
