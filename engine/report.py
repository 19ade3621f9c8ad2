"""French text of the KPIs, for `encaisse kpi` and `encaisse demo`.

Every figure is formatted by `encaisse.fr` (amounts `1 234,56 €`, dates `31/10/2026`, days with
one decimal, rates as percentages); an undefined KPI reads « non calculable ».
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from encaisse.fr import UNDEFINED, count, date, days, euros, month, number, percent, signed_days
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


ACTION_LABELS = {
    "email": "E-mail à envoyer",
    "appel": "Appel à passer",
    "courrier": "Lettre à poster",
    "recommande": "Recommandé AR",
    "escalade": "Escalade à engager",
    "litige": "Litige à relancer",
}


def _cut(text: object, width: int) -> str:
    text = "" if text is None or text != text else str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def worklist_report(run, company: str | None = None, top: int | None = None) -> str:
    """The day's actions as a French table (`encaisse worklist`, the demo): rank, priority, action,
    customer, step or subject, invoices, amount due, days late, penalties + indemnities, class."""
    frame = run.worklist if top is None else run.worklist.head(top)
    day = run.as_of.strftime("%d/%m/%Y")
    total = len(run.worklist)
    title = f"{company + ' — ' if company else ''}relances du jour au {day} : {count(total)} action{'s' if total > 1 else ''}"
    if top is not None and total > top:
        title += f" (les {count(top)} plus prioritaires)"
    if frame.empty:
        return title + "\n  Aucune action aujourd'hui."
    header = ("Rang", "Prio.", "Action", "Client", "Raison sociale", "Étape / objet", "Fact.", "Montant dû", "Retard",
              "Pénalités + indemn.", "Classe")
    rows = []
    for r in frame.to_dict("records"):
        subject = r["label"] if r["action"] != "litige" else f"{r['label']} → {r['team'] or 'équipe inconnue'}"
        rows.append((
            str(r["rank"]), f"{r['priority']:.0f}", ACTION_LABELS.get(r["action"], r["action"]), str(r["customer_id"]),
            _cut(r["customer_name"], 30), _cut(subject, 48), count(r["invoices"]), euros(r["amount_due"]),
            f"{int(r['days_past_due'])} j", euros(r["penalty"] + r["indemnity"]), "" if r["risk_class"] is None else str(r["risk_class"])
            + (" !" if r["broken_promise"] else ""),
        ))
    right = {0, 1, 6, 7, 8, 9}
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    line = lambda cells: "  " + "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()  # noqa: E731
    lines = [title, line(header)] + [line(row) for row in rows]
    lines.append("  (« ! » : promesse de paiement non tenue ; pénalités L441-10 et indemnité de 40 € par facture à la date d'arrêté)")
    return "\n".join(lines)


def worklist_document(run, top: int | None = None) -> dict:
    """`encaisse worklist --json`: English keys, numbers (amounts to the cent, half up), ISO dates."""
    from encaisse.credit.penalty import round_cents

    frame = run.worklist if top is None else run.worklist.head(top)
    actions = []
    for r in frame.to_dict("records"):
        actions.append({
            "rank": int(r["rank"]),
            "priority": float(np.floor(float(r["priority"]) * 10 + 0.5) / 10),
            "action": r["action"],
            "customer_id": str(r["customer_id"]),
            "customer_name": None if r["customer_name"] is None or r["customer_name"] != r["customer_name"] else str(r["customer_name"]),
            "step": None if r["step"] is None else str(r["step"]),
            "label": r["label"],
            "channel": r["channel"],
            "invoices": int(r["invoices"]),
            "invoice_ids": [i for i in str(r["invoice_ids"]).split(", ") if i],
            "amount_due": float(round_cents(np.float64(r["amount_due"]))),
            "days_past_due": int(r["days_past_due"]),
            "penalty": float(round_cents(np.float64(r["penalty"]))),
            "indemnity": float(round_cents(np.float64(r["indemnity"]))),
            "risk_class": r["risk_class"],
            "score": None if r["score"] != r["score"] else float(r["score"]),
            "broken_promise": bool(r["broken_promise"]),
            "team": r["team"],
        })
    return {"as_of": run.as_of.isoformat(), "warnings": list(run.warnings), "count": len(run.worklist), "actions": actions}



# --- the cash forecast ---------------------------------------------------------------------------


def whole_euros(value: float) -> str:
    """1234.56 -> '1 235 €' (whole euros, for the weekly table)."""
    return f"{number(value, 0)}\u00a0€"


def _cells(values: list[str], widths: list[int]) -> str:
    return "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths)))


def forecast_report(result, actions=(), *, title: str = "", released: dict | None = None) -> str:
    """The plan de trésorerie in French: the weekly table, the alerts, the ranked actions."""
    from encaisse.cash import LABELS, LINE_KEYS
    from encaisse.cash.actions import LEVER_LABELS

    basis = result.basis
    table = result.table()
    lines = []
    weeks = basis.weeks.count
    head = f"{title} — prévision de trésorerie au {date(basis.as_of)}, {weeks} semaine{'s' if weeks > 1 else ''}"
    lines += [head.lstrip(" —"), ""]
    lines.append(f"  Solde bancaire d'ouverture  {euros(basis.opening_balance)}")
    lines.append(f"  Coussin de sécurité         {euros(basis.cushion)} ({str(basis.policy.cushion_months).replace('.', ',')} mois d'OPEX)")
    if result.levers.any:
        levers = result.levers
        shown = {"dso": f"{levers.dso:+g} j", "dpo": f"{levers.dpo:+g} j", "dio": f"{levers.dio:+g} j", "margin": f"{levers.margin:+g} pts",
                 "deposit": f"{levers.deposit * 100:g} %"}
        lines.append("  Scénario « et si »          " + ", ".join(
            f"{LEVER_LABELS[k]} {shown[k]}".replace(".", ",").replace("-", "−") for k in shown if getattr(levers, k)))
        for name, value in (released or {}).items():
            lines.append(f"    trésorerie libérée ({LEVER_LABELS[name]}) : {euros(value)}")
    lines.append("")
    keys = [*LINE_KEYS.values(), "net", "closing_balance", "closing_balance_p10", "closing_balance_p90"]
    short = {"customer_receipts": "Enc. clients", "other_receipts": "Autres enc.", "suppliers": "Fournisseurs", "payroll": "Salaires+ch.",
             "taxes": "Impôts+TVA", "loans": "Emprunts", "other_disbursements": "Autres déc.", "net": "Flux net",
             "closing_balance": "Solde", "closing_balance_p10": "Solde P10", "closing_balance_p90": "Solde P90"}
    rows = [["Semaine", *(short[k] for k in keys), ""]]
    for record in table.itertuples(index=False):
        rows.append([record.label, *(whole_euros(getattr(record, k)) for k in keys), "◄ sous le coussin" if record.below_cushion else ""])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += ["  " + _cells(row, widths).rstrip() for row in rows]
    doubtful = float(basis.open_amount[basis.status == "doubtful"].sum())
    if doubtful:
        lines.append(f"\n  {LABELS['doubtful_receivables']} : {euros(doubtful)} ouverts, hors prévision")
    lines.append("")
    first = result.first_shortfall
    if first is None:
        lines.append(f"Aucune alerte : le solde reste au-dessus du coussin de {euros(basis.cushion)} sur tout l'horizon.")
    else:
        level = "découvert" if first.level == "decouvert" else "sous le coussin"
        lines.append(f"Première semaine en alerte : {first.label} — solde {euros(first.closing_balance)}, {level} "
                     f"({euros(first.shortfall)} sous le coussin de {euros(first.cushion)}) ; "
                     f"{len(result.alerts)} semaine{'s' if len(result.alerts) > 1 else ''} en alerte.")
    if actions:
        lines += ["", "Actions classées par impact / effort :"]
        for action in actions:
            cost = f", coût {euros(action.cost)}" if action.cost else ""
            impact, low = round(action.impact, 2) + 0.0, round(action.low_point_gain, 2) + 0.0  # no « -0,00 € »
            lines.append(f"  {action.rank}. {action.action.label} — {euros(impact)} sur l'horizon, solde le plus bas "
                         f"{'+' if low >= 0 else ''}{euros(low)}{cost}, effort {action.action.effort}")
    return "\n".join(lines)
