"""Solvency scores on crafted histories, every sub-score computed by hand.

Default policy: weights days_late 30, late_share 20, unpaid_count 20, dispute_rate 10,
volume 10, external_rating 10; scales days_late 0 → 100 / 60 → 0, late_share 0 → 100 / 1 → 0,
unpaid_count 0 → 100 / 5 → 0, dispute_rate 0 → 100 / 0.25 → 0, volume 50 000 € → 100 / 0 → 0,
external_rating 100 → 100 / 0 → 0; classes A ≥ 80, B ≥ 60, C ≥ 40, D below; neutral 60.
As of 31/10/2026 the 365-day window starts on 01/11/2025.
"""

from __future__ import annotations

import datetime as dt

import frames  # tests/frames.py
import pandas as pd
import pytest

from encaisse.credit.scoring import score_customers
from encaisse.rules.records import Factor, ScoringPolicy

AS_OF = dt.date(2026, 10, 31)




INVOICES = frames.invoices(*[
    # P, perfect payer: 3 × 20 000 € paid on the due date (volume 60 000 € ≥ 50 000 €).
    ("P1", "P", "2026-03-01", "2026-03-31", 20_000, None),
    ("P2", "P", "2026-05-01", "2026-05-31", 20_000, None),
    ("P3", "P", "2026-07-01", "2026-07-31", 20_000, None),
    # L, chronic late payer: 4 × 10 000 €, every one paid late.
    ("L1", "L", "2026-01-15", "2026-02-14", 10_000, None),
    ("L2", "L", "2026-03-15", "2026-04-14", 10_000, None),
    ("L3", "L", "2026-05-15", "2026-06-14", 10_000, None),
    ("L4", "L", "2026-07-15", "2026-08-14", 10_000, None),
    # T, disputer: 4 × 12 500 €; T2 disputed and still open, the others paid on time.
    ("T1", "T", "2026-06-01", "2026-07-01", 12_500, None),
    ("T2", "T", "2026-07-01", "2026-07-31", 12_500, "qualité"),
    ("T3", "T", "2026-08-01", "2026-08-31", 12_500, ""),
    ("T4", "T", "2026-09-01", "2026-10-01", 12_500, None),
    # S, stopped paying: S0 paid on time long ago (outside the window), then nothing.
    ("S0", "S", "2025-06-01", "2025-07-01", 10_000, None),
    ("S1", "S", "2025-09-01", "2025-10-01", 8_000, None),
    ("S2", "S", "2025-10-01", "2025-10-31", 8_000, None),
    ("S3", "S", "2025-11-01", "2025-12-01", 8_000, None),
    # Issued after the as-of date: ignored.
    ("P9", "P", "2026-11-02", "2026-12-02", 99_000, None),
])

PAYMENTS = frames.payments(*[
    ("2026-03-31", "P", "P1", 20_000),
    ("2026-05-31", "P", "P2", 20_000),
    ("2026-07-31", "P", "P3", 20_000),
    ("2026-03-31", "L", "L1", 10_000),  # 45 days late
    ("2026-05-14", "L", "L2", 10_000),  # 30 days late
    ("2026-06-14", "L", "L3", 5_000),  # on time...
    ("2026-08-13", "L", "L3", 5_000),  # ...and the rest 60 days late
    ("2026-09-28", "L", "L4", 10_000),  # 45 days late
    ("2026-07-01", "T", "T1", 12_500),
    ("2026-08-31", "T", "T3", 12_500),
    ("2026-10-01", "T", "T4", 12_500),
    ("2025-07-01", "S", "S0", 10_000),
    ("2026-11-15", "L", None, 1_000),  # after the as-of date: ignored
])

CUSTOMERS = pd.DataFrame({
    "customer_id": ["P", "L", "T", "S", "N", "R"],
    "name": ["Parfait", "Lent", "Tatillon", "Silence", "Nouveau", "Nouveau noté"],
    "credit_limit": [None] * 6,
    "external_rating": [None, 40.0, 72.0, None, None, 90.0],
})


