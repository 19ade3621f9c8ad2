"""The template workbook: every table of the contract as an Excel table on its own sheet.

`write_template(path)` writes the empty template (each table with its French headers and one
empty, formatted row: an Excel table needs at least one data row, so readers ignore fully blank
rows); `write_template(path, generate_sample())` writes the demo workbook. The file is written
with XlsxWriter to a temporary file beside the target, then moved into place, and its bytes
depend only on the ledger (fixed document dates), so a committed workbook can be regenerated
and compared byte for byte.

Layout: sheets in the order Factures, Règlements, Clients, Dettes, Activité, Trésorerie, Journal,
Paramètres; each table starts at A1 with its header row, is named after `Table.name`, and has
its header row and first column frozen. The named cells of Paramètres are in column B beside
their label (column A) and form the table `Parametres`; `SoldeBanque` sits beside the Flux
table on Trésorerie (label H1, value I1) so the table still starts at A1.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from encaisse.atomic import atomic_path
from encaisse.authoring.dashboard import SHEET as DASHBOARD_SHEET, write_dashboard
from encaisse.authoring.worklist_sheet import SHEET as WORKLIST_SHEET, write_worklist_sheet
from encaisse.authoring.forecast_sheet import SHEET as FORECAST_SHEET, write_forecast_sheet
from encaisse.errors import EncaisseError
from encaisse.fr import count, date
from encaisse.ledger import Ledger, Params
from encaisse.authoring.sample import generate_sample
from encaisse.tables import (
    ACTIVITY,
    CHANNELS,
    CUSTOMERS,
    DISPUTE_CATEGORIES,
    FLOWS,
    INVOICE_CHANNELS,
    INVOICES,
    JOURNAL,
    NAMED_CELLS,
    PARAMS_SHEET,
    PAYABLE_PRIORITIES,
    PAYABLES,
    PAYMENT_METHODS,
    PAYMENTS,
    TABLES,
    Column,
    NamedCell,
    Table,
)

__all__ = ["Formats", "add_sheet", "empty_ledger", "generate_sample", "make_formats", "summary", "write_template"]

CREATED = dt.datetime(2026, 1, 1)  # fixed document date: identical bytes on every run
EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
MAX_ROWS = 1_048_576  # rows of an Excel sheet, header included
TABLE_STYLE = "Table Style Medium 2"
PARAMS_TABLE = "Parametres"

SEGMENTS = ("TPE", "PME", "Grand compte", "Secteur public")
CURRENCIES = ("EUR", "USD", "GBP", "CHF")
DIRECTIONS = ("encaissement", "décaissement")
FREQUENCIES = ("hebdomadaire", "mensuel", "trimestriel", "annuel")

# (table name, column key) -> allowed values, blocking?  Non-blocking lists warn but accept a
# value pasted from an ERP; the rules (YAML) may define more categories than these.
VALIDATIONS: dict[tuple[str, str], tuple[tuple[str, ...], bool]] = {
    (INVOICES.name, "currency"): (CURRENCIES, False),
    (INVOICES.name, "dispute"): (DISPUTE_CATEGORIES, False),
    (INVOICES.name, "channel"): (INVOICE_CHANNELS, False),
    (PAYMENTS.name, "method"): (PAYMENT_METHODS, False),
    (CUSTOMERS.name, "segment"): (SEGMENTS, False),
    (PAYABLES.name, "priority"): (PAYABLE_PRIORITIES, False),
    (FLOWS.name, "direction"): (DIRECTIONS, True),
    (FLOWS.name, "frequency"): (FREQUENCIES, True),
    (JOURNAL.name, "channel"): (CHANNELS, False),
}

WIDTHS = {  # column key -> width in characters where the kind's default doesn't fit
    "name": 36, "address": 46, "email": 40, "supplier": 34, "label": 36, "document": 38,
    "outcome": 24, "payment_terms": 22, "priority": 20, "channel": 18, "dispute": 18, "category": 16,
    "invoice_id": 16, "payment_id": 16, "bill_id": 16, "payment_plan": 14,
}
KIND_WIDTHS = {"date": 13, "amount": 16, "number": 12, "text": 14}

PARAM_NOTES = {
    "DateArrete": "Date de calcul de tous les indicateurs (jamais AUJOURDHUI(), pour des calculs reproductibles)",
    "RaisonSociale": "Figure sur les lettres et e-mails de relance",
    "SIREN": "9 chiffres",
    "Adresse": "Adresse postale de l'entreprise",
    "IBAN": "Coordonnées bancaires indiquées dans les relances",
    "LienPaiement": "Lien de paiement en ligne proposé dans les e-mails",
    "DossierRegles": "Dossier des règles YAML, relatif au classeur",
    "ExpediteurNom": "Signataire des relances (prénom et nom)",
    "ExpediteurFonction": "Sa fonction, sous la signature",
    "ExpediteurTelephone": "Numéro à rappeler, dans chaque relance",
    "ExpediteurEmail": "Expéditeur des e-mails et adresse de réponse",
    "DossierFactures": "Dossier des factures PDF (<N° facture>.pdf), relatif au classeur ; jointes aux e-mails",
    "SmtpServeur": "Serveur d'envoi des e-mails (encaisse letters --send) ; ou variable ENCAISSE_SMTP_HOST",
    "SmtpPort": "587 (starttls), 465 (ssl) ou 25 ; ou ENCAISSE_SMTP_PORT",
    "SmtpSecurite": "starttls, ssl ou aucune ; ou ENCAISSE_SMTP_SECURITY",
    "SmtpUtilisateur": "Identifiant SMTP ; le mot de passe n'est jamais ici : ENCAISSE_SMTP_PASSWORD ou trousseau système",
}
DEFAULT_PARAMS = Params(rules_dir="rules", smtp_port="587", smtp_security="starttls")


@dataclass(frozen=True)
class Formats:
    """The cell formats of the workbook, shared with the dashboard writer."""

    text: object
    date: object
    month: object
    amount: object
    number: object
    rate: object
    label: object
    note: object
    title: object

    def for_column(self, table: Table, column: Column):
        if table is ACTIVITY and column.key == "month":
            return self.month
        return {"date": self.date, "amount": self.amount, "number": self.number}.get(column.kind, self.text)


def make_formats(workbook: Workbook) -> Formats:
    return Formats(
        text=workbook.add_format({"num_format": "@"}),
        date=workbook.add_format({"num_format": "dd/mm/yyyy"}),
        month=workbook.add_format({"num_format": "mmm yyyy"}),
        amount=workbook.add_format({"num_format": '#,##0.00 "€"'}),
        number=workbook.add_format({"num_format": "0"}),
        rate=workbook.add_format({"num_format": "0.00"}),
        label=workbook.add_format({"bold": True}),
        note=workbook.add_format({"italic": True, "font_color": "#595959"}),
        title=workbook.add_format({"bold": True, "font_size": 14}),
    )


def empty_ledger() -> Ledger:
    """A ledger with every table empty and the template's default parameters."""
    frames = {t.attr: pd.DataFrame({k: pd.Series(dtype=object) for k in t.keys}) for t in TABLES}
    return Ledger(**frames, params=DEFAULT_PARAMS, source="modèle vide")


