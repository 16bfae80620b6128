"""Tests of diffrisk.evaluation.coverage: Kupiec POF and Christoffersen tests.

Sign convention: returns, VaR and ES are returns (negative for a loss); alpha is the tail
probability; an exception is r_t < VaR_t (strict).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from diffrisk.evaluation.coverage import christoffersen, exceptions, kupiec_pof


def hits_with(n_obs: int, n_exceptions: int) -> np.ndarray:
    """A 0/1 sequence of length n_obs with n_exceptions evenly spread ones."""
    h = np.zeros(n_obs, dtype=int)
    h[np.linspace(0, n_obs - 1, n_exceptions).round().astype(int)] = 1
    assert h.sum() == n_exceptions
    return h


def hits_with_transitions(n00: int, n01: int, n10: int, n11: int) -> np.ndarray:
    """A 0/1 sequence with the given transition counts, starting and ending with 0.

    n01 == n10 runs of ones separated by n01 + 1 blocks of zeros; the first n11 runs have
    length 2 (one (1, 1) pair each); a block of b zeros holds b - 1 (0, 0) pairs.
    """
    assert n01 == n10 and n11 <= n01
    blocks = n01 + 1
    n_zeros = n00 + blocks
    sizes = np.full(blocks, n_zeros // blocks)
    sizes[: n_zeros % blocks] += 1
    seq: list[int] = []
    for i, size in enumerate(sizes):
        seq += [0] * int(size)
        if i < n01:
            seq += [1, 1] if i < n11 else [1]
    return np.array(seq)


# =========================================================================== Kupiec


@pytest.mark.parametrize(
    ("n_obs", "n_exc", "alpha", "lr", "pvalue"),
    [
        # MathWorks Risk Management Toolbox, varbacktest/pof documentation example
        # (VaRBacktestData, EquityIndex): Normal95 -> 57 failures in 1043 days,
        # LRatioPOF 0.46147, PValuePOF 0.49694; Normal99 -> 17 failures,
        # LRatioPOF 3.5118, PValuePOF 0.060933.
        (1043, 57, 0.05, 0.46147, 0.49694),
        (1043, 17, 0.01, 3.5118, 0.060933),
    ],
)
def test_kupiec_matches_matlab_varbacktest(n_obs, n_exc, alpha, lr, pvalue):
    res = kupiec_pof(hits_with(n_obs, n_exc), alpha)
    assert res.statistic == pytest.approx(lr, rel=1e-4)
    assert res.pvalue == pytest.approx(pvalue, rel=1e-4)
    assert (res.n_obs, res.n_exceptions) == (n_obs, n_exc)
    assert res.expected == pytest.approx(alpha * n_obs)


def kupiec_textbook(n_obs: int, x: int, alpha: float) -> float:
    """Kupiec's LR written as in the paper, for 0 < x < n_obs (plain logs)."""
    p = x / n_obs
    return -2 * (
        (n_obs - x) * math.log(1 - alpha)
        + x * math.log(alpha)
        - (n_obs - x) * math.log(1 - p)
        - x * math.log(p)
    )


@pytest.mark.parametrize(
    ("n_obs", "x", "alpha"), [(100, 3, 0.05), (250, 9, 0.01), (1006, 40, 0.025)]
)
def test_kupiec_hand_computed(n_obs, x, alpha):
    res = kupiec_pof(hits_with(n_obs, x), alpha)
    assert res.statistic == pytest.approx(kupiec_textbook(n_obs, x, alpha), rel=1e-12)
    assert res.pvalue == pytest.approx(stats.chi2.sf(res.statistic, 1), rel=1e-12)


@pytest.mark.parametrize("n_obs", [250, 10_000])
def test_kupiec_zero_and_all_exceptions_exact(n_obs):
    alpha = 0.01
    none = kupiec_pof(np.zeros(n_obs, dtype=bool), alpha)
    assert none.statistic == pytest.approx(-2 * n_obs * math.log(1 - alpha), rel=1e-12)
    assert none.pvalue == pytest.approx(stats.chi2.sf(none.statistic, 1), rel=1e-10)
    assert none.pvalue > 0.0  # chi2 tail of 201.0 at T = 10,000 is ~1.3e-45: no underflow
    every = kupiec_pof(np.ones(n_obs, dtype=bool), alpha)
    assert every.statistic == pytest.approx(-2 * n_obs * math.log(alpha), rel=1e-12)
    assert math.isfinite(every.statistic) and 0.0 <= every.pvalue < 1e-100
    # hand computation: -2 T ln(0.99) = 5.02517 (T = 250, p = 0.0250) and 201.007 (T = 10^4)
    expected = {250: (5.02517, 0.02498), 10_000: (201.007, 1.259e-45)}[n_obs]
    assert none.statistic == pytest.approx(expected[0], abs=1e-3)
    assert none.pvalue == pytest.approx(expected[1], rel=1e-3)


def test_kupiec_zero_at_expected_count_and_grows_away_from_it():
    assert kupiec_pof(hits_with(1000, 10), 0.01).statistic == 0.0
    assert kupiec_pof(hits_with(1000, 10), 0.01).pvalue == 1.0
    lrs = [kupiec_pof(hits_with(1000, x), 0.01).statistic for x in range(0, 31)]
    assert np.all(np.diff(lrs[:11]) < 0) and np.all(np.diff(lrs[10:]) > 0)


