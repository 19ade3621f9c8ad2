"""CONTRACT's Python API reached from a bare `import encaisse` (fresh interpreter: other tests
have already imported the sub-modules in this one)."""

from __future__ import annotations

import subprocess
import sys


def test_contract_api_after_plain_import():
    code = (
        "import encaisse\n"
        "import datetime as dt\n"
        "rules = encaisse.rules.load(encaisse.rules.DEFAULT_RULES_DIR)\n"
        "print(type(rules).__name__, encaisse.rules.RulesError.__name__)\n"
        "print(encaisse.kpi.dso.__name__, encaisse.kpi.aging.__name__, encaisse.load_workbook.__name__, encaisse.InputError.__name__)\n"
        "print(round(encaisse.kpi.released_cash(-25, 10, -25, sales=50000, purchases=30000, cogs=30000, days=30), 2))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["Rules RulesError", "dso aging load_workbook InputError", "76666.67"]


def test_usage_errors_exit_2_in_french(capsys):
    import pytest

    from encaisse.cli import main

    for argv, message in (
        (["kpi"], "encaisse kpi : erreur : arguments obligatoires absents : CLASSEUR"),
        (["inconnue"], "encaisse : erreur : argument COMMANDE : choix 'inconnue' invalide (choix possibles : "),
        (["template", "x.xlsx", "--seed", "q"], "encaisse template : erreur : argument --seed : « q » n'est pas un nombre entier"),
        (["rules", "check", "rules", "--bof"], "encaisse : erreur : arguments inconnus : --bof"),
    ):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        err = capsys.readouterr().err
        assert caught.value.code == 2
        assert err.startswith("usage : encaisse") and message in err, err
    with pytest.raises(SystemExit):
        main(["kpi", "--help"])
    help_text = capsys.readouterr().out
    assert "\narguments:\n  CLASSEUR" in help_text and "-h, --help          affiche cette aide" in help_text


def test_empty_template_report_says_what_cannot_be_computed(tmp_path):
    from encaisse.report import kpi_report
    from encaisse.authoring.template import write_template
    from encaisse.workbook import load_workbook

    ledger = load_workbook(write_template(tmp_path / "vide.xlsx"))
    lines = {line.split("  ")[1].strip(): line.rsplit("  ", 1)[1] for line in kpi_report(ledger, "2026-10-31").splitlines()
             if line.startswith("  ") and not line.startswith("   ") and "  " in line.strip()}
    assert lines["Créances clients ouvertes"] == "0,00\u00a0€"
    assert lines["Taux de litige (365 jours)"] == "non calculable (aucune facture émise)"
    assert lines["Marge brute (90 jours)"] == "0,00\u00a0€"
    assert lines["Indice d'efficacité du recouvrement (CEI, 3 mois)"] == "non calculable"


def test_demo_command_end_to_end_on_the_bundled_workbook(tmp_path, capsys):
    """What `python3 dev.py demo` runs: the figures are those of the committed demo workbook."""
    from encaisse.cli import main

    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Atelier Dupont SAS — situation au 31/10/2026\n")
    for line in ("  Clients                 166",
                 "  Créances ouvertes       2\u202f576\u202f073,14\u00a0€ (1\u202f145 factures)",
                 "  > 90 j       89\u202f795,61\u00a0€  83 factures",
                 "Règles par défaut valides (7 fichiers, "):
        assert line in out, line
    assert (tmp_path / "encaisse-demo-recalcule.xlsx").is_file()


def test_demo_on_the_empty_template_asks_for_the_as_of_date(tmp_path, capsys):
    from encaisse.cli import main
    from encaisse.authoring.template import write_template

    book = write_template(tmp_path / "modele.xlsx")
    assert main(["demo", "--book", str(book), "--out", str(tmp_path / "sorties")]) == 1
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "Date d'arrêté absente dans modele.xlsx : renseignez la cellule DateArrete (feuille Paramètres)\n")
    assert not (tmp_path / "sorties").exists()
