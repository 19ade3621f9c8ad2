"""`encaisse rules explain`: load a workbook and its rules, score the customers, and resolve one
customer's effective policy with the source of every value (a rules line or a Clients cell)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from encaisse.credit.policy import CustomerPolicy, _blank, effective_policy, render, to_json
from encaisse.credit.risk import credit_exposure
from encaisse.credit.scoring import score_customers
from encaisse.errors import InputError, Problem
from encaisse.ledger import receivables
from encaisse.resources import DEFAULT_RULES_DIR
from encaisse.rules import load
from encaisse.rules.document import suggestion
from encaisse.tables import CUSTOMERS
from encaisse.workbook import loader
from encaisse.workbook.loader import load_workbook


def find_customer(customers: pd.DataFrame, customer_id: str) -> pd.Series:
    ids = customers["customer_id"].astype("string").str.strip()
    match = customers[ids == str(customer_id).strip()]
    if match.empty:
        known = ids.dropna().tolist()
        raise InputError([Problem("Clients", f"client « {customer_id} » introuvable{suggestion(str(customer_id), known)}")],
                         title="Client inconnu")
    return match.iloc[0]


def _cell_locator(path) -> Callable[[str, int], str]:
    """Names a Clients cell ('Clients!H12') from the workbook's own header positions."""
    try:
        with loader._open(path) as book:
            read = loader._read_table(book, CUSTOMERS, list(book.sheet_names), list(book.table_names or []))
    except Exception:  # noqa: BLE001 - the loader already read it; only the cell letters are missing
        read = None

    def locate(key: str, row: int) -> str:
        if read is not None and key in read.coerced.positions:
            return read.cell(key, row)
        return f"Clients!ligne {row}"

    return locate


def resolve_rules_dir(book, params_rules_dir: str | None, explicit: str | None):
    """(folder, note): --rules, else the workbook's DossierRegles relative to the workbook's folder,
    else (blank, or no such folder) the repository's rules/ — the note then says why."""
    if explicit:
        return Path(explicit), ""
    if params_rules_dir and str(params_rules_dir).strip():
        folder = Path(str(params_rules_dir).strip())
        folder = folder if folder.is_absolute() else Path(os.path.normpath(Path(book).parent / folder))
        if folder.is_dir():
            return folder, ""
        return DEFAULT_RULES_DIR, (f"DossierRegles « {str(params_rules_dir).strip()} » introuvable à côté du classeur "
                                   f"({folder.as_posix()}) : règles par défaut")
    return DEFAULT_RULES_DIR, "DossierRegles vide : règles par défaut"


@dataclass(frozen=True)
class Explanation:
    policy: CustomerPolicy
    rules_folder: str
    note: str  # why the default rules were used, when they were; else blank
    as_of: dt.date | None

    def text(self) -> str:
        return render(self.policy, self.rules_folder + (f" ({self.note})" if self.note else ""))

    def to_json(self) -> dict:
        return {**to_json(self.policy, self.rules_folder, self.as_of), "rules_note": self.note or None}


def explain_customer(book, customer_id: str, rules_dir: str | None = None, as_of: dt.date | None = None) -> Explanation:
    """Load the workbook and the rules, score the customers, and resolve one customer's policy."""
    ledger = load_workbook(book)
    folder, note = resolve_rules_dir(book, ledger.params.rules_dir, rules_dir)
    rules = load(folder)
    customer = find_customer(ledger.customers, customer_id)
    day = as_of or ledger.params.as_of
    risk_class = score = exposure = None
    if day is not None:
        shared = receivables(ledger.invoices, ledger.payments, day)
        scores = score_customers(ledger.invoices, ledger.payments, ledger.customers, day, rules.scoring, receivables=shared)
        mine = scores[scores["customer_id"].astype(str) == str(customer["customer_id"])]
        if not mine.empty:
            risk_class, score = str(mine["risk_class"].iloc[0]), float(mine["score"].iloc[0])
            table = credit_exposure(ledger.invoices, ledger.payments, ledger.customers, day, rules.risk, mine, receivables=shared)
            exposure = float(table["exposure"].iloc[0])
        day = pd.Timestamp(day).date()
    locate = _cell_locator(book)
    row = int(customer["row"]) if "row" in customer and not _blank(customer["row"]) else 0
    policy = effective_policy(rules, customer, cell=lambda key: locate(key, row), risk_class=risk_class,
                              score=score, as_of=day, exposure=exposure)
    return Explanation(policy, rules.folder, note, day)
