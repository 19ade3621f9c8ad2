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
