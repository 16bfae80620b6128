"""Two methods scored hit-or-miss on the same requests: the exact McNemar test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from statsmodels.stats.contingency_tables import mcnemar


@dataclass(frozen=True)
class PairedHits:
    """Exact McNemar test of two methods' hit rates on the same requests.

    Attributes
    ----------
    n : int
        Requests scored by both.
    only_a, only_b : int
        Requests only method a / only method b hit (the discordant pairs).
    pvalue : float
        Two-sided exact (binomial) p-value of equal hit rates; 1 without discordant pairs.
    """

    n: int
    only_a: int
    only_b: int
    pvalue: float


def paired_hits_test(hits_a: ArrayLike, hits_b: ArrayLike) -> PairedHits:
    """McNemar's exact test (statsmodels) that two methods hit equally often.

    Only the discordant requests carry information: under the null each of them is
    method a's with probability 1/2, so the p-value is the two-sided binomial p-value of
    ``only_a`` out of ``only_a + only_b``.

    Parameters
    ----------
    hits_a, hits_b : array_like of bool, shape (n,)
        Per request, whether each method hit (same requests, same order).

    Returns
    -------
    PairedHits

    Examples
    --------
    >>> paired_hits_test([1, 1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 0]).pvalue  # 2 / 2**6
    0.03125
    """
    a = np.asarray(hits_a)
    b = np.asarray(hits_b)
    if a.ndim != 1 or b.shape != a.shape:
        raise ValueError(
            f"hits_a and hits_b must be 1-D of the same length, got shapes {a.shape} and {b.shape}"
        )
    for name, x in (("hits_a", a), ("hits_b", b)):
        if not np.isin(x, (0, 1)).all():
            raise ValueError(f"{name} must hold only booleans or 0/1")
    a, b = a.astype(bool), b.astype(bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    table = [[int((a & b).sum()), only_a], [only_b, int((~a & ~b).sum())]]
    return PairedHits(int(a.size), only_a, only_b, float(mcnemar(table, exact=True).pvalue))
