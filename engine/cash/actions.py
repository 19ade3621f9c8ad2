"""What-if levers and the actions ranked by cash: each computed from the ledger over the horizon.

`cash_released(basis, levers)`: the one-off cash each lever releases — DSO, DPO and DIO through
`encaisse.kpi.cash_released` (the CASH_RELEASED figure), the margin as its points of the run-rate
sales over the horizon, the deposit as its share of the sales still unpaid at any time (sales per
day × the mean days from invoice to payment).

`rank_actions(basis)`: every action of the rules as a weekly change of the cash (extra receipts,
fewer payments), its impact the extra cash at the horizon's end and its gain on the lowest
closing balance, its cost where it has one, its effort from the rules; ranked by impact per unit
of effort (faible 1, moyen 2, fort 3), then by impact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from encaisse.cash.forecast import CURRENT, DOUBTFUL_STATUS, OVERDUE, Basis, CashForecast, Levers, assemble
from encaisse.kpi.working_capital import cash_released as kpi_cash_released
from encaisse.rules.records import CashAction, Rules

EFFORT_WEIGHT = {"faible": 1.0, "moyen": 2.0, "fort": 3.0}
LEVER_LABELS = {"dso": "DSO", "dpo": "DPO", "dio": "DIO", "margin": "Marge brute", "deposit": "Acompte"}
DAYS = 90  # window of Activité for the CASH_RELEASED figure, as the KPIs'


def cash_released(basis: Basis, levers: Levers) -> dict[str, float]:
    """The cash each lever of `levers` releases, by lever name (only the levers that are set)."""
    released: dict[str, float] = {}
    activity, as_of = basis.activity, basis.as_of
    if levers.dso:
        released["dso"] = kpi_cash_released(activity, as_of, delta_dso=levers.dso, days=DAYS)
    if levers.dpo:
        released["dpo"] = kpi_cash_released(activity, as_of, delta_dpo=levers.dpo, days=DAYS)
    if levers.dio:
        released["dio"] = kpi_cash_released(activity, as_of, delta_dio=levers.dio, days=DAYS)
    if levers.margin:
        released["margin"] = levers.margin / 100 * basis.sales_per_day * basis.weeks.last_day
    if levers.deposit:
        released["deposit"] = levers.deposit * basis.sales_per_day * float(np.mean(basis.sale_delays))
    return released


@dataclass(frozen=True)
class RankedAction:
    action: CashAction
    weekly: np.ndarray  # extra cash per week (receipts added, payments saved)
    cost: float  # what the action costs over the horizon (discount granted, factoring fee), ≥ 0
    low_point_gain: float  # change of the lowest closing balance of the horizon
    rank: int = 0

    @property
    def impact(self) -> float:
        """Extra cash at the horizon's end (costs already deducted)."""
        return float(self.weekly.sum())

    @property
    def score(self) -> float:
        return self.impact / EFFORT_WEIGHT[self.action.effort]


def _moved(basis: Basis, chosen: np.ndarray, share: np.ndarray, day: int, kept: np.ndarray | None = None,
           sooner_only: bool = False) -> np.ndarray:
    """Weekly change when `share` of the chosen invoices' open amounts is received on `day` (times
    `kept`, what is left after a cost) instead of at their predicted days. With `sooner_only`, a
    payment predicted before `day` stays where it was: a reminder or a discount can bring a
    payment forward, never delay it."""
    weeks = basis.weeks
    prediction = basis.prediction
    day = max(day, 1)
    amount = basis.open_amount[chosen] * share
    received = amount * (1.0 if kept is None else kept)
    counted = basis.counted[chosen]
    draws = prediction.points.shape[1]
    points = prediction.points[chosen][counted]
    before = weeks.totals(points, (amount[counted] / draws)[:, None])
    if not sooner_only:
        return weeks.totals(np.full(len(chosen), day), received) - before
    # invoices not counted as cash (doubtful) have no predicted day: all of the share comes on `day`
    after = (weeks.totals(np.minimum(points, day), (received[counted] / draws)[:, None])
             + weeks.totals(np.full(int((~counted).sum()), day), received[~counted]))
    return after - before


def _action_weekly(basis: Basis, base: CashForecast, action: CashAction, rules: Rules) -> tuple[np.ndarray, float]:
    """(weekly extra cash, cost) of one action."""
    p = action.params
    status = basis.status
    weeks = basis.weeks
    if action.kind == "relance_prioritaire":
        candidates = np.flatnonzero(np.isin(status, (OVERDUE, DOUBTFUL_STATUS)))
        chosen = candidates[np.argsort(-basis.open_amount[candidates], kind="stable")[: int(p["nombre"])]]
        return _moved(basis, chosen, np.full(len(chosen), p["taux_succes_pct"]), int(p["delai_jours"]), sooner_only=True), 0.0
    if action.kind == "escompte":
        discount = rules.payment.discount
        chosen = np.flatnonzero(status == CURRENT)
        weekly = _moved(basis, chosen, np.full(len(chosen), p["adhesion_pct"]), int(discount.days),
                        np.full(len(chosen), 1 - discount.rate), sooner_only=True)
        return weekly, float(p["adhesion_pct"] * discount.rate * basis.open_amount[chosen].sum())
    if action.kind == "affacturage":
        chosen = np.flatnonzero(status == CURRENT)
        order = chosen[np.argsort(-basis.open_amount[chosen], kind="stable")]
        running = np.cumsum(basis.open_amount[order])
        wanted = p["part_pct"] * (running[-1] if len(running) else 0.0)
        sold = order[: int(np.searchsorted(running, wanted, side="left")) + 1] if wanted > 0 else order[:0]
        fee = p["commission_pct"]
        # the factor pays `financement_pct` less its fee now; the rest when the customer pays, as forecast
        weekly = _moved(basis, sold, np.full(len(sold), p["financement_pct"]), int(p["delai_jours"]),
                        np.full(len(sold), 1 - fee / p["financement_pct"] if p["financement_pct"] else 0.0))
        return weekly, float(fee * basis.open_amount[sold].sum())
    if action.kind == "acompte":
        return assemble(basis, Levers(deposit=p["acompte_pct"])).receipts - base.receipts, 0.0
    if action.kind == "delai_fournisseurs":
        return base.disbursements - assemble(basis, Levers(dpo=p["jours"])).disbursements, 0.0
    if action.kind == "reduction_stock":
        return base.disbursements - assemble(basis, Levers(dio=-p["jours"])).disbursements, 0.0
    raise ValueError(f"type d'action inconnu : {action.kind}")


def rank_actions(basis: Basis, rules: Rules, base: CashForecast | None = None) -> tuple[RankedAction, ...]:
    """The rules' actions with their cash impact, cost and effort, best first."""
    base = base if base is not None else assemble(basis)
    found = []
    for action in basis.policy.actions:
        weekly, cost = _action_weekly(basis, base, action, rules)
        low = float((base.closing + np.cumsum(weekly)).min() - base.closing.min()) if basis.weeks.count else 0.0
        found.append(RankedAction(action, weekly, cost, low))
    ordered = sorted(found, key=lambda a: (-a.score, -a.impact, a.action.id))
    return tuple(RankedAction(a.action, a.weekly, a.cost, a.low_point_gain, rank) for rank, a in enumerate(ordered, start=1))
