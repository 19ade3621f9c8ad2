"""What the Journal says was done, per invoice: steps done, formal notice date, promises, plans agreed.

The vocabulary of the Journal's « Issue » (outcome) column is documented in
`encaisse.dunning.records`: a row counts as done unless its outcome starts with « échec »;
« promesse 15/12/2026 » is a promise to pay (its date read by the loader into the derived
column `promise_date`); « échéancier … » records that a payment plan was agreed. Outcomes are
compared without accents or case. Rows dated after the as-of date do not exist yet; rows naming
an unknown invoice are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from encaisse.ledger import Links
from encaisse.rules.records import Timeline
from encaisse.tables import PROMISE_DATE, normalize_header

OUTCOME_FAILED = "echec"  # a send that failed: the step is not done
OUTCOME_PLAN = "echeancier"  # a payment plan agreed on this date
NAT = np.datetime64("NaT", "ns")


@dataclass(frozen=True)
class JournalFacts:
    """Per invoice row (aligned with `links.invoices`)."""

    done_step: np.ndarray  # highest step index of the invoice's timeline done, -1 when none
    notice_date: np.ndarray  # datetime64: when the timeline's last step (formal notice) was done, NaT
    escalated: np.ndarray  # bool: an escalation route id is journaled for the invoice
    promise_date: np.ndarray  # datetime64: latest date promised for the invoice, NaT
    plan_agreed: np.ndarray  # datetime64: latest « échéancier » row of the invoice, NaT
    rows: pd.DataFrame  # the done reminder rows: position, customer, date, step, channel (for the letters' history)


def _outcome_codes(outcomes: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(failed, plan) masks; the few distinct outcomes are normalised once each."""
    codes, uniques = pd.factorize(outcomes.astype(object), use_na_sentinel=True)
    normal = [normalize_header(u) for u in uniques] + [""]  # code -1 (blank) picks the trailing ""
    failed = np.array([t.startswith(OUTCOME_FAILED) for t in normal], dtype=bool)[codes]
    plan = np.array([t.startswith(OUTCOME_PLAN) for t in normal], dtype=bool)[codes]
    return failed, plan


def _latest(size: int, position: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Per invoice position, the latest of `dates` (NaT when none)."""
    out = np.full(size, np.iinfo(np.int64).min, dtype=np.int64)
    keep = ~np.isnat(dates)
    np.maximum.at(out, position[keep], dates[keep].astype("datetime64[ns]").view(np.int64))
    result = out.view("datetime64[ns]").copy()
    result[out == np.iinfo(np.int64).min] = NAT
    return result


def read_journal(journal: pd.DataFrame | None, links: Links, as_of: pd.Timestamp, timeline_of: np.ndarray,
                 timelines: tuple[Timeline, ...], route_ids: tuple[str, ...]) -> JournalFacts:
    """The facts of the Journal as of `as_of`; `timeline_of` gives each invoice row's timeline
    (index in `timelines`, -1 when it has none)."""
    n = len(links.invoice_amount)
    done = np.full(n, -1, dtype=np.int64)
    empty = JournalFacts(done, np.full(n, NAT), np.zeros(n, dtype=bool), np.full(n, NAT), np.full(n, NAT),
                         pd.DataFrame({"position": np.zeros(0, np.int64), "date": np.zeros(0, "datetime64[ns]"),
                                       "step": [], "channel": []}))
    if journal is None or journal.empty:
        return empty
    dates = journal["date"].to_numpy(dtype="datetime64[ns]")
    position = links.positions(journal["invoice_id"].to_numpy(dtype=object))
    valid = (position >= 0) & (dates <= np.datetime64(as_of.to_datetime64(), "ns"))
    if not valid.any():
        return empty
    failed, plan = _outcome_codes(journal["outcome"] if "outcome" in journal.columns else pd.Series([None] * len(journal)))
    steps = journal["step"].astype(object).to_numpy(dtype=object)
    step_index = np.full(len(journal), -1, dtype=np.int64)
    is_last = np.zeros(len(journal), dtype=bool)
    own = np.where(position >= 0, timeline_of[np.maximum(position, 0)], -1)
    for k, timeline in enumerate(timelines):  # a handful of timelines, each a whole-column lookup
        mine = valid & (own == k)
        if mine.any():
            found = pd.Index([s.id for s in timeline.steps]).get_indexer(steps[mine])
            step_index[mine] = found
            is_last[mine] = found == len(timeline.steps) - 1
    counted = valid & ~failed & (step_index >= 0)
    np.maximum.at(done, position[counted], step_index[counted])
    notice = _latest(n, position[counted & is_last], dates[counted & is_last])
    escalated = np.zeros(n, dtype=bool)
    if route_ids:
        routes = valid & ~failed & (pd.Index(route_ids).get_indexer(steps) >= 0)
        escalated[position[routes]] = True
    if PROMISE_DATE in journal.columns:
        promised = journal[PROMISE_DATE].to_numpy(dtype="datetime64[ns]")
        keep = valid & ~np.isnat(promised)
        promise = _latest(n, position[keep], promised[keep])
    else:
        promise = np.full(n, NAT)
    agreed = _latest(n, position[valid & plan], dates[valid & plan])
    rows = pd.DataFrame({
        "position": position[counted],
        "date": dates[counted],
        "step": steps[counted],
        "channel": journal["channel"].astype(object).to_numpy(dtype=object)[counted] if "channel" in journal.columns else None,
    })
    return JournalFacts(done, notice, escalated, promise, agreed, rows)
