"""The Ledger: the workbook's tables as canonical DataFrames, and the receivables as of a date."""

from __future__ import annotations

import datetime as dt
import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from encaisse.errors import InputError, Problem
from encaisse.tables import CELLS


@dataclass(frozen=True)
class Params:
    """The named cells of Paramètres (and SoldeBanque on Trésorerie); None where blank or absent."""

    as_of: dt.date | None = None
    company_name: str | None = None
    siren: str | None = None
    company_address: str | None = None
    iban: str | None = None
    payment_link: str | None = None
    rules_dir: str | None = None
    sender_name: str | None = None
    sender_role: str | None = None
    sender_phone: str | None = None
    sender_email: str | None = None
    invoices_dir: str | None = None  # folder of the invoice PDFs (<N° facture>.pdf), relative to the workbook
    smtp_host: str | None = None
    smtp_port: str | None = None
    smtp_security: str | None = None  # starttls | ssl | aucune
    smtp_user: str | None = None
    bank_balance: float | None = None


@dataclass(frozen=True)
class Ledger:
    """Every table of the workbook with canonical columns (see encaisse.tables).

    Each DataFrame keeps a column `row` with the Excel row number of its line, so that a
    problem found later can still name its cell. Absent optional tables are empty
    DataFrames with the canonical columns.
    """

    invoices: pd.DataFrame
    payments: pd.DataFrame
    customers: pd.DataFrame
    payables: pd.DataFrame
    activity: pd.DataFrame
    flows: pd.DataFrame
    journal: pd.DataFrame
    params: Params = field(default_factory=Params)
    source: str = ""


# ---------------------------------------------------------------------------
# Receivables as of a date
# ---------------------------------------------------------------------------

EURO_CODES = frozenset({"", "EUR", "€", "EURO", "EUROS"})
HALF_CENT = 0.005  # an open amount or a credit smaller than this is settled (float residue of sums)
DAY = np.timedelta64(1, "D")
PARALLEL_ROWS = 200_000  # invoices + payments from which linking uses a second thread (below, starting it costs more than it saves)


def as_timestamp(value: object) -> pd.Timestamp:
    """The as-of date as a midnight Timestamp (date, datetime, Timestamp or ISO text)."""
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        raise ValueError("date d'arrêté vide")
    return stamp.normalize()


def _day64(value: object) -> np.datetime64:
    return np.datetime64(as_timestamp(value).to_datetime64(), "ns")


def _amounts(frame: pd.DataFrame) -> np.ndarray:
    if frame is None or "amount" not in frame.columns:
        return np.zeros(0 if frame is None else len(frame))
    return np.nan_to_num(frame["amount"].to_numpy(dtype=float, na_value=np.nan))


def _dates(frame: pd.DataFrame, column: str) -> np.ndarray:
    if frame is None or column not in frame.columns:
        return np.full(0 if frame is None else len(frame), np.datetime64("NaT"), dtype="datetime64[ns]")
    return frame[column].to_numpy(dtype="datetime64[ns]")


def _objects(frame: pd.DataFrame, column: str) -> np.ndarray:
    if frame is None or column not in frame.columns:
        return np.full(0 if frame is None else len(frame), None, dtype=object)
    return frame[column].to_numpy(dtype=object)


def euro_factors(invoices: pd.DataFrame, rates: dict[str, float] | None = None) -> np.ndarray | None:
    """Per invoice, euros for one unit of its currency; None when every invoice is in euros.

    Devise blank or EUR is euros. Another currency needs a rate in `rates` (euros for one unit,
    e.g. {"USD": 0.92}); without one, every such currency is refused together in one
    `InputError` naming the rows.
    """
    if "currency" not in invoices.columns or invoices.empty:
        return None
    values = invoices["currency"].to_numpy(dtype=object)
    codes = pd.unique(values)
    normal = {code: ("" if code is None or pd.isna(code) else str(code).strip().upper()) for code in codes}
    if all(norm in EURO_CODES for norm in normal.values()):
        return None
    known = {str(k).strip().upper(): float(v) for k, v in (rates or {}).items()}
    currency = invoices["currency"].map(normal)
    missing = sorted({norm for norm in normal.values() if norm not in EURO_CODES} - set(known))
    if missing:
        # Read from a sheet, the table knows its Devise column: the cells are named (Factures!F12);
        # given as a range to an Excel function, only its rows are.
        cells = invoices.attrs.get(CELLS) or {}
        letter = cells.get("columns", {}).get("currency")
        sheet = cells.get("sheet", "Factures")
        problems = []
        for code in missing:
            matched = (currency == code).to_numpy()
            rows = [int(r) for r in invoices.loc[matched, "row"].tolist() if pd.notna(r)] if "row" in invoices.columns else []
            count = int(matched.sum())
            more = ", …" if len(rows) > 10 else ""
            if letter and rows:
                where = f"{sheet}!{letter}{rows[0]}"
                listed = f" (cellule{'s' if len(rows) > 1 else ''} {', '.join(f'{letter}{r}' for r in rows[:10])}{more})"
            else:
                where = sheet
                listed = f" (ligne{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows[:10]))}{more})" if rows else ""
            problems.append(Problem(where, f"{count} facture{'s' if count > 1 else ''} en {code}{listed} : indiquez un taux de change {code} → EUR ou convertissez les montants en euros"))
        raise InputError(problems, "Devises autres que l'euro sans taux de change")
    factor_of = {norm: 1.0 if norm in EURO_CODES else known[norm] for norm in set(normal.values())}
    return currency.map(factor_of).to_numpy(dtype=float)  # a dict lookup per value, no Python call per invoice


