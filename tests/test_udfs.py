"""The Excel functions called with what xlwings passes: DataFrames built from ranges with their
header row (None for blanks, floats for integers, datetimes for dates) or plain lists of lists,
as-of dates as datetimes or Excel serials. Each returns the engine's numbers, or a French
« #VALEUR! » text, never an exception."""

from __future__ import annotations

import datetime as dt
import inspect

import pandas as pd
import pytest

from encaisse import kpi
from encaisse.excel import FUNCTIONS
from encaisse.excel import kpi as functions
from encaisse.addin import udfs
from encaisse.workbook.coerce import frame_from_values
from encaisse.tables import ACTIVITY, INVOICES, PAYABLES, PAYMENTS

D = dt.datetime
AS_OF = D(2026, 6, 30)
AS_OF_SERIAL = 46203.0  # 30/06/2026 in Excel's 1900 date system

FACTURES = [
    ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC", "Devise", "Litige", "Date litige"],
    ["F03", "C1", D(2026, 3, 10), D(2026, 4, 9), 50000.0, "EUR", None, None],
    ["F04", "C1", D(2026, 4, 10), D(2026, 5, 10), 60000.0, None, None, None],
    ["F05", "C2", D(2026, 5, 10), D(2026, 6, 9), 90000.0, "EUR", "prix", D(2026, 6, 12)],
    ["F06", "C2", D(2026, 6, 10), D(2026, 7, 10), 100000.0, None, None, None],
    ["1001.0", 2001.0, D(2026, 6, 20), D(2026, 7, 20), 1500.0, None, None, None],  # codes typed as numbers
]
REGLEMENTS = [
    ["Date", "Code client", "N° facture", "Montant", "Mode"],
    [D(2026, 4, 9), "C1", "F03", 50000.0, "virement"],
    [D(2026, 5, 10), "C1", "F04", 17200.0, "chèque"],
    [D(2026, 6, 25), 2001.0, None, 500.0, "CB"],  # unmatched payment
]
DETTES = [
    ["N° pièce", "Fournisseur", "Date", "Échéance", "Montant TTC", "Priorité", "Payé le"],
    ["P1", "Acier SA", D(2026, 5, 1), D(2026, 6, 30), 12000.0, "fournisseur critique", D(2026, 7, 10)],
    ["P2", "Acier SA", D(2026, 4, 1), D(2026, 5, 31), 12000.0, "autre", D(2026, 6, 1)],
    ["P3", "Bailleur", D(2026, 6, 20), D(2026, 7, 20), 3000.0, "autre", None],
]
ACTIVITE = [
    ["Mois", "CA TTC", "Achats TTC", "Coût des ventes", "Stock fin de mois", "OPEX"],
    [D(2026, 4, 1), 80000.0, 30000.0, 27000.0, 60000.0, 10000.0],
    [D(2026, 5, 1), 80000.0, 30000.0, 27000.0, 60000.0, 10000.0],
    [D(2026, 6, 1), 90000.0, 30000.0, 27000.0, 54000.0, 10000.0],
]


def as_frame(values):
    """What `@xw.arg(..., pd.DataFrame, index=False, header=True)` gives: columns = headers."""
    return pd.DataFrame(values[1:], columns=values[0])


def canonical(values, table):
    frame, problems = frame_from_values(values, table)
    assert problems == []
    return frame


INV, PAY = canonical(FACTURES, INVOICES), canonical(REGLEMENTS, PAYMENTS)
PAYABLES_, ACTIVITY_ = canonical(DETTES, PAYABLES), canonical(ACTIVITE, ACTIVITY)


@pytest.fixture(params=["dataframe", "lists"])
def shape(request):
    return as_frame if request.param == "dataframe" else (lambda values: values)


def call(name, *args):
    """Through the xlwings module for DataFrames (as Excel calls it)."""
    return getattr(udfs, name)(*args)


