"""Cost of the one French formatter (Babel fr_FR) against hand-written f-string formatting.

    .venv/bin/python bench/bench_fr.py

Why it is measured: encaisse.fr formats with Babel rather than by hand, which is slower per
figure. It matters only if figures were formatted per invoice; they are formatted per report
line or per letter (a few per customer), so the question is whether 10 000 figures — a dunning
run over a thousand customers — stay well under a second. Best of 3, each run 10 000 figures.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from encaisse import fr
from timing import best_of  # bench/timing.py

N = 10_000
DAYS = [dt.date(2026, 1, 1) + dt.timedelta(days=i % 365) for i in range(N)]


def by_hand(value: float) -> str:
    return f"{value:,.2f}".replace(",", "\u202f").replace(".", ",") + "\u00a0€"


def main() -> None:
    values = np.random.default_rng(7).lognormal(7.0, 2.0, N).tolist()
    fr.euros(1.0)  # Babel's import and locale data, once
    rows = [
        ("fr.euros (Babel)", lambda: [fr.euros(v) for v in values]),
        ("fr.percent (Babel)", lambda: [fr.percent(v / 1e5) for v in values]),
        ("fr.date (Babel)", lambda: [fr.date(d) for d in DAYS]),
        ("f-string by hand", lambda: [by_hand(v) for v in values]),
        ("fr.round_cents, one array", lambda: fr.round_cents(np.asarray(values))),
    ]
    print(f"{N} figures, best of 3")
    for label, run in rows:
        seconds = best_of(run)
        print(f"  {label:<28} {seconds:7.3f} s   {seconds / N * 1e6:7.1f} µs per figure")


if __name__ == "__main__":
    main()
