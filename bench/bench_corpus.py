"""Agreement of encaisse's headless recalculation with Excel on a corpus of real workbooks.

Every workbook in bench/corpus/books/ was saved by Excel (see bench/corpus/SOURCES.md), so the
cached value of each formula cell is Excel's result. For each book, in its own subprocess (with a
timeout, so one slow book cannot stall the bench):

1. the cached values of every formula cell are read from the sheet XML (cells holding an <f>
   element, shared-formula children included, plus the cells covered by an array / spilled
   dynamic-array formula's ref);
2. `encaisse.recalc.recalc(book, out=<temp dir>)` runs with its default options;
3. the values in the written file are read the same way and compared with Excel's.

Equality: two numbers within 1e-9 (absolute or relative), equal strings, equal booleans, equal
error codes (#N/A...), and blank == blank == "" (a formula returning "" is stored as an empty
string). A boolean never equals a number, a number never equals a numeric text.

Volatile cells: a cell whose formula calls TODAY, NOW, RAND or RANDBETWEEN, or (transitively)
refers to such a cell through an A1 reference or range (same or other sheet, or a defined name
that is a plain range), is counted as "volatile" and left out of the agreement ratio. INDIRECT,
OFFSET, structured references and names holding formulas are not followed.

A book refused by recalc (encaisse.EncaisseError, InputError included) is "refused" and all its
non-volatile formula cells count as missed; any other exception is a "crash" (its type is shown);
a book that takes longer than --timeout is a "timeout". The agreement percentage is
equal / (all non-volatile formula cells of every book).

    .venv/bin/python bench/bench_corpus.py [--only NAME] [--show-diffs N] [--json OUT]
                                           [--timeout 120] [--jobs 1] [--library]

--library also measures the `formulas` library alone (ExcelModel().loads(book).finish() then
.calculate()) on the same cells, for comparison (in a second subprocess per book, same timeout).
Volatility is followed transitively through A1 references (see volatile_cells).
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BOOKS = BENCH / "corpus" / "books"
VOLATILE = ("TODAY", "NOW", "RAND", "RANDBETWEEN")
_VOLATILE_CALL = re.compile(r"(?<![\w.])(?:_xlfn\.)?(" + "|".join(VOLATILE) + r")\s*\(", re.I)
_CALL = re.compile(r"(?<![\w.!$\\])((?:_xlfn\.|_xlws\.)?[A-Za-z][\w.]*)\s*\(")
_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")
_STRING = re.compile(r'"(?:[^"]|"")*"')
ERRORS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!", "#CALC!")
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELNS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


# --------------------------------------------------------------------------- reading the XML


def col_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def col_letters(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def split_ref(ref: str) -> tuple[int, int]:
    m = _CELL.match(ref)
    return int(m.group(2)), col_number(m.group(1))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(elem) -> str:
    """Text of a shared string / inline string: <t> directly or the runs' <t>, phonetic runs excluded."""
    parts = []
    for child in elem:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return "".join(parts)


def _resolve(base: str, target: str) -> str:
    if target.startswith("/"):
        return target[1:]
    parts = base.split("/")[:-1] + target.split("/")
    out = []
    for p in parts:
        if p == "..":
            if out:
                out.pop()
        elif p and p != ".":
            out.append(p)
    return "/".join(out)


def workbook_parts(z: zipfile.ZipFile):
    """(workbook part, [(sheet name, part)], {defined name: text}) of the package."""
    rels = ET.fromstring(z.read("_rels/.rels"))
    wb_part = next(_resolve("", r.get("Target")) for r in rels if r.get("Type", "").endswith("/officeDocument"))
    wb = ET.fromstring(z.read(wb_part))
    rels_part = _resolve(wb_part, "_rels/" + wb_part.rsplit("/", 1)[-1] + ".rels")
    targets = {r.get("Id"): _resolve(wb_part, r.get("Target")) for r in ET.fromstring(z.read(rels_part))}
    sheets = []
    for s in wb.iter(MAIN + "sheet"):
        part = targets.get(s.get(RELNS + "id"))
        if part and part in z.namelist():
            sheets.append((s.get("name"), part))
    names = {}
    for d in wb.iter(MAIN + "definedName"):
        if d.get("localSheetId") is None and d.text:
            names[d.get("name").upper()] = d.text
    return wb_part, sheets, names, targets


