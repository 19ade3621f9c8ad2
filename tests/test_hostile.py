"""Hostile and broken inputs: each class of fault an outsider's fuzzing found, with a small input
built here (no binary fixture), gets a located French message and exit 1 — never a traceback,
an abort, a blow-up or a silent wrong figure. The property-based campaign is in test_fuzz.py."""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from packages import edit_part  # tests/packages.py

from encaisse import InputError, load_workbook
from encaisse.cli import main
from encaisse.resources import DEFAULT_RULES_DIR, DEMO_WORKBOOK

D = dt.datetime
HEADERS = {
    "Factures": ["N° facture", "Code client", "Date facture", "Échéance", "Montant TTC"],
    "Clients": ["Code client", "Raison sociale", "Segment"],
    "Règlements": ["Date", "Code client", "N° facture", "Montant"],
}


def book(path: Path, factures=(), clients=(("C1", "Alpha", "PME"),), reglements=None, errors=(), extra=None) -> Path:
    """A small workbook; `errors` are (sheet, row, col, '#N/A') cells stored as Excel errors."""
    workbook = xlsxwriter.Workbook(str(path))
    dates = workbook.add_format({"num_format": "dd/mm/yyyy"})
    tables = {"Factures": factures, "Clients": clients}
    if reglements is not None:
        tables["Règlements"] = reglements
    sheets = {}
    for name, rows in tables.items():
        sheet = sheets[name] = workbook.add_worksheet(name)
        sheet.write_row(0, 0, HEADERS[name])
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                if isinstance(value, dt.datetime):
                    sheet.write_datetime(r, c, value, dates)
                elif value is not None:
                    sheet.write(r, c, value)
    for name, row, col, error in errors:
        sheets[name].write_formula(row, col, "=NA()", None, error)
    params = workbook.add_worksheet("Paramètres")
    params.write_row(0, 0, ["Paramètre", "Valeur"])
    params.write(1, 0, "Date d'arrêté")
    params.write_datetime(1, 1, D(2026, 10, 31), dates)
    workbook.define_name("DateArrete", "='Paramètres'!$B$2")
    if extra:
        extra(workbook, sheets)
    workbook.close()
    return path


INVOICE = ("F1", "C1", D(2026, 1, 1), D(2026, 2, 1), 100.0)


