"""The day's actions, ranked: e-mails to send, calls to make, letters to post, escalations to
start, disputes past their deadline to chase internally.

One row per action (English keys, numbers, dates):

- a communication gives one row for its channel (`email`, `appel` for a phone step, `courrier`,
  `recommande`) and, when its step asks for a call too (`appel: true`), one `appel` row more;
- an escalation (`escalade`): a customer whose formal notice went unanswered past its deadline,
  with the route the rules name for the amount still owed under it;
- a dispute past its resolution deadline (`litige`), one row per invoice, with the owner team
  of its category (litiges.yaml).

The priority is a 0–100 weighted mean (relances.yaml « priorite »): amount due (0 € → 0,
`montant_plein` and more → 100, straight line), days past due of the oldest invoice concerned
(likewise with `retard_plein_jours`), risk (100 − the customer's solvency score; an unscored
customer counts as the neutral score), the action's severity (by the step's tone; escalation
and dispute have their own), and a broken promise of the customer (100 or 0). Rows are ranked
by priority, then amount due, then customer code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from encaisse.dunning.due import DunningState, communication_plan, route_for
from encaisse.rules.records import WorklistPriority

ACTION_OF_CHANNEL = {"email": "email", "telephone": "appel", "courrier": "courrier", "recommande": "recommande"}
COLUMNS = ("rank", "priority", "action", "customer_id", "customer_name", "step", "label", "channel", "invoices",
           "amount_due", "days_past_due", "penalty", "indemnity", "risk_class", "score", "broken_promise", "team", "invoice_ids")


def _per_customer(state: DunningState, mask: np.ndarray, values: np.ndarray | None = None, how: str = "sum") -> np.ndarray:
    n = len(state.customers.ids)
    codes = state.items.customer[mask]
    if how == "max":
        out = np.full(n, -np.inf)
        np.maximum.at(out, codes, values[mask])
        return out
    return np.bincount(codes, weights=None if values is None else values[mask], minlength=n).astype(float)


def _ids(state: DunningState, mask: np.ndarray, customers: np.ndarray) -> list[str]:
    """The invoice numbers of each listed customer, « FA-1, FA-2 », oldest due first."""
    items = state.items
    where = np.flatnonzero(mask)
    order = where[np.lexsort((state.links.due_date[items.position[where]], items.customer[where]))]
    ids = state.links.invoices["invoice_id"].to_numpy(dtype=object)[items.position[order]]
    keys = items.customer[order]
    starts, ends = np.searchsorted(keys, customers, side="left"), np.searchsorted(keys, customers, side="right")
    return [", ".join(map(str, ids[a:b])) for a, b in zip(starts, ends)]


def _customer_rows(state: DunningState, customers: np.ndarray, mask: np.ndarray) -> dict:
    """The per-customer columns of the actions about the invoices in `mask`."""
    items = state.items
    people = state.customers
    broken = _per_customer(state, items.pauses.broken_promise) > 0
    return {
        "customer_id": people.ids[customers].astype(object),
        "customer_name": people.names[customers],
        "invoices": _per_customer(state, mask)[customers].astype(np.int64),
        "amount_due": _per_customer(state, mask, items.open_amount)[customers],
        "days_past_due": np.maximum(_per_customer(state, mask, items.days_past_due, "max")[customers], 0).astype(np.int64),
        "penalty": _per_customer(state, mask, items.interest)[customers],
        "indemnity": _per_customer(state, mask, items.indemnity)[customers],
        "risk_class": people.risk_class[customers],
        "score": people.score[customers],
        "broken_promise": broken[customers],
        "team": np.full(len(customers), None, dtype=object),
        "invoice_ids": _ids(state, mask, customers),
    }


def _communication_actions(state: DunningState) -> pd.DataFrame:
    plan = communication_plan(state)
    if plan.empty:
        return pd.DataFrame()
    items = state.items
    claimed = ~items.pauses.paused & (items.days_past_due > 0)
    reminded = np.zeros(len(state.customers.ids), dtype=bool)
    reminded[plan["customer"].to_numpy()] = True
    codes = plan["customer"].to_numpy()
    mask = claimed & reminded[items.customer]
    steps = [state.timelines[state.customers.timeline[c]].steps[s] for c, s in zip(codes, plan["step"].to_numpy())]
    # A courtesy reminder (before the due date) claims nothing overdue: it lists the invoices coming due.
    soon = ~items.pauses.paused & (items.days_past_due <= 0) & (items.proposed >= 0) & reminded[items.customer]
    frame = pd.DataFrame(_customer_rows(state, codes, mask | (soon & ~_has(state, mask)[items.customer])))
    frame["step"] = [s.id for s in steps]
    frame["label"] = [s.label or s.id for s in steps]
    frame["channel"] = [s.channel for s in steps]
    frame["action"] = [ACTION_OF_CHANNEL[s.channel] for s in steps]
    frame["tone"] = [s.tone for s in steps]
    calls = frame[[s.phone_task and s.channel != "telephone" for s in steps]].assign(action="appel")
    return pd.concat([frame, calls], ignore_index=True)


def _has(state: DunningState, mask: np.ndarray) -> np.ndarray:
    return _per_customer(state, mask) > 0


def _escalation_actions(state: DunningState) -> pd.DataFrame:
    items = state.items
    mask = items.escalation_due
    if not mask.any():
        return pd.DataFrame()
    codes = np.unique(items.customer[mask])
    frame = pd.DataFrame(_customer_rows(state, codes, mask))
    routes = [route_for(amount, state.rules.dunning.escalation.routes) for amount in frame["amount_due"]]
    frame["step"] = [r.id if r else "escalade" for r in routes]
    frame["label"] = [r.label if r else "Escalade après mise en demeure" for r in routes]
    frame["channel"] = None
    frame["action"] = "escalade"
    return frame


def _dispute_actions(state: DunningState) -> pd.DataFrame:
    items = state.items
    where = np.flatnonzero(items.pauses.dispute_overdue)
    if not len(where):
        return pd.DataFrame()
    people = state.customers
    codes = items.customer[where]
    broken = _per_customer(state, items.pauses.broken_promise) > 0
    categories = items.pauses.dispute[where]
    found = {name: state.rules.disputes.get(str(name)) for name in pd.unique(categories)}
    deadlines = pd.to_datetime(items.pauses.dispute_deadline[where])
    return pd.DataFrame({
        "customer_id": people.ids[codes].astype(object),
        "customer_name": people.names[codes],
        "invoices": 1,
        "amount_due": items.open_amount[where],
        "days_past_due": np.maximum(items.days_past_due[where], 0).astype(np.int64),
        "penalty": 0.0,
        "indemnity": 0.0,
        "risk_class": people.risk_class[codes],
        "score": people.score[codes],
        "broken_promise": broken[codes],
        "team": [found[c].team if found[c] else None for c in categories],
        "invoice_ids": state.links.invoices["invoice_id"].to_numpy(dtype=object)[items.position[where]].astype(str),
        "step": categories,
        "label": [f"Litige « {c} » non résolu : délai dépassé depuis le {d:%d/%m/%Y}" for c, d in zip(categories, deadlines)],
        "channel": None,
        "action": "litige",
    })


def _priority(frame: pd.DataFrame, weights: WorklistPriority, neutral_score: float) -> np.ndarray:
    tone = dict(weights.severity_by_tone)
    severity = np.select(
        [frame["action"].eq("escalade").to_numpy(), frame["action"].eq("litige").to_numpy()],
        [weights.severity_escalation, weights.severity_dispute],
        default=frame["tone"].map(tone).fillna(0.0).to_numpy(dtype=float) if "tone" in frame else 0.0,
    )
    parts = (
        (weights.weight_amount, np.clip(frame["amount_due"].to_numpy(dtype=float) / weights.full_amount, 0, 1) * 100),
        (weights.weight_days, np.clip(frame["days_past_due"].to_numpy(dtype=float) / weights.full_days, 0, 1) * 100),
        (weights.weight_risk, 100.0 - np.nan_to_num(frame["score"].to_numpy(dtype=float), nan=neutral_score)),
        (weights.weight_severity, severity),
        (weights.weight_broken_promise, frame["broken_promise"].to_numpy(dtype=bool) * 100.0),
    )
    total = sum(w for w, _ in parts)
    return sum(w * s for w, s in parts) / total if total > 0 else np.zeros(len(frame))


def worklist(state: DunningState, top: int | None = None) -> pd.DataFrame:
    """The day's actions ranked by priority (see the module doc); `top` keeps the first ones."""
    parts = [p for p in (_communication_actions(state), _escalation_actions(state), _dispute_actions(state)) if not p.empty]
    if not parts:
        return pd.DataFrame({key: pd.Series([], dtype=object) for key in COLUMNS})
    frame = pd.concat(parts, ignore_index=True)
    frame["priority"] = _priority(frame, state.rules.dunning.priority, state.rules.scoring.neutral_score)
    frame = frame.sort_values(["priority", "amount_due", "customer_id", "action"], ascending=[False, False, True, True],
                              kind="stable", ignore_index=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    frame = frame[list(COLUMNS)]
    return frame.head(top) if top is not None else frame
