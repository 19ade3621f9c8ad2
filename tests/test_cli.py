"""What a user meets at the terminal: --version, help for every argument, template does not overwrite
a workbook, one as-of parser for every command, French messages for files that are not workbooks."""

from __future__ import annotations

import argparse
import datetime as dt
import zipfile

import pytest

import encaisse
from encaisse.cli import build_parser, main
from encaisse.resources import DEFAULT_RULES_DIR, DEMO_WORKBOOK

from test_recalc import build, serial, values


def test_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out == f"encaisse {encaisse.__version__}\n" == "encaisse 0.1.0\n"


def _parsers(parser: argparse.ArgumentParser, name: str = "encaisse"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_argument_and_command_has_a_help_line():
    missing = []
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{name} {choice.dest}" for choice in action._choices_actions if not choice.help]
            elif not action.help:
                missing.append(f"{name} {action.metavar or action.dest}")
    assert missing == []


def test_help_describes_positionals_in_french(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        main(["rules", "explain", "--help"])
    out = capsys.readouterr().out
    assert "\narguments:\n  CLASSEUR         classeur .xlsx ou .xlsm (tables Clients, Factures, Règlements)\n" in out
    assert "\n  CODE_CLIENT      code du client dans la table Clients (ex. C0001)\n" in out


# --- template does not overwrite -----------------------------------------------------------------

def test_template_refuses_an_existing_workbook_without_force(tmp_path, capsys):
    target = tmp_path / "ventes.xlsx"
    target.write_bytes(b"des mois de saisie")
    assert main(["template", str(target)]) == 1
    assert capsys.readouterr().err == (
        f"{target} existe déjà : encaisse template ne remplace pas un classeur existant, dont les données seraient "
        "perdues. Choisissez un autre nom, ou ajoutez --force pour le remplacer.\n")
    assert target.read_bytes() == b"des mois de saisie"
    assert main(["template", str(target), "--force"]) == 0
    assert zipfile.is_zipfile(target)


def test_template_onto_a_folder_is_refused(tmp_path, capsys):
    (tmp_path / "d.xlsx").mkdir()
    assert main(["template", str(tmp_path / "d.xlsx"), "--force"]) == 1
    assert capsys.readouterr().err == f"{tmp_path / 'd.xlsx'} est un dossier : donnez le nom du fichier .xlsx à écrire\n"


# --- one as-of parser ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["2026-09-30", "30/09/2026", "30.09.2026", "30-09-2026", " 30/09/26 "])
def test_recalc_takes_the_as_of_date_in_every_form_kpi_takes(tmp_path, text):
    book = build(tmp_path / "b.xlsx", [("A1", "=DateArrete")])
    out = tmp_path / "out.xlsx"
    assert main(["recalc", str(book), "-o", str(out), "--as-of", text]) == 0
    assert values(out)[0][0] == serial(dt.datetime(2026, 9, 30))


def test_every_as_of_goes_through_one_parser(tmp_path, capsys):
    book = build(tmp_path / "b.xlsx", [("A1", "=DateArrete")])
    assert main(["recalc", str(book), "--as-of", "31.02.2026"]) == 1
    recalc_err = capsys.readouterr().err
    assert recalc_err == ("Recalcul impossible (1 problème) :\n"
                          "  - --as-of : date « 31.02.2026 » illisible ; attendu : AAAA-MM-JJ, JJ/MM/AAAA ou JJ.MM.AAAA\n")
    assert main(["kpi", str(book), "--as-of", "31.02.2026"]) == 1
    assert capsys.readouterr().err == recalc_err.replace("Recalcul impossible", "Option invalide")
    from encaisse.recalc import evaluator

    assert evaluator._parse_as_of("30.09.2026") == dt.date(2026, 9, 30)


# --- files that are not workbooks ------------------------------------------------------------------

def _bad_files(folder):
    (folder / "texte.xlsx").write_text("bonjour\n")
    (folder / "vide.xlsx").write_bytes(b"")
    (folder / "dossier.xlsx").mkdir()
    (folder / "ancien.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    (folder / "tronque.xlsx").write_bytes(DEMO_WORKBOOK.read_bytes()[:5000])
    (folder / "export.csv").write_text("a;b\n1;2\n")
    return {
        "texte.xlsx": "fichier illisible : ce n'est pas un classeur Excel .xlsx/.xlsm",
        "vide.xlsx": "fichier vide : ce n'est pas un classeur Excel .xlsx/.xlsm",
        "dossier.xlsx": "c'est un dossier, pas un classeur Excel .xlsx/.xlsm",
        "ancien.xls": "classeur Excel 97-2003 (.xls) ou protégé par mot de passe : enregistrez-le au format .xlsx sans "
                      "mot de passe (Fichier > Enregistrer sous) puis relancez",
        "tronque.xlsx": "fichier illisible : classeur Excel endommagé ou incomplet (archive .xlsx tronquée)",
        "export.csv": "fichier illisible : ce n'est pas un classeur Excel .xlsx/.xlsm",
        "absent.xlsx": "fichier introuvable",
    }


@pytest.mark.parametrize("command, title", [
    (["kpi"], "Lecture impossible"), (["recalc"], "Recalcul impossible"),
    (["rules", "explain", "{book}", "C1"], "Lecture impossible"), (["demo", "--book"], "Lecture impossible"),
])
def test_a_file_that_is_not_a_workbook_is_named_in_french(tmp_path, capsys, command, title):
    for name, message in _bad_files(tmp_path).items():
        book = str(tmp_path / name)
        argv = [book if part == "{book}" else part for part in command] if "{book}" in command else [*command, book]
        assert main(argv + (["--out", str(tmp_path / "out")] if command[0] == "demo" else [])) == 1, name
        captured = capsys.readouterr()
        assert captured.err == f"{title} (1 problème) :\n  - {book} : {message}\n", name
        assert "Error" not in captured.err and "Cannot" not in captured.err and "zip" not in captured.err
        assert captured.out == ""


def test_an_unwritable_output_is_a_french_error(tmp_path, capsys):
    book = build(tmp_path / "b.xlsx", [("A1", "=1+1")])
    (tmp_path / "plat").write_text("un fichier, pas un dossier")
    assert main(["recalc", str(book), "-o", str(tmp_path / "plat" / "x.xlsx")]) == 1
    assert capsys.readouterr().err.endswith(f"Écriture impossible : {tmp_path / 'plat' / 'x.xlsx'} : "
                                            "un élément du chemin n'est pas un dossier\n")


def test_rules_check_without_folder_checks_the_bundled_rules(capsys):
    assert main(["rules", "check"]) == 0
    assert capsys.readouterr().out == "Règles valides : 7 fichiers\n"
    assert (DEFAULT_RULES_DIR / "relances.yaml").is_file()
