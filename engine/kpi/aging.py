"""Balance âgée: open receivables by age bucket, amounts and counts, per customer and total.

Age is days past due (`by="due_date"`, default) or days since the invoice date
(`by="issue_date"`). Buckets (b0, b1, …, bk) mean: age ≤ b0, b0 < age ≤ b1, …, age > bk. With
the default (0, 30, 60, 90) by due date: « Non échu », « 1-30 j », « 31-60 j », « 61-90 j »,
« > 90 j ». Only invoices with an open amount count (partially paid ones for what remains);
customer credit is not in the aging (it is already applied to that customer's invoices and
what is left is a debt of ours).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from encaisse.kpi.periods import DAY, book_of, day64
from encaisse.ledger import Receivables

TOTAL = "Total"


def bucket_labels(buckets: tuple[int, ...] = (0, 30, 60, 90), by: str = "due_date") -> list[str]:
    edges = [int(b) for b in buckets]
    first = "Non échu" if by == "due_date" and edges[0] == 0 else f"≤ {edges[0]} j"
    middle = [f"{low + 1}-{high} j" for low, high in zip(edges, edges[1:])]
    return [first, *middle, f"> {edges[-1]} j"]


def check_buckets(buckets) -> tuple[int, ...]:
    edges = tuple(int(b) for b in buckets)
    if not edges or any(b >= a for a, b in zip(edges[1:], edges)):
        raise ValueError("les tranches doivent être des nombres de jours croissants, par exemple 0, 30, 60, 90")
    return edges


def aging(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, buckets: tuple[int, ...] = (0, 30, 60, 90),
          by: str = "due_date", per_customer: bool = True, *,
          rates: dict[str, float] | None = None, receivables: Receivables | None = None) -> pd.DataFrame:
    """Aged balance at `as_of`.

    Columns: customer_id, one amount column per bucket (its label), « Total », then « Nb » +
    label per bucket and « Nb total » (counts of open invoices). One row per customer with an
    open invoice (sorted by code) then a last row whose customer_id is « Total »; only that row
    when `per_customer` is False. Amounts are not rounded.
    """
    if by not in ("due_date", "issue_date"):
        raise ValueError(f"âge « {by} » inconnu : « due_date » (échéance) ou « issue_date » (date facture)")
    edges = check_buckets(buckets)
    labels = bucket_labels(edges, by)
    book = book_of(invoices, payments, as_of, rates, receivables)
    links = book.links
    is_open = book.open_by_invoice > 0
    open_amount = book.open_by_invoice[is_open]
    if by == "due_date":
        age = book.days_past_due[is_open]
    else:
        age = (day64(book.as_of) - links.issue_date[is_open]) / DAY
    bucket = np.searchsorted(np.asarray(edges, dtype=float), age, side="left")
    width = len(labels)
    # customers with an open invoice, sorted by code (a blank code sorts as « nan »)
    present, codes = np.unique(links.invoice_customer[is_open], return_inverse=True)
    names = np.where(present >= 0, links.customers[np.maximum(present, 0)] if len(links.customers) else "", "nan").astype(object)
    by_name = np.argsort(names, kind="stable")
    rank = np.empty(len(present), dtype=np.int64)
    rank[by_name] = np.arange(len(present))
    codes, customers = rank[codes], names[by_name]
    rows = len(customers) if per_customer else 0
    cell = codes * width + bucket
    amount_grid = np.bincount(cell, weights=open_amount, minlength=rows * width).reshape(rows, width) if rows else np.zeros((0, width))
    count_grid = np.bincount(cell, minlength=rows * width).reshape(rows, width) if rows else np.zeros((0, width), dtype=np.int64)
    total_amount = np.bincount(bucket, weights=open_amount, minlength=width)
    total_count = np.bincount(bucket, minlength=width)
    amount_grid = np.vstack([amount_grid, total_amount])
    count_grid = np.vstack([count_grid, total_count]).astype("int64")
    table = pd.DataFrame(amount_grid, columns=labels)
    table.insert(0, "customer_id", [*customers[:rows], TOTAL])
    table[TOTAL] = amount_grid.sum(axis=1)
    for position, label in enumerate(labels):
        table[f"Nb {label}"] = count_grid[:, position]
    table["Nb total"] = count_grid.sum(axis=1)
    return table
