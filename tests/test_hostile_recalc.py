"""Hostile and broken workbooks given to `encaisse recalc`: each is checked while the package is
read, before any formula is evaluated, and ends in the right values or a French message naming
the part, sheet or cell and what was expected (exit 1), the input untouched. Each bad input is a
small generated workbook with one part of its zip edited (tests/packages.py)."""

from __future__ import annotations

import os
import sys
import time
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from packages import edit_part  # tests/packages.py

from encaisse.cli import main
from encaisse.errors import InputError
from encaisse.recalc import recalc

CALC = "xl/worksheets/sheet1.xml"
TABLE = "xl/tables/table1.xml"


def book(path: Path, formulas=(), arrays=(), sheet="Calc", extra=None) -> Path:
    """Calc (the formulas) and Factures (a table of three amounts: 10, 20, 5)."""
    workbook = xlsxwriter.Workbook(str(path))
    calc = workbook.add_worksheet(sheet)
    factures = workbook.add_worksheet("Factures")
    factures.add_table(0, 0, 3, 1, {"name": "Factures", "columns": [{"header": "N"}, {"header": "Montant"}],
                                    "data": [["F1", 10.0], ["F2", 20.0], ["F3", 5.0]]})
    for ref, formula in formulas:
        calc.write_formula(ref, formula)
    for ref, formula in arrays:
        calc.write_array_formula(ref, formula)
    if extra:
        extra(workbook, calc, factures)
    workbook.close()
    return path


def edited(tmp_path: Path, member: str, *replacements, formulas=(("A1", "=SUM(Factures[Montant])"),), **options) -> Path:
    source = book(tmp_path / "source.xlsx", formulas, **options)
    target = tmp_path / "edited.xlsx"
    edit_part(source, target, member, *replacements)
    return target


def refused(path: Path, capsys=None) -> list[str]:
    """The problems recalc reports; through the CLI too (exit 1, no traceback), the input untouched."""
    before = path.read_bytes()
    with pytest.raises(InputError) as caught:
        recalc(path, path.with_name("sortie.xlsx"))
    if capsys is not None:
        assert main(["recalc", str(path)]) == 1
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err and "Erreur inattendue" not in err
        assert str(caught.value.problems[0]) in err
    assert path.read_bytes() == before and not path.with_name("sortie.xlsx").exists()
    return [str(p) for p in caught.value.problems]


# ---------------------------------------------------------------- table parts and defined names

@pytest.mark.parametrize("old, new, message", [
    (b'ref="A1:B4"', b'ref="ZZZ"', "plage « ZZZ » illisible"),
    (b'ref="A1:B4"', b'ref="A1:"', "plage « A1: » illisible"),
    (b'ref="A1:B4"', b'ref=""', "plage «  » illisible"),
    (b' ref="A1:B4"', b"", "plage absente"),
    (b'ref="A1:B4"', b'ref="A1:B4" headerRowCount="un"', "headerRowCount « un » n'est pas un nombre entier de lignes"),
    (b'ref="A1:B4"', b'ref="A1:B4" totalsRowCount="1.5"', "totalsRowCount « 1.5 » n'est pas un nombre entier de lignes"),
    (b'ref="A1:B4"', b'ref="A1:B4" headerRowCount="3" totalsRowCount="2"', "3 ligne(s) d'en-tête et 2 de total pour une plage « A1:B4 » de 4 ligne(s)"),
    (b'ref="A1:B4"', b'ref="A1:D4"', "2 colonne(s) décrite(s) pour une plage « A1:D4 » de 4 colonne(s)"),
])
def test_a_table_part_with_a_garbage_range_or_row_count_is_named(tmp_path, capsys, old, new, message):
    path = edited(tmp_path, TABLE, (old, new))
    expected = f"{path} ({TABLE}) : tableau « Factures » : {message}"
    assert refused(path, capsys)[0] .startswith(expected)


@pytest.mark.parametrize("local", [b"x", b"-1", b"1e9", b"99"])
def test_a_defined_name_with_a_sheet_number_that_is_not_one_is_named(tmp_path, capsys, local):
    def name(workbook, calc, factures):
        calc.write("B1", 3)
        workbook.define_name("Calc!Trois", "=Calc!$B$1")

    path = edited(tmp_path, "xl/workbook.xml", (b'localSheetId="0"', b'localSheetId="' + local + b'"'),
                  formulas=[("A1", "=Trois*2")], extra=name)
    assert refused(path, capsys) == [f"{path} (xl/workbook.xml) : nom défini « Trois » : localSheetId « {local.decode()} » "
                                     f"n'est pas un numéro de feuille (entier de 0 à 1 attendu)"]