@pytest.fixture(scope="module")
def scores():
    return score_customers(INVOICES, PAYMENTS, CUSTOMERS, AS_OF, ScoringPolicy()).set_index("customer_id")


def test_one_row_per_customer_in_clients_order(scores):
    assert list(scores.index) == ["P", "L", "T", "S", "N", "R"]


def test_perfect_payer_scores_100_class_a(scores):
    """No external rating: its weight is shared over the five others, all at 100."""
    p = scores.loc["P"]
    assert (p["days_late"], p["late_share"], p["unpaid_count"], p["dispute_rate"], p["volume"]) == (0.0, 0.0, 0, 0.0, 60_000.0)
    assert [p[f"{f}_score"] for f in ("days_late", "late_share", "unpaid_count", "dispute_rate", "volume")] == [100.0] * 5
    assert pd.isna(p["external_rating_score"])
    assert (p["score"], p["risk_class"]) == (100.0, "A")


def test_chronic_late_payer(scores):
    """Days late weighted by amount: (10 000×45 + 10 000×30 + 5 000×0 + 5 000×60 + 10 000×45) / 40 000
    = 1 500 000 / 40 000 = 37,5 days → (60 − 37,5)/60 × 100 = 37,5.
    Late share 4/4 → 0; no unpaid → 100; no dispute → 100; volume 40 000 → 80; rating 40 → 40.
    Score = (30×37,5 + 20×0 + 20×100 + 10×100 + 10×80 + 10×40) / 100 = 5 325 / 100 = 53,25 → 53, class C.
    """
    row = scores.loc["L"]
    assert row["days_late"] == 37.5
    assert row["late_share"] == 1.0
    assert row["volume"] == 40_000.0
    assert [row[f"{f}_score"] for f in ("days_late", "late_share", "unpaid_count", "dispute_rate", "volume", "external_rating")] == [37.5, 0.0, 100.0, 100.0, 80.0, 40.0]
    assert (row["score"], row["risk_class"]) == (53.0, "C")


def test_disputer(scores):
    """T2 (12 500 €, disputed) is open 92 days past due (31/07 → 31/10); a blank Litige is no dispute.

    Days late = 12 500 × 92 / 50 000 = 23 → (60 − 23)/60 × 100 = 61,666…; late share 1/4 → 75;
    1 unpaid → (5 − 1)/5 × 100 = 80; dispute rate 1/4 = 0,25 → 0; volume 50 000 → 100; rating 72 → 72.
    Score = (30 × 61,666… + 20×75 + 20×80 + 10×0 + 10×100 + 10×72) / 100 = 6 670 / 100 = 66,7 → 67, class B.
    """
    row = scores.loc["T"]
    assert (row["days_late"], row["late_share"], row["unpaid_count"], row["dispute_rate"]) == (23.0, 0.25, 1, 0.25)
    assert row["days_late_score"] == pytest.approx(37 / 60 * 100)
    assert [row[f"{f}_score"] for f in ("late_share", "unpaid_count", "dispute_rate", "volume", "external_rating")] == [75.0, 80.0, 0.0, 100.0, 72.0]
    assert (row["score"], row["risk_class"]) == (67.0, "B")


def test_customer_who_stopped_paying_is_class_d(scores):
    """S1, S2, S3 open past due, measured though S1 and S2 were issued before the window; S0 is
    closed and outside it. Days past due: 395, 365, 334 (8 000 € each) → mean 364,67 → 0.
    Late share 3/3 → 0; 3 unpaid → 40; no dispute → 100; volume in the window: S3 only, 8 000 → 16.
    No rating: score = (30×0 + 20×0 + 20×40 + 10×100 + 10×16) / 90 = 1 960 / 90 = 21,78 → 22, class D.
    """
    row = scores.loc["S"]
    assert row["days_late"] == pytest.approx((395 + 365 + 334) / 3)
    assert (row["late_share"], row["unpaid_count"], row["volume"]) == (1.0, 3, 8_000.0)
    assert [row[f"{f}_score"] for f in ("days_late", "late_share", "unpaid_count", "dispute_rate", "volume")] == [0.0, 0.0, 40.0, 100.0, 16.0]
    assert (row["score"], row["risk_class"]) == (22.0, "D")