def shared_strings(z: zipfile.ZipFile, targets: dict) -> list[str]:
    part = next((p for p in targets.values() if p.endswith("sharedStrings.xml")), None)
    if part is None or part not in z.namelist():
        return []
    return [_text(si) for si in ET.fromstring(z.read(part)) if _local(si.tag) == "si"]


def _value(c, strings: list[str]):
    """(kind, value) of a cell: n number, s text, b boolean, e error, blank."""
    t = c.get("t", "n")
    v = c.find(MAIN + "v")
    if t == "inlineStr":
        is_ = c.find(MAIN + "is")
        return ("s", _text(is_)) if is_ is not None else ("blank", None)
    if v is None or v.text is None:
        return ("s", "") if t == "str" else ("blank", None)
    text = v.text
    if t == "s":
        return "s", strings[int(text)]
    if t == "str":
        return "s", text
    if t == "b":
        return "b", text.strip() in ("1", "true")
    if t == "e":
        return "e", text
    if t == "d":
        return "s", text
    return "n", float(text)


def _translate(formula: str, origin: str, dest: str) -> str:
    try:
        from openpyxl.formula.translate import Translator

        return Translator("=" + formula, origin=origin).translate_formula(dest)[1:]
    except Exception:  # noqa: BLE001 - the master's text is a fine fallback for display
        return formula


def read_book(path) -> dict:
    """{'Sheet!A1': {'kind', 'value', 'formula'}} for every formula cell of the book, in file order."""
    out = {}
    with zipfile.ZipFile(path) as z:
        _, sheets, _, targets = workbook_parts(z)
        strings = shared_strings(z, targets)
        for name, part in sheets:
            root = ET.fromstring(z.read(part))
            data = root.find(MAIN + "sheetData")
            if data is None:
                continue
            masters = {}  # si -> (formula, origin)
            arrays = []  # (r1, c1, r2, c2, anchor formula)
            cells = {}
            for row in data:
                for c in row:
                    if _local(c.tag) != "c" or c.get("r") is None:
                        continue
                    ref = c.get("r")
                    f = c.find(MAIN + "f")
                    kind, value = _value(c, strings)
                    cells[ref] = (kind, value)
                    if f is None:
                        continue
                    text = f.text or ""
                    ftype = f.get("t")
                    if ftype == "shared":
                        si = f.get("si")
                        if text:
                            masters[si] = (text, ref)
                        elif si in masters:
                            text = _translate(masters[si][0], masters[si][1], ref)
                    elif ftype == "array" and f.get("ref"):
                        a, _, b = f.get("ref").partition(":")
                        r1, c1 = split_ref(a)
                        r2, c2 = split_ref(b or a)
                        arrays.append((r1, c1, r2, c2, text))
                    out[f"{name}!{ref}"] = {"kind": kind, "value": value, "formula": text, "sheet": name, "ref": ref}
            for r1, c1, r2, c2, text in arrays:
                for r in range(r1, r2 + 1):
                    for col in range(c1, c2 + 1):
                        ref = f"{col_letters(col)}{r}"
                        key = f"{name}!{ref}"
                        if key not in out and ref in cells:
                            kind, value = cells[ref]
                            out[key] = {"kind": kind, "value": value, "formula": "{spill} " + text, "sheet": name, "ref": ref}
    return out


def read_values(path) -> dict:
    """{'Sheet!A1': (kind, value)} of every cell of the book."""
    out = {}
    with zipfile.ZipFile(path) as z:
        _, sheets, _, targets = workbook_parts(z)
        strings = shared_strings(z, targets)
        for name, part in sheets:
            root = ET.fromstring(z.read(part))
            data = root.find(MAIN + "sheetData")
            for row in data if data is not None else ():
                for c in row:
                    if _local(c.tag) == "c" and c.get("r"):
                        out[f"{name}!{c.get('r')}"] = _value(c, strings)
    return out


# --------------------------------------------------------------------------- volatility


