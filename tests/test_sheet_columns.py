"""A big table sheet read only in the columns its formulas read: the cut sheet, the guess of the
columns, and the recalculation's values with and without the cut (and when the guess falls short)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from xml.etree import ElementTree as ET

import pytest

from encaisse.recalc import reader as sheet_reader
from encaisse.recalc.scan import columns_read
from encaisse.workbook.package import read_package
from encaisse.workbook.sheet_columns import keep_columns, reader_package

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"

_ROWS = (
    b'<row r="1" spans="1:5"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="D1" t="inlineStr"><is><t>Montant</t></is></c></row>'
    b'<row r="2"><c r="A2"><v>1</v></c><c r="B2" s="1"><v>45600</v></c><c r="C2" t="inlineStr"><is><r><rPr><color rgb="FF0000"/>'
    b'<charset val="0"/></rPr><t>riche &lt;c r="D9"&gt;</t></r></is></c><c r="D2"><f>A2*2</f><v>2</v></c><c r="E2" t="e"><v>#N/A</v></c></row>'
    b'<row r="3"/>'
    b'<row r="4"><c r="B4" s="1"/><c r="C4" t="str"><f>""</f><v></v></c></row>'
    b'<row r="5"><c r="AA5"><v>7</v></c></row>'
)
_SHEET = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/'
          b'spreadsheetml/2006/main"><dimension ref="A1:AA5"/><sheetData>' + _ROWS + b'</sheetData><pageMargins left="0.7"/></worksheet>')


def _cells(xml: bytes) -> dict[str, bytes]:
    root = ET.fromstring(xml)
    return {c.get("r"): ET.tostring(c) for c in root.iter(f"{MAIN}c")}


def test_only_the_cells_of_the_kept_columns_stay_each_as_it_was():
    kept = keep_columns(_SHEET, frozenset({2, 4}))
    whole, cut = _cells(_SHEET), _cells(kept.xml)
    assert sorted(cut) == ["B1", "B2", "B4", "D1", "D2"]
    assert all(cut[ref] == whole[ref] for ref in cut)  # attributes, formulas, values unchanged
    root = ET.fromstring(kept.xml)
    assert [(r.get("r"), r.get("spans")) for r in root.iter(f"{MAIN}row")] == [("1", "1:5"), ("2", None), ("3", None), ("4", None), ("5", None)]
    assert kept.xml.startswith(_SHEET[:_SHEET.index(b"<sheetData>")]) and kept.xml.endswith(b'</sheetData><pageMargins left="0.7"/></worksheet>')
    assert (kept.rows, kept.cols) == (4, 4)  # the farthest kept cell: the reader's grid
    assert keep_columns(_SHEET, frozenset({27})).rows == 5
    assert _cells(keep_columns(_SHEET, frozenset({1, 2, 3, 4, 5, 27})).xml) == whole


def test_a_sheet_in_two_halves_holds_its_rows_once_each_around_the_same_start_and_end():
    from encaisse.workbook.sheet_columns import halves

    first, second = halves(_SHEET)
    rows = lambda xml: [r.get("r") for r in ET.fromstring(xml).iter(f"{MAIN}row")]  # noqa: E731
    assert rows(first) + rows(second) == ["1", "2", "3", "4", "5"] and rows(first) and rows(second)
    assert _cells(first) | _cells(second) == _cells(_SHEET)
    for half in (first, second):
        assert half.startswith(_SHEET[:_SHEET.index(b"<sheetData>") + 11]) and half.endswith(_SHEET[_SHEET.index(b"</sheetData>"):])
    assert halves(_SHEET.replace(_ROWS, b'<row r="1"><c r="A1"><v>1</v></c></row>')) is None  # one row: no middle


@pytest.mark.parametrize("change", [
    (b'<row r="3"/>', b'<row r="3"/><!-- <c r="D3"><v>9</v></c> -->'),  # a comment could hold a cell
    (b'<row r="3"/>', b'<row r="3"><c r="D3"><is><t><![CDATA[x]]></t></is></c></row>'),
    (b'<c r="A2">', b'<c s="0" r="A2">'),  # an attribute before the address
    (b'<c r="A2">', b'<c\tr="A2">'),
    (b'<row r="3"/>', b'<row r="3"><c><v>1</v></c></row>'),  # no address: the reader counts its place
])
def test_a_sheet_that_cannot_be_cut_safely_is_read_whole(change):
    assert keep_columns(_SHEET.replace(*change), frozenset({4})) is None


def test_a_sheet_with_a_namespace_prefix_is_read_whole():
    prefixed = _SHEET.replace(b"<worksheet xmlns=", b"<x:worksheet xmlns:x=").replace(b"</worksheet>", b"</x:worksheet>")
    assert keep_columns(prefixed, frozenset({4})) is None


def _book(path, rows: int, formula: str = '=IF(E{r}>0,DateArrete-D{r},"")', extra: tuple | None = None, summary: str | None = None,
          errors: bool = True):
    """A Factures table of seven columns with a calculated column (F) down `rows` rows, and every
    11th amount #N/A (`errors`); `extra`: (row, column, formula) written beyond the first rows;
    `summary`: a formula on a small sheet."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    params = book.add_worksheet("Paramètres")
    params.write("A1", "Date d'arrêté")
    params.write_datetime("B1", dt.datetime(2026, 9, 30), date)
    if summary:
        params.write_formula("B3", summary)
    book.define_name("DateArrete", "=Paramètres!$B$1")
    sheet = book.add_worksheet("Factures")
    sheet.add_table(0, 0, rows, 6, {"name": "Factures", "columns": [{"header": h} for h in (
        "N° facture", "Client", "Date facture", "Échéance", "Montant TTC", "Jours de retard", "Note")]})
    for r in range(1, rows + 1):
        sheet.write_string(r, 0, f"F{r}")
        sheet.write_string(r, 1, f"Client {r % 7} & fils")
        sheet.write_datetime(r, 2, dt.datetime(2026, 1, 1) + dt.timedelta(days=r % 200), date)
        sheet.write_datetime(r, 3, dt.datetime(2026, 2, 1) + dt.timedelta(days=r % 200), date)
        if errors and r % 11 == 0:
            sheet.write_formula(r, 4, "=NA()", None, "#N/A")  # an error stored in a column read
        else:
            sheet.write_number(r, 4, 0.0 if r % 5 == 0 else 100.0 + r)
        sheet.write_formula(r, 5, formula.format(r=r + 1))
        sheet.write_string(r, 6, "à relancer")
    if extra:
        sheet.write_formula(*extra)
    book.close()
    return path


