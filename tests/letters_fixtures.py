"""A small workbook (three customers, their invoices, a Journal) and the Communications dunning
would hand over for it, for the letters, journal and SMTP tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pandas as pd

from encaisse.authoring.template import empty_ledger, write_template
from encaisse.dunning.records import Communication, DueInvoice, PreviousReminder
from encaisse.ledger import Params
from encaisse.resources import DEFAULT_RULES_DIR
from encaisse.rules import EscalationRoute, load

AS_OF = dt.date(2026, 10, 31)
RULES = load(DEFAULT_RULES_DIR)
STEPS = {s.id: s for s in RULES.dunning.timelines["standard"].steps}

PARAMS = Params(
    as_of=AS_OF, company_name="Atelier Dupont SAS", siren="847129053", company_address="14 rue des Tanneurs, 69007 Lyon",
    iban="FR76 3000 4019 2500 0123 4567 876", payment_link="https://paiement.atelier-dupont.example/regler",
    rules_dir=str(DEFAULT_RULES_DIR), sender_name="Claire Martin", sender_role="Responsable recouvrement",
    sender_phone="01 99 00 99 00", sender_email="recouvrement@atelier-dupont.example",
    smtp_host="127.0.0.1", smtp_port="25", smtp_security="aucune",
)

CUSTOMERS = [
    # code, name, first, last, email, address, siren
    ("C1", "Boulangerie Martin SARL", "Julie", "Martin", "julie@boulangerie-martin.example", "3 place du Marché, 69002 Lyon", "410000004"),
    ("C2", "Garage Petit SAS", "Paul", "Petit", "paul@garage-petit.example", "8 rue Neuve, 38000 Grenoble", "410079198"),
    ("C3", "Menuiserie Roux", "Anne", "Roux", "anne@menuiserie-roux.example", "1 quai Est, 42000 Saint-Étienne", ""),
]


def write_book(path: Path, customers=CUSTOMERS, params: Params = PARAMS, journal: pd.DataFrame | None = None) -> Path:
    ledger = empty_ledger()
    clients = pd.DataFrame(
        [{"customer_id": c[0], "name": c[1], "segment": "PME", "contact_first_name": c[2], "contact_last_name": c[3],
          "email": c[4], "address": c[5], "siren": c[6] or None} for c in customers])
    invoices = pd.DataFrame([
        {"invoice_id": f"F-{c[0]}-{k}", "customer_id": c[0], "issue_date": pd.Timestamp("2026-08-01") + pd.Timedelta(days=k),
         "due_date": pd.Timestamp("2026-08-31") + pd.Timedelta(days=k), "amount": 1000.0 + k}
        for c in customers for k in (1, 2)])
    frames = {**ledger.__dict__, "customers": clients, "invoices": invoices, "params": params}
    if journal is not None:
        frames["journal"] = journal
    write_template(path, type(ledger)(**frames))
    return path


def invoice(invoice_id: str, amount: float, open_amount: float, due: dt.date, penalty: float = 0.0, indemnity: float = 40.0) -> DueInvoice:
    return DueInvoice(invoice_id, due - dt.timedelta(days=30), due, amount, open_amount, (AS_OF - due).days, penalty, indemnity)


def communication(customer_id: str, step: str, *invoices: DueInvoice, previous=(), **changes) -> Communication:
    invoices = invoices or (invoice(f"F-{customer_id}-1", 1001.0, 1001.0, dt.date(2026, 9, 1), 20.0),)
    base = Communication(
        customer_id=customer_id, as_of=AS_OF, timeline="standard", step=STEPS[step], overdue=tuple(invoices),
        previous=tuple(previous), penalty_rate=0.124, notice_days=15 if step == "mise_en_demeure" else None,
        escalation=EscalationRoute("procedure_simplifiee", "Procédure simplifiée de recouvrement des petites créances",
                                   max_amount=5000) if step == "mise_en_demeure" else None)
    return dataclasses.replace(base, **changes)


PREVIOUS = (PreviousReminder(dt.date(2026, 9, 4), "amiable", "email"), PreviousReminder(dt.date(2026, 9, 11), "ferme", "email"))
