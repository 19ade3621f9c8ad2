"""Payment-date forecasts back-tested on the IBM late-payment histories (2 466 invoices, all settled).

    .venv/bin/python bench/backtest_ibm.py

Data: tests/ibm.py's `load_ibm()` (Factures, Règlements, Clients with segment "pays <countryCode>"),
plus the sending channel (Envoi) taken from the CSV's PaperlessBill (Paper -> papier,
Electronic -> électronique), which the adapter does not map.

(a) every invoice predicted on its issue date from the invoices settled strictly before that
    date (fit with as_of = issue date − 1 day); MAE in days of expected_date, over the whole
    timeline and over the invoices issued in 2013. Published baselines on this protocol:
    due date 10.44, customer mean lateness 6.97, customer median 6.90.
(b) Sunday snapshots of 2012–2013 (see `encaisse.cash.backtest` for WAPE and coverage).

Methods: naive = due date (as-of + 1 when overdue); customer mean / median = due date + the
customer's mean / median lateness (no history: mean / median over customers; nobody: due date);
model = `encaisse.cash.payment_dates.fit` with its defaults.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from encaisse.cash import backtest  # noqa: E402
from encaisse.cash.payment_dates import DEFAULT_SHRINKAGE, LEVELS  # noqa: E402
from ibm import IBM_CSV, load_ibm  # noqa: E402  (tests/ibm.py)

METHODS = {
    "naive (échéance)": backtest.naive_method,
    "moyenne client": backtest.customer_stat_method("mean"),
    "médiane client": backtest.customer_stat_method("median"),
    "modèle": backtest.model_method(),
}
WEEKS = 4


def ibm_with_channel():
    ledger = load_ibm()
    raw = pd.read_csv(IBM_CSV, dtype=str, keep_default_na=False)
    channel = dict(zip(raw["invoiceNumber"], raw["PaperlessBill"].map({"Paper": "papier", "Electronic": "électronique"})))
    invoices = ledger.invoices.copy()
    invoices["channel"] = invoices["invoice_id"].map(channel)
    return invoices, ledger.payments, ledger.customers


def main() -> None:
    start = time.perf_counter()
    invoices, payments, customers = ibm_with_channel()
    snapshots = backtest.sundays("2012-01-01", "2013-12-31")
    print(f"IBM : {len(invoices)} factures, {invoices['customer_id'].nunique()} clients, "
          f"{invoices['dispute'].notna().sum()} en litige")
    print("(a) chaque facture prédite à sa date d'émission, apprise sur les factures réglées strictement avant ;")
    print("    MAE = moyenne |date prévue − date de règlement| en jours (toutes ; émises en 2013)")
    print(f"(b) {len(snapshots)} dimanches du {snapshots[0]:%d/%m/%Y} au {snapshots[-1]:%d/%m/%Y} : factures ouvertes au dimanche S")
    print(f"    (émises <= S, réglées > S) ; semaine w = jours S+7(w-1)+1 .. S+7w, w = 1..{WEEKS} ;")
    print("    WAPE = Σ_S Σ_w |encaissements prévus − réels| / Σ_S Σ_w réels, prévus = Σ montant × P(réglée en semaine w),")
    print("    réels = Σ montant des factures ouvertes en S réglées en semaine w ;")
    print("    couverture = part des (S, facture ouverte) dont la date réelle est dans [P10, P90]")
    print(f"modèle : rétrécissement k = {DEFAULT_SHRINKAGE:g} (poids n/(n+k)), {LEVELS} quantiles de résidus")
    print()
    print(f"{'méthode':<18} {'MAE (a)':>8} {'MAE 2013':>9} {'WAPE (b)':>9} {'couv. P10–P90':>14} {'MAE (b)':>8} {'durée':>7}")
    for name, method in METHODS.items():
        began = time.perf_counter()
        issued = backtest.issue_date_backtest(invoices, payments, customers, method)
        error = issued["error"].abs()
        in_2013 = issued["issue_date"].dt.year == 2013
        weekly = backtest.snapshot_backtest(invoices, payments, customers, method, snapshots, WEEKS)
        print(f"{name:<18} {error.mean():8.2f} {error[in_2013].mean():9.2f} {weekly.wape:9.3f} "
              f"{weekly.coverage:14.1%} {weekly.mae:8.2f} {time.perf_counter() - began:6.1f}s")
    print(f"\n{weekly.predictions} prédictions (b) sur {weekly.snapshots} dimanches ; durée totale {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
