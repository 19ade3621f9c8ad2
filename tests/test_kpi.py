"""KPIs with exact figures: hand-computed cases, the seed's worked example, and the IBM data set
against a plain computation written here with the csv module and loops."""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import json

import pandas as pd
import pytest

import ibm as ibm_adapter  # tests/ibm.py
from frames import invoices, payments  # tests/frames.py
from encaisse.errors import EncaisseError, InputError
from encaisse.kpi import (
    aging,
    average_days_delinquent,
    best_possible_dso,
    cash_released,
    ccc,
    cei,
    conversion_cycle,
    dio,
    dispute_rate,
    dpo,
    dso,
    dunning_success_rate,
    gross_margin,
    kpi_summary,
    mean_days_late,
    mean_payment_delay,
    operating_cash_flow,
    recovery_rate,
    released_cash,
)
from encaisse.ledger import Ledger, receivables
from encaisse.tables import TABLES

NAN = float("nan")


def activity(*rows):
    """rows: (month, sales, purchases, cogs, inventory, opex)"""
    frame = pd.DataFrame(list(rows), columns=["month", "sales", "purchases", "cogs", "inventory", "opex"])
    frame["month"] = pd.to_datetime(frame["month"])
    return frame


def payables(*rows):
    """rows: (bill_id, supplier, issue, due, amount, paid_date or None)"""
    frame = pd.DataFrame(list(rows), columns=["bill_id", "supplier", "issue_date", "due_date", "amount", "paid_date"])
    for column in ("issue_date", "due_date", "paid_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


NO_PAYMENTS = payments()

# --- DSO -------------------------------------------------------------------------------

# June 100 000 (not yet due), May 90 000 (overdue), April 60 000 of which 17 200 paid, March 50 000 paid.
QUARTER = invoices(
    ("F03", "C1", "2026-03-10", "2026-04-09", 50_000.0),
    ("F04", "C1", "2026-04-10", "2026-05-10", 60_000.0),
    ("F05", "C2", "2026-05-10", "2026-06-09", 90_000.0),
    ("F06", "C2", "2026-06-10", "2026-07-10", 100_000.0),
)
QUARTER_PAYMENTS = payments(("2026-04-09", "C1", "F03", 50_000.0), ("2026-05-10", "C1", "F04", 17_200.0))


def test_dso_countback_walks_back_month_by_month():
    """AR at 30/06/2026 = 100 000 + 90 000 + 42 800 = 232 800.
    June (30 days): 232 800 ≥ 100 000 → AR 132 800, 30 days.
    May (31 days): 132 800 ≥ 90 000 → AR 42 800, 31 days.
    April (30 days): 42 800 < 60 000 → 42 800 / 60 000 × 30 = 21,4 days.
    DSO = 30 + 31 + 21,4 = 82,4 days."""
    assert dso(QUARTER, QUARTER_PAYMENTS, "2026-06-30") == pytest.approx(82.4, abs=1e-12)
    assert dso(QUARTER, QUARTER_PAYMENTS, "2026-06-30", method="countback") == pytest.approx(30 + 31 + 21.4)


def test_dso_period_bpdso_and_add():
    """Window (01/04, 30/06], 90 days: sales 60 000 + 90 000 + 100 000 = 250 000.
    DSO period = 232 800 / 250 000 × 90 = 83,808. Current AR = F06 100 000 (due 10/07):
    BPDSO = 100 000 / 250 000 × 90 = 36. ADD = count-back DSO − BPDSO = 82,4 − 36 = 46,4."""
    assert dso(QUARTER, QUARTER_PAYMENTS, "2026-06-30", method="period") == pytest.approx(83.808)
    assert best_possible_dso(QUARTER, QUARTER_PAYMENTS, "2026-06-30") == pytest.approx(36.0)
    assert average_days_delinquent(QUARTER, QUARTER_PAYMENTS, "2026-06-30") == pytest.approx(46.4)
    assert average_days_delinquent(QUARTER, QUARTER_PAYMENTS, "2026-06-30", method="period") == pytest.approx(83.808 - 36)
    # a window of 30 days: sales of June only = 100 000 → 232 800 / 100 000 × 30 = 69,84
    assert dso(QUARTER, QUARTER_PAYMENTS, "2026-06-30", method="period", days=30) == pytest.approx(69.84)


def test_dso_countback_mid_month_and_month_without_sales():
    """As of 15/06: June counts 15 days and has no sales; May 31 000 ; April 30 000, 15 000 open of it.
    AR = 31 000 + 15 000 = 46 000. June: 46 000 ≥ 0 → 15 days; May: 46 000 ≥ 31 000 → 31 days, AR 15 000;
    April: 15 000 / 30 000 × 30 = 15 days. DSO = 15 + 31 + 15 = 61."""
    inv = invoices(("F1", "C1", "2026-04-20", "2026-05-20", 30_000.0), ("F2", "C1", "2026-05-20", "2026-06-19", 31_000.0))
    pay = payments(("2026-05-25", "C1", "F1", 15_000.0))
    assert dso(inv, pay, "2026-06-15") == pytest.approx(61.0)


def test_dso_countback_when_receivables_exceed_every_recorded_sale():
    """As of 31/05: April net sales = 40 000 (C1) − 20 000 (C2's credit note, left as C2's credit) = 20 000;
    May has none. AR = 40 000 > 20 000 of recorded sales: May 31 days + April 30 days absorb 20 000;
    the 20 000 left count at the history's average daily sales 20 000 / 61 → 61 more days: 122."""
    inv = invoices(("F1", "C1", "2026-04-05", "2026-05-05", 40_000.0), ("A1", "C2", "2026-04-10", "2026-04-10", -20_000.0))
    assert receivables(inv, NO_PAYMENTS, "2026-05-31").open_amount == 40_000.0
    assert dso(inv, NO_PAYMENTS, "2026-05-31") == pytest.approx(122.0)


def test_dso_edge_cases_nothing_owed_no_sales_credit_notes():
    inv = invoices(("F1", "C1", "2026-01-05", "2026-02-04", 1_000.0))
    # nothing owed: 0 days, with or without sales in the window
    assert dso(inv, payments(("2026-01-20", "C1", "F1", 1_000.0)), "2026-06-30") == 0.0
    assert dso(inv.iloc[:0], NO_PAYMENTS, "2026-06-30", method="period") == 0.0
    assert dso(inv.iloc[:0], NO_PAYMENTS, "2026-06-30") == 0.0
    # owed but no sale in the 90-day window: undefined
    assert pd.isna(dso(inv, NO_PAYMENTS, "2026-06-30", method="period"))
    assert best_possible_dso(inv, NO_PAYMENTS, "2026-06-30") == 0.0  # no current AR → 0 days
    # count-back: June…February without sales, January 1 000: 30+31+30+31+28 + 31 = 181 days
    assert dso(inv, NO_PAYMENTS, "2026-06-30") == pytest.approx(181.0)
    # a credit note issued in June lowers June's sales and AR: AR 1 000 − 400 = 600; June 0 (net −400 taken as 0) …
    with_note = pd.concat([inv, invoices(("A1", "C1", "2026-06-02", "2026-06-02", -400.0))], ignore_index=True)
    assert receivables(with_note, NO_PAYMENTS, "2026-06-30").open_amount == 600.0
    assert dso(with_note, NO_PAYMENTS, "2026-06-30") == pytest.approx(30 + 31 + 30 + 31 + 28 + 600 / 1_000 * 31)


def test_dso_customer_credit_is_not_netted_against_other_customers():
    # C2 overpaid by 500: its credit is not deducted from C1's receivable
    inv = invoices(("F1", "C1", "2026-06-01", "2026-07-01", 3_000.0), ("F2", "C2", "2026-06-01", "2026-07-01", 1_000.0))
    pay = payments(("2026-06-10", "C2", "F2", 1_500.0))
    assert dso(inv, pay, "2026-06-30", method="period", days=30) == pytest.approx(3_000 / 4_000 * 30)


def test_other_currencies_refused_unless_rated():
    inv = QUARTER.assign(currency=["EUR", "EUR", "GBP", "EUR"])
    with pytest.raises(InputError, match="1 facture en GBP : indiquez un taux de change GBP → EUR"):
        dso(inv, QUARTER_PAYMENTS, "2026-06-30")
    # at 1 €/£ the figures are unchanged; at 2 €/£ May counts 180 000
    assert dso(inv, QUARTER_PAYMENTS, "2026-06-30", rates={"GBP": 1.0}) == pytest.approx(82.4)
    # AR 322 800: June 100 000 (30 d), May 180 000 (31 d), April 42 800 / 60 000 × 30
    assert dso(inv, QUARTER_PAYMENTS, "2026-06-30", rates={"GBP": 2.0}) == pytest.approx(82.4)
    with pytest.raises(InputError):
        dispute_rate(inv, "2026-06-30")


def test_precomputed_receivables_give_the_same_figures():
    book = receivables(QUARTER, QUARTER_PAYMENTS, "2026-06-30")
    assert dso(None, None, "2026-06-30", receivables=book) == pytest.approx(82.4)
    with pytest.raises(ValueError):
        dso(None, None, "2026-05-31", receivables=book)


# --- CEI -------------------------------------------------------------------------------

def test_cei_over_one_month():
    """Begin 31/05: AR 1 000 (A, due 31/05). June: B 3 000 issued (due 05/07), A paid 600.
    AR end = 400 + 3 000 = 3 400; current AR end = 3 000; S = 3 000 / 1.
    CEI = (1 000 + 3 000 − 3 400) / (1 000 + 3 000 − 3 000) = 600 / 1 000 = 0,60 (60 %)."""
    inv = invoices(("A", "C1", "2026-05-01", "2026-05-31", 1_000.0), ("B", "C1", "2026-06-05", "2026-07-05", 3_000.0))
    pay = payments(("2026-06-10", "C1", "A", 600.0))
    assert cei(inv, pay, "2026-06-30", months=1) == pytest.approx(0.60)
    # three months from 31/03 (no AR then): S = 4 000 / 3; denominator 4 000/3 − 3 000 < 0 → undefined
    assert pd.isna(cei(inv, pay, "2026-06-30"))


def test_cei_over_three_months():
    """Begin 31/03: Z 2 000 open. April, May, June: 3 000 invoiced each month (S = 9 000 / 3 = 3 000).
    End 30/06: May's 1 000 left (overdue) + June's 3 000 (not due) = 4 000, current 3 000.
    CEI = (2 000 + 3 000 − 4 000) / (2 000 + 3 000 − 3 000) = 0,50 (50 %)."""
    inv = invoices(
        ("Z", "C1", "2026-03-01", "2026-03-31", 2_000.0),
        ("F4", "C1", "2026-04-10", "2026-05-10", 3_000.0),
        ("F5", "C1", "2026-05-10", "2026-06-09", 3_000.0),
        ("F6", "C1", "2026-06-10", "2026-07-10", 3_000.0),
    )
    pay = payments(("2026-04-05", "C1", "Z", 2_000.0), ("2026-05-10", "C1", "F4", 3_000.0), ("2026-06-09", "C1", "F5", 2_000.0))
    assert cei(inv, pay, "2026-06-30") == pytest.approx(0.50)
    assert cei(inv, pay, "2026-06-30", months=3) == pytest.approx(0.50)
    assert pd.isna(cei(inv.iloc[:0], NO_PAYMENTS, "2026-06-30"))


# --- DPO, DIO, CCC, cash released, gross margin ---------------------------------------------

ACTIVITY = activity(
    ("2026-04-01", 80_000.0, 30_000.0, 27_000.0, 60_000.0, 10_000.0),
    ("2026-05-01", 80_000.0, 30_000.0, 27_000.0, 60_000.0, 10_000.0),
    ("2026-06-01", 90_000.0, 30_000.0, 27_000.0, 54_000.0, 10_000.0),
)
PAYABLES = payables(
    ("P1", "Acier SA", "2026-05-01", "2026-06-30", 12_000.0, "2026-07-10"),  # paid after as-of: open
    ("P2", "Acier SA", "2026-04-01", "2026-05-31", 12_000.0, "2026-06-01"),  # paid
    ("P3", "Loyer", "2026-06-20", "2026-07-20", 3_000.0, None),  # open
    ("P4", "Acier SA", "2026-07-05", "2026-08-04", 9_999.0, None),  # issued after as-of
)


def test_dpo_open_payables_over_window_purchases():
    # open 12 000 + 3 000 = 15 000; 30 days = June: 30 000 → 15 days
    assert dpo(PAYABLES, ACTIVITY, "2026-06-30", days=30) == pytest.approx(15.0)
    # 90 days = 02/04…30/06: April 29/30 × 30 000 + 30 000 + 30 000 = 89 000 → 15 000 / 89 000 × 90
    assert dpo(PAYABLES, ACTIVITY, "2026-06-30") == pytest.approx(15_000 / 89_000 * 90)
    assert dpo(PAYABLES.iloc[:0], ACTIVITY, "2026-06-30") == 0.0
    assert pd.isna(dpo(PAYABLES, ACTIVITY.iloc[:0], "2026-06-30"))


def test_dio_stock_of_as_of_month_over_window_cost_of_sales():
    assert dio(ACTIVITY, "2026-06-30", days=30) == pytest.approx(54_000 / 27_000 * 30)  # 60
    # 15/07 has no July row: June's stock; cost of sales 16/06…15/07 = 15/30 × 27 000 = 13 500 → 120 days
    assert dio(ACTIVITY, "2026-07-15", days=30) == pytest.approx(120.0)
    assert pd.isna(dio(ACTIVITY, "2026-03-31"))
    assert pd.isna(dio(ACTIVITY.iloc[:0], "2026-06-30"))


def test_ccc_is_dio_plus_dso_minus_dpo():
    # 60 + 82,4 − 15 = 127,4
    assert ccc(QUARTER, QUARTER_PAYMENTS, PAYABLES, ACTIVITY, "2026-06-30", days=30) == pytest.approx(127.4)


def test_seed_worked_example():
    """Seed: DSO 60, DPO 30, DIO 90 → cycle 120 days; after DSO 35, DPO 40, DIO 65 → 60 days (not « ≈ 65 »).
    Cash released = 25 × 50 000/30 + 25 × 30 000/30 + 10 × 30 000/30 = (1 250 000 + 750 000 + 300 000)/30
    = 76 666,67 €. Gross margin 50 000 − 30 000 = 20 000 €, 40 %."""
    assert conversion_cycle(dso=60, dpo=30, dio=90) == 120
    assert conversion_cycle(dso=35, dpo=40, dio=65) == 60
    released = released_cash(35 - 60, 40 - 30, 65 - 90, sales=50_000, purchases=30_000, cogs=30_000, days=30)
    assert released == pytest.approx(2_300_000 / 30)
    assert round(released, 2) == 76_666.67
    june = activity(("2026-06-01", 50_000.0, 30_000.0, 30_000.0, 90_000.0, 18_000.0))
    assert round(cash_released(june, "2026-06-30", -25, 10, -25, days=30), 2) == 76_666.67
    margin = gross_margin(june, "2026-06-30", days=30)
    assert (margin.sales, margin.cogs, margin.amount, margin.rate) == (50_000.0, 30_000.0, 20_000.0, 0.4)
    assert dio(june, "2026-06-30", days=30) == pytest.approx(90.0)
    assert pd.isna(gross_margin(june.iloc[:0], "2026-06-30").rate)


# --- aging -----------------------------------------------------------------------------

def test_aging_buckets_amounts_and_counts_per_customer_and_total():
    as_of = "2026-06-30"
    inv = invoices(
        ("F1", "C1", "2026-06-01", "2026-07-05", 100.0),  # −5: non échu
        ("F2", "C1", "2026-05-31", "2026-06-30", 200.0),  # 0: non échu
        ("F3", "C2", "2026-05-01", "2026-06-29", 300.0),  # 1
        ("F4", "C2", "2026-04-01", "2026-05-31", 400.0),  # 30
        ("F5", "C1", "2026-04-01", "2026-05-30", 500.0),  # 31
        ("F6", "C1", "2026-03-01", "2026-05-01", 600.0),  # 60, half paid
        ("F7", "C2", "2026-03-01", "2026-04-30", 700.0),  # 61
        ("F8", "C2", "2026-03-01", "2026-04-01", 800.0),  # 90
        ("F9", "C1", "2026-02-01", "2026-03-31", 900.0),  # 91
        ("F10", "C3", "2026-02-01", "2026-03-31", 50.0),  # paid: not in the aging
    )
    pay = payments(("2026-06-01", "C1", "F6", 300.0), ("2026-06-01", "C3", "F10", 50.0))
    table = aging(inv, pay, as_of)
    assert table.columns.tolist() == ["customer_id", "Non échu", "1-30 j", "31-60 j", "61-90 j", "> 90 j", "Total",
                                      "Nb Non échu", "Nb 1-30 j", "Nb 31-60 j", "Nb 61-90 j", "Nb > 90 j", "Nb total"]
    assert table.values.tolist() == [
        ["C1", 300.0, 0.0, 800.0, 0.0, 900.0, 2000.0, 2, 0, 2, 0, 1, 5],
        ["C2", 0.0, 700.0, 0.0, 1500.0, 0.0, 2200.0, 0, 2, 0, 2, 0, 4],
        ["Total", 300.0, 700.0, 800.0, 1500.0, 900.0, 4200.0, 2, 2, 2, 2, 1, 9],
    ]
    assert aging(inv, pay, as_of, per_customer=False).values.tolist() == [table.values.tolist()[-1]]
    # by invoice date with buckets 30/60/90: ages 29, 30, 60, 90, 90, 121, 121, 121, 149
    by_issue = aging(inv, pay, as_of, buckets=(30, 60, 90), by="issue_date", per_customer=False)
    assert by_issue.columns.tolist()[1:6] == ["≤ 30 j", "31-60 j", "61-90 j", "> 90 j", "Total"]
    assert by_issue.values.tolist() == [["Total", 300.0, 300.0, 900.0, 2700.0, 4200.0, 2, 1, 2, 4, 9]]
    empty = aging(inv.iloc[:0], NO_PAYMENTS, as_of)
    assert empty.values.tolist() == [["Total", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0, 0, 0]]
    with pytest.raises(ValueError, match="croissants"):
        aging(inv, pay, as_of, buckets=(30, 0))


# --- collection --------------------------------------------------------------------------

def test_recovery_rate_collected_over_falling_due():
    inv = invoices(
        ("F1", "C1", "2026-03-01", "2026-04-15", 1_000.0),  # due in window (01/04, 30/06]
        ("F2", "C1", "2026-04-01", "2026-05-31", 3_000.0),  # due in window
        ("F3", "C1", "2026-06-01", "2026-07-31", 5_000.0),  # due after
        ("A1", "C1", "2026-05-01", "2026-05-01", -500.0),  # credit note due in window
    )
    pay = payments(("2026-04-20", "C1", "F1", 1_000.0), ("2026-06-15", "C1", None, 1_200.0), ("2026-07-02", "C1", "F2", 1_300.0))
    # collected 1 000 + 1 200 = 2 200 ; due 1 000 + 3 000 − 500 = 3 500
    assert recovery_rate(inv, pay, "2026-06-30") == pytest.approx(2_200 / 3_500)
    assert pd.isna(recovery_rate(inv, pay, "2026-01-31"))


def test_dispute_rate_count_and_amount():
    inv = invoices(
        ("F1", "C1", "2026-06-01", "2026-07-01", 100.0, "prix", "2026-06-10"),
        ("F2", "C1", "2026-06-02", "2026-07-02", 300.0, "qualité", "2026-07-05"),  # disputed after as-of
        ("F3", "C1", "2026-06-03", "2026-07-03", 600.0, "  "),  # blank
        ("F4", "C2", "2025-01-03", "2025-02-03", 1_000.0, "prix"),  # outside 365 days
        ("A1", "C2", "2026-06-04", "2026-06-04", -50.0, "prix"),  # credit note: not an invoice
    )
    rate = dispute_rate(inv, "2026-06-30")
    assert (rate.count, rate.amount) == (pytest.approx(1 / 3), pytest.approx(100 / 1_000))
    everything = dispute_rate(inv, "2026-07-31", days=None)
    assert (everything.count, everything.amount) == (pytest.approx(3 / 4), pytest.approx(1_400 / 2_000))


def test_dunning_success_rate_with_a_fifteen_day_window():
    inv = invoices(
        ("F1", "C1", "2026-04-01", "2026-05-01", 1_000.0),
        ("F2", "C1", "2026-04-01", "2026-05-01", 1_000.0),
        ("F3", "C1", "2026-04-01", "2026-05-01", 1_000.0),
        ("F4", "C1", "2026-04-01", "2026-05-01", 1_000.0),
        ("F5", "C1", "2026-04-01", "2026-05-01", 1_000.0),
    )
    pay = payments(
        ("2026-05-10", "C1", "F1", 400.0), ("2026-05-20", "C1", "F1", 600.0),  # F1 fully paid 20/05 (reminded 05/05: 15 d → resolved)
        ("2026-05-25", "C1", "F2", 1_000.0),  # reminded 05/05, paid 20 days later: not resolved
        ("2026-05-10", "C1", "F3", 999.0),  # partial: not resolved
        ("2026-04-20", "C1", "F4", 1_000.0),  # paid before its reminder: left out
    )
    journal = pd.DataFrame({
        "date": pd.to_datetime(["2026-05-05", "2026-05-05", "2026-05-05", "2026-05-05", "2026-06-20"]),
        "invoice_id": ["F1", "F2", "F3", "F4", "F5"],  # F5's window ends 05/07, after the as-of date: left out
        "step": ["relance 1"] * 5,
    })
    assert dunning_success_rate(journal, inv, pay, "2026-06-30") == pytest.approx(1 / 3)
    assert dunning_success_rate(journal, inv, pay, "2026-06-30", window=20) == pytest.approx(2 / 3)
    assert pd.isna(dunning_success_rate(journal.iloc[:0], inv, pay, "2026-06-30"))


def test_mean_payment_delay_and_days_late_are_amount_weighted():
    inv = invoices(("F1", "C1", "2026-01-01", "2026-01-31", 1_000.0), ("F2", "C1", "2026-02-01", "2026-03-03", 3_000.0))
    pay = payments(
        ("2026-01-21", "C1", "F1", 1_000.0),  # delay 20, late 0
        ("2026-03-13", "C1", "F2", 3_000.0),  # delay 40, late 10
        ("2026-03-20", "C1", None, 500.0),  # unmatched: not dated against an invoice
    )
    assert mean_payment_delay(inv, pay, "2026-06-30") == pytest.approx((20 * 1_000 + 40 * 3_000) / 4_000)  # 35
    assert mean_days_late(inv, pay, "2026-06-30") == pytest.approx((0 * 1_000 + 10 * 3_000) / 4_000)  # 7.5
    assert pd.isna(mean_payment_delay(inv, NO_PAYMENTS, "2026-06-30"))


def test_operating_cash_flow_per_month():
    pay = payments(("2026-05-03", "C1", None, 1_000.0), ("2026-06-10", "C1", None, 2_500.0), ("2026-07-01", "C1", None, 9.0))
    flow = operating_cash_flow(pay, PAYABLES, "2026-06-30", months=3)
    assert flow["month"].dt.strftime("%Y-%m").tolist() == ["2026-04", "2026-05", "2026-06"]
    assert flow[["receipts", "disbursements", "net"]].values.tolist() == [[0.0, 0.0, 0.0], [1_000.0, 0.0, 1_000.0], [2_500.0, 12_000.0, -9_500.0]]


# --- summary ---------------------------------------------------------------------------

def ledger_of(**frames) -> Ledger:
    base = {table.attr: pd.DataFrame({key: [] for key in table.keys}) for table in TABLES}
    base.update(frames)
    return Ledger(**base)


def test_kpi_summary_has_every_kpi_by_function_name():
    book = ledger_of(invoices=QUARTER, payments=QUARTER_PAYMENTS, payables=PAYABLES, activity=ACTIVITY)
    summary = kpi_summary(book, "2026-06-30")
    json.dumps(summary)  # one JSON document
    assert list(summary) == ["as_of", "open_amount", "dso", "best_possible_dso", "average_days_delinquent", "cei", "dpo", "dio",
                             "ccc", "aging", "recovery_rate", "dispute_rate", "dunning_success_rate", "mean_payment_delay",
                             "mean_days_late", "gross_margin", "operating_cash_flow", "cash_released"]
    assert summary["open_amount"] == 232_800.0
    assert summary["dso"] == {"countback": pytest.approx(82.4), "period": pytest.approx(83.808)}
    assert summary["best_possible_dso"] == pytest.approx(36.0)
    assert summary["average_days_delinquent"] == pytest.approx(46.4)
    assert summary["dpo"] == pytest.approx(15_000 / 89_000 * 90)
    assert summary["ccc"] == pytest.approx(summary["dio"] + 82.4 - summary["dpo"])
    assert summary["aging"][-1] == {"bucket": "Total", "amount": 232_800.0, "count": 3}
    assert summary["dunning_success_rate"] is None
    # sales 80 000 × 29/30 + 80 000 + 90 000 over 90 days; DSO −15, DPO +10, DIO −20
    sales, purchases, cogs = 80_000 * 29 / 30 + 170_000, 89_000, 27_000 * 29 / 30 + 54_000
    assert summary["cash_released"]["amount"] == round((15 * sales + 10 * purchases + 20 * cogs) / 90, 2)
    with pytest.raises(EncaisseError, match="DateArrete"):
        kpi_summary(book)


# --- IBM late-payment data set, against a plain computation ---------------------------

def us_date(text):
    month, day, year = (int(part) for part in text.split("/"))
    return dt.date(year, month, day)


def ibm_rows():
    with ibm_adapter.IBM_CSV.open(newline="") as handle:
        return [
            {"issue": us_date(r["InvoiceDate"]), "due": us_date(r["DueDate"]), "settled": us_date(r["SettledDate"]),
             "amount": float(r["InvoiceAmount"]), "disputed": r["Disputed"] == "Yes"}
            for r in csv.DictReader(handle)
        ]


def plain_ar(rows, as_of):
    return sum(r["amount"] for r in rows if r["issue"] <= as_of < r["settled"])


def plain_dso_period(rows, as_of, days=90):
    start = as_of - dt.timedelta(days=days)
    sales = sum(r["amount"] for r in rows if start < r["issue"] <= as_of)
    return plain_ar(rows, as_of) / sales * days


def plain_dso_countback(rows, as_of):
    ar = plain_ar(rows, as_of)
    year, month, total = as_of.year, as_of.month, 0.0
    while True:
        sales = sum(r["amount"] for r in rows if r["issue"] <= as_of and (r["issue"].year, r["issue"].month) == (year, month))
        days = as_of.day if (year, month) == (as_of.year, as_of.month) else calendar.monthrange(year, month)[1]
        if ar >= sales:
            ar -= sales
            total += days
        else:
            return total + ar / sales * days
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)


