"""Receivables as of a date (SPEC's allocation rules): each allocation rule with hand-computed figures,
and the IBM late-payment data set against a plain computation."""

from __future__ import annotations

import csv
import datetime as dt

import pandas as pd
import pytest

import ibm as ibm_adapter  # tests/ibm.py (pytest puts tests/ on sys.path)
from frames import invoices, payments  # tests/frames.py
from encaisse.errors import InputError
from encaisse.ledger import customer_balances, open_items, receivables

D = pd.Timestamp


NO_PAYMENTS = payments()


def opens(items):
    return dict(zip(items["invoice_id"], items["open_amount"]))


def test_matched_payment_reduces_its_invoice_and_later_payments_do_not_count():
    inv = invoices(("F1", "C1", "2026-01-10", "2026-02-09", 1200.0), ("F2", "C1", "2026-01-20", "2026-02-19", 500.0))
    pay = payments(("2026-02-01", "C1", "F2", 200.0), ("2026-02-15", "C1", "F2", 100.0), ("2026-03-05", "C1", "F1", 1200.0))
    items = open_items(inv, pay, "2026-02-28")
    # F2: 500 − 200 − 100 = 200 (partial); F1's payment of 5 March is after the as-of date
    assert opens(items) == {"F1": 1200.0, "F2": 200.0}
    assert items["paid"].tolist() == [0.0, 200.0 + 100.0]
    # the same payment on the as-of day counts
    assert opens(open_items(inv, pay, "2026-03-05")) == {"F1": 0.0, "F2": 200.0}


def test_unmatched_payment_goes_to_oldest_open_invoices_first():
    # issue order F3 (1 Jan) < F1 (5 Jan, due 4 Feb) < F2 (5 Jan, due 20 Feb) ; F4 and F5 same dates: by number
    inv = invoices(
        ("F1", "C1", "2026-01-05", "2026-02-04", 100.0),
        ("F2", "C1", "2026-01-05", "2026-02-20", 100.0),
        ("F3", "C1", "2026-01-01", "2026-03-01", 100.0),
        ("F5", "C1", "2026-01-09", "2026-02-08", 100.0),
        ("F4", "C1", "2026-01-09", "2026-02-08", 100.0),
        ("G1", "C2", "2025-12-01", "2025-12-31", 100.0),
    )
    pay = payments(("2026-02-10", "C1", None, 330.0))
    items = open_items(inv, pay, "2026-02-28")
    # 330 → F3 100, F1 100, F2 100, F4 30 ; C2 untouched
    assert opens(items) == {"F1": 0.0, "F2": 0.0, "F3": 0.0, "F5": 100.0, "F4": 70.0, "G1": 100.0}
    assert items.loc[items["invoice_id"] == "F4", "paid"].item() == 30.0


def test_credit_note_reduces_oldest_open_invoices_and_is_not_a_row():
    inv = invoices(
        ("F1", "C1", "2026-01-05", "2026-02-04", 100.0),
        ("F2", "C1", "2026-01-15", "2026-02-14", 250.0),
        ("A1", "C1", "2026-02-01", "2026-02-01", -150.0),
    )
    items = open_items(inv, NO_PAYMENTS, "2026-02-28")
    assert opens(items) == {"F1": 0.0, "F2": 200.0}
    # before the credit note is issued it does not count
    assert opens(open_items(inv, NO_PAYMENTS, "2026-01-31")) == {"F1": 100.0, "F2": 250.0}


def test_overpayment_becomes_credit_applied_to_oldest_then_kept_as_credit():
    inv = invoices(
        ("F1", "C1", "2026-01-05", "2026-02-04", 100.0),
        ("F2", "C1", "2026-01-15", "2026-02-14", 80.0),
        ("F3", "C1", "2026-01-25", "2026-02-24", 60.0),
    )
    # F3 paid 200 for 60: 140 extra → F1 100, F2 40; nothing left
    items = open_items(inv, payments(("2026-02-01", "C1", "F3", 200.0)), "2026-02-28")
    assert opens(items) == {"F1": 0.0, "F2": 40.0, "F3": 0.0}
    assert (items["open_amount"] >= 0).all()
    # F3 paid 300 for 60: 240 extra → F1 100, F2 80, 60 left as credit
    pay = payments(("2026-02-01", "C1", "F3", 300.0))
    assert opens(open_items(inv, pay, "2026-02-28")) == {"F1": 0.0, "F2": 0.0, "F3": 0.0}
    balances = customer_balances(inv, pay, "2026-02-28")
    assert balances.to_dict("records") == [
        {"customer_id": "C1", "open_amount": 0.0, "overdue_amount": 0.0, "open_invoices": 0, "credit": 60.0, "balance": -60.0}
    ]