def test_no_history_is_neutral(scores):
    """N: no invoice → every history sub-score is the neutral 60 → score 60, class B.
    R: same, with an external rating of 90: (90 × 60 + 10 × 90) / 100 = 63, class B."""
    n, r = scores.loc["N"], scores.loc["R"]
    assert (bool(n["has_history"]), pd.isna(n["days_late"]), pd.isna(n["volume"])) == (False, True, True)
    assert (n["score"], n["risk_class"]) == (60.0, "B")
    assert r["days_late_score"] == 60.0
    assert (r["score"], r["risk_class"]) == (63.0, "B")


def test_policy_changes_weights_scales_and_classes():
    """Only days late counts, 0 → 100 / 30 → 0, classes « bon » ≥ 50 else « à surveiller ».
    L: 37,5 days → 0 → « à surveiller »; T: 23 days → (30 − 23)/30 × 100 = 23,33 → 23; P: 100."""
    policy = ScoringPolicy(
        days_late=Factor(1.0, 0.0, 30.0),
        late_share=Factor(0.0, 0.0, 1.0),
        unpaid_count=Factor(0.0, 0.0, 5.0),
        dispute_rate=Factor(0.0, 0.0, 0.25),
        volume=Factor(0.0, 50_000.0, 0.0),
        external_rating=Factor(0.0, 100.0, 0.0),
        classes=(("bon", 50.0), ("à surveiller", 0.0)),
    )
    scores = score_customers(INVOICES, PAYMENTS, CUSTOMERS, AS_OF, policy).set_index("customer_id")
    assert scores.loc[["P", "L", "T"], "score"].tolist() == [100.0, 0.0, 23.0]
    assert scores.loc[["P", "L", "T"], "risk_class"].tolist() == ["bon", "à surveiller", "à surveiller"]


def test_customer_only_on_invoices_is_scored_after_the_clients():
    invoices = frames.invoices(("X1", "X", "2026-09-01", "2026-10-01", 50_000, None))
    scores = score_customers(invoices, PAYMENTS.iloc[0:0], CUSTOMERS.iloc[0:1], AS_OF)
    assert scores["customer_id"].tolist() == ["P", "X"]
    # X: 30 days past due on 50 000 € → 50; late share 1 → 0; 1 unpaid → 80; dispute → 100; volume → 100
    # (30×50 + 0 + 20×80 + 10×100 + 10×100) / 90 = 5 100 / 90 = 56,67 → 57, C
    assert scores.set_index("customer_id").loc["X", ["score", "risk_class"]].tolist() == [57.0, "C"]


# ---------------------------------------------------------------- SCORE sheet function

from encaisse.excel import FUNCTIONS  # noqa: E402

SCORE = FUNCTIONS["SCORE"]


def excel_range(frame: pd.DataFrame, headers: dict[str, str]) -> list[list]:
    """A table range as xlwings passes it: header row, None for blanks, datetimes for dates."""
    rows = frame[list(headers)].astype(object).where(frame[list(headers)].notna(), None)
    body = [[v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in row] for row in rows.to_numpy().tolist()]
    return [list(headers.values()), *body]


FACTURES = excel_range(INVOICES, {"invoice_id": "N° facture", "customer_id": "Code client", "issue_date": "Date facture",
                                  "due_date": "Échéance", "amount": "Montant TTC", "dispute": "Litige"})
REGLEMENTS = excel_range(PAYMENTS, {"payment_date": "Date", "customer_id": "Code client", "invoice_id": "N° facture", "amount": "Montant"})
CLIENTS = excel_range(CUSTOMERS, {"customer_id": "Code client", "name": "Raison sociale", "credit_limit": "Encours max",
                                  "external_rating": "Note externe"})


