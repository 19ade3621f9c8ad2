"""encaisse.load_workbook on small workbooks written with xlsxwriter, the IBM data set and the shipped workbooks."""

from __future__ import annotations

import csv
import datetime as dt
import math
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import xlsxwriter

import encaisse
from encaisse import InputError, load_workbook
from encaisse.tables import JOURNAL, TABLES

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "xlsx" / "encaisse-demo.xlsx"
MODELE = REPO / "xlsx" / "encaisse-modele.xlsx"
NBSP, NNBSP = "\u00a0", "\u202f"


class Serial(float):
    """A number written without a date format: the cell holds the Excel serial."""


def write_book(path: Path, sheets: list[dict], names: dict[str, str] | None = None) -> Path:
    """sheets: {name, headers, rows, table (Excel table name or None), at (row, col), above (title rows), cells}."""
    book = xlsxwriter.Workbook(str(path))
    date_format = book.add_format({"num_format": "dd/mm/yyyy"})

    def put(sheet, r, c, value):
        if value is None:
            return
        if isinstance(value, Serial):
            sheet.write_number(r, c, float(value))
        elif isinstance(value, (dt.datetime, dt.date)):
            sheet.write_datetime(r, c, value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time()), date_format)
        elif isinstance(value, (int, float)):
            sheet.write_number(r, c, value)
        else:
            sheet.write_string(r, c, value)

    for spec in sheets:
        sheet = book.add_worksheet(spec["name"])
        top, left = spec.get("at", (0, 0))
        for r, c, value in spec.get("cells", ()):
            put(sheet, r, c, value)
        for i, title in enumerate(spec.get("above", ())):
            sheet.write_string(top - len(spec["above"]) + i, left, title)
        headers, rows = spec.get("headers"), spec.get("rows", [])
        if headers is None:
            continue
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                put(sheet, top + 1 + i, left + j, value)
        if spec.get("table"):
            sheet.add_table(top, left, top + max(len(rows), 1), left + len(headers) - 1, {
                "name": spec["table"], "columns": [{"header": h} for h in headers],
            })
        else:
            for j, header in enumerate(headers):
                sheet.write_string(top, left + j, header)
    for name, ref in (names or {}).items():
        book.define_name(name, ref)
    book.close()
    return path


def days(series: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) else v.strftime("%Y-%m-%d") for v in series]


def texts(series: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) else v for v in series]


CLIENTS = {"name": "Clients", "table": "Clients", "headers": ["Code client", "Raison sociale"], "rows": [["C1", "Alpha"], ["C2", "Beta"]]}


# ------------------------------------------------------------------ good workbooks


