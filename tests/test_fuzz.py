"""Property-based fuzzing of what users hand us: generated workbooks (every column of the main
tables filled with random cell values and types, blank or duplicate ids, Excel error values,
extreme numbers and dates, Unicode) and generated rule files. Whatever the input, the outcome is
either success with finite figures or a located French message (exit 1) — never a traceback.

Bounded (examples, sizes, no deadline) so that the whole suite stays within CI's time on two cores.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path

import pytest
import xlsxwriter
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from encaisse import EncaisseError
from encaisse.cli import main
from encaisse.resources import DEFAULT_RULES_DIR

FUZZ = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

ERROR = st.sampled_from(["#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!"])
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
CELL = st.one_of(
    st.none(),
    st.just(""),
    TEXT,
    st.sampled_from(["F1", "F2", "C1", "C2", " C1 ", "31/02/2026", "1 234,56 €", "-12,5", "1e400", "INF", "nan", "{{ 7*7 }}", "=1+1"]),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 12, 31)),
    st.booleans(),
    ERROR.map(lambda e: ("error", e)),
)
HEADERS = {
    "Factures": ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC", "Devise", "Litige", "Date litige"],
    "Clients": ["Code client", "Raison sociale", "Segment", "E-mail", "Encours max", "Note externe"],
    "Règlements": ["Date", "Code client", "N° facture", "Montant"],
}
ROWS = st.lists(st.lists(CELL, min_size=8, max_size=8), min_size=0, max_size=6)


def write(path: Path, tables: dict[str, list[list[object]]], as_of: object) -> Path:
    workbook = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    dates = workbook.add_format({"num_format": "dd/mm/yyyy"})

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
            if abs(value) < 1e300:
                sheet.write_number(r, c, float(value))
        else:
            sheet.write_string(r, c, value)

    for name, headers in HEADERS.items():
        sheet = workbook.add_worksheet(name)
        sheet.write_row(0, 0, headers)
        for r, row in enumerate(tables.get(name, []), start=1):
            for c, value in enumerate(row[: len(headers)]):
                put(sheet, r, c, value)
    params = workbook.add_worksheet("Paramètres")
    params.write_row(0, 0, ["Paramètre", "Valeur"])
    put(params, 1, 1, as_of)
    workbook.define_name("DateArrete", "='Paramètres'!$B$2")
    workbook.close()
    return path


def finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(v) for v in value.values())
    if isinstance(value, list):
        return all(finite(v) for v in value)
    return True


@FUZZ
@given(factures=ROWS, clients=ROWS, reglements=ROWS,
       as_of=st.one_of(st.none(), CELL, st.just(dt.datetime(2026, 10, 31))))
def test_any_workbook_gives_finite_figures_or_located_problems(tmp_path_factory, factures, clients, reglements, as_of):
    path = write(tmp_path_factory.mktemp("fuzz") / "b.xlsx", {"Factures": factures, "Clients": clients, "Règlements": reglements}, as_of)
    from encaisse import InputError, load_workbook
    from encaisse.kpi import kpi_summary

    try:
        ledger = load_workbook(path)
    except InputError as error:
        assert error.problems and all(p.where for p in error.problems)
        return
    if ledger.params.as_of is None:
        return
    try:
        summary = kpi_summary(ledger)
    except EncaisseError as error:  # e.g. a currency without a rate: located, in French
        assert str(error)
        return
    assert finite(json.loads(json.dumps(summary, default=str)))


@FUZZ
@given(factures=ROWS, reglements=ROWS)
def test_the_command_line_never_shows_a_traceback(tmp_path_factory, capsys, factures, reglements):
    path = write(tmp_path_factory.mktemp("fuzz") / "b.xlsx", {"Factures": factures, "Clients": [["C1", "A", "PME"]], "Règlements": reglements},
                 dt.datetime(2026, 10, 31))
    code = main(["kpi", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code in (0, 1)
    assert "Traceback" not in err and "Erreur inattendue" not in err
    if code == 0:
        assert finite(json.loads(out))


SCALAR = st.one_of(
    st.none(), st.booleans(), TEXT,
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["a", "jour", "poids"]), st.integers(), max_size=2),
)


def _paths(data, prefix=()):
    """Every path to a value in the YAML data."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield prefix + (key,)
            yield from _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield prefix + (index,)
            yield from _paths(value, prefix + (index,))