def _refs(formula: str, sheet: str, names: dict, depth: int = 0):
    """(sheet, r1, c1, r2, c2) rectangles the formula refers to (A1 refs, ranges, names of ranges)."""
    try:
        from openpyxl.formula.tokenizer import Tokenizer
    except ImportError:
        return []
    try:
        tokens = Tokenizer("=" + formula).items
    except Exception:  # noqa: BLE001
        return []
    rects = []
    for tok in tokens:
        if tok.type != "OPERAND" or tok.subtype != "RANGE":
            continue
        text = tok.value
        where = sheet
        if "!" in text:
            where, _, text = text.rpartition("!")
            where = where.strip("'").replace("''", "'")
            if where.startswith("["):
                continue  # external book
        a, _, b = text.replace("$", "").partition(":")
        try:
            if _CELL.match(a) and (not b or _CELL.match(b)):
                r1, c1 = split_ref(a)
                r2, c2 = split_ref(b or a)
            elif re.fullmatch(r"[A-Za-z]{1,3}", a) and re.fullmatch(r"[A-Za-z]{1,3}", b):
                r1, r2, c1, c2 = 1, 1048576, col_number(a), col_number(b)
            elif a.isdigit() and b.isdigit():
                r1, r2, c1, c2 = int(a), int(b), 1, 16384
            elif text.upper() in names and depth < 3:
                rects.extend(_refs(names[text.upper()], sheet, names, depth + 1))
                continue
            else:
                continue
        except (AttributeError, ValueError):
            continue
        rects.append((where, min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)))
    return rects


def volatile_cells(cells: dict, names: dict) -> set:
    direct = {k for k, c in cells.items() if _VOLATILE_CALL.search(_STRING.sub('""', c["formula"]))}
    volatile_names = {n for n, t in names.items() if _VOLATILE_CALL.search(t)}
    if volatile_names:
        for k, c in cells.items():
            words = set(re.findall(r"[A-Za-z_][\w.]*", _STRING.sub('""', c["formula"]).upper()))
            if words & volatile_names:
                direct.add(k)
    if not direct:
        return set()
    rects = {k: _refs(c["formula"].removeprefix("{spill} "), c["sheet"], names) for k, c in cells.items()}
    volatile = set(direct)
    positions = {}
    for k in volatile:
        c = cells[k]
        positions.setdefault(c["sheet"], []).append(split_ref(c["ref"]))
    changed = True
    while changed:
        changed = False
        for k, rs in rects.items():
            if k in volatile:
                continue
            for sheet, r1, c1, r2, c2 in rs:
                if any(r1 <= r <= r2 and c1 <= col <= c2 for r, col in positions.get(sheet, ())):
                    volatile.add(k)
                    positions.setdefault(cells[k]["sheet"], []).append(split_ref(cells[k]["ref"]))
                    changed = True
                    break
    return volatile


# --------------------------------------------------------------------------- comparison


def same(excel: tuple, ours: tuple) -> bool:
    (ek, ev), (ok, ov) = excel, ours
    if ek in ("blank", "s") and ok in ("blank", "s") and (ev or "") == (ov or "") and (ek == "blank" or ok == "blank" or ek == ok):
        return True
    if ek != ok:
        return False
    if ek == "n":
        if math.isnan(ov) if isinstance(ov, float) else False:
            return False
        return abs(ev - ov) <= 1e-9 or abs(ev - ov) <= 1e-9 * max(abs(ev), abs(ov))
    return ev == ov


def show(value: tuple) -> str:
    kind, v = value
    if kind == "blank":
        return "(blank)"
    if kind == "s":
        return json.dumps(v, ensure_ascii=False)
    if kind == "b":
        return "TRUE" if v else "FALSE"
    if kind == "n":
        return repr(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)
    return str(v)


def category(excel: tuple, ours: tuple | None) -> str:
    """Coarse kind of a disagreement: what Excel had -> what we wrote."""
    if ours is None:
        return "not written"

    def k(v):
        kind, val = v
        return {"n": "number", "s": "text" if val else "empty text", "b": "boolean", "blank": "blank"}.get(kind) or str(val)

    a, b = k(excel), k(ours)
    if a == b == "number":
        return "number differs"
    if a == b == "text":
        return "text differs"
    return f"{a} -> {b}"