def test_french_tables_with_every_date_and_amount_form(tmp_path):
    path = write_book(tmp_path / "fr.xlsx", [
        {"name": "Factures", "table": "Factures", "at": (2, 1), "above": ["Factures clients"],
         "headers": ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC", "Devise", "Litige", "Date litige"],
         "rows": [
             ["F001", "C1", dt.date(2026, 1, 5), dt.date(2026, 2, 4), 1200.0, "EUR", None, None],
             [1002, "C2", Serial(46027), "2026-02-04", "1 234,56 €", None, "prix", "10/02/2026"],
             ["F003", " C1 ", "05/01/2026", "04-02-2026", "-50,5", "EUR", None, None],
             ["0004", "C2", "05.01.2026", "04/02/26", f"2{NBSP}000,00{NBSP}€", None, None, None],
             ["F005", "C1", dt.datetime(2026, 1, 5, 17, 30), dt.date(2026, 2, 4), f"1{NNBSP}000,10{NNBSP}€", None, None, None],
         ]},
        {"name": "Règlements", "table": "Reglements",
         "headers": ["Date", "Code client", "N° facture", "Montant", "Mode"],
         "rows": [[dt.date(2026, 2, 4), "C1", "F001", 1200, "virement"], ["2026-02-10", "C2", None, "99,90", "CB"]]},
        {**CLIENTS, "headers": ["Code client", "Raison sociale", "Segment", "E-mail", "Encours max"],
         "rows": [["C1", "Alpha SARL", "PME", "compta@alpha.fr", 10000], ["C2", "Beta SA", None, None, "5 000 €"]]},
    ])
    ledger = load_workbook(path)
    inv = ledger.invoices
    assert texts(inv["invoice_id"]) == ["F001", "1002", "F003", "0004", "F005"]
    assert texts(inv["customer_id"]) == ["C1", "C2", "C1", "C2", "C1"]
    assert days(inv["issue_date"]) == ["2026-01-05"] * 5
    assert days(inv["due_date"]) == ["2026-02-04"] * 5
    assert inv["amount"].tolist() == [1200.0, 1234.56, -50.5, 2000.0, 1000.10]
    assert texts(inv["currency"]) == ["EUR", None, "EUR", None, None]
    assert texts(inv["dispute"]) == [None, "prix", None, None, None]
    assert days(inv["dispute_date"]) == [None, "2026-02-10", None, None, None]
    assert inv["row"].tolist() == [4, 5, 6, 7, 8]  # table header on row 3
    pay = ledger.payments
    assert days(pay["payment_date"]) == ["2026-02-04", "2026-02-10"]
    assert texts(pay["invoice_id"]) == ["F001", None]
    assert pay["amount"].tolist() == [1200.0, 99.9]
    assert texts(pay["method"]) == ["virement", "CB"]
    cust = ledger.customers
    assert texts(cust["name"]) == ["Alpha SARL", "Beta SA"]
    assert texts(cust["segment"]) == ["PME", None]
    assert cust["credit_limit"].tolist() == [10000.0, 5000.0]
    assert list(inv.columns) == [*TABLES[0].keys, "row"]
    assert ledger.source == str(path)


def test_english_canonical_headers_on_plain_sheets_without_tables(tmp_path):
    path = write_book(tmp_path / "en.xlsx", [
        {"name": "Factures", "at": (3, 0), "above": ["Export ERP", "", "au 31/01/2026"],
         "headers": ["invoice_id", "customer_id", "issue_date", "due_date", "amount", "remarks"],
         "rows": [["A-1", "K1", "2026-01-02", "2026-03-03", 10.5, "x"], [None] * 6, ["A-2", "K1", "2026-01-03", "2026-03-04", 20, None]]},
        {"name": "Reglements", "headers": ["payment_date", "customer_id", "invoice_id", "amount"],
         "rows": [["2026-03-03", "K1", "A-1", 10.5]]},
        {"name": "clients", "at": (0, 2), "headers": ["customer_id", "name"], "rows": [["K1", "Kappa"]]},
    ])
    ledger = load_workbook(path)
    assert texts(ledger.invoices["invoice_id"]) == ["A-1", "A-2"]
    assert ledger.invoices["row"].tolist() == [5, 7]
    assert days(ledger.invoices["due_date"]) == ["2026-03-03", "2026-03-04"]
    assert ledger.invoices["amount"].tolist() == [10.5, 20.0]
    assert texts(ledger.payments["invoice_id"]) == ["A-1"]
    assert texts(ledger.customers["name"]) == ["Kappa"] and ledger.customers["row"].tolist() == [2]


def test_erp_aliases_odd_spacing_accents_and_case(tmp_path):
    path = write_book(tmp_path / "erp.xlsx", [
        {"name": "Factures", "table": "Factures",
         "headers": ["  numéro  FACTURE", "CLIENT", "date", "Date d'Échéance", "montant", "Total HT", "Motif litige"],
         "rows": [["FA-9", "c-7", "15/03/2026", "30/04/2026", "1 200,00", "1 000,00", "qualité"]]},
        {"name": "Règlements", "table": "Reglements",
         "headers": ["Date règlement", "client", "Facture", "Montant encaissé", "Moyen de paiement"],
         "rows": [["30/04/2026", "c-7", "FA-9", "1 200,00", "SEPA"]]},
        {"name": "Clients", "table": "Clients",
         "headers": ["CODE", "Société", "Plafond d'encours", "notation"],
         "rows": [["c-7", "Sept & Cie", "20 000", 7]]},
    ])
    ledger = load_workbook(path)
    inv = ledger.invoices
    assert texts(inv["invoice_id"]) == ["FA-9"] and texts(inv["customer_id"]) == ["c-7"]
    assert days(inv["issue_date"]) == ["2026-03-15"] and days(inv["due_date"]) == ["2026-04-30"]
    assert inv["amount"].tolist() == [1200.0] and inv["amount_excl_tax"].tolist() == [1000.0]
    assert texts(inv["dispute"]) == ["qualité"]
    assert texts(ledger.payments["method"]) == ["SEPA"] and ledger.payments["amount"].tolist() == [1200.0]
    assert ledger.customers["credit_limit"].tolist() == [20000.0] and ledger.customers["external_rating"].tolist() == [7.0]
    assert texts(ledger.customers["name"]) == ["Sept & Cie"]


