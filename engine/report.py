"""French text of the KPIs, for `encaisse kpi` and `encaisse demo`.

Every figure is formatted by `encaisse.fr` (amounts `1 234,56 €`, dates `31/10/2026`, days with
one decimal, rates as percentages); an undefined KPI reads « non calculable ».
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from encaisse.fr import UNDEFINED, count, date, days, euros, month, percent, signed_days
from encaisse.kpi.summary import BEHAVIOUR_DAYS, CEI_MONTHS, DAYS, DUNNING_WINDOW, kpi_summary, resolve_as_of
from encaisse.ledger import Ledger


def render_kpis(summary: dict) -> str:
    """The KPIs of `kpi_summary` as French lines, label then value."""
    aged = summary["aging"]
    dispute = summary["dispute_rate"]
    margin = summary["gross_margin"]
    released = summary["cash_released"]
    levers = ", ".join(f"{name} {signed_days(released[key])}" for name, key in (("DSO", "delta_dso"), ("DPO", "delta_dpo"), ("DIO", "delta_dio")))
    rows = [
        ("Créances clients ouvertes", euros(summary["open_amount"])),
        ("DSO (méthode par épuisement)", days(summary["dso"]["countback"])),
        (f"DSO (période de {DAYS} jours)", days(summary["dso"]["period"])),
        ("Meilleur DSO possible", days(summary["best_possible_dso"])),
        ("Retard moyen (ADD)", days(summary["average_days_delinquent"])),
        (f"Indice d'efficacité du recouvrement (CEI, {CEI_MONTHS} mois)", percent(summary["cei"])),
        ("DPO (délai fournisseurs)", days(summary["dpo"])),
        ("DIO (rotation des stocks)", days(summary["dio"])),
        ("Cycle de conversion de trésorerie", days(summary["ccc"])),
        (f"Taux de recouvrement ({DAYS} jours)", percent(summary["recovery_rate"])),
        (f"Taux de litige ({BEHAVIOUR_DAYS} jours)", UNDEFINED + " (aucune facture émise)" if dispute["count"] is None
         else f"{percent(dispute['count'])} des factures, {percent(dispute['amount'])} du montant"),
        (f"Taux de relance résolue ({DUNNING_WINDOW} jours)", percent(summary["dunning_success_rate"])),
        (f"Délai moyen de paiement ({BEHAVIOUR_DAYS} jours)", days(summary["mean_payment_delay"])),
        (f"Retard moyen de paiement ({BEHAVIOUR_DAYS} jours)", days(summary["mean_days_late"])),
        (f"Marge brute ({DAYS} jours)", f"{euros(margin['amount'])}" + ("" if margin["rate"] is None else f" ({percent(margin['rate'])} du CA)")),
        (f"Trésorerie libérée ({levers})", euros(released["amount"])),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"  {label:<{width}}  {value}" for label, value in rows]
    lines += ["", "Balance âgée (créances ouvertes par retard) :"]
    amount_width = max(len(euros(b["amount"])) for b in aged)
    label_width = max(len(b["bucket"]) for b in aged)
    for bucket in aged:
        plural = "s" if bucket["count"] > 1 else ""
        lines.append(f"  {bucket['bucket']:<{label_width}}  {euros(bucket['amount']):>{amount_width}}  {count(bucket['count'])} facture{plural}")
    lines += ["", "Cash-flow d'exploitation mensuel (encaissements − décaissements) :"]
    for row in summary["operating_cash_flow"]:
        label = month(dt.date.fromisoformat(row["month"] + "-01"))
        lines.append(f"  {label:<10}  {euros(row['receipts']):>16} − {euros(row['disbursements']):>16} = {euros(row['net']):>16}")
    return "\n".join(lines)


def kpi_report(ledger: Ledger, as_of: object = None, *, rates: dict[str, float] | None = None) -> str:
    """`encaisse kpi` without --json: title then every KPI."""
    summary = kpi_summary(ledger, as_of, rates=rates)
    return "\n".join([_title(ledger, summary), "", render_kpis(summary)])


def _title(ledger: Ledger, summary: dict) -> str:
    name = ledger.params.company_name or "Indicateurs"
    return f"{name} — situation au {date(dt.date.fromisoformat(summary['as_of']))}"


def demo_summary(ledger: Ledger, as_of: object = None) -> str:
    """French summary for `encaisse demo`: customers, invoices, open and overdue receivables by
    aging bucket, then every KPI. `as_of` defaults to the workbook's DateArrete."""
    as_of = resolve_as_of(ledger, as_of)
    summary = kpi_summary(ledger, as_of)
    invoices = ledger.invoices
    issued = invoices["issue_date"].to_numpy(dtype="datetime64[ns]") <= np.datetime64(as_of.to_datetime64(), "ns")
    amount = invoices["amount"].to_numpy(dtype=float, na_value=np.nan)
    notes = int((issued & (amount < 0)).sum())
    aged = summary["aging"]
    overdue = [b for b in aged[1:-1]]
    overdue_amount = sum(b["amount"] or 0.0 for b in overdue)
    overdue_count = sum(b["count"] for b in overdue)
    lines = [
        _title(ledger, summary),
        "",
        f"  Clients                 {count(len(ledger.customers))}",
        f"  Factures émises         {count(int(issued.sum()) - notes)} (et {count(notes)} avoir{'s' if notes > 1 else ''})",
        f"  Règlements reçus        {count(int((ledger.payments['payment_date'].to_numpy(dtype='datetime64[ns]') <= np.datetime64(as_of.to_datetime64(), 'ns')).sum()))}",
        f"  Créances ouvertes       {euros(summary['open_amount'])} ({count(aged[-1]['count'])} factures)",
        f"  dont échues             {euros(overdue_amount)} ({count(overdue_count)} factures)",
        "",
        "Indicateurs :",
        render_kpis(summary),
    ]
    return "\n".join(lines)
