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
