"""`encaisse forecast` and the forecast part of `encaisse demo`: load the workbook and its rules,
forecast, apply a what-if, rank the actions, draw the PNG, replay the history (--backtest)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from encaisse.cash import CashForecast, Levers, assemble, prepare
from encaisse.cash.actions import RankedAction, cash_released, rank_actions
from encaisse.cash.summary import forecast_document
from encaisse.errors import InputError, Problem
from encaisse.jobs.explain import resolve_rules_dir
from encaisse.rules import Rules, load
from encaisse.rules.document import suggestion
from encaisse.workbook.loader import load_workbook

# --what-if keys (French and English) -> Levers field; the deposit is given in %
LEVER_NAMES = {"dso": "dso", "dpo": "dpo", "dio": "dio", "marge": "margin", "margin": "margin", "acompte": "deposit", "deposit": "deposit"}


def parse_levers(text: str, rules: Rules) -> Levers:
    """A scenario name of the rules, or « dso=-15,dpo=+10,dio=-20,marge=+2,acompte=30 »."""
    text = (text or "").strip()
    scenarios = rules.cash.scenarios
    if text in scenarios:
        return Levers.of(scenarios[text])
    values: dict[str, float] = {}
    problems = []
    for part in filter(None, (p.strip() for p in re.split(r"[,;]", text))):
        name, equals, number = (s.strip() for s in part.partition("="))
        key = LEVER_NAMES.get(name.lower())
        if not equals or key is None:
            hint = suggestion(name.lower(), [*LEVER_NAMES, *scenarios])
            problems.append(Problem("--what-if", f"« {part} » : levier inconnu{hint} (leviers : dso, dpo, dio, marge, acompte ; "
                                                 f"scénarios des règles : {', '.join(scenarios) or 'aucun'})"))
            continue
        try:
            value = float(number.replace(",", ".").replace("−", "-"))
        except ValueError:
            problems.append(Problem("--what-if", f"« {part} » : « {number} » n'est pas un nombre"))
            continue
        values[key] = value / 100 if key == "deposit" else value
    if problems or not values:
        raise InputError(problems or [Problem("--what-if", "aucun levier donné (ex. dso=-15,dpo=+10)")], title="Option invalide")
    return Levers(**values)


@dataclass(frozen=True)
class ForecastOutcome:
    title: str
    result: CashForecast
    actions: tuple[RankedAction, ...]
    released: dict
    backtest: object = None
    plot: Path | None = None

    def document(self) -> dict:
        document = forecast_document(self.result, self.actions)
        if self.backtest is not None:
            document["backtest"] = self.backtest.document()
        return document

    def text(self) -> str:
        from encaisse.report import forecast_report

        text = forecast_report(self.result, self.actions, title=self.title, released=self.released)
        if self.backtest is not None:
            text += "\n\n" + self.backtest.text()
        if self.plot is not None:
            text += f"\n\nGraphique : {self.plot}"
        return text


def run_forecast(book, *, as_of=None, weeks: int | None = None, rules_dir: str | None = None, what_if: str | None = None,
                 plot: Path | None = None, backtest: bool = False, ledger=None) -> ForecastOutcome:
    ledger = ledger if ledger is not None else load_workbook(book)
    folder, _ = resolve_rules_dir(book, ledger.params.rules_dir, rules_dir)
    rules = load(folder)
    if weeks is not None and not 1 <= weeks <= 52:
        raise InputError([Problem("--weeks", f"{weeks} semaines : entre 1 et 52")], title="Option invalide")
    basis = prepare(ledger, rules, as_of, weeks)
    base = assemble(basis)
    levers = parse_levers(what_if, rules) if what_if else Levers()
    result = assemble(basis, levers) if levers.any else base
    actions = rank_actions(basis, rules, base)
    replay = None
    if backtest:
        from encaisse.cash.accuracy import replay_history

        replay = replay_history(ledger, rules, basis.as_of)
    if plot is not None:
        from encaisse.authoring.forecast_plot import plot_forecast

        plot = plot_forecast(result, plot, title=ledger.params.company_name or "")
    return ForecastOutcome(ledger.params.company_name or Path(book).name, result, actions,
                           cash_released(basis, levers) if levers.any else {}, replay, plot)