def test_a_sheet_local_name_is_still_read(tmp_path):
    def name(workbook, calc, factures):
        calc.write("B1", 3)
        workbook.define_name("Calc!Trois", "=Calc!$B$1")

    path = book(tmp_path / "b.xlsx", [("A1", "=Trois*2")], extra=name)
    assert recalc(path, tmp_path / "out.xlsx").values == {"Calc!A1": 6.0}


# ---------------------------------------------------------------- array formulas

ARRAY = dict(formulas=(), arrays=[("C1:C2", "{=Factures!B2:B3*2}")])


@pytest.mark.parametrize("ref, message", [
    (b"ZZZ", "formule matricielle de plage « ZZZ » invalide (attendu une plage A1 commençant à C1, comme « C1:C10 »)"),
    (b"C1:", "formule matricielle de plage « C1: » invalide (attendu une plage A1 commençant à C1, comme « C1:C10 »)"),
    (b"A1:XFD1048576", "formule matricielle de plage « A1:XFD1048576 » invalide (attendu une plage A1 commençant à C1, comme « C1:C10 »)"),
    (b"C1:XFD1048576", "formule matricielle sur « C1:XFD1048576 » (17\u202f177\u202f772\u202f032 cellules ; au plus 1\u202f048\u202f576) : "
                       "réduisez sa plage"),
])
def test_an_array_formula_with_a_garbage_or_whole_sheet_range_is_named(tmp_path, capsys, ref, message):
    path = edited(tmp_path, CALC, (b't="array" ref="C1:C2"', b't="array" ref="' + ref + b'"'), **ARRAY)
    assert refused(path, capsys) == [f"Calc!C1 : {message}"]


def test_an_array_formula_is_still_evaluated(tmp_path):
    path = book(tmp_path / "b.xlsx", **ARRAY)
    assert recalc(path, tmp_path / "out.xlsx").values == {"Calc!C1": 20.0, "Calc!C2": 40.0}


# ---------------------------------------------------------------- formula-cell XML

THREE = (("A1", "=SUM(Factures[Montant])"), ("A2", "=A1*2"), ("A3", "=A2+1"))


@pytest.mark.parametrize("old, new, problem", [
    (b"<f>A1*2</f>", b"<f>A1*2</g>", "Calc!A2 : cellule à formule illisible : XML mal formé"),
    (b"<f>A1*2</f>", b"<f>A1*2&amp</f>", "Calc!A2 : cellule à formule illisible : XML mal formé"),
    (b"<f>A1*2</f>", b'<f t="shared">A1*2</f>', 'Calc!A2 : formule partagée (t="shared") de numéro si absent : un nombre entier est attendu'),
    (b"<f>A1*2</f>", b'<f t="shared" si="x">A1*2</f>', 'Calc!A2 : formule partagée (t="shared") de numéro si « x » : un nombre entier est attendu'),
    (b"<f>A2+1</f>", b'<f t="shared" si="0"/>', "Calc!A3 : formule partagée si=0 sans sa formule (la première cellule du partage doit la porter)"),
    ((b"<f>A1*2</f>", b'<f t="shared" si="0" ref="A2:A3">A1&amp;"x</f>'), (b"<f>A2+1</f>", b'<f t="shared" si="0"/>'),
     'Calc!A3 : formule partagée si=0 illisible : « =A1&"x »'),
    (b"<f>A1*2</f>", b'<f junk="1" t="weird">A1*2</f>', "Calc!A2 : formule de type « weird » inconnu (attendu : normal, shared, array, dataTable)"),
    (b'<c r="A2">', b'<c r="ZZZZ9">', "Calc (xl/worksheets/sheet1.xml) : cellule à formule d'adresse « ZZZZ9 » invalide (attendu une cellule de A1 à XFD1048576)"),
    (b'<c r="A2">', b'<c r="A0">', "Calc (xl/worksheets/sheet1.xml) : cellule à formule d'adresse « A0 » invalide (attendu une cellule de A1 à XFD1048576)"),
    (b'<c r="A2">', b'<c r="A99999999">', "Calc (xl/worksheets/sheet1.xml) : cellule à formule d'adresse « A99999999 » invalide (attendu une cellule de A1 à XFD1048576)"),
    (b'<c r="A2">', b"<c>", "Calc (xl/worksheets/sheet1.xml) : cellule à formule sans adresse (attribut r attendu, comme « B3 »)"),
])
def test_unreadable_formula_cell_xml_is_named(tmp_path, capsys, old, new, problem):
    edits = (old, new) if isinstance(old, tuple) else ((old, new),)  # a pair of edits, or one
    path = edited(tmp_path, CALC, *edits, formulas=THREE)
    assert refused(path, capsys) == [problem]


