"""Reading the user's workbook: the .xlsx package (zip parts, defined names, tables), typed columns
with every bad cell located, the `Ledger` they make, and the splicing of values into sheet XML.

`load_workbook(path) -> Ledger` is the entry point (loader). `package` and `splice` do not import
pandas, so the recalculation can start reading before pandas is loaded: this package's `__init__`
imports nothing until a name is asked for.
"""

__all__ = ["load_workbook", "defined_names"]


def __getattr__(name: str):
    if name == "load_workbook":
        from encaisse.workbook.loader import load_workbook

        return load_workbook
    if name == "defined_names":
        from encaisse.workbook.package import read_defined_names

        return read_defined_names
    raise AttributeError(f"module 'encaisse.workbook' has no attribute {name!r}")
