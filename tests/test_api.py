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