def test_dso_bpdso_add_cei(shape):
    # AR = 42 800 (F04) + 90 000 + 100 000 + 1 000 (1001 less the unmatched 500) = 233 800
    expected = kpi.dso(INV, PAY, "2026-06-30")
    assert expected == pytest.approx(30 + 31 + (233_800 - 191_500) / 60_000 * 30)
    assert call("DSO", shape(FACTURES), shape(REGLEMENTS), AS_OF) == expected
    assert call("DSO", shape(FACTURES), shape(REGLEMENTS), AS_OF_SERIAL, "épuisement") == expected
    assert call("DSO", shape(FACTURES), shape(REGLEMENTS), AS_OF, "période", 30.0) == kpi.dso(INV, PAY, "2026-06-30", "period", 30)
    assert call("DSO", shape(FACTURES), shape(REGLEMENTS), "30/06/2026", "Periode") == pytest.approx(233_800 / 251_500 * 90)
    assert call("BPDSO", shape(FACTURES), shape(REGLEMENTS), AS_OF) == pytest.approx(101_000 / 251_500 * 90)
    assert call("ADD", shape(FACTURES), shape(REGLEMENTS), AS_OF, None, 90.0) == kpi.average_days_delinquent(INV, PAY, "2026-06-30")
    assert call("CEI", shape(FACTURES), shape(REGLEMENTS), AS_OF, 1.0) == kpi.cei(INV, PAY, "2026-06-30", 1)


def test_dpo_dio_ccc_cash_released(shape):
    assert call("DPO", shape(DETTES), shape(ACTIVITE), AS_OF, 30.0) == pytest.approx(15.0)
    assert call("DIO", shape(ACTIVITE), AS_OF, 30.0) == pytest.approx(60.0)
    assert call("CCC", shape(FACTURES), shape(REGLEMENTS), shape(DETTES), shape(ACTIVITE), AS_OF, None, 30.0) == pytest.approx(
        kpi.ccc(INV, PAY, PAYABLES_, ACTIVITY_, "2026-06-30", days=30))
    # June: −(−15) × 90 000/30 + 10 × 30 000/30 − (−20) × 27 000/30 = 45 000 + 10 000 + 18 000
    assert call("CASH_RELEASED", shape(ACTIVITE), AS_OF, -15.0, 10.0, -20.0, 30.0) == 73_000.0