def to_euros(invoices: pd.DataFrame, payments: pd.DataFrame, rates: dict[str, float] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Invoices and payments with amounts in euros (see `euro_factors`). A payment matched to a
    converted invoice is in that invoice's currency and converted with the same rate; unmatched
    payments are in euros (the Règlements table has no currency column)."""
    factor = euro_factors(invoices, rates)
    if factor is None:
        return invoices, payments
    converted = {"amount": _amounts(invoices) * factor, "currency": "EUR"}
    if "amount_excl_tax" in invoices.columns:
        converted["amount_excl_tax"] = invoices["amount_excl_tax"].to_numpy(dtype=float, na_value=np.nan) * factor
    if payments is not None and not payments.empty:
        position = invoice_positions(invoices, _objects(payments, "invoice_id"))
        payments = payments.assign(amount=_amounts(payments) * np.where(position >= 0, factor[np.maximum(position, 0)], 1.0))
    return invoices.assign(**converted), payments


def invoice_positions(invoices: pd.DataFrame, wanted: np.ndarray, index: pd.Index | None = None) -> np.ndarray:
    """Row position in `invoices` of each invoice number in `wanted` (the first row when a number
    is duplicated), -1 when blank or unknown."""
    ids = _objects(invoices, "invoice_id")
    if index is None:
        index = pd.Index(ids)
    if index.is_unique:
        return index.get_indexer(wanted)
    first = ~index.duplicated()
    found = index[first].get_indexer(wanted)
    return np.where(found >= 0, np.flatnonzero(first)[np.maximum(found, 0)], -1)


def _distinct_text_positions(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray | None:
    """`invoice_positions` when the invoice numbers `ids` are all text and distinct (the rule in a
    clean workbook); None otherwise, for the general lookup.

    Looked up by their Python hashes in a table of integers, then each match checked on the
    text: a table keyed by the text hashes and compares a million numbers byte by byte again,
    which was most of `link`'s time, while Python keeps each string's hash once computed. Two
    numbers sharing a hash are told apart by the check, or (among the invoices) sent to the
    general lookup: the positions are the same as a lookup by text."""
    if pd.api.types.infer_dtype(ids, skipna=False) != "string":
        return None
    keys = pd.Index(np.fromiter(map(hash, ids), dtype=np.int64, count=len(ids)))
    if not keys.is_unique:
        return None
    found = keys.get_indexer(np.fromiter(map(hash, wanted), dtype=np.int64, count=len(wanted)))
    hit = found >= 0
    # a blank (NaN) or a number of another type never equals a text
    hit[hit] = ids[found[hit]] == wanted[hit]
    return np.where(hit, found, -1)


@dataclass(frozen=True)
class Links:
    """The tables as arrays and how they point at each other, computed once (independent of the
    as-of date) by `link()`: amounts in euros, dates, each payment's invoice (row position in
    invoices, -1 when none) and customer codes shared by invoices and payments.

    A payment without a customer code takes the customer of the invoice it names. Duplicate
    invoice numbers: a payment goes to the first invoice with that number.
    """

    invoices: pd.DataFrame
    payments: pd.DataFrame
    invoice_amount: np.ndarray
    issue_date: np.ndarray
    due_date: np.ndarray
    invoice_customer: np.ndarray
    payment_amount: np.ndarray
    payment_date: np.ndarray
    payment_invoice: np.ndarray
    payment_customer: np.ndarray
    customers: np.ndarray

    @functools.cached_property
    def invoice_index(self) -> pd.Index:
        """The invoice numbers as an index (built when first needed: most callers never look one up)."""
        return pd.Index(_objects(self.invoices, "invoice_id"))

    def positions(self, wanted: np.ndarray) -> np.ndarray:
        """Row positions in invoices of other invoice numbers (e.g. the Journal's)."""
        return invoice_positions(self.invoices, wanted, self.invoice_index)


def _empty_payments() -> pd.DataFrame:
    return pd.DataFrame({"payment_date": pd.Series([], dtype="datetime64[ns]"), "customer_id": pd.Series([], dtype=object),
                         "invoice_id": pd.Series([], dtype=object), "amount": pd.Series([], dtype=float)})


def link(invoices: pd.DataFrame, payments: pd.DataFrame | None, rates: dict[str, float] | None = None) -> Links:
    """The `Links` of these tables; other currencies converted with `rates` or refused (`euro_factors`)."""
    if payments is None:
        payments = _empty_payments()
    factor = euro_factors(invoices, rates)
    ids, wanted = _objects(invoices, "invoice_id"), _objects(payments, "invoice_id")
    invoice_customer = _objects(invoices, "customer_id")
    payment_customer = _objects(payments, "customer_id")
    everyone = np.concatenate([invoice_customer, payment_customer])
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="encaisse-clients") as pool:
        # the customers hashed on a second core (pandas' hash table leaves Python's lock while it
        # works) while this thread matches the invoice numbers
        customer_codes = pool.submit(pd.factorize, everyone, use_na_sentinel=True) if len(everyone) >= PARALLEL_ROWS else None
        payment_invoice = _distinct_text_positions(ids, wanted)
        if payment_invoice is None:
            payment_invoice = invoice_positions(invoices, wanted)
        codes, customers = customer_codes.result() if customer_codes is not None else pd.factorize(everyone, use_na_sentinel=True)
    invoice_amount = _amounts(invoices)
    payment_amount = _amounts(payments)
    if factor is not None:
        invoice_amount = invoice_amount * factor
        payment_amount = payment_amount * np.where(payment_invoice >= 0, factor[np.maximum(payment_invoice, 0)], 1.0)
    n = len(invoices)
    invoice_codes, payment_codes = codes[:n], codes[n:]
    orphan = (payment_codes < 0) & (payment_invoice >= 0)
    if orphan.any():
        payment_codes = np.where(orphan, invoice_codes[np.maximum(payment_invoice, 0)], payment_codes)
    return Links(invoices, payments, invoice_amount, _dates(invoices, "issue_date"), _dates(invoices, "due_date"), invoice_codes,
                 payment_amount, _dates(payments, "payment_date"), payment_invoice, payment_codes, np.asarray(customers, dtype=object))


