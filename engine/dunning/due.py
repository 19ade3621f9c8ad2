"""Which reminder each customer is due on a date: the due steps of its open invoices, grouped.

For each open invoice as of the date (the one allocation, `encaisse.ledger.receivables`):

1. Its timeline is its customer's (relances.yaml `affectation`, resolved from the customer's
   segment and risk class exactly as `encaisse rules explain` does: a blank or unknown segment
   is the default segment; the class comes from `encaisse.credit.scoring.score_customers`).
2. Its highest due step is the last step whose day (due date + `jour`) is on or before the
   as-of date; the highest step done is the highest of its timeline found in the Journal for
   it (see `history`). The step proposed is the highest due step when it is above the highest
   done: a missed run never loses a step (J+3 and J+10 both due and neither sent: J+10 alone),
   a step is never proposed twice, and a step below one already done never is.
3. A paused invoice (see `pauses`) proposes nothing and is not claimed.
4. One communication per customer, at the highest step proposed among its invoices, listing
   every overdue open invoice not paused (`overdue`), apart those not yet due (`not_yet_due`),
   and apart the overdue ones a pause keeps out of the claim (`paused`).
5. After the timeline's last step (the formal notice) was done and its deadline
   (`escalade.delai_mise_en_demeure_jours`) has passed with the invoice still open and not
   paused, the escalation route for the amount (relances.yaml `escalade.voies`: the first
   whose bounds hold the amount TTC still owed under the notice) is proposed as a task, never
   sent. Journaling the route's id as the step of the invoice (e.g. « injonction_de_payer »)
   records that it was done; the task is then no longer proposed.

Penalties (L441-10) and the 40 € indemnity of each overdue invoice are computed by
`encaisse.credit.penalty.late_penalty` with the rules' basis (`penalty_basis`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from encaisse.credit.penalty import late_penalty, penalty_basis
from encaisse.dunning import pauses as pause_kinds
from encaisse.dunning.history import JournalFacts, read_journal
from encaisse.dunning.pauses import Pauses, pauses
from encaisse.dunning.records import Communication, DueInvoice, PreviousReminder
from encaisse.ledger import HALF_CENT, Links, Receivables, as_timestamp, receivables
from encaisse.rules.records import EscalationRoute, Rules, Timeline

DAY = np.timedelta64(1, "D")
NAT = np.datetime64("NaT", "ns")


@dataclass(frozen=True)
class OpenItems:
    """Every open item as of the date with its dunning state, one array per fact (aligned)."""

    position: np.ndarray  # row in the invoices table
    customer: np.ndarray  # customer code (index in links.customers)
    timeline: np.ndarray  # index in `timelines`
    days_past_due: np.ndarray  # float
    open_amount: np.ndarray
    due_step: np.ndarray  # highest step due, -1
    done_step: np.ndarray  # highest step done, -1
    proposed: np.ndarray  # step proposed today, -1
    notice_date: np.ndarray  # when the formal notice was done (NaT)
    escalation_due: np.ndarray  # bool: formal notice deadline passed, escalation not journaled
    interest: np.ndarray  # L441-10 interest at the date (0 when not overdue)
    indemnity: np.ndarray  # fixed indemnity (0 when not overdue)
    pauses: Pauses


@dataclass(frozen=True)
class Customers:
    """Per customer code (index in links.customers)."""

    ids: np.ndarray
    names: np.ndarray
    score: np.ndarray  # float, NaN when not scored
    risk_class: np.ndarray  # object
    timeline: np.ndarray  # index in `timelines`


@dataclass(frozen=True)
class DunningState:
    """Everything dunning knows on a date; `communications` and the worklist are built from it."""

    as_of: pd.Timestamp
    rules: Rules
    book: Receivables
    timelines: tuple[Timeline, ...]
    customers: Customers
    items: OpenItems
    facts: JournalFacts
    penalty_rate: float | None
    warnings: tuple[str, ...]

    @property
    def links(self) -> Links:
        return self.book.links


def route_for(amount: float, routes: tuple[EscalationRoute, ...]) -> EscalationRoute | None:
    """The first route whose bounds hold `amount` (minimum included, maximum excluded)."""
    for route in routes:
        if (route.min_amount is None or amount >= route.min_amount) and (route.max_amount is None or amount < route.max_amount):
            return route
    return None


def _customers(rules: Rules, links: Links, customers: pd.DataFrame | None, scores: pd.DataFrame,
               timelines: tuple[Timeline, ...]) -> Customers:
    ids = links.customers
    n = len(ids)
    names = np.full(n, None, dtype=object)
    segment = np.full(n, rules.payment.default_segment, dtype=object)
    if customers is not None and not customers.empty:
        listed = pd.Index(customers["customer_id"].astype(object).to_numpy(dtype=object))
        at = listed.get_indexer(ids) if listed.is_unique else pd.Index(listed[~listed.duplicated()]).get_indexer(ids)
        rows = customers if listed.is_unique else customers[~listed.duplicated()]
        found = at >= 0
        if "name" in rows.columns:
            names[found] = rows["name"].astype(object).to_numpy(dtype=object)[at[found]]
        if "segment" in rows.columns:
            raw = pd.Series(rows["segment"].astype(object).to_numpy(dtype=object)[at[found]], dtype=object)
            text = raw.where(raw.notna(), "").astype(str).str.strip()
            known = (pd.Index(list(rules.payment.segments)).get_indexer(text) >= 0)  # blank or unknown: the default
            segment[np.flatnonzero(found)[known]] = text[known].to_numpy(dtype=object)
    score = np.full(n, np.nan)
    risk_class = np.full(n, None, dtype=object)
    if scores is not None and not scores.empty:
        at = pd.Index(scores["customer_id"].astype(object)).get_indexer(ids)
        found = at >= 0
        score[found] = scores["score"].to_numpy(dtype=float)[at[found]]
        risk_class[found] = scores["risk_class"].to_numpy(dtype=object)[at[found]]
    # One timeline per (segment, class) pair: a handful of pairs, each resolved like `rules explain`.
    pairs = pd.Series(segment, dtype=object).astype(str) + "\x1f" + pd.Series(risk_class, dtype=object).astype(str)
    codes, uniques = pd.factorize(pairs)
    index = {t.name: i for i, t in enumerate(timelines)}
    chosen = []
    for pair in uniques:
        seg, cls = pair.split("\x1f")
        timeline, _ = rules.dunning.timeline_for(seg, None if cls == "None" else cls)
        chosen.append(index[timeline.name])
    timeline_of = np.asarray(chosen, dtype=np.int64)[codes] if n else np.zeros(0, dtype=np.int64)
    return Customers(ids, names, score, risk_class, timeline_of)


def dunning_state(invoices: pd.DataFrame | None, payments: pd.DataFrame | None, customers: pd.DataFrame | None,
                  journal: pd.DataFrame | None, rules: Rules, as_of: object, *, scores: pd.DataFrame | None = None,
                  rates: dict[str, float] | None = None, book: Receivables | None = None) -> DunningState:
    """The dunning state of every open invoice as of `as_of` (vectorised over whole columns).

    `scores` (from `score_customers`) is computed when not given; `book` spares the allocation
    when the caller already has it for the same date.
    """
    from encaisse.credit.scoring import score_customers

    as_of = as_timestamp(as_of)
    day = np.datetime64(as_of.to_datetime64(), "ns")
    if book is None:
        book = receivables(invoices, payments, as_of, rates=rates)
    links = book.links
    if scores is None:
        scores = score_customers(links.invoices, links.payments, customers if customers is not None else _no_customers(),
                                 as_of, rules.scoring, receivables=book)
    timelines = tuple(rules.dunning.timelines.values())
    people = _customers(rules, links, customers, scores, timelines)
    invoice_timeline = np.where(links.invoice_customer >= 0, people.timeline[np.maximum(links.invoice_customer, 0)], -1) \
        if len(people.timeline) else np.full(len(links.invoice_customer), -1)
    route_ids = tuple(r.id for r in rules.dunning.escalation.routes)
    facts = read_journal(journal, links, as_of, invoice_timeline, timelines, route_ids)

    position = np.flatnonzero(book.is_item & (book.open_by_invoice >= HALF_CENT) & (links.invoice_customer >= 0))
    customer = links.invoice_customer[position]
    timeline = invoice_timeline[position]
    days = book.days_past_due[position]
    due_step = np.full(len(position), -1, dtype=np.int64)
    last_step = np.zeros(len(position), dtype=np.int64)
    for k, line in enumerate(timelines):  # a handful of timelines, each over whole columns
        mine = timeline == k
        offsets = np.array([s.offset for s in line.steps], dtype=float)
        due_step[mine] = np.searchsorted(offsets, days[mine], side="right") - 1
        last_step[mine] = len(line.steps) - 1
    due_step[np.isnan(days)] = -1
    done_step = facts.done_step[position]
    proposed = np.where(due_step > done_step, due_step, -1)

    held = pauses(rules, links, position, links.customers[customer], as_of, facts.promise_date, facts.plan_agreed)
    notice = facts.notice_date[position]
    deadline = notice + rules.dunning.escalation.notice_days * DAY
    escalation_due = ~held.paused & ~np.isnat(notice) & (deadline < day) & ~facts.escalated[position] & (days > 0)

    legal, contractual = penalty_basis(rules)
    overdue = days > 0
    interest = np.zeros(len(position))
    indemnity = np.zeros(len(position))
    warnings: tuple[str, ...] = ()
    if overdue.any():
        owed = late_penalty(book.open_by_invoice[position[overdue]], links.due_date[position[overdue]], as_of, legal,
                            contractual_rate=contractual)
        interest[overdue] = owed["interest"].to_numpy()
        indemnity[overdue] = owed["indemnity"].to_numpy()
        first_late = pd.Timestamp(links.due_date[position[overdue]].min()).date() + dt.timedelta(days=1)
        warnings = legal.penalty_warnings(first_late, as_of.date(), contractual is not None)
    rate = contractual if contractual is not None else legal.penalty_rate(as_of.date())
    items = OpenItems(position, customer, timeline, days, book.open_by_invoice[position], due_step, done_step, proposed,
                      notice, escalation_due, interest, indemnity, held)
    return DunningState(as_of, rules, book, timelines, people, items, facts, rate, warnings)


def _no_customers() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": pd.Series([], dtype=object)})


def communication_plan(state: DunningState) -> pd.DataFrame:
    """One row per customer to remind today: customer (code), step (index in its timeline)."""
    items = state.items
    candidate = ~items.pauses.paused & (items.proposed >= 0)
    if not candidate.any():
        return pd.DataFrame({"customer": np.zeros(0, np.int64), "step": np.zeros(0, np.int64)})
    best = np.full(len(state.customers.ids), -1, dtype=np.int64)
    np.maximum.at(best, items.customer[candidate], items.proposed[candidate])
    codes = np.flatnonzero(best >= 0)
    return pd.DataFrame({"customer": codes, "step": best[codes]})


def _due_invoices(state: DunningState, chosen: np.ndarray) -> list[DueInvoice]:
    """The DueInvoice of each item in `chosen` (indices into `state.items`), columns converted once."""
    items, links = state.items, state.links
    rows = items.position[chosen]
    ids = links.invoices["invoice_id"].to_numpy(dtype=object)[rows].tolist()
    issue = links.issue_date[rows].astype("datetime64[D]").tolist()
    due = links.due_date[rows].astype("datetime64[D]").tolist()
    amount = links.invoice_amount[rows].tolist()
    open_amount = items.open_amount[chosen].tolist()
    days = items.days_past_due[chosen].astype(np.int64).tolist()
    interest, indemnity = items.interest[chosen].tolist(), items.indemnity[chosen].tolist()
    dispute = items.pauses.dispute[chosen].tolist()
    paused = items.pauses.paused[chosen]
    pause = [_pause_text(state, i) if held else None for i, held in zip(chosen.tolist(), paused.tolist())]
    return [DueInvoice(str(a), b, c, float(d), float(e), f, float(g), float(h), None if i is None else str(i), j)
            for a, b, c, d, e, f, g, h, i, j in zip(ids, issue, due, amount, open_amount, days, interest, indemnity, dispute, pause)]


def _pause_text(state: DunningState, i: int) -> str | None:
    """Why a paused invoice is not claimed, in French (None when not paused)."""
    held = state.items.pauses
    kind = held.kind[i]
    if kind == pause_kinds.NONE:
        return None
    until = held.until[i]
    end = "" if np.isnat(until) else f" jusqu'au {pd.Timestamp(until):%d/%m/%Y}"
    if kind == pause_kinds.CUSTOMER:
        customer = str(state.customers.ids[state.items.customer[i]])
        reason = next((p.reason for p in state.rules.dunning.pauses.customers if p.customer_id == customer), "")
        return f"client en pause{end}" + (f" ({reason})" if reason else "")
    if kind == pause_kinds.DISPUTE:
        return f"litige « {held.dispute[i]} » en cours : relance suspendue" + (end or " jusqu'à sa résolution")
    if kind == pause_kinds.PLAN:
        return f"échéancier respecté : relance suspendue{end}"
    return f"promesse de paiement au {pd.Timestamp(held.promise[i]):%d/%m/%Y} : relance suspendue{end}"


def communications(state: DunningState, plan: pd.DataFrame | None = None) -> tuple[Communication, ...]:
    """The day's communications, one per customer to remind, ordered by customer code (see module doc)."""
    plan = communication_plan(state) if plan is None else plan
    if plan.empty:
        return ()
    items = state.items
    codes = plan["customer"].to_numpy()
    # Items of the reminded customers, grouped by customer, oldest due date first.
    chosen = np.zeros(len(state.customers.ids), dtype=bool)
    chosen[codes] = True
    mine = np.flatnonzero(chosen[items.customer])
    order = mine[np.lexsort((state.links.due_date[items.position[mine]], items.customer[mine]))]
    invoices = _due_invoices(state, order)
    done, due = items.done_step[order].tolist(), items.due_step[order].tolist()
    starts = np.searchsorted(items.customer[order], codes, side="left")
    ends = np.searchsorted(items.customer[order], codes, side="right")
    # The reminders already sent, once per customer, date, step and channel, oldest first.
    rows = state.facts.rows
    history = rows.assign(customer=state.links.invoice_customer[rows["position"].to_numpy()]) \
        .drop_duplicates(["customer", "date", "step", "channel"]).sort_values(["customer", "date", "step"], kind="stable")
    history_customer = history["customer"].to_numpy()
    reminders = [PreviousReminder(d, str(s), "" if c is None or c != c else str(c)) for d, s, c in zip(
        history["date"].to_numpy().astype("datetime64[D]").tolist(), history["step"].tolist(), history["channel"].tolist())]
    escalation = state.rules.dunning.escalation
    out = []
    for (code, step_index), start, end in zip(plan.itertuples(index=False, name=None), starts, ends):
        timeline = state.timelines[state.customers.timeline[code]]
        step = timeline.steps[step_index]
        overdue, not_yet_due, held, entries = [], [], [], []
        for k in range(start, end):
            invoice = invoices[k]
            if invoice.pause is not None:
                if invoice.days_past_due > 0:
                    held.append(invoice)
            elif invoice.days_past_due > 0:
                overdue.append(invoice)
                if done[k] < step_index and due[k] >= 0:
                    entries.append((invoice.invoice_id, step.id))
            else:
                not_yet_due.append(invoice)
                if due[k] >= 0 and done[k] < due[k]:
                    entries.append((invoice.invoice_id, timeline.steps[min(due[k], step_index)].id))
        a, b = np.searchsorted(history_customer, [code, code + 1])
        formal = step_index == len(timeline.steps) - 1
        total = sum(i.open_amount for i in overdue)
        out.append(Communication(
            customer_id=str(state.customers.ids[code]),
            as_of=state.as_of.date(),
            timeline=timeline.name,
            step=step,
            overdue=tuple(overdue),
            not_yet_due=tuple(not_yet_due),
            previous=tuple(reminders[a:b]),
            penalty_rate=state.penalty_rate,
            notice_days=escalation.notice_days if formal else None,
            escalation=route_for(total, escalation.routes) if formal else None,
            warnings=state.warnings if overdue else (),
            paused=tuple(held),
            journal_entries=tuple(entries),
        ))
    return tuple(out)
