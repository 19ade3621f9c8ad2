"""Headless recalculation: every formula of a workbook evaluated without Excel, and only the cached
values written back into the sheet XML (every other part of the file copied byte for byte).

`recalc(path, ...)` is the entry point. The package `__init__` stays light (the command starts
reading the sheets before pandas and the formula library are imported).
"""

__all__ = ["recalc", "RecalcReport"]


def __getattr__(name: str):
    if name in __all__:
        from encaisse.recalc import core

        return getattr(core, name)
    raise AttributeError(f"module 'encaisse.recalc' has no attribute {name!r}")
