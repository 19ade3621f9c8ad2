"""Loader speed: encaisse.load_workbook against python-calamine's bare read of the same tables.

    .venv/bin/python bench/bench_load.py                  # 10 000, 100 000 and 1 000 000 invoices
    .venv/bin/python bench/bench_load.py --sizes 10000,100000

Workbooks are generated once and cached in bench/cache/ (git-ignored): with
encaisse.authoring.template (generate_sample + write_template) when it exists, else with a small
xlsxwriter writer of Factures/Règlements/Clients/Paramètres. "raw" opens the workbook and
turns every table the loader reads into Python values with python-calamine and nothing
else; "load" is the full load_workbook (conversion, checks, named cells). Target: load of
100 000 invoices <= 1.5 x raw. load_workbook pauses Python's cyclic garbage collector while it
reads (millions of small objects, none cyclic), so the bare read is also timed that way
("raw sans GC") to show what the conversion itself costs. Best of 3 runs (1 run from
1 000 000 invoices up).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np
import python_calamine as calamine

from encaisse import load_workbook
from encaisse.tables import CUSTOMERS, INVOICES, PAYMENTS, TABLES
from timing import best_of  # bench/timing.py

CACHE = Path(__file__).resolve().parent / "cache"


def _template():
    try:
        from encaisse.authoring.template import write_template
    except ImportError:
        return None
    try:
        from encaisse.authoring.template import generate_sample
    except ImportError:
        try:
            from encaisse.authoring.sample import generate_sample
        except ImportError:
            return None
    return generate_sample, write_template


def workbook(invoices: int) -> Path:
    template = _template()
    kind = "modele" if template else "simple"
    path = CACHE / f"{kind}-{invoices}.xlsx"
    if path.exists():
        return path
    CACHE.mkdir(exist_ok=True)
    partial = path.with_suffix(".tmp.xlsx")
    started = time.perf_counter()
    if template:
        generate_sample, write_template = template
        write_template(partial, generate_sample(invoices=invoices))
    else:
        _write_simple(partial, invoices)
    os.replace(partial, path)
    print(f"  (généré {path.name} en {time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return path


def _write_simple(path: Path, n: int, seed: int = 7) -> None:
    import xlsxwriter

    rng = np.random.default_rng(seed)
    customers = max(10, n // 20)
    start = dt.datetime(2024, 1, 1)
    issue = rng.integers(0, 1000, n)
    terms = rng.choice([30, 45, 60], n)
    amount = np.round(rng.lognormal(7, 1, n), 2)
    who = rng.integers(0, customers, n)
    paid = rng.random(n) < 0.8
    book = xlsxwriter.Workbook(str(path))
    date_format = book.add_format({"num_format": "dd/mm/yyyy"})
    money = book.add_format({"num_format": "#,##0.00"})
    dates = [start + dt.timedelta(days=int(d)) for d in range(0, 1200)]

    sheet = book.add_worksheet(INVOICES.sheet)
    for i in range(n):
        r = i + 1
        sheet.write_string(r, 0, f"F{i + 1:07d}")
        sheet.write_string(r, 1, f"C{who[i]:05d}")
        sheet.write_datetime(r, 2, dates[issue[i]], date_format)
        sheet.write_datetime(r, 3, dates[issue[i] + terms[i]], date_format)
        sheet.write_number(r, 4, amount[i], money)
        sheet.write_string(r, 5, "EUR")
        if i % 37 == 0:
            sheet.write_string(r, 6, "prix")
            sheet.write_datetime(r, 7, dates[issue[i] + 5], date_format)
    headers = ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC", "Devise", "Litige", "Date litige"]
    sheet.add_table(0, 0, n, len(headers) - 1, {"name": INVOICES.name, "columns": [{"header": h} for h in headers]})

    sheet = book.add_worksheet(PAYMENTS.sheet)
    rows = np.flatnonzero(paid)
    for k, i in enumerate(rows):
        r = k + 1
        sheet.write_string(r, 0, f"R{k + 1:07d}")
        sheet.write_datetime(r, 1, dates[issue[i] + terms[i] + int(rng.integers(-10, 40))], date_format)
        sheet.write_string(r, 2, f"C{who[i]:05d}")
        sheet.write_string(r, 3, f"F{i + 1:07d}")
        sheet.write_number(r, 4, amount[i], money)
        sheet.write_string(r, 5, "virement")
    headers = ["N° règlement", "Date", "Code client", "N° facture", "Montant", "Mode"]
    sheet.add_table(0, 0, max(len(rows), 1), len(headers) - 1, {"name": PAYMENTS.name, "columns": [{"header": h} for h in headers]})

    sheet = book.add_worksheet(CUSTOMERS.sheet)
    for c in range(customers):
        sheet.write_row(c + 1, 0, [f"C{c:05d}", f"Client {c} SAS", "PME", f"compta{c}@exemple.fr"])
        sheet.write_number(c + 1, 4, 50000.0)
    headers = ["Code client", "Raison sociale", "Segment", "E-mail", "Encours max"]
    sheet.add_table(0, 0, customers, len(headers) - 1, {"name": CUSTOMERS.name, "columns": [{"header": h} for h in headers]})

    sheet = book.add_worksheet("Paramètres")
    sheet.write_string(0, 0, "Date d'arrêté")
    sheet.write_datetime(0, 1, dt.datetime(2026, 10, 31), date_format)
    book.define_name("DateArrete", "='Paramètres'!$B$1")
    book.close()


def raw_read_without_gc(path: Path) -> int:
    """The same bare read with Python's cyclic garbage collector paused, as load_workbook does."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return raw_read(path)
    finally:
        if enabled:
            gc.enable()


def raw_read(path: Path) -> int:
    """python-calamine alone: every table the loader reads, as Python values. Returns the cell count."""
    cells = 0
    with calamine.CalamineWorkbook.from_path(str(path), load_tables=True) as book:
        names = set(book.table_names or [])
        for table in TABLES:
            if table.name in names:
                found = book.get_table_by_name(table.name)
                values = found.to_python()
                cells += len(values) * len(found.columns)
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="nombres de factures, séparés par des virgules")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"{'factures':>10} {'cellules':>10} {'raw s':>8} {'load s':>8} {'ratio':>6} {'raw sans GC s':>14} {'ratio':>6}")
    for n in sizes:
        path = workbook(n)
        repeat = 3 if n < 1_000_000 else 1
        cells = raw_read(path)
        raw = best_of(lambda: raw_read(path), repeat)
        quiet = best_of(lambda: raw_read_without_gc(path), repeat)
        load = best_of(lambda: load_workbook(path), repeat)
        print(f"{n:>10} {cells:>10} {raw:>8.3f} {load:>8.3f} {load / raw:>6.2f} {quiet:>14.3f} {load / quiet:>6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