# =========================================================================== Christoffersen


def test_christoffersen_matches_matlab_cci():
    # MathWorks varbacktest/cci documentation example (Normal95 on EquityIndex):
    # N00=932, N10=53, N01=53, N11=4, 57 failures in 1043 days,
    # LRatioCCI 0.25866, PValueCCI 0.61104. The cc test is LRatioPOF + LRatioCCI
    # (varbacktest/cc Algorithms) with LRatioPOF 0.46147 from the pof example.
    h = hits_with_transitions(932, 53, 53, 4)
    assert h.size == 1043 and h.sum() == 57
    res = christoffersen(h, 0.05)
    assert (res.n00, res.n01, res.n10, res.n11) == (932, 53, 53, 4)
    assert res.lr_ind == pytest.approx(0.25866, rel=1e-4)
    assert res.pvalue_ind == pytest.approx(0.61104, rel=1e-4)
    assert res.lr_pof == pytest.approx(0.46147, rel=1e-4)
    assert res.lr_cc == pytest.approx(0.46147 + 0.25866, rel=1e-4)
    assert res.pvalue_cc == pytest.approx(stats.chi2.sf(res.lr_cc, 2), rel=1e-12)
    assert (res.statistic, res.pvalue) == (res.lr_cc, res.pvalue_cc)


def test_christoffersen_clustered_hand_computed():
    # 10 exceptions in 250 days at alpha = 4 %: exactly the expected number, so
    # LR_pof = 0, but in three clusters: days 40-42, 100-101, 200-204.
    h = np.zeros(250, dtype=int)
    h[[40, 41, 42, 100, 101, 200, 201, 202, 203, 204]] = 1
    res = christoffersen(h, 0.04)
    n00, n01, n10, n11 = 236, 3, 3, 7
    assert (res.n00, res.n01, res.n10, res.n11) == (n00, n01, n10, n11)
    pi, pi01, pi11 = 10 / 249, 3 / 239, 7 / 10
    lr_ind = -2 * (
        (n00 + n10) * math.log(1 - pi)
        + (n01 + n11) * math.log(pi)
        - n00 * math.log(1 - pi01)
        - n01 * math.log(pi01)
        - n10 * math.log(1 - pi11)
        - n11 * math.log(pi11)
    )
    assert res.lr_pof == pytest.approx(0.0, abs=1e-12)
    assert res.lr_ind == pytest.approx(lr_ind, rel=1e-12)
    assert res.pi01 == pytest.approx(pi01) and res.pi11 == pytest.approx(pi11)
    assert res.pvalue_ind < 1e-6  # clustering is rejected, coverage is not


@pytest.mark.parametrize("seed", range(5))
def test_christoffersen_is_the_g_test_and_time_reversible(seed):
    rng = np.random.default_rng(seed)
    # clustered hits: a two-state Markov chain, first/last states random
    h = np.zeros(600, dtype=bool)
    h[0] = rng.random() < 0.5
    for t in range(1, h.size):
        h[t] = rng.random() < (0.3 if h[t - 1] else 0.03)
    res = christoffersen(h, 0.05)
    table = np.array([[res.n00, res.n01], [res.n10, res.n11]])
    g = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    assert res.lr_ind == pytest.approx(g.statistic, rel=1e-10)  # Anderson-Goodman G test
    reverse = christoffersen(h[::-1], 0.05)
    assert reverse.lr_ind == pytest.approx(res.lr_ind, rel=1e-12)
    assert (reverse.n01, reverse.n10) == (res.n10, res.n01)


@pytest.mark.parametrize("n_obs", [2, 250, 10_000])
def test_christoffersen_zero_and_all_exceptions(n_obs):
    none = christoffersen(np.zeros(n_obs), 0.01)
    assert none.lr_ind == 0.0 and none.pvalue_ind == 1.0 and math.isnan(none.pi11)
    assert none.lr_cc == pytest.approx(-2 * n_obs * math.log(0.99), rel=1e-12)
    every = christoffersen(np.ones(n_obs), 0.01)
    assert every.lr_ind == 0.0 and math.isnan(every.pi01) and every.pi11 == 1.0
    assert every.lr_cc == pytest.approx(-2 * n_obs * math.log(0.01), rel=1e-12)
    assert math.isfinite(every.lr_cc)


# =========================================================================== validation


V = [-0.02, -0.02, -0.02]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: kupiec_pof([0, 1, 0], 0.0), "alpha must be in the open interval"),
        (lambda: kupiec_pof([0, 1, 0], 1.0), "alpha must be in the open interval"),
        (lambda: kupiec_pof([0, 2, 0], 0.05), "hits must contain only 0/1"),
        (lambda: kupiec_pof([0.0, np.nan], 0.05), "hits must contain only 0/1"),
        (lambda: kupiec_pof([], 0.05), "hits is empty"),
        (lambda: kupiec_pof([[0, 1]], 0.05), "hits must be one-dimensional"),
        (lambda: christoffersen([1], 0.05), "at least 2 observations"),
        (lambda: christoffersen(["a", "b"], 0.05), "hits must contain only 0/1"),
        (lambda: exceptions([0.01, np.nan, 0.0], V), "returns contains NaN at position 1"),
        (lambda: exceptions([0.01, 0.0], V), "var has length 3, expected 2"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
