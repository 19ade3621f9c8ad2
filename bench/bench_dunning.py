"""Dunning and the day's worklist on 100 000 and 1 000 000 invoices: time per step, total.

    .venv/bin/python bench/bench_dunning.py                    # 100 000 and 1 000 000 invoices
    .venv/bin/python bench/bench_dunning.py --sizes 10000

Data: encaisse.authoring.sample.generate_sample(invoices=N) (as-of 31/10/2026, its Journal of
reminders with promises and payment plans), generated in memory (not timed); the default rules/.
Each line times one step, best of 3; « dunning + worklist » is the whole of `run_dunning` (the
allocation, the scores that choose each customer's timeline, the Journal, pauses, penalties and
the ranked worklist: what `encaisse worklist` computes), best of 3: the figure the target is
about (1 000 000 invoices under 3 s). The `Communication` records (every invoice of every
customer reminded, as Python objects for the letters) are timed apart: `encaisse letters` builds
them, the worklist does not need them.
"""

from __future__ import annotations

import argparse
import gc

from encaisse.credit.scoring import score_customers
from encaisse.dunning import communications, dunning_state, run_dunning, worklist
from encaisse.ledger import receivables
from encaisse.resources import DEFAULT_RULES_DIR
from encaisse.rules import load
from timing import best_of, sample, spaced  # bench/timing.py


def bench(size: int, rules) -> None:
    ledger = sample(size, "lignes de journal")
    as_of = ledger.params.as_of
    gc.collect()
    book = receivables(ledger.invoices, ledger.payments, as_of)
    scores = score_customers(ledger.invoices, ledger.payments, ledger.customers, as_of, rules.scoring)
    state = dunning_state(ledger.invoices, ledger.payments, ledger.customers, ledger.journal, rules, as_of, scores=scores, book=book)
    steps = [
        ("receivables (allocation)", lambda: receivables(ledger.invoices, ledger.payments, as_of)),
        ("score_customers (classes)", lambda: score_customers(ledger.invoices, ledger.payments, ledger.customers, as_of, rules.scoring)),
        ("dunning_state (le reste)", lambda: dunning_state(ledger.invoices, ledger.payments, ledger.customers, ledger.journal, rules,
                                                           as_of, scores=scores, book=book)),
        ("communications", lambda: communications(state)),
        ("worklist", lambda: worklist(state)),
    ]
    total = 0.0
    for name, function in steps:
        seconds = best_of(function)
        total += seconds
        print(f"  {name:<30} {seconds * 1000:8.1f} ms")
    print(f"  {'somme des lignes':<30} {total * 1000:8.1f} ms")
    run = run_dunning(ledger, rules)
    whole = best_of(lambda: run_dunning(ledger, rules))
    actions = run.worklist["action"].value_counts().to_dict()
    print(f"  {'dunning + worklist (tout)':<30} {whole * 1000:8.1f} ms   cible < 3000 ms pour 1 000 000 factures")
    print(f"  {'+ communications (lettres)':<30} {best_of(lambda: communications(run.state)) * 1000:8.1f} ms")
    print(f"  {spaced(len(run.communications))} communications, {spaced(len(run.worklist))} actions : "
          + ", ".join(f"{name} {spaced(n)}" for name, n in actions.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="nombres de factures séparés par des virgules")
    args = parser.parse_args()
    rules = load(DEFAULT_RULES_DIR)
    for size in (int(s) for s in args.sizes.split(",")):
        bench(size, rules)


if __name__ == "__main__":
    main()