def functions_of(formula: str) -> list[str]:
    return sorted({m.group(1).upper().split(".")[-1] for m in _CALL.finditer(_STRING.sub('""', formula))})


# --------------------------------------------------------------------------- one book (in a subprocess)


def _library_values(book: Path, keys) -> dict:
    """{'Sheet!A1': (kind, value)} computed by the `formulas` library alone for the given cells."""
    import formulas
    import numpy as np

    model = formulas.ExcelModel().loads(str(book)).finish()
    solution = model.calculate()
    found = {}
    for key, ranges in solution.items():
        m = re.match(r"^'?\[([^\]]+)\](.+?)'?!([A-Z]+\d+)(?::([A-Z]+\d+))?$", key)
        if not m:
            continue
        sheet, a, b = m.group(2).replace("''", "'"), m.group(3), m.group(4) or m.group(3)
        r1, c1 = split_ref(a)
        try:
            arr = np.asarray(getattr(ranges, "value", ranges), dtype=object)
        except Exception:  # noqa: BLE001
            continue
        if arr.ndim == 0:
            arr = arr.reshape(1, 1)
        elif arr.ndim == 1:
            arr = arr.reshape(1, -1)
        for i in range(arr.shape[0]):
            for j in range(arr.shape[1]):
                found[(sheet.upper(), r1 + i, c1 + j)] = arr[i, j]
    out = {}
    for key in keys:
        sheet, _, ref = key.rpartition("!")
        r, c = split_ref(ref)
        if (sheet.upper(), r, c) not in found:
            continue
        v = found[(sheet.upper(), r, c)]
        if isinstance(v, (bool, np.bool_)):
            out[key] = ("b", bool(v))
        elif isinstance(v, (int, float, np.integer, np.floating)):
            out[key] = ("n", float(v))
        elif isinstance(v, str):
            out[key] = ("s", v)
        elif type(v).__name__ == "XlError" or str(v) in ERRORS:
            out[key] = ("e", str(v))
        elif str(v) == "empty" or v is None:
            out[key] = ("blank", None)
        else:
            out[key] = ("s", str(v))
    return out


def _unquote(name: str) -> str:
    """'Sheet name'!A1 -> Sheet name!A1 (the keys of RecalcReport.values quote sheet names when needed)."""
    sheet, _, ref = name.rpartition("!")
    if sheet.startswith("'") and sheet.endswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    return f"{sheet}!{ref.replace('$', '')}"


def run_book(book: Path) -> dict:
    result = {"book": book.name, "status": "ok", "message": "", "seconds": 0.0}
    cells = read_book(book)
    with zipfile.ZipFile(book) as z:
        names = workbook_parts(z)[2]
    volatile = volatile_cells(cells, names)
    result["formula_cells"] = len(cells)
    result["volatile"] = len(volatile)
    counted = [k for k in cells if k not in volatile]
    result["counted"] = len(counted)
    result["equal"] = 0
    result["different"] = 0
    result["diffs"] = []
    from encaisse.errors import EncaisseError
    from encaisse.recalc import recalc

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        try:
            report = recalc(book, out=tmp)
        except EncaisseError as error:
            result["seconds"] = time.perf_counter() - started
            result["status"] = "refused"
            result["message"] = str(error)
        except Exception as error:  # noqa: BLE001 - a crash is a result here
            result["seconds"] = time.perf_counter() - started
            result["status"] = "crash"
            result["message"] = f"{type(error).__name__}: {error}"[:2000]
            result["traceback"] = traceback.format_exc()[-3000:]
        else:
            result["seconds"] = time.perf_counter() - started
            written = {_unquote(k) for k in report.values}
            ours = read_values(Path(tmp) / book.name)
            for key in counted:
                cell = cells[key]
                excel = (cell["kind"], cell["value"])
                mine = ours.get(key, ("blank", None))
                mine_note = "" if key in written else "not written"
                if same(excel, mine) and not mine_note:
                    result["equal"] += 1
                else:
                    result["different"] += 1
                    result["diffs"].append({
                        "cell": key, "formula": cell["formula"], "excel": show(excel), "ours": show(mine),
                        "category": mine_note or category(excel, mine), "functions": functions_of(cell["formula"]),
                    })
    return result


