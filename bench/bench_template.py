"""Sample generation and workbook writing: `generate_sample(N)` then `write_template(path, ledger)`.

    .venv/bin/python bench/bench_template.py                        # 10 000, 100 000, 1 000 000 invoices
    .venv/bin/python bench/bench_template.py --sizes 10000,100000

Each size runs once (writing is deterministic, so repeated runs only repeat the same work);
the file is written to a temporary folder and removed. Peak memory is the process's maximum
resident size so far (sizes run in increasing order, so it is the largest size's figure).
Excel caps a sheet at 1 048 576 rows: 1 000 000 invoices give about 909 000 payment rows.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from encaisse.authoring.sample import generate_sample
from encaisse.authoring.template import write_template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    print(f"{'factures':>10} {'génération':>11} {'écriture':>10} {'fichier':>10} {'cellules':>11} {'mémoire max':>12}")
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            start = time.perf_counter()
            ledger = generate_sample(invoices=size)
            generated = time.perf_counter() - start
            path = Path(folder) / f"demo-{size}.xlsx"
            start = time.perf_counter()
            write_template(path, ledger)
            written = time.perf_counter() - start
            cells = sum(frame.drop(columns="row").notna().sum().sum() for frame in (
                ledger.invoices, ledger.payments, ledger.customers, ledger.payables, ledger.activity,
                ledger.flows, ledger.journal))
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
            print(f"{size:>10,} {generated:>10.2f}s {written:>9.2f}s {path.stat().st_size / 1e6:>8.1f} Mo "
                  f"{cells:>11,} {peak:>9.2f} Go".replace(",", " "))
            path.unlink()


if __name__ == "__main__":
    main()
