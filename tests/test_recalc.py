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

from encaisse.cli import main
from encaisse.errors import InputError
from encaisse.recalc import recalc
from encaisse.xlsx_write import ErrorValue

import lo_recalc

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