# --------------------------------------------------------------------------- driver


def library_book(book: Path) -> dict:
    """Agreement of the `formulas` library alone on the same (non-volatile) cells."""
    cells = read_book(book)
    with zipfile.ZipFile(book) as z:
        volatile = volatile_cells(cells, workbook_parts(z)[2])
    counted = [k for k in cells if k not in volatile]
    result = {"status": "ok", "equal": 0, "different": 0, "seconds": 0.0, "message": ""}
    started = time.perf_counter()
    try:
        theirs = _library_values(book, counted)
    except Exception as error:  # noqa: BLE001
        result.update(status="crash", message=f"{type(error).__name__}: {error}"[:300])
    else:
        for key in counted:
            cell = cells[key]
            if key in theirs and same((cell["kind"], cell["value"]), theirs[key]):
                result["equal"] += 1
            else:
                result["different"] += 1
    result["seconds"] = time.perf_counter() - started
    return result


def _worker(book: str, library: bool) -> int:
    result = library_book(Path(book)) if library else run_book(Path(book))
    sys.stdout.write("\n@@RESULT@@" + json.dumps(result, ensure_ascii=False) + "\n")
    return 0


def run_in_subprocess(book: Path, timeout: float, library: bool) -> dict:
    result = _recalc_in_subprocess(book, timeout)
    if library:  # its own subprocess and timeout: a slow library run cannot cost the recalc result
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(book), "--library"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            out = proc.stdout.rpartition("@@RESULT@@")
            result["library"] = json.loads(out[2]) if out[1] else {
                "status": "crash", "equal": 0, "different": 0, "seconds": 0.0, "message": proc.stderr[-300:]}
        except subprocess.TimeoutExpired:
            result["library"] = {"status": "timeout", "equal": 0, "different": 0, "seconds": timeout, "message": ""}
    return result