def problems_of(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_workbook(path)
    return [str(p) for p in caught.value.problems]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


# ---------------------------------------------------------------- crashes on ordinary mistakes

def test_every_invoice_number_blank_is_reported_cell_by_cell(tmp_path):
    path = book(tmp_path / "b.xlsx", [(None, *INVOICE[1:]), (None, *INVOICE[1:])])
    assert problems_of(path) == ["Factures!A2 : N° facture manquant", "Factures!A3 : N° facture manquant"]


def test_every_customer_code_blank_is_reported(tmp_path):
    path = book(tmp_path / "b.xlsx", [INVOICE], clients=[(None, "A", "PME"), (None, "B", "PME")])
    assert problems_of(path) == [
        "Factures!B2 : client « C1 » inconnu (absent de Clients)",
        "Clients!A2 : code client manquant",
        "Clients!A3 : code client manquant",
    ]


def test_payments_without_any_invoice(tmp_path, capsys):
    path = book(tmp_path / "b.xlsx", [], reglements=[(D(2026, 3, 1), "C1", None, 50.0)])
    code, out, _ = run(capsys, "kpi", str(path), "--json")
    assert code == 0
    figures = json.loads(out)
    assert figures["open_amount"] == 0.0 and figures["dso"] == {"countback": 0.0, "period": 0.0}  # nothing owed


# ---------------------------------------------------------------- resource blow-ups

def test_a_stray_cell_far_away_is_refused_before_reading(tmp_path):
    path = book(tmp_path / "b.xlsx", [INVOICE], extra=lambda wb, sheets: sheets["Factures"].write(1048575, 16383, 1))
    assert problems_of(path) == [
        "Factures!XFD1048576 : zone utilisée de la feuille trop grande (1\u202f048\u202f576 lignes × 16\u202f384 colonnes) : "
        "une cellule isolée loin des données ? Supprimez les lignes et colonnes inutilisées"
    ]


def test_a_stray_cell_hidden_by_a_false_dimension_is_found(tmp_path):
    path = book(tmp_path / "b.xlsx", [INVOICE], extra=lambda wb, sheets: sheets["Factures"].write(19999, 16383, 1))
    lying = tmp_path / "faux.xlsx"
    edit_part(path, lying, "xl/worksheets/sheet1.xml", (b'<dimension ref="A1:XFD20000"/>', b'<dimension ref="A1:E2"/>'))
    assert problems_of(lying)[0].startswith("Factures!XFD20000 : zone utilisée de la feuille trop grande (20\u202f000 lignes")


def _repack(path: Path, target: Path, member: str, data: bytes, **info) -> Path:
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            if item.filename != member:
                out.writestr(item, source.read(item))
        entry = zipfile.ZipInfo(member)
        entry.compress_type = zipfile.ZIP_DEFLATED
        for key, value in info.items():
            setattr(entry, key, value)
        out.writestr(entry, data)
    return target


def test_a_zip_bomb_is_refused_naming_its_part(tmp_path, monkeypatch):
    from encaisse.workbook import package

    monkeypatch.setattr(package, "RATIO_FROM_BYTES", 1 << 20)  # the real bound is 64 Mo: the same rule on a small bomb
    path = book(tmp_path / "b.xlsx", [INVOICE])
    bomb = _repack(path, tmp_path / "bombe.xlsx", "xl/sharedStrings.xml", b" " * (8 << 20))
    [problem] = problems_of(bomb)
    assert problem.startswith(f"{bomb} (xl/sharedStrings.xml) : partie de 8 Mo une fois décompressée pour ")
    assert problem.endswith("taux de compression anormal, lecture refusée")


def _flag_encrypted(path: Path, member: str, target: Path) -> Path:
    """The same archive with `member` flagged as encrypted in the central directory (bit 0 of its flags)."""
    raw = bytearray(path.read_bytes())
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        length = int.from_bytes(raw[at + 28:at + 30], "little")
        if raw[at + 46:at + 46 + length] == member.encode():
            raw[at + 8] |= 0x1
        at = raw.find(b"PK\x01\x02", at + 46)
    target.write_bytes(bytes(raw))
    return target


def test_an_encrypted_part_is_refused(tmp_path, capsys):
    path = book(tmp_path / "b.xlsx", [INVOICE])
    locked = _flag_encrypted(path, "xl/styles.xml", tmp_path / "chiffre.xlsx")
    code, _, err = run(capsys, "recalc", str(locked))
    assert code == 1
    assert f"{locked} (xl/styles.xml) : partie chiffrée : enregistrez le classeur sans mot de passe" in err


def test_a_corrupted_part_is_reported_without_english(tmp_path, capsys):
    path = book(tmp_path / "b.xlsx", [INVOICE])
    raw = bytearray(path.read_bytes())
    start = raw.find(b"xl/workbook.xml")  # damage the workbook part's compressed bytes (CRC error)
    raw[start + 40:start + 60] = bytes(20)
    broken = tmp_path / "abime.xlsx"
    broken.write_bytes(bytes(raw))
    code, _, err = run(capsys, "kpi", str(broken))
    assert code == 1
    assert "abime.xlsx" in err and ("illisible" in err or "archive zip valide" in err)


# ---------------------------------------------------------------- silent wrong results

@pytest.mark.parametrize("amount, shown", [
    (1e308, "1e+308"),
    ("1" + "0" * 400, "1" + "0" * 78 + "…"),
])
def test_absurd_amounts_are_refused(tmp_path, amount, shown):
    path = book(tmp_path / "b.xlsx", [(*INVOICE[:4], amount)])
    assert problems_of(path) == [f"Factures!E2 : montant « {shown} » hors limites (au plus 999 999 999 999 999 en valeur absolue)"]


def test_infinite_text_is_not_a_number(tmp_path):
    path = book(tmp_path / "b.xlsx", [(*INVOICE[:4], "INF")])
    assert problems_of(path) == ["Factures!E2 : montant « INF » n'est pas un nombre"]


def test_excel_error_values_are_named_in_required_and_optional_columns(tmp_path):
    path = book(tmp_path / "b.xlsx", [INVOICE, ("F2", "C1", D(2026, 1, 1), D(2026, 2, 1), 0)],
                reglements=[(D(2026, 3, 1), "C1", "F1", 50.0)],
                errors=[("Factures", 2, 4, "#DIV/0!"), ("Règlements", 1, 2, "#N/A")])
    assert problems_of(path) == [
        "Factures!E3 : valeur d'erreur Excel #DIV/0! dans « Montant TTC » : corrigez la formule ou la saisie",
        "Règlements!C2 : valeur d'erreur Excel #N/A dans « N° facture » : corrigez la formule ou la saisie",
    ]


@pytest.mark.parametrize("rate", ["USD=-1", "USD=0", "USD=nan", "USD=inf", "=0.9", "USD"])
def test_exchange_rates_must_be_positive_numbers(tmp_path, capsys, rate):
    code, _, err = run(capsys, "kpi", str(DEMO_WORKBOOK), "--rate", rate)
    assert code == 1
    assert f"--rate : « {rate} » : attendu DEVISE=TAUX avec un taux positif" in err


def test_rate_function_refuses_nan(tmp_path):
    from encaisse.excel import FUNCTIONS

    factures = [HEADERS["Factures"] + ["Devise"], ["F1", "C1", D(2026, 1, 1), D(2026, 2, 1), 100.0, "USD"]]
    assert FUNCTIONS["DSO"](factures, None, D(2026, 10, 31), None, None, "USD=nan").startswith("#VALEUR! taux de change")


def test_a_rules_folder_that_does_not_exist_is_refused(tmp_path, capsys):
    copy = tmp_path / "b.xlsx"
    shutil.copy(DEMO_WORKBOOK, copy)
    code, _, err = run(capsys, "recalc", str(copy), "--rules", str(tmp_path / "absent"))
    assert code == 1
    assert err.strip() == f"Dossier de règles introuvable : {tmp_path / 'absent'} (option --rules)"
    assert copy.read_bytes() == DEMO_WORKBOOK.read_bytes()


# ---------------------------------------------------------------- rule files

def _rules_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "regles"
    shutil.copytree(DEFAULT_RULES_DIR, folder)
    return folder


@pytest.mark.parametrize("text, message", [
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(7)),
     "scoring.yaml:1:*: trop de valeurs une fois les alias (*nom) développés (au plus 100 000)"),
    ("a: &a [*a]\n", "scoring.yaml:1:4: alias (*nom) qui se contient lui-même"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "scoring.yaml:1:1: imbrication trop profonde (au plus 64 niveaux de listes ou de clés)"),
])
def test_hostile_yaml_is_refused_with_its_position(tmp_path, capsys, text, message):
    folder = _rules_copy(tmp_path)
    (folder / "scoring.yaml").write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "rules", "check", str(folder))
    assert code == 1
    place, _, text = message.partition(": ")
    [line] = [line for line in err.splitlines() if line.endswith(text)]
    assert fnmatch.fnmatch(line, f"{folder.as_posix()}/{place}: *")


