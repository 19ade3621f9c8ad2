"""When will each open invoice be paid? A small, robust, vectorised payment-date model.

The model learns only from invoices fully paid on or before the as-of date (payments dated
after it are ignored). It works in *lateness*: days between due date and the date the invoice
became fully paid (negative when paid early).

    lateness ≈ intercept + Σ coef·(attribute − training mean) + customer effect + residual

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

Everything is vectorised over invoices (loops run over fitting rounds and weeks only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from encaisse.tables import normalize_header

DEFAULT_SHRINKAGE = 3.0  # k in n / (n + k): a customer with 3 paid invoices keeps half its own effect
LEVELS = 41  # equal-mass atoms of the residual distribution (odd: the middle one is the median)
RIDGE = 1.0  # ridge penalty on the attribute coefficients (not the intercept)
ROUNDS = 4  # alternations between coefficients and customer effects
IRLS_STEPS = 8
LAD_SAMPLE = 20_000  # training invoices used for the attributes' coefficients (all of them below this)
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


def _filled(frame: pd.DataFrame, column: str) -> np.ndarray | None:
    """A text column as a str array, blank ("") where empty or missing; None when absent."""
    if column not in frame.columns:
        return None
    values = frame[column].to_numpy(dtype=object)
    present = pd.notna(values)
    result = np.full(len(values), "", dtype=object)
    result[present] = np.strings.strip(values[present].astype(str)).astype(object)
    return result


def settlement_dates(invoices: pd.DataFrame, payments: pd.DataFrame | None, as_of: object = None) -> pd.Series:
    """Per invoice (invoices' index): the date it became fully paid, counting only payments
    matched to it (invoice_id) and dated on or before `as_of` (all when None); NaT when not fully paid.

    The payments are matched by the ledger's one linking and the date is the KPIs' own
    (`encaisse.kpi.settlement_dates`: the day the matched payments first add up to the amount, so
    an invoice paid in instalments is settled on the instalment that completes it).
    """
    from encaisse.kpi.collection import settlement_dates as settled_on
    from encaisse.ledger import link

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


def _invoice_segments(frame: pd.DataFrame, segments: pd.Series) -> pd.Series:
    """Per invoice: its own `segment` if given, else its customer's; "" when unknown."""
    mapped = np.full(len(frame), "", dtype=object)
    if len(segments):
        where = segments.index.get_indexer(_keys(frame["customer_id"]))
        mapped = np.where(where >= 0, segments.to_numpy(dtype=object)[where], "")
    own = _filled(frame, "segment")
    return mapped if own is None else np.where(own != "", own, mapped)


def _channel(frame: pd.DataFrame) -> np.ndarray:
    """1.0 papier, 0.0 électronique, NaN unknown."""
    values = _filled(frame, "channel")
    if values is None:
        return np.full(len(frame), np.nan)
    distinct, inverse = np.unique(values.astype(str), return_inverse=True)
    words = [normalize_header(value) for value in distinct]  # a few distinct values
    code = np.array([1.0 if w in _PAPER else 0.0 if w in _ELECTRONIC else np.nan for w in words] or [np.nan])
    return code[inverse]


def _features(frame: pd.DataFrame, segments: pd.Series, segment_levels: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Raw attribute matrix (NaN = unknown) and the attributes' names."""
    n = len(frame)
    columns = []
    dispute = _filled(frame, "dispute")
    columns.append(np.zeros(n) if dispute is None else (dispute != "").astype(float))
    amount = frame["amount"].to_numpy(dtype=float)
    columns.append(np.log1p(np.clip(amount, 0.0, None)))
    due = frame["due_date"].to_numpy(dtype="datetime64[D]")
    issue = frame["issue_date"].to_numpy(dtype="datetime64[D]") if "issue_date" in frame.columns else np.full(n, np.datetime64("NaT"), "datetime64[D]")
    terms = np.where(np.isnat(due) | np.isnat(issue), np.nan, (due - issue).astype(np.int64).astype(float))
    columns.append(terms)
    columns.append(_channel(frame))
    names = ["dispute", "log_amount", "terms", "paper"]
    if segment_levels:
        segment = _invoice_segments(frame, segments)
        known = segment != ""
        for level in segment_levels:
            columns.append(np.where(known, (segment == level).astype(float), np.nan))
            names.append(f"segment={level}")
    matrix = np.column_stack(columns) if columns else np.zeros((n, 0))
    return matrix, tuple(names)


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


def _by_group_then_value(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The order of np.lexsort((values, codes)) by one argsort of a float key (several times faster):
    code + the value scaled into [0, 1)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    low, high = float(values.min()), float(values.max())
    return np.argsort(codes + (values - low) / (high - low + 1.0), kind="stable")


def _group_median(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of `values` per group code 0..n_groups-1 (mean of the two middle values for even counts)."""
    order = _by_group_then_value(codes, values)
    sorted_codes, sorted_values = codes[order], values[order]
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    present = counts > 0
    lower = starts + (counts - 1) // 2
    upper = starts + counts // 2
    result = np.zeros(n_groups)
    result[present] = (sorted_values[lower[present]] + sorted_values[upper[present]]) / 2
    assert (sorted_codes[lower[present]] == np.flatnonzero(present)).all()
    return result


def _leave_one_out_median(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Per element: the median of the *other* values of its group (0 when it is alone)."""
    order = np.lexsort((values, codes))
    sorted_values = values[order]
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    start, count = starts[codes[order]], counts[codes[order]]
    rank = np.arange(len(values)) - start
    others = count - 1
    lower, upper = (others - 1) // 2, others // 2  # positions among the others
    lower_index = start + lower + (lower >= rank)
    upper_index = start + upper + (upper >= rank)
    last = len(values) - 1
    median = (sorted_values[np.clip(lower_index, 0, last)] + sorted_values[np.clip(upper_index, 0, last)]) / 2
    result = np.empty(len(values))
    result[order] = np.where(others > 0, median, 0.0)
    return result


def fit(
    invoices: pd.DataFrame,
    payments: pd.DataFrame | None,
    as_of: object,
    customers: pd.DataFrame | None = None,
    *,
    shrinkage: float = DEFAULT_SHRINKAGE,
    levels: int = LEVELS,
) -> PaymentModel:
    """Learn lateness from the invoices fully paid on or before `as_of` (later payments ignored)."""
    as_of = _day(as_of)
    segments = _segment_map(customers)
    settled = settlement_dates(invoices, payments, as_of)
    amount = invoices["amount"].to_numpy(dtype=float)
    train_mask = settled.notna().to_numpy() & (amount > 0) & invoices["due_date"].notna().to_numpy()
    wanted = [c for c in ("invoice_id", "customer_id", "issue_date", "due_date", "amount", "dispute", "channel", "segment") if c in invoices.columns]
    train = invoices.loc[train_mask, wanted]
    late = (settled.to_numpy()[train_mask].astype("datetime64[D]") - train["due_date"].to_numpy(dtype="datetime64[D]")).astype(np.int64).astype(float)
    level_grid = (np.arange(levels) + 0.5) / levels

    segment_levels = tuple(sorted(set(_invoice_segments(train, segments)) - {""}))
    raw, names = _features(train, segments, segment_levels)
    known = ~np.isnan(raw)
    center = np.where(known, raw, 0.0).sum(axis=0) / np.maximum(known.sum(axis=0), 1)
    filled = np.where(np.isnan(raw), center, raw)
    x = filled - center
    keep = (x.std(axis=0) > 1e-9) if len(train) else np.zeros(raw.shape[1], dtype=bool)
    codes, uniques = pd.factorize(_keys(train["customer_id"]))
    n_customers = len(uniques)
    counts = np.bincount(codes, minlength=n_customers).astype(float)

    coef = np.zeros(raw.shape[1])
    intercept = 0.0
    effects = np.zeros(n_customers)
    residuals = np.zeros(0)
    if len(train):
        weights = np.ones(len(train))
        xk = x[:, keep]
        beta = None
        # the attributes' few coefficients need no more than LAD_SAMPLE invoices: a big ledger's are
        # estimated on an evenly strided sample (deterministic), the customer effects on all of them
        sample = np.arange(0, len(train), max(1, -(-len(train) // LAD_SAMPLE)))
        for _ in range(ROUNDS):
            beta = _lad(xk[sample], (late - effects[codes])[sample], weights[sample], beta)
            intercept, slopes = float(beta[0]), beta[1:]
            base = intercept + xk @ slopes
            effects = counts / (counts + shrinkage) * _group_median(codes, late - base, n_customers)
        coef[keep] = slopes
        # Spread from honest residuals: each invoice against its customer's effect computed
        # without it (as a future invoice will be), so the quantiles are not too narrow.
        others = counts[codes] - 1
        loo_effects = others / (others + shrinkage) * _leave_one_out_median(codes, late - base, n_customers)
        residuals = late - base - loo_effects
        residuals = residuals - np.median(residuals)  # the point forecast stays the distribution's median
    quantiles = np.quantile(residuals, level_grid) if len(residuals) else np.zeros(levels)
    return PaymentModel(
        as_of=as_of, intercept=intercept, feature_names=names, center=center, coef=coef,
        customers=pd.Index(uniques), effects=effects, counts=counts, segments=segments,
        residual_quantiles=quantiles, levels=level_grid, shrinkage=float(shrinkage), n_paid=int(len(train)),
    )


def naive_model(as_of: object, levels: int = 1) -> PaymentModel:
    """The reference: every invoice paid on its due date (as-of + 1 when already overdue)."""
    return PaymentModel(
        as_of=_day(as_of), intercept=0.0, feature_names=(), center=np.zeros(0), coef=np.zeros(0),
        customers=pd.Index([], dtype="object"), effects=np.zeros(0), counts=np.zeros(0),
        segments=pd.Series(dtype="object"), residual_quantiles=np.zeros(levels),
        levels=(np.arange(levels) + 0.5) / levels, shrinkage=0.0, n_paid=0,
    )


def lateness(model: PaymentModel, invoices: pd.DataFrame) -> np.ndarray:
    """Point forecast of each invoice's lateness in days (unconditional, not rounded)."""
    result = np.full(len(invoices), model.intercept)
    if len(model.feature_names) and model.coef.any():
        segment_levels = tuple(name.split("=", 1)[1] for name in model.feature_names if name.startswith("segment="))
        raw, _ = _features(invoices, model.segments, segment_levels)
        x = np.where(np.isnan(raw), model.center, raw) - model.center
        result = result + x @ model.coef
    if len(model.customers):
        where = model.customers.get_indexer(_keys(invoices["customer_id"]))
        result = result + np.where(where >= 0, model.effects[where], 0.0)
    return result


def distribution(model: PaymentModel, open_invoices: pd.DataFrame, as_of: object) -> tuple[np.ndarray, np.ndarray]:
    """Payment-date atoms (n × L, int days since epoch, sorted per row) and their masses (rows sum to 1),
    conditional on not being paid on or before `as_of`."""
    as_of_day = int(np.datetime64(_day(as_of), "D").astype(np.int64))
    due = pd.to_datetime(open_invoices["due_date"])
    due_days = np.where(due.notna().to_numpy(), _days(due.fillna(_day(as_of))), as_of_day)
    center = lateness(model, open_invoices)
    atoms = due_days[:, None] + np.rint(center[:, None] + model.residual_quantiles[None, :]).astype(np.int64)
    alive = atoms > as_of_day
    none = ~alive.any(axis=1)
    atoms[none] = as_of_day + 1
    alive[none] = True
    mass = alive / alive.sum(axis=1, keepdims=True)
    return atoms, mass


def _quantile(atoms: np.ndarray, mass: np.ndarray, p: float) -> np.ndarray:
    cumulative = np.cumsum(mass, axis=1)
    index = np.argmax(cumulative >= p - 1e-9, axis=1)
    return atoms[np.arange(len(atoms)), index]


def _dates(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[ns]")


def predict(model: PaymentModel, open_invoices: pd.DataFrame, as_of: object) -> pd.DataFrame:
    """invoice_id, expected_date (conditional median), p10_date, p90_date; open_invoices' index and order."""
    atoms, mass = distribution(model, open_invoices, as_of)
    return pd.DataFrame({
        "invoice_id": open_invoices["invoice_id"].to_numpy(),
        "expected_date": _dates(_quantile(atoms, mass, 0.5)),
        "p10_date": _dates(_quantile(atoms, mass, 0.1)),
        "p90_date": _dates(_quantile(atoms, mass, 0.9)),
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
