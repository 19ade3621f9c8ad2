"""Problems found in input, carried as data with their location, reported together.

Like beancount's loader: validation never stops at the first problem; it returns
`Problem` records, and the edge (CLI, Excel function) raises or shows them together.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from typing import Iterable

MAX_SHOWN = 80  # characters of a user's value quoted in a message
MAX_LISTED = 200  # problems listed in one report; the rest are counted

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """A value quoted in a message: on one line, and cut with « … » past `limit` characters,
    so that a huge cell or a file read by mistake is never echoed whole."""
    text = _CONTROL.sub(" ", str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


_QUOTED = re.compile(r"« ([^»]{%d,}) »" % (MAX_SHOWN + 1))


def _quoted_short(text: str) -> str:
    """Every value quoted « … » in a message cut to MAX_SHOWN characters: a message that quotes a
    cell without `shorten` still cannot echo 30 000 characters."""
    return _QUOTED.sub(lambda m: f"« {shorten(m.group(1))} »", text)


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
        self.problems: tuple[Problem, ...] = tuple(dict.fromkeys(problems))  # each once (a name read four times in one formula)
        self.title = title
        super().__init__(self.report())

    def report(self) -> str:
        count = len(self.problems)
        head = f"{self.title} ({count} problème{'s' if count > 1 else ''}) :"
        return "\n".join([head, *listed([f"  - {p}" for p in self.problems], "  ")])


def listed(lines: list[str], indent: str = "") -> list[str]:
    """Problem lines as shown: the first MAX_LISTED, each with its quoted values and its length
    cut, then how many more there are."""
    shown = [_line_short(_quoted_short(line)) for line in lines[:MAX_LISTED]]
    if len(lines) > MAX_LISTED:
        shown.append(f"{indent}… et {len(lines) - MAX_LISTED} autres problèmes (corrigez les premiers puis relancez)")
    return shown


MAX_LINE = 600  # characters of one problem line: a message may quote values outside « »


def _line_short(line: str) -> str:
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


def os_reason(error: OSError) -> str:
    """An operating-system error in French (Python's own `strerror` is English)."""
    reasons = {
        errno.ENOENT: "fichier ou dossier introuvable", errno.EACCES: "droits d'accès insuffisants",
        errno.EPERM: "opération non permise", errno.EISDIR: "c'est un dossier", errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
        errno.ENOSPC: "disque plein", errno.EROFS: "disque en lecture seule", errno.EEXIST: "le fichier existe déjà",
        errno.ENAMETOOLONG: "nom de fichier trop long", errno.EBUSY: "fichier occupé par un autre programme",
    }
    return reasons.get(error.errno, f"erreur système {errno.errorcode.get(error.errno, error.errno)}")
