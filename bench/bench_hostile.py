"""Resources taken by hostile inputs: each is refused, or done within 1 GB and 60 s.

    .venv/bin/python bench/bench_hostile.py              # every input, every command it concerns
    .venv/bin/python bench/bench_hostile.py --only far   # the inputs whose label holds "far"

Each input (under 10 MB on disk) is built in a temporary folder: a sheet that inflates to a
gigabyte (zip bomb), two million shared strings, a stray cell at XFD1048576 on a sheet a formula
reads, a 100 000-character formula, SUM over A1:XFC1048576, a formula nested 4 000 deep, a 1 KB
YAML alias bomb and 5 000-deep YAML nesting as rules. Each command (`kpi`, `recalc`, `rules
check`) runs in a process of its own, started by a helper process that reports its children's
peak memory (resource.getrusage(RUSAGE_CHILDREN).ru_maxrss) once it has ended; the command's
address space is capped at 6 GB so that a blow-up cannot take the machine down (it would then
show as a failure, not as a refusal).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

LIMIT_BYTES = 1 << 30
LIMIT_SECONDS = 60
KILL_AFTER = 180
ADDRESS_SPACE = 6 << 30

HELPER = """
import resource, subprocess, sys
limit = int(sys.argv[1])
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    done = subprocess.run(sys.argv[3:], capture_output=True, timeout=float(sys.argv[2]), preexec_fn=cap)
    code, err = done.returncode, done.stderr
except subprocess.TimeoutExpired:
    code, err = "tué", b""
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
sys.stdout.write(f"{code}\\t{peak}\\n")
sys.stdout.flush()
sys.stdout.buffer.write(err)
"""


def base_book(path: Path, formulas=(), extra=None) -> Path:
    """An encaisse-like book: Factures (a table), Clients, DateArrete, and a Calc sheet with `formulas`."""
    import datetime as dt

    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    calc = book.add_worksheet("Calc")
    factures = book.add_worksheet("Factures")
    rows = [[f"F{i}", "C1", dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1), 100.0 + i] for i in range(1, 51)]
    factures.add_table(0, 0, len(rows), 4, {"name": "Factures", "data": rows, "columns": [
        {"header": h} for h in ("N° facture", "Code client", "Date facture", "Échéance", "Montant TTC")]})
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    for r, row in enumerate(rows, start=1):
        factures.write_datetime(r, 2, row[2], date)
        factures.write_datetime(r, 3, row[3], date)
    clients = book.add_worksheet("Clients")
    clients.add_table(0, 0, 1, 2, {"name": "Clients", "data": [["C1", "Alpha", "PME"]],
                                   "columns": [{"header": h} for h in ("Code client", "Raison sociale", "Segment")]})
    params = book.add_worksheet("Paramètres")
    params.write("A1", "Date d'arrêté")
    params.write_datetime("B1", dt.datetime(2026, 10, 31), date)
    book.define_name("DateArrete", "='Paramètres'!$B$1")
    for ref, formula in formulas:
        calc.write_formula(ref, formula)
    if extra:
        extra(book, calc, factures)
    book.close()
    return path


def replace_part(source: Path, target: Path, member: str, write) -> Path:
    """`source` copied with `member` rewritten by `write(stream)` (streamed: a gigabyte never sits in memory)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != member:
                zout.writestr(info, zin.read(info))
        info = zipfile.ZipInfo(member)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zout.open(info, "w", force_zip64=True) as stream:
            write(stream)
    return target


