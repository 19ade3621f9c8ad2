"""encaisse recalc: formula cells evaluated in dependency order, only their cached values written."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import python_calamine as calamine
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from encaisse.cli import main
from encaisse.errors import InputError
from encaisse.recalc import recalc
from encaisse.workbook.splice import ErrorValue

import lo_recalc
from packages import edit_part  # tests/packages.py

AS_OF = dt.datetime(2026, 10, 31)
INVOICE_HEADERS = ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC", "Litige"]
INVOICES = [
    ["F1", "C1", dt.datetime(2026, 9, 1), dt.datetime(2026, 10, 1), 100.0, None],
    ["F2", "C2", dt.datetime(2026, 9, 15), dt.datetime(2026, 10, 15), 250.5, "prix"],
    ["F3", "C1", dt.datetime(2026, 10, 2), dt.datetime(2026, 11, 2), 80.0, None],
    ["F4", "C3", dt.datetime(2026, 8, 20), dt.datetime(2026, 9, 19), 1200.0, None],
]
PAYMENT_HEADERS = ["Date", "Code client", "N° facture", "Montant"]
PAYMENTS = [
    [dt.datetime(2026, 10, 3), "C1", "F1", 100.0],
    [dt.datetime(2026, 10, 20), "C3", "F4", 200.0],
]


def serial(day: dt.datetime) -> float:
    return float((day - dt.datetime(1899, 12, 30)).days)


def build(path: Path, formulas=(), *, dynamic=(), vba: bytes | None = None) -> Path:
    """A small workbook: Factures and Reglements tables, DateArrete, and a Calc sheet with `formulas`."""
    book = xlsxwriter.Workbook(str(path))
    if vba is not None:
        vba_file = path.with_suffix(".bin")
        vba_file.write_bytes(vba)
        book.add_vba_project(str(vba_file))
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    money = book.add_format({"num_format": "#,##0.00 €"})
    calc = book.add_worksheet("Calc")
    sheet = book.add_worksheet("Factures")
    sheet.add_table(0, 0, len(INVOICES), len(INVOICE_HEADERS) - 1, {
        "name": "Factures", "columns": [{"header": h} for h in INVOICE_HEADERS], "data": INVOICES})
    for r, row in enumerate(INVOICES, start=1):
        sheet.write_datetime(r, 2, row[2], date)
        sheet.write_datetime(r, 3, row[3], date)
        sheet.write_number(r, 4, row[4], money)
    pay = book.add_worksheet("Règlements")
    pay.add_table(0, 0, len(PAYMENTS), len(PAYMENT_HEADERS) - 1, {
        "name": "Reglements", "columns": [{"header": h} for h in PAYMENT_HEADERS], "data": PAYMENTS})
    for r, row in enumerate(PAYMENTS, start=1):
        pay.write_datetime(r, 0, row[0], date)
    clients = book.add_worksheet("Clients")
    clients.add_table(0, 0, 3, 1, {"name": "Clients", "columns": [{"header": "Code client"}, {"header": "Raison sociale"}],
                                   "data": [["C1", "Alpha SARL"], ["C2", "Bêta SA"], ["C3", "Gamma SAS"]]})
    params = book.add_worksheet("Paramètres")
    params.write("A1", "Date d'arrêté")
    params.write_datetime("B1", AS_OF, date)
    params.write("A2", "Solde")
    params.write_number("B2", 5000.0)
    book.define_name("DateArrete", "='Paramètres'!$B$1")
    book.define_name("SoldeBanque", "='Paramètres'!$B$2")
    for ref, formula in formulas:
        calc.write_formula(ref, formula)
    for ref, formula in dynamic:
        calc.write_dynamic_array_formula(ref, formula)
    book.close()
    return path


def parts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: hashlib.sha256(zf.read(i.filename)).hexdigest() for i in zf.infolist()}


def values(path: Path, sheet: str = "Calc") -> list[list]:
    return calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def sheet_xml(path: Path, member: str = "xl/worksheets/sheet1.xml") -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read(member).decode()


STANDARD = [
    ("A1", "=SUM(Factures[Montant TTC])"),
    ("A2", '=SUMIFS(Factures[Montant TTC],Factures[Code client],"C1")'),
    ("A3", '=COUNTIFS(Factures[Échéance],"<"&DateArrete)'),
    ("A4", "=A1*2+A2"),
    ("A5", "=DateArrete-30"),
    ("A6", "=INDEX(Factures[N° facture],MATCH(LARGE(Factures[Montant TTC],2),Factures[Montant TTC],0))"),
    ("A7", '=IFERROR(1/0,"aucun")'),
    ("A8", "=1/0"),
    ("A9", "=A1>1000"),
    ("A10", '=COUNTIFS(Factures[Litige],"prix",Factures[Montant TTC],">"&100)'),
    ("A11", "=SoldeBanque+SUM(Reglements[Montant])"),
    ("A12", "=ROWS(Factures[#All])"),
    ("A13", "=Factures[[#Headers],[Échéance]]"),
    ("A14", '=SUMIFS(Reglements[Montant],Reglements[Date],">"&(DateArrete-30),Reglements[Date],"<="&DateArrete)'),
    ("A15", "=SUM(Factures!E:E)"),
]


def test_standard_formulas_structured_refs_and_named_cells(tmp_path):
    book = build(tmp_path / "b.xlsx", STANDARD)
    out = tmp_path / "out.xlsx"
    report = recalc(book, out)
    total = 100.0 + 250.5 + 80.0 + 1200.0
    expected = {
        "A1": total, "A2": 180.0, "A3": 3.0, "A4": 2 * total + 180.0, "A5": serial(AS_OF) - 30, "A6": "F2",
        "A7": "aucun", "A8": ErrorValue("#DIV/0!"), "A9": True, "A10": 1.0, "A11": 5300.0, "A12": 5.0,
        "A13": "Échéance", "A14": 300.0, "A15": total,
    }
    assert {k.split("!")[1]: v for k, v in report.values.items()} == expected
    assert report.cells == 15 and report.sheets == ("Calc",) and report.warnings == ()
    got = values(out)
    assert [row[0] for row in got[:7]] == [total, 180.0, 3.0, 2 * total + 180.0, serial(AS_OF) - 30, "F2", "aucun"]
    xml = sheet_xml(out)
    assert '<c r="A8" t="e"><f>1/0</f><v>#DIV/0!</v></c>' in xml
    assert '<c r="A9" t="b"><f>A1&gt;1000</f><v>1</v></c>' in xml
    assert '<c r="A6" t="str"><f>INDEX(Factures[N° facture],MATCH(LARGE(Factures[Montant TTC],2),Factures[Montant TTC],0))</f><v>F2</v></c>' in xml


def test_other_parts_are_byte_identical_and_input_is_kept(tmp_path):
    book = build(tmp_path / "b.xlsx", STANDARD)
    before = parts(book)
    raw_before = book.read_bytes()
    out = tmp_path / "out.xlsx"
    recalc(book, out)
    after = parts(out)
    assert book.read_bytes() == raw_before
    assert list(after) == list(before)  # same members, same order
    changed = [name for name in before if before[name] != after[name]]
    assert changed == ["xl/worksheets/sheet1.xml"]
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        src = zipfile.ZipFile(book)
        for info in zf.infolist():  # untouched members keep their compressed bytes and sizes
            if info.filename != "xl/worksheets/sheet1.xml":
                other = src.getinfo(info.filename)
                assert (info.compress_type, info.compress_size, info.CRC) == (other.compress_type, other.compress_size, other.CRC)


def test_in_place_replaces_atomically_and_leaves_no_temp_file(tmp_path):
    book = build(tmp_path / "b.xlsx", [("A1", "=SUM(Factures[Montant TTC])")])
    recalc(book)
    assert values(book)[0][0] == 1630.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.xlsx"]


def test_dynamic_array_spills_and_keeps_its_markup(tmp_path):
    book = build(tmp_path / "b.xlsx", [("H1", "=SUM(E2:E5)")],
                 dynamic=[("C1", "=Reglements[[#All],[Code client]:[Montant]]")])
    out = tmp_path / "out.xlsx"
    recalc(book, out)
    xml = sheet_xml(out)
    assert '<c r="C1" cm="1" t="str"><f t="array" ref="C1:E3">Reglements[[#All],[Code client]:[Montant]]</f><v>Code client</v></c>' in xml
    assert '<c r="E2"><v>100</v></c>' in xml and '<c r="D3" t="str"><v>F4</v></c>' in xml
    got = values(out)
    assert [row[2:5] for row in got[:3]] == [["Code client", "N° facture", "Montant"], ["C1", "F1", 100.0], ["C3", "F4", 200.0]]
    # H1 reads spilled cells: it is evaluated after the anchor
    assert got[0][7] == 300.0


def rewrite_member(path: Path, member: str, change) -> None:
    """Edit one part of a package in place (to build cases XlsxWriter does not write)."""
    from encaisse.workbook.splice import write_package

    with zipfile.ZipFile(path) as zf:
        text = zf.read(member).decode()
    write_package(path, path, {member: change(text).encode()})


def test_shared_formulas_are_expanded_with_relative_references(tmp_path):
    book = build(tmp_path / "b.xlsx", [("B1", "=Factures!E2*2"), ("B2", "=Factures!E3*2"), ("B3", "=Factures!E4*2"), ("B4", "=SUM(B1:B3)")])

    def share(xml: str) -> str:
        xml = xml.replace("<f>Factures!E2*2</f>", '<f t="shared" ref="B1:B3" si="0">Factures!E2*2</f>')
        xml = xml.replace("<f>Factures!E3*2</f>", '<f t="shared" si="0"/>')
        return xml.replace("<f>Factures!E4*2</f>", '<f t="shared" si="0"/>')

    rewrite_member(book, "xl/worksheets/sheet1.xml", share)
    assert sheet_xml(book).count('t="shared"') == 3
    report = recalc(book, tmp_path / "out.xlsx")
    assert report.values == {"Calc!B1": 200.0, "Calc!B2": 501.0, "Calc!B3": 160.0, "Calc!B4": 861.0}
    xml = sheet_xml(tmp_path / "out.xlsx")
    assert '<c r="B2"><f t="shared" si="0"/><v>501</v></c>' in xml


def test_circular_reference_names_the_cells_and_keeps_the_input(tmp_path):
    book = build(tmp_path / "b.xlsx", [("A1", "=A3+1"), ("A2", "=SUM(Factures[Montant TTC])"), ("A3", "=A1*2")])
    before = book.read_bytes()
    with pytest.raises(InputError) as caught:
        recalc(book)
    assert [str(p) for p in caught.value.problems] == ["Calc!A1 : référence circulaire : Calc!A1 → Calc!A3 → Calc!A1"]
    assert book.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.xlsx"]


def test_a_cell_that_reads_itself_is_circular(tmp_path):
    book = build(tmp_path / "b.xlsx", [("A1", "=SUM(A1:A3)"), ("A2", "=1")])
    with pytest.raises(InputError) as caught:
        recalc(book)
    assert [str(p) for p in caught.value.problems] == ["Calc!A1 : référence circulaire : Calc!A1 → Calc!A1"]


def test_unknown_functions_give_name_error_as_in_excel_with_a_warning(tmp_path, capsys):
    # Excel shows #NAME? for a function it does not know (a macro's, a typo): so does the
    # recalculation, and it says which cells; a dynamic array spills around them.
    book = build(tmp_path / "b.xlsx", [("A1", "=FOOBAR(1)"), ("C1", "=_xlfn.SEQUENCE(3)"), ("A3", "=FOOBAR(2)+1"), ("A4", "=1+1")])
    assert main(["recalc", str(book), "-o", str(tmp_path / "out.xlsx")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "Avertissement : Calc!A1, Calc!A3 : #NAME? comme dans Excel : fonction FOOBAR non prise en charge"
    report = recalc(book, tmp_path / "out2.xlsx")
    assert {k.split("!")[1]: v for k, v in report.values.items()} == {
        "A1": ErrorValue("#NAME?"), "A3": ErrorValue("#NAME?"), "A4": 2.0, "C1": 1.0, "C2": 2.0, "C3": 3.0}


def test_today_draws_a_warning(tmp_path, capsys):
    book = build(tmp_path / "b.xlsx", [("A1", "=TODAY()-DateArrete"), ("A2", "=DateArrete+1")])
    assert main(["recalc", str(book)]) == 0
    out = capsys.readouterr().out
    warning = "Calc!A1 : TODAY() rend le résultat non reproductible ; utilisez la date d'arrêté (DateArrete)"
    assert out.splitlines()[-1] == f"Avertissement : {warning}"
    assert out.splitlines()[1] == f"Valeurs enregistrées dans {book} (feuilles : Calc)."
    assert values(book)[1][0] == serial(AS_OF) + 1
    assert recalc(book).warnings == (warning,)


@pytest.mark.parametrize("content, message", [
    (b"pas un classeur", "fichier illisible : ce n'est pas un classeur Excel .xlsx/.xlsm"),
])
def test_corrupt_file(tmp_path, content, message):
    book = tmp_path / "b.xlsx"
    book.write_bytes(content)
    with pytest.raises(InputError) as caught:
        recalc(book)
    assert [str(p) for p in caught.value.problems] == [f"{book} : {message}"]
    assert book.read_bytes() == content


def test_truncated_package_is_reported(tmp_path):
    book = build(tmp_path / "b.xlsx", STANDARD)
    data = book.read_bytes()
    book.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as caught:
        recalc(book)
    assert caught.value.problems[0].where == str(book)
    assert "archive zip valide" in caught.value.problems[0].message or "illisible" in caught.value.problems[0].message
    assert book.read_bytes() == data[: len(data) // 2]


def test_missing_table_or_column_is_refused(tmp_path):
    book = build(tmp_path / "b.xlsx", [
        ("A1", "=SUM(Absente[Montant])"),
        ("A3", "=SUM(Factures[Inconnue])"),
        ("A4", "=1"),
    ])
    before = book.read_bytes()
    with pytest.raises(InputError) as caught:
        recalc(book, tmp_path / "out.xlsx")
    assert [str(p) for p in caught.value.problems] == [
        "Calc!A1 : tableau « Absente » absent du classeur",
        "Calc!A3 : colonne « Inconnue » absente du tableau Factures (référence « SUM(Factures[Inconnue]) »)",
    ]
    assert book.read_bytes() == before and not (tmp_path / "out.xlsx").exists()


def test_missing_sheet_and_unknown_name_are_excel_errors(tmp_path):
    book = build(tmp_path / "b.xlsx", [("A2", "='Nulle part'!A1+1"), ("A4", "=NomInconnu*2"), ("A5", "=IFERROR(A4,7)")])
    report = recalc(book, tmp_path / "out.xlsx")
    assert {k.split("!")[1]: v for k, v in report.values.items()} == {
        "A2": ErrorValue("#REF!"), "A4": ErrorValue("#NAME?"), "A5": 7.0}
    assert report.warnings == ("Calc!A2 : #REF! (référence à une feuille ou une cellule absente)",
                               "Calc!A4 : #NAME? (nom ou fonction inconnus)")


def test_wrong_arguments_of_an_encaisse_function_name_the_cell(tmp_path):
    book = build(tmp_path / "b.xlsx", dynamic=[("A1", "=DSO(Reglements[#All],Factures[#All],DateArrete)")])
    with pytest.raises(InputError) as caught:
        recalc(book)
    (problem,) = caught.value.problems
    assert problem.where == "Calc!A1"
    assert problem.message.startswith("DSO : #VALEUR! Factures")


def test_xlsm_keeps_its_macros(tmp_path):
    vba = b"\xd0\xcf\x11\xe0 fake VBA project bytes" * 50
    book = build(tmp_path / "b.xlsm", [("A1", "=SUM(Factures[Montant TTC])")], vba=vba)
    before = parts(book)
    out = tmp_path / "out.xlsm"
    recalc(book, out)
    after = parts(out)
    with zipfile.ZipFile(out) as zf:
        assert zf.read("xl/vbaProject.bin") == vba
    assert {k for k in before if before[k] != after[k]} == {"xl/worksheets/sheet1.xml"}
    assert "macroEnabled" in zipfile.ZipFile(out).read("[Content_Types].xml").decode()


def test_as_of_overrides_date_arrete_for_the_evaluation_only(tmp_path):
    book = build(tmp_path / "b.xlsx", [("A1", "=DateArrete"), ("A2", '=COUNTIFS(Factures[Échéance],"<"&DateArrete)')])
    out = tmp_path / "out.xlsx"
    assert main(["recalc", str(book), "-o", str(out), "--as-of", "2026-09-30"]) == 0
    got = values(out)
    assert [got[0][0], got[1][0]] == [serial(dt.datetime(2026, 9, 30)), 1.0]
    assert values(out, "Paramètres")[0][1] == dt.date(2026, 10, 31)  # the stored date is not changed


def test_aging_spills_with_the_engine_values(tmp_path):
    book = build(tmp_path / "b.xlsx", [("A10", "=SUM(B2:B4)")], dynamic=[
        ("A1", "=AGING(Factures[#All],Reglements[#All],DateArrete)"),
        ("A7", "=AGING(Factures[#All],Reglements[#All],DateArrete,,,FALSE)"),
    ])
    out = tmp_path / "out.xlsx"
    report = recalc(book, out)
    header = ["Code client", "Non échu", "1-30 j", "31-60 j", "61-90 j", "> 90 j", "Total",
              "Nb Non échu", "Nb 1-30 j", "Nb 31-60 j", "Nb 61-90 j", "Nb > 90 j", "Nb total"]
    # by hand: F1 paid; F2 250,50 due 15/10 (16 days late); F3 80 not due; F4 1 200 − 200 paid, due 19/09 (42 days)
    got = values(out)
    assert got[0][:13] == header
    assert got[1][:13] == ["C1", 80.0, 0.0, 0.0, 0.0, 0.0, 80.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    assert got[2][:13] == ["C2", 0.0, 250.5, 0.0, 0.0, 0.0, 250.5, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    assert got[3][:13] == ["C3", 0.0, 0.0, 1000.0, 0.0, 0.0, 1000.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0]
    assert got[4][:13] == ["Total", 80.0, 250.5, 1000.0, 0.0, 0.0, 1330.5, 1.0, 1.0, 1.0, 0.0, 0.0, 3.0]
    assert got[6][:13] == header and got[7][:7] == ["Total", 80.0, 250.5, 1000.0, 0.0, 0.0, 1330.5]
    assert got[9][0] == 80.0 + 0.0 + 0.0  # reads spilled cells B2:B4
    xml = sheet_xml(out)
    assert re.search(r'<c r="A1" cm="1" t="str"><f t="array" ref="A1:M5">AGING\(Factures\[#All\],Reglements\[#All\],DateArrete\)</f><v>Code client</v></c>', xml)
    assert '<f t="array" ref="A7:M8">' in xml
    assert "'Calc'!A10" not in report.engine_cells and "Calc!A10" in report.engine_cells
    # a second recalculation of the output is stable (old spilled values are no obstacle)
    again = recalc(out, tmp_path / "again.xlsx")
    assert again.values == report.values


def test_spill_areas_that_only_might_meet_are_ordered_by_what_they_spill(tmp_path):
    # The dashboard's top-10 layout: B1, C1, D1 spill down and read the table A10 spills below
    # them. D1 might spill anywhere to its right and below, over A10's columns too: counting
    # every cell it might fill, B1 and C1 would depend on D1, which depends on them.
    book = build(tmp_path / "b.xlsx", [("A1", "=1"), ("A2", "=2")], dynamic=[
        ("A10", "=IF(1,Factures[[N° facture]:[Montant TTC]])"),
        ("B1", "=LARGE($E$10:$E$1048576,A1:A2)"),
        ("C1", "=INDEX($A$10:$A$1048576,MATCH(B1:B2,$E$10:$E$1048576,0))"),  # one position per row
        ("D1", "=B1:B2*2"),
    ])
    out = tmp_path / "out.xlsx"
    report = recalc(book, out)
    got = values(out)
    assert [row[:4] for row in got[:2]] == [[1.0, 1200.0, "F4", 2400.0], [2.0, 250.5, "F2", 501.0]]
    assert [row[:5] for row in got[9:13]] == [[r[0], r[1], serial(r[2]), serial(r[3]), r[4]] for r in INVOICES]
    assert report.cells == 6
    again = recalc(out, tmp_path / "again.xlsx")  # now with the spill ranges stored in the file
    assert again.values == report.values


def test_a_real_cycle_through_a_spill_is_still_circular(tmp_path):
    book = build(tmp_path / "b.xlsx", [("B5", "=A1+1")], dynamic=[("A1", "=B5:B6*2")])
    with pytest.raises(InputError) as caught:
        recalc(book, tmp_path / "out.xlsx")
    assert [str(p) for p in caught.value.problems] == ["Calc!A1 : référence circulaire : Calc!A1 → Calc!B5 → Calc!A1"]


# --------------------------------------------------------------------------- the demo workbook

DEMO = Path(__file__).resolve().parent.parent / "xlsx" / "encaisse-demo.xlsx"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo.xlsx"
    report = recalc(DEMO, out)
    return out, report


def test_demo_cached_values_equal_the_engine_api(demo):
    import encaisse
    from encaisse.authoring import dashboard as board
    from encaisse import kpi

    out, report = demo
    ledger = encaisse.load_workbook(DEMO)
    inv, pay, bills, act, as_of = ledger.invoices, ledger.payments, ledger.payables, ledger.activity, ledger.params.as_of
    got = values(out, board.SHEET)
    kpis = [row[1] for row in got[board.KPI_FIRST_ROW:board.KPI_FIRST_ROW + len(board.KPIS)]]
    disputes = kpi.dispute_rate(inv, as_of)
    assert kpis == [
        kpi.dso(inv, pay, as_of), kpi.best_possible_dso(inv, pay, as_of), kpi.average_days_delinquent(inv, pay, as_of),
        kpi.cei(inv, pay, as_of), kpi.dpo(bills, act, as_of), kpi.dio(act, as_of), kpi.ccc(inv, pay, bills, act, as_of),
        kpi.recovery_rate(inv, pay, as_of), disputes.count, disputes.amount,
    ]
    aging = kpi.aging(inv, pay, as_of)
    amounts = len(aging.columns) // 2
    expected = [["Code client", *aging.columns[1:]]] + [
        [row[0], *(round(float(v), 2) for v in row[1:amounts + 1]), *(float(v) for v in row[amounts + 1:])]
        for row in aging.to_numpy(dtype=object).tolist()]
    spill = [row[:len(expected[0])] for row in got[board.BY_CUSTOMER_ROW:board.BY_CUSTOMER_ROW + len(expected)]]
    assert spill == expected
    assert got[board.AGING_ROW + 1][:len(expected[0])] == expected[-1]  # the Total line alone
    # standard formulas against the engine's own definitions
    headline = got[board.HEADLINE_ROW]
    assert headline[0] == ledger.params.bank_balance
    assert headline[2] == pytest.approx(kpi.operating_cash_flow(pay, bills, as_of, months=12)["net"].sum(), abs=1e-6)
    assert headline[4] == kpis[0]
    assert headline[6] == pytest.approx(kpi.gross_margin(act, as_of, days=365).rate, rel=1e-12)
    assert got[board.CHECK_ROW][1] == pytest.approx(kpis[6], abs=1e-9)
    # receipts and payables, activity: plain pandas over the same tables
    day = np.datetime64(as_of, "D")
    paid_on = pay["payment_date"].to_numpy(dtype="datetime64[D]")
    last_30 = (paid_on > day - 30) & (paid_on <= day)
    overdue = (bills["due_date"].to_numpy(dtype="datetime64[D]") <= day) & bills["paid_date"].isna().to_numpy()
    assert [r[1] for r in got[board.COLLECTION_ROW:board.COLLECTION_ROW + 3]] == pytest.approx(
        [pay["amount"].to_numpy()[last_30].sum(), bills["amount"].to_numpy()[overdue].sum(), float(overdue.sum())], rel=1e-12)
    months = act["month"].to_numpy(dtype="datetime64[D]")
    year = (months > day - 365) & (months <= day)
    sales, cogs, purchases = (act[c].to_numpy()[year].sum() for c in ("sales", "cogs", "purchases"))
    assert [r[1] for r in got[board.ACTIVITY_ROW:board.ACTIVITY_ROW + 4]] == pytest.approx(
        [sales, cogs, sales - cogs, purchases], rel=1e-12)
    customers = expected[1:-1]
    top = sorted(customers, key=lambda r: -r[6])[:board.TOP_N]
    names = dict(zip(ledger.customers["customer_id"], ledger.customers["name"]))
    rows = got[board.TOP_FIRST_ROW:board.TOP_FIRST_ROW + board.TOP_N]
    assert [r[1:5] for r in rows] == [[c[0], names[c[0]], c[6], c[5]] for c in top]
    assert report.warnings == ()


def test_demo_worklist_sheet_is_the_engines_worklist(demo):
    """« Relances du jour »: WORKLIST spills a header row and every action, as run_dunning ranks them."""
    import python_calamine

    import encaisse
    from encaisse.authoring import worklist_sheet
    from encaisse.dunning import run_dunning
    from encaisse.resources import DEFAULT_RULES_DIR
    from encaisse.rules import load

    out, _ = demo
    rows = python_calamine.CalamineWorkbook.from_path(str(out)).get_sheet_by_name(worklist_sheet.SHEET).to_python()
    table = [r for r in rows[worklist_sheet.ANCHOR_ROW:] if any(v not in ("", None) for v in r)]
    expected = run_dunning(encaisse.load_workbook(DEMO), load(DEFAULT_RULES_DIR)).worklist
    assert table[0][:4] == ["Rang", "Priorité", "Action", "Code client"]
    assert len(table) == len(expected) + 1
    got = [(int(r[0]), r[3], r[5], round(r[8], 2)) for r in table[1:]]
    assert got == [(int(a), c, s, round(m, 2)) for a, c, s, m in expected[["rank", "customer_id", "step", "amount_due"]].itertuples(index=False)]


def test_demo_forecast_sheet_and_its_chart_are_filled(demo):
    """The Prévision sheet's spilled FORECAST equals the engine's forecast, and the chart's caches hold the same figures."""
    import re as regex

    import encaisse
    from encaisse.cash import forecast
    from encaisse.rules import load

    out, _ = demo
    ledger = encaisse.load_workbook(DEMO)
    expected = forecast(ledger, load(DEMO.parent.parent / "rules"), ledger.params.as_of).table()
    grid = values(out, "Prévision")
    header, rows = grid[6], grid[7:20]
    assert header[:4] == ["Semaine", "Début", "Fin", "Encaissements clients"] and header[18] == "Alerte"
    assert [r[0] for r in rows] == expected["label"].tolist()
    assert [r[14] for r in rows] == [round(v, 2) for v in expected["closing_balance"]]
    assert [r[18] == "ALERTE" for r in rows] == expected["below_cushion"].tolist()
    first = expected["label"][expected["below_cushion"]].iloc[0]
    assert grid[3][0].startswith(f"Première semaine sous le coussin : {first} — solde ")
    chart = sheet_xml(out, "xl/charts/chart1.xml")
    caches = dict(regex.findall(r"<c:f>'Prévision'!\$(\w)\$8:\$\w\$20</c:f><c:(?:num|str)Cache>(.*?)</c:(?:num|str)Cache>", chart))
    labels = regex.findall(r"<c:v>([^<]*)</c:v>", caches["A"])
    assert labels == expected["label"].tolist()
    closing = [float(v) for v in regex.findall(r"<c:v>([^<]*)</c:v>", caches["O"])]
    assert closing == [round(v, 2) for v in expected["closing_balance"]]
    assert sheet_xml(DEMO, "xl/charts/chart1.xml").count("<c:pt ") == 0  # the template's chart had no values


