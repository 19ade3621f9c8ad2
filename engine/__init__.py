"""encaisse — receivables and cash management for French SMEs, computed from an Excel workbook.

The package is pure: DataFrames in, DataFrames and numbers out, every computation takes
an as-of date. Reading and writing workbooks, YAML and letters happens at the edges.
"""

from encaisse.errors import EncaisseError, InputError, Problem
from encaisse.workbook import load_workbook

__all__ = ["EncaisseError", "InputError", "Problem", "load_workbook"]
__version__ = "0.1.0"
