"""What a reminder says, as plain data: the fields every template (e-mail, letter, call sheet, DOCX) sees.

`document_context(communication, customer, sender)` turns a dunning `Communication` and the two
parties into a dict of French-formatted strings and lists. Everything that comes from the
workbook's Clients is untrusted text: it is carried as data (templates escape it for HTML, Typst
reads it as JSON strings) and never becomes markup, a path or a header. `FIELDS` lists the
top-level names a template may use; `sample_context()` fills them all, for `encaisse rules check`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Mapping

import pandas as pd

from encaisse.dunning.records import Communication, DueInvoice, PreviousReminder
from encaisse.ledger import Params
from encaisse import fr
from encaisse.rules.records import EscalationRoute, Step
from encaisse.tables import CELLS

CHANNEL_LABELS = {"email": "e-mail", "telephone": "appel", "courrier": "courrier", "recommande": "lettre recommandée"}

# Per tone (relances.yaml `ton`): how the message opens and closes, and what it asks.
TONES: dict[str, dict[str, str]] = {
    "courtois": {
        "appel": "Bonjour{contact},",
        "demande": "Si le règlement est déjà parti, merci de ne pas tenir compte de ce message.",
        "cloture": "Bien cordialement,",
    },
    "amical": {
        "appel": "Bonjour{contact},",
        "demande": "Un oubli est vite arrivé : si vous rencontrez une difficulté, répondez simplement à ce message "
                   "ou appelez-nous, nous trouverons une solution ensemble.",
        "cloture": "Bien cordialement,",
    },
    "ferme": {
        "appel": "Madame, Monsieur,",
        "demande": "Nous vous demandons de procéder au règlement sous huit jours. Tout retard entraîne de plein droit "
                   "des pénalités de retard et une indemnité forfaitaire de 40 € par facture (code de commerce, "
                   "article L441-10).",
        "cloture": "Nous vous prions d'agréer, Madame, Monsieur, nos salutations distinguées.",
    },
    "formel": {
        "appel": "Madame, Monsieur,",
        "demande": "À défaut de règlement dans le délai indiqué, nous engagerons sans autre avis une procédure de "
                   "recouvrement judiciaire, dont les frais resteront à votre charge.",
        "cloture": "Nous vous prions d'agréer, Madame, Monsieur, l'expression de nos salutations distinguées.",
    },
}

FIELDS: tuple[str, ...] = (
    "societe", "expediteur", "client", "etape", "ton", "formules", "date", "lieu", "factures", "factures_a_echoir",
    "total", "total_a_echoir", "nombre_factures", "relances_precedentes", "penalites", "total_exigible",
    "delai_jours", "date_limite", "voie_recouvrement", "recommande",
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_CITY = re.compile(r"\b\d{5}\s+([^,\d][^,]*?)\s*(?:,|$)")


def one_line(text: object) -> str:
    """Untrusted text for a single line (a name, a subject): control characters and line breaks become spaces."""
    if text is None or (isinstance(text, float) and pd.isna(text)) or text is pd.NA:
        return ""
    return _CONTROL.sub(" ", str(text)).strip()


def lines(text: object) -> str:
    """Untrusted text that may span lines (an address): other control characters removed."""
    if text is None or (isinstance(text, float) and pd.isna(text)) or text is pd.NA:
        return ""
    return re.sub(r"[\x00-\x09\x0b-\x1f\x7f]+", " ", str(text).replace("\r\n", "\n").replace("\r", "\n")).strip()


@dataclass(frozen=True)
class Customer:
    """The customer as the Clients table has it (untrusted text) and where its e-mail cell is."""

    customer_id: str
    name: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    address: str = ""
    phone: str = ""
    siren: str = ""
    email_cell: str = "Clients"  # e.g. 'Clients!F12'

    @property
    def contact(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True)
class Sender:
    """The company and the person who signs (Paramètres)."""

    company: str = ""
    address: str = ""
    siren: str = ""
    iban: str = ""
    payment_link: str = ""
    name: str = ""
    role: str = ""
    phone: str = ""
    email: str = ""

    @property
    def city(self) -> str:
        """The city after the postcode of the address ('14 rue des Tanneurs, 69007 Lyon' -> 'Lyon')."""
        match = _CITY.search(self.address.replace("\n", ", "))
        return match.group(1).strip() if match else ""


def sender_from_params(params: Params) -> Sender:
    return Sender(
        company=one_line(params.company_name), address=lines(params.company_address), siren=one_line(params.siren),
        iban=one_line(params.iban), payment_link=one_line(params.payment_link), name=one_line(params.sender_name),
        role=one_line(params.sender_role), phone=one_line(params.sender_phone), email=one_line(params.sender_email),
    )


def customers_by_id(customers: pd.DataFrame) -> dict[str, Customer]:
    """Every Clients line as a `Customer`, by code (the first line of a code wins)."""
    cells = customers.attrs.get(CELLS) or {}
    sheet = cells.get("sheet", "Clients")
    email_letter = cells.get("columns", {}).get("email")
    out: dict[str, Customer] = {}
    records = customers.to_dict("records")
    for record in records:
        code = one_line(record.get("customer_id"))
        if not code or code in out:
            continue
        row = record.get("row")
        where = f"{sheet}!{email_letter}{int(row)}" if email_letter and row is not None and not pd.isna(row) else (
            f"{sheet}!ligne {int(row)}" if row is not None and not pd.isna(row) else sheet)
        out[code] = Customer(
            customer_id=code, name=one_line(record.get("name")), first_name=one_line(record.get("contact_first_name")),
            last_name=one_line(record.get("contact_last_name")), email=lines(record.get("email")),
            address=lines(record.get("address")), phone=one_line(record.get("phone")), siren=one_line(record.get("siren")),
            email_cell=where,
        )
    return out


@dataclass(frozen=True)
class Reminder:
    """A previous reminder as the templates see it; `str()` reads '03/10/2026 (e-mail)'."""

    date: str
    etape: str
    canal: str

    def __str__(self) -> str:
        return f"{self.date} ({self.canal})"


def _invoice(invoice: DueInvoice) -> dict[str, object]:
    return {
        "numero": one_line(invoice.invoice_id),
        "date": fr.date(invoice.issue_date),
        "echeance": fr.date(invoice.due_date),
        "montant": fr.euros(invoice.amount),
        "reste_du": fr.euros(invoice.open_amount),
        "jours_retard": int(invoice.days_past_due),
        "penalites": fr.euros(invoice.penalty),
        "indemnite": fr.euros(invoice.indemnity),
        "litige": one_line(invoice.dispute),
    }


def listed_invoices(communication: Communication) -> tuple[tuple[DueInvoice, ...], tuple[DueInvoice, ...]]:
    """(the invoices the reminder is about, those listed apart as not yet due).

    A reminder before the due date (J-5) is about invoices not yet due: with nothing overdue, the
    not-yet-due invoices are the ones it lists.
    """
    if communication.overdue:
        return communication.overdue, communication.not_yet_due
    return communication.not_yet_due, ()


def document_context(communication: Communication, customer: Customer, sender: Sender,
                     step_labels: Mapping[str, str] | None = None) -> dict[str, object]:
    """The fields of `FIELDS` for one communication, formatted in French."""
    step = communication.step
    tone = TONES.get(step.tone, TONES["courtois"])
    contact = customer.contact
    formulas = {key: text.replace("{contact}", f" {contact}" if contact else "") for key, text in tone.items()}
    if not contact:
        formulas["appel"] = "Madame, Monsieur,"
    labels = step_labels or {}
    listed, later = listed_invoices(communication)
    open_total = sum(i.open_amount for i in listed)
    penalty, indemnity = sum(i.penalty for i in listed), sum(i.indemnity for i in listed)
    notice_days = communication.notice_days
    route: EscalationRoute | None = communication.escalation
    return {
        "societe": {
            "raison_sociale": sender.company, "adresse": sender.address, "siren": sender.siren, "iban": sender.iban,
            "lien_paiement": sender.payment_link, "email": sender.email, "telephone": sender.phone,
        },
        "expediteur": {"nom": sender.name, "fonction": sender.role, "telephone": sender.phone, "email": sender.email},
        "client": {
            "code": customer.customer_id, "raison_sociale": customer.name, "prenom": customer.first_name,
            "nom": customer.last_name, "contact": contact, "email": customer.email, "adresse": customer.address,
            "telephone": customer.phone, "siren": customer.siren,
        },
        "etape": {
            "id": step.id, "libelle": step.label, "canal": step.channel, "canal_libelle": CHANNEL_LABELS.get(step.channel, step.channel),
            "lien_paiement": bool(step.payment_link), "appel": bool(step.phone_task),
        },
        "ton": step.tone,
        "formules": formulas,
        "date": fr.date(communication.as_of),
        "lieu": sender.city,
        "factures": [_invoice(i) for i in listed],
        "factures_a_echoir": [_invoice(i) for i in later],
        "total": fr.euros(open_total),
        "total_a_echoir": fr.euros(sum(i.open_amount for i in later)),
        "nombre_factures": len(listed),
        "relances_precedentes": [_reminder(r, labels) for r in communication.previous],
        "penalites": {
            "connues": communication.penalty_rate is not None,
            "taux": fr.percent(communication.penalty_rate, 2) if communication.penalty_rate is not None else "",
            "montant": fr.euros(penalty),
            "indemnite": fr.euros(indemnity),
            "total": fr.euros(penalty + indemnity),
        },
        "total_exigible": fr.euros(open_total + penalty + indemnity),
        "delai_jours": notice_days if notice_days is not None else 0,
        "date_limite": fr.date(communication.as_of + dt.timedelta(days=notice_days)) if notice_days else "",
        "voie_recouvrement": route.label if route is not None else "requête en injonction de payer",
        "recommande": step.channel == "recommande",
    }


def _reminder(reminder: PreviousReminder, labels: Mapping[str, str]) -> Reminder:
    return Reminder(fr.date(reminder.date), labels.get(reminder.step, reminder.step),
                    CHANNEL_LABELS.get(reminder.channel, reminder.channel))


# --- a complete example, for checking templates -------------------------------------------------

SAMPLE_STEP = Step(id="mise_en_demeure", offset=20, channel="recommande", template="mise_en_demeure.txt.j2", tone="formel",
                   label="Mise en demeure", payment_link=True, phone_task=True)


def sample_communication(step: Step = SAMPLE_STEP) -> Communication:
    day = dt.date(2026, 10, 31)
    return Communication(
        customer_id="C0001", as_of=day, timeline="standard", step=step,
        overdue=(
            DueInvoice("F2026-0101", dt.date(2026, 8, 1), dt.date(2026, 8, 31), 1200.0, 1200.0, 61, 24.87, 40.0),
            DueInvoice("F2026-0150", dt.date(2026, 9, 1), dt.date(2026, 10, 1), 830.5, 330.5, 30, 3.37, 40.0),
        ),
        not_yet_due=(DueInvoice("F2026-0201", dt.date(2026, 10, 15), dt.date(2026, 11, 14), 450.0, 450.0, -14),),
        previous=(PreviousReminder(dt.date(2026, 9, 3), "amiable", "email"), PreviousReminder(dt.date(2026, 9, 10), "ferme", "email")),
        penalty_rate=0.124, notice_days=15,
        escalation=EscalationRoute("procedure_simplifiee", "Procédure simplifiée de recouvrement des petites créances", max_amount=5000),
    )


SAMPLE_CUSTOMER = Customer("C0001", "Boulangerie Martin SARL", "Julie", "Martin", "julie.martin@boulangerie-martin.example",
                           "3 place du Marché, 69002 Lyon", "01 99 00 00 01", "410000004", "Clients!F2")
SAMPLE_SENDER = Sender("Atelier Dupont SAS", "14 rue des Tanneurs, 69007 Lyon", "847129053",
                       "FR76 3000 4019 2500 0123 4567 876", "https://paiement.atelier-dupont.example/regler",
                       "Claire Martin", "Responsable recouvrement", "01 99 00 99 00", "recouvrement@atelier-dupont.example")


def sample_context(step: Step = SAMPLE_STEP) -> dict[str, object]:
    return document_context(sample_communication(step), SAMPLE_CUSTOMER, SAMPLE_SENDER, {"amiable": "Relance amiable", "ferme": "Relance ferme"})
