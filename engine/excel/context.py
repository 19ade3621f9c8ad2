"""What the calls of one whole-workbook evaluation share, passed explicitly to each function.

The headless recalculation hands every encaisse function the same range objects (one DataFrame
per table range) and an `EvaluationContext`: a table is then converted once for all the calls
that read it, and payments are allocated once per date and rates. Without a context (the
add-in, a direct call) each call converts and allocates on its own, with the same results.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Hashable


class EvaluationContext:
    """Results shared by the calls of one evaluation, keyed by the identity of the argument
    objects (kept alive with the entry, so an identity is never reused while it is cached).
    Thread-safe: a reading thread may convert a table ahead of the calls."""

    def __init__(self) -> None:
        self._entries: dict[tuple, tuple[tuple, Any]] = {}
        self._lock = threading.Lock()

    def shared(self, kind: str, arguments: tuple, extra: tuple[Hashable, ...], compute: Callable[[], Any]) -> Any:
        """`compute()` once per kind, argument objects and hashable `extra`; the same value after."""
        key = (kind, *map(id, arguments), *extra)
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None:
            return entry[1]
        value = compute()
        with self._lock:
            return self._entries.setdefault(key, (arguments, value))[1]