def test_score_function_one_customer():
    """The default rules/scoring.yaml gives the same policy as ScoringPolicy(): L 53, T 67, P 100."""
    as_of = dt.datetime(2026, 10, 31)
    assert [SCORE(FACTURES, REGLEMENTS, CLIENTS, as_of, code) for code in ("P", "L", "T", "S", "N", "R")] == [100.0, 53.0, 67.0, 22.0, 60.0, 63.0]
    assert SCORE(FACTURES, REGLEMENTS, CLIENTS, 46326.0, "L") == 53.0  # 31/10/2026 as an Excel serial


def test_score_function_dataframes_as_xlwings_gives():
    ranges = [pd.DataFrame(r[1:], columns=r[0]) for r in (FACTURES, REGLEMENTS, CLIENTS)]
    assert SCORE(*ranges, "31/10/2026", "T") == 67.0


def test_score_function_table_of_all_customers():
    table = SCORE(FACTURES, REGLEMENTS, CLIENTS, dt.datetime(2026, 10, 31))
    assert table[0] == ["Code client", "Retard moyen (jours)", "Part en retard", "Impayés échus", "Taux de litige",
                        "CA 12 mois", "Note externe", "Score", "Classe"]
    assert table[1] == ["P", 0.0, 0.0, 0.0, 0.0, 60_000.0, None, 100.0, "A"]
    assert table[2] == ["L", 37.5, 1.0, 0.0, 0.0, 40_000.0, 40.0, 53.0, "C"]
    assert table[5] == ["N", None, None, None, None, None, None, 60.0, "B"]
    assert [row[-1] for row in table[1:]] == ["A", "C", "B", "D", "B", "B"]


def test_score_function_errors_are_texts():
    as_of = dt.datetime(2026, 10, 31)
    assert SCORE(FACTURES, REGLEMENTS, CLIENTS, as_of, "ZZ") == "#VALEUR! client « ZZ » absent des tables Clients et Factures"
    assert SCORE(FACTURES, REGLEMENTS, CLIENTS, None, "P").startswith("#VALEUR! date d'arrêté vide")
    broken = [row[:] for row in FACTURES]
    broken[3][4] = "beaucoup"
    assert SCORE(broken, REGLEMENTS, CLIENTS, as_of, "P") == (
        "#VALEUR! Factures, ligne 4, colonne « Montant TTC » : montant « beaucoup » n'est pas un nombre")
    assert SCORE(FACTURES, REGLEMENTS, CLIENTS, as_of, "P", "/pas/de/regles") == "#VALEUR! /pas/de/regles : dossier de règles introuvable"


def test_score_udf_with_xlwings_dataframes():
    """@xw.arg(..., pd.DataFrame, index=False, header=True) gives DataFrames whose columns are the headers."""
    from encaisse.addin import udfs

    ranges = [pd.DataFrame(r[1:], columns=r[0]) for r in (FACTURES, REGLEMENTS, CLIENTS)]
    assert udfs.SCORE(*ranges, dt.datetime(2026, 10, 31), "S") == 22.0
    assert udfs.SCORE(*ranges, dt.datetime(2026, 10, 31))[1] == ["P", 0.0, 0.0, 0.0, 0.0, 60_000.0, None, 100.0, "A"]


# --- one allocation ------------------------------------------------------------------------

def test_a_shared_allocation_gives_the_same_scores():
    from encaisse.ledger import receivables

    book = receivables(INVOICES, PAYMENTS, AS_OF)
    alone = score_customers(INVOICES, PAYMENTS, CUSTOMERS, AS_OF, ScoringPolicy())
    shared = score_customers(INVOICES, PAYMENTS, CUSTOMERS, AS_OF, ScoringPolicy(), receivables=book)
    pd.testing.assert_frame_equal(alone, shared)


