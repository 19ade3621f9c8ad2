"""Credit exposure against the credit limit (encours max) per customer, and the action it calls for.

- exposure = open receivables net of unapplied credit (`ledger.customer_balances` balance,
  never below 0) + orders not yet invoiced when Clients has an `open_orders` column.
- limit = Clients « Encours max » when filled (`limit_source` "client"), else the limit of the
  customer's risk class from the rules (`limit_source` "classe"). A class without a limit in
  the rules leaves the limit blank (`limit_source` "aucune") and calls for no action.
- headroom = limit − exposure (negative when over); usage = exposure / limit (a limit of 0
  with any exposure is an infinite usage; no exposure is a usage of 0).
- action = the label of the highest `LimitAction` whose `above` ratio the usage strictly
  exceeds ("aucune" when none): by default "avertir" above 80 %, "exiger acompte" above
  100 %, "bloquer commandes" above 120 % of the limit.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from encaisse.fr import round_cents
from encaisse.ledger import Receivables, balances as customer_balances, receivables as compute_receivables
from encaisse.rules.records import NO_ACTION, RiskPolicy


def limit_action(usage: pd.Series, policy: RiskPolicy) -> pd.Series:
    """The label of the highest action whose ratio the usage strictly exceeds, else "aucune"."""
    ordered = sorted(policy.actions, key=lambda a: a.above, reverse=True)
    conditions = [usage > a.above for a in ordered]
    return pd.Series(
        np.select(conditions, [a.action for a in ordered], default=NO_ACTION) if ordered else NO_ACTION,
        index=usage.index,
        dtype=object,
    )


def credit_exposure(
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    customers: pd.DataFrame,
    as_of: dt.date | pd.Timestamp,
    policy: RiskPolicy,
    scores: pd.DataFrame,
    *,
    rates: dict[str, float] | None = None,
    receivables: Receivables | None = None,
) -> pd.DataFrame:
    """One row per customer of `scores` (from scoring.score_customers): exposure, limit, action.

    Columns: customer_id, risk_class, open_amount, credit, open_orders, exposure, credit_limit,
    limit_source ("client" | "classe" | "aucune"), headroom, usage, action. Amounts to the cent.
    The open amounts and credits come from the one allocation (`receivables=` shares it).
    """
    as_of = pd.Timestamp(as_of).normalize()
    frame = scores[["customer_id", "risk_class"]].set_index("customer_id")
    book = receivables if receivables is not None else compute_receivables(invoices, payments, as_of, rates=rates)
    balances = customer_balances(book)
    if "customer_id" in balances.columns:
        balances = balances.set_index("customer_id")
    balances.index = balances.index.astype(str)
    listed = customers.dropna(subset=["customer_id"]).drop_duplicates("customer_id")
    listed = listed.set_axis(listed["customer_id"].astype(str))

    frame["open_amount"] = balances["open_amount"].reindex(frame.index).fillna(0.0)
    frame["credit"] = balances["credit"].reindex(frame.index).fillna(0.0)
    if "open_orders" in listed.columns:
        orders = pd.to_numeric(listed["open_orders"], errors="coerce")
        frame["open_orders"] = orders.reindex(frame.index).fillna(0.0)
    else:
        frame["open_orders"] = 0.0
    frame["exposure"] = (frame["open_amount"] - frame["credit"]).clip(lower=0.0) + frame["open_orders"]

    own_limit = pd.Series(np.nan, index=frame.index)
    if "credit_limit" in listed.columns:
        own_limit = pd.to_numeric(listed["credit_limit"], errors="coerce").reindex(frame.index)
    class_limit = frame["risk_class"].map(dict(policy.class_limits)).astype("float64")
    frame["credit_limit"] = own_limit.fillna(class_limit)
    frame["limit_source"] = np.select(
        [own_limit.notna(), class_limit.notna()], ["client", "classe"], default="aucune"
    )
    frame["headroom"] = frame["credit_limit"] - frame["exposure"]
    usage = frame["exposure"] / frame["credit_limit"].where(frame["credit_limit"] > 0)
    usage = usage.mask((frame["credit_limit"] == 0) & (frame["exposure"] > 0), np.inf)
    frame["usage"] = usage.mask((frame["exposure"] <= 0) & frame["credit_limit"].notna(), 0.0)
    frame["action"] = limit_action(frame["usage"].fillna(0.0), policy)
    for column in ("open_amount", "credit", "open_orders", "exposure", "credit_limit", "headroom"):
        frame[column] = round_cents(frame[column])
    return frame.reset_index()
