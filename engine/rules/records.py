"""The rules as immutable records: what the YAML files say, once validated (built by `encaisse.rules.loader`).

Percentages are fractions here (0.30 for 30 %). Each record keeps `where`, the 'file:line:column'
of its entry, so that a figure can always be traced back to the line a controller wrote.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from encaisse.rules.legal import LegalData

@dataclass(frozen=True)
class Factor:
    """How one factor counts: its weight, the value scoring 100 (`best`) and the one scoring 0 (`worst`)."""

    weight: float
    best: float
    worst: float

    def sub_score(self, values: pd.Series) -> pd.Series:
        """0–100 on the straight line from worst (0) to best (100), clipped; NA stays NA."""
        span = self.best - self.worst
        return ((values.astype("float64") - self.worst) / span * 100.0).clip(0.0, 100.0)


HISTORY_FACTORS: tuple[str, ...] = ("days_late", "late_share", "unpaid_count", "dispute_rate", "volume")
FACTORS: tuple[str, ...] = (*HISTORY_FACTORS, "external_rating")


@dataclass(frozen=True)
class ScoringPolicy:
    """Weights, scales and class thresholds of the solvency score (rules/scoring.yaml).

    Weights are relative (they need not add up to 100). `classes` lists (class, minimum score)
    from the best class down; the last class should have minimum 0 so that every score gets one.
    """

    days_late: Factor = Factor(weight=30.0, best=0.0, worst=60.0)
    late_share: Factor = Factor(weight=20.0, best=0.0, worst=1.0)
    unpaid_count: Factor = Factor(weight=20.0, best=0.0, worst=5.0)
    dispute_rate: Factor = Factor(weight=10.0, best=0.0, worst=0.25)
    volume: Factor = Factor(weight=10.0, best=50_000.0, worst=0.0)
    external_rating: Factor = Factor(weight=10.0, best=100.0, worst=0.0)
    classes: tuple[tuple[str, float], ...] = (("A", 80.0), ("B", 60.0), ("C", 40.0), ("D", 0.0))
    neutral_score: float = 60.0
    window_days: int = 365

    def factor(self, name: str) -> Factor:
        return getattr(self, name)

    def risk_class(self, scores: pd.Series) -> pd.Series:
        """The first class (best first) whose minimum the score reaches; the last class otherwise."""
        ordered = sorted(self.classes, key=lambda item: item[1], reverse=True)
        conditions = [scores >= minimum for _, minimum in ordered]
        labels = [label for label, _ in ordered]
        return pd.Series(np.select(conditions, labels, default=labels[-1]), index=scores.index, dtype=object)


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


# --- records --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentTerms:
    days: int
    end_of_month: bool = False
    where: str = ""

    @property
    def label(self) -> str:
        if self.days == 0 and not self.end_of_month:
            return "comptant"
        return f"{self.days} jours{' fin de mois' if self.end_of_month else ' net'}"


@dataclass(frozen=True)
class SegmentPolicy:
    name: str
    terms: PaymentTerms
    deposit: float  # fraction of the order TTC
    where: str = ""


@dataclass(frozen=True)
class ClassPolicy:
    """Terms and deposit of a risk class that replace the segment's (None = keep the segment's)."""

    risk_class: str
    terms: PaymentTerms | None
    deposit: float | None
    where: str = ""


@dataclass(frozen=True)
class DepositTier:
    from_amount: float  # order TTC from which the tier applies
    deposit: float
    where: str = ""


@dataclass(frozen=True)
class Discount:
    rate: float
    days: int
    where: str = ""


@dataclass(frozen=True)
class LatePenalty:
    mode: str  # 'bce_plus_10' | 'contractuel'
    contractual_rate: float | None
    recovery_indemnity: float
    where: str = ""


@dataclass(frozen=True)
class PaymentPolicy:
    segments: Mapping[str, SegmentPolicy]
    default_segment: str
    by_class: Mapping[str, ClassPolicy]
    deposit_tiers: tuple[DepositTier, ...]
    discount: Discount
    penalty: LatePenalty


@dataclass(frozen=True)
class Step:
    id: str
    offset: int  # days from the due date (negative = before)
    channel: str  # email | telephone | courrier | recommande
    template: str  # file name under rules/modeles/
    tone: str  # courtois | amical | ferme | formel
    label: str = ""
    payment_link: bool = False
    phone_task: bool = False
    docx: bool = False  # also write the letter as a Word document, for hand editing
    where: str = ""


@dataclass(frozen=True)
class Timeline:
    name: str
    steps: tuple[Step, ...]
    description: str = ""
    where: str = ""


@dataclass(frozen=True)
class CustomerPause:
    customer_id: str
    until: dt.date | None
    reason: str = ""
    where: str = ""


@dataclass(frozen=True)
class PauseConditions:
    open_dispute: bool
    respected_payment_plan: bool
    customers: tuple[CustomerPause, ...] = ()
    plan_max_gap_days: int = 35  # a plan is respected while its last instalment is at most this old
    promise_grace_days: int = 3  # a promise pauses its invoice until the promised date + this


@dataclass(frozen=True)
class WorklistPriority:
    """How the day's actions are ranked (relances.yaml « priorite »): a 0–100 weighted mean of
    sub-scores — amount due (0 € → 0, `full_amount` and more → 100), days past due (likewise with
    `full_days`), risk (100 − solvency score), the action's severity, a broken promise (100 or 0)."""

    weight_amount: float = 35.0
    weight_days: float = 25.0
    weight_risk: float = 15.0
    weight_severity: float = 15.0
    weight_broken_promise: float = 10.0
    full_amount: float = 20_000.0
    full_days: int = 90
    severity_by_tone: tuple[tuple[str, float], ...] = (("courtois", 10.0), ("amical", 35.0), ("ferme", 65.0), ("formel", 90.0))
    severity_escalation: float = 100.0
    severity_dispute: float = 50.0
    where: str = ""


