"""Scoring, credit exposure and late penalties on 100 000 and 1 000 000 invoices: time per step.

    .venv/bin/python bench/bench_scoring.py                    # 100 000 and 1 000 000 invoices
    .venv/bin/python bench/bench_scoring.py --sizes 10000,100000

Data: encaisse.authoring.sample.generate_sample(invoices=N) (as-of 31/10/2026), generated in memory (not
timed); default policies (ScoringPolicy(), RiskPolicy()) and rules/legal.yaml. Each line is the
best of 3 runs of one whole-table call: `score_customers` (every customer), `credit_exposure`
(given the scores), `late_penalty` on every open item (open items computed outside the timing).
The cost should grow linearly with the number of invoices.
"""

from __future__ import annotations

import argparse

from encaisse.ledger import open_items
from encaisse.rules import load_legal
from encaisse.credit.penalty import late_penalty
from encaisse.credit.risk import credit_exposure
from encaisse.rules.records import RiskPolicy
from encaisse.authoring.sample import generate_sample
from encaisse.credit.scoring import score_customers
from encaisse.rules.records import ScoringPolicy
from timing import best_of  # bench/timing.py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="numbers of invoices, comma-separated")
    sizes = [int(size) for size in parser.parse_args().sizes.split(",")]
    legal = load_legal()
    for size in sizes:
        ledger = generate_sample(invoices=size)
        as_of = ledger.params.as_of
        inv, pay, cust = ledger.invoices, ledger.payments, ledger.customers
        scores = score_customers(inv, pay, cust, as_of, ScoringPolicy())
        items = open_items(inv, pay, as_of)
        print(f"{len(inv):>9} factures, {len(pay)} règlements, {len(cust)} clients, {len(items)} postes au {as_of:%d/%m/%Y}")
        for name, step in (
            ("score_customers", lambda: score_customers(inv, pay, cust, as_of, ScoringPolicy())),
            ("credit_exposure", lambda: credit_exposure(inv, pay, cust, as_of, RiskPolicy(), scores)),
            ("late_penalty", lambda: late_penalty(items["open_amount"], items["due_date"], as_of, legal)),
        ):
            print(f"  {name:<16} {best_of(step) * 1000:8.1f} ms")
        classes = scores["risk_class"].value_counts().sort_index().to_dict()
        print(f"  classes : {classes}")


if __name__ == "__main__":
    main()
