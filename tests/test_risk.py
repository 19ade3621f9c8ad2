"""Exposure against the credit limit: per-customer override versus class limit, and the actions.

Default policy: A 50 000 €, B 25 000 €, C 10 000 €, D 2 000 €; « avertir » above 80 % of the
limit, « exiger acompte » above 100 %, « bloquer commandes » above 120 %.
"""

from __future__ import annotations

import datetime as dt
import math

import frames  # tests/frames.py
import pandas as pd

from encaisse.credit.risk import credit_exposure
from encaisse.rules.records import LimitAction, RiskPolicy

AS_OF = dt.date(2026, 10, 31)



INVOICES = frames.invoices(*[
    ("X1", "X", "2026-09-01", "2026-10-01", 30_000),
    ("X2", "X", "2026-10-01", "2026-10-31", 15_000),
    ("Y1", "Y", "2026-09-15", "2026-10-15", 45_000),
    ("Z1", "Z", "2026-10-10", "2026-11-09", 10_500),
    ("Q1", "Q", "2026-10-10", "2026-11-09", 10_000),
    ("W1", "W", "2026-10-10", "2026-11-09", 100),
    ("V1", "V", "2026-10-01", "2026-10-31", 1_000),
    ("U1", "U", "2026-10-01", "2026-10-31", 5_000),
    ("Z9", "Z", "2026-11-05", "2026-12-05", 80_000),  # after the as-of date: not exposure yet
])
PAYMENTS = pd.DataFrame({
    "payment_date": pd.to_datetime(["2026-10-20", "2026-10-25"]),
    "customer_id": ["X", "V"],
    "invoice_id": ["X1", None],  # V: 1 500 € unmatched, 500 € more than it owes
    "amount": [0.0, 1_500.0],
})
CUSTOMERS = pd.DataFrame({
    "customer_id": ["X", "Y", "Z", "Q", "W", "V", "U"],
    "name": list("XYZQWVU"),
    "credit_limit": [None, 30_000.0, None, None, 0.0, None, None],
})
SCORES = pd.DataFrame({"customer_id": ["X", "Y", "Z", "Q", "W", "V", "U"], "risk_class": ["A", "A", "C", "C", "B", "D", "E"]})


def exposure(policy=RiskPolicy(), customers=CUSTOMERS):
    return credit_exposure(INVOICES, PAYMENTS, customers, AS_OF, policy, SCORES).set_index("customer_id")


def test_class_limit_and_customer_override():
    """X (class A, no own limit): 45 000 / 50 000 = 90 % → avertir, headroom 5 000.
    Y (class A, Encours max 30 000): 45 000 / 30 000 = 150 % → bloquer commandes, headroom −15 000."""
    table = exposure()
    assert table.loc["X", ["exposure", "credit_limit", "limit_source", "headroom", "usage", "action"]].tolist() == [
        45_000.0, 50_000.0, "classe", 5_000.0, 0.9, "avertir"]
    assert table.loc["Y", ["exposure", "credit_limit", "limit_source", "headroom", "usage", "action"]].tolist() == [
        45_000.0, 30_000.0, "client", -15_000.0, 1.5, "bloquer commandes"]


def test_thresholds_are_strict():
    """Z (class C): 10 500 / 10 000 = 105 % → exiger acompte. Q: exactly 100 % is not above the
    limit, it is above 80 % → avertir."""
    table = exposure()
    assert table.loc["Z", ["exposure", "headroom", "usage", "action"]].tolist() == [10_500.0, -500.0, 1.05, "exiger acompte"]
    assert table.loc["Q", ["usage", "action"]].tolist() == [1.0, "avertir"]


def test_zero_limit_credit_and_unknown_class():
    """W: Encours max 0 (no credit at all) with 100 € open → infinite usage → bloquer commandes.
    V: 1 500 € paid against 1 000 € owed: 500 € credit, exposure 0 → no action, headroom 2 000.
    U: class E has no limit in the policy → limit blank, source « aucune », no action."""
    table = exposure()
    w, v, u = table.loc["W"], table.loc["V"], table.loc["U"]
    assert (w["credit_limit"], w["limit_source"], math.isinf(w["usage"]), w["action"], w["headroom"]) == (0.0, "client", True, "bloquer commandes", -100.0)
    assert (v["open_amount"], v["credit"], v["exposure"], v["usage"], v["action"], v["headroom"]) == (0.0, 500.0, 0.0, 0.0, "aucune", 2_000.0)
    assert (pd.isna(u["credit_limit"]), u["limit_source"], pd.isna(u["usage"]), u["action"], u["exposure"]) == (True, "aucune", True, "aucune", 5_000.0)


def test_orders_not_yet_invoiced_add_to_exposure():
    """With an `open_orders` column, X: 45 000 + 6 000 = 51 000 / 50 000 = 102 % → exiger acompte."""
    customers = CUSTOMERS.assign(open_orders=[6_000.0, None, None, None, None, None, None])
    table = exposure(customers=customers)
    assert table.loc["X", ["open_orders", "exposure", "headroom", "usage", "action"]].tolist() == [6_000.0, 51_000.0, -1_000.0, 1.02, "exiger acompte"]
    assert table.loc["Y", "exposure"] == 45_000.0


