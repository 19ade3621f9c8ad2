"""`encaisse worklist` and the demo's worklist: load a workbook and its rules, run dunning on a date."""

from __future__ import annotations

import datetime as dt

from encaisse.dunning import DunningRun, run_dunning
from encaisse.errors import EncaisseError
from encaisse.jobs.explain import resolve_rules_dir
from encaisse.ledger import Ledger
from encaisse.rules import load
from encaisse.workbook.loader import load_workbook


def day_dunning(book, rules_dir: str | None = None, as_of: dt.date | None = None, ledger: Ledger | None = None) -> tuple[Ledger, DunningRun, str]:
    """(ledger, the day's dunning, the rules folder used and why) for the workbook `book`.

    The rules: --rules, else the workbook's DossierRegles, else the repository's (as `rules explain`).
    """
    ledger = ledger if ledger is not None else load_workbook(book)
    folder, note = resolve_rules_dir(book, ledger.params.rules_dir, rules_dir)
    rules = load(folder)
    day = as_of or ledger.params.as_of
    if day is None:
        raise EncaisseError("Date d'arrêté absente : renseignez la cellule DateArrete (feuille Paramètres) ou donnez --as-of")
    return ledger, run_dunning(ledger, rules, day), rules.folder + (f" ({note})" if note else "")
