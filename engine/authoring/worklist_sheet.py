"""The « Relances du jour » sheet: the day's dunning actions, ranked, from one WORKLIST formula.

The formula spills below its anchor (a header row, then one row per action); `encaisse recalc`
fills it without Excel, and Excel with the add-in recalculates it live. Like the dashboard, it
is a dynamic-array formula (no implicit-intersection `@`) and reads the date from DateArrete,
never TODAY(). The rules are the default ones unless the formula is given a folder (last
argument) or `encaisse recalc --rules` is used.
"""

from __future__ import annotations

SHEET = "Relances du jour"
FORMULA = "=WORKLIST(Factures[#All],Reglements[#All],Clients[#All],Journal[#All],DateArrete)"
ANCHOR_ROW = 4  # 0-based row of the formula (its header row)
WIDTHS = (6, 9, 16, 11, 32, 22, 44, 9, 15, 13, 12, 12, 8, 26, 40)


def write_worklist_sheet(workbook) -> object:
    """Add the sheet (call it right after the dashboard so that it comes second)."""
    sheet = workbook.add_worksheet(SHEET)
    title = workbook.add_format({"bold": True, "font_size": 16})
    label = workbook.add_format({"bold": True})
    note = workbook.add_format({"italic": True, "font_color": "#595959"})
    date = workbook.add_format({"num_format": "dd/mm/yyyy", "align": "left"})
    amount = workbook.add_format({"num_format": '#,##0.00 "€"'})
    for col, width in enumerate(WIDTHS):
        sheet.set_column(col, col, width, amount if col in (8, 10, 11) else None)
    sheet.write_string(0, 0, "Relances du jour", title)
    sheet.write_string(1, 0, "Date d'arrêté", label)
    sheet.write_formula(1, 2, "=DateArrete", date)
    sheet.write_string(2, 0, "Actions classées par priorité (0 à 100, pondérations de relances.yaml « priorite ») : "
                             "e-mails à envoyer, appels à passer, lettres et recommandés à poster, escalades après mise "
                             "en demeure, litiges dont le délai de résolution est dépassé.", note)
    sheet.write_dynamic_array_formula(ANCHOR_ROW, 0, ANCHOR_ROW, 0, FORMULA)
    sheet.freeze_panes(ANCHOR_ROW + 1, 0)
    return sheet