def test_other_currencies_are_scored_at_the_given_rate():
    """A book in dollars at 0,5 € per dollar scores like the same book in euros at half the amounts:
    only `volume` (12-month sales) depends on amounts here, and it halves."""
    from encaisse import InputError

    dollars = INVOICES.assign(currency="USD")
    payments = PAYMENTS.copy()
    with pytest.raises(InputError, match="USD"):
        score_customers(dollars, payments, CUSTOMERS, AS_OF, ScoringPolicy())
    in_dollars = score_customers(dollars, payments, CUSTOMERS, AS_OF, ScoringPolicy(), rates={"USD": 0.5}).set_index("customer_id")
    halved = score_customers(INVOICES.assign(amount=INVOICES["amount"] / 2), payments.assign(amount=payments["amount"] / 2),
                             CUSTOMERS, AS_OF, ScoringPolicy()).set_index("customer_id")
    pd.testing.assert_frame_equal(in_dollars, halved)
    assert in_dollars.loc["P", "volume"] == 30_000.0  # 3 × 20 000 $ × 0,5
    # L: 5 000 € late 45 days, 5 000 € 30 days, 2 500 € on time, 2 500 € 60 days, 5 000 € 45 days
    assert in_dollars.loc["L", "days_late"] == pytest.approx((5_000 * 45 + 5_000 * 30 + 2_500 * 0 + 2_500 * 60 + 5_000 * 45) / 20_000)


def test_scores_and_exposure_unchanged_on_the_demo_and_ibm_books():
    """Figures of the scoring and exposure computed before they shared the ledger's allocation
    (each matched payments to invoices itself): the same on the demo company and the IBM data."""
    import encaisse
    from encaisse.credit.risk import credit_exposure
    from encaisse.ledger import receivables
    from encaisse.resources import DEMO_WORKBOOK
    from encaisse.rules import DEFAULT_RULES_DIR, load

    from ibm import load_ibm

    rules = load(DEFAULT_RULES_DIR)
    demo = encaisse.load_workbook(DEMO_WORKBOOK)
    expected = {
        "demo": (166, 10041.0, {"A": 27, "B": 65, "C": 48, "D": 26}, 2703.377912, 109.318734, 2576073.14,
                 {"aucune": 103, "bloquer commandes": 34, "avertir": 17, "exiger acompte": 12}),
        "ibm": (100, 7270.0, {"A": 39, "B": 44, "C": 17}, 366.329683, 36.256008, 5119.85, {"aucune": 100}),
    }
    for name, book, day in (("demo", demo, demo.params.as_of), ("ibm", load_ibm(), pd.Timestamp("2013-06-30"))):
        shared = receivables(book.invoices, book.payments, day)
        s = score_customers(book.invoices, book.payments, book.customers, day, rules.scoring, receivables=shared)
        e = credit_exposure(book.invoices, book.payments, book.customers, day, rules.risk, s, receivables=shared)
        got = (len(s), s["score"].sum(), s["risk_class"].value_counts().sort_index().to_dict(),
               round(float(s["days_late"].sum(skipna=True)), 6), round(float(s["late_share"].sum(skipna=True)), 6),
               round(e["exposure"].sum(), 2), e["action"].value_counts().to_dict())
        assert got == expected[name], name


def test_score_and_headroom_functions_take_exchange_rates():
    """Invoices in dollars: refused without a rate, scored at the rate given as last argument."""
    dollars = [FACTURES[0] + ["Devise"], *[row + ["USD"] for row in FACTURES[1:]]]
    as_of = dt.datetime(2026, 10, 31)
    refused = SCORE(dollars, REGLEMENTS, CLIENTS, as_of, "P")
    assert refused.startswith("#VALEUR! ") and "USD" in refused
    # L's 12-month sales halve to 20 000 €: volume sub-score 80 -> 40, weight 10 of 100: 53 -> 49.
    assert SCORE(dollars, REGLEMENTS, CLIENTS, as_of, "L", None, "USD=0,5") == 49.0
    # T owes T2 (12 500 $ at 0,5 € = 6 250 €); T stays in class B, whose limit in risque.yaml is 25 000 €.
    headroom = FUNCTIONS["CREDIT_HEADROOM"](dollars, REGLEMENTS, CLIENTS, as_of, "T", None, "USD=0,5")
    assert headroom == 25_000.0 - 6_250.0