def _recalc(path, out, monkeypatch, cut: bool):
    from encaisse.recalc import recalc

    monkeypatch.setattr(sheet_reader, "_CUT_SHEET", 0 if cut else 1 << 62)
    asked = []
    whole = sheet_reader.SheetReader.whole_grid
    monkeypatch.setattr(sheet_reader.SheetReader, "whole_grid", lambda self, sheet: asked.append(sheet) or whole(self, sheet))
    read = []
    cut_read = sheet_reader.SheetReader._read_columns
    monkeypatch.setattr(sheet_reader.SheetReader, "_read_columns", lambda self, sheet, columns: read.append(sorted(columns)) or cut_read(self, sheet, columns))
    return recalc(path, out), read, asked


@pytest.mark.parametrize("in_halves", [False, True])
def test_a_calculated_column_read_from_its_columns_gives_the_values_of_the_whole_sheet(tmp_path, monkeypatch, in_halves):
    monkeypatch.setattr(sheet_reader, "_HALVES_SHEET", 0 if in_halves else 1 << 62)  # two halves of rows read side by side
    path = _book(tmp_path / "factures.xlsx", 400, summary="=SUM(Factures[Montant TTC])+COUNTA(Factures!B2:B401)")
    report, read, asked = _recalc(path, tmp_path / "cut.xlsx", monkeypatch, cut=True)
    assert read == [[2, 4, 5]] and asked == []  # B (the summary), D and E read; A, C, F and G not
    whole, read_whole, _ = _recalc(path, tmp_path / "whole.xlsx", monkeypatch, cut=False)
    assert read_whole == []
    assert dict(report.values) == dict(whole.values)
    # by hand: due 01/02/2026 + r % 200 days, as of 30/09/2026 (241 days after 01/02); unpaid, error, paid
    assert report.values["Factures!F2"] == 241.0 - 1
    assert str(report.values["Factures!F12"]) == "#N/A" and report.values["Factures!F6"] == ""
    with zipfile.ZipFile(tmp_path / "cut.xlsx") as cut, zipfile.ZipFile(tmp_path / "whole.xlsx") as full:
        assert all(cut.read(name) == full.read(name) for name in full.namelist())