def write_template(path: str | os.PathLike, ledger: Ledger | None = None) -> Path:
    """Write the workbook (empty template when `ledger` is None) atomically; returns the path."""
    path = Path(path)
    sample = ledger is not None
    ledger = ledger if ledger is not None else empty_ledger()
    for table in TABLES:
        rows = len(getattr(ledger, table.attr))
        if rows >= MAX_ROWS:
            raise EncaisseError(f"{table.sheet} : {count(rows)} lignes, au-delà de la limite d'Excel "
                                f"({count(MAX_ROWS - 1)} lignes de données)")
    with atomic_path(path) as temporary:
        workbook = xlsxwriter.Workbook(
            str(temporary),
            {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
        )
        workbook.set_properties({
            "title": "encaisse — classeur de démonstration" if sample else "encaisse — modèle de classeur",
            "subject": "Poste clients et trésorerie",
            "author": "encaisse",
            "company": ledger.params.company_name or "",
            "created": CREATED,
        })
        formats = make_formats(workbook)
        # The dashboard and the day's dunning actions come first, before the tables their formulas read.
        write_dashboard(workbook, formats, ledger)
        write_worklist_sheet(workbook)
        write_forecast_sheet(workbook, formats)
        sheets = {table.name: _write_table(workbook, formats, table, getattr(ledger, table.attr)) for table in TABLES}
        _write_bank_balance(workbook, sheets[FLOWS.name], formats, ledger.params)
        _write_params(workbook, formats, ledger.params)
        workbook.close()
    return path




def add_sheet(workbook: Workbook, name: str) -> Worksheet:
    """Every sheet is created here, in order: a dashboard added before the tables comes first."""
    return workbook.add_worksheet(name)


def _write_table(workbook: Workbook, formats: Formats, table: Table, frame: pd.DataFrame) -> Worksheet:
    sheet = add_sheet(workbook, table.sheet)
    rows = len(frame)
    columns = []
    for col, column in enumerate(table.columns):
        fmt = formats.for_column(table, column)
        values = frame[column.key] if column.key in frame.columns else pd.Series([None] * rows, dtype=object)
        _write_column(sheet, col, values, column.kind, fmt)
        if rows == 0:
            sheet.write_blank(1, col, None, fmt)
        sheet.set_column(col, col, _width(column), fmt)
        columns.append({"header": column.header, "format": fmt})
    last_row = max(rows, 1)
    sheet.add_table(0, 0, last_row, len(table.columns) - 1,
                    {"name": table.name, "style": TABLE_STYLE, "columns": columns})
    sheet.freeze_panes(1, 1)
    for col, column in enumerate(table.columns):
        if (table.name, column.key) in VALIDATIONS:
            values, strict = VALIDATIONS[(table.name, column.key)]
            _add_list_validation(sheet, col, column.header, values, strict)
    return sheet


def _write_column(sheet: Worksheet, col: int, values: pd.Series, kind: str, fmt) -> None:
    """Write one column from row 2 down, skipping blanks, with the format of its kind."""
    if kind == "date":
        stamps = pd.to_datetime(values, errors="coerce").to_numpy(dtype="datetime64[ns]")
        present = ~np.isnat(stamps)
        cells = ((stamps[present] - EXCEL_EPOCH) / np.timedelta64(1, "D")).tolist()
        write = sheet.write_number
    elif kind in ("amount", "number"):
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        present = ~np.isnan(numbers)
        cells = numbers[present].tolist()
        write = sheet.write_number
    else:
        texts = values.to_numpy(dtype=object, na_value=None)
        present = pd.notna(texts) & (texts != "")
        cells = [str(text) for text in texts[present]]
        write = sheet.write_string
    for row, cell in zip((np.flatnonzero(present) + 1).tolist(), cells):
        write(row, col, cell, fmt)


def _width(column: Column) -> float:
    width = WIDTHS.get(column.key, KIND_WIDTHS[column.kind])
    return max(width, len(column.header) + 5)


def _add_list_validation(sheet: Worksheet, col: int, header: str, values: tuple[str, ...], strict: bool) -> None:
    listed = ", ".join(values)
    sheet.data_validation(1, col, MAX_ROWS - 1, col, {
        "validate": "list",
        "source": list(values),
        "ignore_blank": True,
        "error_type": "stop" if strict else "warning",
        "error_title": f"{header} : valeur non prévue"[:32],
        "error_message": f"Valeurs attendues : {listed}."[:255],
    })


def _cell_name(sheet: str, row: int, col: int) -> str:
    return f"='{sheet}'!${xl_col_to_name(col)}${row + 1}"


def _write_value(sheet: Worksheet, row: int, col: int, value, cell: NamedCell, formats: Formats) -> None:
    fmt = {"date": formats.date, "amount": formats.amount, "number": formats.rate}.get(cell.kind, formats.text)
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        sheet.write_blank(row, col, None, fmt)
    elif cell.kind == "date":
        sheet.write_datetime(row, col, dt.datetime.combine(pd.Timestamp(value).date(), dt.time()), fmt)
    elif cell.kind in ("amount", "number"):
        sheet.write_number(row, col, float(value), fmt)
    else:
        sheet.write_string(row, col, str(value), fmt)


def _write_bank_balance(workbook: Workbook, sheet: Worksheet, formats: Formats, params: Params) -> None:
    cell = next(c for c in NAMED_CELLS if c.name == "SoldeBanque")
    label_col = len(FLOWS.columns) + 1  # one empty column between the Flux table and the balance
    sheet.write_string(0, label_col, cell.label, formats.label)
    _write_value(sheet, 0, label_col + 1, params.bank_balance, cell, formats)
    sheet.write_string(1, label_col, "Solde d'ouverture à la date d'arrêté (Paramètres)", formats.note)
    sheet.set_column(label_col, label_col, 22)
    sheet.set_column(label_col + 1, label_col + 1, 18)
    workbook.define_name(cell.name, _cell_name(cell.sheet, 0, label_col + 1))


def _write_params(workbook: Workbook, formats: Formats, params: Params) -> None:
    sheet = add_sheet(workbook, PARAMS_SHEET)
    cells = [c for c in NAMED_CELLS if c.sheet == PARAMS_SHEET]
    for i, cell in enumerate(cells, start=1):
        sheet.write_string(i, 0, cell.label, formats.label)
        _write_value(sheet, i, 1, getattr(params, cell.key), cell, formats)
        sheet.write_string(i, 2, PARAM_NOTES.get(cell.name, ""), formats.note)
        workbook.define_name(cell.name, _cell_name(PARAMS_SHEET, i, 1))
        if cell.kind == "date":
            sheet.data_validation(i, 1, i, 1, {
                "validate": "date", "criteria": "between",
                "minimum": dt.date(2000, 1, 1), "maximum": dt.date(2099, 12, 31),
                "error_title": "Date d'arrêté", "error_message": "Saisissez une date (jj/mm/aaaa).",
            })
        elif cell.kind == "number":
            sheet.data_validation(i, 1, i, 1, {
                "validate": "decimal", "criteria": "between", "minimum": -5, "maximum": 50,
                "error_title": "Taux en %", "error_message": "Saisissez un taux en %, par exemple 2,15.",
            })
    sheet.add_table(0, 0, len(cells), 2, {
        "name": PARAMS_TABLE, "style": "Table Style Light 9",
        "columns": [{"header": "Paramètre"}, {"header": "Valeur"}, {"header": "Remarque"}],
    })
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 1, 48)
    sheet.set_column(2, 2, 80)
    sheet.freeze_panes(1, 0)