FILES = ("conditions.yaml", "relances.yaml", "litiges.yaml", "risque.yaml", "scoring.yaml", "legal.yaml")
TREES = {name: yaml.safe_load((DEFAULT_RULES_DIR / name).read_text(encoding="utf-8")) for name in FILES}


@FUZZ
@given(name=st.sampled_from(FILES), pick=st.integers(min_value=0), value=SCALAR)
def test_any_rule_value_is_accepted_or_located(tmp_path_factory, name, pick, value):
    from encaisse.rules import RulesError, check, load

    folder = tmp_path_factory.mktemp("regles") / "regles"
    shutil.copytree(DEFAULT_RULES_DIR, folder)
    data = yaml.safe_load((folder / name).read_text(encoding="utf-8"))
    paths = list(_paths(data))
    path = paths[pick % len(paths)]
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    (folder / name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    files, problems = check(folder)
    if problems:
        assert all(p.where.startswith(folder.as_posix()) or p.where.startswith(str(folder)) for p in problems)
        with pytest.raises(RulesError):
            load(folder)
        return
    rules = load(folder)
    for factor in ("days_late", "late_share", "unpaid_count", "dispute_rate", "volume", "external_rating"):
        f = rules.scoring.factor(factor)
        assert math.isfinite(f.weight) and math.isfinite(f.best) and math.isfinite(f.worst)


def test_the_smallest_sample_book_is_written(tmp_path, capsys):
    # --invoices 100 (the least allowed) made a month of credit notes only: negative purchases, and
    # the supplier bills' draw failed (ValueError, "Erreur inattendue").
    assert main(["template", str(tmp_path / "petit.xlsx"), "--sample", "--invoices", "100"]) == 0
    assert capsys.readouterr().out.splitlines()[2].startswith("  100 factures, ")


# ---------------------------------------------------------------- formulas given to recalc (IronCalc and the library)

FUNCTIONS = ["SUM", "IF", "IFERROR", "INDEX", "MATCH", "XLOOKUP", "FILTER", "SORT", "UNIQUE", "SEQUENCE", "TAKE", "EXPAND",
             "TEXT", "REPT", "CONCAT", "LEFT", "DATE", "EOMONTH", "ROUND", "MOD", "SUMPRODUCT", "OFFSET", "INDIRECT",
             "ROWS", "TRANSPOSE", "MMULT", "LARGE", "RANDARRAY", "VSTACK", "TEXTSPLIT", "DSO", "NOPE"]
LEAF = st.sampled_from([
    "1", "-2.5", "0", "1E+308", "1E-308", '"a"', '""', '"' + "x" * 300 + '"', "TRUE", "#N/A", "#DIV/0!", "#REF!", "{1,2;3,4}",
    "B1", "B1:B3", "$B$2", "A:A", "1:1", "A1:XFD1", "Factures[Montant]", "Factures[#All]", "Factures[[#This Row],[N]]",
    "Factures[Nope]", "Nulle[N]", "Sheet1:Sheet3!A1", "[1]Feuil1!A1", "Absente!A1", "'Prévision à 13 sem'!A1", "R1C1",
    "DateArrete", "Inconnu", "D1#", "XFD1048576", "1048576", "16384",
])
FORMULA = st.recursive(LEAF, lambda inner: st.one_of(
    st.tuples(st.sampled_from(FUNCTIONS), st.lists(inner, max_size=3)).map(lambda t: f"{t[0]}({','.join(t[1])})"),
    st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "^", "&", "=", "<", ":", " "]), inner).map("".join),
    st.tuples(st.sampled_from(["LET(x,{},x*2)", "LAMBDA(x,x+1)({})", "MAP({},LAMBDA(v,v*2))", "({})", "-{}", "{}%"]), inner)
    .map(lambda t: t[0].format(t[1])),
), max_leaves=6)


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(plain=st.lists(FORMULA, min_size=1, max_size=3), spilled=FORMULA, future=st.booleans())
def test_any_formula_is_recalculated_or_named(tmp_path_factory, capsys, plain, spilled, future):
    """Random nestings of Excel functions, odd references and literals beside ordinary formulas
    (so that IronCalc evaluates the book): a located refusal (exit 1) or finite cached values,
    never a traceback nor a process ended by IronCalc."""
    import re
    import zipfile

    folder = tmp_path_factory.mktemp("formules")
    path = folder / "b.xlsx"
    workbook = xlsxwriter.Workbook(str(path), {"use_future_functions": future})
    calc = workbook.add_worksheet("Calc")
    calc.write_column("B1", [3, 4, -2.5])
    calc.write_formula("A1", "=B1*2")
    calc.write_formula("A2", "=A1+B2")
    for row, text in enumerate(plain, start=5):
        calc.write_formula(row, 4, "=" + text)
    calc.write_dynamic_array_formula("G1", "=" + spilled)
    workbook.add_worksheet("Prévision à 13 sem").write("A1", 7)
    workbook.add_worksheet("Factures").add_table(0, 0, 2, 1, {"name": "Factures", "columns": [{"header": "N"}, {"header": "Montant"}],
                                                             "data": [["F1", 10.0], ["F2", 20.0]]})
    workbook.define_name("DateArrete", "=Calc!$B$2")
    workbook.close()
    before = path.read_bytes()
    code = main(["recalc", str(path), "-o", str(folder / "out.xlsx")])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "Erreur inattendue" not in err
    if code == 1:
        assert err.startswith("Recalcul impossible (") and path.read_bytes() == before
        assert all(line.startswith("  - ") and " : " in line for line in err.splitlines()[1:] if not line.startswith("  … et "))
        return
    assert code == 0 and err == ""
    with zipfile.ZipFile(folder / "out.xlsx") as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    numbers = re.findall(r'<c r="[A-Z]+\d+"(?: s="\d+")?>(?:<f[^>]*>[^<]*</f>|<f[^>]*/>)?<v>([^<]*)</v>', sheet)
    assert all(math.isfinite(float(v)) for v in numbers)
    assert re.search(r'<c r="A2"[^>]*><f>A1\+B2</f><v>10</v>', sheet)