def test_a_shared_formula_is_still_expanded(tmp_path):
    path = edited(tmp_path, CALC, (b"<f>A1*2</f>", b'<f t="shared" si="0" ref="A2:A3">A1*2</f>'), (b"<f>A2+1</f>", b'<f t="shared" si="0"/>'),
                  formulas=THREE)
    assert recalc(path, tmp_path / "out.xlsx").values == {"Calc!A1": 35.0, "Calc!A2": 70.0, "Calc!A3": 140.0}  # A3 = A2*2


def test_a_value_cell_with_an_address_outside_the_sheet_is_named_in_french(tmp_path, capsys):
    path = edited(tmp_path, "xl/worksheets/sheet2.xml", (b'<c r="B2">', b'<c r="B0">'))
    assert refused(path, capsys) == ["Factures (xl/worksheets/sheet2.xml) : feuille illisible : XML mal formé ou cellule d'adresse "
                                     "invalide ; réenregistrez le classeur avec Excel"]


# ---------------------------------------------------------------- formula length and range size

def test_a_formula_longer_than_excel_allows_is_refused_at_once(tmp_path, capsys):
    long = "1+" * 50_000 + "1"  # 100 001 characters
    path = book(tmp_path / "b.xlsx", [("A1", "=" + long)])
    started = time.perf_counter()
    problems = refused(path)
    assert time.perf_counter() - started < 30  # a guard against evaluating it, not a speed target (see bench_hostile.py)
    assert problems == ["Calc!A1 : formule de 100\u202f001 caractères : Excel en admet au plus 8\u202f192"]
    assert refused(path, capsys) == problems


def test_a_formula_of_excels_length_is_evaluated(tmp_path):
    text = "+".join(["1"] * 4096)  # 8 191 characters
    path = book(tmp_path / "b.xlsx", [("A1", "=" + text)])
    assert recalc(path, tmp_path / "out.xlsx").values == {"Calc!A1": 4096.0}


def test_a_bounded_range_of_billions_of_cells_is_refused_naming_it(tmp_path, capsys):
    path = book(tmp_path / "b.xlsx", [("A1", "=SUM(Factures!A1:XFC100000)")])
    assert refused(path, capsys) == [
        "Calc!A1 : plage « A1:XFC100000 » de 1\u202f638\u202f300\u202f000 cellules (au plus 16\u202f777\u202f216) : limitez-la aux données, "
        "ou prenez des colonnes entières (A:F), lues seulement jusqu'à la dernière ligne remplie"]


def test_a_defined_name_of_billions_of_cells_is_refused_where_it_is_used(tmp_path):
    path = book(tmp_path / "b.xlsx", [("A1", "=SUM(Enorme)")], extra=lambda wb, calc, f: wb.define_name("Enorme", "=Factures!$A$1:$XFC$100000"))
    assert refused(path) == [
        "Calc!A1 : nom « Enorme » : plage « $A$1:$XFC$100000 » de 1\u202f638\u202f300\u202f000 cellules (au plus 16\u202f777\u202f216) : "
        "limitez-la aux données, ou prenez des colonnes entières (A:F), lues seulement jusqu'à la dernière ligne remplie"]


