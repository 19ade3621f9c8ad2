"""The effective policy for one customer: segment + risk class + per-customer overrides, explained.

Resolution order (the first that has a value wins):
- payment terms: Clients « Conditions de paiement » > conditions.yaml par_classe > segment;
- deposit: conditions.yaml par_classe > segment (order-size tiers shown beside);
- credit limit: Clients « Encours max » > risque.yaml limites_par_classe > none;
- dunning timeline: relances.yaml affectation, in its `ordre` (class, segment), else par_defaut.
Each value carries where it came from: 'rules/conditions.yaml:27' or 'Clients!J12'.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from encaisse.errors import Problem
from encaisse.fr import count, date, euros, number, rate
from encaisse.rules import PaymentTerms, Rules
from encaisse.tables import normalize_header

_CASH = {"comptant", "areception", "receptiondefacture", "alareception", "immediat", "paiementcomptant"}
_TERMS = re.compile(r"^(\d+)\s*(?:j|jours?)\b\s*(.*)$")


def parse_terms(text: str) -> PaymentTerms | None:
    """'45 jours fin de mois' / '30 j FDM' / '60 jours net' / 'comptant' -> PaymentTerms; None if not understood."""
    plain = normalize_header(text)
    if plain in _CASH:
        return PaymentTerms(0, False)
    import unicodedata

    folded = "".join(c for c in unicodedata.normalize("NFKD", str(text)) if not unicodedata.combining(c)).lower().strip()
    match = _TERMS.match(folded)
    if not match:
        return None
    rest = normalize_header(match.group(2))
    if rest in ("finmois", "findemois", "fdm"):
        return PaymentTerms(int(match.group(1)), True)
    if rest in ("", "net", "date de facture", "datedefacture", "datefacture", "netdatedefacture"):
        return PaymentTerms(int(match.group(1)), False)
    return None


@dataclass(frozen=True)
class Explained:
    """One line of the explanation: what, its value as shown, where it came from; `key` (English)
    and `fact` (numbers, fractions, ISO dates) carry the same value for machines (`--json`)."""

    label: str
    value: str
    source: str
    key: str = ""  # blank: a detail line shown to people only (its fact is inside another line's)
    fact: object = None


@dataclass(frozen=True)
class CustomerPolicy:
    customer_id: str
    name: str
    segment: str
    risk_class: str | None
    score: float | None
    terms: PaymentTerms
    deposit: float
    credit_limit: float | None
    timeline: str
    lines: tuple[Explained, ...]
    problems: tuple[Problem, ...] = ()


def _line(where: str) -> str:
    """'rules/x.yaml:12:5' -> 'rules/x.yaml:12' (explanations name file and line)."""
    parts = where.rsplit(":", 2)
    return parts[0] + ":" + parts[1] if len(parts) == 3 and parts[1].isdigit() else where


def _blank(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def effective_policy(
    rules: Rules,
    customer: pd.Series,
    *,
    cell: Callable[[str], str],
    risk_class: str | None = None,
    score: float | None = None,
    as_of: dt.date | None = None,
    exposure: float | None = None,
) -> CustomerPolicy:
    """Resolve and explain the policy of one Clients row. `cell(key)` names its cell ('Clients!H12')."""
    lines: list[Explained] = []
    problems: list[Problem] = []
    payment = rules.payment
    def add(label: str, value: str, source: str, key: str = "", fact: object = None) -> None:
        lines.append(Explained(label, value, source, key, fact))

    raw_segment = customer.get("segment")
    if _blank(raw_segment):
        segment = payment.default_segment
        add("Segment", f"{segment} (segment par défaut, colonne Segment vide)", _line(rules.where("conditions.yaml", "segment_par_defaut")),
            "segment", {"name": segment, "origin": "default"})
    elif str(raw_segment).strip() in payment.segments:
        segment = str(raw_segment).strip()
        add("Segment", segment, cell("segment"), "segment", {"name": segment, "origin": "customer"})
    else:
        segment = payment.default_segment
        add("Segment", f"{segment} (segment « {str(raw_segment).strip()} » inconnu des règles : segment par défaut)",
            f"{cell('segment')}, {_line(rules.where('conditions.yaml', 'segment_par_defaut'))}", "segment", {"name": segment, "origin": "default"})
        problems.append(Problem(cell("segment"), f"segment « {str(raw_segment).strip()} » non défini dans conditions.yaml"))

    class_label = {c.name: c for c in rules.risk_classes}
    if risk_class is None:
        add("Classe de risque", "non calculée (date d'arrêté absente)", _line(rules.where("scoring.yaml", "classes")), "risk_class", None)
    else:
        entry = class_label.get(risk_class)
        label = f" – {entry.label}" if entry and entry.label else ""
        when = f" au {date(as_of)}" if as_of else ""
        shown_score = f"score {count(score)}" if score is not None else "score"
        add("Classe de risque", f"{risk_class}{label} ({shown_score}{when})",
            _line(entry.where) if entry else _line(rules.where("scoring.yaml", "classes")),
            "risk_class", {"name": risk_class, "label": entry.label if entry else "", "score": score,
                           "as_of": as_of.isoformat() if as_of else None})

    segment_policy = payment.segments[segment]
    class_policy = payment.by_class.get(risk_class) if risk_class else None
    raw_terms = customer.get("payment_terms")
    terms = None
    if not _blank(raw_terms):
        terms = parse_terms(str(raw_terms))
        if terms is None:
            problems.append(Problem(cell("payment_terms"), f"conditions de paiement « {str(raw_terms).strip()} » non comprises "
                                                           "(exemples : « 30 jours », « 45 jours fin de mois », « comptant »)"))
        else:
            terms = PaymentTerms(terms.days, terms.end_of_month, cell("payment_terms"))
    if terms is not None:
        source = terms.where
        origin, origin_key = "conditions particulières du client", "customer"
    elif class_policy is not None and class_policy.terms is not None:
        terms, source, origin, origin_key = class_policy.terms, _line(class_policy.terms.where), f"classe {risk_class}", "risk_class"
    else:
        terms, source, origin, origin_key = segment_policy.terms, _line(segment_policy.terms.where), f"segment {segment}", "segment"
    legal = rules.legal
    maximum = legal.max_terms_end_of_month_days if terms.end_of_month else legal.max_terms_days
    warning = ""
    if terms.days > maximum:
        warning = " – AU-DELÀ DU MAXIMUM LÉGAL (L441-10)"
        problems.append(Problem(source, f"délai « {terms.label} » au-delà du maximum légal (60 jours net ou 45 jours fin de mois)"))
    add("Délai de paiement", f"{terms.label} ({origin}){warning}", source, "payment_terms",
        {"days": terms.days, "end_of_month": terms.end_of_month, "origin": origin_key, "above_legal_maximum": bool(warning)})

    if class_policy is not None and class_policy.deposit is not None:
        deposit = class_policy.deposit
        add("Acompte", f"{rate(deposit)} (classe {risk_class})", _line(rules.where("conditions.yaml", "par_classe", risk_class, "acompte_pct")),
            "deposit", {"rate": deposit, "origin": "risk_class"})
    else:
        deposit = segment_policy.deposit
        add("Acompte", f"{rate(deposit)} (segment {segment})", _line(rules.where("conditions.yaml", "segments", segment, "acompte_pct")),
            "deposit", {"rate": deposit, "origin": "segment"})
    if payment.deposit_tiers:
        tiers = " ; ".join(f"dès {euros(t.from_amount)} : {rate(t.deposit)}" for t in payment.deposit_tiers)
        add("Acompte selon la commande", tiers + " (si plus élevé)", _line(rules.where("conditions.yaml", "acomptes_par_montant")),
            "deposit_tiers", [{"from_amount": t.from_amount, "rate": t.deposit} for t in payment.deposit_tiers])

    discount = payment.discount
    add("Escompte", f"{rate(discount.rate)} si paiement sous {discount.days} jours", _line(discount.where),
        "early_payment_discount", {"rate": discount.rate, "days": discount.days})

    penalty = payment.penalty
    if penalty.mode == "contractuel":
        add("Pénalités de retard", f"taux contractuel {rate(penalty.contractual_rate or 0.0)}",
            _line(rules.where("conditions.yaml", "penalites_retard", "taux_contractuel_pct")),
            "late_penalty", {"mode": penalty.mode, "rate": penalty.contractual_rate or 0.0})
    else:
        value = "taux BCE + 10 points"
        fact = {"mode": penalty.mode, "rate": None, "ecb_rate": None, "margin": legal.penalty_margin}
        source = _line(rules.where("conditions.yaml", "penalites_retard", "mode"))
        if as_of is not None:
            try:
                ecb = legal.ecb_entry_on(dt.date(as_of.year, 1 if as_of.month <= 6 else 7, 1))
                value = (f"taux BCE {rate(ecb.rate)} + {number(legal.penalty_margin * 100, 2, trim=True)} points = "
                         f"{rate(legal.penalty_rate(as_of))} ({as_of.year}, {'1er' if as_of.month <= 6 else '2e'} semestre)")
                fact.update(rate=legal.penalty_rate(as_of), ecb_rate=ecb.rate)
                source += f", {_line(ecb.where)}"
            except Exception:  # noqa: BLE001 - a date outside legal.yaml: show the rule without the figure
                pass
        add("Pénalités de retard", value, source, "late_penalty", fact)
    add("Indemnité forfaitaire", f"{euros(penalty.recovery_indemnity)} par facture payée en retard",
        _line(rules.where("conditions.yaml", "penalites_retard", "indemnite_forfaitaire")), "recovery_indemnity", penalty.recovery_indemnity)

    raw_limit = customer.get("credit_limit")
    if not _blank(raw_limit):
        credit_limit = float(raw_limit)
        add("Encours max", f"{euros(credit_limit)} (propre au client)", cell("credit_limit"),
            "credit_limit", {"amount": credit_limit, "origin": "customer"})
    elif risk_class is not None and rules.risk.class_limit(risk_class) is not None:
        credit_limit = rules.risk.class_limit(risk_class)
        add("Encours max", f"{euros(credit_limit)} (classe {risk_class})", _line(rules.where("risque.yaml", "limites_par_classe", risk_class)),
            "credit_limit", {"amount": credit_limit, "origin": "risk_class"})
    else:
        credit_limit = None
        add("Encours max", "aucune limite", _line(rules.where("risque.yaml", "limites_par_classe")),
            "credit_limit", {"amount": None, "origin": None})
    if exposure is not None and credit_limit is not None:
        usage = exposure / credit_limit if credit_limit > 0 else (math.inf if exposure > 0 else 0.0)
        from encaisse.credit.risk import limit_action

        action = str(limit_action(pd.Series([usage]), rules.risk).iloc[0])
        shown = "∞" if math.isinf(usage) else rate(usage)
        add("Encours actuel", f"{euros(exposure)} ({shown} de la limite) → action : {action}",
            _line(rules.where("risque.yaml", "actions")), "exposure",
            {"amount": exposure, "limit_usage": None if math.isinf(usage) else usage, "action": action})
    actions = " ; ".join(f"au-delà de {rate(a.above)} : {a.action}" for a in rules.risk.actions)
    add("Actions sur l'encours", actions, _line(rules.where("risque.yaml", "actions")),
        "limit_actions", [{"above": a.above, "action": a.action} for a in rules.risk.actions])

    timeline, reason = rules.dunning.timeline_for(segment, risk_class)
    if reason == "classe":
        why, source = f"classe {risk_class}", rules.where("relances.yaml", "affectation", "par_classe", risk_class)
    elif reason == "segment":
        why, source = f"segment {segment}", rules.where("relances.yaml", "affectation", "par_segment", segment)
    else:
        why, source = "calendrier par défaut", rules.where("relances.yaml", "affectation", "par_defaut")
    steps = [{"id": step.id, "offset_days": step.offset, "channel": step.channel, "template": step.template, "tone": step.tone,
              "payment_link": step.payment_link, "phone_task": step.phone_task, "source": _line(step.where)} for step in timeline.steps]
    add("Calendrier de relance", f"{timeline.name} ({why})", _line(source), "dunning_timeline",
        {"name": timeline.name, "origin": {"classe": "risk_class", "segment": "segment"}.get(reason, "default"), "steps": steps})
    for step in timeline.steps:
        extras = "".join([", lien de paiement" if step.payment_link else "", ", appel" if step.phone_task else ""])
        add(f"  J{step.offset:+d}", f"{step.id}" + (f" – {step.label}" if step.label else "") + f" : {step.channel}, {step.template}, ton {step.tone}{extras}", _line(step.where))

    pauses = [p for p in rules.dunning.pauses.customers if p.customer_id == str(customer.get("customer_id"))]
    if pauses:
        pause = pauses[0]
        until = f" jusqu'au {date(pause.until)}" if pause.until else ""
        add("Pause de relance", f"client en pause{until}" + (f" ({pause.reason})" if pause.reason else ""), _line(pause.where),
            "dunning_pause", {"until": pause.until.isoformat() if pause.until else None, "reason": pause.reason})
    else:
        add("Pause de relance", "aucune pause propre au client", _line(rules.where("relances.yaml", "pauses")), "dunning_pause", None)

    return CustomerPolicy(
        customer_id=str(customer.get("customer_id")),
        name="" if _blank(customer.get("name")) else str(customer.get("name")),
        segment=segment,
        risk_class=risk_class,
        score=score,
        terms=terms,
        deposit=deposit,
        credit_limit=credit_limit,
        timeline=timeline.name,
        lines=tuple(lines),
        problems=tuple(problems),
    )


def to_json(policy: CustomerPolicy, rules_folder: str, as_of: dt.date | None) -> dict:
    """The policy for machines: English keys, numbers, fractions for rates, ISO dates; each value
    with its source (as `kpi --json`, nothing preformatted for people)."""
    return {
        "customer_id": policy.customer_id,
        "name": policy.name,
        "rules": rules_folder,
        "as_of": as_of.isoformat() if as_of else None,
        "policy": {line.key: {"value": line.fact, "source": line.source} for line in policy.lines if line.key},
        "problems": [{"where": p.where, "message": p.message} for p in policy.problems],
    }


def render(policy: CustomerPolicy, rules_folder: str) -> str:
    """The explanation as French text, one value per line with its source in brackets."""
    head = [f"Client {policy.customer_id}" + (f" – {policy.name}" if policy.name else ""), f"Règles : {rules_folder}", ""]
    body = [f"{line.label} : {line.value}  [{line.source}]" for line in policy.lines]
    tail = []
    if policy.problems:
        tail = ["", "Attention :"] + [f"  {p.where}: {p.message}" for p in policy.problems]
    return "\n".join(head + body + tail)