def test_pool_combines_overpayment_unmatched_payment_and_credit_note():
    inv = invoices(
        ("F1", "C1", "2026-01-10", "2026-02-09", 100.0),
        ("F2", "C1", "2026-02-10", "2026-03-12", 200.0, "prix"),
        ("F3", "C1", "2026-03-10", "2026-04-09", 300.0),
        ("A1", "C1", "2026-03-15", "2026-03-15", -50.0),
        ("F4", "C2", "2026-01-01", "2026-01-31", 80.0),
    )
    pay = payments(("2026-02-01", "C1", "F2", 250.0), ("2026-03-20", "C1", None, 30.0), ("2026-03-01", "C2", "F4", 100.0))
    items = open_items(inv, pay, "2026-03-31")
    # C1 pool = 50 (F2 overpaid) + 50 (credit note) + 30 (unmatched) = 130 → F1 100, F3 30
    assert opens(items) == {"F1": 0.0, "F2": 0.0, "F3": 270.0, "F4": 0.0}
    assert items["paid"].tolist() == [100.0, 250.0 - 50.0, 30.0, 80.0]
    assert items["dispute"].tolist()[1] == "prix"  # invoice columns pass through
    assert customer_balances(inv, pay, "2026-03-31").to_dict("records") == [
        {"customer_id": "C1", "open_amount": 270.0, "overdue_amount": 0.0, "open_invoices": 1, "credit": 0.0, "balance": 270.0},
        {"customer_id": "C2", "open_amount": 0.0, "overdue_amount": 0.0, "open_invoices": 0, "credit": 20.0, "balance": -20.0},
    ]


def test_invoices_issued_after_as_of_are_ignored_and_their_payments_are_credit():
    inv = invoices(
        ("F1", "C1", "2026-01-10", "2026-02-09", 100.0),
        ("F2", "C1", "2026-03-10", "2026-04-09", 400.0),
    )
    pay = payments(("2026-02-20", "C1", "F2", 400.0))  # deposit paid before the invoice
    items = open_items(inv, pay, "2026-02-28")
    assert opens(items) == {"F1": 0.0}
    assert customer_balances(inv, pay, "2026-02-28")[["customer_id", "credit", "balance"]].to_dict("records") == [
        {"customer_id": "C1", "credit": 300.0, "balance": -300.0}
    ]
    # once F2 is issued its payment is matched to it: F1 stays open
    assert opens(open_items(inv, pay, "2026-03-31")) == {"F1": 100.0, "F2": 0.0}


def test_days_past_due_are_calendar_days_negative_when_not_yet_due():
    inv = invoices(
        ("F1", "C1", "2026-01-01", "2026-01-31", 10.0),
        ("F2", "C1", "2026-02-15", "2026-03-17", 10.0),
        ("F3", "C1", "2026-02-20", "2026-02-28", 10.0),
    )
    items = open_items(inv, NO_PAYMENTS, dt.date(2026, 2, 28))
    assert items["days_past_due"].tolist() == [28, -17, 0]
    assert items.columns.tolist()[:8] == ["invoice_id", "customer_id", "issue_date", "due_date", "amount", "paid", "open_amount", "days_past_due"]


def test_empty_payments_and_missing_invoice_numbers():
    inv = invoices(("F1", "C1", "2026-01-01", "2026-01-31", 10.0))
    assert opens(open_items(inv, NO_PAYMENTS, "2026-02-01")) == {"F1": 10.0}
    assert opens(open_items(inv, None, "2026-02-01")) == {"F1": 10.0}
    pay = payments(("2026-01-15", "C1", pd.NA, 4.0))
    pay["invoice_id"] = pay["invoice_id"].astype("string")
    assert opens(open_items(inv, pay, "2026-02-01")) == {"F1": 6.0}
    empty = open_items(inv.iloc[:0], NO_PAYMENTS, "2026-02-01")
    assert len(empty) == 0 and "open_amount" in empty.columns
    assert customer_balances(inv.iloc[:0], NO_PAYMENTS, "2026-02-01").empty


