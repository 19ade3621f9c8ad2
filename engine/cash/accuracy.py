"""`encaisse forecast --backtest`: how good the forecast has been on the book's own history.

Weekly Sunday snapshots over the last `backtest.mois` months of the book (the last one at least
`semaines_evaluees` weeks before the as-of date, so that what happened after it is known); each
snapshot's model sees only the payments dated on or before it (protocol (b) of
`encaisse.cash.backtest`). Beside the model, the naive method: every invoice paid on its due date
(the day after the snapshot when already overdue). Figures: MAE in days of the predicted dates,
WAPE of the customer receipts of each of the next weeks (Σ|predicted − actual| / Σ actual over the
snapshots), and the share of actual payment dates inside the P10–P90 range.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from encaisse.cash import backtest
from encaisse.errors import EncaisseError
from encaisse.ledger import Ledger
from encaisse.rules import Rules


@dataclass(frozen=True)
class MethodScore:
    name: str
    mae: float
    wape: float  # over all the evaluated weeks
    wape_by_week: tuple[float, ...]  # week 1, 2, … after the snapshot
    coverage: float


@dataclass(frozen=True)
class Replay:
    first: pd.Timestamp
    last: pd.Timestamp
    snapshots: int
    predictions: int
    weeks: int
    model: MethodScore
    naive: MethodScore

    def document(self) -> dict:
        def score(s: MethodScore) -> dict:
            return {"mae_days": s.mae, "wape": s.wape, "wape_by_week": list(s.wape_by_week), "p10_p90_coverage": s.coverage}

        return {"first_snapshot": self.first.date().isoformat(), "last_snapshot": self.last.date().isoformat(),
                "snapshots": self.snapshots, "predictions": self.predictions, "model": score(self.model), "naive": score(self.naive)}

    def text(self) -> str:
        def number(value: float, digits: int = 2) -> str:
            return f"{value:.{digits}f}".replace(".", ",")

        head = " ".join(f"WAPE S+{w}".rjust(10) for w in range(1, self.weeks + 1))
        lines = [
            f"Contrôle sur l'historique : {self.snapshots} dimanches du {self.first:%d/%m/%Y} au {self.last:%d/%m/%Y}, "
            f"{self.predictions} prévisions de factures ouvertes (chaque dimanche ne voit que les règlements connus ce jour-là)",
            f"  {'méthode':<22}{'MAE (jours)':>12}{head}{'couverture P10–P90':>20}",
        ]
        for s in (self.model, self.naive):
            weeks = "".join(number(w, 3).rjust(11) for w in s.wape_by_week)
            coverage = "—" if s.name.startswith("naïve") else f"{number(s.coverage * 100, 1)} %"
            lines.append(f"  {s.name:<22}{number(s.mae).rjust(12)}{weeks}{coverage:>20}")
        return "\n".join(lines)


def _score(name: str, result: backtest.SnapshotScore) -> MethodScore:
    weekly = result.weekly.assign(error=lambda f: (f["predicted"] - f["actual"]).abs())
    per_week = weekly.groupby("week")[["error", "actual"]].sum()
    by_week = tuple(float(e / a) if a else float("nan") for e, a in zip(per_week["error"], per_week["actual"]))
    return MethodScore(name, result.mae, result.wape, by_week, result.coverage)


def replay_history(ledger: Ledger, rules: Rules, as_of: object) -> Replay:
    """The model and the naive method replayed on the book's weekly snapshots (see the module)."""
    policy = rules.cash
    as_of = pd.Timestamp(as_of).normalize()
    weeks = policy.backtest_weeks
    last = as_of - pd.Timedelta(days=7 * weeks)
    first = last - pd.DateOffset(months=policy.backtest_months)
    snapshots = backtest.sundays(first, last)
    if len(snapshots) == 0:
        raise EncaisseError("Historique trop court pour le contrôle : aucun dimanche entre "
                            f"{first:%d/%m/%Y} et {last:%d/%m/%Y}")
    # what is known at the as-of date: invoices issued and payments dated on or before it
    invoices = ledger.invoices[ledger.invoices["issue_date"] <= as_of]
    payments = ledger.payments[ledger.payments["payment_date"] <= as_of]
    try:
        model = backtest.snapshot_backtest(invoices, payments, ledger.customers, backtest.model_method(), snapshots, weeks)
        naive = backtest.snapshot_backtest(invoices, payments, ledger.customers, backtest.naive_method, snapshots, weeks)
    except ValueError as error:  # no invoice open at any snapshot
        raise EncaisseError(f"Contrôle sur l'historique impossible : {error}") from None
    return Replay(snapshots[0], snapshots[-1], model.snapshots, model.predictions, weeks,
                  _score("modèle encaisse", model), _score("naïve (à l'échéance)", naive))


__all__ = ["MethodScore", "Replay", "replay_history"]