def test_a_column_the_guess_missed_is_read_with_the_whole_sheet(tmp_path, monkeypatch):
    # beyond the first rows (those looked at before reading), a formula reading column A and G,
    # evaluated by the library (alone, it is not worth loading the book in IronCalc)
    path = _book(tmp_path / "factures.xlsx", 3000, extra=(3002, 8, '=COUNTA(A2:A3001)&" "&G2'), errors=False)
    report, read, asked = _recalc(path, tmp_path / "cut.xlsx", monkeypatch, cut=True)
    assert read == [[4, 5]] and asked == ["Factures"]
    assert report.values["Factures!I3003"] == "3000 à relancer"
    whole, _, _ = _recalc(path, tmp_path / "whole.xlsx", monkeypatch, cut=False)
    assert dict(report.values) == dict(whole.values)


def test_a_table_taken_whole_is_read_whole(tmp_path, monkeypatch):
    path = _book(tmp_path / "factures.xlsx", 300, summary="=ROWS(Factures[#All])")
    report, read, asked = _recalc(path, tmp_path / "out.xlsx", monkeypatch, cut=True)
    assert read == [] and report.values["'Paramètres'!B3"] == 301.0


def test_the_reader_s_package_holds_what_calamine_needs_and_the_cut_sheet(tmp_path):
    import python_calamine

    path = _book(tmp_path / "factures.xlsx", 20)
    package = read_package(str(path))
    part = package.sheet("Factures").part
    with zipfile.ZipFile(path) as zf:
        kept = keep_columns(zf.read(part), frozenset({4, 5}))
        data = reader_package(zf, package.workbook_part, part, kept.xml)
    with zipfile.ZipFile(io.BytesIO(data)) as made:
        assert {"xl/workbook.xml", "xl/sharedStrings.xml", "xl/styles.xml", part} <= set(made.namelist())
        assert "xl/worksheets/sheet1.xml" not in made.namelist()  # the other sheets are left out
    rows = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("Factures").to_python(skip_empty_area=False)
    assert rows[1] == ["", "", "", dt.date(2026, 2, 2), 101.0]
    assert rows[0] == ["", "", "", "Échéance", "Montant TTC"]
    # without a shared string's cell (t="s"), the shared strings are left out: the reader parses them all
    no_header = kept.xml.replace(kept.xml[kept.xml.index(b'<row r="1"'):kept.xml.index(b'<row r="2"')], b"")
    with zipfile.ZipFile(path) as zf:
        data = reader_package(zf, package.workbook_part, part, no_header)
    with zipfile.ZipFile(io.BytesIO(data)) as made:
        assert "xl/sharedStrings.xml" not in made.namelist() and "xl/styles.xml" in made.namelist()
    rows = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_name("Factures").to_python(skip_empty_area=False)
    assert rows[1] == ["", "", "", dt.date(2026, 2, 2), 101.0]


def test_the_columns_formulas_read_are_guessed_from_their_texts():
    class Table:
        name, sheet, ref, columns, header_rows, totals_rows = "Factures", "Factures", "A1:G11", (
            "N° facture", "Client", "Date facture", "Échéance", "Montant TTC", "Jours de retard", "Note"), 1, 0
        bounds = (1, 1, 7, 11)

        def column_index(self, header):
            return next((i for i, c in enumerate(self.columns) if c.casefold() == header.strip().casefold()), None)

    class Name:
        def __init__(self, text):
            self.text = text

    class Package:
        tables = {"FACTURES": Table()}
        defined_names = {"DATEARRETE": Name("Paramètres!$B$1"), "ECHUES": Name("Factures!$D$2:$E$11"),
                         "DERNIERE": Name("OFFSET(Factures!$A$1,10,0)")}

        def name_range(self, name):
            return {"DATEARRETE": ("Paramètres", 2, 1, 2, 1), "ECHUES": ("Factures", 4, 2, 5, 11)}.get(name.upper())

    def guess(*formulas):
        found = columns_read(list(formulas), "Factures", Package())
        return None if found is None else sorted(found)

    own, other = "Factures", "Paramètres"
    assert guess((own, 'IF(E2>0,DateArrete-D2,"")')) == [4, 5]
    assert guess((own, "Factures[[#This Row],[Montant TTC]]*2"), (own, "[@Note]&[@[N° facture]]")) == [1, 5, 7]
    assert guess((other, "SUM(Factures!E:E)+'Factures'!$C$3+B1+LOG10(A1)")) == [3, 5]  # B1, A1: on Paramètres
    assert guess((other, "SUMIFS(Factures[Montant TTC],Factures[[Date facture]:[Échéance]],\">0\")")) == [3, 4, 5]
    assert guess((other, "SUM(Echues)")) == [4, 5]
    assert guess((own, 'IF(A2="x:A1",1,0)')) == [1]  # a string is not a reference
    for whole in ("ROWS(Factures[#All])", "SUM(Factures)", "INDIRECT(\"Factures!A\"&B1)", "SUM(A2:INDEX(B:B,5))",
                  "SUM(Factures!2:3)", "SUM(Derniere)", "Factures[[#This Row],[Inconnue]]"):
        assert guess((other, whole)) is None, whole


