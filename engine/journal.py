"""The dunning journal (table Journal): what was sent or generated, appended to the user's workbook.

One row per invoice of a communication: Date, N° facture, Code client, Étape (the rules' step id),
Canal (the rules' channel: email, telephone, courrier, recommande), Document (the file written,
relative to the output folder) and Issue. The rows are spliced into the Journal sheet
(`encaisse.workbook.append`): every other part of the workbook stays byte for byte.

Issue vocabulary written by encaisse (people add their own, e.g. « promesse » with a date):
- `envoye`: an e-mail the SMTP server accepted;
- `genere`: a letter to post or a call sheet, produced by `encaisse letters --send`;
- `echec`: an e-mail the server refused; it does not count as done, so the next run retries it.
A dry run (no --send) writes the documents and no row at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd

from encaisse.errors import InputError, Problem
from encaisse.tables import JOURNAL, normalize_header
from encaisse.workbook.append import TITLE, Appended, append_rows, table_columns

SENT = "envoye"
GENERATED = "genere"
FAILED = "echec"
PROMISE = "promesse"
NOT_DONE = frozenset({FAILED})  # outcomes after which the step is still to do


@dataclass(frozen=True)
class JournalEntry:
    date: dt.date
    invoice_id: str
    customer_id: str
    step: str  # the rules' step id
    channel: str  # the rules' channel
    document: str
    outcome: str


def append(book: str | Path, entries: Iterable[JournalEntry]) -> Appended | None:
    """Append the entries to the workbook's Journal table (atomically); None when there were none."""
    entries = list(entries)
    if not entries:
        return None
    table = table_columns(book, JOURNAL.name)
    keys = _column_keys(table.columns)
    missing = [c.header for c in JOURNAL.columns if c.required and c.key not in keys]
    if missing:
        raise InputError([Problem(f"{table.sheet}!{table.ref}", f"colonne{'s' if len(missing) > 1 else ''} "
                                                               f"{', '.join(missing)} absente{'s' if len(missing) > 1 else ''} "
                                                               "du tableau Journal")], title=TITLE)
    rows = [[getattr(entry, key) if key else None for key in keys] for entry in entries]
    return append_rows(book, table.name, rows)


def _column_keys(headers: tuple[str, ...]) -> list[str | None]:
    """Per table column, the JournalEntry field it holds (None for a column of the user's own)."""
    names = {normalize_header(name): column.key for column in JOURNAL.columns for name in column.names()}
    return [names.get(normalize_header(header)) for header in headers]


def done_on(journal: pd.DataFrame, day: dt.date, invoices: pd.DataFrame | None = None) -> frozenset[tuple[str, str]]:
    """(customer_id, step) pairs journaled on `day` with an outcome that counts as done.

    A row without Code client takes its invoice's customer from `invoices`.
    """
    if journal is None or journal.empty or "step" not in journal.columns:
        return frozenset()
    dates = pd.to_datetime(journal["date"], errors="coerce").dt.normalize()
    outcome = journal["outcome"].astype("string").str.strip().str.lower() if "outcome" in journal.columns else None
    today = dates == pd.Timestamp(day)
    if outcome is not None:
        today &= ~outcome.isin(NOT_DONE).fillna(False)
    rows = journal.loc[today.to_numpy(dtype=bool)]
    customers = rows["customer_id"] if "customer_id" in rows.columns else pd.Series(None, index=rows.index, dtype=object)
    if invoices is not None and customers.isna().any():
        owner = invoices.drop_duplicates("invoice_id").set_index("invoice_id")["customer_id"]
        customers = customers.fillna(rows["invoice_id"].map(owner))
    pairs = zip(customers.astype("string").fillna(""), rows["step"].astype("string").fillna(""))
    return frozenset((str(c), str(s)) for c, s in pairs if c and s)