def test_named_cells_are_read_into_params(tmp_path):
    path = write_book(tmp_path / "params.xlsx", [
        {"name": "Factures", "table": "Factures", "headers": ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC"],
         "rows": [["F1", "C1", dt.date(2026, 10, 1), dt.date(2026, 10, 31), 100]]},
        CLIENTS,
        {"name": "Trésorerie", "table": "Flux", "at": (3, 0),
         "headers": ["Libellé", "Catégorie", "Montant", "Sens", "Fréquence", "Prochaine date"],
         "rows": [["Loyer", "loyer", 2500, "décaissement", "mensuelle", dt.date(2026, 11, 5)]],
         "cells": [(0, 0, "Solde bancaire"), (0, 1, "12 345,67 €")]},
        {"name": "Paramètres", "cells": [
            (0, 0, "Date d'arrêté"), (0, 1, dt.date(2026, 10, 31)),
            (1, 0, "Raison sociale"), (1, 1, "  Encaisse Démo SAS "),
            (2, 0, "SIREN"), (2, 1, 123456789),
            (3, 0, "IBAN"), (3, 1, "FR76 3000 6000 0112 3456 7890 189"),
            (4, 0, "Taux BCE"), (4, 1, 2.15),
            (5, 0, "Adresse"), (5, 1, "1 rue de la Paix, 75002 Paris"),
        ]},
    ], names={
        "DateArrete": "='Paramètres'!$B$1", "RaisonSociale": "=Paramètres!$B$2", "SIREN": "='Paramètres'!$B$3",
        "IBAN": "='Paramètres'!$B$4", "TauxBCE": "='Paramètres'!$B$5", "Adresse": "='Paramètres'!$B$6",
        "LienPaiement": "='Paramètres'!$B$7", "SoldeBanque": "='Trésorerie'!$B$1",
    })
    ledger = load_workbook(path)
    params = ledger.params
    assert params.as_of == dt.date(2026, 10, 31)
    assert params.company_name == "Encaisse Démo SAS"
    assert params.siren == "123456789"
    assert params.iban == "FR76 3000 6000 0112 3456 7890 189"
    assert not hasattr(params, "ecb_rate")  # an old TauxBCE cell is ignored: rules/legal.yaml holds the rates
    assert params.company_address == "1 rue de la Paix, 75002 Paris"
    assert params.payment_link is None  # the name points to an empty cell
    assert params.rules_dir is None  # no such name
    assert params.bank_balance == 12345.67
    flows = ledger.flows
    assert texts(flows["label"]) == ["Loyer"] and flows["amount"].tolist() == [2500.0] and flows["row"].tolist() == [5]
    assert days(flows["next_date"]) == ["2026-11-05"]