@pytest.mark.parametrize("formula, count", [
    ("=COUNTA(Factures!A:XFD)", 8.0),  # N, Montant and three rows of two
    ("=COUNTA(Factures!1:1048576)", 8.0),
    ("=COUNTA(Factures!A1:XFD4)", 8.0),
    ("=SUM(Factures!A:XFD)", 35.0),
    ("=SUM(Factures!A1:XFC1048576)", 35.0),  # bounded, but to the last row: read to the used area as well
    ('=COUNTA(Factures!A:XFD)&" A:XFD"', "8 A:XFD"),  # a string literal is left as it is
])
def test_whole_rows_and_the_whole_sheet_are_read_to_the_used_area(tmp_path, formula, count):
    path = book(tmp_path / "b.xlsx", [("A1", formula)])
    assert recalc(path, tmp_path / "out.xlsx").values == {"Calc!A1": count}


# ---------------------------------------------------------------- sheets read with a stray far cell

def test_a_stray_far_cell_on_a_sheet_recalc_reads_is_refused_before_reading(tmp_path, capsys):
    far = lambda wb, calc, f: wb.add_worksheet("Autre").write(1048575, 16383, 1)  # noqa: E731
    # IronCalc holds only the cells there are: a plain formula over that sheet is computed.
    path = book(tmp_path / "native.xlsx", [("A1", "=SUM(Autre!A1:A3)+1")], extra=far)
    assert recalc(path, tmp_path / "out.xlsx").values == {"Calc!A1": 1.0}
    # The library evaluator (here for an array formula calling a function) would read the sheet whole.
    path = book(tmp_path / "b.xlsx", arrays=[("A1:A1", "{=SUM(Autre!A1:A3)}")], extra=far)
    assert refused(path, capsys) == [
        "Autre!XFD1048576 : zone utilisée de la feuille trop grande (1\u202f048\u202f576 lignes × 16\u202f384 colonnes) : "
        "une cellule isolée loin des données ? Supprimez les lignes et colonnes inutilisées"]


READS_CALC = (("A1", "=B1*2"),)  # the formula reads its own sheet


def test_a_stray_far_cell_hidden_by_a_false_dimension_on_the_formulas_own_sheet(tmp_path, capsys):
    path = edited(tmp_path, CALC, (b'<dimension ref="A1:XFD20000"/>', b'<dimension ref="A1:A1"/>'), formulas=READS_CALC,
                  extra=lambda wb, calc, f: calc.write(19999, 16383, 1))
    assert refused(path, capsys) == [
        "Calc!XFD20000 : zone utilisée de la feuille trop grande (20\u202f000 lignes × 16\u202f384 colonnes) : "
        "une cellule isolée loin des données ? Supprimez les lignes et colonnes inutilisées"]


def test_a_false_huge_dimension_alone_is_not_taken_for_the_sheets_extent(tmp_path):
    path = edited(tmp_path, CALC, (b'<dimension ref="A1:B1"/>', b'<dimension ref="A1:XFD1048576"/>'), formulas=READS_CALC,
                  extra=lambda wb, calc, f: calc.write("B1", 4))
    assert recalc(path, tmp_path / "out.xlsx").values == {"Calc!A1": 8.0}


def test_a_big_sheet_is_searched_for_far_cells_too(tmp_path, monkeypatch):
    from encaisse.workbook import package

    monkeypatch.setattr(package, "SCAN_BYTES", 64)  # the search of a sheet over a megabyte, on a small one
    path = edited(tmp_path, CALC, (b'<dimension ref="A1:XFD20000"/>', b'<dimension ref="A1:A1"/>'), formulas=READS_CALC,
                  extra=lambda wb, calc, f: calc.write(19999, 16383, 1))
    assert refused(path)[0].startswith("Calc!XFD20000 : zone utilisée de la feuille trop grande (20\u202f000 lignes × 16\u202f384 colonnes)")
    beyond = tmp_path / "au-dela.xlsx"
    edit_part(path, beyond, CALC, (b'<c r="XFD20000"', b'<c r="A2000000"'))
    assert refused(beyond) == ["Calc : cellule au-delà des limites d'une feuille Excel (ligne 2\u202f000\u202f000, colonne 26 ; "
                               "au plus 1\u202f048\u202f576 lignes et 16\u202f384 colonnes) : classeur endommagé"]


# ---------------------------------------------------------------- names of sheets and files

