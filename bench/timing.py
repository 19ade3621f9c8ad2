"""Shared by the bench scripts (run as `python bench/x.py`, so bench/ is on sys.path)."""

from __future__ import annotations

import time


def best_of(function, runs: int = 3) -> float:
    """Shortest wall time of `runs` calls, in seconds (garbage collector left as it is, unlike timeit)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def sample(size: int, what: str = "relances"):
    """The sample company with `size` invoices (not timed), and a header line saying what it holds."""
    from encaisse.authoring.sample import generate_sample

    start = time.perf_counter()
    ledger = generate_sample(invoices=size)
    print(f"\n{spaced(size)} factures ({spaced(len(ledger.payments))} règlements, {spaced(len(ledger.customers))} clients, "
          f"{spaced(len(ledger.journal))} {what} ; générées en {time.perf_counter() - start:.1f} s)")
    return ledger


def spaced(count: int) -> str:
    """1000000 -> '1 000 000'."""
    return f"{count:,}".replace(",", " ")
