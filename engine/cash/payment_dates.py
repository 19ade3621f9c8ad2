"""When will each open invoice be paid? A small, robust, vectorised payment-date model.

The model learns only from invoices fully paid on or before the as-of date (payments dated
after it are ignored). It works in *lateness*: days between due date and the date the invoice
became fully paid (negative when paid early).

    lateness ≈ intercept + Σ coef·(attribute − training mean) + customer effect + residual

* History: the invoices fully paid on or before the as-of date; beyond MAX_HISTORY of them,
  each customer's most recently settled ones (as many per customer as the bound allows).
* Attributes (each optional; a missing value counts as the training mean, i.e. no effect):
  dispute (0/1: Litige not blank), log(1 + amount), terms length (due − issue, days),
  sending channel (1 = papier, 0 = électronique) and the customer's segment (one 0/1 column
  per segment seen in training; taken from a `segment` column of the invoices, else from
  `customers`). Attributes constant over the training set are left out.
* Coefficients: least absolute deviations (the metric is a mean absolute error), solved by
  iteratively reweighted least squares with a light ridge (RIDGE) on the attributes, on at most
  LAD_SAMPLE training invoices (an evenly strided sample of a bigger history).
* Customer effect: the median of the customer's residuals, shrunk toward 0 (the overall
  behaviour) with the empirical-Bayes weight n / (n + k), n = the customer's paid invoices,
  k = `shrinkage` (DEFAULT_SHRINKAGE). Coefficients and customer effects are fitted in turn
  (ROUNDS rounds). A customer without history gets the overall behaviour.
* Distribution: the training residuals' quantiles at `levels` equal-mass levels
  ((j + ½) / L, L odd so the middle atom is the median) added to each invoice's point
  forecast give L equally likely payment dates (rounded to days). An invoice still open at
  as-of is predicted *conditionally on not being paid yet*: the atoms on or before as-of are
  dropped and the rest renormalised; when none is left, the whole mass goes to as-of + 1.
  expected_date is the conditional median, p10/p90 the conditional 10 % / 90 % quantiles;
  `spread` sums the atoms' masses per week.

Everything is vectorised over invoices (loops run over fitting rounds, attributes and weeks only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from encaisse.kpi.collection import settlement_dates as settled_on
from encaisse.ledger import Links, link
from encaisse.tables import normalize_header

DEFAULT_SHRINKAGE = 3.0  # k in n / (n + k): a customer with 3 paid invoices keeps half its own effect
LEVELS = 41  # equal-mass atoms of the residual distribution (odd: the middle one is the median)
RIDGE = 1.0  # ridge penalty on the attribute coefficients (not the intercept)
ROUNDS = 4  # alternations between coefficients and customer effects
IRLS_STEPS = 8
LAD_SAMPLE = 20_000  # training invoices used for the attributes' coefficients (all of them below this)
MAX_HISTORY = 250_000  # settled invoices learned from at most: beyond, each customer's most recent ones
_EPS = 0.5  # days: floor of |residual| in the IRLS weights

_PAPER = frozenset({"papier", "paper", "courrier", "poste", "lettre"})
_ELECTRONIC = frozenset({"electronique", "electronic", "email", "mail", "courriel", "edi", "dematerialise", "pdf", "portail"})


@dataclass(frozen=True, eq=False)
class PaymentModel:
    """A fitted payment-date model (see the module's docstring). Built by `fit`, `naive_model`."""

    as_of: pd.Timestamp
    intercept: float  # days after due date, for an invoice with average attributes
    feature_names: tuple[str, ...]
    center: np.ndarray  # training mean of each attribute
    coef: np.ndarray  # days per unit of (attribute − center)
    customers: pd.Index  # customer ids with history
    effects: np.ndarray  # shrunk customer effect, days (aligned with customers)
    counts: np.ndarray  # paid invoices per customer in training
    segments: pd.Series  # customer_id -> segment, as given to fit
    residual_quantiles: np.ndarray  # sorted, one per level
    levels: np.ndarray
    shrinkage: float
    n_paid: int  # training invoices


def _day(value: object) -> pd.Timestamp:
    return pd.Timestamp(value).normalize()


def _days(values: pd.Series | np.ndarray) -> np.ndarray:
    """Dates as int64 days since epoch (NaT -> INT64 min)."""
    return np.asarray(pd.to_datetime(values), dtype="datetime64[D]").astype(np.int64)


def _keys(values: pd.Series) -> np.ndarray:
    """Identifiers as an object array (canonical frames hold them as text)."""
    return values.to_numpy(dtype=object)


def _column(frame: pd.DataFrame, column: str, rows: np.ndarray | None) -> pd.Series:
    values = frame[column]
    return values if rows is None else values.iloc[rows]


def _array(frame: pd.DataFrame, column: str, rows: np.ndarray | None, dtype: object) -> np.ndarray:
    """A column as an array of `dtype` at row positions `rows` (all when None): the whole column
    converted, then the rows taken (a Series' iloc also builds the rows' index)."""
    values = frame[column].to_numpy(dtype=dtype)
    return values if rows is None else values[rows]


def _text_codes(frame: pd.DataFrame, column: str, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """A text column (at row positions `rows`, all when None) as codes into its distinct stripped
    values (-1 where blank or empty) and those values (for most of the rows, those of the whole
    column: some may be used by no row); None when the column is absent. Only the distinct values
    are handled as text."""
    if column not in frame.columns:
        return None
    values = frame[column].to_numpy(dtype=object)  # hashed faster than the Series (no copy for text columns)
    # most of the rows (a big history): the whole column hashed in its order, then the rows' codes
    # taken, is cheaper than gathering the rows' texts first
    whole = rows is not None and 2 * len(rows) > len(values)
    codes, distinct = pd.factorize(values if rows is None or whole else values[rows])
    texts = np.array([str(value).strip() for value in distinct] + [""], dtype=object)
    merged, names = pd.factorize(texts)  # "a" and "a " are one value
    merged = np.where(texts == "", -1, merged)[:-1]
    if whole:
        codes = codes[rows]
    return np.where(codes >= 0, merged[codes], -1) if len(merged) else np.full(len(codes), -1), np.asarray(names, dtype=object)


def _filled(frame: pd.DataFrame, column: str) -> np.ndarray | None:
    """A text column as a str array, blank ("") where empty or missing; None when absent."""
    found = _text_codes(frame, column)
    if found is None:
        return None
    codes, names = found
    return np.append(names, "").astype(object)[codes]


def settlement_dates(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object = None) -> pd.Series:
    """Per invoice (invoices' index): the date it became fully paid, counting only payments
    matched to it (invoice_id) and dated on or before `as_of` (all when None); NaT when not fully paid.

    The payments are matched by the ledger's one linking and the date is the KPIs' own
    (`encaisse.kpi.settlement_dates`: the day the matched payments first add up to the amount, so
    an invoice paid in instalments is settled on the instalment that completes it).
    """
    day = as_of if as_of is not None else "2262-01-01"  # every payment: the latest date pandas holds
    return pd.Series(settled_on(link(invoices, payments), day), index=invoices.index)


def _segment_map(customers: pd.DataFrame | None) -> pd.Series:
    if customers is None or "segment" not in customers.columns or len(customers) == 0:
        return pd.Series(dtype="object")
    segments = _filled(customers, "segment")
    keep = segments != ""
    ids = _keys(customers["customer_id"])[keep]
    first = ~pd.Index(ids).duplicated()
    return pd.Series(segments[keep][first], index=ids[first])


def _customer_codes(frame: pd.DataFrame, rows: np.ndarray | None, links: Links | None) -> tuple[np.ndarray, np.ndarray]:
    """Per invoice, a code into the distinct customer ids returned with it (first seen first, as
    pd.factorize orders them; -1 when blank). With the ledger's `links`, from its customer codes
    rather than hashing the ids again."""
    if links is not None:
        shared = links.invoice_customer if rows is None else links.invoice_customer[rows]
        if not (shared < 0).any():
            codes, used = pd.factorize(shared)
            return codes, links.customers[used]
    codes, distinct = pd.factorize(_array(frame, "customer_id", rows, object))
    return codes, np.asarray(distinct, dtype=object)


def _segment_codes(own: tuple[np.ndarray, np.ndarray] | None, segments: pd.Series,
                   customer: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per invoice, its segment — its own (`own`: the codes and names of the invoices' `segment`
    column, None without one) if given, else its customer's — as a code into the distinct segment
    names returned with it (-1 when unknown)."""
    codes, distinct = customer
    names = np.unique(segments.to_numpy(dtype=object).astype(str)) if len(segments) else np.zeros(0, dtype=object)
    if own is not None:
        names = np.union1d(names, own[1].astype(str))
    names = names.astype(object)
    vocabulary = pd.Index(names)
    result = np.full(len(codes), -1, dtype=np.int64)
    if len(segments) and len(distinct):
        where = segments.index.get_indexer(distinct)
        of_customer = np.where(where >= 0, vocabulary.get_indexer(segments.to_numpy(dtype=object)[np.maximum(where, 0)]), -1)
        result = np.where(codes >= 0, np.append(of_customer, -1)[codes], -1)
    if own is not None:
        own_codes, own_names = own
        of_own = np.append(vocabulary.get_indexer(own_names), -1)[own_codes]
        result = np.where(own_codes >= 0, of_own, result)
    return result, names


def _channel(frame: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
    """1.0 papier, 0.0 électronique, NaN unknown."""
    found = _text_codes(frame, "channel", rows)
    if found is None:
        return np.full(len(frame) if rows is None else len(rows), np.nan)
    codes, distinct = found
    words = [normalize_header(value) for value in distinct]  # a few distinct values
    code = np.array([1.0 if w in _PAPER else 0.0 if w in _ELECTRONIC else np.nan for w in words] + [np.nan])
    return code[codes]


class InvoiceAttributes(NamedTuple):
    """The invoices' own attributes the model reads (NaN = unknown): worked out once for a whole
    table, a fit and a prediction then take those of their rows (`at`)."""

    dispute: np.ndarray  # 1.0 when Litige is not blank
    log_amount: np.ndarray
    terms: np.ndarray  # due − issue, days
    paper: np.ndarray  # 1.0 papier, 0.0 électronique
    segment: tuple[np.ndarray, np.ndarray] | None  # the `segment` column's codes and names; None without one

    def at(self, rows: np.ndarray | None) -> "InvoiceAttributes":
        if rows is None:
            return self
        segment = None if self.segment is None else (self.segment[0][rows], self.segment[1])
        return InvoiceAttributes(self.dispute[rows], self.log_amount[rows], self.terms[rows], self.paper[rows], segment)


def invoice_attributes(frame: pd.DataFrame, rows: np.ndarray | None = None) -> InvoiceAttributes:
    """The `InvoiceAttributes` of the invoices at row positions `rows` (all when None)."""
    n = len(frame) if rows is None else len(rows)
    dispute = _text_codes(frame, "dispute", rows)
    amount = _array(frame, "amount", rows, float)
    due = _array(frame, "due_date", rows, "datetime64[D]")
    issue = _array(frame, "issue_date", rows, "datetime64[D]") if "issue_date" in frame.columns else \
        np.full(n, np.datetime64("NaT"), "datetime64[D]")
    return InvoiceAttributes(
        dispute=np.zeros(n) if dispute is None else (dispute[0] >= 0).astype(float),
        log_amount=np.log1p(np.clip(amount, 0.0, None)),
        terms=np.where(np.isnat(due) | np.isnat(issue), np.nan, (due - issue).astype(np.int64).astype(float)),
        paper=_channel(frame, rows),
        segment=_text_codes(frame, "segment", rows),
    )


def _features(frame: pd.DataFrame, rows: np.ndarray | None, segments: pd.Series, segment_levels: tuple[str, ...] | None,
              customer: tuple[np.ndarray, np.ndarray], attributes: InvoiceAttributes | None = None,
              ) -> tuple[list[np.ndarray], tuple[str, ...], tuple[str, ...]]:
    """Raw attribute columns of the invoices at row positions `rows` (all when None; NaN = unknown),
    the attributes' names and the segment levels (those seen, sorted, when `segment_levels` is None).
    `attributes`: the whole table's (`invoice_attributes`), when worked out already."""
    own = attributes.at(rows) if attributes is not None else invoice_attributes(frame, rows)
    columns = [own.dispute, own.log_amount, own.terms, own.paper]
    names = ["dispute", "log_amount", "terms", "paper"]
    if segment_levels is None or segment_levels:
        segment, vocabulary = _segment_codes(own.segment, segments, customer)
        if segment_levels is None:
            seen = np.zeros(len(vocabulary) + 1, dtype=bool)
            seen[segment] = True  # -1 marks the last, unknown
            segment_levels = tuple(sorted(str(name) for name in vocabulary[seen[:-1]] if name != ""))
        known = segment >= 0
        where = pd.Index(vocabulary).get_indexer(list(segment_levels))
        for level, code in zip(segment_levels, where):
            columns.append(np.where(known, (segment == code).astype(float), np.nan))
            names.append(f"segment={level}")
    return columns, tuple(names), tuple(segment_levels)


def _lad(x: np.ndarray, y: np.ndarray, weights: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """Least absolute deviations with intercept (first of the result), by IRLS, ridge RIDGE on the slopes."""
    n, p = x.shape
    design = np.column_stack([np.ones(n), x])
    penalty = np.diag(np.r_[0.0, np.full(p, RIDGE)])
    w = weights if start is None else weights / np.maximum(np.abs(y - design @ start), _EPS)
    beta = np.zeros(p + 1)
    for _ in range(IRLS_STEPS):
        # einsum, not `@`: a tall thin product through a multithreaded BLAS costs 20x more on a busy machine
        weighted = design * w[:, None]
        gram = np.einsum("ij,ik->jk", weighted, design)
        beta = np.linalg.solve(gram + penalty + 1e-9 * np.eye(p + 1), np.einsum("ij,i->j", weighted, y))
        w = weights / np.maximum(np.abs(y - design @ beta), _EPS)
    return beta


def _combination(columns: list[np.ndarray], weights: np.ndarray, n: int) -> np.ndarray:
    """Σ weight × column, column by column (no matrix of a big history built for it)."""
    total = np.zeros(n)
    for column, weight in zip(columns, weights):
        if weight:
            total += weight * column
    return total


class _GroupSorter:
    """Medians per group code 0..n_groups-1 of values that change from one fitting round to the
    next: what depends on the groups only is worked out once, `sort` takes each round's values."""

    def __init__(self, codes: np.ndarray, n_groups: int):
        self.codes = codes
        self.counts = np.bincount(codes, minlength=n_groups)
        self.starts = np.r_[0, np.cumsum(self.counts)[:-1]]
        self.present = np.flatnonzero(self.counts > 0)
        self.sorted_codes = np.repeat(np.arange(n_groups), self.counts)  # codes in sorted order, the same every round
        self.n_groups = n_groups
        self.order = np.zeros(0, dtype=np.int64)
        self.sorted_values = np.zeros(0)

    def sort(self, values: np.ndarray) -> "_GroupSorter":
        """Take `values` (one per code), ordered by group then value: an argsort of a float key, the
        code plus the value scaled into [0, 1) (several times faster than np.lexsort; values closer
        than ~1e-9 of their range may come in either order, which moves a median by no more). A
        round's values are close to the last round's: sorted from the last order (a stable sort
        of nearly sorted keys), they cost a fraction of a fresh sort."""
        if len(values):
            low, high = float(values.min()), float(values.max())
            if len(self.order) == len(values):
                # the key in the last order, from the values read once in that order (the codes in
                # it are the sorted codes): the same keys, one gather of a million values fewer
                last = values[self.order]
                moved = np.argsort(self.sorted_codes + (last - low) / (high - low + 1.0), kind="stable")
                self.order = self.order[moved]
                self.sorted_values = last[moved]
                return self
            self.order = np.argsort(self.codes + (values - low) / (high - low + 1.0))
        else:
            self.order = np.zeros(0, dtype=np.int64)
        self.sorted_values = values[self.order]
        return self

    def median(self) -> np.ndarray:
        """Per group, the median of its values (mean of the two middle ones for an even count); 0 for an empty group."""
        result = np.zeros(self.n_groups)
        starts, counts = self.starts[self.present], self.counts[self.present]
        result[self.present] = (self.sorted_values[starts + (counts - 1) // 2] + self.sorted_values[starts + counts // 2]) / 2
        return result

    def median_of_others(self) -> np.ndarray:
        """Per value, the median of the *other* values of its group (0 when it is alone)."""
        group = self.sorted_codes
        start, others = self.starts[group], self.counts[group] - 1
        rank = np.arange(len(group)) - start
        lower, upper = (others - 1) // 2, others // 2  # positions among the others
        last = len(group) - 1
        lower_index = np.clip(start + lower + (lower >= rank), 0, last)
        upper_index = np.clip(start + upper + (upper >= rank), 0, last)
        result = np.empty(len(group))
        result[self.order] = np.where(others > 0, (self.sorted_values[lower_index] + self.sorted_values[upper_index]) / 2, 0.0)
        return result


def _stable_order(values: np.ndarray) -> np.ndarray:
    """np.argsort(values, kind="stable") of non-negative integers, in their smallest type."""
    return np.argsort(values.astype(np.min_scalar_type(int(values.max()) if len(values) else 0)), kind="stable")


def _most_recent(rows: np.ndarray, settled: np.ndarray, invoices: pd.DataFrame, links: Links | None, limit: int) -> np.ndarray:
    """The settled invoices at `rows`, or when there are more than `limit`, each customer's most
    recently settled ones, as many per customer as `limit` allows for all: a customer's latest
    invoices say how it pays now, every customer keeps a history, and a big ledger's fit costs
    the same whatever its age. Row positions in increasing order."""
    if len(rows) <= limit:
        return rows
    customer, distinct = _customer_codes(invoices, rows, links)
    per_customer = max(1, limit // max(len(distinct), 1))
    day = settled[rows].astype("datetime64[D]").astype(np.int64)
    # by customer, the latest settled first (ties: the first row): two stable sorts of small
    # non-negative integers, which numpy sorts by radix when they fit 16 bits (a lexsort of the
    # two keys costs three times more)
    order = _stable_order(day.max() - day)
    order = order[_stable_order(customer[order] + 1)]
    grouped = customer[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    return np.sort(rows[order[rank < per_customer]])


def fit(
    invoices: pd.DataFrame,
    payments: pd.DataFrame | None,
    as_of: object,
    customers: pd.DataFrame | None = None,
    *,
    shrinkage: float = DEFAULT_SHRINKAGE,
    levels: int = LEVELS,
    links: Links | None = None,
    settled: np.ndarray | None = None,
    max_history: int = MAX_HISTORY,
    attributes: InvoiceAttributes | None = None,
) -> PaymentModel:
    """Learn lateness from the invoices fully paid on or before `as_of` (later payments ignored).

    `links` (`encaisse.ledger.link` of these invoices and payments) and `settled` (its
    `encaisse.kpi.settlement_dates` at `as_of`, worked out at least for the invoices of positive
    amount) and `attributes` (`invoice_attributes` of the whole table) spare a caller that has them
    computing them again. A history of more than
    `max_history` settled invoices is cut to each customer's most recent ones (`_most_recent`)."""
    as_of = _day(as_of)
    segments = _segment_map(customers)
    amount = invoices["amount"].to_numpy(dtype=float)
    if settled is None:
        settled = settled_on(links if links is not None else link(invoices, payments), as_of, amount > 0)
    due = invoices["due_date"].to_numpy(dtype="datetime64[D]")
    rows = _most_recent(np.flatnonzero(~np.isnat(settled) & (amount > 0) & ~np.isnat(due)), settled, invoices, links, max_history)
    late = (settled[rows].astype("datetime64[D]") - due[rows]).astype(np.int64).astype(float)
    level_grid = (np.arange(levels) + 0.5) / levels

    customer = _customer_codes(invoices, rows, links)
    raw, names, _ = _features(invoices, rows, segments, None, customer, attributes)
    # column by column: a big history's attribute matrix is read a few times, not ten
    center, centered = np.zeros(len(raw)), []
    for j, column in enumerate(raw):
        known = ~np.isnan(column)
        center[j] = column[known].sum() / max(int(known.sum()), 1)
        centered.append(np.where(known, column, center[j]) - center[j])
    keep = np.array([len(rows) > 0 and float(column.std()) > 1e-9 for column in centered], dtype=bool)
    codes, uniques = customer
    n_customers = len(uniques)
    counts = np.bincount(codes, minlength=n_customers).astype(float)

    coef = np.zeros(len(raw))
    intercept = 0.0
    effects = np.zeros(n_customers)
    residuals = np.zeros(0)
    if len(rows):
        weights = np.ones(len(rows))
        kept = [column for column, used in zip(centered, keep) if used]
        beta = None
        # the attributes' few coefficients need no more than LAD_SAMPLE invoices: a big ledger's are
        # estimated on an evenly strided sample (deterministic), the customer effects on all of them
        sample = np.arange(0, len(rows), max(1, -(-len(rows) // LAD_SAMPLE)))
        sampled = np.column_stack([column[sample] for column in kept]) if kept else np.zeros((len(sample), 0))
        by_customer = _GroupSorter(codes, n_customers)
        for _ in range(ROUNDS):
            beta = _lad(sampled, (late - effects[codes])[sample], weights[sample], beta)
            intercept, slopes = float(beta[0]), beta[1:]
            base = intercept + _combination(kept, slopes, len(rows))
            effects = counts / (counts + shrinkage) * by_customer.sort(late - base).median()
        coef[keep] = slopes
        # Spread from honest residuals: each invoice against its customer's effect computed
        # without it (as a future invoice will be), so the quantiles are not too narrow.
        others = counts[codes] - 1
        loo_effects = others / (others + shrinkage) * by_customer.median_of_others()
        residuals = late - base - loo_effects
        residuals = residuals - np.median(residuals)  # the point forecast stays the distribution's median
    spread_days = np.quantile(residuals, level_grid) if len(residuals) else np.zeros(levels)
    return PaymentModel(
        as_of=as_of, intercept=intercept, feature_names=names, center=center, coef=coef,
        customers=pd.Index(uniques, dtype=object), effects=effects, counts=counts, segments=segments,
        residual_quantiles=spread_days, levels=level_grid, shrinkage=float(shrinkage), n_paid=int(len(rows)),
    )


def naive_model(as_of: object, levels: int = 1) -> PaymentModel:
    """The reference: every invoice paid on its due date (as-of + 1 when already overdue)."""
    return PaymentModel(
        as_of=_day(as_of), intercept=0.0, feature_names=(), center=np.zeros(0), coef=np.zeros(0),
        customers=pd.Index([], dtype="object"), effects=np.zeros(0), counts=np.zeros(0),
        segments=pd.Series(dtype="object"), residual_quantiles=np.zeros(levels),
        levels=(np.arange(levels) + 0.5) / levels, shrinkage=0.0, n_paid=0,
    )


def lateness(model: PaymentModel, invoices: pd.DataFrame, rows: np.ndarray | None = None, *, links: Links | None = None,
             attributes: InvoiceAttributes | None = None) -> np.ndarray:
    """Point forecast of each invoice's lateness in days (unconditional, not rounded); of the
    invoices at row positions `rows` only when given. `links` (`encaisse.ledger.link` of these
    invoices) spares hashing their customer ids again, `attributes` (`invoice_attributes` of the
    whole table) reading their attributes again."""
    result = np.full(len(invoices) if rows is None else len(rows), model.intercept)
    customer = _customer_codes(invoices, rows, links)
    if len(model.feature_names) and model.coef.any():
        segment_levels = tuple(name.split("=", 1)[1] for name in model.feature_names if name.startswith("segment="))
        raw, _, _ = _features(invoices, rows, model.segments, segment_levels, customer, attributes)
        centered = [np.where(np.isnan(column), center, column) - center for column, center in zip(raw, model.center)]
        result = result + _combination(centered, model.coef, len(result))
    if len(model.customers):
        codes, distinct = customer
        where = np.append(model.customers.get_indexer(distinct), -1)[codes]  # each distinct id looked up once
        result = result + np.where(where >= 0, model.effects[where], 0.0)
    return result


def _conditional_atoms(model: PaymentModel, invoices: pd.DataFrame, as_of: object, rows: np.ndarray | None,
                       links: Links | None = None, attributes: InvoiceAttributes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(atoms, alive): the payment-date atoms (n × L, int days since epoch, sorted per row) and how
    many of each row's are after `as_of` — the last ones, as a row is sorted; all L of them, moved
    to as-of + 1, when none is."""
    as_of_day = int(np.datetime64(_day(as_of), "D").astype(np.int64))
    due = pd.to_datetime(_column(invoices, "due_date", rows)).to_numpy(dtype="datetime64[D]")
    due_days = np.where(np.isnat(due), as_of_day, due.astype(np.int64))
    center = lateness(model, invoices, rows, links=links, attributes=attributes)
    atoms = due_days[:, None] + np.rint(center[:, None] + model.residual_quantiles[None, :]).astype(np.int64)
    alive = (atoms > as_of_day).sum(axis=1)
    none = alive == 0
    atoms[none] = as_of_day + 1
    alive[none] = atoms.shape[1]
    return atoms, alive


def distribution(model: PaymentModel, open_invoices: pd.DataFrame, as_of: object, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Payment-date atoms (n × L, int days since epoch, sorted per row) and their masses (rows sum to 1),
    conditional on not being paid on or before `as_of`; of the invoices at row positions `rows` only when given."""
    atoms, alive = _conditional_atoms(model, open_invoices, as_of, rows)
    mass = np.arange(atoms.shape[1])[None, :] >= atoms.shape[1] - alive[:, None]
    return atoms, mass / alive[:, None]


def quantiles(model: PaymentModel, open_invoices: pd.DataFrame, as_of: object, levels: object, rows: np.ndarray | None = None, *,
              links: Links | None = None, attributes: InvoiceAttributes | None = None) -> np.ndarray:
    """n × len(levels) int days since epoch: each invoice's payment date at each level of its
    conditional distribution (`distribution`), the first atom whose cumulative mass reaches the
    level. The m atoms after as-of weigh 1/m each, so that is the ⌈m·level⌉-th of them: no
    cumulative sums over the atoms (a tolerance of 1e-9 on the level, as on the masses' sums).
    `links`, `attributes`: as for `lateness`."""
    atoms, alive = _conditional_atoms(model, open_invoices, as_of, rows, links, attributes)
    levels = np.asarray(levels, dtype=float)
    reached = np.maximum(np.ceil(alive[:, None] * (levels[None, :] - 1e-9)).astype(np.int64), 1)
    return np.take_along_axis(atoms, atoms.shape[1] - alive[:, None] + reached - 1, axis=1)


def _dates(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[ns]")


def predict(model: PaymentModel, open_invoices: pd.DataFrame, as_of: object) -> pd.DataFrame:
    """invoice_id, expected_date (conditional median), p10_date, p90_date; open_invoices' index and order."""
    median, p10, p90 = quantiles(model, open_invoices, as_of, (0.5, 0.1, 0.9)).T
    return pd.DataFrame({
        "invoice_id": open_invoices["invoice_id"].to_numpy(),
        "expected_date": _dates(median),
        "p10_date": _dates(p10),
        "p90_date": _dates(p90),
    }, index=open_invoices.index)


def week_edges(as_of: object, weeks: int) -> np.ndarray:
    """weeks + 1 dates: week w is [edges[w], edges[w+1]), the first starting the day after `as_of`."""
    start = np.datetime64(_day(as_of), "D") + 1
    return (start + 7 * np.arange(weeks + 1)).astype("datetime64[ns]")


def spread(model: PaymentModel, open_invoices: pd.DataFrame, as_of: object, edges: object) -> np.ndarray:
    """n_invoices × n_weeks: probability that each invoice is paid in [edges[w], edges[w+1]).
    Mass outside the edges is left out (rows may sum to less than 1)."""
    atoms, mass = distribution(model, open_invoices, as_of)
    bounds = np.asarray(pd.to_datetime(np.asarray(edges)), dtype="datetime64[D]").astype(np.int64)
    result = np.zeros((len(atoms), len(bounds) - 1))
    for w in range(len(bounds) - 1):  # a few weeks
        result[:, w] = (mass * ((atoms >= bounds[w]) & (atoms < bounds[w + 1]))).sum(axis=1)
    return result


def expected_receipts(model: PaymentModel, open_invoices: pd.DataFrame, as_of: object, edges: object) -> np.ndarray:
    """Expected receipts per week: open amount (`open_amount` when given, else `amount`) spread by `spread`."""
    column = "open_amount" if "open_amount" in open_invoices.columns else "amount"
    return open_invoices[column].to_numpy(dtype=float) @ spread(model, open_invoices, as_of, edges)
