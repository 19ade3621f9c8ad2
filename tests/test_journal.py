"""The Journal writer: rows spliced into the sheet, the table extended, every other part byte for byte."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import zipfile

import openpyxl
import pandas as pd
import pytest

from encaisse import journal
from encaisse.resources import DEMO_WORKBOOK
from encaisse.workbook import load_workbook

from letters_fixtures import write_book

ENTRIES = [
    journal.JournalEntry(dt.date(2026, 10, 31), "F-C1-1", "C1", "amiable", "email", "2026-10-31/C1-amiable.eml", "envoye"),
    journal.JournalEntry(dt.date(2026, 10, 31), "F-C1-2", "C1", "amiable", "email", "2026-10-31/C1-amiable.eml", "envoye"),
    journal.JournalEntry(dt.date(2026, 10, 31), "F-C2-1", "C2", "mise_en_demeure", "recommande", "2026-10-31/C2-mise_en_demeure.pdf", "genere"),
]


def _parts(path):
    with zipfile.ZipFile(path) as zf:
        return {info.filename: (info.CRC, info.compress_size, zf.read(info.filename)) for info in zf.infolist()}


def test_rows_appended_after_the_demo_journal_and_every_other_part_identical(tmp_path):
    book = tmp_path / "demo.xlsx"
    shutil.copy(DEMO_WORKBOOK, book)
    before = _parts(book)
    rows_before = len(load_workbook(book).journal)
    appended = journal.append(book, ENTRIES)
    after = _parts(book)
    assert (appended.first_row, appended.last_row) == (rows_before + 2, rows_before + 4)  # header is row 1
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"xl/worksheets/sheet10.xml", "xl/tables/table7.xml"}
    assert set(after) == set(before)
    table = after["xl/tables/table7.xml"][2].decode()
    assert f'ref="A1:G{rows_before + 4}"' in table and f'<autoFilter ref="A1:G{rows_before + 4}"/>' in table
    loaded = load_workbook(book).journal
    assert len(loaded) == rows_before + 3
    tail = loaded.tail(3)
    assert tail["invoice_id"].tolist() == ["F-C1-1", "F-C1-2", "F-C2-1"]
    assert tail["step"].tolist() == ["amiable", "amiable", "mise_en_demeure"]
    assert tail["channel"].tolist() == ["email", "email", "recommande"]
    assert tail["outcome"].tolist() == ["envoye", "envoye", "genere"]
    assert (tail["date"] == pd.Timestamp("2026-10-31")).all()


def test_the_template_blank_row_is_filled_first_and_cells_take_the_column_format(tmp_path):
    book = write_book(tmp_path / "b.xlsx")
    journal.append(book, ENTRIES[:1])
    sheet = openpyxl.load_workbook(book)["Journal"]
    assert sheet["A2"].value == dt.datetime(2026, 10, 31)
    assert sheet["A2"].number_format == "dd/mm/yyyy"
    assert [sheet.cell(2, c).value for c in range(2, 8)] == ["F-C1-1", "C1", "amiable", "email", "2026-10-31/C1-amiable.eml", "envoye"]
    assert sheet.tables["Journal"].ref == "A1:G2"
    journal.append(book, ENTRIES[1:])
    wb = openpyxl.load_workbook(book)
    assert wb["Journal"].tables["Journal"].ref == "A1:G4"
    assert [wb["Journal"].cell(r, 2).value for r in (2, 3, 4)] == ["F-C1-1", "F-C1-2", "F-C2-1"]


def test_text_is_data_in_the_sheet(tmp_path):
    book = write_book(tmp_path / "b.xlsx")
    nasty = journal.JournalEntry(dt.date(2026, 10, 31), "<F&1>", "=HYPERLINK(\"x\")", "amiable", "email", "a</t></is><v>1", "envoye")
    journal.append(book, [nasty])
    sheet = openpyxl.load_workbook(book)["Journal"]
    assert [sheet.cell(2, c).value for c in (2, 3, 6)] == ["<F&1>", "=HYPERLINK(\"x\")", "a</t></is><v>1"]
    assert sheet.cell(2, 3).data_type == "s"  # a text, not a formula


def test_done_on_counts_every_outcome_but_echec():
    frame = pd.DataFrame({
        "date": pd.to_datetime(["2026-10-31", "2026-10-31", "2026-10-30", "2026-10-31"]),
        "invoice_id": ["F1", "F2", "F3", "F4"], "customer_id": ["C1", "C2", "C3", None],
        "step": ["amiable", "ferme", "amiable", "courtoisie"], "channel": ["email"] * 4,
        "document": [None] * 4, "outcome": ["envoye", "echec", "envoye", "genere"],
    })
    invoices = pd.DataFrame({"invoice_id": ["F4"], "customer_id": ["C9"]})
    assert journal.done_on(frame, dt.date(2026, 10, 31), invoices) == {("C1", "amiable"), ("C9", "courtoisie")}


def test_workbook_open_elsewhere_is_a_clear_message(tmp_path, monkeypatch):
    from encaisse.errors import InputError
    from encaisse.workbook import append as append_module

    book = write_book(tmp_path / "b.xlsx")
    original = book.read_bytes()

    def locked(*args, **kwargs):
        raise PermissionError("verrouillé")

    monkeypatch.setattr(append_module, "write_package", locked)
    with pytest.raises(InputError, match="ouvert dans Excel"):
        journal.append(book, ENTRIES)
    assert book.read_bytes() == original


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice absent")
def test_libreoffice_reads_the_appended_rows(tmp_path):
    book = write_book(tmp_path / "b.xlsx")
    journal.append(book, ENTRIES)
    out = tmp_path / "csv"
    result = subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless", "--convert-to",
         "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1", "--outdir", str(out), str(book)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = (out / "b-Journal.csv").read_text(encoding="utf-8").splitlines()  # a date cell, in LibreOffice's en-US display
    assert lines[1:] == [
        "10/31/2026,F-C1-1,C1,amiable,email,2026-10-31/C1-amiable.eml,envoye",
        "10/31/2026,F-C1-2,C1,amiable,email,2026-10-31/C1-amiable.eml,envoye",
        "10/31/2026,F-C2-1,C2,mise_en_demeure,recommande,2026-10-31/C2-mise_en_demeure.pdf,genere",
    ]
