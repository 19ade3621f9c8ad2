"""Dunning: which reminder each customer is due today, what pauses it, and the day's worklist.

Pure: the ledger's frames, the rules records, the Journal and an as-of date in; `Communication`
records (one per customer and run, at the highest due step) and a ranked worklist out. Rendering
the letters and e-mails, writing the Journal and sending are `encaisse.letters`' and
`encaisse.journal`'s.

- `history`: what the Journal says was done (steps, formal notices, promises, plans agreed);
- `pauses`: what suspends an invoice (customer paused, dispute, payment plan, promise);
- `due`: the state of every open invoice (`dunning_state`) and the day's `communications`;
- `worklist`: the day's actions ranked by the rules' weights.

`run_dunning(ledger, rules, as_of)` does it all for a loaded workbook.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from encaisse.dunning.due import DunningState, communications, dunning_state, route_for
from encaisse.dunning.records import Communication, DueInvoice, PreviousReminder
from encaisse.dunning.worklist import COLUMNS as WORKLIST_COLUMNS, worklist
from encaisse.ledger import Ledger
from encaisse.rules.records import Rules


@dataclass(frozen=True)
class DunningRun:
    """What a run of dunning proposes on a date."""

    as_of: dt.date
    communications: tuple[Communication, ...]
    worklist: pd.DataFrame  # every action, ranked (see encaisse.dunning.worklist)
    warnings: tuple[str, ...]  # legal data not verified for the date, in French


def run_dunning(ledger: Ledger, rules: Rules, as_of: object = None, *, scores: pd.DataFrame | None = None) -> DunningRun:
    """The day's communications and worklist for a loaded workbook (`as_of` defaults to its DateArrete)."""
    day = as_of if as_of is not None else ledger.params.as_of
    if day is None:
        raise ValueError("date d'arrêté absente : renseignez DateArrete (Paramètres) ou donnez --as-of")
    state = dunning_state(ledger.invoices, ledger.payments, ledger.customers, ledger.journal, rules, day, scores=scores)
    return DunningRun(state.as_of.date(), communications(state), worklist(state), state.warnings)


__all__ = [
    "Communication", "DueInvoice", "DunningRun", "DunningState", "PreviousReminder", "WORKLIST_COLUMNS", "communications",
    "dunning_state", "route_for", "run_dunning", "worklist",
]