def _recalc_in_subprocess(book: Path, timeout: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(book)]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        cells = read_book(book)
        with zipfile.ZipFile(book) as z:
            vol = volatile_cells(cells, workbook_parts(z)[2])
        return {"book": book.name, "status": "timeout", "message": f"plus de {timeout:g} s", "seconds": timeout,
                "formula_cells": len(cells), "volatile": len(vol), "counted": len(cells) - len(vol),
                "equal": 0, "different": 0, "diffs": [], "wall": time.perf_counter() - started}
    out = proc.stdout.rpartition("@@RESULT@@")
    if not out[1]:
        return {"book": book.name, "status": "crash", "message": f"worker exited {proc.returncode}: {proc.stderr[-500:]}",
                "seconds": time.perf_counter() - started, "formula_cells": 0, "volatile": 0, "counted": 0,
                "equal": 0, "different": 0, "diffs": [], "wall": time.perf_counter() - started}
    result = json.loads(out[2])
    result["wall"] = time.perf_counter() - started
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", help="book name or part of it (repeatable)")
    parser.add_argument("--show-diffs", type=int, default=0, metavar="N", help="print up to N differing cells per book")
    parser.add_argument("--json", metavar="OUT", help="write every result (diffs included) to this JSON file")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per book (default 120)")
    parser.add_argument("--jobs", type=int, default=1, help="books run at once (default 1: timings undisturbed)")
    parser.add_argument("--library", action="store_true", help="also measure the formulas library alone")
    parser.add_argument("--books", default=str(BOOKS), metavar="DOSSIER", help="folder of the corpus workbooks (default bench/corpus/books, not in git: see SOURCES.md)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args.worker, args.library)

    books = sorted((p for p in Path(args.books).iterdir() if p.suffix.lower() in (".xlsx", ".xlsm")), key=lambda p: p.name.lower())
    if args.only:
        books = [b for b in books if any(o.lower() in b.name.lower() for o in args.only)]
    if not books:
        print("aucun classeur", file=sys.stderr)
        return 1
    started = time.perf_counter()
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(lambda b: run_in_subprocess(b, args.timeout, args.library), books))
    wall = time.perf_counter() - started

    width = max(len(r["book"]) for r in results)
    lib = args.library
    head = f"{'book':<{width}}  {'formulas':>8} {'equal':>7} {'diff':>6} {'volat':>6} {'status':<8} {'time s':>7}"
    if lib:
        head += f"  {'lib equal':>9} {'lib st':<6}"
    print(head)
    print("-" * len(head))
    for r in results:
        line = (f"{r['book']:<{width}}  {r['formula_cells']:>8} {r['equal']:>7} {r['different']:>6} {r['volatile']:>6} "
                f"{r['status']:<8} {r['seconds']:>7.2f}")
        if lib and "library" in r:
            line += f"  {r['library']['equal']:>9} {r['library']['status']:<6}"
        print(line)
        if r["status"] != "ok":
            print("    " + r["message"].strip().replace("\n", "\n    ")[:1500])
        for d in r["diffs"][: args.show_diffs]:
            print(f"    {d['cell']}  ={d['formula'][:120]}  excel={d['excel'][:60]}  ours={d['ours'][:60]}  [{d['category']}]")

    total = sum(r["formula_cells"] for r in results)
    counted = sum(r["counted"] for r in results)
    equal = sum(r["equal"] for r in results)
    different = sum(r["different"] for r in results)
    volatile = sum(r["volatile"] for r in results)
    by_status = collections.Counter(r["status"] for r in results)
    missed = sum(r["counted"] for r in results if r["status"] != "ok")
    seconds = sum(r["seconds"] for r in results)
    print("-" * len(head))
    print(f"books: {len(results)} ({', '.join(f'{n} {s}' for s, n in sorted(by_status.items()))})")
    print(f"formula cells: {total}, volatile (excluded): {volatile}, compared: {counted}")
    print(f"equal: {equal}, different: {different}, missed in refused/crashed/timed-out books: {missed}")
    pct = 100.0 * equal / counted if counted else 0.0
    ok_counted = sum(r["counted"] for r in results if r["status"] == "ok")
    ok_pct = 100.0 * equal / ok_counted if ok_counted else 0.0
    print(f"TOTAL: {counted} cells, {equal} equal = {pct:.2f}% (on books recalculated: {ok_pct:.2f}%), "
          f"{by_status.get('refused', 0)} refused, {by_status.get('crash', 0)} crashes, {by_status.get('timeout', 0)} timeouts, "
          f"recalc time {seconds:.1f} s, wall {wall:.1f} s")
    if lib:
        lequal = sum(r.get("library", {}).get("equal", 0) for r in results)
        lcrash = sum(1 for r in results if r.get("library", {}).get("status") in ("crash", "timeout"))
        lsec = sum(r.get("library", {}).get("seconds", 0.0) for r in results)
        print(f"LIBRARY (formulas alone): {lequal} equal = {100.0 * lequal / counted if counted else 0:.2f}%, "
              f"{lcrash} crashes or timeouts, {lsec:.1f} s")
    shares = sorted(r["equal"] / r["counted"] for r in results if r["counted"])
    if shares:
        print(f"per book (books with compared cells, refused = 0%): mean {100 * sum(shares) / len(shares):.2f}%, "
              f"median {100 * shares[len(shares) // 2]:.2f}%, books at 100%: {sum(1 for s in shares if s == 1.0)}/{len(shares)}")
    cats = collections.Counter(d["category"] for r in results for d in r["diffs"])
    if cats:
        print("disagreements by kind (Excel -> ours):")
        for name, n in cats.most_common():
            example = next(d for r in results for d in r["diffs"] if d["category"] == name)
            print(f"  {n:>6}  {name}   e.g. {example['cell']} ={example['formula'][:80]} excel={example['excel'][:40]} ours={example['ours'][:40]}")
    funcs = collections.Counter(f for r in results for d in r["diffs"] for f in d["functions"] or ["(no function)"])
    if funcs:
        print("functions in differing cells' formulas (a cell counts once per function):")
        print("  " + ", ".join(f"{f} {n}" for f, n in funcs.most_common(40)))
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "wall": wall}, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
