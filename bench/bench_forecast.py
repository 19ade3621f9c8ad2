"""The 13-week cash forecast: the demo workbook in-process, then generated ledgers of growing size.

    .venv/bin/python bench/bench_forecast.py                       # demo, 100 000, 300 000, 1 000 000 invoices
    .venv/bin/python bench/bench_forecast.py --sizes 100000,1000000

Targets (issue 10): the demo's forecast under 0,3 s in-process; 1 000 000 invoices under 2 s;
cost linear in invoices. Each line is the best of 3 calls of `encaisse.cash.forecast` (the
ledger and the rules already in memory; reading the workbook is `bench_load.py`'s), split into
the model fit and prediction (`predict_payment_days`), the rest of `prepare` and `assemble`;
then the ranked actions (`rank_actions`, which assembles the table once per lever action). The
last column is the time per 100 000 invoices: flat means linear.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import encaisse
from encaisse.authoring.sample import generate_sample
from encaisse.cash import assemble, forecast, prepare
from encaisse.cash.actions import rank_actions
from encaisse.cash.prediction import predict_payment_days
from encaisse.ledger import link, receivables
from encaisse.resources import DEFAULT_RULES_DIR, DEMO_WORKBOOK
from encaisse.rules import load
from timing import best_of  # bench/timing.py


def measure(name: str, ledger, rules) -> None:
    as_of = ledger.params.as_of
    n = len(ledger.invoices)
    total = best_of(lambda: forecast(ledger, rules, as_of))
    book = receivables(None, None, as_of, links=link(ledger.invoices, ledger.payments))
    rows = np.flatnonzero(book.is_item & (book.open_by_invoice > 0))
    model = best_of(lambda: predict_payment_days(book, rows, ledger.customers))
    basis = prepare(ledger, rules, as_of)
    table = best_of(lambda: assemble(basis))
    base = assemble(basis)
    actions = best_of(lambda: rank_actions(basis, rules, base))
    per = total / n * 100_000
    print(f"{name:<28}{n:>11,}{len(rows):>10,}{total:>10.3f}{model:>10.3f}{table:>10.3f}{actions:>10.3f}{per:>12.3f}".replace(",", " "))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,300000,1000000")
    args = parser.parse_args()
    rules = load(DEFAULT_RULES_DIR)
    print(f"{'classeur':<28}{'factures':>11}{'ouvertes':>10}{'forecast':>10}{'modèle':>10}{'assemble':>10}{'actions':>10}{'s/100k fact.':>12}")
    started = time.perf_counter()
    measure("démo (xlsx/encaisse-demo)", encaisse.load_workbook(DEMO_WORKBOOK), rules)
    for size in (int(s) for s in args.sizes.split(",") if s):
        measure(f"généré, {size:,} factures".replace(",", " "), generate_sample(invoices=size), rules)
    print(f"(secondes, meilleur de 3 ; banc complet {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
