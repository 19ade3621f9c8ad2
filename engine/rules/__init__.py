"""The rules a controller edits in YAML (rules/*.yaml), read with positions and checked before use.

`load(folder) -> Rules` reads every file, validates it against its JSON Schema, runs the checks a
schema cannot express, and raises `RulesError` listing every problem as 'file:line:column: message'.
`check(folder)` reports without raising (`encaisse rules check`). The records are in `records`,
the legal data (rates by date) in `legal`, the YAML reading with positions in `document`.
"""

from encaisse.resources import DEFAULT_RULES_DIR, SCHEMA_DIR
from encaisse.rules.legal import LegalData, LegalDataError
from encaisse.rules.loader import CHANNELS, FILES, TEMPLATES_DIR, RulesError, check, format_problem, load, load_legal, problem_order
from encaisse.rules.records import (
    CashAction,
    CashPolicy,
    ClassPolicy,
    CustomerPause,
    DepositTier,
    Discount,
    DisputeCategory,
    DunningPolicy,
    Escalation,
    EscalationRoute,
    Factor,
    LatePenalty,
    LimitAction,
    PauseConditions,
    WorklistPriority,
    PaymentPolicy,
    PaymentTerms,
    RiskClass,
    RiskPolicy,
    Rules,
    Scenario,
    ScoringPolicy,
    SegmentPolicy,
    Step,
    Timeline,
)

__all__ = [
    "CHANNELS", "CashAction", "CashPolicy", "DEFAULT_RULES_DIR", "FILES", "SCHEMA_DIR", "TEMPLATES_DIR", "ClassPolicy", "CustomerPause",
    "DepositTier", "Discount", "DisputeCategory", "DunningPolicy", "Escalation", "EscalationRoute", "Factor",
    "LatePenalty", "LegalData", "LegalDataError", "LimitAction", "PauseConditions", "WorklistPriority", "PaymentPolicy", "PaymentTerms",
    "RiskClass", "RiskPolicy", "Rules", "RulesError", "Scenario", "ScoringPolicy", "SegmentPolicy", "Step", "Timeline", "check",
    "format_problem", "load", "load_legal", "problem_order",
]
