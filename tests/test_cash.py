"""The 13-week cash forecast on a ledger built by hand, every weekly figure worked out below.

As-of Wednesday 28/01/2026: the weeks are Thu 29/01–Sun 01/02 (days 1–4 after the as-of date,
S05, partial), 02/02–08/02 (days 5–11), 09/02–15/02 (12–18), 16/02–22/02 (19–25), 23/02–01/03 (26–32).

Customer C1 always paid exactly 5 days after the due date (three invoices), so every prediction
error of the history is 0: an open invoice is paid on its due date + 5 days, on all of its K
days, and the P10–P90 band is the forecast itself.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from encaisse.cash import Levers, assemble, forecast, make_weeks, prepare
from encaisse.cash.actions import cash_released, rank_actions
from encaisse.cash.outflows import occurrences
from encaisse.ledger import Ledger, Params
from encaisse.resources import DEFAULT_RULES_DIR
from encaisse.rules import load
from frames import invoices as invoice_frame, payments as payment_frame

AS_OF = "2026-01-28"


def _invoices():
    frame = invoice_frame(
        # history: C1 pays 5 days late
        ("F01", "C1", "2025-10-01", "2025-10-31", 100.0),
        ("F02", "C1", "2025-11-01", "2025-12-01", 100.0),
        ("F03", "C1", "2025-12-01", "2025-12-31", 100.0),
        # open
        ("F10", "C1", "2026-01-10", "2026-02-09", 1000.0),  # partly paid: 600 left, paid 14/02 (day 17)
        ("F11", "C1", "2026-01-01", "2026-01-25", 800.0),  # overdue by 3 days: 30/01 (day 2), never before the as-of date
        ("F12", "C1", "2026-01-05", "2026-02-04", 500.0),  # its payment of 20/02 is after the as-of date: 09/02 (day 12)
        ("F13", "C1", "2026-01-02", "2026-01-31", 300.0, "prix", "2026-01-26"),  # dispute: not before 26/01 + 8 + 7 = 10/02
        ("F14", "C2", "2025-11-15", "2025-12-15", 900.0),  # payment plan ECH-1 (400 received on 10/01)
        ("F15", "C2", "2025-11-15", "2025-12-15", 300.0),  # payment plan ECH-1
        ("F16", "C3", "2025-08-01", "2025-09-01", 700.0),  # 149 days overdue: doubtful
    )
    frame["payment_plan"] = [None] * 7 + ["ECH-1", "ECH-1", None]
    return frame


def _payments():
    return payment_frame(
        ("2025-11-05", "C1", "F01", 100.0),
        ("2025-12-06", "C1", "F02", 100.0),
        ("2026-01-05", "C1", "F03", 100.0),
        ("2026-01-20", "C1", "F10", 400.0),
        ("2026-02-20", "C1", "F12", 500.0),  # after the as-of date: ignored (it would make C1 a late payer)
        ("2026-01-10", "C2", "F14", 400.0),
    )


def _payables():
    frame = pd.DataFrame([
        ("B1", "Fournisseur", "2026-01-05", "2026-02-04", 1200.0, "autre", None),  # Wednesday -> Monday 09/02
        ("B2", "DGFiP", "2026-01-05", "2026-02-04", 300.0, "fiscal", None),  # fiscal: at its due date
        ("B3", "Personnel", "2026-01-30", "2026-01-30", 3000.0, "salaires", None),  # issued after as-of: not yet known
        ("B4", "Personnel", "2026-01-28", "2026-01-30", 2500.0, "salaires", None),  # salaries: Friday 30/01, not moved
        ("B5", "Fournisseur", "2026-01-02", "2026-01-30", 250.0, "fournisseur critique", "2026-02-02"),  # paid after as-of: open
        ("B6", "Fournisseur", "2026-01-02", "2026-01-20", 999.0, "autre", "2026-01-22"),  # paid: gone
    ], columns=["bill_id", "supplier", "issue_date", "due_date", "amount", "priority", "paid_date"])
    for column in ("issue_date", "due_date", "paid_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def _flows():
    frame = pd.DataFrame([
        ("Loyer", "loyer", 1000.0, "décaissement", "mensuel", "2026-01-31"),  # 31/01 and 28/02
        ("TVA", "tva", 2000.0, "décaissement", "trimestriel", "2025-11-20"),  # 20/11 is past; 20/02, then 20/05
        ("Emprunt", "financement", 800.0, "décaissement", "mensuel", "2026-02-10"),
        ("Subvention", "subvention", 500.0, "encaissement", "annuel", "2026-02-15"),
    ], columns=["label", "category", "amount", "direction", "frequency", "next_date"])
    frame["next_date"] = pd.to_datetime(frame["next_date"])
    return frame


def _activity():
    months = pd.to_datetime(["2025-11-01", "2025-12-01", "2026-01-01"])
    return pd.DataFrame({"month": months, "sales": 3000.0, "purchases": 1500.0, "cogs": 1500.0, "inventory": 1000.0, "opex": 2000.0})


def _ledger():
    empty = pd.DataFrame()
    return Ledger(_invoices(), _payments(), pd.DataFrame({"customer_id": ["C1", "C2", "C3"]}), _payables(), _activity(), _flows(), empty,
                  Params(as_of=dt.date(2026, 1, 28), bank_balance=10_000.0))


@pytest.fixture(scope="module")
def rules():
    default = load(DEFAULT_RULES_DIR)
    return replace(default, cash=replace(default.cash, future_sales=False, cushion_months=2.0))


def test_weeks_are_iso_weeks_from_the_day_after_as_of():
    weeks = make_weeks(np.datetime64(AS_OF), 5)
    assert weeks.edges.tolist() == [1, 5, 12, 19, 26, 33]
    assert weeks.labels == ("S05 · 29/01–01/02", "S06 · 02/02–08/02", "S07 · 09/02–15/02", "S08 · 16/02–22/02", "S09 · 23/02–01/03")
    sunday = make_weeks(np.datetime64("2026-02-01"), 2)  # as-of on a Sunday: the first week is whole
    assert sunday.labels == ("S06 · 02/02–08/02", "S07 · 09/02–15/02")


def test_monthly_flow_on_the_31st_falls_on_the_last_day_of_shorter_months():
    days = occurrences(np.datetime64("2026-01-31"), 1, np.datetime64("2026-05-31"))
    assert [str(d) for d in days] == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]
    quarterly = occurrences(np.datetime64("2025-11-30"), 3, np.datetime64("2026-08-31"))
    assert [str(d) for d in quarterly] == ["2025-11-30", "2026-02-28", "2026-05-30", "2026-08-30"]
    assert [str(d) for d in occurrences(np.datetime64("2026-02-03"), 0, np.datetime64("2026-02-17"))] == ["2026-02-03", "2026-02-10", "2026-02-17"]


def test_weekly_lines_closing_balance_and_alerts_by_hand(rules):
    result = forecast(_ledger(), rules, AS_OF, weeks=5)
    table = result.table()
    # customer receipts: F11 800 on day 2; F10 600 (day 17) + F12 500 (day 12) + F13 300 (floor day 13)
    # + the plan's first instalment (800 left in 3 − 1 = 2 instalments: 400 on 10/01 + 30 days = 09/02, day 12)
    assert table["customer_receipts"].tolist() == [800.0, 0.0, 1800.0, 0.0, 0.0]
    assert table["other_receipts"].tolist() == [0.0, 0.0, 500.0, 0.0, 0.0]
    # B5 due Friday 30/01 -> Monday 02/02; B1 due Wednesday 04/02 -> Monday 09/02
    assert table["suppliers"].tolist() == [0.0, 250.0, 1200.0, 0.0, 0.0]
    assert table["payroll"].tolist() == [2500.0, 0.0, 0.0, 0.0, 0.0]
    assert table["taxes"].tolist() == [0.0, 300.0, 0.0, 2000.0, 0.0]  # fiscal B2 at due date 04/02; TVA 20/02
    assert table["loans"].tolist() == [0.0, 0.0, 800.0, 0.0, 0.0]
    assert table["other_disbursements"].tolist() == [1000.0, 0.0, 0.0, 0.0, 1000.0]  # rent 31/01 and 28/02
    # F16 (doubtful): 149 days late, later than any lateness seen, so the model puts it on the day after
    # the as-of date; shown on its own line, never counted
    assert table["doubtful_receivables"].tolist() == [700.0, 0.0, 0.0, 0.0, 0.0]
    # 10 000 − 2 700 (800 − 2 500 − 1 000) − 550 + 300 − 2 000 − 1 000
    assert table["net"].tolist() == [-2700.0, -550.0, 300.0, -2000.0, -1000.0]
    assert table["closing_balance"].tolist() == [7300.0, 6750.0, 7050.0, 5050.0, 4050.0]
    # no error in the history: the band is the forecast
    assert np.allclose(table["closing_balance_p10"], table["closing_balance"])
    assert np.allclose(table["closing_balance_p90"], table["closing_balance"])
    # cushion: 2 months × 2 000 € of OPEX
    assert result.basis.cushion == 4000.0
    assert table["below_cushion"].tolist() == [False] * 5
    tighter = forecast(replace(_ledger(), params=Params(as_of=dt.date(2026, 1, 28), bank_balance=7000.0)), rules, AS_OF, weeks=5)
    # 3 000 € less: 4 300, 3 750, 4 050, 2 050, 1 050
    assert [a.label for a in tighter.alerts] == ["S06 · 02/02–08/02", "S08 · 16/02–22/02", "S09 · 23/02–01/03"]
    assert tighter.first_shortfall.closing_balance == 3750.0 and tighter.first_shortfall.shortfall == 250.0


def test_invoices_with_their_dates_and_status(rules):
    frame = forecast(_ledger(), rules, AS_OF, weeks=5).invoices().set_index("invoice_id")
    assert frame.loc["F11", "expected_date"] == pd.Timestamp("2026-01-30") and frame.loc["F11", "status"] == "overdue"
    assert frame.loc["F10", "open_amount"] == 600.0 and frame.loc["F10", "expected_date"] == pd.Timestamp("2026-02-14")
    assert frame.loc["F13", "status"] == "disputed" and frame.loc["F13", "expected_date"] == pd.Timestamp("2026-02-10")
    assert frame.loc["F14", "status"] == "payment_plan"
    assert (frame.loc["F14", "expected_date"], frame.loc["F14", "p90_date"]) == (pd.Timestamp("2026-02-09"), pd.Timestamp("2026-03-11"))
    assert frame.loc["F16", "status"] == "doubtful"
    assert sorted(frame.index) == ["F10", "F11", "F12", "F13", "F14", "F15", "F16"]


def test_what_if_levers_and_ranked_actions(rules):
    basis = prepare(_ledger(), rules, AS_OF, weeks=5)
    base = assemble(basis)
    # DPO +40 days phased in over the 32 days: B1 due on day 7 + round(40 × 7 / 32) = 16 -> Monday 16/02 (day 19);
    # B5 due on day 2 + round(2,5) = 4 (rounded to even) -> still Monday 02/02; the fiscal B2 is never moved
    later = assemble(basis, Levers(dpo=40))
    assert later.lines["suppliers"].tolist() == [0.0, 250.0, 0.0, 1200.0, 0.0]
    released = cash_released(basis, Levers(dso=-15, dpo=10, dio=-20))
    # Activité over 90 days: sales 3 000 × (30 + 31 + 28/31 × … ) — the KPI's figure, reused as is
    from encaisse.kpi import cash_released as kpi_cash_released
    assert released == {"dso": kpi_cash_released(basis.activity, basis.as_of, delta_dso=-15),
                        "dpo": kpi_cash_released(basis.activity, basis.as_of, delta_dpo=10),
                        "dio": kpi_cash_released(basis.activity, basis.as_of, delta_dio=-20)}
    ranked = {a.action.id: a for a in rank_actions(basis, rules, base)}
    # chase the largest overdue: F16 (700, doubtful, counted 0) and F11 (800, paid day 2 anyway);
    # 60 % of each by day 10: + 420 for F16 in week 1; F11, predicted on day 2, is not delayed
    chase = ranked["relance_top10"]
    assert chase.weekly.round(2).tolist() == [0.0, 420.0, 0.0, 0.0, 0.0]
    assert chase.impact == pytest.approx(420.0)
    # early-payment discount (1,5 % at 10 days, 25 % take it): F12 (500, day 12) and F10 (600, day 17)
    # are both predicted after day 10: 25 % × 1 100 = 275 leaves week 2, 275 × 0,985 = 270,875 comes in week 1
    discount = ranked["escompte"]
    assert discount.weekly.round(3).tolist() == [0.0, 270.875, -275.0, 0.0, 0.0]
    assert discount.cost == pytest.approx(0.25 * 1100 * 0.015)
    assert [a.rank for a in rank_actions(basis, rules, base)] == [1, 2, 3, 4, 5, 6]


def test_payment_after_as_of_is_ignored_even_by_the_history(rules):
    with_late_payment = forecast(_ledger(), rules, AS_OF, weeks=5).table()
    without = _ledger()
    without = replace(without, payments=without.payments.iloc[[0, 1, 2, 3, 5]])
    assert forecast(without, rules, AS_OF, weeks=5).table().equals(with_late_payment)


def test_forecast_command_json_keys_and_plot(tmp_path, capsys):
    from encaisse.cli import main
    from encaisse.resources import DEMO_WORKBOOK

    png = tmp_path / "prevision.png"
    assert main(["forecast", str(DEMO_WORKBOOK), "--json", "--plot", str(png)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document) == ["weeks", "invoices", "alerts", "actions"]
    assert len(document["weeks"]) == 13
    assert list(document["weeks"][0]) == ["week_start", "week_end", "label", "customer_receipts", "other_receipts", "suppliers", "payroll",
                                          "taxes", "loans", "other_disbursements", "doubtful_receivables", "net", "closing_balance",
                                          "closing_balance_p10", "closing_balance_p90", "below_cushion"]
    assert document["weeks"][0]["week_start"] == "2026-11-01" and document["weeks"][0]["label"] == "S44 · 01/11–01/11"
    assert list(document["invoices"][0]) == ["invoice_id", "customer_id", "open_amount", "due_date", "expected_date", "p10_date",
                                             "p90_date", "status"]
    assert {i["status"] for i in document["invoices"]} == {"current", "overdue", "disputed", "payment_plan", "doubtful"}
    assert all(i["expected_date"] > "2026-10-31" and i["p10_date"] <= i["expected_date"] <= i["p90_date"] for i in document["invoices"])
    assert document["alerts"][0]["first"] is True and all(a["closing_balance"] < a["cushion"] for a in document["alerts"])
    assert [a["rank"] for a in document["actions"]] == [1, 2, 3, 4, 5, 6]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    weeks = document["weeks"]
    opening = 335300.0
    assert weeks[0]["closing_balance"] == pytest.approx(opening + weeks[0]["net"], abs=0.01)
    assert all(w["closing_balance_p10"] <= w["closing_balance"] + 0.01 or w["closing_balance_p10"] <= w["closing_balance_p90"] for w in weeks)


def test_forecast_command_what_if_and_bad_levers(capsys):
    from encaisse.cli import main
    from encaisse.resources import DEMO_WORKBOOK

    assert main(["forecast", str(DEMO_WORKBOOK), "--json", "--what-if", "dso=-15,dpo=+10,dio=-20,marge=+2,acompte=30"]) == 0
    what_if = json.loads(capsys.readouterr().out)["what_if"]
    assert what_if["levers"] == {"dso": -15.0, "dpo": 10.0, "dio": -20.0, "margin": 2.0, "deposit": 0.3}
    assert set(what_if["cash_released"]) == {"dso", "dpo", "dio", "margin", "deposit"}
    assert main(["forecast", str(DEMO_WORKBOOK), "--what-if", "dsoo=-15"]) == 1
    assert "« dsoo=-15 » : levier inconnu, vouliez-vous dire « dso » ?" in capsys.readouterr().err


def test_backtest_on_the_books_own_history_beats_the_naive_method(capsys):
    from encaisse.authoring.sample import generate_sample
    from encaisse.cash.accuracy import replay_history

    ledger = generate_sample(invoices=3000, seed=11)
    replay = replay_history(ledger, load(DEFAULT_RULES_DIR), ledger.params.as_of)
    assert replay.snapshots == 26 and str(replay.last.date()) == "2026-09-27"  # the last Sunday 4 weeks before 31/10/2026
    assert replay.model.mae < replay.naive.mae
    assert replay.model.wape < replay.naive.wape
    assert len(replay.model.wape_by_week) == 4 and 0.5 < replay.model.coverage < 1.0
    assert set(replay.document()) == {"first_snapshot", "last_snapshot", "snapshots", "predictions", "model", "naive"}


def test_a_big_ledger_read_by_two_threads_gives_the_same_forecast(rules, monkeypatch):
    """Past PARALLEL_PREDICTION open invoices their dates are read half by each thread, past
    PARALLEL_BAND the band's draws are shared: the demo read both ways gives the same figures."""
    import sys

    from encaisse import load_workbook
    from encaisse.resources import DEMO_WORKBOOK

    ledger = load_workbook(DEMO_WORKBOOK)
    one = assemble(prepare(ledger, rules))
    module = sys.modules["encaisse.cash.forecast"]  # the package's `forecast` is the function
    monkeypatch.setattr(module, "PARALLEL_PREDICTION", 10)
    monkeypatch.setattr(module, "PARALLEL_BAND", 10)
    two = assemble(prepare(ledger, rules))
    assert len(one.basis.rows) == 1145
    for name in ("expected", "p10", "p90", "points"):
        assert np.array_equal(getattr(one.basis.prediction, name), getattr(two.basis.prediction, name)), name
    pd.testing.assert_frame_equal(one.table(), two.table())
    assert np.array_equal(one.closing_p10, two.closing_p10) and np.array_equal(one.closing_p90, two.closing_p90)


def test_the_receivables_of_the_kpis_spare_the_forecast_linking_again(rules):
    """FORECAST beside the KPIs of a workbook takes the payments they allocated: the same figures;
    receivables of another date are not taken."""
    from encaisse import load_workbook
    from encaisse.ledger import receivables
    from encaisse.resources import DEMO_WORKBOOK

    ledger = load_workbook(DEMO_WORKBOOK)
    alone = forecast(ledger, rules)
    book = receivables(ledger.invoices, ledger.payments, ledger.params.as_of)
    shared = forecast(ledger, rules, book=book)
    assert shared.basis.book is book
    pd.testing.assert_frame_equal(alone.table(), shared.table())
    assert np.array_equal(alone.basis.prediction.points, shared.basis.prediction.points)
    other_day = receivables(ledger.invoices, ledger.payments, ledger.params.as_of - pd.Timedelta(days=7))
    assert forecast(ledger, rules, book=other_day).basis.book is not other_day
