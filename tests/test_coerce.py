"""Header matching and cell conversion (encaisse.workbook.coerce), on values shaped like Excel ranges."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from encaisse.workbook.coerce import (
    coerce_amount,
    coerce_date,
    coerce_text,
    column_letter,
    frame_from_values,
    match_headers,
    to_dates,
    to_numbers,
    to_texts,
)
from encaisse.errors import Problem
from encaisse.tables import CUSTOMERS, INVOICES, PAYMENTS, Column, Table

NBSP, NNBSP = "\u00a0", "\u202f"


def days(values):
    converted, bad = to_dates(np.array(values, dtype=object))
    return [None if np.isnat(v) else str(v.astype("datetime64[D]")) for v in converted], bad.tolist()


# ------------------------------------------------------------------ dates


def test_dates_of_every_accepted_form():
    got, bad = days([
        46023,  # Excel serial of 2026-01-01
        46053.75,  # 2026-01-31 18:00 -> the day
        dt.datetime(2026, 2, 1, 13, 5),
        dt.date(2026, 2, 2),
        pd.Timestamp("2026-02-03 08:00"),
        "2026-01-31",
        "31/01/2026",
        "31/01/26",
        "31-01-2026",
        "31.01.2026",
        " 1/2/2026 ",
        "2026-03-04 00:00:00",
    ])
    assert got == [
        "2026-01-01", "2026-01-31", "2026-02-01", "2026-02-02", "2026-02-03", "2026-01-31",
        "2026-01-31", "2026-01-31", "2026-01-31", "2026-01-31", "2026-02-01", "2026-03-04",
    ]
    assert bad == [False] * 12


def test_excel_1900_serials_around_the_phantom_leap_day():
    got, bad = days([1, 59, 61, 25569, 2958465])
    assert got == ["1900-01-01", "1900-02-28", "1900-03-01", "1970-01-01", None]  # 9999-12-31 is beyond datetime64[ns]
    assert bad == [False, False, False, False, True]


def test_blank_date_cells_are_missing_not_bad():
    got, bad = days(["", None, "   ", np.nan, pd.NaT])
    assert got == [None] * 5
    assert bad == [False] * 5


def test_none_and_nan_among_datetimes_are_blank():
    # pandas infers "datetime" for datetimes mixed with None/NaN: they must still count as blank
    got, bad = days([dt.datetime(2026, 6, 1), None, np.nan, pd.Timestamp("2026-06-02")])
    assert got == ["2026-06-01", None, None, "2026-06-02"]
    assert bad == [False] * 4


def test_unreadable_dates_are_flagged():
    got, bad = days(["31/02/2026", "abc", True, -5, 0, "2026", dt.time(10, 0), "13/13/2026"])
    assert got == [None] * 8
    assert bad == [True] * 8


def test_date_column_fast_path_of_date_objects_keeps_blanks():
    values = np.array([dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(5)] + [""], dtype=object)
    converted, bad = to_dates(values)
    assert converted.dtype == np.dtype("datetime64[ns]")
    assert [str(v)[:10] for v in converted[:5]] == ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"]
    assert np.isnat(converted[5]) and not bad.any()


# ------------------------------------------------------------------ amounts


def test_amounts_of_every_accepted_form():
    numbers, bad = to_numbers(np.array([
        12, 12.5, "1 234,56", "1234,56 €", f"1{NBSP}234,56 €", f"1{NNBSP}234,56{NNBSP}€", "1 234,56 €",
        "-12,5", "1234.56", "1.234,56", "(12,50)", "+3", " 7 ", "0,5",
    ], dtype=object))
    assert numbers.tolist() == [12.0, 12.5, 1234.56, 1234.56, 1234.56, 1234.56, 1234.56, -12.5, 1234.56, 1234.56, -12.5, 3.0, 7.0, 0.5]
    assert not bad.any()


def test_bad_and_blank_amounts():
    numbers, bad = to_numbers(np.array(["abc", "12,5,3", "1e5", "nan", dt.date(2026, 1, 1), True, "", None, "  "], dtype=object))
    assert np.isnan(numbers).all()
    assert bad.tolist() == [True, True, True, True, True, True, False, False, False]


def test_percent_text_is_divided_by_100_as_excel_does():
    numbers, bad = to_numbers(np.array(["15 %", "2,5%", 0.15, "3"], dtype=object), percent=True)
    assert numbers.tolist() == [0.15, 0.025, 0.15, 3.0]
    assert not bad.any()
    numbers, bad = to_numbers(np.array(["2,15 %"], dtype=object))  # an amount is never a percentage
    assert bad.tolist() == [True]


# ------------------------------------------------------------------ text


def test_texts_strip_and_codes_lose_their_float_tail():
    texts = to_texts(np.array([1001.0, " C1 ", "", None, 12.5, 7, "  ", dt.date(2026, 1, 31), "0042"], dtype=object))
    assert str(texts.dtype) == "str"
    assert texts.tolist()[:2] == ["1001", "C1"]
    assert texts.isna().tolist() == [False, False, True, True, False, False, True, False, False]
    assert texts[[4, 5, 7, 8]].tolist() == ["12.5", "7", "31/01/2026", "0042"]


def test_single_cells():
    assert coerce_date("31/12/2026") == dt.date(2026, 12, 31)
    assert coerce_date(46387) == dt.date(2026, 12, 31)
    assert coerce_date("") is None
    assert coerce_amount("1 234,56 €") == 1234.56
    assert coerce_amount(None) is None
    assert coerce_text(123456789.0) == "123456789"
    assert coerce_text("  ") is None
    with pytest.raises(ValueError, match=r"^date « 31/02/2026 » illisible \(attendu : une date jj/mm/aaaa\)$"):
        coerce_date("31/02/2026")
    with pytest.raises(ValueError, match=r"^montant « abc » n'est pas un nombre$"):
        coerce_amount("abc")


def test_column_letters():
    assert [column_letter(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702)] == ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]


# ------------------------------------------------------------------ headers


def test_headers_match_french_english_aliases_spacing_accents_and_case():
    headers = ["  n°FACTURE ", "CUSTOMER_ID", "date de facture", "ECHEANCE", "Montant  T.T.C.", "autre chose", ""]
    found, problems = match_headers(headers, INVOICES)
    assert found == {"invoice_id": 0, "customer_id": 1, "issue_date": 2, "due_date": 3, "amount": 4}
    assert problems == []


def test_exact_header_wins_over_an_alias_and_a_column_twice_is_a_problem():
    # 'Date' is an alias of Date facture; 'Date facture' is its French header: both name the same column.
    found, problems = match_headers(["Date", "Date facture", "Échéance", "Date d'échéance"], INVOICES)
    assert found == {"issue_date": 1, "due_date": 2}
    assert problems == [
        (0, "colonne « Date facture » présente deux fois (en-têtes « Date facture » et « Date »)"),
        (3, "colonne « Échéance » présente deux fois (en-têtes « Échéance » et « Date d'échéance »)"),
    ]


def test_a_header_naming_two_columns_is_ambiguous():
    table = Table("T", "T", "t", (
        Column("a", "Alpha", "text", aliases=("lettre",)),
        Column("b", "Beta", "text", aliases=("lettre",)),
    ))
    found, problems = match_headers(["Lettre", "Alpha"], table)
    assert found == {"a": 1}
    assert problems == [(0, "en-tête « Lettre » ambigu : il correspond à « Alpha » et à « Beta »")]


# ------------------------------------------------------------------ whole ranges


RANGE = [
    ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC", "Litige"],
    [1001.0, "C1", 46023, "31/01/2026", "1 234,56 €", ""],
    ["F2", " C2 ", "2026-01-31", dt.datetime(2026, 2, 1, 13, 5), f"1{NNBSP}234,5", None],
    ["F3", "C3", "31/02/2026", "", "abc", "prix"],
    [None, "", "", "", "", ""],
    ["F4", "C3", "1/2/26", "05.03.2026", -12.5, " qualité "],
]


def test_frame_from_values_converts_and_names_real_cells():
    frame, problems = frame_from_values(RANGE, INVOICES, sheet="Factures", first_row=3, first_col=1)
    assert list(frame.columns) == [*INVOICES.keys, "row"]
    assert frame["invoice_id"].tolist() == ["1001", "F2", "F3", "F4"]
    assert frame["customer_id"].tolist() == ["C1", "C2", "C3", "C3"]
    assert frame["issue_date"].dt.strftime("%Y-%m-%d").fillna("-").tolist() == ["2026-01-01", "2026-01-31", "-", "2026-02-01"]
    assert frame["due_date"].dt.strftime("%Y-%m-%d").fillna("-").tolist() == ["2026-01-31", "2026-02-01", "-", "2026-03-05"]
    assert frame["amount"].fillna(0).tolist() == [1234.56, 1234.5, 0.0, -12.5]
    assert frame["dispute"].fillna("-").tolist() == ["-", "-", "prix", "qualité"]
    assert frame["row"].tolist() == [4, 5, 6, 8]  # the empty line (row 7) is dropped
    assert frame["currency"].isna().all() and frame["dispute_date"].isna().all()
    assert {k: str(t) for k, t in frame.dtypes.items()} == {
        "invoice_id": "str", "customer_id": "str", "issue_date": "datetime64[ns]", "due_date": "datetime64[ns]",
        "amount": "float64", "amount_excl_tax": "float64", "currency": "str", "dispute": "str",
        "dispute_date": "datetime64[ns]", "payment_plan": "str", "channel": "str", "row": "int64",
    }
    assert problems == [
        Problem("Factures!D6", "date « 31/02/2026 » illisible (attendu : une date jj/mm/aaaa)"),
        Problem("Factures!E6", "échéance manquante"),
        Problem("Factures!F6", "montant « abc » n'est pas un nombre"),
    ]


def test_frame_from_a_dataframe_equals_frame_from_rows():
    from_rows = frame_from_values(RANGE, INVOICES, sheet="Factures", first_row=3, first_col=1)
    from_frame = frame_from_values(pd.DataFrame(RANGE[1:], columns=RANGE[0]), INVOICES, sheet="Factures", first_row=3, first_col=1)
    pd.testing.assert_frame_equal(from_rows[0], from_frame[0])
    assert from_rows[1] == from_frame[1]


def test_without_sheet_problems_name_line_and_header():
    _, problems = frame_from_values(RANGE, INVOICES)
    assert [str(p) for p in problems] == [
        "Factures, ligne 4, colonne « Date facture » : date « 31/02/2026 » illisible (attendu : une date jj/mm/aaaa)",
        "Factures, ligne 4, colonne « Échéance » : échéance manquante",
        "Factures, ligne 4, colonne « Montant TTC » : montant « abc » n'est pas un nombre",
    ]


def test_missing_required_columns_list_the_headers_read():
    frame, problems = frame_from_values([["Date", "Code client", "Montant", "Mode"], ["2026-01-05", "C1", 10, "CB"]], PAYMENTS, sheet="Règlements")
    assert problems == []  # N° facture and N° règlement are optional in Règlements
    assert frame["invoice_id"].isna().all() and frame["method"].tolist() == ["CB"]
    _, problems = frame_from_values([["Code", "Ville"], ["C1", "Lyon"]], CUSTOMERS, sheet="Clients")
    assert [str(p) for p in problems] == ["Clients : colonne obligatoire « Raison sociale » absente (en-têtes lus : Code, Ville)"]


def test_empty_range_gives_an_empty_canonical_frame():
    frame, problems = frame_from_values([["Code client", "Raison sociale"]], CUSTOMERS)
    assert len(frame) == 0 and list(frame.columns) == [*CUSTOMERS.keys, "row"]
    assert problems == []
    assert str(frame["credit_limit"].dtype) == "float64"


def test_far_columns_get_two_letter_addresses():
    values = [["Code client", "Raison sociale", "Encours max"], ["C1", "Alpha", "beaucoup"]]
    _, problems = frame_from_values(values, CUSTOMERS, sheet="Clients", first_row=10, first_col=25)
    assert problems == [Problem("Clients!AB11", "montant « beaucoup » n'est pas un nombre")]


def test_ragged_rows_and_tuples_are_padded():
    values = [("Code client", "Raison sociale", "Segment"), ("C1", "Alpha"), ["C2", "Beta", "PME"]]
    frame, problems = frame_from_values(values, CUSTOMERS)
    assert problems == []
    assert frame["segment"].tolist()[1] == "PME" and pd.isna(frame["segment"].tolist()[0])