def inputs(folder: Path) -> list[tuple[str, list[list[str]]]]:
    """(label, commands) of each hostile input, built in `folder`."""
    cases = []
    plain = base_book(folder / "plain.xlsx", [("A1", "=SUM(Factures[Montant TTC])")])

    def bomb(stream):
        head = b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        stream.write(head)
        for _ in range(1024):
            stream.write(b" " * (1 << 20))
        stream.write(b"</sheetData></worksheet>")

    path = replace_part(plain, folder / "bombe.xlsx", "xl/worksheets/sheet2.xml", bomb)
    cases.append(("zip bomb sheet (Factures inflates to 1 GB)", [["kpi", str(path)], ["recalc", str(path), "-o", str(folder / "o.xlsx")]]))

    def strings(stream):
        count = 2_000_000
        stream.write(f'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                     f'count="{count}" uniqueCount="{count}">'.encode())
        for start in range(0, count, 100_000):
            stream.write(b"".join(b"<si><t>texte %d</t></si>" % i for i in range(start, start + 100_000)))
        stream.write(b"</sst>")

    path = replace_part(plain, folder / "chaines.xlsx", "xl/sharedStrings.xml", strings)
    cases.append(("huge shared strings (2 000 000 strings, 50 MB)", [["kpi", str(path)], ["recalc", str(path), "-o", str(folder / "o.xlsx")]]))

    path = base_book(folder / "loin.xlsx", [("A1", "=SUM(Factures[Montant TTC])"), ("A2", "=SUM(Autre!A1:A3)")],
                     extra=lambda book, calc, factures: (factures.write(1048575, 16383, 1), book.add_worksheet("Autre").write(1048575, 16383, 1)))
    cases.append(("stray far cell at XFD1048576 (Factures and a sheet a formula reads)",
                  [["kpi", str(path)], ["recalc", str(path), "-o", str(folder / "o.xlsx")]]))

    path = base_book(folder / "longue.xlsx", [("A1", "=" + "1+" * 50_000 + "1")])
    cases.append(("100 000-character formula", [["recalc", str(path), "-o", str(folder / "o.xlsx")]]))

    path = base_book(folder / "plage.xlsx", [("A1", "=SUM(Factures!A1:XFC1048576)")])
    cases.append(("SUM over A1:XFC1048576 (read to the used area)", [["recalc", str(path), "-o", str(folder / "o.xlsx")]]))

    path = base_book(folder / "plage-bornee.xlsx", [("A1", "=SUM(Factures!A1:XFC100000)")])
    cases.append(("SUM over A1:XFC100000 (a bounded range of 1.6 billion cells)", [["recalc", str(path), "-o", str(folder / "o.xlsx")]]))

    path = base_book(folder / "imbrique.xlsx", [("A1", "=" + "(" * 4000 + "1" + ")" * 4000)])
    cases.append(("formula nested 4 000 deep (8 001 characters)", [["recalc", str(path), "-o", str(folder / "o.xlsx")]]))

    from encaisse.resources import DEFAULT_RULES_DIR

    aliases = folder / "regles-alias"
    shutil.copytree(DEFAULT_RULES_DIR, aliases)
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(9))
    (aliases / "scoring.yaml").write_text(text, encoding="utf-8")
    cases.append((f"YAML alias bomb as rules ({len(text)} bytes, 10^10 values)",
                  [["rules", "check", str(aliases)], ["recalc", str(plain), "-o", str(folder / "o.xlsx"), "--rules", str(aliases)]]))

    nested = folder / "regles-imbriquees"
    shutil.copytree(DEFAULT_RULES_DIR, nested)
    (nested / "scoring.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    cases.append(("YAML nested 5 000 deep as rules", [["rules", "check", str(nested)]]))
    return cases


def measure(command: list[str]) -> tuple[str, float, int, str]:
    """(exit code, seconds, peak bytes, first line of the error output) of `encaisse COMMAND`."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", HELPER, str(ADDRESS_SPACE), str(KILL_AFTER), sys.executable, "-m", "encaisse.cli", *command],
                          capture_output=True)
    seconds = time.perf_counter() - started
    head, _, err = done.stdout.partition(b"\n")
    code, peak = head.decode().split("\t")
    first = next((line.strip() for line in err.decode("utf-8", "replace").splitlines()
                  if line.strip() and not line.rstrip().endswith(":")), "")
    return code, seconds, int(peak), first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="only the inputs whose label holds this text")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="encaisse-hostile-"))
    try:
        failures = 0
        for label, commands in inputs(folder):
            if args.only and args.only not in label:
                continue
            sizes = {Path(c[-1] if c[0] == "rules" else c[1]).name: Path(c[-1] if c[0] == "rules" else c[1]) for c in commands}
            on_disk = ", ".join(f"{name} {_size(p)}" for name, p in sizes.items())
            print(f"\n{label} [{on_disk}]")
            for command in commands:
                code, seconds, peak, first = measure(command)
                refused = code == "1"
                kept = code in ("0", "1") and seconds <= LIMIT_SECONDS and peak <= LIMIT_BYTES
                failures += not kept
                outcome = "refusé" if refused else "fait" if code == "0" else f"sortie {code}"
                print(f"  {command[0] if command[0] != 'rules' else 'rules check':<12} {outcome:<8} {seconds:6.2f} s  "
                      f"{peak / (1 << 20):7.0f} Mo  objectif {'tenu' if kept else 'NON TENU'}")
                if first:
                    print(f"      {first[:150]}")
        print(f"\n{'Tous les objectifs tenus' if not failures else f'{failures} objectif(s) non tenu(s)'} "
              f"(refusé, ou fait en {LIMIT_SECONDS} s et {LIMIT_BYTES >> 20} Mo au plus).")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _size(path: Path) -> str:
    if path.is_dir():
        return f"{sum(p.stat().st_size for p in path.rglob('*') if p.is_file()) >> 10} Ko"
    return f"{path.stat().st_size / (1 << 20):.1f} Mo"


if __name__ == "__main__":
    main()
