"""What suspends the dunning of an open invoice on a date (relances.yaml « pauses », litiges.yaml).

Each rule gives a mask over the open items; an invoice is paused when one of them holds, and
the first that holds in this order names the pause: the customer paused by hand, an open
dispute, a respected payment plan, a promise to pay.

- Customer paused (relances.yaml pauses.clients): until `jusqu_au` included, or for good
  when it has no date.
- Open dispute (Litige not blank, `litige_ouvert: true`): a category whose effect is
  « suspendre » pauses the invoice until dispute date + resolution days when
  `reprise_apres_delai` is true (the day after, dunning resumes), else until the dispute is
  resolved (Litige blank again). A category unknown to litiges.yaml, or a dispute without a
  date whose category resumes after a deadline, suspends until resolved. « continuer » never
  pauses. Whatever the category, a dispute past its deadline is a task for its owner team.
- Payment plan (Échéancier not blank, `echeancier_respecte: true`): a plan is one reference of
  one customer. It is respected while the latest of its instalments (payments on or before the
  as-of date matched to any of its invoices, open or settled) or, before the first one, the
  Journal row that agreed it (outcome « échéancier … ») is at most
  `echeancier_jours_sans_versement` days old (35: monthly instalments plus a few days). A plan
  with neither, or whose last instalment is older, is broken: its invoices are dunned again.
  The workbook holds no instalment schedule, only the reference: the rhythm of the payments is
  the one fact we have, which is why « respected » is defined by it.
- Promise to pay (Journal outcome « promesse 15/12/2026 »): the invoice is paused until the
  latest date promised + `promesse_delai_grace_jours` included; after that, still open, the
  promise is broken: dunning resumes and its actions rank higher.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from encaisse.ledger import Links
from encaisse.rules.records import DisputeCategory, Rules

NONE, CUSTOMER, DISPUTE, PLAN, PROMISE = 0, 1, 2, 3, 4
NAT = np.datetime64("NaT", "ns")
DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Pauses:
    """Per open item (aligned with the `position` array given to `pauses`)."""

    kind: np.ndarray  # NONE, CUSTOMER, DISPUTE, PLAN or PROMISE (the first that holds)
    until: np.ndarray  # datetime64: last day paused (NaT: until something changes)
    dispute: np.ndarray  # object: the category when the invoice has an open dispute, None otherwise
    dispute_deadline: np.ndarray  # datetime64: dispute date + resolution days (NaT without)
    dispute_overdue: np.ndarray  # bool: open dispute past its resolution deadline
    plan_broken: np.ndarray  # bool: in a payment plan that is not respected
    promise: np.ndarray  # datetime64: latest date promised (NaT)
    broken_promise: np.ndarray  # bool: promise + grace passed, invoice still open

    @property
    def paused(self) -> np.ndarray:
        return self.kind != NONE


def _texts(values: np.ndarray) -> np.ndarray:
    """Stripped text, None for blanks (numbers as Excel shows them)."""
    series = pd.Series(values, dtype=object)
    filled = series.notna().to_numpy()
    out = np.full(len(series), None, dtype=object)
    if filled.any():
        text = series[filled].astype(str).str.strip()
        keep = (text != "").to_numpy()
        out[np.flatnonzero(filled)[keep]] = text[keep].to_numpy(dtype=object)
    return out


def _column(frame: pd.DataFrame, key: str, position: np.ndarray, kind: str = "object") -> np.ndarray:
    if key not in frame.columns:
        return np.full(len(position), NAT) if kind == "date" else np.full(len(position), None, dtype=object)
    values = frame[key].to_numpy(dtype="datetime64[ns]" if kind == "date" else object)
    return values[position]


def _category(name: str, categories: dict[str, DisputeCategory]) -> DisputeCategory | None:
    if name in categories:
        return categories[name]
    from encaisse.tables import normalize_header

    wanted = normalize_header(name)
    return next((c for key, c in categories.items() if normalize_header(key) == wanted), None)


def pauses(rules: Rules, links: Links, position: np.ndarray, customer_ids: np.ndarray, as_of: pd.Timestamp,
           promise_date: np.ndarray, plan_agreed: np.ndarray) -> Pauses:
    """The pauses of the open items at `position` (rows of `links.invoices`) whose customers are `customer_ids`.

    `promise_date` and `plan_agreed` are the Journal's facts per invoice row (see `history`).
    """
    day = np.datetime64(as_of.to_datetime64(), "ns")
    n = len(position)
    invoices = links.invoices
    policy = rules.dunning.pauses
    kind = np.zeros(n, dtype=np.int8)
    until = np.full(n, NAT)

    # Customer paused by hand.
    if policy.customers:
        paused_until = {p.customer_id: p.until for p in policy.customers}
        found = pd.Index(list(paused_until)).get_indexer(customer_ids)
        ends = np.array([NAT if d is None else np.datetime64(d, "ns") for d in paused_until.values()] + [NAT])[found]
        hit = (found >= 0) & (np.isnat(ends) | (day <= ends))
        kind[hit], until[hit] = CUSTOMER, ends[hit]

    # Open disputes.
    dispute = _texts(_column(invoices, "dispute", position))
    disputed = pd.notna(dispute)
    dispute_date = _column(invoices, "dispute_date", position, "date")
    deadline = np.full(n, NAT)
    suspends = np.zeros(n, dtype=bool)
    resumes = np.zeros(n, dtype=bool)
    if disputed.any():
        codes, names = pd.factorize(pd.Series(dispute[disputed], dtype=object))
        found = [_category(str(name), dict(rules.disputes)) for name in names]  # a handful of categories
        days = np.array([np.nan if c is None else c.resolution_days for c in found] + [np.nan])[codes]
        suspend = np.array([c is None or c.dunning_effect == "suspendre" for c in found], dtype=bool)[codes]
        resume = np.array([c is not None and c.resume_after_deadline for c in found], dtype=bool)[codes]
        where = np.flatnonzero(disputed)
        has_days = ~np.isnan(days) & ~np.isnat(dispute_date[where])
        deadline[where[has_days]] = dispute_date[where[has_days]] + days[has_days].astype(np.int64) * DAY
        suspends[where] = suspend
        resumes[where] = resume & has_days
    dispute_overdue = disputed & ~np.isnat(deadline) & (deadline < day)
    if policy.open_dispute:
        held = disputed & suspends & (~resumes | (day <= deadline)) & (kind == NONE)
        kind[held] = DISPUTE
        until[held] = np.where(resumes[held], deadline[held], NAT)

    # Payment plans: one plan = (customer, reference); respected while its last instalment is recent.
    plan_broken = np.zeros(n, dtype=bool)
    if "payment_plan" in invoices.columns:
        all_refs = _texts(invoices["payment_plan"].to_numpy(dtype=object))
        in_plan_all = pd.notna(all_refs)
        if in_plan_all.any():
            rows = np.flatnonzero(in_plan_all)
            keys = pd.Series(links.invoice_customer[rows].astype(str), dtype=object) + "\x1f" + pd.Series(all_refs[rows], dtype=object)
            plan_codes, plan_keys = pd.factorize(keys)
            plan_of = np.full(len(all_refs), -1, dtype=np.int64)
            plan_of[rows] = plan_codes
            last = np.full(len(plan_keys), np.iinfo(np.int64).min, dtype=np.int64)
            paid = (links.payment_invoice >= 0) & (links.payment_date <= day)
            target = links.payment_invoice[paid]
            mine = plan_of[target] >= 0
            np.maximum.at(last, plan_of[target[mine]], links.payment_date[paid][mine].view(np.int64))
            agreed = ~np.isnat(plan_agreed) & (plan_of >= 0)
            np.maximum.at(last, plan_of[agreed], plan_agreed[agreed].view(np.int64))
            anchor = last.view("datetime64[ns]").copy()
            anchor[last == np.iinfo(np.int64).min] = NAT
            respected_plan = ~np.isnat(anchor) & ((day - anchor) / DAY <= policy.plan_max_gap_days)
            item_plan = plan_of[position]
            in_plan = item_plan >= 0
            respected = np.zeros(n, dtype=bool)
            respected[in_plan] = respected_plan[item_plan[in_plan]]
            plan_broken = in_plan & ~respected
            if policy.respected_payment_plan:
                held = respected & (kind == NONE)
                kind[held] = PLAN
                ends = np.zeros(n, dtype="datetime64[ns]")
                ends[in_plan] = anchor[item_plan[in_plan]] + policy.plan_max_gap_days * DAY
                until[held] = ends[held]

    # Promises to pay.
    promise = promise_date[position]
    promised = ~np.isnat(promise)
    grace_end = np.where(promised, promise + policy.promise_grace_days * DAY, NAT)
    active = promised & (day <= grace_end)
    broken = promised & ~active
    held = active & (kind == NONE)
    kind[held], until[held] = PROMISE, grace_end[held]

    return Pauses(kind, until, np.where(disputed, dispute, None), deadline, dispute_overdue, plan_broken, promise, broken)