def test_a_sheet_whose_name_holds_an_apostrophe_is_recalculated(tmp_path):
    def values(workbook, calc, factures):
        calc.write("B1", 4)
        calc.write("B2", 5)
        workbook.add_worksheet("Autre").write_formula("A1", "='Cli''ents'!A1+1")

    path = book(tmp_path / "b.xlsx", [("A1", "=SUM('Cli''ents'!B1:B2)"), ("A2", "='Cli''ents'!B1*2")], sheet="Cli'ents", extra=values)
    assert recalc(path, tmp_path / "out.xlsx").values == {"'Cli''ents'!A1": 9.0, "'Cli''ents'!A2": 8.0, "Autre!A1": 10.0}


@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes only on Linux")
@pytest.mark.parametrize("command", ["recalc", "kpi"])
def test_a_file_name_that_is_not_utf8_is_read(tmp_path, command):
    import subprocess

    source = book(tmp_path / "b.xlsx", [("A1", "=SUM(Factures[Montant])")])
    name = os.path.join(os.fsencode(tmp_path), b"caf\xe9.xlsx")
    os.rename(source, name)
    argv = [b"recalc", name, b"-o", os.fsencode(tmp_path / "out.xlsx")] if command == "recalc" else [b"kpi", name]
    done = subprocess.run([sys.executable, "-m", "encaisse.cli", *argv], capture_output=True, env={**os.environ, "LC_ALL": "C.UTF-8"})
    assert b"Traceback" not in done.stderr and b"No such file" not in done.stderr
    if command == "recalc":
        assert done.returncode == 0 and done.stderr == b""
        assert done.stdout.startswith(b"Recalcul de " + name + " : 1 cellule à formule évaluée".encode())
    else:  # read, then refused for what it holds (no Clients table), not for its name
        assert done.returncode == 1 and b"lecture impossible" not in done.stderr
        assert "Clients : table « Clients » introuvable".encode() in done.stderr


def test_a_formula_nested_thousands_deep_is_evaluated_without_overflowing(tmp_path):
    # IronCalc parses by recursion and would overflow its stack (the process dies): such a formula
    # goes to the library evaluator.
    path = book(tmp_path / "b.xlsx", [("A1", "=" + "(" * 4000 + "2" + ")" * 4000 + "+1")])
    assert recalc(path, tmp_path / "out.xlsx").values == {"Calc!A1": 3.0}


# ---------------------------------------------------------------- IronCalc failing: panics, aborts, odd sheet names

def _cli(*argv) -> "subprocess.CompletedProcess":
    """The command in a process of its own: a native abort would end that process, not the tests."""
    import subprocess

    def cap():  # were IronCalc's guard to fail, its allocations must not take the machine's memory
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    return subprocess.run([sys.executable, "-m", "encaisse.cli", *map(str, argv)], capture_output=True, text=True,
                          env={**os.environ, "LC_ALL": "C.UTF-8"}, timeout=300, preexec_fn=cap)


def test_sheets_whose_names_hold_accents_or_spaces_are_read_back_from_ironcalc(tmp_path):
    # IronCalc's reference parser refused `Prévision!B2` (unquoted): every value is read by sheet number.
    def sheets(workbook, calc, factures):
        other = workbook.add_worksheet("Prévision à 13 sem")
        other.write("A1", 5)
        other.write_formula("B1", "=A1*3")
        other.write_dynamic_array_formula("C1", "=SEQUENCE(2)*A1")

    path = book(tmp_path / "b.xlsx", [("A1", "='Prévision à 13 sem'!B1+1")], sheet="Tableau de bord", extra=sheets)
    assert recalc(path, tmp_path / "out.xlsx").values == {
        "'Tableau de bord'!A1": 16.0, "'Prévision à 13 sem'!B1": 15.0, "'Prévision à 13 sem'!C1": 5.0, "'Prévision à 13 sem'!C2": 10.0}


RECURSIVE = "=LET(f,LAMBDA(f,n,IF(n<1,0,n+f(f,n-1))),f(f,100000))"


def test_a_lambda_recursing_without_bound_is_kept_from_ironcalc(tmp_path):
    # With ordinary formulas beside it, IronCalc evaluated it with the rest of the book and its
    # recursion overflowed the stack: the process died (exit -11). It goes to the library, which
    # cannot evaluate it either: the cell keeps its stored value and the run names it.
    path = book(tmp_path / "b.xlsx", [("A1", "=SUM(Factures[Montant])"), ("A2", "=A1*2"), ("A3", RECURSIVE)])
    done = _cli("recalc", path, "-o", tmp_path / "out.xlsx")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[2] == "Avertissement : Calc!A3 : non recalculée, valeur enregistrée conservée : nom « f » inconnu"
    # The same through a defined name calling itself.
    calls = book(tmp_path / "nom.xlsx", [("A1", "=SUM(Factures[Montant])"), ("A2", "=A1+Boucle(1)")],
                 extra=lambda wb, calc, f: wb.define_name("Boucle", "=LAMBDA(n,Boucle(n+1))"))
    done = _cli("recalc", calls, "-o", tmp_path / "out.xlsx")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[2].startswith("Avertissement : Calc!A2 : ")