@dataclass(frozen=True)
class EscalationRoute:
    id: str
    label: str
    min_amount: float | None = None
    max_amount: float | None = None  # excluded
    where: str = ""


@dataclass(frozen=True)
class Escalation:
    notice_days: int  # time to pay given by the formal notice
    routes: tuple[EscalationRoute, ...]


@dataclass(frozen=True)
class DunningPolicy:
    timelines: Mapping[str, Timeline]
    default: str
    order: tuple[str, ...]  # ('classe', 'segment')
    by_class: Mapping[str, str]
    by_segment: Mapping[str, str]
    pauses: PauseConditions
    escalation: Escalation
    priority: WorklistPriority = WorklistPriority()

    def timeline_for(self, segment: str | None, risk_class: str | None) -> tuple[Timeline, str]:
        """The customer's timeline and why: 'classe', 'segment' or 'defaut'."""
        for criterion in self.order:
            table, key = (self.by_class, risk_class) if criterion == "classe" else (self.by_segment, segment)
            if key is not None and key in table:
                return self.timelines[table[key]], criterion
        return self.timelines[self.default], "defaut"


@dataclass(frozen=True)
class DisputeCategory:
    name: str
    label: str
    resolution_days: int
    team: str
    dunning_effect: str  # 'suspendre' | 'continuer'
    resume_after_deadline: bool = False
    where: str = ""


@dataclass(frozen=True)
class RiskClass:
    name: str
    min_score: float
    label: str = ""
    where: str = ""


@dataclass(frozen=True)
class Rules:
    folder: str
    payment: PaymentPolicy
    dunning: DunningPolicy
    disputes: Mapping[str, DisputeCategory]
    risk_classes: tuple[RiskClass, ...]
    scoring: ScoringPolicy
    risk: RiskPolicy
    legal: LegalData
    files: tuple[str, ...]
    positions: Mapping[tuple, str]  # (file name, *path) -> 'rules/x.yaml:line:column' of the value
    cash: CashPolicy = field(default_factory=lambda: CashPolicy())  # rules/tresorerie.yaml

    def where(self, file: str, *path: Any) -> str:
        """Position of a value ('rules/risque.yaml:12:6'), or of its nearest enclosing entry."""
        key = (file, *path)
        while key not in self.positions and len(key) > 1:
            key = key[:-1]
        return self.positions.get(key, file)




# --- cash forecast (rules/tresorerie.yaml) ----------------------------------------------------

# The lines of the plan de trésorerie, in their order: rules id (YAML) -> JSON key.
RECEIPT_LINES: tuple[str, ...] = ("encaissements_clients", "autres_encaissements")
DISBURSEMENT_LINES: tuple[str, ...] = ("fournisseurs", "salaires_charges", "impots_taxes", "emprunts", "autres_decaissements")
PLAN_LINES: tuple[str, ...] = (*RECEIPT_LINES, *DISBURSEMENT_LINES)
WEEKDAYS: tuple[str, ...] = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
EFFORTS: tuple[str, ...] = ("faible", "moyen", "fort")


@dataclass(frozen=True)
class Scenario:
    """A what-if: lever changes (days, margin points, deposit fraction); None = unchanged."""

    name: str
    label: str = ""
    dso: float = 0.0
    dpo: float = 0.0
    dio: float = 0.0
    margin: float = 0.0  # points of gross margin (2 = +2 pts)
    deposit: float = 0.0  # fraction of new sales paid at order (0.30)
    where: str = ""


@dataclass(frozen=True)
class CashAction:
    """One action of the ranked list; `params` holds its type's figures (fractions for percentages)."""

    id: str
    label: str
    kind: str  # relance_prioritaire | escompte | acompte | delai_fournisseurs | affacturage | reduction_stock
    effort: str  # faible | moyen | fort
    params: Mapping[str, float]
    where: str = ""


@dataclass(frozen=True)
class CashPolicy:
    """The 13-week forecast's policy (rules/tresorerie.yaml); percentages as fractions."""

    weeks: int = 13
    cushion_months: float = 1.5
    cushion_reference_months: int = 3
    payment_day: int = 0  # 0 = Monday (numpy's business-day weekday numbering)
    paid_on_due_date: tuple[str, ...] = ("fiscal", "social", "salaires")
    future_sales: bool = True
    future_reference_months: int = 3
    dispute_treatment: str = "apres_resolution"  # apres_resolution | exclure | modele
    dispute_extra_days: int = 7
    plan_treatment: str = "echeances"  # echeances | modele
    plan_instalments: int = 3
    plan_interval_days: int = 30
    doubtful_days: int = 120
    flow_lines: Mapping[str, str] = field(default_factory=dict)  # Flux category (normalised) -> line
    payable_lines: Mapping[str, str] = field(default_factory=dict)  # Dettes priority (normalised) -> line
    scenarios: Mapping[str, Scenario] = field(default_factory=dict)
    actions: tuple[CashAction, ...] = ()
    backtest_months: int = 6
    backtest_weeks: int = 4
    where: Mapping[str, str] = field(default_factory=dict)  # setting -> 'rules/tresorerie.yaml:line:col'
