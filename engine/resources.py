"""Where the bundled defaults are: the rules folder (YAML, schemas, letter templates) and the workbooks.

An installed wheel carries them inside the package (`encaisse/defaults/rules`, `encaisse/defaults/xlsx`,
mapped from the repository's `rules/` and `xlsx/` by the build); a source checkout or an editable
install reads them where they live, at the repository's root. Both are found through
`importlib.resources`, never through the current folder.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _bundled(name: str) -> Path:
    packaged = Path(str(files("encaisse").joinpath("defaults", name)))
    if packaged.is_dir():
        return packaged
    return Path(str(files("encaisse"))).resolve().parent / name


DEFAULT_RULES_DIR = _bundled("rules")
SCHEMA_DIR = DEFAULT_RULES_DIR / "schema"
TEMPLATES_DIR = DEFAULT_RULES_DIR / "modeles"
WORKBOOKS_DIR = _bundled("xlsx")
DEMO_WORKBOOK = WORKBOOKS_DIR / "encaisse-demo.xlsx"
TEMPLATE_WORKBOOK = WORKBOOKS_DIR / "encaisse-modele.xlsx"
DEFAULT_LEGAL_FILE = DEFAULT_RULES_DIR / "legal.yaml"