def _text_ranks(values: np.ndarray) -> np.ndarray:
    """Rank of each value as text among the distinct ones (equal texts, equal ranks; NaN -1).

    Text already is sorted as numpy variable-width strings: compared in C as UTF-8 bytes, in the
    order of Python's comparison of code points, rather than one Python comparison per pair
    (ten times the time for the tied numbers of a million invoices)."""
    string_dtype = getattr(np.dtypes, "StringDType", None)  # numpy 2 and later
    if string_dtype is not None and pd.api.types.infer_dtype(values, skipna=False) == "string":
        try:
            texts = np.array(values, dtype=string_dtype())
        except UnicodeEncodeError:  # a lone surrogate has no UTF-8: compared by Python below
            texts = None
        if texts is not None:
            order = np.argsort(texts, kind="stable")
            ordered = texts[order]
            rank = np.empty(len(values), dtype=np.int64)
            rank[order] = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]]) - 1
            return rank
    return pd.factorize(pd.Series(values, dtype=object).astype(str).to_numpy(dtype=object), sort=True)[0]


@dataclass(frozen=True)
class Receivables:
    """The receivables as of a date, computed once by `receivables()` and shared by every KPI.

    Arrays are aligned with the invoices table (`links.invoices`): `is_item` marks the open
    items' rows (invoices issued on or before as_of, credit notes excluded), `open_by_invoice`
    their open amounts (0 elsewhere), `paid_by_invoice` what settled them (matched payments and
    allocated credit). `credit` is each customer's unapplied credit (> 0) by customer code.
    """

    as_of: pd.Timestamp
    links: Links
    is_item: np.ndarray
    open_by_invoice: np.ndarray
    paid_by_invoice: np.ndarray
    credit: pd.Series

    @property
    def open_amount(self) -> float:
        """AR: total open receivables (customer credit is not netted across customers)."""
        return float(self.open_by_invoice.sum())

    @property
    def days_past_due(self) -> np.ndarray:
        """as_of − due date in days for every invoice row (float, NaN without due date)."""
        return (_day64(self.as_of) - self.links.due_date) / DAY

    @property
    def current_amount(self) -> float:
        """Open receivables not yet due (due on or after as_of)."""
        return float(self.open_by_invoice[self.links.due_date >= _day64(self.as_of)].sum())

    @property
    def invoices(self) -> pd.DataFrame:
        return self.links.invoices

    @property
    def payments(self) -> pd.DataFrame:
        return self.links.payments

    @property
    def items(self) -> pd.DataFrame:
        """The open items as a DataFrame (see `open_items`); built on each access."""
        links, mask = self.links, self.is_item
        rows = links.invoices[mask]
        days = self.days_past_due[mask]
        frame = {
            "invoice_id": rows["invoice_id"].to_numpy(),
            "customer_id": rows["customer_id"].to_numpy(),
            "issue_date": links.issue_date[mask],
            "due_date": links.due_date[mask],
            "amount": links.invoice_amount[mask],
            "paid": self.paid_by_invoice[mask],
            "open_amount": self.open_by_invoice[mask],
            "days_past_due": days.astype("int64") if not np.isnan(days).any() else pd.array(days, dtype="Int64"),
        }
        for column in rows.columns:
            if column not in frame:
                frame[column] = rows[column].to_numpy()
        return pd.DataFrame(frame, index=rows.index)


