"""Where a change's history counts stand among the project's recent changes.

Counts such as the author's earlier commits (``exp``) or the touched files' earlier commits
(``nuc``) only grow over a project's life: a value that was high five years ago is ordinary
today, so a model trained on older changes misreads newer ones. Each such column gets a
companion ``<column>_recent_pct``: the mid-rank percentile of the change's value among the
previous ``window`` changes of the history (``[mine] recent_window``, default 3,000)::

    pct = (#previous < value + 0.5 × #previous == value) / #previous     (0.5 for the first)

It depends only on earlier changes, so a prefix of the history gives the same values, a
pending change gets its value from the state, and a second ``mine`` continues the window.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import deque

# the cumulative history columns of the changes table that get a _recent_pct companion
RECENT_COLUMNS = (
    "lt", "ndev", "age", "nuc", "exp", "rexp", "sexp", "author_file_commits",
    "author_tenure_days",
)  # fmt: skip
SUFFIX = "_recent_pct"
RECENT_PCT_COLUMNS = tuple(f"{c}{SUFFIX}" for c in RECENT_COLUMNS)


class RecentWindow:
    """The last ``size`` values of each of :data:`RECENT_COLUMNS`, in order and sorted."""

    def __init__(self, size: int) -> None:
        self.size = int(size)
        self.order: dict[str, deque] = {c: deque() for c in RECENT_COLUMNS}
        self.sorted: dict[str, list[float]] = {c: [] for c in RECENT_COLUMNS}

    def percentiles(self, row: dict) -> dict[str, float]:
        """``{<column>_recent_pct: percentile}`` of ``row``'s values against the window."""
        return {c + SUFFIX: percentile_of(self.sorted[c], float(row[c])) for c in RECENT_COLUMNS}

    def push(self, row: dict) -> None:
        """Add ``row``'s values; the oldest fall out once the window is full."""
        for column in RECENT_COLUMNS:
            v = float(row[column])
            order, values = self.order[column], self.sorted[column]
            order.append(v)
            insort(values, v)
            if len(order) > self.size:
                old = order.popleft()
                del values[bisect_left(values, old)]


def percentile_of(sorted_values, value: float) -> float:
    """The mid-rank percentile of ``value`` among ``sorted_values`` (0.5 when there are none)."""
    if not len(sorted_values):
        return 0.5
    below, upto = bisect_left(sorted_values, value), bisect_right(sorted_values, value)
    return (below + 0.5 * (upto - below)) / len(sorted_values)


def trailing_percentiles(values, size: int) -> list[float]:
    """Each value's percentile among the ``size`` values before it (in the given order)."""
    order: deque = deque()
    window: list[float] = []
    out = []
    for raw in values:
        v = float(raw)
        out.append(percentile_of(window, v))
        order.append(v)
        insort(window, v)
        if len(order) > size:
            del window[bisect_left(window, order.popleft())]
    return out