def summary(path: Path, ledger: Ledger | None) -> str:
    """What was written, in French, for the command line."""
    names = [DASHBOARD_SHEET, WORKLIST_SHEET, FORECAST_SHEET] + [t.sheet for t in TABLES] + [PARAMS_SHEET]
    if ledger is None:
        return (f"Modèle vide écrit : {path}\n"
                f"  {len(names)} feuilles : {', '.join(names)}\n"
                f"  chaque table a ses en-têtes et une ligne vide ; renseignez la date d'arrêté dans Paramètres")
    invoices = ledger.invoices
    as_of = pd.Timestamp(ledger.params.as_of) if ledger.params.as_of else None
    credit_notes = int((invoices["amount"] < 0).sum())
    later = int((invoices["issue_date"] > as_of).sum()) if as_of is not None else 0
    as_of_text = date(as_of) if as_of is not None else "non renseignée"
    return (f"Classeur de démonstration écrit : {path}\n"
            f"  {ledger.params.company_name}, date d'arrêté {as_of_text} ({ledger.source})\n"
            f"  {count(len(invoices) - credit_notes - later)} factures, {count(credit_notes)} avoirs et "
            f"{count(later)} factures émises après l'arrêté, "
            f"{count(len(ledger.customers))} clients, {count(len(ledger.payments))} lignes de règlement, "
            f"{count(len(ledger.payables))} dettes, {count(len(ledger.activity))} mois d'activité, "
            f"{count(len(ledger.flows))} flux récurrents, {count(len(ledger.journal))} relances au journal")
