"""Small canonical tables written inline by the tests (columns as `encaisse.load_workbook` gives them)."""

from __future__ import annotations

import pandas as pd


def invoices(*rows):
    """rows: (invoice_id, customer_id, issue, due, amount[, dispute[, dispute_date]])"""
    frame = pd.DataFrame([r + (None,) * (7 - len(r)) for r in rows],
                         columns=["invoice_id", "customer_id", "issue_date", "due_date", "amount", "dispute", "dispute_date"])
    for column in ("issue_date", "due_date", "dispute_date"):
        frame[column] = pd.to_datetime(frame[column])
    frame["amount"] = frame["amount"].astype(float)
    return frame


def payments(*rows):
    """rows: (payment_date, customer_id, invoice_id or None, amount)"""
    frame = pd.DataFrame(list(rows), columns=["payment_date", "customer_id", "invoice_id", "amount"])
    frame["payment_date"] = pd.to_datetime(frame["payment_date"])
    frame["amount"] = frame["amount"].astype(float)
    return frame
