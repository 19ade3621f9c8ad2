"""Every KPI on 100 000 and 1 000 000 invoices: time per KPI, total, peak memory.

    .venv/bin/python bench/bench_kpi.py                    # 100 000 and 1 000 000 invoices
    .venv/bin/python bench/bench_kpi.py --sizes 10000,100000

Data: encaisse.sample.generate_sample(invoices=N) (as-of 31/10/2026), generated in memory
(not timed). The receivables are computed once (`receivables`, plus once at the CEI period's
start) and shared by every KPI through `receivables=`, as `kpi_summary` does; each line times
one KPI on the shared record, best of 3. "kpi_summary" is the whole summary end to end
(both receivables included), best of 3: this is the figure the target is about (all KPIs on
1 M invoices under 1 s, under 1 GB). Peak memory is measured by tracemalloc around one
kpi_summary call (numpy and pandas buffers included), apart from the timings.
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
import tracemalloc

from encaisse import kpi
from encaisse.kpi.periods import months_before
from encaisse.ledger import balances, receivables
from encaisse.sample import generate_sample


def best_of(function, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def steps(ledger, as_of):
    """(name, callable) per KPI; the shared receivables are computed here once."""
    book = receivables(ledger.invoices, ledger.payments, as_of)
    begin = receivables(book.invoices, book.payments, months_before(as_of, 3))
    inv, pay = book.invoices, book.payments
    return [
        ("receivables (au 31/10)", lambda: receivables(ledger.invoices, ledger.payments, as_of)),
        ("receivables (début CEI)", lambda: receivables(inv, pay, months_before(as_of, 3))),
        ("customer_balances", lambda: balances(book)),
        ("dso countback", lambda: kpi.dso(None, None, as_of, "countback", receivables=book)),
        ("dso period", lambda: kpi.dso(None, None, as_of, "period", receivables=book)),
        ("best_possible_dso", lambda: kpi.best_possible_dso(None, None, as_of, receivables=book)),
        ("average_days_delinquent", lambda: kpi.average_days_delinquent(None, None, as_of, receivables=book)),
        ("cei", lambda: kpi.cei(None, None, as_of, receivables=book, receivables_begin=begin)),
        ("dpo", lambda: kpi.dpo(ledger.payables, ledger.activity, as_of)),
        ("dio", lambda: kpi.dio(ledger.activity, as_of)),
        ("ccc", lambda: kpi.ccc(None, None, ledger.payables, ledger.activity, as_of, receivables=book)),
        ("aging (par client)", lambda: kpi.aging(None, None, as_of, receivables=book)),
        ("recovery_rate", lambda: kpi.recovery_rate(inv, pay, as_of)),
        ("dispute_rate", lambda: kpi.dispute_rate(inv, as_of)),
        ("dunning_success_rate", lambda: kpi.dunning_success_rate(ledger.journal, inv, pay, as_of)),
        ("mean_payment_delay", lambda: kpi.mean_payment_delay(inv, pay, as_of)),
        ("mean_days_late", lambda: kpi.mean_days_late(inv, pay, as_of)),
        ("gross_margin", lambda: kpi.gross_margin(ledger.activity, as_of)),
        ("operating_cash_flow", lambda: kpi.operating_cash_flow(pay, ledger.payables, as_of)),
        ("cash_released", lambda: kpi.cash_released(ledger.activity, as_of, -15, 10, -20)),
    ]


def bench(size: int) -> None:
    start = time.perf_counter()
    ledger = generate_sample(invoices=size)
    as_of = ledger.params.as_of
    print(f"\n{size:,} factures".replace(",", " ") + f" ({len(ledger.payments):,} règlements, {len(ledger.customers):,} clients, "
          f"{len(ledger.journal):,} relances ; générées en {time.perf_counter() - start:.1f} s)".replace(",", " "))
    gc.collect()
    total = 0.0
    for name, function in steps(ledger, as_of):
        seconds = best_of(function)
        total += seconds
        print(f"  {name:<26} {seconds * 1000:8.1f} ms")
    print(f"  {'somme des lignes':<26} {total * 1000:8.1f} ms")
    summary = best_of(lambda: kpi.kpi_summary(ledger, as_of))
    print(f"  {'kpi_summary (tout)':<26} {summary * 1000:8.1f} ms   cible < 1000 ms pour 1 000 000 factures")
    gc.collect()
    tracemalloc.start()
    kpi.kpi_summary(ledger, as_of)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  {'mémoire de pointe':<26} {peak / 2**20:8.1f} Mo (tracemalloc, kpi_summary)   cible < 1024 Mo")
    print(f"  {'RSS max du processus':<26} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.1f} Mo (données générées comprises)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="nombres de factures séparés par des virgules")
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        bench(size)


if __name__ == "__main__":
    main()
