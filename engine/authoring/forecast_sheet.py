"""The « Prévision » sheet: the 13-week plan de trésorerie as one FORECAST formula that spills, the
first week under the cushion, and a native Excel chart (weekly receipts and disbursements as
bars, closing balance, its P10 and P90, and the cushion as lines) over the spilled cells.

Like the dashboard, every figure is a formula (FORECAST is written as a dynamic-array formula so
that Excel 365 spills it with no `@`): Excel with the add-in and `encaisse recalc` without Excel
fill the same cells, and recalc refreshes the chart's cached values too.
"""

from __future__ import annotations

from xlsxwriter.utility import xl_col_to_name

SHEET = "Prévision"
WEEKS = 13
TABLE_ROW = 6  # 0-based row of the spilled header (Excel row 7); the weeks follow
FIRST_ROW, LAST_ROW = TABLE_ROW + 1, TABLE_ROW + WEEKS
FORMULA = "=FORECAST(Factures[#All],Reglements[#All],Clients[#All],Dettes[#All],Flux[#All],Activite[#All],SoldeBanque,DateArrete)"
# columns of the spilled table (see encaisse.excel.cash.HEADERS)
LABEL, START, END = 0, 1, 2
RECEIPTS, DISBURSEMENTS, NET, CLOSING, P10, P90, CUSHION, ALERT = 11, 12, 13, 14, 15, 16, 17, 18


def _column(col: int) -> str:
    letter = xl_col_to_name(col)
    return f"${letter}${FIRST_ROW + 1}:${letter}${LAST_ROW + 1}"


def _ref(col: int) -> str:
    return f"='{SHEET}'!{_column(col)}"


def write_forecast_sheet(workbook, formats) -> None:
    sheet = workbook.add_worksheet(SHEET)
    amount = workbook.add_format({"num_format": '#,##0 "€"'})
    date = workbook.add_format({"num_format": "dd/mm/yyyy"})
    alert = workbook.add_format({"bold": True, "font_color": "#C62828"})
    sheet.write_string(0, 0, "Prévision de trésorerie — 13 semaines", formats.title)
    sheet.write_string(1, 0, "Date d'arrêté", formats.label)
    sheet.write_formula(1, 1, "=DateArrete", date)
    sheet.write_string(1, 3, "Solde d'ouverture", formats.label)
    sheet.write_formula(1, 4, "=SoldeBanque", amount)
    sheet.write_string(2, 0, "Coussin de sécurité", formats.label)
    sheet.write_formula(2, 1, f"={xl_col_to_name(CUSHION)}{FIRST_ROW + 1}", amount)
    flags, labels, closing = _column(ALERT), _column(LABEL), _column(CLOSING)
    sheet.write_formula(3, 0, f'=IF(COUNTIF({flags},"ALERTE")=0,"Aucune semaine sous le coussin de sécurité",'
                              f'"Première semaine sous le coussin : "&INDEX({labels},MATCH("ALERTE",{flags},0))'
                              f'&" — solde "&ROUND(INDEX({closing},MATCH("ALERTE",{flags},0)),0)&" €")', alert)
    sheet.write_string(4, 0, "Encaissements aux dates de paiement prévues (historique des règlements de chaque client), "
                             "dettes au jour de règlement, flux récurrents de la feuille Trésorerie ; P10–P90 : fourchette "
                             "du solde de clôture. Règles : tresorerie.yaml.", formats.note)
    sheet.write_dynamic_array_formula(TABLE_ROW, 0, TABLE_ROW, 0, FORMULA)
    sheet.set_column(LABEL, LABEL, 20)
    sheet.set_column(START, END, 11, date)
    sheet.set_column(END + 1, CUSHION, 15, amount)
    sheet.set_column(ALERT, ALERT, 9)
    sheet.freeze_panes(TABLE_ROW + 1, 1)

    bars = workbook.add_chart({"type": "column"})
    categories = _ref(LABEL)
    bars.add_series({"name": "Encaissements", "categories": categories, "values": _ref(RECEIPTS), "fill": {"color": "#2E7D32"}})
    bars.add_series({"name": "Décaissements", "categories": categories, "values": _ref(DISBURSEMENTS), "fill": {"color": "#C62828"}})
    lines = workbook.add_chart({"type": "line"})
    lines.add_series({"name": "Solde de clôture", "categories": categories, "values": _ref(CLOSING),
                      "line": {"color": "#1F4E79", "width": 2.25}, "marker": {"type": "circle", "size": 5}})
    lines.add_series({"name": "Solde P10", "categories": categories, "values": _ref(P10), "line": {"color": "#1F4E79", "dash_type": "dash", "width": 1}})
    lines.add_series({"name": "Solde P90", "categories": categories, "values": _ref(P90), "line": {"color": "#1F4E79", "dash_type": "dash", "width": 1}})
    lines.add_series({"name": "Coussin de sécurité", "categories": categories, "values": _ref(CUSHION),
                      "line": {"color": "#E08A00", "dash_type": "long_dash", "width": 1.5}})
    bars.combine(lines)
    bars.set_title({"name": "Prévision de trésorerie : encaissements, décaissements et solde"})
    bars.set_y_axis({"num_format": '#,##0 "€"', "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    bars.set_legend({"position": "bottom"})
    bars.set_size({"width": 1100, "height": 420})
    sheet.insert_chart(LAST_ROW + 2, 0, bars)
