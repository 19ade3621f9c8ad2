"""The 13-week cash forecast (plan de trésorerie): weekly lines, closing balance, P10–P90 band, alerts.

`forecast(ledger, rules, as_of)` reads the ledger once (`prepare`, everything that does not
depend on a what-if) and assembles the weekly table (`assemble`, cheap: the what-if and the
actions assemble it again with other levers). Lines, in the order of a French plan de
trésorerie: encaissements clients, autres encaissements; fournisseurs, salaires et charges
sociales, impôts et taxes (TVA comprise), emprunts, autres décaissements; then flux net and
solde de clôture from the opening balance (named cell SoldeBanque). Amounts are TTC euros,
outflow lines positive (the plan's convention), net = receipts − disbursements; nothing is
rounded here (cents at the edges).

Customer receipts: each open invoice's amount spread over its K equally likely payment days
(`encaisse.cash.prediction`); payment plans on their instalments; disputes as the rules say;
doubtful receivables (overdue beyond the rules' threshold) on their own line, never counted.
With `ventes_a_venir`, sales and purchases not yet invoiced come in at the Activité run rate,
received (paid) after the delays seen in the history.

Band: the P10 closing balance is what the bank would show if every open invoice were paid at
its P90 date (late) and new sales after the late delay; the P90 balance, at the P10 dates. The
invoices move together in this band, so it is wider than independent errors would make it:
the prudent reading for a cushion.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import pandas as pd

from encaisse.cash.outflows import Movements, flow_movements, payable_movements, priority_keys
from encaisse.cash.payment_dates import invoice_attributes
from encaisse.cash.prediction import LEVELS, DatePrediction, fit_payment_model, history, phase_in, predicted_days, settled_history
from encaisse.cash.weeks import Weeks, make_weeks
from encaisse.errors import EncaisseError, Problem
from encaisse.kpi.collection import is_disputed
from encaisse.kpi.summary import resolve_as_of
from encaisse.kpi.working_capital import cash_released
from encaisse.ledger import DAY, Ledger, Receivables, link, receivables
from encaisse.rules.records import DISBURSEMENT_LINES, PLAN_LINES, RECEIPT_LINES, CashPolicy, Rules, Scenario
from encaisse.tables import normalize_header

# rules line id -> JSON key, and the French label of each line of the table
LINE_KEYS: dict[str, str] = {
    "encaissements_clients": "customer_receipts",
    "autres_encaissements": "other_receipts",
    "fournisseurs": "suppliers",
    "salaires_charges": "payroll",
    "impots_taxes": "taxes",
    "emprunts": "loans",
    "autres_decaissements": "other_disbursements",
}
DOUBTFUL = "doubtful_receivables"
LABELS: dict[str, str] = {
    "customer_receipts": "Encaissements clients",
    "other_receipts": "Autres encaissements",
    "suppliers": "Fournisseurs",
    "payroll": "Salaires et charges sociales",
    "taxes": "Impôts et taxes (TVA comprise)",
    "loans": "Emprunts",
    "other_disbursements": "Autres décaissements",
    DOUBTFUL: "Créances douteuses (non comptées)",
    "net": "Flux net",
    "closing_balance": "Solde de clôture",
    "closing_balance_p10": "Solde P10",
    "closing_balance_p90": "Solde P90",
}
RECEIPT_KEYS = tuple(LINE_KEYS[line] for line in RECEIPT_LINES)
DISBURSEMENT_KEYS = tuple(LINE_KEYS[line] for line in DISBURSEMENT_LINES)
WEEK_KEYS = ("week_start", "week_end", "label", *(LINE_KEYS[line] for line in PLAN_LINES), DOUBTFUL, "net", "closing_balance",
             "closing_balance_p10", "closing_balance_p90", "below_cushion")

# status of an open invoice in the forecast
CURRENT, OVERDUE, DISPUTED, PLAN, DOUBTFUL_STATUS = "current", "overdue", "disputed", "payment_plan", "doubtful"
STATUS_LABELS = {CURRENT: "à échoir", OVERDUE: "échue", DISPUTED: "en litige", PLAN: "échéancier", DOUBTFUL_STATUS: "douteuse"}
DEFAULT_RESOLUTION_DAYS = 30  # a dispute category the rules do not know
MONTH_DAYS = 365.0 / 12
PARALLEL_PREDICTION = 20_000  # open invoices from which their dates are read by two threads, half each


@dataclass(frozen=True)
class Levers:
    """What-if changes: days (negative = shorter), margin points, deposit as a fraction of new sales."""

    dso: float = 0.0
    dpo: float = 0.0
    dio: float = 0.0
    margin: float = 0.0
    deposit: float = 0.0

    @classmethod
    def of(cls, scenario: Scenario) -> "Levers":
        return cls(scenario.dso, scenario.dpo, scenario.dio, scenario.margin, scenario.deposit)

    @property
    def any(self) -> bool:
        return any((self.dso, self.dpo, self.dio, self.margin, self.deposit))


@dataclass(frozen=True)
class Alert:
    week: int  # index of the week
    label: str
    week_start: pd.Timestamp
    week_end: pd.Timestamp
    closing_balance: float
    cushion: float
    level: str  # "coussin" (under the cushion) or "decouvert" (under zero)

    @property
    def shortfall(self) -> float:
        return self.cushion - self.closing_balance


@dataclass(frozen=True)
class Basis:
    """Everything the weekly table is made of, read once from the ledger at the as-of date."""

    as_of: pd.Timestamp
    weeks: Weeks
    policy: CashPolicy
    opening_balance: float
    cushion: float
    book: Receivables
    rows: np.ndarray  # row positions of the open invoices (open amount > 0)
    open_amount: np.ndarray
    status: np.ndarray  # object
    prediction: DatePrediction  # dates after the rules (disputes floored, plans on their instalments)
    plans: Movements  # instalments of the payment plans (line encaissements_clients)
    flows: Movements  # occurrences of the recurring flows
    bills: Movements  # open payables at their payment day, without levers
    sales_per_day: float
    purchases_per_day: float
    sale_delays: np.ndarray  # K equally likely days from a sale to its payment (history)
    purchase_delays: np.ndarray  # K equally likely days from a purchase to its payment
    shifts: np.ndarray  # mean error (days) of each of the last 12 months' payments: how the whole base moves
    activity: pd.DataFrame
    payables: pd.DataFrame
    problems: tuple[Problem, ...] = ()

    @property
    def counted(self) -> np.ndarray:
        """Open invoices whose receipts count as cash (not doubtful, not in a plan's instalments)."""
        return (self.status != DOUBTFUL_STATUS) & (self.status != PLAN)


@dataclass(frozen=True)
class CashForecast:
    basis: Basis
    levers: Levers
    lines: dict[str, np.ndarray]  # JSON key -> amount per week (outflows positive)
    closing_p10: np.ndarray
    closing_p90: np.ndarray
    alerts: tuple[Alert, ...] = field(default_factory=tuple)

    @property
    def as_of(self) -> pd.Timestamp:
        return self.basis.as_of

    @property
    def weeks(self) -> Weeks:
        return self.basis.weeks

    @property
    def receipts(self) -> np.ndarray:
        return sum(self.lines[key] for key in RECEIPT_KEYS)

    @property
    def disbursements(self) -> np.ndarray:
        return sum(self.lines[key] for key in DISBURSEMENT_KEYS)

    @property
    def net(self) -> np.ndarray:
        return self.receipts - self.disbursements

    @property
    def closing(self) -> np.ndarray:
        return self.basis.opening_balance + np.cumsum(self.net)

    @property
    def below_cushion(self) -> np.ndarray:
        return self.closing < self.basis.cushion

    @property
    def first_shortfall(self) -> Alert | None:
        return self.alerts[0] if self.alerts else None

    def table(self) -> pd.DataFrame:
        """One row per week with the JSON keys (WEEK_KEYS), amounts unrounded."""
        weeks = self.weeks
        frame = {"week_start": pd.to_datetime(weeks.starts), "week_end": pd.to_datetime(weeks.ends), "label": list(weeks.labels)}
        for key in (*LINE_KEYS.values(), DOUBTFUL):
            frame[key] = self.lines[key]
        frame.update({"net": self.net, "closing_balance": self.closing, "closing_balance_p10": self.closing_p10,
                      "closing_balance_p90": self.closing_p90, "below_cushion": self.below_cushion})
        return pd.DataFrame(frame)

    def invoices(self) -> pd.DataFrame:
        """The open invoices with their predicted dates and status, by expected date."""
        basis = self.basis
        invoices = basis.book.invoices
        as_of = np.datetime64(basis.as_of.date(), "D")
        prediction = _with_levers(basis, self.levers)

        def dates(days: np.ndarray) -> pd.Series:
            return pd.to_datetime(as_of + days * np.timedelta64(1, "D"))

        frame = pd.DataFrame({
            "invoice_id": invoices["invoice_id"].to_numpy(dtype=object)[basis.rows],
            "customer_id": invoices["customer_id"].to_numpy(dtype=object)[basis.rows],
            "open_amount": basis.open_amount,
            "due_date": pd.to_datetime(basis.book.links.due_date[basis.rows]),
            "expected_date": dates(prediction.expected),
            "p10_date": dates(prediction.p10),
            "p90_date": dates(prediction.p90),
            "status": basis.status,
        })
        return frame.sort_values(["expected_date", "invoice_id"], kind="stable").reset_index(drop=True)


# --- reading the ledger once ---------------------------------------------------------------------


def _monthly_mean(activity: pd.DataFrame, column: str, as_of: pd.Timestamp, months: int) -> float:
    """Mean of an Activité column over the last `months` months known at the as-of month; NaN without any."""
    if activity is None or activity.empty or column not in activity.columns:
        return float("nan")
    month = activity["month"].to_numpy(dtype="datetime64[ns]").astype("datetime64[M]")
    values = activity[column].to_numpy(dtype=float, na_value=np.nan)
    known = (month <= np.datetime64(as_of.date(), "M")) & ~np.isnan(values)
    if not known.any():
        return float("nan")
    last = np.unique(month[known])[-months:]
    return float(values[known & np.isin(month, last)].sum() / len(last))


def _quantile_days(delays: np.ndarray, fallback: float) -> np.ndarray:
    if len(delays) == 0:
        return np.full(len(LEVELS), int(round(fallback)), dtype=np.int64)
    return np.rint(np.quantile(delays, LEVELS)).astype(np.int64)


def _days_after(as_of: pd.Timestamp, values: np.ndarray) -> np.ndarray:
    return ((values.astype("datetime64[D]") - np.datetime64(as_of.date(), "D")) // np.timedelta64(1, "D")).astype(np.int64)


def plan_references(invoices: pd.DataFrame) -> np.ndarray:
    """Per invoice row, a code of its Échéancier reference (the same text, the same code), -1 when
    blank; only the filled cells are read as text."""
    codes = np.full(len(invoices), -1, dtype=np.int64)
    if "payment_plan" not in invoices.columns:
        return codes
    filled = np.flatnonzero(invoices["payment_plan"].notna().to_numpy())
    found, texts = pd.factorize(invoices["payment_plan"].to_numpy(dtype=object)[filled].astype(str))
    blank = np.array([text.strip() == "" for text in texts] + [True])
    codes[filled] = np.where(blank[found], -1, found)
    return codes


def _plans(book: Receivables, rows: np.ndarray, in_plan: np.ndarray, open_amount: np.ndarray, policy: CashPolicy,
           references: np.ndarray):
    """Instalments of the payment plans and, per open plan invoice, (first, last) instalment days.

    A plan (its Échéancier reference; `references`: `plan_references` of the invoices) pays what is
    left of all its invoices in the instalments not yet received (`nombre_echeances` less the
    distinct dates of the payments on its invoices), every `intervalle_jours` after the last
    payment received on it, the first not before the day after the as-of date (a late plan is not
    paid in one go).
    """
    links = book.links
    as_of = book.as_of
    codes, open_plans = pd.factorize(references[rows[in_plan]])  # the open plans, first seen first
    n_plans = len(open_plans)
    total = np.bincount(codes, weights=open_amount[in_plan], minlength=n_plans)
    # payments received on any invoice of each plan (dated ≤ as-of)
    plan_of_reference = np.full(int(references.max()) + 2, -1)  # the last slot, for reference -1 (none), stays -1
    plan_of_reference[open_plans] = np.arange(n_plans)
    paid_rows = links.payment_invoice
    use = (paid_rows >= 0) & (links.payment_date <= np.datetime64(as_of, "ns"))
    plan_of_payment = plan_of_reference[references[paid_rows[use]]]
    mask = plan_of_payment >= 0
    received = pd.DataFrame({"plan": plan_of_payment[mask], "day": _days_after(as_of, links.payment_date[use][mask])}).drop_duplicates()
    stats = received.groupby("plan")["day"].agg(["count", "max"]).reindex(range(n_plans))
    done = stats["count"].fillna(0).to_numpy(dtype=np.int64)
    last = stats["max"].fillna(0).to_numpy(dtype=np.int64)  # no payment yet: counted from the as-of date
    left = np.maximum(policy.plan_instalments - done, 1)
    first = np.maximum(last + policy.plan_interval_days, 1)
    plan = np.repeat(np.arange(n_plans), left)
    step = np.arange(len(plan)) - np.repeat(np.cumsum(left) - left, left)
    days = first[plan] + step * policy.plan_interval_days
    amounts = total[plan] / left[plan]
    instalments = Movements(days.astype(np.int64), amounts, np.full(len(days), "encaissements_clients", object))
    return instalments, first[codes], (first + (left - 1) * policy.plan_interval_days)[codes]


def prepare(ledger: Ledger, rules: Rules, as_of: object = None, weeks: int | None = None, *, rates: dict[str, float] | None = None,
            opening_balance: float | None = None, book: Receivables | None = None) -> Basis:
    """Read the ledger at the as-of date (default: DateArrete) for a forecast of `weeks` weeks (default: the rules').
    `book`: the receivables of the ledger's invoices and payments at that date with these `rates`,
    when a caller has them already (the KPIs of the same workbook): neither linked nor allocated again."""
    as_of = resolve_as_of(ledger, as_of)
    policy = rules.cash
    balance = ledger.params.bank_balance if opening_balance is None else opening_balance
    if balance is None or (isinstance(balance, float) and np.isnan(balance)):
        raise EncaisseError("Solde bancaire absent : renseignez la cellule SoldeBanque (Trésorerie!I1), le solde du compte à la date d'arrêté")
    calendar = make_weeks(np.datetime64(as_of.date(), "D"), int(weeks or policy.weeks))
    if book is not None and (book.as_of != as_of or book.invoices is not ledger.invoices or book.payments is not ledger.payments):
        book = None
    links = book.links if book is not None else link(ledger.invoices, ledger.payments, rates)
    # Two cores: numpy's sorts and sums leave Python's lock free, so the history and then the
    # payment-date model (most of a big ledger's time) are worked out on a second thread while
    # this one allocates the payments and reads the rest of the ledger.
    # The invoices' attributes are read once for the model's fit and its prediction, here while the
    # history is worked out, so that the second thread's share (the longer) is shorter.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="encaisse-modele") as pool:
        history_dates = pool.submit(settled_history, links, as_of)
        attributes = invoice_attributes(links.invoices)
        model = pool.submit(lambda: fit_payment_model(links, as_of, ledger.customers, history_dates.result(), attributes))
        book = book if book is not None else receivables(None, None, as_of, links=links)
        rows = np.flatnonzero(book.is_item & (book.open_by_invoice > 0))
        open_amount = book.open_by_invoice[rows]
        # the open invoices' dates, each independent of the others: half read by each thread
        half = len(rows) // 2 if len(rows) >= PARALLEL_PREDICTION else 0
        predicted = pool.submit(lambda: predicted_days(model.result(), book, rows[half:], attributes))
        settled = history_dates.result()
        context = _context(ledger, policy, as_of, calendar, book, rows, settled)
        prediction = predicted.result() if not half else \
            DatePrediction.concat(predicted_days(model.result(), book, rows[:half], attributes), predicted.result())
    (disputed, plan_refs, in_plan, status, flows, payables, opex, sales, purchases, notes, sale_delays, purchase_delays,
     shifts) = context
    invoices = links.invoices

    if policy.dispute_treatment == "apres_resolution" and disputed.any():
        category = invoices["dispute"].to_numpy(dtype=object)[rows]
        resolution = {normalize_header(name): c.resolution_days for name, c in rules.disputes.items()}
        codes, names = pd.factorize(category[disputed])  # each distinct category normalised once
        per_name = [resolution.get(normalize_header(c) if isinstance(c, str) else "", DEFAULT_RESOLUTION_DAYS) for c in names]
        days = np.array(per_name + [resolution.get("", DEFAULT_RESOLUTION_DAYS)])[codes]
        raised = links.invoices["dispute_date"].to_numpy(dtype="datetime64[ns]")[rows][disputed] if "dispute_date" in invoices.columns else \
            np.full(int(disputed.sum()), np.datetime64("NaT"), "datetime64[ns]")
        raised_day = np.where(np.isnat(raised), 0, _days_after(as_of, np.where(np.isnat(raised), np.datetime64(as_of, "ns"), raised)))
        floor = np.ones(len(rows), dtype=np.int64)
        floor[disputed] = np.maximum(raised_day + days + policy.dispute_extra_days, 1)
        prediction = prediction.floored(floor)

    plans = Movements(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, object))
    if in_plan.any():
        plans, first, last = _plans(book, rows, in_plan, open_amount, policy, plan_refs)
        expected = prediction.expected.copy(); p10 = prediction.p10.copy(); p90 = prediction.p90.copy(); points = prediction.points.copy()
        expected[in_plan], p10[in_plan], p90[in_plan] = first, first, last
        points[in_plan] = first[:, None]
        prediction = DatePrediction(expected, p10, p90, points)

    return Basis(as_of, calendar, policy, float(balance), policy.cushion_months * opex, book, rows, open_amount, status, prediction,
                 plans, flows, payables, sales, purchases, sale_delays, purchase_delays, shifts, ledger.activity,
                 ledger.payables, tuple(notes))


class _Context(NamedTuple):
    """What `_context` reads, in the order `prepare` unpacks it."""

    disputed: np.ndarray
    plan_refs: np.ndarray
    in_plan: np.ndarray
    status: np.ndarray
    flows: Movements
    payables: Movements
    opex: float
    sales: float
    purchases: float
    notes: list[Problem]
    sale_delays: np.ndarray
    purchase_delays: np.ndarray
    shifts: np.ndarray


def _context(ledger: Ledger, policy: CashPolicy, as_of: pd.Timestamp, calendar: Weeks, book: Receivables, rows: np.ndarray,
             settled: np.ndarray) -> _Context:
    """What `prepare` reads from the ledger besides the payment-date model: each open invoice's
    status, the flows, payables and activity, and the paid history."""
    # status, in order of precedence: plan, doubtful, disputed, overdue, current
    due_day = _days_after(as_of, book.links.due_date[rows])
    invoices = book.links.invoices
    disputed = is_disputed(invoices, as_of)[rows]
    plan_refs = plan_references(invoices)
    has_plan = plan_refs[rows] >= 0
    in_plan = has_plan & (policy.plan_treatment == "echeances")
    doubtful = (-due_day > policy.doubtful_days) & ~in_plan
    if policy.dispute_treatment == "exclure":
        doubtful |= disputed & ~in_plan
    status = np.select([in_plan, doubtful, disputed, due_day <= 0], [PLAN, DOUBTFUL_STATUS, DISPUTED, OVERDUE], CURRENT).astype(object)

    flows, problems = flow_movements(ledger.flows, np.datetime64(as_of.date(), "D"), calendar.last_day, policy)
    if problems:
        from encaisse.errors import InputError

        raise InputError(problems, "La table Flux (feuille Trésorerie) contient des erreurs")
    payables = payable_movements(ledger.payables, np.datetime64(as_of.date(), "D"), policy)

    notes: list[Problem] = []
    opex = _monthly_mean(ledger.activity, "opex", as_of, policy.cushion_reference_months)
    if np.isnan(opex):
        opex = 0.0
        notes.append(Problem("Activité", "aucun OPEX connu à la date d'arrêté : coussin de sécurité à 0 €"))
    sales = purchases = 0.0
    if policy.future_sales:
        sales = _monthly_mean(ledger.activity, "sales", as_of, policy.future_reference_months)
        purchases = _monthly_mean(ledger.activity, "purchases", as_of, policy.future_reference_months)
        if np.isnan(sales) or np.isnan(purchases):
            notes.append(Problem("Activité", "aucune activité connue à la date d'arrêté : ventes et achats à venir non prévus"))
        sales, purchases = (0.0 if np.isnan(v) else v / MONTH_DAYS for v in (sales, purchases))
    paid, lateness = history(book, settled)
    return _Context(disputed, plan_refs, in_plan, status, flows, payables, opex, sales, purchases, notes, _sale_delays(book, paid, lateness),
                    _purchase_delays(ledger.payables, as_of, policy), monthly_shifts(book, paid, lateness))


def _sale_delays(book: Receivables, paid: np.ndarray, lateness: np.ndarray) -> np.ndarray:
    """K equally likely days from an invoice to its full payment, over the invoices paid by the
    as-of date (`paid`, `lateness`: `history(book)`)."""
    links = book.links
    term = ((links.due_date[paid] - links.issue_date[paid]) / DAY).astype(float)
    return _quantile_days(np.maximum(term + lateness, 0.0), 30.0)


SHIFT_MONTHS = 12


def monthly_shifts(book: Receivables, paid: np.ndarray, lateness: np.ndarray) -> np.ndarray:
    """Per month of the last 12 with payments: the amount-weighted mean error (actual − predicted
    lateness, each customer's mean as prediction) of the invoices settled that month (`paid`,
    `lateness`: `history(book)`)."""
    if len(paid) == 0:
        return np.zeros(0)
    links = book.links
    group = links.invoice_customer[paid] + 1  # customer codes (-1 for none) as counting slots
    count = np.bincount(group)
    mean = np.bincount(group, weights=lateness) / np.maximum(count, 1)
    error = lateness - mean[group]
    settled = links.due_date[paid] + (lateness * 86400e9).astype("timedelta64[ns]")
    month = settled.astype("datetime64[M]").astype(np.int64)
    first = np.datetime64(book.as_of.date(), "M").astype(np.int64) - SHIFT_MONTHS + 1
    recent = month >= first
    if recent.sum() == 0:
        return np.zeros(0)
    slot = month[recent] - first  # months with payments only, in order
    weight = links.invoice_amount[paid][recent]
    present = np.bincount(slot) > 0
    shift = np.bincount(slot, weights=error[recent] * weight) / np.maximum(np.bincount(slot, weights=weight), 1e-9)
    return shift[present]


def _purchase_delays(payables: pd.DataFrame, as_of: pd.Timestamp, policy: CashPolicy) -> np.ndarray:
    """K equally likely days from a supplier bill to its payment, over the bills paid by the as-of date."""
    if payables is None or payables.empty or "paid_date" not in payables.columns:
        return _quantile_days(np.zeros(0), 30.0)
    paid = payables["paid_date"].to_numpy(dtype="datetime64[ns]")
    issued = payables["issue_date"].to_numpy(dtype="datetime64[ns]")
    priority = payables["priority"].to_numpy(dtype=object) if "priority" in payables.columns else np.full(len(payables), None, object)
    use = (paid <= np.datetime64(as_of, "ns")) & ~np.isnat(issued) & ~np.isin(priority_keys(priority), list(policy.paid_on_due_date))
    return _quantile_days(((paid[use] - issued[use]) / DAY).astype(float), 30.0)


# --- assembling the weekly table -----------------------------------------------------------------


def _with_levers(basis: Basis, levers: Levers) -> DatePrediction:
    """The predicted dates with the DSO lever phased in over the horizon (counted invoices only)."""
    if not levers.dso:
        return basis.prediction
    return basis.prediction.phased(levers.dso, basis.weeks.last_day, basis.counted)


def future_sales(basis: Basis, levers: Levers, delays: np.ndarray | None = None) -> np.ndarray:
    """Weekly receipts of the sales invoiced from the day after as-of, with margin and deposit levers."""
    weeks = basis.weeks
    if basis.sales_per_day <= 0:
        return np.zeros(weeks.count)
    delays = basis.sale_delays if delays is None else delays
    sale_day = np.arange(1, weeks.last_day + 1)
    per_day = basis.sales_per_day * (1 + levers.margin / 100)
    delays = np.maximum(np.atleast_1d(delays), 0)
    paid = phase_in(sale_day[:, None] + delays[None, :], levers.dso, weeks.last_day)
    later = weeks.totals(paid, per_day * (1 - levers.deposit) / len(delays))
    return later + weeks.totals(sale_day, per_day * levers.deposit)


def future_purchases(basis: Basis, levers: Levers, delays: np.ndarray | None = None) -> np.ndarray:
    """Weekly payments of the purchases made from the day after as-of, with DPO and DIO levers: a
    shorter stock (DIO −n days) means buying n days of cost of sales less, spread over the horizon."""
    weeks = basis.weeks
    if basis.purchases_per_day <= 0:
        return np.zeros(weeks.count)
    delays = basis.purchase_delays if delays is None else delays
    day = np.arange(1, weeks.last_day + 1)
    saved = cash_released(basis.activity, basis.as_of, delta_dio=levers.dio) if levers.dio else 0.0
    per_day = max(basis.purchases_per_day - saved / weeks.last_day, 0.0)
    delays = np.maximum(np.atleast_1d(delays), 0)
    return weeks.totals(phase_in(day[:, None] + delays[None, :], levers.dpo, weeks.last_day), per_day / len(delays))


def assemble(basis: Basis, levers: Levers = Levers()) -> CashForecast:
    """The weekly table of `basis` with the what-if `levers`."""
    weeks = basis.weeks
    prediction = _with_levers(basis, levers)
    counted = basis.counted
    amount = basis.open_amount
    per_point = (amount / prediction.points.shape[1])[:, None]
    receipts = weeks.totals(prediction.points[counted], per_point[counted])
    plans = weeks.totals(basis.plans.day, basis.plans.amount)
    doubtful = weeks.totals(prediction.points[~counted & (basis.status == DOUBTFUL_STATUS)],
                            per_point[~counted & (basis.status == DOUBTFUL_STATUS)])
    bills = basis.bills
    if levers.dpo:
        bills = payable_movements(basis.payables, np.datetime64(basis.as_of.date(), "D"), basis.policy, extra_days=levers.dpo,
                                  horizon=basis.weeks.last_day)
    other = Movements.concat(basis.flows, bills)
    lines = {key: np.zeros(weeks.count) for key in LINE_KEYS.values()}
    for line, key in LINE_KEYS.items():
        mask = other.line == line
        total = weeks.totals(other.day[mask], other.amount[mask])
        lines[key] += total if line in RECEIPT_LINES else -total
    sales = future_sales(basis, levers)
    purchases = future_purchases(basis, levers)
    lines["customer_receipts"] += receipts + plans + sales
    lines["suppliers"] += purchases
    lines[DOUBTFUL] = doubtful

    fixed = sum(lines[key] for key in RECEIPT_KEYS) - sum(lines[key] for key in DISBURSEMENT_KEYS) - receipts - sales
    closing_p10, closing_p90 = _band(basis, levers, prediction, fixed)
    result = CashForecast(basis, levers, lines, closing_p10, closing_p90)
    return replace(result, alerts=_alerts(result))


BAND_DRAWS = 200  # simulated futures for the P10–P90 band (fewer for a big ledger: at most BAND_CELLS)
BAND_CELLS = 4_000_000
BAND_SEED = 20261031  # fixed: the same ledger gives the same band on every run
PARALLEL_BAND = 20_000  # open invoices from which the band's draws are shared with a second thread


def _band(basis: Basis, levers: Levers, prediction: DatePrediction, fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P10 and P90 of the closing balance over simulated futures of the customer receipts.

    In each future every customer draws one of its K equally likely payment days for all its open
    invoices (a customer that pays late pays all its invoices late), and every customer and new
    sale moves by one month's shift of the whole customer base, drawn from the last 12 months'
    (amount-weighted mean error of each month's payments, centred). Everything else is as forecast.
    """
    weeks = basis.weeks
    counted = np.flatnonzero(basis.counted)
    points = prediction.points
    amount = basis.open_amount[counted]
    k = points.shape[1] if points.ndim == 2 and points.shape[1] else len(LEVELS)
    draws = int(max(50, min(BAND_DRAWS, BAND_CELLS // max(len(counted), 1))))
    rng = np.random.default_rng(BAND_SEED)
    customer = basis.book.links.invoice_customer[basis.rows[counted]]
    codes, _ = pd.factorize(customer)
    level = rng.integers(0, k, size=(draws, int(codes.max()) + 1 if len(codes) else 1))
    shifts = basis.shifts - basis.shifts.mean() if len(basis.shifts) else np.zeros(1)
    shift = np.rint(shifts[rng.integers(0, len(shifts), draws)]).astype(np.int64)
    totals = np.zeros((draws, weeks.count))
    if len(counted):
        # One draw at a time: a draws × invoices matrix of days, slots and weights is hundreds of
        # megabytes at a million invoices, slower to allocate and fill than the same sums draw by
        # draw (each bin sums its invoices in the same order: the same totals).
        # Slot of each day from 1 (a day is never before as-of + 1) to the first after the horizon,
        # which every later day reads: 0 before the horizon, weeks.count + 1 after, both dropped.
        last = int(weeks.edges[-1])
        slot_of_day = weeks.bucket(np.arange(last + 1)) + 1
        slots = weeks.count + 2
        first_point = counted * points.shape[1]  # of each counted invoice in the flat points, read without a copy
        flat_points = np.ascontiguousarray(points).ravel()

        def simulate(draws_done: range) -> None:
            for draw in draws_done:
                days = flat_points.take(first_point + level[draw].take(codes))
                days += shift[draw]
                np.clip(days, 1, last, out=days)
                totals[draw] += np.bincount(slot_of_day.take(days), weights=amount, minlength=slots)[1: weeks.count + 1]

        if len(counted) < PARALLEL_BAND:
            simulate(range(draws))
        else:  # half the draws on a second core: numpy's takes and counts leave Python's lock
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="encaisse-bande") as pool:
                other_half = pool.submit(simulate, range(1, draws, 2))
                simulate(range(0, draws, 2))
                other_half.result()
    if basis.sales_per_day > 0:
        for value in np.unique(shift):  # new sales keep their spread of delays, moved with the whole base
            totals[shift == value] += future_sales(basis, levers, basis.sale_delays + value)
    closing = basis.opening_balance + np.cumsum(fixed[None, :] + totals, axis=1)
    return np.quantile(closing, 0.1, axis=0), np.quantile(closing, 0.9, axis=0)


def _alerts(result: CashForecast) -> tuple[Alert, ...]:
    closing = result.closing
    weeks = result.weeks
    labels = weeks.labels
    starts, ends = pd.to_datetime(weeks.starts), pd.to_datetime(weeks.ends)
    cushion = result.basis.cushion
    return tuple(
        Alert(int(w), labels[w], starts[w], ends[w], float(closing[w]), cushion, "decouvert" if closing[w] < 0 else "coussin")
        for w in np.flatnonzero(closing < cushion)
    )


def forecast(ledger: Ledger, rules: Rules, as_of: object = None, weeks: int | None = None, levers: Levers = Levers(), *,
             rates: dict[str, float] | None = None, book: Receivables | None = None) -> CashForecast:
    """The plan de trésorerie of `ledger` at `as_of` (default: DateArrete) over `weeks` weeks (default: the rules');
    `book`: as for `prepare`."""
    return assemble(prepare(ledger, rules, as_of, weeks, rates=rates, book=book), levers)
