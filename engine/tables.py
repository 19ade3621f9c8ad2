"""The workbook's tables: sheet and table names, canonical column keys, French headers, aliases.

This is the single description of CONTRACT.md's "Workbook tables" that the loader, the
template writer and the recalculation all read. Headers are matched after `normalize_header`
(no accents, no case, no spaces or punctuation), so "N° facture", "n°facture" and
"NFACTURE" are the same header.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "date", "amount", "number"]


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: Kind
    required: bool = True
    aliases: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """Every accepted header: French header, canonical key, aliases."""
        return (self.header, self.key, *self.aliases)


@dataclass(frozen=True)
class Table:
    name: str  # the Excel table (ListObject) name: sheet name without accents or spaces
    sheet: str
    attr: str  # attribute of Ledger
    columns: tuple[Column, ...]
    required: bool = False

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)


@dataclass(frozen=True)
class NamedCell:
    name: str  # Excel defined name
    key: str  # attribute of Params
    label: str  # French label shown beside the cell
    kind: Kind
    sheet: str = "Paramètres"


INVOICES = Table(
    "Factures", "Factures", "invoices",
    (
        Column("invoice_id", "N° facture", "text", aliases=("numero facture", "no facture", "num facture", "facture", "invoice number", "invoice", "invoicenumber")),
        Column("customer_id", "Code client", "text", aliases=("client", "code tiers", "compte client", "customer", "customerid")),
        Column("issue_date", "Date facture", "date", aliases=("date", "date de facture", "date emission", "invoice date", "invoicedate")),
        Column("due_date", "Échéance", "date", aliases=("date echeance", "date d'echeance", "echeance", "due date", "duedate")),
        Column("amount", "Montant TTC", "amount", aliases=("montant", "ttc", "total ttc", "amount ttc", "invoice amount", "invoiceamount")),
        Column("amount_excl_tax", "Montant HT", "amount", required=False, aliases=("ht", "total ht")),
        Column("currency", "Devise", "text", required=False, aliases=("monnaie",)),
        Column("dispute", "Litige", "text", required=False, aliases=("motif litige", "disputed")),
        Column("dispute_date", "Date litige", "date", required=False),
        Column("payment_plan", "Échéancier", "text", required=False, aliases=("plan de paiement", "echeancier")),
        Column("channel", "Envoi", "text", required=False, aliases=("canal d'envoi", "mode d'envoi", "envoi facture", "paperlessbill")),
    ),
    required=True,
)

PAYMENTS = Table(
    "Reglements", "Règlements", "payments",
    (
        Column("payment_id", "N° règlement", "text", required=False, aliases=("numero reglement", "no reglement", "reglement")),
        Column("payment_date", "Date", "date", aliases=("date reglement", "date de reglement", "date paiement", "date encaissement", "settled date", "settleddate")),
        Column("customer_id", "Code client", "text", aliases=("client", "code tiers", "compte client", "customer", "customerid")),
        Column("invoice_id", "N° facture", "text", required=False, aliases=("numero facture", "no facture", "facture", "invoice", "invoicenumber")),
        Column("amount", "Montant", "amount", aliases=("montant regle", "montant encaisse", "montant ttc")),
        Column("method", "Mode", "text", required=False, aliases=("mode de reglement", "moyen de paiement")),
    ),
)

CUSTOMERS = Table(
    "Clients", "Clients", "customers",
    (
        Column("customer_id", "Code client", "text", aliases=("code", "client", "code tiers", "compte client", "customer")),
        Column("name", "Raison sociale", "text", aliases=("nom client", "societe", "company")),
        Column("segment", "Segment", "text", required=False),
        Column("contact_first_name", "Prénom", "text", required=False, aliases=("prenom contact", "first name")),
        Column("contact_last_name", "Nom", "text", required=False, aliases=("nom contact", "last name")),
        Column("email", "E-mail", "text", required=False, aliases=("mail", "courriel", "adresse e-mail")),
        Column("address", "Adresse", "text", required=False, aliases=("adresse postale",)),
        Column("phone", "Téléphone", "text", required=False, aliases=("tel", "telephone contact", "phone")),
        Column("siren", "SIREN", "text", required=False, aliases=("numero siren", "siret", "registration number")),
        Column("credit_limit", "Encours max", "amount", required=False, aliases=("encours maximum", "plafond", "limite de credit", "plafond d'encours")),
        Column("external_rating", "Note externe", "number", required=False, aliases=("notation", "note")),
        Column("payment_terms", "Conditions de paiement", "text", required=False, aliases=("conditions particulieres", "conditions de paiement particulieres", "terms")),
    ),
    required=True,
)

PAYABLES = Table(
    "Dettes", "Dettes", "payables",
    (
        Column("bill_id", "N° pièce", "text", aliases=("numero piece", "no piece", "piece", "n° facture fournisseur")),
        Column("supplier", "Fournisseur", "text", aliases=("tiers",)),
        Column("issue_date", "Date", "date", aliases=("date piece", "date facture")),
        Column("due_date", "Échéance", "date", aliases=("date echeance", "date d'echeance")),
        Column("amount", "Montant TTC", "amount", aliases=("montant", "ttc")),
        Column("priority", "Priorité", "text", required=False, aliases=("categorie de priorite", "categorie")),
        Column("paid_date", "Payé le", "date", required=False, aliases=("date paiement", "paye", "date de paiement")),
    ),
)

ACTIVITY = Table(
    "Activite", "Activité", "activity",
    (
        Column("month", "Mois", "date"),
        Column("sales", "CA TTC", "amount", aliases=("chiffre d'affaires ttc", "chiffre d'affaires", "ca")),
        Column("purchases", "Achats TTC", "amount", aliases=("achats",)),
        Column("cogs", "Coût des ventes", "amount", aliases=("cout des marchandises vendues", "cmv")),
        Column("inventory", "Stock fin de mois", "amount", aliases=("stock", "valeur du stock")),
        Column("opex", "OPEX", "amount", required=False, aliases=("charges", "charges d'exploitation")),
    ),
)

FLOWS = Table(
    "Flux", "Trésorerie", "flows",
    (
        Column("label", "Libellé", "text"),
        Column("category", "Catégorie", "text", required=False),
        Column("amount", "Montant", "amount"),
        Column("direction", "Sens", "text"),
        Column("frequency", "Fréquence", "text"),
        Column("next_date", "Prochaine date", "date"),
    ),
)

JOURNAL = Table(
    "Journal", "Journal", "journal",
    (
        Column("date", "Date", "date"),
        Column("invoice_id", "N° facture", "text", aliases=("numero facture", "facture")),
        Column("customer_id", "Code client", "text", required=False, aliases=("client",)),
        Column("step", "Étape", "text", aliases=("etape de relance",)),
        Column("channel", "Canal", "text", required=False),
        Column("document", "Document", "text", required=False),
        Column("outcome", "Issue", "text", required=False, aliases=("resultat",)),
    ),
)

# Derived column of the canonical Journal frame: the date of a promise to pay (outcome « promesse
# 15/12/2026 »), NaT on every other row. The loader reads it from Issue (an unreadable date is a
# problem naming the cell); dunning treats a frame without it as holding no promise.
PROMISE_DATE = "promise_date"
PROMISE_WORD = "promesse"

# DataFrame.attrs key of a table read from a sheet: {"sheet": name, "columns": {key: column letter}},
# so that a check made later (the currency, by the ledger) can name cells rather than rows.
CELLS = "encaisse.cells"

TABLES: tuple[Table, ...] = (INVOICES, PAYMENTS, CUSTOMERS, PAYABLES, ACTIVITY, FLOWS, JOURNAL)

NAMED_CELLS: tuple[NamedCell, ...] = (
    NamedCell("DateArrete", "as_of", "Date d'arrêté", "date"),
    NamedCell("RaisonSociale", "company_name", "Raison sociale", "text"),
    NamedCell("SIREN", "siren", "SIREN", "text"),
    NamedCell("Adresse", "company_address", "Adresse", "text"),
    NamedCell("IBAN", "iban", "IBAN", "text"),
    NamedCell("LienPaiement", "payment_link", "Lien de paiement", "text"),
    NamedCell("DossierRegles", "rules_dir", "Dossier des règles", "text"),
    # The sender of reminders (letters, e-mails, call sheets) and how e-mails leave (encaisse letters).
    NamedCell("ExpediteurNom", "sender_name", "Relances : expéditeur", "text"),
    NamedCell("ExpediteurFonction", "sender_role", "Relances : fonction", "text"),
    NamedCell("ExpediteurTelephone", "sender_phone", "Relances : téléphone", "text"),
    NamedCell("ExpediteurEmail", "sender_email", "Relances : e-mail", "text"),
    NamedCell("DossierFactures", "invoices_dir", "Dossier des factures PDF", "text"),
    NamedCell("SmtpServeur", "smtp_host", "SMTP : serveur", "text"),
    NamedCell("SmtpPort", "smtp_port", "SMTP : port", "text"),
    NamedCell("SmtpSecurite", "smtp_security", "SMTP : sécurité", "text"),
    NamedCell("SmtpUtilisateur", "smtp_user", "SMTP : utilisateur", "text"),
    NamedCell("SoldeBanque", "bank_balance", "Solde bancaire", "amount", sheet="Trésorerie"),
)

PARAMS_SHEET = "Paramètres"

DISPUTE_CATEGORIES = ("prix", "qualité", "administratif", "date", "manquant", "double facturation")
PAYABLE_PRIORITIES = ("fiscal", "social", "salaires", "fournisseur critique", "autre")
PAYMENT_METHODS = ("virement", "CB", "SEPA", "chèque")
# The dunning channels: relances.yaml's `canal` and the Journal's Canal hold these ids (the
# schema's enum repeats them for editors, a test keeps it equal); people read the rules' labels.
CHANNELS = ("email", "telephone", "courrier", "recommande")
INVOICE_CHANNELS = ("papier", "électronique")  # how an invoice was sent (e-invoicing becomes the rule in France from 2026)

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalize_header(text: object) -> str:
    """'N° Échéance ' -> 'nécheance' without accents, case, spaces or punctuation: 'necheance'."""
    if text is None:
        return ""
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return _NON_ALNUM.sub("", plain)