def test_absent_and_empty_optional_tables_are_empty_canonical_frames(tmp_path):
    path = write_book(tmp_path / "min.xlsx", [
        {"name": "Factures", "table": "Factures", "headers": ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC"],
         "rows": [["F1", "C1", dt.date(2026, 10, 1), dt.date(2026, 10, 31), 100]]},
        CLIENTS,
        {"name": "Dettes", "table": "Dettes", "headers": ["N° pièce", "Fournisseur", "Date", "Échéance", "Montant TTC", "Priorité", "Payé le"], "rows": []},
        {"name": "Journal"},  # an empty sheet
    ])
    ledger = load_workbook(path)
    for table in TABLES[3:]:
        frame = getattr(ledger, table.attr)
        assert len(frame) == 0, table.name
        derived = ["promise_date"] if table is JOURNAL else []  # the Journal's promised dates, read from Issue
        assert list(frame.columns) == [*table.keys, "row", *derived]
    assert str(ledger.payables["due_date"].dtype) == "datetime64[ns]"
    assert str(ledger.activity["sales"].dtype) == "float64"
    assert len(ledger.payments) == 0 and list(ledger.payments.columns) == [*TABLES[1].keys, "row"]
    assert ledger.params == encaisse.ledger.Params()


def test_xlsm_is_accepted(tmp_path):
    path = write_book(tmp_path / "book.xlsx", [
        {"name": "Factures", "table": "Factures", "headers": ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC"],
         "rows": [["F1", "C1", dt.date(2026, 10, 1), dt.date(2026, 10, 31), 100]]},
        CLIENTS,
    ])
    macro = shutil.copy(path, tmp_path / "book.xlsm")
    assert texts(load_workbook(macro).invoices["invoice_id"]) == ["F1"]


# ------------------------------------------------------------------ bad workbooks


def bad_book(tmp_path):
    """Every kind of bad cell, in Factures, Règlements, Clients, Dettes and Paramètres."""
    return write_book(tmp_path / "bad.xlsx", [
        {"name": "Factures", "table": "Factures", "headers": ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC"],
         "rows": [
             ["F1", "C1", dt.date(2026, 1, 5), dt.date(2026, 2, 4), 100],  # row 2: fine
             ["F2", "C1", "31/02/2026", dt.date(2026, 2, 4), "abc"],  # row 3
             ["F3", "C9", dt.date(2026, 1, 10), None, 50],  # row 4
             ["F1", "C2", dt.date(2026, 1, 10), dt.date(2026, 1, 9), 20],  # row 5
             ["F5", "C2", None, dt.date(2026, 3, 1), None],  # row 6
         ]},
        {"name": "Règlements", "table": "Reglements", "headers": ["Date", "Code client", "N° facture", "Montant"],
         "rows": [
             [dt.date(2026, 2, 1), "C1", "F1", 100],  # row 2: fine
             [dt.date(2026, 2, 2), "C1", "F99", 10],  # row 3
             [dt.date(2026, 2, 3), "C8", "F1", 10],  # row 4
             [dt.date(2026, 2, 4), "C2", "F3", 10],  # row 5
             ["hier", "C1", None, "dix"],  # row 6
         ]},
        {"name": "Clients", "table": "Clients", "headers": ["Code client", "Raison sociale"],
         "rows": [["C1", "Alpha"], ["C2", "Beta"], ["C1", "Gamma"], ["C3", None]]},
        {"name": "Dettes", "table": "Dettes", "headers": ["N° pièce", "Fournisseur", "Date", "Montant TTC"],
         "rows": [["P1", "EDF", dt.date(2026, 1, 1), 80]]},
        {"name": "Paramètres", "cells": [(0, 0, "Date d'arrêté"), (0, 1, "demain")]},
    ], names={"DateArrete": "='Paramètres'!$B$1"})