def test_demo_untouched_parts(demo):
    out, _ = demo
    before, after = parts(DEMO), parts(out)
    assert list(before) == list(after)
    # the dashboard, « Relances du jour » (WORKLIST), the Prévision sheet and the cached values of its chart
    assert [k for k in before if before[k] != after[k]] == ["xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml",
                                                         "xl/worksheets/sheet3.xml", "xl/charts/chart1.xml"]


# --------------------------------------------------------------------------- LibreOffice

def _lo_or_skip():
    if lo_recalc.soffice() is None:
        reason = "LibreOffice (soffice) introuvable : vérification croisée non faite ; installez libreoffice-calc-nogui"
        print(reason)
        pytest.skip(reason)


def test_libreoffice_agrees_on_every_standard_cell(demo, tmp_path):
    _lo_or_skip()
    out, report = demo
    # LibreOffice recalculates the *input* (cached values 0) itself; ours come from encaisse recalc.
    theirs_path, _ = lo_recalc.recalculate(DEMO, tmp_path / "lo")
    from encaisse.authoring import dashboard as board

    ours, theirs = values(out, board.SHEET), values(theirs_path, board.SHEET)
    standard = sorted(set(report.values) - report.engine_cells)
    skipped = sorted(report.engine_cells)
    print(f"{len(standard)} cellules standard comparées ; {len(skipped)} cellules issues des fonctions encaisse non comparées : "
          + ", ".join(skipped[:20]) + (" ..." if len(skipped) > 20 else ""))
    assert len(standard) >= 15
    for name in standard:
        ref = name.split("!")[1]
        row, col = int(re.sub(r"[A-Z]", "", ref)) - 1, _col(ref)
        a, b = ours[row][col], theirs[row][col]
        if isinstance(a, float) and isinstance(b, float):
            assert a == pytest.approx(b, rel=1e-9, abs=1e-6), name
        else:
            assert a == b, name


