"""The "Tableau de bord" sheet: headline figures, KPIs, cash-flow, aged balance and top-10 receivables.

Every figure is a formula, so the sheet stays live in Excel (with the add-in) and is filled by
`encaisse recalc` without Excel. It mixes encaisse functions (DSO, AGING...) with standard ones
(SUMIFS, COUNTIFS, INDEX/MATCH, LARGE, IFERROR, EOMONTH, date arithmetic on DateArrete) and
never uses TODAY(): every date derives from the named cell DateArrete.

Markup decisions (what Excel 365 expects, see the README):
- Formulas calling encaisse functions are written as dynamic-array formulas
  (`write_dynamic_array_formula`: `<f t="array">` + `cm` cell metadata pointing to the XLDAPR
  record of xl/metadata.xml). Excel treats a user-defined function as possibly returning an
  array, so a plain formula would open as `=@DSO(...)` (implicit intersection) and AGING would
  not spill. The function names stay plain (`DSO(...)`): `_xlfn.` is only for Excel's own newer
  functions and `_xludf.` is what Excel itself writes for an unknown name it cannot resolve.
- Structured references are stored in the file's language-independent form (`[#All]`, never
  the French UI's `[#Tout]`); Excel shows them localised.
- The top-10 reads the per-customer aged balance spilled at the bottom of the sheet through a
  range down to the last row; the aged balance ends with its Total row, which is always the
  largest amount (open amounts are never negative), hence LARGE(…, rank + 1). Each of its
  columns is one dynamic-array formula over the ten ranks (LARGE, INDEX/MATCH, VLOOKUP), so
  the lookups run once over the balance instead of once per rank.

Speed (`encaisse recalc` must stay within 2× the fast reader's read time): a standard criteria
function costs the formula library about 0.03 s per criteria pair per 100 000 rows, so the
standard formulas put their criteria on Règlements, Dettes and the monthly Activité table; the
figures over Factures (KPIs, recovery and dispute rates, aged balance) come from the encaisse
functions, which work on whole columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from xlsxwriter.utility import xl_rowcol_to_cell

SHEET = "Tableau de bord"
F, R, D = "Factures[#All]", "Reglements[#All]", "DateArrete"
DETTES, ACTIVITE = "Dettes[#All]", "Activite[#All]"
LAST_ROW = 1048576


@dataclass(frozen=True)
class Kpi:
    label: str
    formula: str
    unit: str  # what the figure counts; a rate's cell format already shows the % sign
    definition: str
    style: str  # "days", "percent" (a fraction shown as %), "ratio"


KPIS: tuple[Kpi, ...] = (
    Kpi("DSO", f"=DSO({F},{R},{D})", "jours", "Délai moyen de recouvrement, méthode par épuisement du CA", "days"),
    Kpi("Meilleur DSO possible (BPDSO)", f"=BPDSO({F},{R},{D})", "jours", "Créances non échues / CA TTC des 90 derniers jours × 90", "days"),
    Kpi("Retard moyen (ADD)", f"=ADD({F},{R},{D})", "jours", "DSO − meilleur DSO possible", "days"),
    Kpi("Efficacité du recouvrement (CEI)", f"=CEI({F},{R},{D})", "taux", "Collection Effectiveness Index sur 3 mois", "percent"),
    Kpi("DPO", f"=DPO({DETTES},{ACTIVITE},{D})", "jours", "Dettes fournisseurs / achats TTC des 90 derniers jours × 90", "days"),
    Kpi("DIO", f"=DIO({ACTIVITE},{D})", "jours", "Stock / coût des ventes des 90 derniers jours × 90", "days"),
    Kpi("Cycle de conversion (CCC)", f"=CCC({F},{R},{DETTES},{ACTIVITE},{D})", "jours", "DIO + DSO − DPO", "days"),
    Kpi("Taux de recouvrement (90 j)", f"=RECOVERY_RATE({F},{R},{D})", "taux", "Encaissements / montants échus sur 90 jours", "percent"),
    Kpi("Taux de litige (nombre, 12 mois)", f"=DISPUTE_RATE({F},{D})", "taux", "Factures en litige / factures émises sur 365 jours", "percent"),
    Kpi("Taux de litige (montant, 12 mois)", f'=DISPUTE_RATE({F},{D},"montant")', "taux", "Montant en litige / montant émis sur 365 jours", "percent"),
)

# Rows (0-based, as XlsxWriter counts) of each block; tests and the bench read the same constants.
HEADLINE_ROW = 4
KPI_HEADER_ROW = 7
KPI_FIRST_ROW = 8
CHECK_ROW = KPI_FIRST_ROW + len(KPIS)
COLLECTION_ROW = CHECK_ROW + 2
ACTIVITY_ROW = COLLECTION_ROW + 5
CASH_ROW = ACTIVITY_ROW + 6
MONTHS = 12
AGING_TITLE_ROW = CASH_ROW + 6
AGING_ROW = AGING_TITLE_ROW + 1
TOP_TITLE_ROW = AGING_ROW + 3
TOP_HEADER_ROW = TOP_TITLE_ROW + 1
TOP_FIRST_ROW = TOP_HEADER_ROW + 1
TOP_N = 10
BY_CUSTOMER_TITLE_ROW = TOP_FIRST_ROW + TOP_N + 1
BY_CUSTOMER_ROW = BY_CUSTOMER_TITLE_ROW + 1


def cell(row: int, col: int, absolute: bool = False) -> str:
    return xl_rowcol_to_cell(row, col, row_abs=absolute, col_abs=absolute)


def _window(column: str, days: int = 365) -> str:
    """Criteria pairs for dates in (DateArrete − days, DateArrete]."""
    return f'{column},">"&({D}-{days}),{column},"<="&{D}'


def write_dashboard(workbook, formats=None, ledger=None):
    """Add the "Tableau de bord" sheet (call it before the table sheets so that it comes first)."""
    sheet = workbook.add_worksheet(SHEET)
    fmt = _formats(workbook)
    sheet.set_column(0, 0, 44)
    sheet.set_column(1, 12, 16)
    sheet.set_column(3, 3, 22)

    sheet.write_string(0, 0, "Tableau de bord", fmt["title"])
    sheet.write_string(1, 0, "Date d'arrêté", fmt["label"])
    sheet.write_formula(1, 1, f"={D}", fmt["date"])
    sheet.write_string(1, 3, "Société", fmt["label"])
    sheet.write_formula(1, 4, '=IF(RaisonSociale="","",RaisonSociale)')

    # Headline figures
    cash_total = cell(CASH_ROW + 3, 1)
    headlines = [
        ("Solde banque", "=SoldeBanque", fmt["big_amount"], False),
        ("Cash-flow d'exploitation cumulé (12 mois)", f"={cash_total}", fmt["big_amount"], False),
        ("DSO (jours)", f"={cell(KPI_FIRST_ROW, 1)}", fmt["big_days"], False),
        ("Marge brute (12 derniers mois)", f'=IFERROR({cell(ACTIVITY_ROW + 2, 1)}/{cell(ACTIVITY_ROW, 1)},"")', fmt["big_percent"], False),
    ]
    for i, (label, formula, style, _) in enumerate(headlines):
        sheet.write_string(HEADLINE_ROW - 1, 2 * i, label, fmt["label"])
        sheet.write_formula(HEADLINE_ROW, 2 * i, formula, style)

    # Every KPI, by the encaisse functions
    sheet.write_string(KPI_HEADER_ROW - 1, 0, "Indicateurs", fmt["section"])
    for col, header in enumerate(("Indicateur", "Valeur", "Unité", "Définition")):
        sheet.write_string(KPI_HEADER_ROW, col, header, fmt["header"])
    for i, kpi in enumerate(KPIS):
        row = KPI_FIRST_ROW + i
        sheet.write_string(row, 0, kpi.label)
        sheet.write_dynamic_array_formula(row, 1, row, 1, kpi.formula, fmt[kpi.style])
        sheet.write_string(row, 2, kpi.unit)
        sheet.write_string(row, 3, kpi.definition, fmt["note"])
    rows = {k.label: KPI_FIRST_ROW + i for i, k in enumerate(KPIS)}
    dso, dpo, dio = (cell(rows[name], 1) for name in ("DSO", "DPO", "DIO"))
    sheet.write_string(CHECK_ROW, 0, "Contrôle : DIO + DSO − DPO")
    sheet.write_formula(CHECK_ROW, 1, f'=IFERROR({dio}+{dso}-{dpo},"")', fmt["days"])
    sheet.write_string(CHECK_ROW, 3, "égal au CCC ci-dessus", fmt["note"])

    # Receipts and payables with standard functions. The recovery and dispute rates are the
    # KPIs above; standard criteria over the 100 000-row Factures table would cost about 0.03 s
    # per criteria pair in the formula library (an encaisse function works on whole columns), so
    # the criteria here run on Règlements and on the small Dettes table. "" criterion for a blank
    # cell: the library mis-evaluates "<>".
    sheet.write_string(COLLECTION_ROW - 1, 0, "Encaissements et fournisseurs", fmt["section"])
    overdue = f'Dettes[Échéance],"<="&{D},Dettes[Payé le],""'
    collection = [
        ("Encaissements des 30 derniers jours", f"=SUMIFS(Reglements[Montant],{_window('Reglements[Date]', 30)})", fmt["amount"]),
        ("Dettes fournisseurs échues non payées", f"=SUMIFS(Dettes[Montant TTC],{overdue})", fmt["amount"]),
        ("Nombre de dettes fournisseurs échues non payées", f"=COUNTIFS({overdue})", fmt["count"]),
    ]
    _labelled_formulas(sheet, COLLECTION_ROW, collection)

    # Activity over the 12 months to DateArrete (the small monthly Activité table): the gross margin
    sheet.write_string(ACTIVITY_ROW - 1, 0, "Activité (12 derniers mois)", fmt["section"])
    window = _window("Activite[Mois]")
    sales, cogs = cell(ACTIVITY_ROW, 1), cell(ACTIVITY_ROW + 1, 1)
    activity = [
        ("Chiffre d'affaires TTC", f"=SUMIFS(Activite[CA TTC],{window})", fmt["amount"]),
        ("Coût des ventes", f"=SUMIFS(Activite[Coût des ventes],{window})", fmt["amount"]),
        ("Marge brute", f"={sales}-{cogs}", fmt["amount"]),
        ("Achats TTC", f"=SUMIFS(Activite[Achats TTC],{window})", fmt["amount"]),
    ]
    _labelled_formulas(sheet, ACTIVITY_ROW, activity)

    # Operating cash-flow over the 12 months ending with the as-of month: payments received −
    # payables paid (what encaisse.kpi.operating_cash_flow sums month by month)
    sheet.write_string(CASH_ROW - 1, 0, "Cash-flow d'exploitation (12 mois)", fmt["section"])
    since = f"EOMONTH({D},-{MONTHS})+1"
    cash = [
        ("Depuis le", f"={since}", fmt["date"]),
        ("Encaissements (Règlements)", f'=SUMIFS(Reglements[Montant],Reglements[Date],">="&{cell(CASH_ROW, 1)},Reglements[Date],"<="&{D})', fmt["amount"]),
        ("Décaissements (Dettes payées)", f'=SUMIFS(Dettes[Montant TTC],Dettes[Payé le],">="&{cell(CASH_ROW, 1)},Dettes[Payé le],"<="&{D})', fmt["amount"]),
        ("Cash-flow d'exploitation cumulé", f"={cell(CASH_ROW + 1, 1)}-{cell(CASH_ROW + 2, 1)}", fmt["amount"]),
        ("Moyenne mensuelle", f"={cell(CASH_ROW + 3, 1)}/{MONTHS}", fmt["amount"]),
    ]
    _labelled_formulas(sheet, CASH_ROW, cash)

    # Aged balance, total line (spills 2 rows)
    sheet.write_string(AGING_TITLE_ROW, 0, "Balance âgée", fmt["section"])
    sheet.write_dynamic_array_formula(AGING_ROW, 0, AGING_ROW, 0, f"=AGING({F},{R},{D},,,FALSE)", fmt["amount"])

    # Top 10 customers by open receivables, read from the per-customer aged balance below: one
    # dynamic-array formula per column, over the ten ranks (one lookup over the balance, not ten)
    first, last = TOP_FIRST_ROW, TOP_FIRST_ROW + TOP_N - 1
    ranks, amounts, codes_top = (f"{cell(first, col)}:{cell(last, col)}" for col in (0, 3, 1))
    codes = f"{cell(BY_CUSTOMER_ROW + 1, 0, True)}:$A${LAST_ROW}"
    totals = f"{cell(BY_CUSTOMER_ROW + 1, 6, True)}:$G${LAST_ROW}"
    aged = f"{cell(BY_CUSTOMER_ROW + 1, 0, True)}:$F${LAST_ROW}"  # code ... > 90 j
    sheet.write_string(TOP_TITLE_ROW, 0, "Top 10 des encours clients", fmt["section"])
    for col, header in enumerate(("Rang", "Code client", "Raison sociale", "Encours TTC", "dont > 90 j")):
        sheet.write_string(TOP_HEADER_ROW, col, header, fmt["header"])
    for k in range(TOP_N):
        sheet.write_number(first + k, 0, k + 1)
    top = [
        (3, f'=IFERROR(LARGE({totals},{ranks}+1),"")', fmt["amount"]),
        (1, f'=IF({amounts}="","",INDEX({codes},MATCH({amounts},{totals},0)))', None),
        (2, f'=IFERROR(VLOOKUP({codes_top},Clients[[Code client]:[Raison sociale]],2,FALSE),"")', None),
        (4, f'=IF({codes_top}="","",VLOOKUP({codes_top},{aged},6,FALSE))', fmt["amount"]),
    ]
    for col, formula, style in top:  # XlsxWriter fills the rest of each range with formatted zeroes
        sheet.write_dynamic_array_formula(first, col, last, col, formula, style)

    sheet.write_string(BY_CUSTOMER_TITLE_ROW, 0, "Balance âgée par client", fmt["section"])
    sheet.write_dynamic_array_formula(BY_CUSTOMER_ROW, 0, BY_CUSTOMER_ROW, 0, f"=AGING({F},{R},{D})", fmt["amount"])
    sheet.freeze_panes(2, 0)
    sheet.activate()
    return sheet


def _labelled_formulas(sheet, first_row: int, lines: list[tuple[str, str, object]]) -> None:
    """One line per (label, formula, format): the label in column A, the formula in column B."""
    for i, (label, formula, style) in enumerate(lines):
        sheet.write_string(first_row + i, 0, label)
        sheet.write_formula(first_row + i, 1, formula, style)


def _formats(workbook) -> dict:
    add = workbook.add_format
    return {
        "title": add({"bold": True, "font_size": 16}),
        "section": add({"bold": True, "font_size": 12, "font_color": "#1F4E78"}),
        "label": add({"bold": True}),
        "header": add({"bold": True, "bottom": 1}),
        "note": add({"italic": True, "font_color": "#595959"}),
        "date": add({"num_format": "dd/mm/yyyy", "align": "left"}),
        "month": add({"num_format": "mmm yyyy", "align": "left"}),
        "amount": add({"num_format": '#,##0.00 "€"'}),
        "count": add({"num_format": "#,##0"}),
        "days": add({"num_format": "0.0"}),
        "ratio": add({"num_format": "0.00"}),
        "percent": add({"num_format": "0.0 %"}),
        "big_amount": add({"num_format": '#,##0 "€"', "bold": True, "font_size": 14}),
        "big_days": add({"num_format": "0.0", "bold": True, "font_size": 14}),
        "big_percent": add({"num_format": "0.0 %", "bold": True, "font_size": 14}),
    }
