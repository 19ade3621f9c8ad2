"""Dependency ordering of formula cells: which cells each one reads, and an order that evaluates
every cell after the cells it reads. Pure functions over cell keys (sheet, row, col) and `Rect`s.
"""

from __future__ import annotations

import graphlib
import heapq
from typing import Callable, Hashable, Mapping

import numpy as np

from encaisse.recalc.cells import Rect


class Cycle(Exception):
    """The dependencies make a cycle; `cells` lists it from its first cell back to that cell, each
    cell read by the next."""

    def __init__(self, cells: list):
        super().__init__(cells)
        self.cells = cells


def edges(refs: Mapping[Hashable, list[Rect]], extents: Mapping[Hashable, Rect],
          add: Mapping[Hashable, set] | None = None) -> dict[Hashable, set]:
    """Cell -> the cells whose values (their `extents`) its references (`refs`) meet; then each
    edge of `add` that does not close a cycle (taken in sorted order, so the result is stable)."""
    # A reference can only meet the extents of its own sheet: per sheet, their cells and bounds
    # as arrays, each reference compared with all of them at once.
    grouped: dict[str, tuple[list, list]] = {}
    for other, extent in extents.items():
        keys, bounds = grouped.setdefault(extent.sheet, ([], []))
        keys.append(other)
        bounds.append((extent.r1, extent.c1, extent.r2, extent.c2))
    by_sheet = {sheet: (keys, np.array(bounds, dtype=np.int64)) for sheet, (keys, bounds) in grouped.items()}
    deps = {}
    for key, rects in refs.items():
        found = set()
        for r in rects:
            if r.sheet not in by_sheet:
                continue
            keys, b = by_sheet[r.sheet]
            meet = (b[:, 0] <= r.r2) & (r.r1 <= b[:, 2]) & (b[:, 1] <= r.c2) & (r.c1 <= b[:, 3])
            found.update(keys[i] for i in np.flatnonzero(meet))
        found.discard(key)
        deps[key] = found
    for key in sorted(add or ()):
        for other in sorted(add[key] - deps[key]):
            if not reaches(deps, other, key):
                deps[key].add(other)
    return deps


def reaches(deps: Mapping[Hashable, set], start, target) -> bool:
    """Does `start` depend, directly or not, on `target`?"""
    seen, todo = {start}, [start]
    while todo:
        for other in deps.get(todo.pop(), ()):
            if other == target:
                return True
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return False


def order(deps: Mapping[Hashable, set], priority: Callable[[Hashable], tuple] = lambda key: key,
          position: Callable[[Hashable], tuple] = lambda key: key) -> list:
    """Every cell after the cells it depends on; among the cells ready at a time, the smallest
    `priority` first. Raises Cycle when there is none, starting from its first cell by `position`
    (so that the message is the same from one run to the next)."""
    sorter = graphlib.TopologicalSorter(deps)
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        cycle = error.args[1][:-1]
        start = cycle.index(min(cycle, key=position))
        raise Cycle(cycle[start:] + cycle[:start] + [cycle[start]]) from None
    ready: list[tuple] = []
    found = []
    while sorter.is_active():
        for key in sorter.get_ready():
            heapq.heappush(ready, (priority(key), key))
        _, key = heapq.heappop(ready)
        found.append(key)
        sorter.done(key)
    return found


def misordered(sequence: list, deps: Mapping[Hashable, set]) -> bool:
    """Does a cell of `sequence` come before one it depends on?"""
    position = {key: i for i, key in enumerate(sequence)}
    return any(position[d] > position[key] for key in sequence for d in deps[key])
