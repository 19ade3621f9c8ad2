"""L441-10 late-payment penalties, computed by hand across half-year boundaries."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from encaisse.rules import load_legal
from encaisse.rules.legal import EcbRate, LegalData, LegalDataError, LegalRate
from encaisse.credit.penalty import late_penalty

D = dt.date

# The ECB main refinancing rates around 2023 (dates of effect), as published by the ECB.
LEGAL = LegalData(
    ecb_rates=(
        EcbRate(D(2016, 3, 16), 0.0),
        EcbRate(D(2022, 7, 27), 0.005),
        EcbRate(D(2022, 9, 14), 0.0125),
        EcbRate(D(2022, 11, 2), 0.02),
        EcbRate(D(2022, 12, 21), 0.025),
        EcbRate(D(2023, 2, 8), 0.03),
        EcbRate(D(2023, 3, 22), 0.035),
        EcbRate(D(2023, 5, 10), 0.0375),
        EcbRate(D(2023, 6, 21), 0.04),
        EcbRate(D(2023, 8, 2), 0.0425),
        EcbRate(D(2023, 9, 20), 0.045),
    ),
    legal_rates=(LegalRate(D(2023, 1, 1), 0.0206), LegalRate(D(2023, 7, 1), 0.0422)),
)


def test_across_a_half_year_boundary():
    """10 000 € due 15/05/2023, as of 14/08/2023: 91 days late.

    Days late run from 16/05 to 14/08 included:
    - 2023-S1, 16/05–30/06: 16 + 30 = 46 days at 2,50 % (ECB rate in force on 01/01/2023, set
      on 21/12/2022) + 10 = 12,50 %;
    - 2023-S2, 01/07–14/08: 31 + 14 = 45 days at 4,00 % (in force on 01/07/2023, set on
      21/06/2023) + 10 = 14,00 % — the 4,25 % of 02/08/2023 does not apply before 2024-S1.
    interest = 10 000 × (0,125 × 46 + 0,14 × 45) / 365 = 10 000 × 12,05 / 365 = 330,1369… → 330,14 €
    plus the 40 € indemnity: 370,14 €.
    """
    result = late_penalty(10_000.0, "2023-05-15", D(2023, 8, 14), LEGAL)
    assert result.to_dict("records") == [{"days_late": 91, "interest": 330.14, "indemnity": 40.0, "total": 370.14}]


def test_default_legal_data_gives_the_same_figures():
    """rules/legal.yaml holds the same rates (2,50 % on 01/01/2023, 4,00 % on 01/07/2023)."""
    legal = load_legal()
    assert legal.penalty_rate(D(2023, 5, 15)) == 0.125
    assert legal.penalty_rate(D(2023, 8, 14)) == 0.14
    assert late_penalty(10_000.0, "2023-05-15", D(2023, 8, 14), legal)["total"].tolist() == [370.14]


def test_three_half_years_and_index_kept():
    """Several invoices at once; the index of the open amounts is kept.

    F1: 2 000 € due 01/12/2022, as of 10/07/2023: 221 days late =
      2022-S2 02/12–31/12: 30 days at 0,00 % (ECB on 01/07/2022; 0,50 % only from 27/07) + 10 = 10 %
      2023-S1: 181 days at 12,50 %;  2023-S2 01/07–10/07: 10 days at 14 %
      2 000 × (0,10 × 30 + 0,125 × 181 + 0,14 × 10) / 365 = 2 000 × 27,025 / 365 = 148,0821… → 148,08
    F2: 1 000 € due 30/06/2023: 10 days in 2023-S2 at 14 %: 1 000 × 0,14 × 10 / 365 = 3,8356… → 3,84
    F3: due on the as-of date: not late, nothing (no indemnity either).
    F4: fully paid (0 open): nothing.  F5: due after the as-of date: nothing.
    """
    amounts = pd.Series([2_000.0, 1_000.0, 500.0, 0.0, 750.0], index=["F1", "F2", "F3", "F4", "F5"])
    dues = pd.Series(pd.to_datetime(["2022-12-01", "2023-06-30", "2023-07-10", "2023-01-01", "2023-08-01"]), index=amounts.index)
    result = late_penalty(amounts, dues, D(2023, 7, 10), LEGAL)
    assert list(result.index) == ["F1", "F2", "F3", "F4", "F5"]
    assert result["days_late"].tolist() == [221, 10, 0, 0, 0]
    assert result["interest"].tolist() == [148.08, 3.84, 0.0, 0.0, 0.0]
    assert result["indemnity"].tolist() == [40.0, 40.0, 0.0, 0.0, 0.0]
    assert result["total"].tolist() == [188.08, 43.84, 0.0, 0.0, 0.0]


def test_contractual_rate_replaces_the_legal_rate():
    """12 % a year for every half-year: 10 000 × 0,12 × 91 / 365 = 299,1780… → 299,18 (+ 40 €).

    A per-invoice rate with NaN (None) falls back to the legal default (the 370,14 € case).
    """
    single = late_penalty(10_000.0, "2023-05-15", D(2023, 8, 14), LEGAL, contractual_rate=0.12)
    assert single["total"].tolist() == [339.18]
    mixed = late_penalty([10_000.0, 10_000.0], ["2023-05-15", "2023-05-15"], D(2023, 8, 14), LEGAL, contractual_rate=[0.12, None])
    assert mixed["interest"].tolist() == [299.18, 330.14]


def test_rounding_only_at_the_end():
    """3 invoices of 100 € due 31/12/2022, 1 day late on 01/01/2023 at 12,5 %: 100 × 0,125 / 365 = 0,0342… each.

    Rounded per invoice to 0,03; the sum is not rounded day by day (one day is 0,034246…).
    """
    result = late_penalty([100.0] * 3, ["2022-12-31"] * 3, D(2023, 1, 1), LEGAL)
    assert result["interest"].tolist() == [0.03, 0.03, 0.03]
    long = late_penalty(100.0, "2022-12-31", D(2023, 6, 30), LEGAL)  # 181 days: 100 × 0,125 × 181 / 365 = 6,1986…
    assert long["interest"].tolist() == [6.2]


def test_a_half_year_outside_the_legal_data_is_an_error():
    legal = LegalData(ecb_rates=(EcbRate(D(2023, 2, 8), 0.03),), legal_rates=())
    with pytest.raises(LegalDataError, match="taux BCE inconnu au 01/01/2023"):
        late_penalty(1_000.0, "2023-01-15", D(2023, 3, 1), legal)


# ---------------------------------------------------------------- PENALTY sheet function

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

from encaisse.excel import FUNCTIONS  # noqa: E402

RULES = Path(__file__).resolve().parent.parent / "rules"
PENALTY = FUNCTIONS["PENALTY"]


def test_penalty_function_with_what_excel_passes():
    """The 370,14 € case with datetimes, Excel serials (45061 = 15/05/2023, 45152 = 14/08/2023)
    and French text; the default rules (mode bce_plus_10, 40 €)."""
    assert PENALTY(10_000.0, dt.datetime(2023, 5, 15), dt.datetime(2023, 8, 14)) == 370.14
    assert PENALTY(10_000.0, 45061.0, 45152.0) == 370.14
    assert PENALTY("10 000,00 €", "15/05/2023", "14/08/2023", None, str(RULES)) == 370.14
    assert PENALTY(10_000.0, dt.datetime(2023, 8, 14), dt.datetime(2023, 8, 14)) == 0.0


def test_penalty_function_contractual_rate():
    """15 %: 10 000 × 0,15 × 91 / 365 = 373,9726… → 373,97 + 40 = 413,97 (« 15 % » text or 0,15).
    15 (the workbook's convention for rates, like TauxBCE) is 15 % too.
    12 % is below 3 × the 2023-S2 legal rate (3 × 4,22 % = 12,66 %): refused, like 5 % in 2023-S1
    (3 × 2,06 % = 6,18 %); 1 200 is out of range."""
    assert PENALTY(10_000.0, "15/05/2023", "14/08/2023", "15 %") == 413.97
    assert PENALTY(10_000.0, "15/05/2023", "14/08/2023", 0.15) == 413.97
    assert PENALTY(10_000.0, "15/05/2023", "14/08/2023", 15.0) == 413.97
    assert PENALTY(10_000.0, "15/05/2023", "14/08/2023", 0.12) == (
        "#VALEUR! taux contractuel 12\u00a0% inférieur au minimum légal de 12,66\u00a0% "
        "(3 × le taux d'intérêt légal du semestre 2023-S2)")
    assert PENALTY(10_000.0, "15/05/2023", "30/06/2023", 0.05) == (
        "#VALEUR! taux contractuel 5\u00a0% inférieur au minimum légal de 6,18\u00a0% "
        "(3 × le taux d'intérêt légal du semestre 2023-S1)")
    assert PENALTY(10_000.0, "15/05/2023", "14/08/2023", 1200) == "#VALEUR! taux contractuel 1\u202f200\u00a0% hors de 0 % à 100 % (ex. 15 %, 15 ou 0,15)"
    assert PENALTY(10_000.0, "15/05/2023", "14/08/2023", "beaucoup") == "#VALEUR! taux contractuel « beaucoup » n'est pas un nombre (ex. 15 %, 15 ou 0,15)"


def test_penalty_function_rules_folder_sets_the_contract(tmp_path):
    """conditions.yaml in mode « contractuel » at 15 % with a 50 € indemnity: 373,97 + 50 = 423,97."""
    folder = tmp_path / "regles"
    shutil.copytree(RULES, folder)
    conditions = folder / "conditions.yaml"
    text = conditions.read_text(encoding="utf-8")
    text = text.replace("  mode: bce_plus_10\n", "  mode: contractuel\n  taux_contractuel_pct: 15\n")
    text = text.replace("  indemnite_forfaitaire: 40\n", "  indemnite_forfaitaire: 50\n")
    conditions.write_text(text, encoding="utf-8")
    assert PENALTY(10_000.0, "15/05/2023", "14/08/2023", None, str(folder)) == 423.97
    # the recalculation's --rules (keyword rules_dir) wins over the folder in the formula
    assert PENALTY(10_000.0, "15/05/2023", "14/08/2023", None, "/pas/de/regles", rules_dir=str(folder)) == 423.97
    assert PENALTY(10_000.0, "15/05/2023", "14/08/2023", "20 %", str(folder)) == 548.63  # 10 000 × 0,20 × 91 / 365 = 498,63 + 50


def test_penalty_function_never_raises():
    assert PENALTY("abc", "15/05/2023", "14/08/2023") == "#VALEUR! montant « abc » n'est pas un nombre"
    assert PENALTY(10_000.0, None, "14/08/2023") == "#VALEUR! échéance vide"
    assert PENALTY(10_000.0, "15/05/2010", "14/08/2023") == (
        "#VALEUR! taux BCE inconnu au 01/01/2010 : l'historique de rules/legal.yaml commence le 16/03/2016")
    assert PENALTY(10_000.0, "15/05/2023", "14/08/2023", None, "/pas/de/regles").startswith("#VALEUR! ")


def test_penalty_udf_delegates_in_one_line():
    import inspect

    from encaisse.addin import udfs

    assert udfs.PENALTY(10_000.0, dt.datetime(2023, 5, 15), dt.datetime(2023, 8, 14)) == 370.14
    assert udfs.PENALTY(10_000.0, dt.datetime(2023, 5, 15), dt.datetime(2023, 8, 14), 0.15) == 413.97
    body = [line for line in inspect.getsource(udfs.PENALTY).splitlines() if line.strip() and not line.lstrip().startswith(("@", "def ", '"""'))]
    assert body == ["    return credit.penalty(montant, echeance, date_arrete, taux_contractuel, dossier_regles)"]
