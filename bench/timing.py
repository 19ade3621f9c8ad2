"""Shared by the bench scripts (run as `python bench/x.py`, so bench/ is on sys.path)."""

from __future__ import annotations

import time


def best_of(function, runs: int = 3) -> float:
    """Shortest wall time of `runs` calls, in seconds (garbage collector left as it is, unlike timeit)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)