def test_libreoffice_opens_the_output(demo, tmp_path):
    _lo_or_skip()
    import subprocess

    out, report = demo
    profile = tmp_path / "profile"
    done = subprocess.run([lo_recalc.soffice(), "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
                           "--convert-to", "xlsx", "--outdir", str(tmp_path / "lo"), str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    from encaisse.authoring import dashboard as board

    converted = calamine.CalamineWorkbook.from_path(str(tmp_path / "lo" / "demo.xlsx"))
    assert converted.sheet_names == calamine.CalamineWorkbook.from_path(str(out)).sheet_names
    theirs = values(tmp_path / "lo" / "demo.xlsx", board.SHEET)
    ours = values(out, board.SHEET)
    assert theirs[board.COLLECTION_ROW][0] == ours[board.COLLECTION_ROW][0]
    assert theirs[board.COLLECTION_ROW][1] == pytest.approx(ours[board.COLLECTION_ROW][1], rel=1e-12)  # a sum: LibreOffice adds in its own order
    # LibreOffice does not know the add-in's functions: it shows #NAME? where Excel with the add-in computes
    print(f"LibreOffice affiche #NAME? pour les fonctions encaisse, p. ex. DSO : {theirs[board.KPI_FIRST_ROW][1]!r}")


def _col(ref: str) -> int:
    letters = re.sub(r"[0-9]", "", ref)
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def test_rules_folder_goes_to_rule_based_functions(tmp_path):
    from encaisse.excel import FUNCTIONS

    formula = '=SCORE(Factures[#All],Reglements[#All],Clients[#All],DateArrete,"C1")'
    book = build(tmp_path / "b.xlsx", dynamic=[("A1", formula)])
    missing = tmp_path / "nulle-part"
    with pytest.raises(InputError) as caught:
        recalc(book, tmp_path / "out.xlsx", rules_dir=missing)
    assert [str(p) for p in caught.value.problems] == [f"Calc!A1 : SCORE : #VALEUR! {missing} : dossier de règles introuvable"]
    rules = Path(__file__).resolve().parent.parent / "rules"
    report = recalc(book, tmp_path / "out.xlsx", rules_dir=rules)
    expected = FUNCTIONS["SCORE"]([INVOICE_HEADERS, *INVOICES], [PAYMENT_HEADERS, *PAYMENTS],
                                  [["Code client", "Raison sociale"], ["C1", "Alpha SARL"], ["C2", "Bêta SA"], ["C3", "Gamma SAS"]],
                                  AS_OF, "C1", rules_dir=str(rules))
    assert report.values == {"Calc!A1": expected}


def test_output_folder_keeps_the_file_name(tmp_path, capsys):
    book = build(tmp_path / "b.xlsx", [("A1", "=SUM(Factures[Montant TTC])")])
    folder = tmp_path / "sortie"
    folder.mkdir()
    assert main(["recalc", str(book), "-o", str(folder)]) == 0
    assert values(folder / "b.xlsx")[0][0] == 1630.5
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"Recalcul de {book} : 1 cellule à formule évaluée (0 appel aux fonctions encaisse) en ")
    assert out[1] == f"Valeurs enregistrées dans {folder / 'b.xlsx'} (feuilles : Calc)."


def test_recalc_leaves_the_garbage_collector_as_it_found_it(tmp_path, capsys):
    """Only the console command, whose process ends right after, leaves the collector off."""
    import gc

    book = build(tmp_path / "gc.xlsx", [("A1", "=SUM(Factures[Montant TTC])")])
    assert gc.isenabled()
    recalc(book)
    assert gc.isenabled()
    assert main(["recalc", str(book)]) == 0
    assert gc.isenabled()
    gc.disable()
    try:
        recalc(book)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_formulas_in_a_big_data_sheet_are_found_and_evaluated(tmp_path):
    """A big sheet holding a table is first taken to hold data only; a formula found in it
    afterwards makes the whole book evaluated again, with that formula, before anything is written."""
    path = tmp_path / "data.xlsx"
    book = xlsxwriter.Workbook(str(path))
    calc = book.add_worksheet("Calc")
    data = book.add_worksheet("Données")
    rows = [[i, float(i % 97), float(i % 13)] for i in range(1, 4001)]
    data.add_table(0, 0, len(rows), 2, {"name": "Lignes", "columns": [{"header": h} for h in ("Ligne", "Montant", "Qté")],
                                        "data": rows})
    data.write_formula("E2", "=SUM(Lignes[Montant])")  # outside the table, cached value 0
    calc.write_formula("A1", "='Données'!E2*2")
    book.close()
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("xl/worksheets/sheet2.xml").file_size >= 256 * 1024  # a "data sheet"
    report = recalc(path)
    total = sum(r[1] for r in rows)  # by hand: 4 000 values of i mod 97
    assert report.cells == 2 and set(report.sheets) == {"Calc", "Données"}
    assert values(path, "Données")[1][4] == total
    assert values(path)[0][0] == 2 * total


def test_a_1904_date_system_book_is_refused_untouched(tmp_path, capsys):
    path = tmp_path / "mac.xlsx"
    book = xlsxwriter.Workbook(str(path), {"date_1904": True})
    sheet = book.add_worksheet("Calc")
    sheet.write_datetime("A1", AS_OF, book.add_format({"num_format": "dd/mm/yyyy"}))
    sheet.write_formula("A2", "=A1+1")
    book.close()
    before = parts(path)
    assert main(["recalc", str(path)]) == 1
    err = capsys.readouterr().err
    assert "mac.xlsx (xl/workbook.xml) : classeur au calendrier depuis 1904" in err
    assert parts(path) == before


def test_a_calculated_column_is_evaluated_as_one_and_each_cell_keeps_its_formula(tmp_path):
    """40 rows of =IF(B2>0,DateArrete-A2,"") (one array operation) beside a running total, which
    reads its own column and stays cell by cell; the values are those computed here by hand."""
    path = tmp_path / "colonne.xlsx"
    book = xlsxwriter.Workbook(str(path))
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    params = book.add_worksheet("Paramètres")
    params.write_datetime("B1", AS_OF, date)
    book.define_name("DateArrete", "=Paramètres!$B$1")
    sheet = book.add_worksheet("Data")
    sheet.write_row(0, 0, ["Échéance", "Montant", "Retard", "Cumul"])
    for r in range(1, 41):
        sheet.write_datetime(r, 0, AS_OF - dt.timedelta(days=r), date)
        sheet.write_number(r, 1, 0 if r % 5 == 0 else r * 10)
        sheet.write_formula(r, 2, f'=IF(B{r + 1}>0,DateArrete-A{r + 1},"")')
        sheet.write_formula(r, 3, f"=B{r + 1}" if r == 1 else f"=D{r}+B{r + 1}")
    sheet.write_formula(41, 2, "=SUM(C2:C41)")
    book.close()
    report = recalc(path, tmp_path / "out.xlsx")
    late = {r: ("" if r % 5 == 0 else float(r)) for r in range(1, 41)}
    for r in range(1, 41):
        assert report.values[f"Data!C{r + 1}"] == late[r]
    assert report.values["Data!D41"] == sum(r * 10 for r in range(1, 41) if r % 5)
    assert report.values["Data!C42"] == sum(v for v in late.values() if v != "")
    with zipfile.ZipFile(tmp_path / "out.xlsx") as zf:
        xml = zf.read("xl/worksheets/sheet2.xml").decode()
    assert '<f>IF(B2&gt;0,DateArrete-A2,"")</f>' in xml or "<f>IF(B2&gt;0,DateArrete-A2,&quot;&quot;)</f>" in xml
    assert xml.count("DateArrete-A") == 40  # every cell keeps its own formula


def test_row_and_column_without_argument_name_their_own_cell(tmp_path):
    book = build(tmp_path / "b.xlsx", [("C5", "=ROW()"), ("D7", "=COLUMN()*10+ROW()"), ("E2", '=IF(ROW()=2,"deux","autre")'),
                                       ("F3", '=LEN("ROW()")')])
    recalc(book)
    grid = values(book)
    assert (grid[4][2], grid[6][3], grid[1][4], grid[2][5]) == (5.0, 47.0, "deux", 5.0)


def test_an_empty_volatile_spill_marker_is_not_a_formula(tmp_path):
    """Excel writes <f ca="1"/> (no text) in the spilled cells of a volatile dynamic array: they are
    filled by the array's anchor, not refused as unreadable formulas."""
    book = build(tmp_path / "b.xlsx", [("A1", "=1+1"), ("B1", "=A1*3")])
    marked = tmp_path / "marque.xlsx"
    edit_part(book, marked, "xl/worksheets/sheet1.xml", (b'<c r="B1"><f>A1*3</f><v>0</v></c>', b'<c r="B1"><f ca="1"/><v>7</v></c>'))
    report = recalc(marked)
    assert report.cells == 1
    assert values(marked)[0][:2] == [2.0, 7.0]


def test_errors_stored_in_cells_are_errors_not_blanks(tmp_path):
    """A cell holding #N/A or #DIV/0! (the fast reader gives it as empty text) is an error for the formulas."""
    book = build(tmp_path / "b.xlsx", [("A1", "=NA()"), ("A2", "=1/0"), ("B1", "=ISERROR(A1)"), ("B2", '=IFERROR(A2,"erreur")'),
                                       ("B3", "=ISNA(A1)"), ("B4", '=COUNTIF(A1:A3,"#N/A")')])
    frozen = tmp_path / "fige.xlsx"
    edited = edit_part(book, frozen, "xl/worksheets/sheet1.xml",  # A1 and A2 become stored errors, no longer formulas
                       (b'<c r="A1"><f>NA()</f><v>0</v></c>', b'<c r="A1" t="e"><v>#N/A</v></c>'),
                       (b'<c r="A2"><f>1/0</f><v>0</v></c>', b'<c r="A2" t="e"><v>#DIV/0!</v></c>'))
    assert edited.count(b't="e"') == 2
    recalc(frozen)
    grid = values(frozen)
    assert (grid[0][1], grid[1][1], grid[2][1], grid[3][1]) == (True, "erreur", True, 1.0)


def test_excels_own_forecast_is_not_taken_for_encaisses(tmp_path):
    """FORECAST(x; known_y; known_x) is Excel's linear regression; encaisse's FORECAST takes the book's tables."""
    book = build(tmp_path / "b.xlsx", [("A1", "=2"), ("A2", "=4"), ("A3", "=6"), ("B1", "=1"), ("B2", "=2"), ("B3", "=3"),
                                       ("C1", "=FORECAST(5,A1:A3,B1:B3)")])
    recalc(book)
    assert values(book)[0][2] == 10.0


def test_base_conversions_with_places_as_excel_gives_them(tmp_path):
    book = build(tmp_path / "b.xlsx", [("A1", "=10"), ("A2", "=4"), ("B1", "=DEC2HEX(A1,A2)"), ("B2", "=DEC2BIN(-100,3)"),
                                       ("B3", "=DEC2BIN(9,2)"), ("B4", '=HEX2BIN("F",8)'), ("B5", '=HEX2DEC("FFFFFFFFFF")')])
    recalc(book)
    grid = values(book)
    assert [grid[i][1] for i in (0, 1, 3, 4)] == ["000A", "1110011100", "00001111", -1.0]
    assert "<v>#NUM!</v>" in sheet_xml(book)  # B3: the places cannot hold 1001


def test_random_functions_draw_a_warning(tmp_path):
    book = build(tmp_path / "b.xlsx", [("A1", "=RAND()"), ("A2", "=RANDBETWEEN(1,6)")])
    report = recalc(book)
    assert report.warnings == ("Calc!A1 : RAND() rend le résultat non reproductible ; chaque recalcul tire d'autres valeurs",
                               "Calc!A2 : RANDBETWEEN() rend le résultat non reproductible ; chaque recalcul tire d'autres valeurs")
    grid = values(book)
    assert 0 <= grid[0][0] < 1 and grid[1][0] in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)


