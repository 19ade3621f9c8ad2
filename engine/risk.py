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

from dataclasses import dataclass


@dataclass(frozen=True)
class LimitAction:
    """An action taken when exposure / limit is strictly above `above` (1.0 = the limit itself)."""

    above: float
    action: str


NO_ACTION = "aucune"


@dataclass(frozen=True)
class RiskPolicy:
    """Credit limits per risk class and the actions when exposure nears or exceeds them (rules/risque.yaml)."""

    class_limits: tuple[tuple[str, float], ...] = (("A", 50_000.0), ("B", 25_000.0), ("C", 10_000.0), ("D", 2_000.0))
    actions: tuple[LimitAction, ...] = (
        LimitAction(0.8, "avertir"),
        LimitAction(1.0, "exiger acompte"),
        LimitAction(1.2, "bloquer commandes"),
    )

    def class_limit(self, risk_class: str) -> float | None:
        return dict(self.class_limits).get(risk_class)