def test_policy_limits_and_actions():
    """Class limits and actions from the policy: A 40 000, one action « bloquer » above 110 %.
    X: 45 000 / 40 000 = 112,5 % → bloquer; Z (no C limit) → aucune."""
    policy = RiskPolicy(class_limits=(("A", 40_000.0),), actions=(LimitAction(1.1, "bloquer"),))
    table = exposure(policy)
    assert table.loc["X", ["credit_limit", "usage", "action"]].tolist() == [40_000.0, 1.125, "bloquer"]
    assert table.loc["Z", ["limit_source", "action"]].tolist() == ["aucune", "aucune"]
    assert table.loc["Y", ["credit_limit", "action"]].tolist() == [30_000.0, "bloquer"]


# ---------------------------------------------------------------- CREDIT_HEADROOM sheet function

from encaisse.excel import FUNCTIONS  # noqa: E402

CREDIT_HEADROOM = FUNCTIONS["CREDIT_HEADROOM"]


def excel_range(frame: pd.DataFrame, headers: dict[str, str]) -> list[list]:
    rows = frame[list(headers)].astype(object).where(frame[list(headers)].notna(), None)
    body = [[v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in row] for row in rows.to_numpy().tolist()]
    return [list(headers.values()), *body]


FACTURES = excel_range(INVOICES, {"invoice_id": "N° facture", "customer_id": "Code client", "issue_date": "Date facture",
                                  "due_date": "Échéance", "amount": "Montant TTC"})
REGLEMENTS = excel_range(PAYMENTS, {"payment_date": "Date", "customer_id": "Code client", "invoice_id": "N° facture", "amount": "Montant"})
CLIENTS = excel_range(CUSTOMERS, {"customer_id": "Code client", "name": "Raison sociale", "credit_limit": "Encours max"})


def test_credit_headroom_function():
    """Classes from the default rules (scoring.yaml), limits from risque.yaml or Encours max.

    X: open X1 30 000 € (30 days past due) and X2 15 000 € (due on the as-of date): days late
    (30 000 × 30 + 15 000 × 0) / 45 000 = 20 → 66,67; late share 1/2 → 50; 1 unpaid → 80;
    no dispute → 100; volume 45 000 → 90; (2 000 + 1 000 + 1 600 + 1 000 + 900) / 90 = 72,2 → B,
    limit 25 000: headroom 25 000 − 45 000 = −20 000, usage 1,8 → bloquer commandes.
    Z: nothing fallen due → days late and late share neutral 60; (1 800 + 1 200 + 2 000 + 1 000 + 210) / 90
    = 69 → B: 25 000 − 10 500 = 14 500.  Y: Encours max 30 000 − 45 000 = −15 000.  W: 0 − 100 = −100.
    """
    as_of = dt.datetime(2026, 10, 31)
    assert [CREDIT_HEADROOM(FACTURES, REGLEMENTS, CLIENTS, as_of, code) for code in "XYZW"] == [-20_000.0, -15_000.0, 14_500.0, -100.0]
    table = CREDIT_HEADROOM(FACTURES, REGLEMENTS, CLIENTS, as_of)
    assert table[0] == ["Code client", "Classe", "Encours", "Limite", "Origine limite", "Marge disponible", "Utilisation", "Action"]
    assert table[1] == ["X", "B", 45_000.0, 25_000.0, "classe", -20_000.0, 1.8, "bloquer commandes"]
    assert table[2] == ["Y", "B", 45_000.0, 30_000.0, "client", -15_000.0, 1.5, "bloquer commandes"]
    assert table[5][:2] + table[5][4:] == ["W", "B", "client", -100.0, "∞", "bloquer commandes"]
    frames = [pd.DataFrame(r[1:], columns=r[0]) for r in (FACTURES, REGLEMENTS, CLIENTS)]
    assert CREDIT_HEADROOM(*frames, "31/10/2026", "Y") == -15_000.0


def test_credit_headroom_function_errors():
    as_of = dt.datetime(2026, 10, 31)
    assert CREDIT_HEADROOM(FACTURES, REGLEMENTS, CLIENTS, as_of, "ZZ") == "#VALEUR! client « ZZ » absent des tables Clients et Factures"
    no_amount = [row[:4] for row in FACTURES]
    assert CREDIT_HEADROOM(no_amount, REGLEMENTS, CLIENTS, as_of, "X") == (
        "#VALEUR! Factures : colonne obligatoire « Montant TTC » absente (en-têtes lus : N° facture, Code client, Date facture, Échéance)")


def test_credit_headroom_udf_with_xlwings_dataframes():
    from encaisse.addin import udfs

    frames = [pd.DataFrame(r[1:], columns=r[0]) for r in (FACTURES, REGLEMENTS, CLIENTS)]
    assert udfs.CREDIT_HEADROOM(*frames, dt.datetime(2026, 10, 31), "X") == -20_000.0
    assert udfs.CREDIT_HEADROOM(*frames, dt.datetime(2026, 10, 31))[3] == ["Z", "B", 10_500.0, 25_000.0, "classe", 14_500.0, 0.42, "aucune"]