def test_the_librarys_own_failure_log_is_not_shown(tmp_path):
    # The formula library logged each failing function with its Python traceback on stderr.
    path = book(tmp_path / "b.xlsx", [("A1", RECURSIVE)])
    done = _cli("recalc", path, "-o", tmp_path / "out.xlsx")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "DISPATCHING" not in done.stderr and "NotImplementedError" not in done.stderr
    assert done.stderr.splitlines() == ["Recalcul impossible (3 problèmes) :",
                                        "  - Calc!A1 : fonction F non prise en charge (ni par la bibliothèque de formules, ni par encaisse)",
                                        "  - Calc!A1 : nom « f » inconnu", "  - Calc!A1 : nom « n » inconnu"]


def test_an_evaluation_that_aborts_ironcalc_is_left_to_the_library(tmp_path):
    # EXPAND to the whole sheet makes IronCalc's allocation fail, which aborts the process (no
    # exception): the evaluation is tried in a child first and the library evaluates the book.
    path = book(tmp_path / "b.xlsx", [("A1", "=SUM(Factures[Montant])"), ("A2", "=A1*2"), ("A3", "=ROWS(EXPAND(1,1048576,16384))")])
    done = _cli("recalc", path, "-o", tmp_path / "out.xlsx")
    assert (done.returncode, done.stderr) == (0, "")
    assert "Avertissement : IronCalc n'a pas pu évaluer ce classeur : toutes les formules ont été évaluées par la bibliothèque" in done.stdout
    import re

    with zipfile.ZipFile(tmp_path / "out.xlsx") as zf:
        sheet = zf.read(CALC).decode()
    assert re.findall(r'<c r="(A\d)"[^>]*>.*?<v>([^<]*)</v>', sheet) == [("A1", "35"), ("A2", "70"), ("A3", "#VALUE!")]


class _Panicking:
    """An IronCalc model whose evaluation panics (as ironcalc.test_panic does: a Rust panic)."""

    def __init__(self, model):
        self._model = model

    def evaluate(self):
        import ironcalc

        ironcalc.test_panic()

    def __getattr__(self, name):
        return getattr(self._model, name)


@pytest.mark.parametrize("tried_in_a_child", [True, False])
def test_a_rust_panic_in_ironcalc_leaves_the_book_to_the_library(tmp_path, monkeypatch, tried_in_a_child):
    # pyo3's PanicException derives from BaseException: `except Exception` let it through, and the
    # run ended in a traceback.
    import ironcalc

    from encaisse.recalc import native

    load = ironcalc.load_from_xlsx
    monkeypatch.setattr(ironcalc, "load_from_xlsx", lambda *args: _Panicking(load(*args)))
    if not tried_in_a_child:
        monkeypatch.setattr(native, "_survives", lambda work, meanwhile=None: True)
    path = book(tmp_path / "b.xlsx", [("A1", "=SUM(Factures[Montant])"), ("A2", "=A1*2")])
    report = recalc(path, tmp_path / "out.xlsx")
    assert report.values == {"Calc!A1": 35.0, "Calc!A2": 70.0}
    assert report.warnings == ("IronCalc n'a pas pu évaluer ce classeur : toutes les formules ont été évaluées par la "
                               "bibliothèque de formules (plus lente)",)


def test_a_panic_anywhere_ends_in_a_french_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    import ironcalc


    path = book(tmp_path / "b.xlsx", [("A1", "=1")])
    monkeypatch.setattr("encaisse.recalc.recalc", lambda *args, **kwargs: ironcalc.test_panic())
    assert main(["recalc", str(path)]) == 1
    out, err = capsys.readouterr()
    assert err == ("Erreur inattendue (PanicException) : encaisse n'a pas pu terminer. Relancez avec --debug pour le "
                   "détail technique et signalez-le nous.\n")