def test_a_sheet_that_cannot_be_cut_is_read_whole_with_the_small_sheets(tmp_path, monkeypatch):
    path = _book(tmp_path / "factures.xlsx", 300)
    monkeypatch.setattr(sheet_reader, "keep_columns", lambda data, columns: None)
    report, read, asked = _recalc(path, tmp_path / "out.xlsx", monkeypatch, cut=True)
    assert read == [[4, 5]] and asked == []
    whole, _, _ = _recalc(path, tmp_path / "whole.xlsx", monkeypatch, cut=False)
    assert dict(report.values) == dict(whole.values) and report.values["Factures!F2"] == 240.0


def test_a_settled_future_holds_the_result_or_the_error_and_a_cancelled_one_is_left():
    from concurrent.futures import Future

    done, failed, cancelled = Future(), Future(), Future()
    sheet_reader._settle(done, lambda: 42)
    sheet_reader._settle(done, lambda: 43)  # already done: left as it is
    sheet_reader._settle(failed, lambda: 1 / 0)
    cancelled.cancel()
    sheet_reader._settle(cancelled, lambda: 1)
    sheet_reader._settle(None, lambda: 1)
    assert done.result() == 42 and isinstance(failed.exception(), ZeroDivisionError) and cancelled.cancelled()


def test_a_big_sheet_of_many_unlike_formulas_is_read_whole_from_the_start(tmp_path, monkeypatch):
    import xlsxwriter

    from encaisse.recalc import recalc

    path = tmp_path / "modele.xlsx"
    functions = ("MAX", "MIN", "SUM", "AVERAGE", "PRODUCT", "MEDIAN", "COUNT", "COUNTA", "LCM", "GCD", "POWER", "MOD", "QUOTIENT",
                 "ROUND", "ROUNDUP", "ROUNDDOWN", "TRUNC", "ATAN2", "FLOOR.MATH", "CEILING.MATH")
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Modèle")
    sheet.add_table(0, 0, 40, 3, {"name": "Modele", "columns": [{"header": h} for h in ("A", "B", "C", "D")]})
    for r in range(1, 41):
        sheet.write_number(r, 0, r)
        sheet.write_number(r, 1, 2 * r)
        sheet.write_number(r, 2, 3 * r)
        # twenty kinds of formulas, each reading column A only: a model, not a calculated column
        sheet.write_formula(r, 3, f"={functions[r % 20]}(A{r + 1},{r})")
    book.close()
    monkeypatch.setattr(sheet_reader, "_CUT_SHEET", 0)
    read = []
    monkeypatch.setattr(sheet_reader.SheetReader, "_read_columns", lambda self, sheet, columns: read.append(columns))
    report = recalc(path, tmp_path / "out.xlsx")
    assert read == [] and report.values["'Modèle'!D3"] == 2.0 + 2 and report.values["'Modèle'!D5"] == 4.0 * 4  # SUM(A3,2), PRODUCT(A5,4)


def test_a_cut_reading_that_fails_leaves_nothing_waiting(tmp_path, monkeypatch):
    path = _book(tmp_path / "factures.xlsx", 300)

    def fails(self, sheet, columns):
        raise RuntimeError("lecture interrompue")

    monkeypatch.setattr(sheet_reader, "_CUT_SHEET", 0)
    monkeypatch.setattr(sheet_reader.SheetReader, "_read_columns", fails)
    from encaisse.recalc import recalc

    with pytest.raises(RuntimeError, match="lecture interrompue"):  # the reading's own error, not a hang
        recalc(path, tmp_path / "out.xlsx")
