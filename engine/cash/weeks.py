"""The forecast's weekly buckets: ISO weeks (Monday to Sunday), the first starting the day after the
as-of date and ending on that week's Sunday (partial when the as-of date is not a Sunday).

Days are counted as integers after the as-of date (day 1 = the day after), which is how every
date of the forecast is held until it is shown: `Weeks.bucket(days)` is then one look-up in a table of days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAY = np.timedelta64(1, "D")


def weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 … Sunday = 6 of datetime64[D] values (1970-01-01 was a Thursday)."""
    return (days.astype("datetime64[D]").astype(np.int64) + 3) % 7


@dataclass(frozen=True)
class Weeks:
    """`count` buckets after `as_of`: bucket w covers days after as-of in [edges[w], edges[w + 1])."""

    as_of: np.datetime64  # datetime64[D]
    edges: np.ndarray  # int64, count + 1 day numbers (day 1 = the day after as-of)

    @property
    def count(self) -> int:
        return len(self.edges) - 1

    @property
    def starts(self) -> np.ndarray:
        return self.as_of + self.edges[:-1] * DAY

    @property
    def ends(self) -> np.ndarray:
        """Last day of each bucket (inclusive)."""
        return self.as_of + (self.edges[1:] - 1) * DAY

    @property
    def last_day(self) -> int:
        """Day number of the horizon's last day."""
        return int(self.edges[-1] - 1)

    @property
    def labels(self) -> tuple[str, ...]:
        """« S49 · 30/11–06/12 »: ISO week number of the bucket, then its first and last day."""
        labels = []
        for start, end in zip(self.starts.tolist(), self.ends.tolist()):
            labels.append(f"S{start.isocalendar()[1]:02d} · {start:%d/%m}–{end:%d/%m}")
        return tuple(labels)

    def bucket(self, days: np.ndarray) -> np.ndarray:
        """Bucket of each day number; -1 before the horizon, `count` after it. Read from a table of
        the horizon's days (a gather, cheaper than a search for millions of days)."""
        return self._bucket_of_day[np.clip(days, 0, self.edges[-1])]

    @property
    def _bucket_of_day(self) -> np.ndarray:
        """Bucket of day 0 … edges[-1] (the first day after the horizon): what every day before or after reads."""
        return np.searchsorted(self.edges, np.arange(self.edges[-1] + 1), side="right") - 1

    def totals(self, days: np.ndarray, amounts: np.ndarray) -> np.ndarray:
        """Sum of `amounts` per bucket (what falls outside the horizon is left out)."""
        found = self.bucket(np.asarray(days).ravel())
        weights = np.broadcast_to(np.asarray(amounts, dtype=float), np.shape(days)).ravel()
        # slot 0 for before the horizon, the last for after: counted, then dropped
        return np.bincount(found + 1, weights=weights, minlength=self.count + 2)[1: self.count + 1]


def make_weeks(as_of: np.datetime64, count: int = 13) -> Weeks:
    """The `count` weekly buckets after `as_of` (a datetime64[D])."""
    if count < 1:
        raise ValueError("au moins une semaine de prévision")
    as_of = np.datetime64(as_of, "D")
    first = as_of + DAY
    first_length = 7 - int(weekday(np.asarray([first]))[0])  # to that week's Sunday, included
    edges = np.r_[1, 1 + first_length + 7 * np.arange(count)].astype(np.int64)
    return Weeks(as_of, edges)
