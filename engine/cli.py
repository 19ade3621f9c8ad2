"""The `encaisse` command: a thin adapter from the terminal to the engine.

Exit codes: 0 success, 1 invalid input (the message names where), 2 usage error.
Each sub-command is registered by one `_add_*` function below; its handler delegates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from encaisse.errors import EncaisseError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_WORKBOOK = REPO_ROOT / "xlsx" / "encaisse-demo.xlsx"
TEMPLATE_WORKBOOK = REPO_ROOT / "xlsx" / "encaisse-modele.xlsx"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="encaisse", description="Poste clients et trésorerie depuis un classeur Excel.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


SUBCOMMANDS: list = []


def _add_recalc(sub) -> None:
    parser = sub.add_parser(
        "recalc", help="recalcule toutes les formules du classeur sans Excel et enregistre les valeurs",
        description="Évalue chaque formule (fonctions Excel et fonctions encaisse) dans l'ordre des dépendances "
                    "et enregistre les valeurs dans le classeur ; le reste du fichier est conservé tel quel.")
    parser.add_argument("book", metavar="CLASSEUR", type=Path, help="classeur .xlsx ou .xlsm")
    parser.add_argument("-o", "--output", metavar="SORTIE", type=Path, help="fichier (ou dossier) de sortie ; "
                        "sans -o le classeur est remplacé (écriture atomique)")
    parser.add_argument("--as-of", metavar="DATE", help="date d'arrêté pour ce calcul (AAAA-MM-JJ), à la place de DateArrete ; "
                        "la cellule DateArrete du classeur n'est pas modifiée")
    parser.add_argument("--rules", metavar="DOSSIER", type=Path, help="dossier des règles YAML pour les fonctions qui en dépendent")
    parser.set_defaults(handler=_recalc)


def _recalc(args) -> int:
    from encaisse.recalc import recalc

    report = recalc(args.book, out=args.output, as_of=args.as_of, rules_dir=args.rules)
    print(report.summary())
    return 0


SUBCOMMANDS.append(_add_recalc)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except EncaisseError as error:
        print(str(error), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