def receivables(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, *, rates: dict[str, float] | None = None,
                links: Links | None = None) -> Receivables:
    """Open receivables as of `as_of`: every invoice's open amount and each customer's unapplied credit.

    Rules (SPEC), all vectorised:

    1. Only invoices issued on or before `as_of` exist; later ones are ignored. Only payments
       dated on or before `as_of` count.
    2. A payment naming an invoice (N° facture) reduces that invoice. A payment naming an
       invoice issued after `as_of`, a credit note or an unknown number is treated like an
       unmatched payment of its customer (it is money received, so it becomes credit).
    3. A credit note (negative amount) is not an open item: its value joins the customer's
       credit pool.
    4. What a matched payment pays beyond its invoice's amount (overpayment) joins the pool
       too: an open amount is never negative.
    5. The pool of each customer (unmatched payments + credit notes + overpayments) settles
       that customer's oldest open invoices first: oldest by issue date, then due date, then
       invoice number (as text). What remains of the pool is customer credit. A negative pool
       (refunds larger than the credits) is taken as zero: it is not a receivable.
    6. Open amounts and credits under half a cent are zero (float residue of sums).
    7. A payment without a customer code takes the customer of the invoice it names.
    8. Duplicate invoice numbers: a payment goes to the first invoice with that number.
    9. Other currencies are converted with `rates` or refused (see `euro_factors`).

    `links` (from `link()`) spares recomputing how the tables point at each other when the
    same tables are looked at on several dates.
    """
    as_of = as_timestamp(as_of)
    if links is None:
        links = link(invoices, payments, rates)
    end = _day64(as_of)
    amount = links.invoice_amount
    issued = links.issue_date <= end
    is_item = issued & (amount >= 0)
    is_note = issued & (amount < 0)
    customer = links.invoice_customer
    n_customers = len(links.customers)
    n = len(amount)

    paid = links.payment_date <= end
    target = links.payment_invoice
    matched = paid & (target >= 0)
    matched[matched] = is_item[target[matched]]
    matched_paid = np.bincount(target[matched], weights=links.payment_amount[matched], minlength=n).astype(np.float64)
    left = np.where(is_item, amount - matched_paid, 0.0)
    owed = np.maximum(left, 0.0)
    overpaid = np.maximum(-left, 0.0)

    def per_customer(codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
        known = codes >= 0
        # float even when nothing is counted (an empty bincount is int64, and += of floats would fail)
        return np.bincount(codes[known], weights=weights[known], minlength=n_customers).astype(np.float64)

    unmatched = paid & ~matched
    pool = per_customer(customer, overpaid) + per_customer(customer[is_note], -amount[is_note])
    pool += per_customer(links.payment_customer[unmatched], links.payment_amount[unmatched])
    pool = np.maximum(pool, 0.0)

    open_amount = owed.copy()
    takes = (owed > 0) & (customer >= 0)
    takes[takes] = pool[customer[takes]] > 0
    if takes.any():
        # each customer's pool settles its oldest open invoices: sort, cumulative sum per customer
        where = np.flatnonzero(takes)
        keys = (links.due_date[where].view("int64"), links.issue_date[where].view("int64"), customer[where])
        order = np.lexsort(keys)
        sorted_keys = [key[order] for key in keys]
        tied = np.zeros(len(where), dtype=bool)
        same = np.logical_and.reduce([key[1:] == key[:-1] for key in sorted_keys]) if len(where) > 1 else np.zeros(0, dtype=bool)
        tied[1:] |= same
        tied[:-1] |= same
        if tied.any():  # same customer, issue and due dates: by invoice number as text
            rank = np.zeros(len(where), dtype=np.int64)
            ids = links.invoices["invoice_id"].to_numpy(dtype=object)[where[order][tied]]
            rank[order[tied]] = _text_ranks(ids)
            order = np.lexsort((rank, *keys))
        sorted_where = where[order]
        cust = customer[sorted_where]
        owed_sorted = owed[sorted_where]
        running = np.cumsum(owed_sorted)
        starts = np.r_[True, cust[1:] != cust[:-1]]
        base = np.maximum.accumulate(np.where(starts, running - owed_sorted, 0.0))
        before = running - owed_sorted - base
        applied = np.clip(pool[cust] - before, 0.0, owed_sorted)
        open_amount[sorted_where] = owed_sorted - applied
    open_amount[open_amount < HALF_CENT] = 0.0

    credit_values = np.maximum(pool - per_customer(customer, owed), 0.0)
    has_credit = credit_values >= HALF_CENT
    credit = pd.Series(credit_values[has_credit], index=pd.Index(links.customers[has_credit], name="customer_id"), name="credit").sort_index()
    paid_by_invoice = np.where(is_item, amount - open_amount, 0.0)
    return Receivables(as_of, links, is_item, open_amount, paid_by_invoice, credit)


def open_items(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, *, rates: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per invoice issued on or before `as_of` (credit notes excluded: their value is allocated).

    Columns: invoice_id, customer_id, issue_date, due_date, amount (in euros), paid (matched
    payments and allocated credit), open_amount (≥ 0), days_past_due (as_of − due_date in days,
    negative when not yet due), then every other invoice column (dispute, currency, row, …).
    Rows keep the invoices' order and index. Allocation rules: see `receivables`.
    """
    return receivables(invoices, payments, as_of, rates=rates).items


def balances(book: Receivables) -> pd.DataFrame:
    """Per customer (sorted by code): open_amount, overdue_amount, open_invoices, credit, balance."""
    links = book.links
    customer = links.invoice_customer
    n_customers = len(links.customers)
    known = book.is_item & (customer >= 0)
    codes = customer[known]
    open_amount = book.open_by_invoice[known]
    overdue = np.where(book.days_past_due[known] > 0, open_amount, 0.0)
    present = np.bincount(codes, minlength=n_customers) > 0
    credit = np.zeros(n_customers)
    if len(book.credit):
        credit[pd.Index(links.customers).get_indexer(book.credit.index)] = book.credit.to_numpy()
    present |= credit > 0
    table = pd.DataFrame({
        "customer_id": links.customers,
        "open_amount": np.bincount(codes, weights=open_amount, minlength=n_customers).astype(np.float64),
        "overdue_amount": np.bincount(codes, weights=overdue, minlength=n_customers).astype(np.float64),
        "open_invoices": np.bincount(codes[open_amount > 0], minlength=n_customers).astype("int64"),
        "credit": credit,
    })[present]
    table["balance"] = table["open_amount"] - table["credit"]
    return table.sort_values("customer_id", kind="stable").reset_index(drop=True)


def customer_balances(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, *, rates: dict[str, float] | None = None) -> pd.DataFrame:
    """Per customer with an invoice issued up to `as_of` or with credit: open_amount (sum of open
    items), overdue_amount (open and past due), open_invoices (count), credit (unapplied credit,
    ≥ 0) and balance (= open_amount − credit; negative when the customer is owed money).

    A customer has either open invoices or credit, never both: credit is applied first.
    """
    return balances(receivables(invoices, payments, as_of, rates=rates))