def test_engine_and_ironcalc_values_flow_both_ways(tmp_path):
    # A1 by the engine; A2 and A3 by IronCalc from it; A4 by the engine from IronCalc's A3.
    book = build(tmp_path / "b.xlsx", [
        ("A1", "=DSO(Factures[#All],Reglements[#All],DateArrete)"),
        ("A2", "=A1*2"),
        ("A3", "=DateArrete-0"),
        ("A4", "=DSO(Factures[#All],Reglements[#All],A3)"),
        ("A5", "=A4=A1"),
    ])
    report = recalc(book, tmp_path / "out.xlsx")
    got = {k.split("!")[1]: v for k, v in report.values.items()}
    assert got["A2"] == 2 * got["A1"] and got["A3"] == serial(AS_OF) and got["A4"] == got["A1"] and got["A5"] is True
    assert report.engine_calls == 2
    assert {"Calc!A1", "Calc!A2", "Calc!A4", "Calc!A5"} <= report.engine_cells


def test_a_whole_row_spills_across_the_row(tmp_path):
    # Excel spills =Factures!1:1 over the 16 384 columns of the row, blanks as 0.
    book = build(tmp_path / "b.xlsx", dynamic=[("A2", "=Factures!1:1")])
    report = recalc(book, tmp_path / "out.xlsx")
    row = [report.values[f"Calc!{xl_col_to_name(c)}2"] for c in range(16384)]
    assert row[:len(INVOICE_HEADERS)] == INVOICE_HEADERS
    assert set(row[len(INVOICE_HEADERS):]) == {0.0}
    assert '<f t="array" ref="A2:XFD2">' in sheet_xml(tmp_path / "out.xlsx")


