"""The records dunning hands to the letters: one `Communication` per customer and run.

A communication carries everything a letter, an e-mail or a call sheet needs that comes from the
ledger and the rules: the step (id, channel, template, tone from relances.yaml), the customer's
overdue invoices and, apart, those not yet due, the previous reminders from the Journal, and the
L441-10 penalties as of the date. Amounts are TTC euros, unrounded (rounded to the cent only when
shown); dates are `datetime.date`. The customer's name, contact and address are read from the
ledger's Clients by `customer_id`, the sender's identity from the Paramètres.

The Journal (one row per invoice and step; Étape and Canal hold the rules' step ids and channels)
is written by the letters and read by dunning (`encaisse.dunning.history`). Its « Issue »
(outcome) vocabulary, compared without accents or case:

- `envoye` — the e-mail was accepted by the server / the letter was produced to be posted: done;
- `genere` — the document was produced but not sent (dry run): done as well, since it is in
  the user's hands (`--force` produces it again);
- `echec …` (« échec : destinataire refusé ») — the send failed: NOT done, proposed again;
- `promesse JJ/MM/AAAA` (or `promesse … AAAA-MM-JJ`, any words between) — a promise to pay by
  that date, logged by the user after a call or a reply; the loader reads the date into the
  derived column `promise_date` (an unreadable date is an error naming the cell). Dunning pauses
  the invoice until that date + `pauses.promesse_delai_grace_jours`, then counts it broken;
- `echeancier …` — a payment plan agreed on that row's date (starts the plan's clock before
  its first instalment);
- anything else (`appel_fait`, « message laissé », « accusé de réception signé », blank…) is
  free text: the row's step counts as done.

A step counts as done for an invoice when a row names that invoice and step, is dated on or
before the as-of date and its outcome is not `echec`. After a formal notice, a row whose step is
an escalation route id (`procedure_simplifiee`, `injonction_de_payer`,
`societe_de_recouvrement`) records that the escalation was started.

What the letters journal for a communication: `journal_entries`, one (invoice, step id) pair per
row to append with the communication's channel.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from encaisse.rules.records import EscalationRoute, Step


@dataclass(frozen=True)
class DueInvoice:
    """An open invoice as a reminder lists it."""

    invoice_id: str
    issue_date: dt.date
    due_date: dt.date
    amount: float  # invoice TTC
    open_amount: float  # what is still owed on it at the as-of date
    days_past_due: int  # negative when not yet due
    penalty: float = 0.0  # L441-10 interest accrued at the as-of date (0 when not yet due)
    indemnity: float = 0.0  # fixed recovery indemnity (40 €) when overdue
    dispute: str | None = None  # the dispute category, when one is open
    pause: str | None = None  # why dunning leaves it out of the claim, in French (None when claimed)


@dataclass(frozen=True)
class PreviousReminder:
    """A reminder already sent, from the Journal."""

    date: dt.date
    step: str  # the rules' step id
    channel: str  # email | telephone | courrier | recommande


@dataclass(frozen=True)
class Communication:
    """One customer's reminder for one run: the highest due step among its invoices."""

    customer_id: str
    as_of: dt.date
    timeline: str  # the relances.yaml calendar that applies
    step: Step  # id, channel, template, tone, label, payment_link, phone_task
    overdue: tuple[DueInvoice, ...]  # every overdue open invoice of the customer
    not_yet_due: tuple[DueInvoice, ...] = ()  # open invoices not yet due, listed apart
    previous: tuple[PreviousReminder, ...] = ()  # oldest first
    penalty_rate: float | None = None  # yearly rate used for the penalties (fraction), None when unknown
    notice_days: int | None = None  # formal notice: days given to pay (relances.yaml escalade)
    escalation: EscalationRoute | None = None  # formal notice: the route announced if unpaid
    warnings: tuple[str, ...] = ()  # e.g. legal data not verified for the as-of date
    paused: tuple[DueInvoice, ...] = ()  # overdue invoices left out of the claim (dispute, plan, promise), with `pause`
    journal_entries: tuple[tuple[str, str], ...] = ()  # (invoice_id, step id) rows to journal once produced

    @property
    def open_total(self) -> float:
        return sum(i.open_amount for i in self.overdue)

    @property
    def penalty_total(self) -> float:
        return sum(i.penalty for i in self.overdue)

    @property
    def indemnity_total(self) -> float:
        return sum(i.indemnity for i in self.overdue)

    @property
    def invoice_ids(self) -> tuple[str, ...]:
        return tuple(i.invoice_id for i in self.overdue)
