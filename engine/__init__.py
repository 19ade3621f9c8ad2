"""encaisse — receivables and cash management for French SMEs, computed from an Excel workbook.

The package is pure: DataFrames in, DataFrames and numbers out, every computation takes
an as-of date. Reading and writing workbooks, YAML and letters happens at the edges.
"""

from encaisse.errors import EncaisseError, InputError, Problem

__all__ = ["EncaisseError", "InputError", "Problem", "load_workbook"]
__version__ = "0.1.0"

# `import encaisse` then `encaisse.kpi.dso(...)` or `encaisse.rules.load(...)` (CONTRACT's API):
# sub-modules are imported on first use so that `import encaisse` stays light.
_LAZY = frozenset({"kpi", "rules", "ledger", "credit", "cash", "dunning", "excel", "recalc", "workbook", "authoring", "jobs", "tables"})


def __getattr__(name: str):
    if name == "load_workbook":  # pandas is imported with it (0.2 s): not for `encaisse recalc`'s start
        from encaisse.workbook.loader import load_workbook

        return load_workbook
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"encaisse.{name}")
    raise AttributeError(f"module 'encaisse' has no attribute {name!r}")