def test_a_few_formulas_over_big_tables_stay_with_the_library(tmp_path, monkeypatch):
    from encaisse.recalc import core

    loaded = []
    monkeypatch.setattr(core, "NativeBook", lambda path: loaded.append(path) or pytest.fail("IronCalc loaded"))
    monkeypatch.setattr(core, "_NATIVE_BYTES_PER_FORMULA", 10)  # as if the tables were big
    book = build(tmp_path / "b.xlsx", [("A1", "=SUM(Factures[Montant TTC])")])
    report = recalc(book, tmp_path / "out.xlsx")
    assert report.values == {"Calc!A1": 100.0 + 250.5 + 80.0 + 1200.0} and loaded == []


def test_formulas_filled_across_cells_are_compiled_once_and_read_their_own_cells(tmp_path, monkeypatch):
    import formulas

    from encaisse.recalc import core

    monkeypatch.setattr(core, "_NATIVE_BYTES_PER_FORMULA", 0)  # every formula by the library evaluator
    parsed = []
    ast = formulas.Parser.ast
    monkeypatch.setattr(formulas.Parser, "ast", lambda self, text, *a, **k: parsed.append(text) or ast(self, text, *a, **k))
    # Factures!E2:E5 hold 100, 250.5, 80 and 1200 (sum 1630.5).
    book = build(tmp_path / "b.xlsx", [
        ("A1", "=Factures!E2+Factures!$E$2"),  # the two references meet here, not below
        ("A2", "=Factures!E3+Factures!$E$2"),
        ("A3", "=Factures!E4+Factures!$E$2"),
        ("B1", "=SUM(Factures!E2:E3)"),
        ("B2", "=SUM(Factures!E3:E4)"),
        ("B3", "=SUM(Factures!E4:E5)"),
        ("C1", "=Factures!E3*1000+E3"),  # the same A1 text on two sheets
        ("C2", "=Factures!E4*1000+E4"),
        ("D1", "=SUM(Factures!E:E)+Factures!E2"),  # a whole column does not move
        ("D2", "=SUM(Factures!E:E)+Factures!E3"),
        ("E3", "=3"),
        ("E4", "=4"),
    ])
    report = recalc(book, tmp_path / "out.xlsx")
    assert {k.split("!")[1]: v for k, v in report.values.items()} == {
        "A1": 200.0, "A2": 350.5, "A3": 180.0,
        "B1": 350.5, "B2": 330.5, "B3": 1280.0,
        "C1": 250503.0, "C2": 80004.0,
        "D1": 1730.5, "D2": 1881.0,
        "E3": 3.0, "E4": 4.0,
    }
    # One parse per form: A1, A2 (A3 alike), B, C, D, and each constant.
    assert sorted(parsed) == sorted(["=Factures!E2+Factures!$E$2", "=Factures!E3+Factures!$E$2", "=SUM(Factures!E2:E3)",
                                     "=Factures!E3*1000+E3", "=SUM(Factures!E:E)+Factures!E2", "=3", "=4"])