BAD_BOOK_PROBLEMS = [
    "Factures!C3 : date « 31/02/2026 » illisible (attendu : une date jj/mm/aaaa)",
    "Factures!E3 : montant « abc » n'est pas un nombre",
    "Factures!B4 : client « C9 » inconnu (absent de Clients)",
    "Factures!D4 : échéance manquante",
    "Factures!A5 : N° facture « F1 » en double (déjà en Factures!A2)",
    "Factures!D5 : échéance 09/01/2026 antérieure à la date facture 10/01/2026",
    "Factures!C6 : date facture manquante",
    "Factures!E6 : montant TTC manquant",
    "Règlements!C3 : facture « F99 » inconnue (absente de Factures)",
    "Règlements!B4 : client « C8 » inconnu (absent de Clients)",
    "Règlements!B4 : client « C8 » différent de celui de la facture « F1 » (C1, Factures!B2)",
    "Règlements!B5 : client « C2 » différent de celui de la facture « F3 » (C9, Factures!B4)",
    "Règlements!A6 : date « hier » illisible (attendu : une date jj/mm/aaaa)",
    "Règlements!D6 : montant « dix » n'est pas un nombre",
    "Clients!A4 : code client « C1 » en double (déjà en Clients!A2)",
    "Clients!B5 : raison sociale manquante",
    "Dettes : colonne obligatoire « Échéance » absente (en-têtes lus : N° pièce, Fournisseur, Date, Montant TTC)",
    "Paramètres!B1 : date « demain » illisible (attendu : une date jj/mm/aaaa)",
]


def test_every_kind_of_bad_cell_is_reported_together_in_sheet_then_row_order(tmp_path):
    with pytest.raises(InputError) as caught:
        load_workbook(bad_book(tmp_path))
    assert [str(p) for p in caught.value.problems] == BAD_BOOK_PROBLEMS
    message = str(caught.value)
    assert message.startswith("Le classeur bad.xlsx contient des erreurs (18 problèmes) :\n  - Factures!C3 : date")


