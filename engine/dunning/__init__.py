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
from functools import cached_property

import pandas as pd

from encaisse.dunning.due import DunningState, communications, dunning_state, route_for
from encaisse.dunning.records import Communication, DueInvoice, PreviousReminder
from encaisse.dunning.worklist import COLUMNS as WORKLIST_COLUMNS, worklist
from encaisse.ledger import Ledger
from encaisse.rules.records import Rules


@dataclass(frozen=True)
class DunningRun:
    """What a run of dunning proposes on a date: the ranked worklist, and the communications
    (built on first use: the worklist does not need them, the letters do)."""

    state: DunningState
    worklist: pd.DataFrame  # every action, ranked (see encaisse.dunning.worklist)

    @property
    def as_of(self) -> dt.date:
        return self.state.as_of.date()

    @property
    def warnings(self) -> tuple[str, ...]:
        """Legal data not verified for the date, in French (see LegalData.penalty_warnings)."""
        return self.state.warnings

    @cached_property
    def communications(self) -> tuple[Communication, ...]:
        return communications(self.state)


def run_dunning(ledger: Ledger, rules: Rules, as_of: object = None, *, scores: pd.DataFrame | None = None) -> DunningRun:
    """The day's worklist (and communications) for a loaded workbook (`as_of` defaults to its DateArrete)."""
    day = as_of if as_of is not None else ledger.params.as_of
    if day is None:
        raise ValueError("date d'arrêté absente : renseignez DateArrete (Paramètres) ou donnez --as-of")
    state = dunning_state(ledger.invoices, ledger.payments, ledger.customers, ledger.journal, rules, day, scores=scores)
    return DunningRun(state, worklist(state))


__all__ = [
    "Communication", "DueInvoice", "DunningRun", "DunningState", "PreviousReminder", "WORKLIST_COLUMNS", "communications",
    "dunning_state", "route_for", "run_dunning", "worklist",
]
