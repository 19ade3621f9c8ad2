"""Every KPI on 100 000 and 1 000 000 invoices: time per KPI, total, peak memory.

    .venv/bin/python bench/bench_kpi.py                    # 100 000 and 1 000 000 invoices
    .venv/bin/python bench/bench_kpi.py --sizes 10000,100000

Data: encaisse.authoring.sample.generate_sample(invoices=N) (as-of 31/10/2026), generated in memory
(not timed). As `kpi_summary` does, the links between tables are computed once (`link`), the
receivables once at the as-of date and once at the CEI period's start, and every KPI gets the
shared record through `receivables=`; each line times one step on the shared data, best of 3. "kpi_summary" is the whole summary end to end
(both receivables included), best of 3: this is the figure the target is about (all KPIs on
1 M invoices under 1 s, under 1 GB). Peak memory is measured by tracemalloc around one
kpi_summary call (numpy and pandas buffers included), apart from the timings.
"""

from __future__ import annotations

import argparse
import gc
import resource
import tracemalloc

from encaisse import kpi
from encaisse.kpi.periods import months_before
from encaisse.ledger import balances, link, receivables
from timing import best_of, sample  # bench/timing.py


def steps(ledger, as_of):
    """(name, callable) per KPI; the shared receivables are computed here once."""
    links = link(ledger.invoices, ledger.payments)
    book = receivables(None, None, as_of, links=links)
    begin = receivables(None, None, months_before(as_of, 3), links=links)
    shared = {"receivables": book}
    return [
        ("link (factures ↔ règlements)", lambda: link(ledger.invoices, ledger.payments)),
        ("receivables (au 31/10)", lambda: receivables(None, None, as_of, links=links)),
        ("receivables (début CEI)", lambda: receivables(None, None, months_before(as_of, 3), links=links)),
        ("customer_balances", lambda: balances(book)),
        ("dso countback", lambda: kpi.dso(None, None, as_of, "countback", **shared)),
        ("dso period", lambda: kpi.dso(None, None, as_of, "period", **shared)),
        ("best_possible_dso", lambda: kpi.best_possible_dso(None, None, as_of, **shared)),
        ("average_days_delinquent", lambda: kpi.average_days_delinquent(None, None, as_of, **shared)),
        ("cei", lambda: kpi.cei(None, None, as_of, receivables_begin=begin, **shared)),
        ("dpo", lambda: kpi.dpo(ledger.payables, ledger.activity, as_of)),
        ("dio", lambda: kpi.dio(ledger.activity, as_of)),
        ("ccc", lambda: kpi.ccc(None, None, ledger.payables, ledger.activity, as_of, **shared)),
        ("aging (par client)", lambda: kpi.aging(None, None, as_of, **shared)),
        ("recovery_rate", lambda: kpi.recovery_rate(None, None, as_of, **shared)),
        ("dispute_rate", lambda: kpi.dispute_rate(None, as_of, **shared)),
        ("dunning_success_rate", lambda: kpi.dunning_success_rate(ledger.journal, None, None, as_of, **shared)),
        ("mean_payment_delay", lambda: kpi.mean_payment_delay(None, None, as_of, **shared)),
        ("mean_days_late", lambda: kpi.mean_days_late(None, None, as_of, **shared)),
        ("gross_margin", lambda: kpi.gross_margin(ledger.activity, as_of)),
        ("operating_cash_flow", lambda: kpi.operating_cash_flow(None, ledger.payables, as_of, **shared)),
        ("cash_released", lambda: kpi.cash_released(ledger.activity, as_of, -15, 10, -20)),
    ]


def bench(size: int) -> None:
    ledger = sample(size)
    as_of = ledger.params.as_of
    gc.collect()
    total = 0.0
    for name, function in steps(ledger, as_of):
        seconds = best_of(function)
        total += seconds
        print(f"  {name:<30} {seconds * 1000:8.1f} ms")
    print(f"  {'somme des lignes':<30} {total * 1000:8.1f} ms")
    summary = best_of(lambda: kpi.kpi_summary(ledger, as_of))
    print(f"  {'kpi_summary (tout)':<30} {summary * 1000:8.1f} ms   cible < 1000 ms pour 1 000 000 factures")
    gc.collect()
    tracemalloc.start()
    kpi.kpi_summary(ledger, as_of)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  {'mémoire de pointe':<30} {peak / 2**20:8.1f} Mo (tracemalloc, kpi_summary)   cible < 1024 Mo")
    print(f"  {'RSS max du processus':<30} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.1f} Mo (données générées comprises)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="nombres de factures séparés par des virgules")
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        bench(size)


if __name__ == "__main__":
    main()
