"""The dashboard with native formulas only, for timing LibreOffice on the same work (bench only).

LibreOffice does not know DSO, AGING...; this copy replaces each encaisse function by the
SUMIFS/COUNTIFS/INDEX-MATCH formulas an Excel user would write for it. They are simpler than
the engine (no allocation of payments to invoices, period DSO) but read the same tables with
the same criteria, which is what costs time; the aged balance per customer becomes one row of
SUMIFS per customer of Clients.
"""

from __future__ import annotations

from encaisse.authoring import dashboard as board

D = "DateArrete"
AMOUNT, ISSUED, DUE = "Factures[Montant TTC]", "Factures[Date facture]", "Factures[Échéance]"


def _window(column: str, days: int) -> str:
    return f'{column},">"&({D}-{days}),{column},"<="&{D}'


SALES_90 = f"SUMIFS({AMOUNT},{_window(ISSUED, 90)})"
AR = f'(SUMIFS({AMOUNT},{ISSUED},"<="&{D})-SUMIFS(Reglements[Montant],Reglements[Date],"<="&{D}))'
CURRENT = f'SUMIFS({AMOUNT},{ISSUED},"<="&{D},{DUE},">"&{D})'
AR_BEFORE = f'(SUMIFS({AMOUNT},{ISSUED},"<="&({D}-90))-SUMIFS(Reglements[Montant],Reglements[Date],"<="&({D}-90)))'
PURCHASES_90 = f"SUMIFS(Activite[Achats TTC],{_window('Activite[Mois]', 90)})"
COGS_90 = f"SUMIFS(Activite[Coût des ventes],{_window('Activite[Mois]', 90)})"
YEAR = f'{_window(ISSUED, 365)},{AMOUNT},">0"'

BUCKETS = (
    f'{DUE},">="&{D}',
    f'{DUE},">="&({D}-30),{DUE},"<"&{D}',
    f'{DUE},">="&({D}-60),{DUE},"<"&({D}-30)',
    f'{DUE},">="&({D}-90),{DUE},"<"&({D}-60)',
    f'{DUE},"<"&({D}-90)',
)
HEADER = ("Code client", "Non échu", "1-30 j", "31-60 j", "61-90 j", "> 90 j", "Total")


def write(workbook, write_dashboard, ledger) -> None:
    sheet = write_dashboard(workbook, None, ledger)
    row = {k.label: board.KPI_FIRST_ROW + i for i, k in enumerate(board.KPIS)}
    b = {name: board.cell(r, 1) for name, r in row.items()}
    native = {
        "DSO": f"=IFERROR({AR}/{SALES_90}*90,0)",
        "Meilleur DSO possible (BPDSO)": f"=IFERROR({CURRENT}/{SALES_90}*90,0)",
        "Retard moyen (ADD)": f"={b['DSO']}-{b['Meilleur DSO possible (BPDSO)']}",
        "Efficacité du recouvrement (CEI)": f"=IFERROR(({AR_BEFORE}+{SALES_90}/3-{AR})/({AR_BEFORE}+{SALES_90}/3-{CURRENT})*100,0)",
        "DPO": f'=IFERROR(SUMIFS(Dettes[Montant TTC],Dettes[Payé le],"",Dettes[Date],"<="&{D})/{PURCHASES_90}*90,0)',
        "DIO": f"=IFERROR(INDEX(Activite[Stock fin de mois],MATCH({D},Activite[Mois],1))/{COGS_90}*90,0)",
        "Cycle de conversion (CCC)": f"={b['DIO']}+{b['DSO']}-{b['DPO']}",
        "Taux de recouvrement (90 j)": f"=IFERROR(SUMIFS(Reglements[Montant],{_window('Reglements[Date]', 90)})/SUMIFS({AMOUNT},{_window(DUE, 90)}),0)",
        "Taux de litige (nombre, 12 mois)": f'=IFERROR((COUNTIFS({YEAR})-COUNTIFS({YEAR},Factures[Litige],""))/COUNTIFS({YEAR}),0)',
        "Taux de litige (montant, 12 mois)":
            f'=IFERROR((SUMIFS({AMOUNT},{YEAR})-SUMIFS({AMOUNT},{YEAR},Factures[Litige],""))/SUMIFS({AMOUNT},{YEAR}),0)',
    }
    for label, formula in native.items():
        sheet.write_formula(row[label], 1, formula)
    issued = f'{ISSUED},"<="&{D}'
    for col, header in enumerate(HEADER):
        sheet.write_string(board.AGING_ROW, col, header)
    sheet.write_string(board.AGING_ROW + 1, 0, "Total")
    for j, bucket in enumerate(BUCKETS, start=1):
        sheet.write_formula(board.AGING_ROW + 1, j, f"=SUMIFS({AMOUNT},{issued},{bucket})")
    sheet.write_formula(board.AGING_ROW + 1, 6, f"=SUM({board.cell(board.AGING_ROW + 1, 1)}:{board.cell(board.AGING_ROW + 1, 5)})")
    top = board.BY_CUSTOMER_ROW
    for col, header in enumerate(HEADER):
        sheet.write_string(top, col, header)
    codes = [str(c) for c in ledger.customers["customer_id"]]
    for i, code in enumerate(codes, start=1):
        r = top + i
        sheet.write_string(r, 0, code)
        for j, bucket in enumerate(BUCKETS, start=1):
            sheet.write_formula(r, j, f"=SUMIFS({AMOUNT},Factures[Code client],{board.cell(r, 0)},{issued},{bucket})")
        sheet.write_formula(r, 6, f"=SUM({board.cell(r, 1)}:{board.cell(r, 5)})")
    total = top + len(codes) + 1
    sheet.write_string(total, 0, "Total")
    for j in range(1, 7):
        sheet.write_formula(total, j, f"=SUM({board.cell(top + 1, j)}:{board.cell(total - 1, j)})")