def test_the_sheet_asking_spill_sizes_is_no_sheet_a_formula_can_name(tmp_path):
    # IronCalc's default name for the scratch sheet (Sheet1) turned a reference to an absent Sheet1
    # into a range of that sheet: 5 rows instead of the error Excel gives.
    path = book(tmp_path / "b.xlsx", [("B1", '=IFERROR(ROWS(Sheet1!A1:A5),"absente")'), ("B2", "=ISREF(Sheet1!A1)")],
                extra=lambda wb, calc, f: calc.write_dynamic_array_formula("A1", "=SEQUENCE(2)"))
    assert recalc(path, tmp_path / "out.xlsx").values == {"Calc!A1": 1.0, "Calc!A2": 2.0, "Calc!B1": "absente", "Calc!B2": False}


def test_a_formula_nested_thousands_deep_beside_ordinary_ones_does_not_reach_ironcalc(tmp_path):
    # IronCalc parses every formula of the book when it loads it: the deep one overflowed its
    # stack there (exit -11) although the library was to evaluate it. The library evaluates the book.
    path = book(tmp_path / "b.xlsx", [("A1", "=SUM(Factures[Montant])"), ("A2", "=A1*2"), ("A3", "=" + "(" * 4000 + "2" + ")" * 4000 + "+1")])
    done = _cli("recalc", path, "-o", tmp_path / "out.xlsx")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(f"Recalcul de {path} : 3 cellules à formule évaluées")


def test_a_formula_the_library_cannot_parse_is_named_in_french(tmp_path, capsys):
    path = book(tmp_path / "b.xlsx", [("A1", "=-#ERROR!*#NULL!+EXPAND(-1,)")])
    assert refused(path, capsys) == ["Calc!A1 : formule illisible « =-#ERROR!*#NULL!+EXPAND(-1,) » : syntaxe non reconnue"]


def test_a_book_whose_loading_would_end_the_process_is_left_to_the_library(tmp_path, monkeypatch):
    # IronCalc parses every formula as it loads a book; where that aborts (as the deep nesting
    # above did), the load tried in a child fails and this process never loads the book.
    import ironcalc

    monkeypatch.setattr(ironcalc, "load_from_xlsx", lambda *args: os.abort())
    path = book(tmp_path / "b.xlsx", [("A1", "=SUM(Factures[Montant])"), ("A2", "=A1*2")])
    report = recalc(path, tmp_path / "out.xlsx")
    assert report.values == {"Calc!A1": 35.0, "Calc!A2": 70.0}
    assert report.warnings == ()  # IronCalc could not load it: the library alone, as for a book IronCalc cannot read


def test_a_text_holding_a_lone_surrogate_is_written(tmp_path):
    import re

    # The library's UNICHAR(55296) gives half a UTF-16 pair, which UTF-8 cannot encode: the write
    # ended in UnicodeEncodeError. Like the other characters XML cannot carry, it is left out.
    # (IronCalc, like Excel, answers #VALUE!.)
    path = book(tmp_path / "b.xlsx", [("A1", "=SUM(Factures[Montant])")], arrays=[("A2:A2", '{=CONCAT("a",UNICHAR(55296),"b")}')])
    recalc(path, tmp_path / "out.xlsx")
    with zipfile.ZipFile(tmp_path / "out.xlsx") as zf:
        assert re.search(r'<c r="A2" t="str"><f t="array" ref="A2">CONCAT\("a",UNICHAR\(55296\),"b"\)</f><v>ab</v></c>', zf.read(CALC).decode())


def test_a_sheet_whose_compressed_data_is_damaged_is_named(tmp_path, capsys):
    # The scan of a sheet for formulas read its stream unguarded: zlib.error (or a CRC error)
    # ended in "Erreur inattendue (error)".
    import struct

    path = book(tmp_path / "b.xlsx", [("A1", "=SUM(Factures[Montant])")])
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("xl/worksheets/sheet2.xml")
    raw = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    raw[start + 20:start + 40] = b"\xff" * 20
    path.write_bytes(bytes(raw))
    assert refused(path, capsys) == [f"{path} : partie « xl/worksheets/sheet2.xml » illisible : archive endommagée "
                                     "(somme de contrôle ou compression incorrecte)"]