def test_demo_on_a_bad_workbook_exits_1_listing_every_problem_and_writes_nothing(tmp_path, capsys):
    from encaisse.cli import main

    out = tmp_path / "sorties"
    assert main(["demo", "--book", str(bad_book(tmp_path)), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "".join([
        "Le classeur bad.xlsx contient des erreurs (18 problèmes) :\n",
        *(f"  - {problem}\n" for problem in BAD_BOOK_PROBLEMS),
    ])
    assert not out.exists()


def test_missing_required_tables(tmp_path):
    path = write_book(tmp_path / "vide.xlsx", [{"name": "Paramètres", "cells": [(0, 0, "rien")]}])
    with pytest.raises(InputError) as caught:
        load_workbook(path)
    assert [str(p) for p in caught.value.problems] == [
        "Factures : table « Factures » introuvable (ni table Excel de ce nom, ni feuille « Factures » remplie)",
        "Clients : table « Clients » introuvable (ni table Excel de ce nom, ni feuille « Clients » remplie)",
    ]


def test_missing_and_unreadable_files_name_the_file(tmp_path):
    with pytest.raises(InputError) as caught:
        load_workbook(tmp_path / "absent.xlsx")
    assert [str(p) for p in caught.value.problems] == [f"{tmp_path / 'absent.xlsx'} : fichier introuvable"]
    broken = tmp_path / "abime.xlsx"
    broken.write_bytes(b"ceci n'est pas un classeur")
    with pytest.raises(InputError) as caught:
        load_workbook(broken)
    assert str(caught.value) == f"Lecture impossible (1 problème) :\n  - {broken} : fichier illisible : ce n'est pas un classeur Excel .xlsx/.xlsm"
    document = tmp_path / "lettre.xlsx"  # a zip, but a Word document: the reader's English message stays out
    with zipfile.ZipFile(document, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    with pytest.raises(InputError) as caught:
        load_workbook(document)
    assert [str(p) for p in caught.value.problems] == [
        f"{document} : partie xl/workbook.xml absente : ce n'est pas un classeur Excel"]
    assert issubclass(InputError, encaisse.EncaisseError)


# ------------------------------------------------------------------ real data: IBM late payments


@pytest.fixture(scope="module")
def ibm_csv_rows():
    import ibm

    assert ibm.IBM_CSV.exists(), f"données IBM introuvables : {ibm.IBM_CSV} (../shared doit être à côté du dépôt)"
    with ibm.IBM_CSV.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_ibm_workbook_loads_every_invoice(tmp_path, ibm_csv_rows):
    import ibm

    ledger = load_workbook(ibm.write_ibm_workbook(tmp_path / "ibm.xlsx"))
    assert len(ledger.invoices) == 2466 == len(ibm_csv_rows)
    assert len(ledger.payments) == 2466
    assert len(ledger.customers) == 100
    expected_sum = math.fsum(float(r["InvoiceAmount"]) for r in ibm_csv_rows)
    assert math.fsum(ledger.invoices["amount"]) == pytest.approx(expected_sum, abs=1e-6)
    assert round(expected_sum, 2) == round(math.fsum(ledger.payments["amount"]), 2)

    def us(text):
        return dt.datetime.strptime(text, "%m/%d/%Y").strftime("%Y-%m-%d")

    assert texts(ledger.invoices["invoice_id"]) == [r["invoiceNumber"] for r in ibm_csv_rows]  # leading zeros kept
    assert days(ledger.invoices["issue_date"]) == [us(r["InvoiceDate"]) for r in ibm_csv_rows]
    assert days(ledger.invoices["due_date"]) == [us(r["DueDate"]) for r in ibm_csv_rows]
    assert days(ledger.payments["payment_date"]) == [us(r["SettledDate"]) for r in ibm_csv_rows]
    assert int(ledger.invoices["dispute"].notna().sum()) == sum(r["Disputed"] == "Yes" for r in ibm_csv_rows) == 561
    reference = ibm.load_ibm()
    for attr in ("invoices", "payments", "customers"):
        pd.testing.assert_frame_equal(getattr(ledger, attr), getattr(reference, attr))


# ------------------------------------------------------------------ the shipped workbooks


def test_demo_workbook_holds_the_generated_sample():
    from encaisse.authoring import template

    ledger = load_workbook(DEMO)
    assert (len(ledger.invoices), len(ledger.customers), len(ledger.payments)) == (10_190, 166, 9_291)
    sample = template.generate_sample()
    for table in TABLES:
        assert len(getattr(ledger, table.attr)) == len(getattr(sample, table.attr)), table.name
    assert ledger.invoices["amount"].sum() == pytest.approx(sample.invoices["amount"].sum())
    assert ledger.invoices["invoice_id"].tolist() == sample.invoices["invoice_id"].astype(str).tolist()
    assert days(ledger.invoices["due_date"]) == days(pd.to_datetime(sample.invoices["due_date"]))
    assert ledger.params.as_of == dt.date(2026, 10, 31)


def test_template_workbook_is_empty_but_complete():
    ledger = load_workbook(MODELE)
    for table in TABLES:
        frame = getattr(ledger, table.attr)
        assert len(frame) == 0, table.name
        derived = ["promise_date"] if table is JOURNAL else []  # the Journal's promised dates, read from Issue
        assert list(frame.columns) == [*table.keys, "row", *derived]


def test_other_currency_is_refused_naming_the_devise_cells(tmp_path):
    """The check runs after loading (a rate may be given then), yet names the cells, not only rows."""
    from encaisse.ledger import open_items

    path = write_book(tmp_path / "usd.xlsx", [
        {"name": "Factures", "table": "Factures", "at": (1, 1), "above": ["Factures clients"],
         "headers": ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC", "Devise"],
         "rows": [["F1", "C1", dt.date(2026, 1, 5), dt.date(2026, 2, 4), 100.0, "EUR"],
                  ["F2", "C1", dt.date(2026, 1, 6), dt.date(2026, 2, 5), 200.0, "usd"],
                  ["F3", "C2", dt.date(2026, 1, 7), dt.date(2026, 2, 6), 300.0, "USD"]]},
        {**CLIENTS},
    ])
    ledger = load_workbook(path)
    with pytest.raises(InputError) as error:
        open_items(ledger.invoices, ledger.payments, "2026-02-28")
    [problem] = error.value.problems
    # table at B2 (headers), so Devise is column G and the data rows are 3 to 5
    assert problem.where == "Factures!G4"
    assert problem.message == ("2 factures en USD (cellules G4, G5) : indiquez un taux de change USD → EUR "
                               "ou convertissez les montants en euros")
    items = open_items(ledger.invoices, ledger.payments, "2026-02-28", rates={"USD": 0.5})
    assert items["open_amount"].tolist() == [100.0, 100.0, 150.0]
