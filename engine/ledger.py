"""The Ledger: the workbook's tables as canonical DataFrames, and the receivables as of a date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from encaisse.errors import InputError, Problem


@dataclass(frozen=True)
class Params:
    """The named cells of Paramètres (and SoldeBanque on Trésorerie); None where blank or absent."""

    as_of: dt.date | None = None
    company_name: str | None = None
    siren: str | None = None
    company_address: str | None = None
    iban: str | None = None
    payment_link: str | None = None
    ecb_rate: float | None = None
    rules_dir: str | None = None
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


def as_timestamp(value: object) -> pd.Timestamp:
    """The as-of date as a midnight Timestamp (date, datetime, Timestamp or ISO text)."""
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        raise ValueError("date d'arrêté vide")
    return stamp.normalize()


def to_euros(invoices: pd.DataFrame, payments: pd.DataFrame, rates: dict[str, float] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Invoices and payments with amounts in euros.

    An invoice whose Devise is blank or EUR stays as it is. Another currency needs a rate
    in `rates` (euros for one unit, e.g. {"USD": 0.92}); without one, every such currency is
    refused together in one `InputError` naming the rows. A payment matched to a converted
    invoice is taken to be in that invoice's currency and converted with the same rate;
    unmatched payments are in euros (the Règlements table has no currency column).
    """
    if "currency" not in invoices.columns or invoices.empty:
        return invoices, payments
    codes = pd.unique(invoices["currency"].to_numpy(dtype=object))
    normal = {code: ("" if code is None or pd.isna(code) else str(code).strip().upper()) for code in codes}
    foreign = {code: norm for code, norm in normal.items() if norm not in EURO_CODES}
    if not foreign:
        return invoices, payments
    known = {str(k).strip().upper(): float(v) for k, v in (rates or {}).items()}
    currency = invoices["currency"].map(normal)
    missing = sorted(set(foreign.values()) - set(known))
    if missing:
        problems = []
        for code in missing:
            where = currency == code
            rows = invoices.loc[where, "row"].tolist() if "row" in invoices.columns else []
            shown = ", ".join(str(int(r)) for r in rows[:10] if pd.notna(r)) + (", …" if len(rows) > 10 else "")
            count = int(where.sum())
            lines = f" (ligne{'s' if len(rows) > 1 else ''} {shown})" if shown else ""
            problems.append(Problem("Factures", f"{count} facture{'s' if count > 1 else ''} en {code}{lines} : indiquez un taux de change {code} → EUR ou convertissez les montants en euros"))
        raise InputError(problems, "Devises autres que l'euro sans taux de change")
    factor = currency.map(lambda code: known.get(code, 1.0)).astype(float).to_numpy()
    converted = {"amount": invoices["amount"].to_numpy(dtype=float) * factor, "currency": "EUR"}
    if "amount_excl_tax" in invoices.columns:
        converted["amount_excl_tax"] = invoices["amount_excl_tax"].to_numpy(dtype=float) * factor
    invoices = invoices.assign(**converted)
    if not payments.empty:
        by_invoice = pd.Series(factor, index=invoices["invoice_id"].to_numpy(dtype=object))
        by_invoice = by_invoice[~by_invoice.index.duplicated()]
        pay_factor = payments["invoice_id"].map(by_invoice).fillna(1.0).to_numpy(dtype=float)
        payments = payments.assign(amount=payments["amount"].to_numpy(dtype=float) * pay_factor)
    return invoices, payments


@dataclass(frozen=True)
class Receivables:
    """The receivables as of a date, computed once by `receivables()` and shared by every KPI.

    - `as_of`: the as-of date.
    - `items`: one row per invoice issued on or before `as_of` (credit notes excluded), see `open_items`.
    - `credit`: unapplied customer credit (> 0) indexed by customer_id.
    - `invoices`, `payments`: the whole tables in euros (every date), for the KPIs that also
      need sales or receipts.
    """

    as_of: pd.Timestamp
    items: pd.DataFrame
    credit: pd.Series
    invoices: pd.DataFrame
    payments: pd.DataFrame

    @property
    def open_amount(self) -> float:
        """AR: total open receivables (customer credit is not netted across customers)."""
        return float(self.items["open_amount"].sum())


