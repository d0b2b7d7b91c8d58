"""Integer ranges expanded to (record, position) pairs: the one primitive behind every "at which dates is
this record open / late / visible" computation (the ledger check, the simulator's month grid, the
snapshot grid, the portfolio sums).

A record ``i`` covering positions ``start[i] <= p < stop[i]`` (positions of sorted dates, months or
snapshots) becomes one pair per position, record by record and positions ascending within a record.
Summing weights over the pairs with ``np.bincount`` then adds, in every cell, the same records in the
same (record) order as a mask over all records at each position would: the sums are identical to the
last bit, at a cost that follows the pairs, not records x positions.
"""

from __future__ import annotations

import numpy as np


def expand_ranges(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(record, position) pairs for ``start[i] <= position < stop[i]``, in record order (empty ranges skipped).

    >>> expand_ranges(np.array([0, 2, 5]), np.array([2, 2, 7]))
    (array([0, 0, 2, 2]), array([0, 1, 5, 6]))
    """
    start, stop = np.asarray(start, dtype=np.int64), np.asarray(stop, dtype=np.int64)
    rec = np.flatnonzero(stop > start)
    lengths = stop[rec] - start[rec]
    first = start[rec]
    if lengths.size == 0 or lengths.max() == 1:
        return rec, first
    ends = np.cumsum(lengths)
    return np.repeat(rec, lengths), np.repeat(first - (ends - lengths), lengths) + np.arange(ends[-1])