def test_control_characters_are_stored_as_ooxml_escapes(tmp_path):
    # XML 1.0 cannot carry CHAR(1): Excel stores it as "_x0001_", and a literal "_x0041_" as
    # "_x005F_x0041_" (else a reader would decode it to "A").
    book = build(tmp_path / "b.xlsx", [("A1", "=CHAR(1)&\"a\""), ("A2", '="_x0041_"&CHAR(9)'), ("A3", "=UNICODE(A1)")])
    recalc(book)
    assert "<v>_x0001_a</v>" in sheet_xml(book) and "<v>_x005F_x0041_\t</v>" in sheet_xml(book)
    assert [row[0] for row in values(book)[:3]] == ["\x01a", "_x0041_\t", 1.0]


def test_names_are_read_as_excel_reads_them(tmp_path):
    # A name designating a range, used outside a function, is intersected with the formula's row;
    # a name's relative references are relative to the cell using it; a name may hold a formula.
    path = tmp_path / "names.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Calc")
    for r, (a, b) in enumerate([(1, 10), (2, 20), (3, 30)]):
        sheet.write_number(r, 0, a)
        sheet.write_number(r, 1, b)
    book.define_name("Liste", "=Calc!$A$1:$A$3")
    book.define_name("Taux", "=Calc!$B1")  # relative row: the row of the cell using it
    book.define_name("Double", "=Taux*2")
    book.define_name("Total", "=SUM(Liste)")
    for r in range(3):
        sheet.write_formula(r, 2, "=-Liste")
        sheet.write_formula(r, 3, "=Liste*100+B1:B3")
        sheet.write_formula(r, 4, "=Double+Total")
    book.close()
    recalc(path)
    got = [row[2:5] for row in values(path)[:3]]
    assert got == [[-1.0, 110.0, 26.0], [-2.0, 220.0, 46.0], [-3.0, 330.0, 66.0]]
    assert "<f>-Liste</f>" in sheet_xml(path)  # the file keeps its text