def test_aging_spills_a_table_with_header(shape):
    grid = call("AGING", shape(FACTURES), shape(REGLEMENTS), AS_OF)
    assert grid == [
        ["Code client", "Non échu", "1-30 j", "31-60 j", "61-90 j", "> 90 j", "Total",
         "Nb Non échu", "Nb 1-30 j", "Nb 31-60 j", "Nb 61-90 j", "Nb > 90 j", "Nb total"],
        ["2001", 1000.0, 0.0, 0.0, 0.0, 0.0, 1000.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
        ["C1", 0.0, 0.0, 42800.0, 0.0, 0.0, 42800.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0],
        ["C2", 100000.0, 90000.0, 0.0, 0.0, 0.0, 190000.0, 1.0, 1.0, 0.0, 0.0, 0.0, 2.0],
        ["Total", 101000.0, 90000.0, 42800.0, 0.0, 0.0, 233800.0, 2.0, 1.0, 1.0, 0.0, 0.0, 4.0],
    ]
    engine = kpi.aging(INV, PAY, "2026-06-30")
    assert [row[6] for row in grid[1:]] == engine["Total"].tolist()
    total_only = call("AGING", shape(FACTURES), shape(REGLEMENTS), AS_OF, [[30.0, 60.0]], "facture", False)
    assert total_only == [
        ["Code client", "≤ 30 j", "31-60 j", "> 60 j", "Total", "Nb ≤ 30 j", "Nb 31-60 j", "Nb > 60 j", "Nb total"],
        ["Total", 101000.0, 90000.0, 42800.0, 233800.0, 2.0, 1.0, 1.0, 4.0],
    ]
    assert call("AGING", shape(FACTURES), shape(REGLEMENTS), AS_OF, "0;45")[0][1:4] == ["Non échu", "1-45 j", "> 45 j"]


def test_rates(shape):
    # invoices issued in the 365 days: 5, disputed 1 (F05, dated 12/06)
    assert call("DISPUTE_RATE", shape(FACTURES), AS_OF) == pytest.approx(1 / 5)
    assert call("DISPUTE_RATE", shape(FACTURES), AS_OF, "montant") == pytest.approx(90_000 / 301_500)
    assert call("DISPUTE_RATE", shape(FACTURES), D(2026, 6, 11), "nombre") == pytest.approx(0 / 4)
    # due in (01/04, 30/06]: F03 9/4, F04 10/5, F05 9/6 = 200 000; collected 50 000 + 17 200 + 500
    assert call("RECOVERY_RATE", shape(FACTURES), shape(REGLEMENTS), AS_OF) == pytest.approx(67_700 / 200_000)


def test_bad_input_gives_french_excel_errors_never_exceptions(shape):
    no_due = [[c for i, c in enumerate(row) if i != 3] for row in FACTURES]
    assert call("DSO", shape(no_due), shape(REGLEMENTS), AS_OF) == (
        "#VALEUR! Factures : colonne obligatoire « Échéance » absente (en-têtes lus : N° facture, Code client, Date facture, "
        "Montant TTC, Devise, Litige, Date litige)")
    bad_amount = [row[:] for row in FACTURES]
    bad_amount[2][4] = "abc"
    assert call("AGING", shape(bad_amount), shape(REGLEMENTS), AS_OF) == (
        "#VALEUR! Factures, ligne 3, colonne « Montant TTC » : montant « abc » n'est pas un nombre")
    assert call("DSO", shape(FACTURES), shape(REGLEMENTS), None) == "#VALEUR! date d'arrêté vide (par exemple la cellule DateArrete)"
    assert call("DSO", shape(FACTURES), shape(REGLEMENTS), "demain").startswith("#VALEUR! date d'arrêté : date « demain » illisible")
    assert call("DSO", shape(FACTURES), shape(REGLEMENTS), AS_OF, "moyenne") == (
        "#VALEUR! méthode « moyenne » inconnue : « épuisement » (par défaut) ou « période »")
    assert call("DPO", shape(DETTES), shape(ACTIVITE), AS_OF, -3.0) == "#VALEUR! jours doit être supérieur à 0 (lu : -3.0)"
    assert call("AGING", shape(FACTURES), shape(REGLEMENTS), AS_OF, "60;30") == (
        "#VALEUR! les tranches doivent être des nombres de jours croissants, par exemple 0, 30, 60, 90")
    assert call("DISPUTE_RATE", shape(FACTURES), AS_OF, "poids").startswith("#VALEUR! mesure « poids » inconnue")
    usd = [row[:] for row in FACTURES]
    usd[3][5] = "USD"
    assert call("DSO", shape(usd), shape(REGLEMENTS), AS_OF) == (
        "#VALEUR! Factures : 1 facture en USD (ligne 4) : indiquez un taux de change USD → EUR ou convertissez les montants en euros")
    assert call("DSO", shape(usd), shape(REGLEMENTS), AS_OF, None, None, "USD=1") == kpi.dso(INV, PAY, "2026-06-30")
    rated = call("DSO", shape(usd), shape(REGLEMENTS), AS_OF, None, None, [["Devise", "Taux"], ["USD", 2.0]])
    assert rated == kpi.dso(canonical(usd, INVOICES), PAY, "2026-06-30", rates={"USD": 2.0})
    # F05 counts 180 000 €: AR 323 800 → June 101 500 (30 d), May 180 000 (31 d), April 42 300 / 60 000 × 30
    assert rated == pytest.approx(30 + 31 + 42_300 / 60_000 * 30)


def test_undefined_kpis_say_why():
    assert functions.dso(FACTURES, REGLEMENTS, D(2027, 6, 30), "période") == "#DIV/0! aucune vente sur la période"
    assert functions.dpo(DETTES, [ACTIVITE[0]], AS_OF) == "#DIV/0! aucun achat sur la période"
    assert functions.dso(FACTURES, None, AS_OF) == kpi.dso(INV, PAY.iloc[:0], "2026-06-30")  # Règlements omitted


def test_every_registered_function_has_a_one_line_udf():
    for name in FUNCTIONS:
        udf = getattr(udfs, name)
        body = [line for line in inspect.getsource(udf).splitlines() if line.strip() and not line.lstrip().startswith(("@", "def ", '"""'))]
        assert len(body) == 1 and body[0].strip().startswith(("return kpi.", "return credit.", "return dunning.", "return cash.")), name
        assert udf.__doc__ and "é" in udf.__doc__ + "é"