def test_a_huge_value_quoted_outside_guillemets_is_cut(tmp_path_factory, capsys):
    # The invoice's customer, quoted in parentheses after a payment's, was echoed whole (40 000 characters).
    huge = "x" * 40_000
    path = write(tmp_path_factory.mktemp("long") / "b.xlsx", {
        "Factures": [["F1", huge, dt.datetime(2026, 9, 1), dt.datetime(2026, 10, 1), 100.0]],
        "Clients": [[huge, "A", "PME"], ["C1", "B", "PME"]],
        "Règlements": [[dt.datetime(2026, 9, 15), "C1", "F1", 50.0]]}, dt.datetime(2026, 10, 31))
    assert main(["kpi", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Règlements!B2 : client « C1 » différent de celui de la facture « F1 » (xxxx" in err
    assert max(map(len, err.splitlines())) <= 600


def test_a_text_given_for_a_list_of_classes_is_reported_once(tmp_path_factory, capsys):
    # A 100 000-character text where risque.yaml expects the limits per class was read as 100 000
    # classes « x »: ten megabytes of messages.
    folder = tmp_path_factory.mktemp("regles") / "regles"
    shutil.copytree(DEFAULT_RULES_DIR, folder)
    data = yaml.safe_load((folder / "risque.yaml").read_text(encoding="utf-8"))
    data["limites_par_classe"] = "x" * 100_000
    (folder / "risque.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["rules", "check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert len(err) < 2_000 and err.endswith("Règles invalides : 2 problèmes\n")
