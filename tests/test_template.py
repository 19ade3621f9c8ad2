"""The template and demo workbooks: committed files regenerate byte for byte, the sample data is
realistic and self-consistent, and the workbook has every sheet, table, name and validation."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import warnings

import numpy as np
import openpyxl
import pandas as pd
import pytest

from encaisse.authoring import template as template_module
from encaisse.cli import main
from encaisse.resources import DEFAULT_RULES_DIR, DEMO_WORKBOOK, TEMPLATE_WORKBOOK
from encaisse.rules import load as load_rules
from encaisse.errors import EncaisseError
from encaisse.authoring.sample import generate_sample
from encaisse.tables import (
    CHANNELS,
    DISPUTE_CATEGORIES,
    NAMED_CELLS,
    PAYABLE_PRIORITIES,
    PAYMENT_METHODS,
    TABLES,
)
from encaisse.authoring.template import empty_ledger, write_template
from encaisse.workbook import load_workbook

AS_OF = pd.Timestamp("2026-10-31")
SHEETS = ["Tableau de bord", "Relances du jour", "Prévision", "Factures", "Règlements", "Clients", "Dettes", "Activité", "Trésorerie", "Journal", "Paramètres"]


@pytest.fixture(scope="module")
def sample():
    return generate_sample()


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    folder = tmp_path_factory.mktemp("books")
    assert main(["template", str(folder / "modele.xlsx")]) == 0
    assert main(["template", str(folder / "demo.xlsx"), "--sample"]) == 0
    return folder / "modele.xlsx", folder / "demo.xlsx"


# --- committed workbooks -------------------------------------------------------------------------

def test_committed_template_is_regenerated_byte_for_byte(books):
    assert books[0].read_bytes() == TEMPLATE_WORKBOOK.read_bytes(), (
        "xlsx/encaisse-modele.xlsx est périmé : encaisse template xlsx/encaisse-modele.xlsx --force")


def test_committed_demo_is_regenerated_byte_for_byte(books):
    assert books[1].read_bytes() == DEMO_WORKBOOK.read_bytes(), (
        "xlsx/encaisse-demo.xlsx est périmé : encaisse template xlsx/encaisse-demo.xlsx --sample --force")


def test_cli_prints_what_it_wrote(tmp_path, capsys):
    assert main(["template", str(tmp_path / "d.xlsx"), "--invoices", "500", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Classeur de démonstration écrit : {tmp_path / 'd.xlsx'}\n")
    assert "500 factures, 8 avoirs et 3 factures émises après l'arrêté, 150 clients" in out
    assert main(["template", str(tmp_path / "m.xlsx")]) == 0
    assert capsys.readouterr().out.startswith(f"Modèle vide écrit : {tmp_path / 'm.xlsx'}\n  11 feuilles : Tableau de bord, Relances du jour, Prévision, Factures, Règlements")


@pytest.mark.parametrize("argv", [["template", "x.xls"], ["template", "x.xlsx", "--invoices", "50"],
                                  ["template", "x.xlsx", "--invoices", "beaucoup"]])
def test_cli_usage_errors_exit_2(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert list(tmp_path.iterdir()) == []


# --- workbook structure --------------------------------------------------------------------------

def _open(path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        book = openpyxl.load_workbook(path)
    assert [str(w.message) for w in caught] == []  # nothing to repair
    return book


@pytest.mark.parametrize("which", [0, 1])
def test_every_table_is_an_excel_table_with_french_headers(books, which):
    book = _open(books[which])
    assert book.sheetnames == SHEETS
    for table in TABLES:
        sheet = book[table.sheet]
        (defined,) = sheet.tables.values()
        assert defined.name == table.name
        assert defined.ref.startswith("A1:")
        assert [c.name for c in defined.tableColumns] == [c.header for c in table.columns]
        assert [cell.value for cell in sheet[1][: len(table.columns)]] == [c.header for c in table.columns]
        assert sheet.freeze_panes == "B2"
    (params,) = book["Paramètres"].tables.values()
    assert (params.name, params.ref) == ("Parametres", f"A1:C{len(NAMED_CELLS)}")  # header + one row per cell of Paramètres
    names = {name: d.attr_text for name, d in book.defined_names.items()}
    expected = {c.name: f"'Paramètres'!$B${i}" for i, c in enumerate(NAMED_CELLS[:-1], start=2)}
    expected["SoldeBanque"] = "'Trésorerie'!$I$1"
    assert names == expected
    assert [c.value for c in book["Paramètres"]["A"]][1:] == [c.label for c in NAMED_CELLS[:-1]]


def test_empty_template_has_one_blank_formatted_row_and_default_params(books):
    book = _open(books[0])
    for table in TABLES:
        (defined,) = book[table.sheet].tables.values()
        assert defined.ref == f"A1:{chr(64 + len(table.columns))}2"
        assert all(cell.value is None for cell in book[table.sheet][2][: len(table.columns)])
    factures = book["Factures"]
    assert [factures.cell(2, col).number_format for col in (3, 4, 5)] == ["dd/mm/yyyy", "dd/mm/yyyy", '#,##0.00 "€"']
    values = [c.value for c in book["Paramètres"]["B"]][1:]
    assert values == [None, None, None, None, None, None, "rules",  # DateArrete … DossierRegles
                      None, None, None, None, None,  # sender of the reminders, invoices folder
                      None, "587", "starttls", None]  # SMTP server, port, security, user
    assert book["Trésorerie"]["H1"].value == "Solde bancaire" and book["Trésorerie"]["I1"].value is None
    loaded = load_workbook(books[0])
    assert [len(getattr(loaded, t.attr)) for t in TABLES] == [0] * 7
    assert (loaded.params.as_of, loaded.params.rules_dir) == (None, "rules")


def test_list_validations(books):
    book = _open(books[0])

    def lists(sheet):
        return {str(v.sqref): (v.formula1, v.errorStyle or "stop") for v in book[sheet].data_validations.dataValidation}

    assert lists("Factures") == {
        "G2:G1048576": ('"EUR,USD,GBP,CHF"', "warning"),
        "H2:H1048576": ('"' + ",".join(DISPUTE_CATEGORIES) + '"', "warning"),
        "K2:K1048576": ('"papier,électronique"', "warning"),
    }
    assert lists("Règlements") == {"F2:F1048576": ('"' + ",".join(PAYMENT_METHODS) + '"', "warning")}
    assert lists("Dettes") == {"F2:F1048576": ('"' + ",".join(PAYABLE_PRIORITIES) + '"', "warning")}
    assert lists("Clients") == {"C2:C1048576": ('"TPE,PME,Grand compte,Secteur public"', "warning")}
    assert lists("Trésorerie") == {
        "D2:D1048576": ('"encaissement,décaissement"', "stop"),
        "E2:E1048576": ('"hebdomadaire,mensuel,trimestriel,annuel"', "stop"),
    }
    # Canal holds the rules' channel ids (relances.yaml `canal`), the vocabulary the dunning engine reads
    assert lists("Journal") == {"E2:E1048576": ('"email,telephone,courrier,recommande"', "warning")}


def test_demo_formats_and_values(books, sample):
    book = _open(books[1])
    row = [(c.value, c.number_format) for c in book["Factures"][2]]
    first = sample.invoices.iloc[0]
    assert row[0] == (first["invoice_id"], "@")
    assert row[2] == (first["issue_date"].to_pydatetime(), "dd/mm/yyyy")
    assert row[4] == (first["amount"], '#,##0.00 "€"')
    assert book["Activité"]["A2"].number_format == "mmm yyyy"
    assert book["Activité"]["A2"].value == dt.datetime(2024, 11, 1)
    assert book["Paramètres"]["B2"].value == dt.datetime(2026, 10, 31)
    assert book["Trésorerie"]["I1"].value == sample.params.bank_balance


def test_demo_workbook_loads_back_to_the_sample(books, sample):
    loaded = load_workbook(books[1])
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(loaded, table.attr), getattr(sample, table.attr), check_dtype=False)
    assert loaded.params == sample.params


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice absent")
def test_libreoffice_opens_both_workbooks(books, tmp_path):
    result = subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless", "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
         "--outdir", str(tmp_path), str(books[0]), str(books[1])],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("modele-*.csv")) == sorted(f"modele-{name}.csv" for name in SHEETS)
    head = (tmp_path / "demo-Factures.csv").read_text(encoding="utf-8").splitlines()[0]
    assert head == "N° facture,Code client,Date facture,Échéance,Montant TTC,Montant HT,Devise,Litige,Date litige,Échéancier,Envoi"


# --- writing -------------------------------------------------------------------------------------

def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"ancien")

    def boom(*args):
        raise RuntimeError("panne")

    monkeypatch.setattr(template_module, "_write_params", boom)
    with pytest.raises(RuntimeError):
        write_template(target)
    assert target.read_bytes() == b"ancien"
    assert [p.name for p in tmp_path.iterdir()] == ["out.xlsx"]


def test_too_many_rows_for_excel(tmp_path):
    ledger = empty_ledger()
    journal = pd.DataFrame({"date": pd.Series(np.zeros(1_048_576, "datetime64[ns]"))})
    too_big = type(ledger)(**{**ledger.__dict__, "journal": journal})
    with pytest.raises(EncaisseError, match="Journal : 1\u202f048\u202f576 lignes, au-delà de la limite d'Excel"):
        write_template(tmp_path / "x.xlsx", too_big)
    assert list(tmp_path.iterdir()) == []


# --- the sample data -----------------------------------------------------------------------------

def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def test_company_identity(sample):
    p = sample.params
    assert (p.as_of, p.company_name, p.rules_dir) == (dt.date(2026, 10, 31), "Atelier Dupont SAS", "../rules")
    assert re.fullmatch(r"\d{9}", p.siren) and _luhn(p.siren)
    iban = p.iban.replace(" ", "")
    assert iban.startswith("FR76") and len(iban) == 27
    rearranged = iban[4:] + iban[:4]
    assert int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1
    assert p.payment_link.startswith("https://") and p.bank_balance == 335300.0


def test_sizes_are_exact(sample):
    assert len(sample.invoices) == 10190  # 10 000 invoices up to the as-of date + 150 credit notes + 40 after it
    assert len(sample.customers) == 166 == max(150, 10000 // 60)
    assert (sample.invoices["amount"] < 0).sum() == 150
    assert (sample.invoices["issue_date"] > AS_OF).sum() == 40
    assert [len(sample.payments), len(sample.payables), len(sample.activity), len(sample.flows), len(sample.journal)] == [
        9291, 929, 24, 13, 1480]


def test_sizes_scale(sample):
    small = generate_sample(invoices=600, seed=1)
    assert (len(small.invoices), len(small.customers)) == (612, 150)  # 600 + 9 credit notes + 3 after the as-of date
    big = generate_sample(invoices=30000, seed=7, customers=400)
    assert (len(big.invoices), len(big.customers)) == (30570, 400)
    with pytest.raises(ValueError):
        generate_sample(invoices=99)


def test_deterministic_and_seeded(sample):
    again = generate_sample()
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(again, table.attr), getattr(sample, table.attr))
    other = generate_sample(seed=8)
    assert not other.invoices["amount"].equals(sample.invoices["amount"])


def test_invoices_are_valid(sample):
    inv = sample.invoices
    assert inv["invoice_id"].is_unique
    assert inv["invoice_id"].str.fullmatch(r"FA-20\d\d-\d{6}|AV-20\d\d-\d{5}").all()
    assert set(inv["customer_id"]) <= set(sample.customers["customer_id"])
    assert (inv["due_date"] >= inv["issue_date"]).all()
    credit = inv["amount"] < 0
    assert (inv.loc[credit, "due_date"] == inv.loc[credit, "issue_date"]).all()
    assert inv.loc[credit, "invoice_id"].str.startswith("AV-").all()
    assert (inv["currency"] == "EUR").all()
    # HT = TTC / (1 + VAT) with VAT 20 %, 10 % or 5.5 %
    ratio = (inv["amount"] / inv["amount_excl_tax"]).round(2)
    assert set(ratio) <= {1.2, 1.1, 1.05, 1.06, 1.19, 1.21, 1.09, 1.11, 1.07, 1.04}
    # terms: at most 60 days or 45 days end of month (≤ 76 days)
    assert ((inv["due_date"] - inv["issue_date"]).dt.days.max()) <= 76
    past = inv[inv["issue_date"] <= AS_OF]
    months = past["issue_date"].dt.to_period("M")
    assert (months.min(), months.max(), months.nunique()) == (pd.Period("2024-11"), pd.Period("2026-10"), 24)
    later = inv[inv["issue_date"] > AS_OF]
    assert later["issue_date"].max() <= pd.Timestamp("2026-11-20")


def test_disputes_and_payment_plans(sample):
    inv = sample.invoices
    disputed = inv[inv["dispute"].notna()]
    assert len(disputed) > 100
    assert set(disputed["dispute"]) == set(DISPUTE_CATEGORIES)
    assert (disputed["dispute_date"] >= disputed["issue_date"]).all() and (disputed["dispute_date"] <= AS_OF).all()
    assert inv.loc[inv["dispute"].isna(), "dispute_date"].isna().all()
    plans = inv.dropna(subset=["payment_plan"])
    assert plans["payment_plan"].nunique() == 4
    assert (plans.groupby("payment_plan")["customer_id"].nunique() == 1).all()


def test_payments_are_consistent(sample):
    pay, inv = sample.payments, sample.invoices.set_index("invoice_id")
    assert (pay["payment_date"] <= AS_OF).all()
    assert set(pay["method"]) == set(PAYMENT_METHODS)
    matched = pay.dropna(subset=["invoice_id"])
    assert matched["invoice_id"].isin(inv.index).all()
    assert (matched["customer_id"].to_numpy() == inv.loc[matched["invoice_id"], "customer_id"].to_numpy()).all()
    assert (inv.loc[matched["invoice_id"], "amount"].to_numpy() > 0).all()  # credit notes are never paid
    paid = matched.groupby("invoice_id")["amount"].sum()
    assert (paid <= inv.loc[paid.index, "amount"] + 0.001).all()  # never overpaid
    assert (pay["amount"] > 0).all()
    # every kind of payment is there
    assert pay["invoice_id"].isna().sum() == 81  # unmatched (« paiement non identifié »)
    rows = pay.groupby("payment_id").agg(n=("amount", "size"), customers=("customer_id", "nunique"),
                                         dates=("payment_date", "nunique"), invoices=("invoice_id", "nunique"))
    grouped = rows[rows["n"] > 1]
    assert len(grouped) > 100
    assert (grouped["customers"] == 1).all() and (grouped["dates"] == 1).all() and (grouped["invoices"] == grouped["n"]).all()
    partial = matched.groupby("invoice_id").size()
    assert (partial > 1).sum() > 100
    assert (partial[partial > 1] <= 3).all()


def _open_items(sample) -> pd.DataFrame:
    """Open amount per invoice at the as-of date, by plain matching (independent of the engine)."""
    inv = sample.invoices
    inv = inv[(inv["issue_date"] <= AS_OF) & (inv["amount"] > 0)].copy()
    paid = sample.payments.dropna(subset=["invoice_id"]).groupby("invoice_id")["amount"].sum()
    inv["open"] = (inv["amount"] - inv["invoice_id"].map(paid).fillna(0.0)).round(2)
    inv["days"] = (AS_OF - inv["due_date"]).dt.days
    return inv[inv["open"] > 0]


def test_aging_has_every_bucket(sample):
    items = _open_items(sample)
    buckets = pd.cut(items["days"], [-10**6, 0, 30, 60, 90, 10**6], labels=["non échu", "1-30", "31-60", "61-90", "> 90"])
    counts = items.groupby(buckets, observed=False).size()
    assert counts.to_dict() == {"non échu": 912, "1-30": 115, "31-60": 46, "61-90": 33, "> 90": 169}


def test_a_customer_stopped_paying(sample):
    items = _open_items(sample)
    last_payment = sample.payments.groupby("customer_id")["payment_date"].max()
    overdue = items[items["days"] > 90].groupby("customer_id")["open"].sum()
    stopped = [c for c in overdue.index if last_payment.get(c, pd.Timestamp.min) < pd.Timestamp("2026-07-01")
               and (items.loc[items["customer_id"] == c, "days"] > 90).sum() >= 3]
    assert stopped  # several invoices > 90 days overdue and no payment since the spring
    segments = sample.customers.set_index("customer_id").loc[stopped, "segment"]
    assert "PME" in set(segments)


def test_customers(sample):
    cust = sample.customers
    assert cust["customer_id"].is_unique and cust["name"].is_unique
    assert cust["customer_id"].str.fullmatch(r"C\d{4}").all()
    assert set(cust["segment"]) == {"TPE", "PME", "Grand compte", "Secteur public"}
    assert cust["email"].str.fullmatch(r"[a-z\-]+\.[a-z\-]+@[a-z0-9\-]+\.example").all()
    assert cust["address"].str.contains(r", \d{5} ").all()
    assert (cust["credit_limit"] >= 2000).all() and (cust["credit_limit"] % 1000 == 0).all()
    rating = cust["external_rating"].dropna()
    assert rating.between(0, 20).all() and (rating == rating.round()).all()
    assert 0 < cust["external_rating"].isna().sum() < len(cust)
    assert set(cust["payment_terms"].dropna()) <= {"30 jours", "45 jours fin de mois", "60 jours"}
    assert cust["payment_terms"].notna().sum() == 9


def test_activity_matches_invoices(sample):
    act = sample.activity
    assert list(act["month"]) == list(pd.date_range("2024-11-01", "2026-10-01", freq="MS"))
    inv = sample.invoices[sample.invoices["issue_date"] <= AS_OF]
    sales = inv.groupby(inv["issue_date"].dt.to_period("M"))["amount"].sum().round(2)
    assert act["sales"].tolist() == sales.tolist()
    stock = act["inventory"].to_numpy()
    assert np.allclose(stock[1:], stock[:-1] + act["purchases"].to_numpy()[1:] - act["cogs"].to_numpy()[1:], atol=0.011)
    bills = sample.payables[sample.payables["bill_id"].str.startswith("FF-")]
    purchases = bills.groupby(bills["issue_date"].dt.to_period("M"))["amount"].sum().round(2)
    assert act["purchases"].tolist() == purchases.tolist()
    margin = 1 - act["cogs"].sum() / act["sales"].sum()
    assert 0.3 < margin < 0.4


def test_payables_and_flows(sample):
    pay = sample.payables
    assert pay["bill_id"].is_unique
    assert set(pay["priority"]) == set(PAYABLE_PRIORITIES)
    assert (pay["due_date"] >= pay["issue_date"]).all() and (pay["issue_date"] <= AS_OF).all()
    assert (pay["paid_date"].dropna() <= AS_OF).all()
    assert pay["paid_date"].isna().sum() == 81
    assert (pay.loc[pay["paid_date"].isna(), "due_date"] <= AS_OF).sum() > 0  # some overdue bills
    flows = sample.flows
    assert set(flows["direction"]) == {"encaissement", "décaissement"}
    assert set(flows["frequency"]) == {"hebdomadaire", "mensuel", "trimestriel", "annuel"}
    assert (flows["next_date"] > AS_OF).all()
    assert {"salaires", "loyer", "social", "fiscal", "financement", "abonnements"} <= set(flows["category"])


def test_journal_follows_overdue_invoices(sample):
    """The Journal speaks the rules' vocabulary: each row is a step of the timeline the default
    rules give the customer's segment (standard; souple for Secteur public), sent on its day."""
    journal = sample.journal
    inv = sample.invoices.set_index("invoice_id")
    assert journal["invoice_id"].isin(inv.index).all()
    assert (journal["customer_id"].to_numpy() == inv.loc[journal["invoice_id"], "customer_id"].to_numpy()).all()
    dunning = load_rules(DEFAULT_RULES_DIR).dunning
    segment = sample.customers.set_index("customer_id")["segment"]
    timeline = journal["customer_id"].map(segment).map(lambda s: dunning.timeline_for(s, None)[0].name)
    steps = {(t.name, s.id): s for t in dunning.timelines.values() for s in t.steps}
    step = [steps[(name, step_id)] for name, step_id in zip(timeline, journal["step"])]  # KeyError: not a step of the timeline
    assert journal["channel"].tolist() == [s.channel for s in step]
    assert set(journal["channel"]) <= set(CHANNELS)
    due = inv.loc[journal["invoice_id"], "due_date"].to_numpy()
    delay = (journal["date"].to_numpy() - due) / np.timedelta64(1, "D")
    offsets = np.array([s.offset for s in step])
    assert ((delay >= offsets) & (delay <= offsets + 4)).all()  # the step's day, or the next working day
    assert (journal["date"] <= AS_OF).all()
    assert journal.groupby("step")["channel"].unique().map(sorted).to_dict() == {
        "courtoisie": ["email"], "amiable": ["email"], "ferme": ["email", "telephone"], "mise_en_demeure": ["recommande"]}
    assert journal["document"].isna().sum() == (journal["channel"] == "telephone").sum()
    first = journal.iloc[0]
    assert first["document"] == f"{first['step'].replace('_', '-')}-{first['date']:%Y-%m-%d}_{first['customer_id']}.eml"
    assert journal["outcome"].value_counts().to_dict().keys() >= {"envoye", "payé", "message laissé", "litige signalé", "échéancier accordé"}
    promised = journal["outcome"].str.startswith("promesse ")
    assert promised.sum() > 0 and journal.loc[promised, "promise_date"].notna().all() and journal.loc[~promised, "promise_date"].isna().all()
    shown = journal.loc[promised, "promise_date"].dt.strftime("promesse %d/%m/%Y")
    assert (shown == journal.loc[promised, "outcome"]).all()
    assert not journal.duplicated(["invoice_id", "step"]).any()