def test_other_currency_refused_without_rate_and_converted_with_one():
    inv = invoices(("F1", "C1", "2026-01-01", "2026-01-31", 100.0), ("F2", "C1", "2026-01-02", "2026-02-01", 200.0))
    inv["currency"] = ["EUR", "USD"]
    inv["row"] = [2, 3]
    with pytest.raises(InputError) as error:
        open_items(inv, NO_PAYMENTS, "2026-02-28")
    assert "1 facture en USD (ligne 3) : indiquez un taux de change USD → EUR" in str(error.value)
    pay = payments(("2026-01-20", "C1", "F2", 50.0))  # 50 USD
    items = open_items(inv, pay, "2026-02-28", rates={"usd": 0.9})
    assert items["open_amount"].tolist() == [100.0, pytest.approx(150.0 * 0.9)]


# --- IBM late-payment data set ---------------------------------------------------------

IBM_CSV = ibm_adapter.IBM_CSV


def us_date(text):
    month, day, year = (int(part) for part in text.split("/"))
    return dt.date(year, month, day)


def plain_open_amounts(as_of):
    """Invoice open iff issued on or before as_of and settled after it (README of the data set)."""
    result = {}
    with IBM_CSV.open(newline="") as handle:
        for line in csv.DictReader(handle):
            if us_date(line["InvoiceDate"]) <= as_of and us_date(line["SettledDate"]) > as_of:
                result[line["invoiceNumber"]] = float(line["InvoiceAmount"])
    return result


@pytest.fixture(scope="module")
def ibm():
    return ibm_adapter.load_ibm()


@pytest.mark.parametrize("as_of", [dt.date(2013, 6, 30), dt.date(2012, 1, 31), dt.date(2012, 9, 15), dt.date(2013, 12, 31)])
def test_ibm_open_amounts_equal_plain_computation(ibm, as_of):
    items = open_items(ibm.invoices, ibm.payments, as_of)
    expected = plain_open_amounts(as_of)
    got = {k: v for k, v in zip(items["invoice_id"], items["open_amount"]) if v > 0}
    assert got == pytest.approx(expected)
    assert len(got) == len(expected)
    assert items["open_amount"].sum() == pytest.approx(sum(expected.values()))


def test_ibm_open_amounts_at_2013_06_30_figures(ibm):
    expected = plain_open_amounts(dt.date(2013, 6, 30))
    items = open_items(ibm.invoices, ibm.payments, "2013-06-30")
    assert int((items["open_amount"] > 0).sum()) == len(expected) == 84
    assert round(items["open_amount"].sum(), 2) == round(sum(expected.values()), 2) == 5119.85


def test_payment_without_customer_code_takes_its_invoice_customer_and_links_are_reusable():
    inv = invoices(("F1", "C1", "2026-01-10", "2026-02-09", 100.0), ("F2", "C1", "2026-03-10", "2026-04-09", 400.0))
    pay = payments(("2026-02-20", None, "F2", 150.0))  # names an invoice issued after the as-of date
    assert customer_balances(inv, pay, "2026-02-28")[["customer_id", "open_amount", "credit"]].to_dict("records") == [
        {"customer_id": "C1", "open_amount": 0.0, "credit": 50.0}
    ]
    from encaisse.ledger import link

    links = link(inv, pay)
    assert receivables(None, None, "2026-02-28", links=links).open_amount == 0.0
    assert receivables(None, None, "2026-03-31", links=links).open_amount == 100.0 + 250.0


def test_payments_find_their_invoice_by_the_exact_text_of_its_number():
    # distinct text numbers take the hashed lookup: each match is the same text, never a number
    # that only looks alike, a blank or a different type
    from encaisse.ledger import link

    inv = invoices(("1", "C1", "2026-01-10", "2026-02-09", 100.0), ("F 2", "C1", "2026-01-10", "2026-02-09", 200.0),
                   ("F3", "C2", "2026-01-10", "2026-02-09", 300.0))
    pay = payments(("2026-02-01", "C2", "".join(["F", "3"]), 10.0), ("2026-02-01", "C1", None, 20.0),
                   ("2026-02-01", "C1", "F2", 30.0), ("2026-02-01", "C1", "f3", 40.0), ("2026-02-01", "C1", 1, 50.0),
                   ("2026-02-01", "C1", "1", 60.0), ("2026-02-01", "C1", "F 2 ", 70.0))
    pay["invoice_id"] = pay["invoice_id"].astype(object)
    assert link(inv, pay).payment_invoice.tolist() == [2, -1, -1, -1, -1, 0, -1]


def test_duplicate_invoice_numbers_pay_the_first():
    inv = invoices(("F1", "C1", "2026-01-10", "2026-02-09", 100.0), ("F1", "C1", "2026-01-20", "2026-02-19", 300.0))
    items = open_items(inv, payments(("2026-02-01", "C1", "F1", 60.0)), "2026-02-28")
    assert items["open_amount"].tolist() == [40.0, 300.0]