def plain_aging(rows, as_of):
    buckets = [0.0] * 5
    counts = [0] * 5
    for r in rows:
        if r["issue"] <= as_of < r["settled"]:
            late = (as_of - r["due"]).days
            k = 0 if late <= 0 else 1 if late <= 30 else 2 if late <= 60 else 3 if late <= 90 else 4
            buckets[k] += r["amount"]
            counts[k] += 1
    return buckets, counts


def plain_dispute_rate(rows, as_of, days=365):
    start = as_of - dt.timedelta(days=days)
    issued = [r for r in rows if start < r["issue"] <= as_of]
    disputed = [r for r in issued if r["disputed"]]
    return len(disputed) / len(issued), sum(r["amount"] for r in disputed) / sum(r["amount"] for r in issued)


@pytest.fixture(scope="module")
def ibm():
    return ibm_adapter.load_ibm(), ibm_rows()


IBM_DATES = [dt.date(2012, 6, 30), dt.date(2012, 12, 15), dt.date(2013, 3, 31), dt.date(2013, 6, 30), dt.date(2013, 11, 30)]


@pytest.mark.parametrize("as_of", IBM_DATES)
def test_ibm_kpis_equal_plain_computation(ibm, as_of):
    ledger, rows = ibm
    book = receivables(ledger.invoices, ledger.payments, as_of)
    assert book.open_amount == pytest.approx(plain_ar(rows, as_of))
    assert dso(None, None, as_of, "period", receivables=book) == pytest.approx(plain_dso_period(rows, as_of))
    assert dso(None, None, as_of, receivables=book) == pytest.approx(plain_dso_countback(rows, as_of))
    table = aging(None, None, as_of, per_customer=False, receivables=book)
    amounts, counts = plain_aging(rows, as_of)
    assert table.iloc[0, 1:6].tolist() == pytest.approx(amounts)
    assert table.iloc[0, 7:12].tolist() == counts
    count_rate, amount_rate = plain_dispute_rate(rows, as_of)
    rate = dispute_rate(ledger.invoices, as_of)
    assert (rate.count, rate.amount) == (pytest.approx(count_rate), pytest.approx(amount_rate))


def test_ibm_figures_at_2013_06_30(ibm):
    ledger, rows = ibm
    summary = kpi_summary(ledger, "2013-06-30")
    assert summary["open_amount"] == 5_119.85
    assert summary["aging"][0] == {"bucket": "Non échu", "amount": 4_284.29, "count": 72}
    assert summary["aging"][1] == {"bucket": "1-30 j", "amount": 835.56, "count": 12}
    assert summary["dso"]["period"] == pytest.approx(plain_dso_period(rows, dt.date(2013, 6, 30)))
