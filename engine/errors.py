"""Problems found in input, carried as data with their location, reported together.

Like beancount's loader: validation never stops at the first problem; it returns
`Problem` records, and the edge (CLI, Excel function) raises or shows them together.
"""

from __future__ import annotations

import errno
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


def os_reason(error: OSError) -> str:
    """An operating-system error in French (Python's own `strerror` is English)."""
    reasons = {
        errno.ENOENT: "fichier ou dossier introuvable", errno.EACCES: "droits d'accès insuffisants",
        errno.EPERM: "opération non permise", errno.EISDIR: "c'est un dossier", errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
        errno.ENOSPC: "disque plein", errno.EROFS: "disque en lecture seule", errno.EEXIST: "le fichier existe déjà",
        errno.ENAMETOOLONG: "nom de fichier trop long", errno.EBUSY: "fichier occupé par un autre programme",
    }
    return reasons.get(error.errno, f"erreur système {errno.errorcode.get(error.errno, error.errno)}")
