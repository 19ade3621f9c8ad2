"""An outsider's fuzzing campaign against the `encaisse` command: thousands of hostile inputs,
each run in a process of its own, every outcome classified.

    .venv/bin/python bench/fuzz_campaign.py --cases 3000 --jobs 3 --seed 1
    .venv/bin/python bench/fuzz_campaign.py --areas formulas --cases 500 --keep /tmp/fuzz-found

Areas (the share of cases each gets is weighted, formulas first — the IronCalc path is the
newest and a Rust panic or abort there kills the process):
- formulas: random nestings of Excel functions (dynamic arrays, LAMBDA/LET, lookups, text, dates),
  huge, odd and whole-column ranges, 3-D and external references, R1C1-like junk, unicode sheet
  names, structured references to oddly named columns, error literals, array constants, deep
  nesting, long strings, spills that collide — given to `encaisse recalc`; a share of them are
  arithmetic over constants whose value is computed here too (a silent wrong figure is caught);
- content: Factures / Clients / Règlements tables with cells of every type, given to kpi,
  worklist, forecast, rules explain and recalc;
- package: the zip and XML of a small book damaged (truncated or dropped entries, bad XML in
  sheets, tables, workbook.xml, sharedStrings, wrong rels, odd compression);
- rules: rules/*.yaml mutated (values, types, keys, YAML syntax, aliases) for rules check,
  worklist and kpi;
- cli: every subcommand with random options and arguments.

Each case runs `.venv/bin/encaisse …` with RLIMIT_AS = 1 GB and a 60 s timeout, and is classed:
ok (exit 0), located (exit 1, a French message), usage (exit 2), TRACEBACK (stderr shows a
Python traceback or the last guard's "Erreur inattendue"), PANIC (a Rust panic message, whatever
the exit code), ABORT (killed by a signal, 134, 139), TIMEOUT (> 60 s), BLOWUP (out of memory,
or a peak over 1 GB), WRONG (exit 0 with a non-finite or absurd figure, a figure that differs
from the one computed here, or a damaged book: an unreadable output or a changed input), MUTE
(exit 1 without a message, or a message over 20 000 characters). Capital letters are defects.
The inputs of every defect are kept (--keep) with the command and its stderr.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures as cf
import datetime as dt
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENCAISSE = Path(os.environ.get("ENCAISSE", ROOT / ".venv" / "bin" / "encaisse"))  # another build: ENCAISSE=…/encaisse
RULES = ROOT / "rules"
MEMORY = 1 << 30
TIMEOUT = 60
DEFECTS = ("TRACEBACK", "PANIC", "ABORT", "TIMEOUT", "BLOWUP", "WRONG", "MUTE")


# ---------------------------------------------------------------------------------------------- running

def run_case(argv: list[str], cwd: Path, timeout: float = TIMEOUT) -> dict:
    """Run the command capped at 1 GB of address space; its exit status, output and peak memory."""
    out_path, err_path = cwd / ".stdout", cwd / ".stderr"
    started = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        def cap():
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
            os.setsid()
        env = {**os.environ, "LC_ALL": "C.UTF-8", "RUST_BACKTRACE": "0"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        proc = subprocess.Popen([str(ENCAISSE), *argv], cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                preexec_fn=cap, env=env)
        status = None
        timed_out = False
        peak = 0
        while True:
            peak = max(peak, _high_water(proc.pid))
            pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status) if status is not None else -9
    return {
        "code": proc.returncode, "timeout": timed_out, "seconds": time.monotonic() - started,
        "peak": peak, "stdout": out_path.read_bytes(), "stderr": err_path.read_bytes(),
    }


def _high_water(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), read while it runs. Not the child's
    ru_maxrss: Linux keeps it across exec, so a child forked from this (sometimes large) campaign
    process would report the campaign's own memory."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def classify(result: dict, check=None) -> tuple[str, str]:
    """(class, detail) of one run; `check(result)` gives a reason when a success is wrong."""
    err = result["stderr"].decode("utf-8", "replace")
    code = result["code"]
    if result["timeout"]:
        return "TIMEOUT", f"> {TIMEOUT} s"
    if "panicked at" in err or "PanicException" in err:
        return "PANIC", _first(err, "panicked")
    if code < 0 or code in (134, 139):
        if "memory allocation" in err or "MemoryError" in err:
            return "BLOWUP", f"exit {code}: " + _first(err, "memory")
        return "ABORT", f"exit {code}: " + err[-300:]
    if "Traceback" in err:
        return "TRACEBACK", err.strip().splitlines()[-1][:300]
    if "Erreur inattendue" in err:
        return "TRACEBACK", _first(err, "Erreur inattendue")
    if "Mémoire insuffisante" in err or result["peak"] > MEMORY:
        return "BLOWUP", f"peak {result['peak'] / 1e6:.0f} MB"
    if code == 2:
        return "usage", ""
    if code == 1:
        if not err.strip() or len(err) > 20_000:
            return "MUTE", f"stderr of {len(err)} characters"
        return "located", err.strip().splitlines()[-1][:160]
    if code == 0:
        reason = check(result) if check else None
        if reason:
            return "WRONG", reason
        return "ok", ""
    return "ABORT", f"exit {code}: " + err[-300:]


def _first(text: str, word: str) -> str:
    for line in text.splitlines():
        if word in line:
            return line.strip()[:300]
    return text[:300]


# ---------------------------------------------------------------------------------------------- checks

NUMBER_V = re.compile(rb'<c\b([^>]*?)(?<!/)>(?:(?!</c>).)*?<v>([^<]*)</v>', re.S)


def book_check(source: Path, before: bytes, output: Path | None):
    """A recalc that succeeded wrote a readable book, kept every part it does not recompute byte
    for byte, and stored only finite numbers; the source is untouched when written elsewhere."""
    def check(result):
        if output is not None and source.read_bytes() != before:
            return "the source book was changed by a recalc with -o"
        target = output if output is not None else source
        try:
            with zipfile.ZipFile(before_path(source, before)) as zin, zipfile.ZipFile(target) as zout:
                damaged = zout.testzip()
                if damaged is not None and damaged != zin.testzip():  # a part damaged in the input is copied as it is
                    return f"output zip damaged ({damaged})"
                names_in, names_out = zin.namelist(), zout.namelist()
                if names_in != names_out:
                    return "output parts differ from the source's"
                for name in names_in:
                    if name == damaged:
                        continue
                    data = zout.read(name)
                    if not (name.startswith("xl/worksheets/sheet") or name.startswith("xl/charts/chart")):
                        if data != zin.read(name):
                            return f"{name} changed"
                        continue
                    for attrs, value in NUMBER_V.findall(data):
                        if b' t="' in attrs and b't="n"' not in attrs:
                            continue
                        try:
                            number = float(value)
                        except ValueError:
                            return f"{name}: number cell value {value[:40]!r}"
                        if not math.isfinite(number):
                            return f"{name}: non-finite value {value[:40]!r}"
        except (zipfile.BadZipFile, OSError) as error:
            return f"output unreadable: {error}"
        return None
    return check


def before_path(source: Path, before: bytes) -> Path:
    copy = source.with_name(".before.xlsx")
    if not copy.exists():
        copy.write_bytes(before)
    return copy


def expected_values(book: Path, expected: dict[str, float], base):
    """The cells whose value is known must hold it (1e-9 relative)."""
    def check(result):
        reason = base(result)
        if reason:
            return reason
        got = cached_values(book)
        for ref, value in expected.items():
            have = got.get(ref)
            if isinstance(value, str):
                if have != value:
                    return f"{ref}: {have!r} where {value!r} was expected"
            elif not isinstance(have, float) or not math.isclose(have, value, rel_tol=1e-9, abs_tol=1e-9):
                return f"{ref}: {have!r} where {value!r} was expected"
        return None
    return check


def cached_values(path: Path) -> dict[str, object]:
    """Calc!A1 -> cached value of the first sheet (numbers as float, errors and texts as str)."""
    with zipfile.ZipFile(path) as zf:
        xml = zf.read("xl/worksheets/sheet1.xml")
        shared = []
        if "xl/sharedStrings.xml" in zf.namelist():
            shared = re.findall(rb"<si>.*?</si>", zf.read("xl/sharedStrings.xml"), re.S)
    out = {}
    for m in re.finditer(rb'<c r="([A-Z]+[0-9]+)"([^>]*?)(?:/>|>(.*?)</c>)', xml, re.S):
        ref, attrs, body = m.group(1).decode(), m.group(2), m.group(3) or b""
        v = re.search(rb"<v>([^<]*)</v>", body)
        if not v:
            continue
        t = re.search(rb't="([a-z]+)"', attrs)
        kind = t.group(1) if t else b"n"
        if kind == b"n":
            out[ref] = float(v.group(1))
        elif kind == b"s":
            out[ref] = re.sub(rb"<[^>]+>", b"", shared[int(v.group(1))]).decode()
        else:
            out[ref] = v.group(1).decode()
    return out


ABSURD = 1e15


def json_check(result):
    """A JSON answer holds only finite, plausible figures."""
    text = result["stdout"].decode("utf-8", "replace")
    start = text.find("{") if "{" in text else text.find("[")
    if start < 0:
        return None
    try:
        data = json.loads(text[start:], parse_constant=lambda c: float(c))
    except ValueError:
        return "--json output is not JSON"
    bad = _bad_number(data)
    return f"figure {bad}" if bad else None


def _bad_number(value, path="$"):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or abs(value) > ABSURD:
            return f"{path} = {value!r}"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            if (found := _bad_number(v, f"{path}.{k}")):
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            if (found := _bad_number(v, f"{path}[{i}]")):
                return found
    return None


def text_check(result):
    """A text answer shows no nan, inf or absurd number."""
    out = result["stdout"].decode("utf-8", "replace")
    if re.search(r"(?<![A-Za-zé])(nan|NaN|inf|Infinity)(?![A-Za-zé])", out):
        return "nan/inf shown: " + _first(out, "nan") if "nan" in out.lower() else "inf shown"
    absurd = re.search(r".{0,60}(\d{1,3}(?:[\u202f\u00a0]\d{3}){5,}|\d{16,}|\de\+\d{2,}).{0,20}", out)
    if absurd:
        return "absurd figure shown: " + absurd.group(0)
    return None


# ---------------------------------------------------------------------------------------------- formulas

FUNCTIONS = {
    # name: (min args, max args)
    "SUM": (1, 4), "AVERAGE": (1, 3), "MIN": (1, 3), "MAX": (1, 3), "COUNT": (1, 3), "COUNTA": (1, 3),
    "PRODUCT": (1, 3), "ABS": (1, 1), "ROUND": (2, 2), "ROUNDUP": (2, 2), "INT": (1, 1), "MOD": (2, 2),
    "POWER": (2, 2), "SQRT": (1, 1), "EXP": (1, 1), "LN": (1, 1), "LOG": (1, 2), "LOG10": (1, 1), "FACT": (1, 1),
    "COMBIN": (2, 2), "GCD": (1, 3), "LCM": (1, 3), "SIGN": (1, 1), "TRUNC": (1, 2), "CEILING": (2, 2), "FLOOR": (2, 2),
    "IF": (2, 3), "IFS": (2, 6), "IFERROR": (2, 2), "IFNA": (2, 2), "AND": (1, 3), "OR": (1, 3), "NOT": (1, 1),
    "XOR": (1, 3), "SWITCH": (3, 6), "CHOOSE": (2, 5), "ISERROR": (1, 1), "ISNUMBER": (1, 1), "ISBLANK": (1, 1),
    "ISTEXT": (1, 1), "NA": (0, 0), "ERROR.TYPE": (1, 1), "N": (1, 1), "T": (1, 1),
    "INDEX": (2, 3), "MATCH": (2, 3), "XMATCH": (2, 4), "VLOOKUP": (3, 4), "HLOOKUP": (3, 4), "XLOOKUP": (3, 6),
    "LOOKUP": (2, 3), "OFFSET": (3, 5), "INDIRECT": (1, 2), "ROW": (0, 1), "COLUMN": (0, 1), "ROWS": (1, 1),
    "COLUMNS": (1, 1), "ADDRESS": (2, 5), "TRANSPOSE": (1, 1), "FILTER": (2, 3), "SORT": (1, 4), "SORTBY": (2, 4),
    "UNIQUE": (1, 3), "SEQUENCE": (1, 4), "RANDARRAY": (0, 5), "TAKE": (2, 3), "DROP": (2, 3), "VSTACK": (1, 3),
    "HSTACK": (1, 3), "TOCOL": (1, 3), "TOROW": (1, 3), "WRAPROWS": (2, 3), "CHOOSECOLS": (2, 3), "EXPAND": (2, 4),
    "MMULT": (2, 2), "SUMPRODUCT": (1, 3), "SUMIF": (2, 3), "SUMIFS": (3, 5), "COUNTIF": (2, 2), "COUNTIFS": (2, 4),
    "AVERAGEIF": (2, 3), "MAXIFS": (3, 5), "LARGE": (2, 2), "SMALL": (2, 2), "RANK": (2, 3), "MEDIAN": (1, 3),
    "PERCENTILE": (2, 2), "QUARTILE": (2, 2), "STDEV": (1, 3), "VAR": (1, 3), "CORREL": (2, 2), "NPV": (2, 4),
    "PMT": (3, 5), "IRR": (1, 2), "XNPV": (3, 3), "RATE": (3, 6),
    "CONCAT": (1, 4), "CONCATENATE": (1, 4), "TEXTJOIN": (3, 5), "LEFT": (1, 2), "RIGHT": (1, 2), "MID": (3, 3),
    "LEN": (1, 1), "REPT": (2, 2), "SUBSTITUTE": (3, 4), "REPLACE": (4, 4), "FIND": (2, 3), "SEARCH": (2, 3),
    "UPPER": (1, 1), "LOWER": (1, 1), "PROPER": (1, 1), "TRIM": (1, 1), "TEXT": (2, 2), "VALUE": (1, 1),
    "CHAR": (1, 1), "UNICHAR": (1, 1), "CODE": (1, 1), "EXACT": (2, 2), "TEXTSPLIT": (2, 4), "TEXTBEFORE": (2, 3),
    "TEXTAFTER": (2, 3), "FIXED": (1, 3), "DOLLAR": (1, 2), "NUMBERVALUE": (1, 3), "HYPERLINK": (1, 2),
    "DATE": (3, 3), "TIME": (3, 3), "DATEVALUE": (1, 1), "YEAR": (1, 1), "MONTH": (1, 1), "DAY": (1, 1),
    "EDATE": (2, 2), "EOMONTH": (2, 2), "NETWORKDAYS": (2, 3), "WORKDAY": (2, 3), "DATEDIF": (3, 3), "DAYS": (2, 2),
    "WEEKDAY": (1, 2), "WEEKNUM": (1, 2), "YEARFRAC": (2, 3), "TODAY": (0, 0), "NOW": (0, 0), "RAND": (0, 0),
    "RANDBETWEEN": (2, 2), "BITAND": (2, 2), "BASE": (2, 3), "DECIMAL": (2, 2), "ROMAN": (1, 2), "ARABIC": (1, 1),
    "BIN2DEC": (1, 1), "DEC2HEX": (1, 2), "CONVERT": (3, 3), "DELTA": (1, 2), "ERF": (1, 2), "GAMMA": (1, 1),
    "NORM.DIST": (4, 4), "NORM.INV": (3, 3), "BINOM.DIST": (4, 4), "SUBTOTAL": (2, 3), "AGGREGATE": (3, 4),
    "CELL": (1, 2), "INFO": (1, 1), "SHEET": (0, 1), "SHEETS": (0, 1), "FORMULATEXT": (1, 1), "ISFORMULA": (1, 1),
    "GETPIVOTDATA": (2, 4), "WEBSERVICE": (1, 1), "FOOBAR": (0, 2), "_xludf.NOPE": (0, 1),
    # encaisse functions
    "DSO": (3, 4), "AGING": (3, 6), "CEI": (3, 3), "BPDSO": (3, 3), "DISPUTE_RATE": (2, 3), "SCORE": (3, 5),
    "PENALTY": (2, 4),
}
NAMES = list(FUNCTIONS)

SHEETS = ["Calc", "Factures", "Clients", "Règlements", "Paramètres", "Sheet1", "Sheet2", "Sheet3", "Données 2026",
          "Cli'ents", "日本語", "Ψ€ 🙂", "A1", "R1C1", "TRUE", "#REF!"]
TABLE_COLUMNS = ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC", "Devise", "Litige"]
ODD_TABLE = ["a]b", "c[d", "e'f", "#g", "Montant [€]", "x y", "@z", "É"]

ERRORS = ["#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA",
          "#ERROR!", "#N/IMPL!", "#CIRC!"]


def quote(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) and not re.fullmatch(r"[A-Za-z]{1,3}[0-9]+|R\d*C\d*|TRUE|FALSE", name):
        return name
    return "'" + name.replace("'", "''") + "'"


def col_letter(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


class FormulaGen:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def cell(self) -> str:
        r = self.rng
        choice = r.random()
        if choice < 0.6:
            return f"{'$' if r.random() < .2 else ''}{col_letter(r.randint(1, 8))}{'$' if r.random() < .2 else ''}{r.randint(1, 12)}"
        if choice < 0.8:
            return f"{col_letter(r.choice([1, 26, 27, 702, 703, 16383, 16384]))}{r.choice([1, 2, 65536, 1048575, 1048576])}"
        return r.choice(["XFD1048576", "A1048576", "XFD1", "ZZZ1", "XFE1", "A0", "A1048577", "$A$1", "AAA999"])

    def range(self) -> str:
        r = self.rng
        k = r.random()
        if k < 0.45:
            c1, c2 = sorted([r.randint(1, 8), r.randint(1, 8)])
            r1, r2 = sorted([r.randint(1, 12), r.randint(1, 12)])
            return f"{col_letter(c1)}{r1}:{col_letter(c2)}{r2}"
        if k < 0.6:
            c = col_letter(r.randint(1, 8))
            return r.choice([f"{c}:{c}", f"A:{c}", "A:XFD", "$A:$B", "XFD:XFD", "1:1", "1:1048576", "2:5", "$3:$3"])
        if k < 0.75:
            return r.choice(["A1:XFD1048576", "A1:XFC100000", "A1:A1048576", "B2:A1", "A1:XFD1", "A1:Z5000",
                             "A2:A4000", "C3:C3", "A1:B2:C3", "A1:A1 B1:B2", "(A1:A2,B1:B2)"])
        if k < 0.9:
            return f"{self.cell()}:{self.cell()}"
        return r.choice(["A1:", ":B2", "A:1", "1:A", "A1..B2", "A1:B2!"])

    def ref(self) -> str:
        r = self.rng
        k = r.random()
        target = self.range() if r.random() < 0.5 else self.cell()
        if k < 0.45:
            return target
        if k < 0.65:
            return f"{quote(r.choice(SHEETS))}!{target}"
        if k < 0.72:
            a, b = r.sample(["Sheet1", "Sheet2", "Sheet3", "Calc", "Nowhere"], 2)
            return f"{a}:{b}!{target}"
        if k < 0.77:
            return r.choice([f"[1]Sheet1!{target}", f"'[1]Sheet1'!{target}", f"[Autre.xlsx]Feuil1!{target}",
                             f"'C:\\x\\[b.xlsx]S'!{target}", f"[0]!Nom", f"'https://e.x/[a.xlsx]S'!{target}"])
        if k < 0.82:
            return r.choice(["R1C1", "R[1]C[-1]", "RC", "R1C1:R2C2", "C1", "R1", "r2c3", "R1048577C1", "R1C99999"])
        if k < 0.95:
            return self.structured()
        return r.choice(["DateArrete", "Nom_Inconnu", "_xlpm.x", "Trois", "TRUE", "A1#", "Calc!A1#", "C1#", "#REF!A1",
                         "Factures!#REF!", "Sheet1!$A$1", "Calc!A1:Calc!B2"])

    def structured(self) -> str:
        r = self.rng
        table = r.choice(["Factures", "Odd", "Factures", "Nowhere", "factures", "Table1"])
        cols = TABLE_COLUMNS if table.lower() == "factures" else ODD_TABLE
        col = r.choice(cols + ["Nope", "", "#All", "#Data", "#Headers", "#Totals", "#This Row", "@"])
        esc = re.sub(r"([\[\]'#])", r"'\1", col) if not col.startswith("#") else col
        k = r.random()
        if k < 0.4:
            return f"{table}[{esc}]"
        if k < 0.6:
            return f"{table}[[#All],[{esc}]]"
        if k < 0.7:
            return f"{table}[@[{esc}]]" if not col.startswith("#") else f"{table}[@]"
        if k < 0.8:
            other = re.sub(r"([\[\]'#])", r"'\1", r.choice(cols))
            return f"{table}[[{esc}]:[{other}]]"
        if k < 0.9:
            return f"{table}[]"
        return r.choice([f"{table}[{col}]", f"{table}[[{col}]", f"{table}[[#This Row],[{esc}]]", f"[{esc}]", f"{table}[#All]"])

    def literal(self) -> str:
        r = self.rng
        k = r.random()
        if k < 0.35:
            return r.choice(["0", "1", "2", "-1", "3.5", "1E+308", "-1E+308", "1E-308", "9.99999999999999E+307",
                             "1E+309", "4294967296", "1048577", "0.1", "2147483648", "-0", "1E+15", "123456789012345678901234567890"])
        if k < 0.55:
            return '"' + self.string().replace('"', '""') + '"'
        if k < 0.65:
            return r.choice(["TRUE", "FALSE"])
        if k < 0.78:
            return r.choice(ERRORS)
        if k < 0.92:
            rows = r.randint(1, 4)
            cols = r.randint(1, 4)
            items = [";".join(",".join(r.choice(["1", "2", '"a"', "TRUE", "#N/A", "-3.5", '""', "1E+308"]) for _ in range(cols))
                              for _ in range(1)) for _ in range(rows)]
            return "{" + ";".join(items) + "}"
        return r.choice(["{}", "{1,}", "{;}", "{1;2,3}", "{{1}}", "{A1}", "{1,2", "{#REF!}"])

    def string(self) -> str:
        r = self.rng
        k = r.random()
        if k < 0.4:
            return r.choice(["", "a", "abc", "Factures", "01/02/2026", "2026-13-45", "1 234,56", "1e400", "INF", "NaN",
                             "=1+1", "<xml>", "&amp;", "\u202f", "日本", "🙂", "é", "\\", "A1", "*", "?*", "<>", ">=5", "~"])
        if k < 0.7:
            return "x" * r.choice([255, 256, 1000, 2000])
        return "".join(chr(r.choice([r.randint(32, 126), r.randint(160, 0x2FF), r.randint(0x4E00, 0x4E80),
                                      r.choice([0x1F642, 0xFFFD, 0x200B, 0xFEFF])])) for _ in range(r.randint(1, 20)))

    def expr(self, depth: int) -> str:
        r = self.rng
        if depth <= 0 or r.random() < 0.25:
            k = r.random()
            return self.literal() if k < 0.5 else self.ref()
        k = r.random()
        if k < 0.6:
            name = r.choice(NAMES)
            lo, hi = FUNCTIONS[name]
            n = r.randint(lo, hi) if r.random() < 0.9 else r.randint(0, hi + 3)
            args = [self.expr(depth - 1) if r.random() < 0.9 else "" for _ in range(n)]
            prefix = ""
            if r.random() < 0.15:
                prefix = r.choice(["_xlfn.", "_xlfn._xlws.", "_xludf.", "_xlfn.ANCHORARRAY(", "@"])
                if prefix.endswith("("):
                    return f"_xlfn.ANCHORARRAY({self.cell()})"
            return f"{prefix}{name}({','.join(args)})"
        if k < 0.72:
            op = r.choice(["+", "-", "*", "/", "^", "&", "=", "<>", "<", ">=", " ", ":", ",", "%"])
            if op == "%":
                return f"{self.expr(depth - 1)}%"
            return f"{self.expr(depth - 1)}{op}{self.expr(depth - 1)}"
        if k < 0.8:
            p = r.choice(["x", "_a1", "y", "val", "A1"])
            body = self.expr(depth - 1).replace("A1", p) if r.random() < 0.5 else f"{p}*2"
            return r.choice([
                f"LET({p},{self.expr(depth - 1)},{body})",
                f"LAMBDA({p},{body})({self.expr(depth - 1)})",
                f"MAP({self.range()},LAMBDA({p},{body}))",
                f"REDUCE(0,{self.range()},LAMBDA(a,{p},a+{p}))",
                f"BYROW({self.range()},LAMBDA(row,SUM(row)))",
                f"SCAN(0,{self.range()},LAMBDA(a,b,a+b))",
                f"MAKEARRAY(3,3,LAMBDA(r,c,r*c))",
                f"LAMBDA({p},{p})",
                f"LET({p},1,{p},2,{p})",
                f"LAMBDA(x,x(x))(LAMBDA(x,x(x)))",
                f"LET(f,LAMBDA(f,n,IF(n<1,0,n+f(f,n-1))),f(f,{r.choice([10, 1000, 100000])}))",
            ])
        if k < 0.86:
            return f"({self.expr(depth - 1)})"
        if k < 0.9:
            return f"-{self.expr(depth - 1)}"
        if k < 0.95:
            return f"{r.choice(['SEQUENCE', 'RANDARRAY'])}({r.choice(['3', '1048576', '100000', '2,2', '1,16385', '0', '-1', '1E+9'])})"
        return r.choice([
            "(" * 70 + "1" + ")" * 70, "(" * 65 + "1" + ")" * 65, "SUM(" * 65 + "1" + ")" * 65, "IF(" * 100 + "1" + ",1)" * 100,
            "-" * 500 + "1", "1" + "+1" * 3000, "+" * 100 + "1", "@" * 10 + "A1", "A1" + "%" * 50,
            '"' + "é" * 8000 + '"', "1+", "SUM(", ")", "((1)", "SUM(1,,,,,,,)", "==1", "=", "", " ", "\t1", "1 2",
            "A1:A2:A3:A4", "A1 A2", "!A1", "Sheet1!", "'unterminated!A1", "SUM(1;2)", "SUM(1,2)(1)", "1(2)", "#N/A(1)",
            "TRUE()", "FALSE(1)", "{1,2}+{1;2}", "{1,2,3}*{1,2}", "INDEX({1,2},1E+300)", "OFFSET(A1,1048576,0)",
            "OFFSET(A1,0,0,1048576,16384)", "INDIRECT(\"A1:XFD1048576\")", "INDIRECT(REPT(\"A\",5000))", "REPT(\"x\",32768)",
            "REPT(REPT(\"x\",32767),32767)", "CHAR(0)", "UNICHAR(55296)", "UNICHAR(1114112)", "FACT(171)", "10^309",
            "1/0*0", "2^1024", "EXP(710)", "DATE(10000,1,1)", "DATE(-1,1,1)", "TEXT(1E+308,\"0\")", "TEXT(1,REPT(\"0\",300))",
            "SEQUENCE(1048576,16384)", "SEQUENCE(2000,2000)", "MMULT(SEQUENCE(300,300),SEQUENCE(300,300))",
            "MAKEARRAY(1048576,1,LAMBDA(r,c,r))", "TEXTJOIN(\",\",1,SEQUENCE(100000))", "A1#", "A1:A2#",
            "SUMIF(A:A,\"*\"&REPT(\"?\",300))", "COUNTIF(A1:A3,\"<>\"&\"\")", "HYPERLINK(\"javascript:alert(1)\")",
            "_xlfn.SINGLE(A1:A3)", "_xlfn._xlws.FILTER(A1:A3,A1:A3>0)", "_xlfn.LAMBDA(_xlpm.x,_xlpm.x+1)(2)",
            "_xlfn.LET(_xlpm.a,2,_xlpm.a*3)", "Factures[[#This Row]]", "TAKE(Factures[#All],-1)",
        ])

    def formula(self) -> str:
        return self.expr(self.rng.choice([1, 2, 2, 3, 3, 4, 5]))


def arithmetic(rng: random.Random, depth: int) -> tuple[str, float]:
    """An expression over constants and the cells B1=3, B2=4, B3=-2.5 whose value Python computes."""
    if depth <= 0 or rng.random() < 0.3:
        k = rng.random()
        if k < 0.3:
            ref, value = rng.choice([("B1", 3.0), ("B2", 4.0), ("B3", -2.5), ("$B$1", 3.0), ("Calc!B2", 4.0)])
            return ref, value
        v = rng.choice([0.5, 1, 2, 3, 7, 10, 0.25, 100, 1.5])
        return f"{v}", float(v)
    k = rng.random()
    a, va = arithmetic(rng, depth - 1)
    b, vb = arithmetic(rng, depth - 1)
    if k < 0.2:
        return f"({a}+{b})", va + vb
    if k < 0.35:
        return f"({a}-{b})", va - vb
    if k < 0.5:
        return f"({a}*{b})", va * vb
    if k < 0.6:
        return f"SUM({a},{b},B1:B3)", va + vb + 4.5
    if k < 0.67:
        return f"MAX({a},{b})", max(va, vb)
    if k < 0.74:
        return f"MIN({a},{b})", min(va, vb)
    if k < 0.8:
        return f"ABS({a})", abs(va)
    if k < 0.86:
        return f"IF({a}>{b},{a},{b})", va if va > vb else vb
    if k < 0.9:
        return f"LET(x,{a},x*2)", va * 2
    if k < 0.94:
        return f"INDEX({{1,2,3}},2)*{a}", 2 * va
    if k < 0.97:
        return f"IFERROR(1/0,{a})", va
    return f"(SUMPRODUCT({{1,2}},{{3,4}})+{a})", 11 + va


def formulas_case(rng: random.Random, folder: Path) -> tuple[list[str], object, dict]:
    import xlsxwriter

    gen = FormulaGen(rng)
    path = folder / "book.xlsx"
    options = {"strings_to_formulas": False, "strings_to_urls": False}
    if rng.random() < 0.5:
        options["use_future_functions"] = True
    wb = xlsxwriter.Workbook(str(path), options)
    extra_sheets = rng.sample(SHEETS[5:], rng.randint(0, 4))
    calc = wb.add_worksheet("Calc")
    expected: dict[str, float] = {}
    calc.write("B1", 3)
    calc.write("B2", 4)
    calc.write("B3", -2.5)
    fact = wb.add_worksheet("Factures")
    fact.add_table(0, 0, 3, len(TABLE_COLUMNS) - 1, {"name": "Factures", "columns": [{"header": h} for h in TABLE_COLUMNS],
                                                      "data": [["F1", "C1", 46000, 46030, 100.0, "EUR", ""],
                                                               ["F2", "C2", 46010, 46040, -20.5, "USD", "oui"],
                                                               ["F3", "", "", "", 1e9, "", ""]]})
    odd = wb.add_worksheet("Autre")
    if rng.random() < 0.7:
        odd.add_table(0, 0, 2, len(ODD_TABLE) - 1, {"name": "Odd", "columns": [{"header": h} for h in ODD_TABLE],
                                                     "data": [[1, "a", True, None, 2.5, "x", 0, -1], [2, "b", False, "", 3, "y", 1, 5]]})
    for name in extra_sheets:
        try:
            s = wb.add_worksheet(name)
        except Exception:  # a name xlsxwriter refuses ('#REF!' and the like are fine for Excel too)
            continue
        for r in range(3):
            for c in range(3):
                s.write(r, c, rng.choice([1, 2.5, "t", True, None, -4]))
    if rng.random() < 0.3:
        wb.define_name("Trois", "=Calc!$B$1")
    if rng.random() < 0.15:
        wb.define_name("Boucle", "=Boucle+1")
    calc.write("Z1", 46326)
    wb.define_name("DateArrete", "=Calc!$Z$1")  # apart from B1:B3, which --as-of would override
    if rng.random() < 0.4:
        # Known answers: arithmetic over constants and B1:B3, checked against the recalculated book.
        for i in range(rng.randint(1, 4)):
            text, value = arithmetic(rng, rng.randint(1, 4))
            if math.isfinite(value) and abs(value) < 1e12:
                calc.write_formula(f"D{i + 1}", "=" + text)
                expected[f"D{i + 1}"] = value
    n = rng.randint(1, 6)
    used = set()
    for _ in range(n):
        row, col = rng.randint(0, 14), rng.randint(4, 7)  # right of B1:B3 and the known answers in D
        if (row, col) in used:
            continue
        used.add((row, col))
        text = gen.formula()
        k = rng.random()
        if k < 0.6:
            calc.write_formula(row, col, "=" + text)
        elif k < 0.85:
            calc.write_dynamic_array_formula(row, col, row, col, "=" + text)
        else:
            calc.write_array_formula(row, col, row + rng.randint(0, 3), col + rng.randint(0, 1), "{=" + text + "}")
    if rng.random() < 0.2:
        # a spill colliding with a value in its way
        calc.write_dynamic_array_formula(20, 0, 20, 0, "=SEQUENCE(" + str(rng.randint(2, 6)) + ")")
        calc.write(22, 0, "bloque")
    if rng.random() < 0.1:
        for s in wb.worksheets()[1:3]:
            s.write_formula(5, 5, "=" + gen.formula())
    wb.close()
    before = path.read_bytes()
    if rng.random() < 0.85:
        out = folder / "sortie.xlsx"
        argv = ["recalc", str(path), "-o", str(out)]
    else:
        out = None
        argv = ["recalc", str(path)]
    if rng.random() < 0.1:
        argv += ["--as-of", rng.choice(["2026-10-31", "31/02/2026", "0001-01-01", "9999-12-31"])]
    base = book_check(path, before, out)
    check = expected_values(out or path, expected, base) if expected else base
    return argv, check, {"expected": expected}


# ---------------------------------------------------------------------------------------------- content

HEADERS = {
    "Factures": ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC", "Devise", "Litige", "Date litige"],
    "Clients": ["Code client", "Raison sociale", "Segment", "E-mail", "Encours max", "Note externe"],
    "Règlements": ["Date", "Code client", "N° facture", "Montant"],
}


def content_value(rng: random.Random, column: str):
    k = rng.random()
    typed = {"N° facture": lambda: rng.choice(["F1", "F2", "F3", "F1", "C1"]),
             "Code client": lambda: rng.choice(["C1", "C2", "C1 ", "c1", "C3"]),
             "Date facture": lambda: dt.datetime(2026, rng.randint(1, 12), rng.randint(1, 28)),
             "Échéance": lambda: dt.datetime(2026, rng.randint(1, 12), rng.randint(1, 28)),
             "Date": lambda: dt.datetime(2026, rng.randint(1, 12), rng.randint(1, 28)),
             "Montant TTC": lambda: round(rng.uniform(-100, 10000), 2),
             "Montant": lambda: round(rng.uniform(0, 5000), 2),
             "Encours max": lambda: rng.choice([0, 1000, 50000]),
             "Devise": lambda: rng.choice(["EUR", "USD", "", "eur", "XXX"]),
             "Segment": lambda: rng.choice(["PME", "TPE", "Grand compte", "Secteur public", "???"]),
             "Litige": lambda: rng.choice(["", "oui", "prix", "non"])}
    if k < 0.6 and column in typed:
        return typed[column]()
    return rng.choice([
        None, "", " ", "0", "-0", 0, -1, 1e308, -1e308, 1e-308, 5e-324, 1e15, 2 ** 53 + 1, "1e400", "INF", "nan", "-inf",
        "1 234,56 €", "12.5", "31/02/2026", "2026-02-30", "00/00/0000", "1900-01-01", dt.datetime(1900, 3, 1),
        dt.datetime(9999, 12, 31), dt.datetime(1970, 1, 1), True, False, ("error", rng.choice(ERRORS[:7])),
        "x" * 40000, "日本語", "🙂", "\u202f", "=1+1", "{{7*7}}", "'; DROP TABLE", "<b>", "F1", "C1",
        "".join(chr(rng.randint(32, 0x2FF)) for _ in range(10)),
    ])


def write_content(path: Path, rng: random.Random) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False})
    dates = wb.add_format({"num_format": "dd/mm/yyyy"})

    def put(sheet, r, c, value):
        if value is None:
            return
        if isinstance(value, tuple):
            sheet.write_formula(r, c, "=NA()", None, value[1])
        elif isinstance(value, dt.datetime):
            sheet.write_datetime(r, c, value, dates)
        elif isinstance(value, bool):
            sheet.write_boolean(r, c, value)
        elif isinstance(value, (int, float)):
            sheet.write_number(r, c, float(value))
        else:
            sheet.write_string(r, c, value[:32767])

    tables = rng.random() < 0.5
    for name, headers in HEADERS.items():
        sheet = wb.add_worksheet(name)
        rows = [[content_value(rng, h) for h in headers] for _ in range(rng.choice([0, 1, 2, 3, 5, 8, 20]))]
        if tables and rows:
            sheet.add_table(0, 0, len(rows), len(headers) - 1, {"name": name.replace("è", "e"), "columns": [{"header": h} for h in headers]})
        else:
            sheet.write_row(0, 0, headers)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                put(sheet, r, c, value)
        if rng.random() < 0.05:
            sheet.write(rng.choice([20000, 1048575]), rng.choice([100, 16383]), 1)
    params = wb.add_worksheet("Paramètres")
    params.write_row(0, 0, ["Paramètre", "Valeur"])
    put(params, 1, 1, dt.datetime(2026, 10, 31) if rng.random() < 0.8 else content_value(rng, "x"))
    wb.define_name("DateArrete", "='Paramètres'!$B$2")
    if rng.random() < 0.3:
        calc = wb.add_worksheet("Calc")
        calc.write_formula("A1", rng.choice(["=DSO(Factures[#All],Reglements[#All],DateArrete)", "=SUM(Factures!E:E)",
                                             "=AGING(Factures[#All],Reglements[#All],DateArrete)", "=COUNTA(Clients!A:A)"]))
    wb.close()


def content_case(rng: random.Random, folder: Path):
    path = folder / "book.xlsx"
    write_content(path, rng)
    before = path.read_bytes()
    command = rng.choice(["kpi", "kpi-json", "worklist", "worklist-json", "forecast", "forecast-json", "explain", "recalc"])
    if command.startswith("kpi"):
        argv = ["kpi", str(path)] + (["--json"] if command.endswith("json") else [])
    elif command.startswith("worklist"):
        argv = ["worklist", str(path)] + (["--json"] if command.endswith("json") else [])
    elif command.startswith("forecast"):
        argv = ["forecast", str(path), "--weeks", str(rng.choice([1, 4, 13]))] + (["--json"] if command.endswith("json") else [])
    elif command == "explain":
        argv = ["rules", "explain", str(path), rng.choice(["C1", "C2", "ZZ", ""])]
    else:
        out = folder / "sortie.xlsx"
        return ["recalc", str(path), "-o", str(out)], book_check(path, before, out), {}
    if rng.random() < 0.2:
        argv += ["--as-of", rng.choice(["2026-10-31", "2030-01-01", "1900-03-01"])]

    def check(result):
        if path.read_bytes() != before:
            return "the book was changed by a read-only command"
        return json_check(result) if "--json" in argv else text_check(result)
    return argv, check, {}


# ---------------------------------------------------------------------------------------------- package

def small_book(path: Path, rng: random.Random) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    calc = wb.add_worksheet("Calc")
    calc.write("B1", 3)
    calc.write_string("C1", "texte partagé")
    calc.write_formula("A1", "=B1*2+SUM(Factures[Montant TTC])")
    calc.write_formula("A2", rng.choice(["=A1+1", "=CONCAT(C1,\"!\")", "=DSO(Factures[#All],Reglements[#All],DateArrete)"]))
    calc.write_dynamic_array_formula("E1", "=SEQUENCE(3)")
    f = wb.add_worksheet("Factures")
    f.add_table(0, 0, 2, 4, {"name": "Factures", "columns": [{"header": h} for h in TABLE_COLUMNS[:5]],
                             "data": [["F1", "C1", 46000, 46030, 100.0], ["F2", "C1", 46010, 46040, 50.0]]})
    g = wb.add_worksheet("Règlements")
    g.add_table(0, 0, 1, 3, {"name": "Reglements", "columns": [{"header": h} for h in HEADERS["Règlements"]],
                             "data": [[46020, "C1", "F1", 100.0]]})
    c = wb.add_worksheet("Clients")
    c.add_table(0, 0, 1, 2, {"name": "Clients", "columns": [{"header": h} for h in HEADERS["Clients"][:3]], "data": [["C1", "A", "PME"]]})
    p = wb.add_worksheet("Paramètres")
    p.write("A1", "Date d'arrêté")
    p.write("B1", 46326)
    wb.define_name("DateArrete", "='Paramètres'!$B$1")
    wb.close()


XML_DAMAGE = [
    lambda d, r: d[: r.randint(0, max(0, len(d) - 1))],  # truncated
    lambda d, r: d.replace(b">", b"", 1),
    lambda d, r: d.replace(b"</", b"<", 1),
    lambda d, r: d + b"<junk/>",
    lambda d, r: b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
                 b"<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'><!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'>]><x>&d;&d;</x>",
    lambda d, r: d.replace(b"<v>", b"<v>\xff\xfe", 1),
    lambda d, r: re.sub(rb'r="([A-Z]+)(\d+)"', lambda m: b'r="' + r.choice([b"A0", b"ZZZZ1", b"XFD1048576", b"-1", b"", b"A1048577", b"B2"]) + b'"', d, count=1),
    lambda d, r: d.replace(b"<v>", b"<v>" + r.choice([b"nan", b"inf", b"1e999", b"x", b"", b"99999999999"]), 1),
    lambda d, r: re.sub(rb't="s"', r.choice([b't="e"', b't="b"', b't="str"', b't="zzz"', b't="inlineStr"', b't="d"']), d, count=1),
    lambda d, r: re.sub(rb'ref="[^"]*"', b'ref="' + r.choice([b"A1:XFD1048576", b"ZZZ", b"", b"B2:A1", b"A1:A1048576"]) + b'"', d, count=1),
    lambda d, r: re.sub(rb'name="[^"]*"', b'name="' + r.choice([b"", b"Factures", b"a b", b"\xc3\xa9", b"Calc", b"1x"]) + b'"', d, count=1),
    lambda d, r: re.sub(rb'Target="[^"]*"', b'Target="' + r.choice([b"../../../etc/passwd", b"", b"worksheets/nope.xml", b"/xl/styles.xml", b"sharedStrings.xml"]) + b'"', d, count=1),
    lambda d, r: re.sub(rb'r:id="[^"]*"', b'r:id="' + r.choice([b"rId99", b"", b"rId1"]) + b'"', d, count=1),
    lambda d, r: re.sub(rb'(count|uniqueCount|sheetId|id|localSheetId|headerRowCount|totalsRowCount)="[^"]*"',
                        lambda m: m.group(1) + b'="' + r.choice([b"-1", b"x", b"99999999999999999999", b"1.5", b""]) + b'"', d, count=1),
    lambda d, r: d.replace(b"<si>", b"", 1),
    lambda d, r: d.replace(b"<sheetData>", b"<sheetData><row r=\"1048576\"><c r=\"XFD1048576\"><v>1</v></c></row>", 1),
    lambda d, r: d.replace(b"UTF-8", b"UTF-16", 1),
    lambda d, r: d.replace(b"<f>", b"<f>" + b"(" * 5000, 1),
    lambda d, r: d.replace(b"<f>", b'<f t="array" ref="A1:XFD1048576">', 1),
    lambda d, r: d.replace(b"<f>", b'<f t="shared" si="0" ref="A1:A1048576">', 1),
    lambda d, r: b"",
]


def package_case(rng: random.Random, folder: Path):
    source = folder / "source.xlsx"
    small_book(source, rng)
    path = folder / "book.xlsx"
    with zipfile.ZipFile(source) as zin:
        infos = zin.infolist()
        parts = {i.filename: zin.read(i) for i in infos}
    kind = rng.random()
    names = list(parts)
    preferred = [n for n in names if re.search(r"sheet\d|table|workbook\.xml|sharedStrings|rels|Content_Types|metadata", n)]
    target = rng.choice(preferred if rng.random() < 0.9 else names)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in infos:
            data = parts[info.filename]
            if kind < 0.7 and info.filename == target:
                data = rng.choice(XML_DAMAGE)(data, rng)
            elif kind < 0.78 and info.filename == target:
                continue  # part dropped
            elif kind < 0.82 and info.filename == target:
                zout.writestr(info.filename + "x", data)
                continue
            if kind >= 0.82 and kind < 0.86 and info.filename == target:
                zout.writestr(zipfile.ZipInfo(info.filename), data, compress_type=rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]))
                continue
            zout.writestr(info, data)
        if 0.86 <= kind < 0.9:
            zout.writestr(target, b"<dup/>")  # the same name twice
    if kind >= 0.9:
        raw = bytearray(path.read_bytes())
        for _ in range(rng.randint(1, 5)):
            i = rng.randrange(len(raw))
            raw[i] = rng.randrange(256)
        if rng.random() < 0.3:
            raw = raw[: rng.randrange(len(raw))]
        path.write_bytes(bytes(raw))
    before = path.read_bytes()
    command = rng.choice(["recalc", "recalc", "recalc-inplace", "kpi", "worklist", "explain"])
    if command == "recalc":
        out = folder / "sortie.xlsx"
        return ["recalc", str(path), "-o", str(out)], book_check(path, before, out), {"target": target}
    if command == "recalc-inplace":
        def check(result):
            try:
                with zipfile.ZipFile(path) as z:
                    if z.testzip() is not None:
                        return "recalc left a damaged book"
            except zipfile.BadZipFile as error:
                return f"recalc left an unreadable book: {error}"
            return None
        return ["recalc", str(path)], check, {"target": target, "before": before}
    if command == "explain":
        return ["rules", "explain", str(path), "C1"], text_check, {"target": target}
    return [command, str(path)], text_check, {"target": target}


# ---------------------------------------------------------------------------------------------- rules

def yaml_paths(data, prefix=()):
    if isinstance(data, dict):
        for key, value in data.items():
            yield prefix + (key,)
            yield from yaml_paths(value, prefix + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield prefix + (i,)
            yield from yaml_paths(value, prefix + (i,))


YAML_VALUES = [None, True, False, 0, -1, 1, 0.5, -0.5, 1e308, -1e308, float("nan"), float("inf"), float("-inf"), "",
               "abc", "100%", "30 jours", "2026-02-30", "é" * 50, "x" * 100000, [], {}, [1, 2, 3], {"a": 1},
               10 ** 30, -(10 ** 30), "{{ 7*7 }}", "../../etc/passwd", "\x00", "🙂"]

RAW_YAML = [
    b"a: &a [*a]\n", b"a: &x [1]\nb: &y [*x,*x,*x,*x,*x,*x,*x,*x,*x]\nc: &z [*y,*y,*y,*y,*y,*y,*y,*y,*y]\nd: [*z,*z,*z,*z,*z,*z,*z,*z,*z]\n",
    b"[" * 5000 + b"]" * 5000, b"\xff\xfe\x00x", b"a: !!python/object/apply:os.system ['echo x']\n", b"---\n---\n---\n",
    b"a: 1\na: 2\n", b"\t- x", b"a: [1, 2\n", b"key: 'unterminated\n", b"? [1]\n: 2\n", b"a: !!binary AAAA\n",
    b"a: 0x1F\nb: 1_000\nc: .inf\nd: .nan\ne: 1e999\n", b"%YAML 9.9\n---\na: 1\n", b"", b"null\n", b"- 1\n- 2\n",
    b"a: *undefined\n", b"\xef\xbb\xbfa: 1\n", b"a: " + b"9" * 5000 + b"\n",
]


def rules_case(rng: random.Random, folder: Path):
    import yaml

    rules = folder / "regles"
    shutil.copytree(RULES, rules)
    files = sorted(p for p in rules.glob("*.yaml"))
    target = rng.choice(files)
    k = rng.random()
    if k < 0.6:
        data = yaml.safe_load(target.read_text(encoding="utf-8"))
        paths = list(yaml_paths(data))
        for _ in range(rng.randint(1, 3)):
            if not paths:
                break
            p = rng.choice(paths)
            parent = data
            try:
                for step in p[:-1]:
                    parent = parent[step]
                if rng.random() < 0.85:
                    parent[p[-1]] = rng.choice(YAML_VALUES)
                elif isinstance(parent, dict):
                    del parent[p[-1]]
                elif isinstance(parent, list):
                    parent.pop(p[-1])
            except (KeyError, IndexError, TypeError):
                pass
            paths = list(yaml_paths(data))
        target.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    elif k < 0.8:
        target.write_bytes(rng.choice(RAW_YAML))
    elif k < 0.9:
        raw = bytearray(target.read_bytes())
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(raw))
            raw[i] = rng.choice(b":-[]{}&*!|>'\"\t\n #%@`")
        target.write_bytes(bytes(raw))
    elif k < 0.95:
        target.unlink()
    else:
        target.unlink()
        target.symlink_to(rng.choice(["/etc/passwd", "/dev/zero", "/nonexistent", "/etc"]))
    book = folder / "demo.xlsx"
    shutil.copy(SMALL_DEMO, book)
    command = rng.choice(["check", "check", "worklist", "kpi-json", "explain", "forecast"])
    if command == "check":
        return ["rules", "check", str(rules)], None, {"file": target.name}
    if command == "worklist":
        return ["worklist", str(book), "--rules", str(rules), "--json"], json_check, {"file": target.name}
    if command == "explain":
        return ["rules", "explain", str(book), "C001", "--rules", str(rules), "--json"], json_check, {"file": target.name}
    if command == "forecast":
        return ["forecast", str(book), "--rules", str(rules), "--json", "--weeks", "4"], json_check, {"file": target.name}
    return ["kpi", str(book), "--json"], json_check, {"file": target.name}


SMALL_DEMO = Path(tempfile.gettempdir()) / "encaisse-fuzz-demo.xlsx"


# ---------------------------------------------------------------------------------------------- cli

def cli_case(rng: random.Random, folder: Path):
    book = folder / "demo.xlsx"
    shutil.copy(SMALL_DEMO, book)
    values = ["", "-", "--", "x", "0", "-1", "1e9", "nan", "inf", "2026-10-31", "31/02/2026", "9999-99-99", "00.00.0000",
              str(book), str(folder), "/dev/null", "/dev/full", "/nonexistent/x.xlsx", "/etc/passwd", "é" * 300,
              "USD=1.1", "USD=-1", "USD=nan", "USD=0", "=1", "USD", "dso=-15", "dso=abc", "acompte=1000", "objectifs_6_mois",
              "marge=+2,dso=-15", str(folder / "out.png"), str(folder / "OUT.XLSX"), str(folder / "x.xlsm"), "2147483648",
              "1000001", "99", "100", "-5", "13", "0x10", "1_000"]
    sub = rng.choice(["recalc", "rules check", "rules explain", "template", "kpi", "worklist", "forecast", "demo", "letters",
                      "", "--version", "--help", "nope"])
    options = {
        "recalc": ["-o", "--output", "--as-of", "--rules"],
        "rules check": [],
        "rules explain": ["--rules", "--as-of", "--json"],
        "template": ["--force", "--sample", "--invoices", "--seed"],
        "kpi": ["--as-of", "--rate", "--json"],
        "worklist": ["--as-of", "--top", "--rules", "--json"],
        "forecast": ["--as-of", "--weeks", "--rules", "--json", "--plot", "--what-if", "--backtest"],
        "demo": ["--book", "--out"],
        "letters": ["--out", "--as-of", "--rules", "--force"],  # never --send from a fuzzer
    }.get(sub, ["--debug", "-h"])
    flags = {"--json", "--force", "--sample", "--backtest"}
    argv = sub.split() if sub else []
    positionals = {"recalc": 1, "rules check": 1, "rules explain": 2, "template": 1, "kpi": 1, "worklist": 1, "forecast": 1,
                   "letters": 1}.get(sub, 0)
    for _ in range(rng.randint(0, 4)):
        opt = rng.choice(options) if options else None
        if opt is None:
            break
        argv.append(opt)
        if opt not in flags and rng.random() < 0.95:
            argv.append(rng.choice(values))
    for i in range(positionals if rng.random() < 0.85 else rng.randint(0, 3)):
        if sub == "rules explain" and i == 1:
            argv.append(rng.choice(["C001", "C1", "", "é", "x" * 500]))
        elif sub == "template":
            argv.append(rng.choice([str(folder / "m.xlsx"), str(folder / "M.XLSX"), str(book), str(folder), "/dev/null", "/nonexistent/m.xlsx", str(folder / "m.txt")]))
        elif sub == "rules check":
            argv.append(rng.choice([str(RULES), str(folder), "/nonexistent", "/etc/passwd", str(book)]))
        else:
            argv.append(rng.choice([str(book), str(book), str(folder / "none.xlsx"), "/dev/null", str(folder), "/etc/passwd"]))
    if "template" in argv and "--invoices" in argv and "--sample" not in argv and rng.random() < 0.5:
        argv.append("--sample")
    if "template" in argv and "--invoices" in argv:
        i = argv.index("--invoices")
        if i + 1 < len(argv) and argv[i + 1].isdigit() and int(argv[i + 1]) > 20000:
            argv[i + 1] = "20000"  # a million invoices is accepted by design, and slow: not what this campaign looks at
    if "letters" in argv and "--out" not in argv:
        argv += ["--out", str(folder / "lettres")]
    if "demo" in argv and "--book" not in argv:
        argv += ["--book", str(book)]
    rng.shuffle(argv[len(sub.split()):]) if rng.random() < 0.1 else None
    check = json_check if "--json" in argv else text_check
    return argv, check, {}


# ---------------------------------------------------------------------------------------------- campaign

AREAS = {"formulas": (formulas_case, 0.45), "content": (content_case, 0.17), "package": (package_case, 0.16),
         "rules": (rules_case, 0.12), "cli": (cli_case, 0.10)}


def one(args: tuple) -> dict:
    area, seed, keep = args
    rng = random.Random(f"{area}-{seed}")
    folder = Path(tempfile.mkdtemp(prefix=f"fuzz-{area}-"))
    try:
        argv, check, info = AREAS[area][0](rng, folder)
        result = run_case(argv, folder)
        cls, detail = classify(result, check)
        record = {"area": area, "seed": seed, "argv": argv, "class": cls, "detail": detail, "code": result["code"],
                  "seconds": round(result["seconds"], 2), "peak_mb": round(result["peak"] / 1e6), **{k: v for k, v in info.items() if k != "before"}}
        if cls in DEFECTS and keep:
            dest = Path(keep) / f"{area}-{seed}"
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(folder, dest, symlinks=True)
            (dest / "case.json").write_text(json.dumps(record, ensure_ascii=False, indent=1, default=str))
        return record
    except Exception as error:  # the campaign's own failure to build an input: counted, not hidden
        return {"area": area, "seed": seed, "class": "generator", "detail": f"{type(error).__name__}: {error}"[:200], "argv": []}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def prepare() -> None:
    if not SMALL_DEMO.exists():
        subprocess.run([str(ENCAISSE), "template", str(SMALL_DEMO), "--sample", "--invoices", "300"], check=True,
                       capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1, help="first case number (cases are numbered from it)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--areas", default=",".join(AREAS))
    parser.add_argument("--keep", default=None, help="folder where the inputs of each defect are kept")
    parser.add_argument("--log", default=None, help="JSON-lines file of every case")
    parser.add_argument("--only", default=None, help="these cases again, e.g. formulas-1053,content-7 (same inputs)")
    args = parser.parse_args()
    prepare()
    areas = args.areas.split(",")
    weights = [AREAS[a][1] for a in areas]
    total = sum(weights)
    plan = []
    if args.only:
        plan = [(case.rsplit("-", 1)[0], int(case.rsplit("-", 1)[1]), args.keep) for case in args.only.split(",")]
        areas = sorted({area for area, _, _ in plan}, key=list(AREAS).index)
    else:
        for area, weight in zip(areas, weights):
            count = round(args.cases * weight / total)
            plan += [(area, args.seed + i, args.keep) for i in range(count)]
    random.Random(args.seed).shuffle(plan)
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    defects = []
    started = time.monotonic()
    log = open(args.log, "a", encoding="utf-8") if args.log else None
    with cf.ProcessPoolExecutor(args.jobs) as pool:
        for i, record in enumerate(pool.map(one, plan, chunksize=1), start=1):
            counts[record["area"]][record["class"]] += 1
            if log:
                log.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
                log.flush()
            if record["class"] in DEFECTS or record["class"] == "generator":
                defects.append(record)
                print(f"  {record['class']:9} {record['area']}-{record['seed']}: {' '.join(map(str, record['argv']))[:200]}\n"
                      f"            {record['detail']}", flush=True)
            if i % 100 == 0:
                print(f"  … {i}/{len(plan)} cases in {time.monotonic() - started:.0f} s", flush=True)
    classes = ["ok", "located", "usage", *DEFECTS, "generator"]
    print(f"\nCampaign: {len(plan)} cases, seed {args.seed}, {args.jobs} jobs, {time.monotonic() - started:.0f} s")
    print(f"{'area':10}" + "".join(f"{c:>10}" for c in classes) + f"{'total':>8}")
    for area in areas:
        print(f"{area:10}" + "".join(f"{counts[area][c]:>10}" for c in classes) + f"{sum(counts[area].values()):>8}")
    print(f"{'all':10}" + "".join(f"{sum(counts[a][c] for a in areas):>10}" for c in classes) + f"{len(plan):>8}")
    print(f"defects: {sum(1 for d in defects if d['class'] in DEFECTS)}")
    if log:
        log.close()


if __name__ == "__main__":
    main()