def _amounts(frame: pd.DataFrame) -> np.ndarray:
    return np.nan_to_num(frame["amount"].to_numpy(dtype=float, na_value=np.nan))


def _dates(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy(dtype="datetime64[ns]")


def receivables(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, *, rates: dict[str, float] | None = None) -> Receivables:
    """Open receivables as of `as_of`: every invoice's open amount and each customer's unapplied credit.

    Rules (SPEC, issue 2 point 5), all vectorised:

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
    9. Other currencies are converted with `rates` or refused (see `to_euros`).
    """
    as_of = as_timestamp(as_of)
    if payments is None:
        payments = pd.DataFrame({"payment_date": pd.Series([], dtype="datetime64[ns]"), "customer_id": pd.Series([], dtype=object),
                                 "invoice_id": pd.Series([], dtype=object), "amount": pd.Series([], dtype=float)})
    invoices, payments = to_euros(invoices, payments, rates)
    as_of64 = np.datetime64(as_of.to_datetime64(), "ns")

    issued = _dates(invoices, "issue_date") <= as_of64
    amount_all = _amounts(invoices)
    is_item = issued & (amount_all >= 0)
    is_credit_note = issued & (amount_all < 0)
    items = invoices[is_item]
    amount = amount_all[is_item]
    count = len(items)

    paid_mask = _dates(payments, "payment_date") <= as_of64
    pay = payments[paid_mask]
    pay_amount = _amounts(pay)
    pay_invoice = pay["invoice_id"].to_numpy(dtype=object)

    item_ids = items["invoice_id"].to_numpy(dtype=object)
    index = pd.Index(item_ids)
    if not index.is_unique:
        index = index[~index.duplicated()]
        first = pd.Series(np.arange(count))[~pd.Index(item_ids).duplicated()].to_numpy()
        position = index.get_indexer(pay_invoice)
        position = np.where(position >= 0, first[np.maximum(position, 0)], -1)
    else:
        position = index.get_indexer(pay_invoice)
    matched = position >= 0

    matched_paid = np.bincount(position[matched], weights=pay_amount[matched], minlength=count)
    due = amount - matched_paid
    open_before_pool = np.maximum(due, 0.0)
    overpaid = np.maximum(-due, 0.0)

    # customer of each unmatched payment: its own code, else the customer of the invoice it names
    unmatched = pay[~matched]
    pay_customer = unmatched["customer_id"].to_numpy(dtype=object)
    if len(unmatched):
        missing_customer = pd.isna(pay_customer)
        if missing_customer.any():
            owner = pd.Series(invoices["customer_id"].to_numpy(dtype=object), index=invoices["invoice_id"].to_numpy(dtype=object))
            owner = owner[~owner.index.duplicated()]
            pay_customer = np.where(missing_customer, pd.Series(unmatched["invoice_id"].to_numpy(dtype=object)).map(owner).to_numpy(dtype=object), pay_customer)

    item_customer = items["customer_id"].to_numpy(dtype=object)
    note_customer = invoices["customer_id"].to_numpy(dtype=object)[is_credit_note]
    all_customers = np.concatenate([item_customer, note_customer, pay_customer])
    codes, uniques = pd.factorize(all_customers, use_na_sentinel=True)
    n_customers = len(uniques)
    item_code = codes[:count]
    note_code = codes[count:count + len(note_customer)]
    pay_code = codes[count + len(note_customer):]

    pool = np.bincount(item_code[item_code >= 0], weights=overpaid[item_code >= 0], minlength=n_customers)
    pool += np.bincount(note_code[note_code >= 0], weights=-amount_all[is_credit_note][note_code >= 0], minlength=n_customers)
    unmatched_amount = _amounts(unmatched)
    pool += np.bincount(pay_code[pay_code >= 0], weights=unmatched_amount[pay_code >= 0], minlength=n_customers)
    pool = np.maximum(pool, 0.0)

    open_amount = open_before_pool.copy()
    owed = np.bincount(item_code[item_code >= 0], weights=open_before_pool[item_code >= 0], minlength=n_customers)
    takes = (item_code >= 0) & (pool[np.maximum(item_code, 0)] > 0) & (open_before_pool > 0)
    if takes.any():
        # allocate each customer's pool to its oldest open invoices: sort, cumulative sum per customer
        where = np.flatnonzero(takes)
        sub = items.iloc[where]
        id_rank = pd.factorize(sub["invoice_id"].astype(str).to_numpy(dtype=object), sort=True)[0]
        order = np.lexsort((id_rank, _dates(sub, "due_date"), _dates(sub, "issue_date"), item_code[where]))
        sorted_where = where[order]
        cust = item_code[sorted_where]
        owed_sorted = open_before_pool[sorted_where]
        running = np.cumsum(owed_sorted)
        starts = np.r_[True, cust[1:] != cust[:-1]]
        base = np.maximum.accumulate(np.where(starts, running - owed_sorted, 0.0))
        before = running - owed_sorted - base
        applied = np.clip(pool[cust] - before, 0.0, owed_sorted)
        open_amount[sorted_where] = owed_sorted - applied
    open_amount[open_amount < HALF_CENT] = 0.0

    credit_values = np.maximum(pool - owed, 0.0)
    has_credit = credit_values >= HALF_CENT
    credit = pd.Series(credit_values[has_credit], index=pd.Index(uniques[has_credit], name="customer_id"), name="credit").sort_index()

    days = (as_of64 - _dates(items, "due_date")).astype("timedelta64[D]").astype("float64")
    frame = {
        "invoice_id": items["invoice_id"].to_numpy(),
        "customer_id": items["customer_id"].to_numpy(),
        "issue_date": items["issue_date"].to_numpy(),
        "due_date": items["due_date"].to_numpy(),
        "amount": amount,
        "paid": amount - open_amount,
        "open_amount": open_amount,
        "days_past_due": days.astype("int64") if not np.isnan(days).any() else pd.array(days, dtype="Int64"),
    }
    for column in items.columns:
        if column not in frame:
            frame[column] = items[column].to_numpy()
    table = pd.DataFrame(frame, index=items.index)
    return Receivables(as_of, table, credit, invoices, payments)


def open_items(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, *, rates: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per invoice issued on or before `as_of` (credit notes excluded: their value is allocated).

    Columns: invoice_id, customer_id, issue_date, due_date, amount, paid (matched payments and
    allocated credit), open_amount (≥ 0), days_past_due (as_of − due_date in days, negative when
    not yet due), then every other invoice column (dispute, currency, row, …). Rows keep the
    invoices' order and index. Allocation rules: see `receivables`.
    """
    return receivables(invoices, payments, as_of, rates=rates).items


def balances(book: Receivables) -> pd.DataFrame:
    """Per customer (sorted by code): open_amount, overdue_amount, open_invoices, credit, balance."""
    items = book.items
    is_open = items["open_amount"].to_numpy() > 0
    overdue = np.where(items["days_past_due"].to_numpy(dtype=float, na_value=np.nan) > 0, items["open_amount"].to_numpy(), 0.0)
    grouped = pd.DataFrame({
        "customer_id": items["customer_id"].to_numpy(),
        "open_amount": items["open_amount"].to_numpy(),
        "overdue_amount": overdue,
        "open_invoices": is_open.astype("int64"),
    }).groupby("customer_id", sort=True).sum()
    table = grouped.join(book.credit, how="outer")
    table = table.fillna({"open_amount": 0.0, "overdue_amount": 0.0, "open_invoices": 0, "credit": 0.0})
    table["open_invoices"] = table["open_invoices"].astype("int64")
    table["balance"] = table["open_amount"] - table["credit"]
    return table.reset_index()


def customer_balances(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object, *, rates: dict[str, float] | None = None) -> pd.DataFrame:
    """Per customer with an invoice issued up to `as_of` or with credit: open_amount (sum of open items),
    overdue_amount (open and past due), open_invoices (count), credit (unapplied credit, ≥ 0)
    and balance (= open_amount − credit; negative when the customer is owed money).

    A customer has either open invoices or credit, never both: credit is applied first.
    """
    return balances(receivables(invoices, payments, as_of, rates=rates))