def test_a_rate_past_28_digits_is_located_not_a_traceback(tmp_path, capsys):
    # Babel's decimal context holds 28 digits: the message quoting the rate failed to format it
    folder = _rules_copy(tmp_path)
    text = (folder / "risque.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    at = [i for i, line in enumerate(lines) if "au_dela_pct:" in line][1]
    lines[at] = lines[at].split("au_dela_pct:")[0] + "au_dela_pct: 1000000000000000000000000000000"
    (folder / "risque.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "rules", "check", str(folder))
    assert code == 1 and "Erreur inattendue" not in err
    assert f"risque.yaml:{at + 1}:" in err and "1e+30 est supérieur au maximum permis" in err
    assert "1e+30\u00a0%" in err


def test_nan_and_inf_weights_do_not_pass(tmp_path, capsys):
    folder = _rules_copy(tmp_path)
    text = (folder / "scoring.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("poids:"))
    lines[at] = lines[at].split("poids:")[0] + "poids: .nan"
    (folder / "scoring.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "rules", "check", str(folder))
    assert code == 1
    assert f"scoring.yaml:{at + 1}:" in err and "nombre « .nan » non fini" in err


def test_a_rules_file_is_never_echoed_whole(tmp_path, capsys):
    folder = _rules_copy(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:" + "s" * 5000 + "\n" + "daemon:x:1:1:" + "d" * 5000 + "\n", encoding="utf-8")
    (folder / "risque.yaml").unlink()
    (folder / "risque.yaml").symlink_to(secret)
    code, _, err = run(capsys, "rules", "check", str(folder))
    assert code == 1
    assert "s" * 100 not in err and "d" * 100 not in err
    assert max(len(line) for line in err.splitlines()) < 400


def test_a_huge_rules_file_is_refused(tmp_path, capsys):
    folder = _rules_copy(tmp_path)
    (folder / "litiges.yaml").write_text("a: " + "x" * (2 << 20) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "rules", "check", str(folder))
    assert code == 1
    assert "litiges.yaml : fichier trop volumineux pour un fichier de règles (2048 Ko ; au plus 1024 Ko)" in err.replace(":", " :", 1) \
        or "fichier trop volumineux pour un fichier de règles (2048 Ko ; au plus 1024 Ko)" in err


# ---------------------------------------------------------------- messages

def test_a_long_cell_is_cut_in_the_message(tmp_path):
    path = book(tmp_path / "b.xlsx", [(*INVOICE[:4], "x" * 30000)])
    [problem] = problems_of(path)
    assert problem == f"Factures!E2 : montant « {'x' * 79}… » n'est pas un nombre"


def test_thousands_of_problems_are_listed_up_to_a_limit(tmp_path):
    path = book(tmp_path / "b.xlsx", [(f"F{i}", "C1", D(2026, 1, 1), D(2026, 2, 1), "?") for i in range(500)])
    with pytest.raises(InputError) as caught:
        load_workbook(path)
    assert len(caught.value.problems) == 500
    report = str(caught.value).splitlines()
    assert len(report) == 1 + 200 + 1
    assert report[-1] == "  … et 300 autres problèmes (corrigez les premiers puis relancez)"


# ---------------------------------------------------------------- the command line itself

def test_an_unexpected_error_gives_a_french_message_and_the_trace_only_with_debug(monkeypatch, capsys):
    from encaisse import cli

    def broken(args):
        raise TypeError("'NoneType' object is not subscriptable")

    monkeypatch.setattr(cli, "_kpi", broken)
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["kpi"].set_defaults(handler=broken)
    code, _, err = run(capsys, "kpi", "x.xlsx")
    assert code == 1
    assert err.strip() == ("Erreur inattendue (TypeError) : encaisse n'a pas pu terminer. "
                           "Relancez avec --debug pour le détail technique et signalez-le nous.")
    with pytest.raises(TypeError):
        main(["--debug", "kpi", "x.xlsx"])


def test_ctrl_c_exits_130_without_a_trace(monkeypatch, capsys):
    from encaisse import cli

    def interrupted(args):
        raise KeyboardInterrupt

    parser = cli.build_parser()
    parser._subparsers._group_actions[0].choices["kpi"].set_defaults(handler=interrupted)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    code, _, err = run(capsys, "kpi", "x.xlsx")
    assert code == 130
    assert err.strip() == "Interrompu (Ctrl+C) : aucun fichier n'a été laissé à moitié écrit."


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
def test_a_console_that_cannot_show_every_character(encoding):
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    done = subprocess.run([sys.executable, "-c", "from encaisse.cli import run; run()", "kpi", str(DEMO_WORKBOOK)],
                          capture_output=True, env=env)
    assert done.returncode == 0, done.stderr.decode(encoding, "replace")
    text = done.stdout.decode(encoding)
    assert "2 576 073,14" in text  # the narrow no-break spaces became plain spaces


def test_output_to_a_full_device(tmp_path):
    if not Path("/dev/full").exists():
        pytest.skip("pas de /dev/full sur ce système")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-c", "from encaisse.cli import run; run()", "kpi", str(DEMO_WORKBOOK)],
                              stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == 1
    assert b"Traceback" not in done.stderr
    assert "disque plein" in done.stderr.decode()


@pytest.mark.parametrize("argv, message", [
    (["template", "x.xlsx", "--seed", "-1"], "argument --seed : -1 : la graine est un entier de 0 à 4 294 967 295"),
    (["template", "x.xlsx", "--invoices", "1000000000"], "1000000000 : entre 100 et 1 000 000 factures"),
])
def test_template_options_are_bounded(capsys, argv, message):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


# ---------------------------------------------------------------- where outputs go

@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_output_onto_a_pipe_or_a_link_is_refused(tmp_path, capsys, kind):
    book = tmp_path / "b.xlsx"
    shutil.copy(DEMO_WORKBOOK, book)
    target = tmp_path / "sortie.xlsx"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        elsewhere = tmp_path / "ailleurs.xlsx"
        elsewhere.write_bytes(b"garde-moi")
        target.symlink_to(elsewhere)
    code, _, err = run(capsys, "recalc", str(book), "-o", str(target))
    assert code == 1
    assert err.strip() == (f"Écriture refusée : {target} n'est pas un fichier ordinaire (lien, périphérique ou tube) : "
                           "donnez le chemin d'un fichier")
    assert (target.is_fifo() if kind == "fifo" else target.is_symlink())
    assert book.read_bytes() == DEMO_WORKBOOK.read_bytes()
    if kind == "symlink":
        assert (tmp_path / "ailleurs.xlsx").read_bytes() == b"garde-moi"


def test_demo_never_writes_over_an_upper_case_xlsx_in_its_own_folder(tmp_path, capsys):
    book = tmp_path / "CLASSEUR.XLSX"
    shutil.copy(DEMO_WORKBOOK, book)
    code, out, _ = run(capsys, "demo", "--book", str(book), "--out", str(tmp_path))
    assert code == 0
    assert book.read_bytes() == DEMO_WORKBOOK.read_bytes()
    assert (tmp_path / "CLASSEUR-recalcule.xlsx").is_file()


def test_a_stop_signal_leaves_no_temporary_file(tmp_path):
    import signal
    import time

    target = tmp_path / "gros.xlsx"
    process = subprocess.Popen([sys.executable, "-c", "from encaisse.cli import run; run()", "template", str(target),
                                "--invoices", "300000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode in (0, 130), err
    assert b"Traceback" not in err
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    if process.returncode == 130:
        assert not target.exists()


def test_a_bug_in_a_sheet_function_shows_no_internal_text(monkeypatch):
    from encaisse.excel import args

    @args.sheet_function
    def broken(value):
        return value["absent"]  # TypeError on a float

    assert broken(1.0) == "#VALEUR! erreur inattendue dans encaisse : le calcul n'a pas pu se faire (à nous signaler)"
