"""Headless recalculation speed: `encaisse recalc` against the fast reader and LibreOffice.

    .venv/bin/python bench/bench_recalc.py                        # 10 000, 100 000, 1 000 000 invoices
    .venv/bin/python bench/bench_recalc.py --sizes 10000,100000
    .venv/bin/python bench/bench_recalc.py --sizes 100000 --no-libreoffice
    .venv/bin/python bench/bench_recalc.py --sizes 1000000 --libreoffice-max 1000000   # hours

For each size the demo-like workbook (generate_sample + write_template, with the dashboard) is
generated once and cached in bench/cache/ (git-ignored). Each measure runs in its own process
so that its peak memory (max RSS) is its own:

- read: python-calamine turning every sheet the recalculation reads into Python values (the
  fast reader; nothing else), one sheet after the other; beside it `encaisse.load_workbook`
  (read + conversion), and the read's whole process (Python start, import, read, exit), the
  counterpart of the CLI time;
- recalc: `encaisse.recalc.recalc()` in a process where the libraries are already imported;
- CLI: `encaisse recalc BOOK -o OUT` end to end (Python start, imports, recalc);
- LibreOffice: `soffice --headless --convert-to xlsx` with "recalculate on load: always", on a
  copy of the workbook whose dashboard uses native formulas instead of the encaisse functions
  (each KPI by SUMIFS/COUNTIFS over the same tables, the aged balance by SUMIFS per customer and
  bucket): LibreOffice cannot compute DSO or AGING otherwise. Also timed: LibreOffice opening
  and saving the same copy without recalculating ("LO sans recalcul").

Each time is the best of --repeat runs (3; one run above 100 000 invoices and for LibreOffice),
each in a fresh process; the sources are byte-compiled first, as an install does.

Targets at 100 000 invoices: `encaisse recalc` (CLI) <= 2 x the read, and >= 3 x faster than
LibreOffice.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / "cache"
PYTHON = sys.executable
sys.path.insert(0, str(ROOT / "tests"))

READ_SHEETS = ("Factures", "Règlements", "Clients", "Dettes", "Activité", "Trésorerie", "Paramètres", "Tableau de bord")


def _version() -> str:
    """Short hash of the code that shapes the cached workbooks: a changed dashboard means a new file."""
    import hashlib

    digest = hashlib.sha256()
    for part in ("engine/authoring/dashboard.py", "engine/authoring/template.py", "engine/authoring/sample.py", "bench/native_dashboard.py"):
        digest.update((ROOT / part).read_bytes())
    return digest.hexdigest()[:8]


def workbook(invoices: int, native: bool = False) -> Path:
    path = CACHE / f"recalc{'-natif' if native else ''}-{invoices}-{_version()}.xlsx"
    if path.exists():
        return path
    CACHE.mkdir(exist_ok=True)
    started = time.perf_counter()
    _child("build", str(invoices), str(path), "native" if native else "encaisse")
    print(f"  classeur {path.name} généré en {time.perf_counter() - started:.1f} s", flush=True)
    return path


# ------------------------------------------------------------------------------- child processes

def _child(*args: str) -> dict:
    done = subprocess.run([PYTHON, __file__, "--child", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: list[str]) -> None:
    what = args[0]
    if what == "build":
        _build(int(args[1]), Path(args[2]), native=args[3] == "native")
        print(json.dumps({}))
    elif what == "read":
        import gc

        import python_calamine as calamine

        gc.disable()  # as the recalculation and the loader do
        started = time.perf_counter()
        book = calamine.CalamineWorkbook.from_path(args[1])
        cells = 0
        for name in READ_SHEETS:
            if name in book.sheet_names:
                rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
                cells += sum(len(r) for r in rows)
        print(json.dumps({"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(), "cells": cells}))
    elif what == "load":
        from encaisse import load_workbook

        started = time.perf_counter()
        load_workbook(args[1])
        print(json.dumps({"seconds": time.perf_counter() - started, "peak_mb": _peak_mb()}))
    elif what == "recalc":
        import formulas.functions  # imported before timing, as in a long-running process

        formulas.functions.get_functions()
        import encaisse.excel.kpi  # noqa: F401
        from encaisse.recalc import recalc

        started = time.perf_counter()
        report = recalc(args[1], args[2])
        print(json.dumps({"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(), "cells": report.cells}))


def _build(invoices: int, path: Path, native: bool) -> None:
    import encaisse.authoring.template as template
    from encaisse.authoring.template import generate_sample, write_template

    ledger = generate_sample(invoices)
    if native:
        import native_dashboard

        original = template.write_dashboard
        template.write_dashboard = lambda workbook, formats, led: native_dashboard.write(workbook, original, led)
    write_template(path, ledger)


# ------------------------------------------------------------------------------- measures

def _best(row: dict, key: str, seconds: float) -> bool:
    """Keep the shortest time under `key`; True when `seconds` is the new best."""
    if key in row and row[key] <= seconds:
        return False
    row[key] = seconds
    return True


def measure(invoices: int, libreoffice: bool, repeat: int = 3) -> dict:
    """Times (s, best of `repeat`) and peaks (MB) for one size; LibreOffice (once) only when `libreoffice`."""
    book = workbook(invoices)
    row: dict = {"invoices": invoices}
    with tempfile.TemporaryDirectory(prefix="bench-recalc-") as tmp:
        for _ in range(repeat):  # each measure: the best of `repeat` runs, in fresh processes
            started = time.perf_counter()
            read = _child("read", str(book))
            _best(row, "read_process", time.perf_counter() - started)  # Python start, import, read, exit
            if _best(row, "read", read["seconds"]):
                row["read_mb"] = read["peak_mb"]
            _best(row, "load", _child("load", str(book))["seconds"])
            rec = _child("recalc", str(book), os.path.join(tmp, "out.xlsx"))
            if _best(row, "recalc", rec["seconds"]):
                row["recalc_mb"], row["cells"] = rec["peak_mb"], rec["cells"]
            started = time.perf_counter()
            cli = subprocess.run([str(Path(PYTHON).parent / "encaisse"), "recalc", str(book), "-o", os.path.join(tmp, "cli.xlsx")],
                                 capture_output=True, text=True)
            _best(row, "cli", time.perf_counter() - started)
            if cli.returncode != 0:
                raise RuntimeError(cli.stderr)
        if libreoffice:
            import lo_recalc

            native = workbook(invoices, native=True)
            _, row["lo"] = lo_recalc.recalculate(native, Path(tmp) / "lo")
            started = time.perf_counter()
            subprocess.run([lo_recalc.soffice(), "--headless", "--norestore",
                            f"-env:UserInstallation={(Path(tmp) / 'plain-profile').as_uri()}",
                            "--convert-to", "xlsx", "--outdir", str(Path(tmp) / "plain"), str(native)],
                           capture_output=True, text=True, check=True)
            row["lo_open"] = time.perf_counter() - started
    return row


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="nombres de factures, séparés par des virgules")
    parser.add_argument("--no-libreoffice", action="store_true", help="ne pas mesurer LibreOffice")
    parser.add_argument("--libreoffice-max", type=int, default=100000,
                        help="LibreOffice mesuré jusqu'à ce nombre de factures (défaut 100 000 : au-delà, sa version "
                             "native du tableau de bord, des milliers de SUMIFS sur un million de lignes, prend des heures)")
    parser.add_argument("--repeat", type=int, default=3, help="mesures répétées, la meilleure gardée (défaut 3 ; LibreOffice : une fois)")
    args = parser.parse_args()
    # As a pip install does, and as dev.py does for the editable one: the sources compiled once, so
    # that no run pays for it (PYTHONDONTWRITEBYTECODE would otherwise make every run compile them).
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "engine"), str(ROOT / "addin")], check=True)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    libreoffice = not args.no_libreoffice and shutil.which("soffice") is not None
    if not args.no_libreoffice and not libreoffice:
        print("LibreOffice (soffice) introuvable : colonnes LibreOffice non mesurées")
    rows = []
    for n in sizes:
        print(f"{n:,} factures ...".replace(",", " "), flush=True)
        rows.append(measure(n, libreoffice and n <= args.libreoffice_max, repeat=1 if n > 100_000 else args.repeat))
        _print(rows[-1])
    print()
    print(f"{'factures':>10} {'lecture':>8} {'chargt':>7} {'recalc':>8} {'ratio':>6} {'lect.proc':>9} {'CLI':>7} {'ratio':>6} {'CLI/lect':>8} "
          f"{'LO':>8} {'LO/recalc':>9} {'LO ouvr.':>8} {'Mo lect.':>8} {'Mo recalc':>9}")
    for r in rows:
        lo = f"{r['lo']:8.2f}" if "lo" in r else f"{'-':>8}"
        speed = f"{r['lo'] / r['recalc']:9.1f}" if "lo" in r else f"{'-':>9}"
        lo_open = f"{r['lo_open']:8.2f}" if "lo_open" in r else f"{'-':>8}"
        print(f"{r['invoices']:>10,} {r['read']:8.2f} {r['load']:7.2f} {r['recalc']:8.2f} {r['recalc'] / r['read']:6.2f} "
              f"{r['read_process']:9.2f} {r['cli']:7.2f} {r['cli'] / r['read_process']:6.2f} {r['cli'] / r['read']:8.2f} {lo} {speed} {lo_open} "
              f"{r['read_mb']:8.0f} {r['recalc_mb']:9.0f}".replace(",", " "))
    print("\nsecondes ; lecture = python-calamine seul, dans un processus où il est déjà importé ; chargt = encaisse.load_workbook"
          " (lecture + conversion) ; recalc = encaisse.recalc.recalc() dans un processus où les bibliothèques sont importées ;"
          " ratio = recalc / lecture (cible <= 2 à 100 000) ; lect.proc = la même lecture de bout en bout (démarrage de Python,"
          " import, lecture, fin) ; CLI = encaisse recalc de bout en bout, ratio = CLI / lect.proc ; CLI/lect = CLI / lecture ;"
          " chaque temps est le meilleur de --repeat mesures (une seule au-delà de 100 000 factures et pour LibreOffice) ;"
          " LO/recalc = LibreOffice / recalc (cible >= 3) ; Mo = pic mémoire (max RSS) du processus")
    return 0


def _print(r: dict) -> None:
    parts = [f"lecture {r['read']:.2f} s", f"recalc {r['recalc']:.2f} s ({r['cells']} cellules)", f"CLI {r['cli']:.2f} s"]
    if "lo" in r:
        parts += [f"LibreOffice {r['lo']:.2f} s (sans recalcul {r['lo_open']:.2f} s)"]
    print("  " + " ; ".join(parts), flush=True)


if __name__ == "__main__":
    sys.exit(main())
