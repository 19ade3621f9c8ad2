"""The Excel side of encaisse: xlwings functions and ribbon handlers (thin adapters)."""
