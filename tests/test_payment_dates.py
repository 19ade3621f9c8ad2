"""Payment-date model (encaisse.cash.payment_dates) on hand-built frames, and its back-test on IBM data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from encaisse.cash import backtest
from encaisse.cash.payment_dates import (
    DEFAULT_SHRINKAGE,
    fit,
    naive_model,
    predict,
    settlement_dates,
    spread,
    week_edges,
)

D = pd.Timestamp


def frames(rows):
    """rows: (invoice_id, customer_id, due, paid or None, amount). Issued 30 days before due."""
    invoices = pd.DataFrame({
        "invoice_id": [r[0] for r in rows],
        "customer_id": [r[1] for r in rows],
        "issue_date": [D(r[2]) - pd.Timedelta(days=30) for r in rows],
        "due_date": [D(r[2]) for r in rows],
        "amount": [float(r[4]) for r in rows],
    })
    paid = [r for r in rows if r[3] is not None]
    payments = pd.DataFrame({
        "payment_date": [D(r[3]) for r in paid],
        "customer_id": [r[1] for r in paid],
        "invoice_id": [r[0] for r in paid],
        "amount": [float(r[4]) for r in paid],
    })
    return invoices, payments


def open_invoice(invoice_id, customer_id, due, amount=100.0):
    return pd.DataFrame({
        "invoice_id": [invoice_id], "customer_id": [customer_id],
        "issue_date": [D(due) - pd.Timedelta(days=30)], "due_date": [D(due)], "amount": [amount],
    })


def test_customer_always_ten_days_late_is_predicted_due_plus_ten():
    invoices, payments = frames([
        (f"F{i}", "A", f"2024-0{i}-10", f"2024-0{i}-20", 100) for i in range(1, 6)
    ])
    model = fit(invoices, payments, "2024-06-30")
    row = predict(model, open_invoice("N1", "A", "2024-08-01"), "2024-06-30").iloc[0]
    assert row["expected_date"] == D("2024-08-11")
    assert row["p10_date"] == row["p90_date"] == D("2024-08-11")  # no spread: always exactly 10 days


def test_customer_with_one_paid_invoice_is_shrunk_toward_overall_behaviour():
    # C and D: three invoices each, 4 days late; B: one invoice, 20 days late.
    rows = [(f"{c}{i}", c, f"2024-0{i}-10", f"2024-0{i}-14", 100) for c in "CD" for i in (1, 2, 3)]
    rows.append(("B1", "B", "2024-02-10", "2024-03-01", 100))
    invoices, payments = frames(rows)
    model = fit(invoices, payments, "2024-06-30")
    assert DEFAULT_SHRINKAGE == 3
    # overall lateness ≈ 4 (robust: the median, B's 20 barely moves it); B's own residual ≈ 16,
    # kept with weight n/(n+k) = 1/(1+3): 4 + 16/4 = 8 days (the model rounds to whole days).
    b = predict(model, open_invoice("N1", "B", "2024-08-01"), "2024-06-30").iloc[0]
    assert b["expected_date"] == D("2024-08-09")
    # C's residuals are 0: C stays at 4 days; a new customer gets the overall 4 days.
    c = predict(model, open_invoice("N2", "C", "2024-08-01"), "2024-06-30").iloc[0]
    new = predict(model, open_invoice("N3", "Z", "2024-08-01"), "2024-06-30").iloc[0]
    assert c["expected_date"] == new["expected_date"] == D("2024-08-05")
    # with k = 1 the single invoice keeps half its residual: 4 + 16/2 = 12
    loose = fit(invoices, payments, "2024-06-30", shrinkage=1.0)
    assert predict(loose, open_invoice("N1", "B", "2024-08-01"), "2024-06-30").iloc[0]["expected_date"] == D("2024-08-13")


def test_a_history_past_the_bound_keeps_each_customers_most_recent_invoices():
    # A: paid 30 days late in January–March, then 2 days late in April–June; B: always 5 days late.
    rows = [(f"A{i}", "A", f"2024-0{i}-10", f"2024-0{i + 1}-09", 100) for i in (1, 2, 3)]
    rows += [(f"A{i}", "A", f"2024-0{i}-10", f"2024-0{i}-12", 100) for i in (4, 5, 6)]
    rows += [(f"B{i}", "B", f"2024-0{i}-10", f"2024-0{i}-15", 100) for i in range(1, 7)]
    invoices, payments = frames(rows)
    whole = fit(invoices, payments, "2024-07-31")
    assert whole.n_paid == 12
    # bound 6 for 2 customers: each keeps its 3 latest settled invoices (A: 2 days late each)
    recent = fit(invoices, payments, "2024-07-31", max_history=6)
    assert recent.n_paid == 6
    # overall median of the 6 kept: (2 + 5) / 2 = 3.5 → A 3.5 − 1.5 × 3/6 = 2.75, B 3.5 + 1.5 × 3/6 = 4.25
    a = predict(recent, open_invoice("N1", "A", "2024-09-02"), "2024-07-31").iloc[0]
    b = predict(recent, open_invoice("N2", "B", "2024-09-02"), "2024-07-31").iloc[0]
    assert (a["expected_date"], b["expected_date"]) == (D("2024-09-05"), D("2024-09-06"))
    # on the whole history A's older lateness of 30 days still weighs: its median is (2 + 30) / 2 = 16
    assert predict(whole, open_invoice("N1", "A", "2024-09-02"), "2024-07-31").iloc[0]["expected_date"] > D("2024-09-10")


def test_overdue_invoice_is_never_predicted_before_the_day_after_as_of():
    invoices, payments = frames([(f"F{i}", "A", f"2024-0{i}-10", f"2024-0{i}-20", 100) for i in range(1, 6)])
    model = fit(invoices, payments, "2024-06-30")
    late = open_invoice("N1", "A", "2024-06-01")  # would be expected 11/06, already past
    row = predict(model, late, "2024-06-30").iloc[0]
    assert row["expected_date"] == row["p10_date"] == row["p90_date"] == D("2024-07-01")
    # the naive reference too
    assert predict(naive_model("2024-06-30"), late, "2024-06-30").iloc[0]["expected_date"] == D("2024-07-01")


def test_overdue_invoice_keeps_the_part_of_the_distribution_after_as_of():
    # lateness 0, 10, 20, 30, 40 days for one customer: an invoice 25 days overdue can only be paid
    # 30 or 40 days late (conditional), never earlier than as-of + 1.
    rows = [(f"F{i}", "A", f"2024-0{i}-01", (D(f"2024-0{i}-01") + pd.Timedelta(days=10 * (i - 1))).date().isoformat(), 100) for i in range(1, 6)]
    invoices, payments = frames(rows)
    model = fit(invoices, payments, "2024-08-31", shrinkage=0.0)
    as_of = D("2024-10-26")
    row = predict(model, open_invoice("N1", "A", "2024-10-01"), as_of).iloc[0]
    assert as_of < row["p10_date"] <= row["expected_date"] <= row["p90_date"]
    unconditional = predict(model, open_invoice("N1", "A", "2024-10-01"), "2024-08-31").iloc[0]
    assert unconditional["p10_date"] < as_of  # the condition did cut the distribution


def test_payments_after_as_of_are_ignored():
    rows = [(f"F{i}", "A", f"2024-0{i}-10", f"2024-0{i}-15", 100) for i in range(1, 5)]
    rows.append(("F9", "A", "2024-06-10", "2024-08-20", 100))  # paid 71 days late, after as-of
    invoices, payments = frames(rows)
    model = fit(invoices, payments, "2024-06-30")
    assert model.n_paid == 4
    row = predict(model, open_invoice("N1", "A", "2024-09-01"), "2024-06-30").iloc[0]
    assert row["expected_date"] == D("2024-09-06")
    without = fit(invoices, payments[payments["payment_date"] <= D("2024-06-30")], "2024-06-30")
    assert predict(without, open_invoice("N1", "A", "2024-09-01"), "2024-06-30").equals(
        predict(model, open_invoice("N1", "A", "2024-09-01"), "2024-06-30"))


def test_settlement_dates_count_instalments_up_to_as_of():
    invoices = pd.DataFrame({"invoice_id": ["F1", "F2", "F3"], "amount": [100.0, 50.0, 80.0]})
    payments = pd.DataFrame({
        "payment_date": [D("2024-01-05"), D("2024-01-20"), D("2024-01-07"), D("2024-01-09")],
        "customer_id": ["A"] * 4,
        "invoice_id": ["F1", "F1", "F2", None],
        "amount": [60.0, 40.0, 50.0, 80.0],
    })
    everything = settlement_dates(invoices, payments)
    assert list(everything) == [D("2024-01-20"), D("2024-01-07"), pd.NaT] or (
        everything.iloc[0] == D("2024-01-20") and everything.iloc[1] == D("2024-01-07") and pd.isna(everything.iloc[2]))
    early = settlement_dates(invoices, payments, "2024-01-10")
    assert pd.isna(early.iloc[0]) and early.iloc[1] == D("2024-01-07")


def test_attributes_dispute_and_channel_move_the_forecast():
    rows, disputes, channels = [], [], []
    for i in range(24):
        disputed, paper = i % 2 == 0, i % 3 == 0
        late = 2 + (10 if disputed else 0) + (5 if paper else 0)
        due = D("2024-01-01") + pd.Timedelta(days=7 * i)
        rows.append((f"F{i}", f"C{i % 4}", due.date().isoformat(), (due + pd.Timedelta(days=late)).date().isoformat(), 100))
        disputes.append("prix" if disputed else None)
        channels.append("papier" if paper else "électronique")
    invoices, payments = frames(rows)
    invoices["dispute"], invoices["channel"] = disputes, channels
    model = fit(invoices, payments, "2024-12-31")
    targets = pd.concat([open_invoice(f"N{j}", "C0", "2025-03-01") for j in range(4)], ignore_index=True)
    targets["dispute"] = ["prix", None, "prix", None]
    targets["channel"] = ["papier", "papier", "Électronique", None]
    got = (predict(model, targets, "2024-12-31")["expected_date"] - D("2025-03-01")).dt.days.tolist()
    # 2 + 10 if disputed + 5 if paper, within a day (the ridge pulls the coefficients a little toward 0)
    assert abs(got[0] - 17) <= 1 and abs(got[1] - 7) <= 1 and abs(got[2] - 12) <= 1
    assert 2 < got[3] < got[1]  # not disputed, channel unknown: between électronique (2) and papier (7)


def test_spread_puts_each_invoice_probability_in_weeks():
    rows = [(f"F{i}", "A", f"2024-0{i}-01", (D(f"2024-0{i}-01") + pd.Timedelta(days=3 * i)).date().isoformat(), 100) for i in range(1, 8)]
    invoices, payments = frames(rows)
    model = fit(invoices, payments, "2024-08-31")
    targets = pd.concat([open_invoice("N1", "A", "2024-09-10"), open_invoice("N2", "B", "2024-09-03")], ignore_index=True)
    probabilities = spread(model, targets, "2024-08-31", week_edges("2024-08-31", 12))
    assert probabilities.shape == (2, 12)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    naive = spread(naive_model("2024-08-31"), targets, "2024-08-31", week_edges("2024-08-31", 2))
    np.testing.assert_array_equal(naive, [[0.0, 1.0], [1.0, 0.0]])  # 10/09 in week 2, 03/09 in week 1


@pytest.fixture(scope="module")
def ibm():
    import ibm as ibm_adapter  # tests/ibm.py

    if not ibm_adapter.IBM_CSV.exists():
        pytest.skip("IBM data set absent")
    ledger = ibm_adapter.load_ibm()
    return ledger.invoices, ledger.payments, ledger.customers


def test_model_beats_naive_on_ibm_both_protocols(ibm):
    invoices, payments, customers = ibm
    model, naive = backtest.model_method(), backtest.naive_method
    # (a) on the invoices issued in the first quarter of 2013 (one fit per issue date)
    errors = {
        name: backtest.issue_date_backtest(invoices, payments, customers, method, "2013-01-01", "2013-03-31")["error"].abs().mean()
        for name, method in (("model", model), ("naive", naive))
    }
    assert errors["model"] < errors["naive"] - 3
    # (b) on every fourth Sunday of 2013
    sundays = backtest.sundays("2013-01-01", "2013-12-31")[::4]
    scores = {name: backtest.snapshot_backtest(invoices, payments, customers, method, sundays) for name, method in (("model", model), ("naive", naive))}
    assert scores["model"].wape < scores["naive"].wape - 0.08
    assert 0.65 < scores["model"].coverage < 0.9