def test_a_spilled_index_of_a_whole_row_spills_the_row(tmp_path):
    book = build(tmp_path / "b.xlsx", [("H1", "=0")], dynamic=[("A1", "=INDEX(Factures!A2:F5,2,H1)"),
                                                                ("A3", "=INDEX(Factures!E2:E5,0,1)")])
    report = recalc(book, tmp_path / "out.xlsx")
    got = {k.split("!")[1]: v for k, v in report.values.items()}
    assert [got[f"{c}1"] for c in "ABEF"] == ["F2", "C2", 250.5, "prix"]
    assert [got[f"A{r}"] for r in range(3, 7)] == [100.0, 250.5, 80.0, 1200.0]


def test_names_written_out_only_where_they_are_names():
    from encaisse.recalc.native import inline_names
    from encaisse.workbook.package import DefinedName

    names = {"A": DefinedName("a", "Calc!$B$2:$C$3", None), "D": DefinedName("d", "Calc!$B$4", None),
             "EXT": DefinedName("ext", "[1]Feuil1!$A$1", None), "LOCAL": DefinedName("local", "Autre!$A$1", "Autre")}
    assert inline_names('D$18+A1+SUM(a)+IFERROR(#N/A,d)&"a"+ext+local+a(1)+A:A', "Calc", "C5", names) == \
        'D$18+A1+SUM(Calc!$B$2:$C$3)+IFERROR(#N/A,Calc!$B$4)&"a"+ext+local+a(1)+A:A'
    assert inline_names("D$18", "Calc", "C5", names) is None


def test_a_text_that_reads_like_an_error_stays_a_text(tmp_path):
    book = build(tmp_path / "b.xlsx", [("A1", '="#N/A"'), ("A2", "=ISERROR(A1)"), ("A3", "=1/0")])
    recalc(book)
    xml = sheet_xml(book)
    assert '<c r="A1" t="str"><f>"#N/A"</f><v>#N/A</v></c>' in xml and '<c r="A3" t="e">' in xml
    assert values(book)[1][0] is False
