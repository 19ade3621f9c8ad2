"""Adapter: the IBM late-payment data set as canonical encaisse tables (Factures, Règlements, Clients).

As the data set's README says: one Factures row per invoice (Litige "oui" when Disputed = Yes,
dated the invoice date since the data set has no dispute date), one Règlements row per
invoice for the full amount dated SettledDate, one Clients row per customer.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from encaisse.ledger import Ledger
from encaisse.tables import TABLES

IBM_CSV = Path("/work/shared/data/ibm-late-payment/WA_Fn-UseC_-Accounts-Receivable.csv")


def _empty(table) -> pd.DataFrame:
    return pd.DataFrame({key: pd.Series([], dtype=object) for key in table.keys})


def load_ibm(path: Path = IBM_CSV) -> Ledger:
    raw = pd.read_csv(path, dtype=str)
    issue = pd.to_datetime(raw["InvoiceDate"], format="%m/%d/%Y")
    due = pd.to_datetime(raw["DueDate"], format="%m/%d/%Y")
    settled = pd.to_datetime(raw["SettledDate"], format="%m/%d/%Y")
    amount = raw["InvoiceAmount"].astype(float)
    disputed = raw["Disputed"].eq("Yes")
    invoices = pd.DataFrame({
        "invoice_id": raw["invoiceNumber"],
        "customer_id": raw["customerID"],
        "issue_date": issue,
        "due_date": due,
        "amount": amount,
        "amount_excl_tax": pd.Series(float("nan"), index=raw.index),
        "currency": "EUR",
        "dispute": disputed.map({True: "oui", False: None}),
        "dispute_date": issue.where(disputed),
        "payment_plan": None,
        "row": raw.index + 2,
    })
    payments = pd.DataFrame({
        "payment_id": "R" + raw["invoiceNumber"],
        "payment_date": settled,
        "customer_id": raw["customerID"],
        "invoice_id": raw["invoiceNumber"],
        "amount": amount,
        "method": raw["PaperlessBill"].map({"Electronic": "virement", "Paper": "chèque"}),
        "row": raw.index + 2,
    })
    codes = sorted(raw["customerID"].unique())
    customers = pd.DataFrame({"customer_id": codes, "name": codes})
    frames = {table.attr: _empty(table) for table in TABLES}
    frames.update(invoices=invoices, payments=payments, customers=customers.reindex(columns=TABLES[2].keys))
    return Ledger(**frames, source=str(path))
