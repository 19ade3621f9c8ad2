"""Adapter: the IBM late-payment data set as canonical encaisse tables, and as a workbook.

As the data set's README says: one Factures row per invoice (Litige "litige" when
Disputed = Yes; the data set has no dispute date), one Règlements row per invoice for the
full amount dated SettledDate, one Clients row per customer (segment "pays <countryCode>").
Invoice numbers are text: their leading zeros are kept.

`load_ibm()` builds the Ledger straight from the CSV (plain pandas, no encaisse loader);
`write_ibm_workbook(path)` writes the same tables to an .xlsx with French headers as Excel
tables, so that `encaisse.load_workbook` can be checked against the CSV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from encaisse.ledger import Ledger
from encaisse.tables import CUSTOMERS, INVOICES, PAYMENTS, TABLES, Table

# CI clones the repository with shared/ beside it: <root>/main/tests/ibm.py -> <root>/shared.
IBM_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "ibm-late-payment" / "WA_Fn-UseC_-Accounts-Receivable.csv"


def _text(values) -> pd.Series:
    return pd.Series(values, dtype="str")


def _canonical(table: Table, columns: dict[str, object], n: int) -> pd.DataFrame:
    """Every key of `table` in order (absent ones blank, typed as the loader types them) plus `row`."""
    data: dict[str, object] = {}
    for column in table.columns:
        if column.key in columns:
            data[column.key] = columns[column.key]
        elif column.kind == "date":
            data[column.key] = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        elif column.kind in ("amount", "number"):
            data[column.key] = np.full(n, np.nan)
        else:
            data[column.key] = _text([np.nan] * n)
    data["row"] = np.arange(2, n + 2, dtype=np.int64)  # header on row 1
    return pd.DataFrame(data)


def _us_dates(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values, format="%m/%d/%Y").to_numpy(dtype="datetime64[ns]")


def load_ibm(path: Path = IBM_CSV) -> Ledger:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    n = len(raw)
    amount = raw["InvoiceAmount"].astype(float).to_numpy()
    invoices = _canonical(INVOICES, {
        "invoice_id": _text(raw["invoiceNumber"]),
        "customer_id": _text(raw["customerID"]),
        "issue_date": _us_dates(raw["InvoiceDate"]),
        "due_date": _us_dates(raw["DueDate"]),
        "amount": amount,
        "dispute": _text(raw["Disputed"].map({"Yes": "litige"})),
    }, n)
    payments = _canonical(PAYMENTS, {
        "payment_date": _us_dates(raw["SettledDate"]),
        "customer_id": _text(raw["customerID"]),
        "invoice_id": _text(raw["invoiceNumber"]),
        "amount": amount,
    }, n)
    firsts = raw.drop_duplicates("customerID")
    customers = _canonical(CUSTOMERS, {
        "customer_id": _text(firsts["customerID"].to_numpy()),
        "name": _text(firsts["customerID"].to_numpy()),
        "segment": _text(("pays " + firsts["countryCode"]).to_numpy()),
    }, len(firsts))
    frames = {table.attr: _canonical(table, {}, 0) for table in TABLES}
    frames.update(invoices=invoices, payments=payments, customers=customers)
    return Ledger(**frames, source=str(path))


def write_ibm_workbook(path: Path, ledger: Ledger | None = None) -> Path:
    """Factures, Règlements, Clients as Excel tables with French headers (dates as real dates)."""
    import xlsxwriter

    ledger = ledger or load_ibm()
    book = xlsxwriter.Workbook(str(path))
    date_format = book.add_format({"num_format": "dd/mm/yyyy"})
    amount_format = book.add_format({"num_format": "#,##0.00"})
    for table in (INVOICES, PAYMENTS, CUSTOMERS):
        frame = getattr(ledger, table.attr)
        columns = [c for c in table.columns if frame[c.key].notna().any()]
        sheet = book.add_worksheet(table.sheet)
        for j, column in enumerate(columns):
            values = frame[column.key]
            if column.kind == "date":
                for i, value in enumerate(values):
                    sheet.write_datetime(i + 1, j, value.to_pydatetime(), date_format)
            elif column.kind in ("amount", "number"):
                for i, value in enumerate(values):
                    sheet.write_number(i + 1, j, float(value), amount_format)
            else:
                for i, value in enumerate(values):
                    if isinstance(value, str):
                        sheet.write_string(i + 1, j, value)
        sheet.add_table(0, 0, len(frame), len(columns) - 1, {
            "name": table.name,
            "columns": [{"header": c.header} for c in columns],
        })
    book.close()
    return path
