"""The exact McNemar test of two methods' hits on the same requests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from diffrisk.evaluation.paired_hits import paired_hits_test


def test_only_the_discordant_requests_count():
    # 3 both hit, 5 only a, 1 only b, 2 neither: p = binomial(5 of 6, 1/2), two-sided
    a = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    b = [1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0]
    res = paired_hits_test(a, b)
    assert (res.n, res.only_a, res.only_b) == (11, 5, 1)
    assert res.pvalue == pytest.approx(binomtest(5, 6, 0.5).pvalue)
    assert res.pvalue == pytest.approx(14 / 64)  # (1 + 6 + 6 + 1) / 2**6
    # concordant requests never move it; swapping the methods keeps it
    assert paired_hits_test(a + [1] * 20, b + [1] * 20).pvalue == res.pvalue
    assert paired_hits_test(b, a).pvalue == res.pvalue


def test_no_discordant_request_gives_one_and_a_sweep_is_significant():
    assert paired_hits_test([True, False], [True, False]).pvalue == 1.0
    assert paired_hits_test(np.ones(6), np.zeros(6)).pvalue == pytest.approx(2 / 2**6)
    assert paired_hits_test(np.ones(5), np.zeros(5)).pvalue > 0.05  # 5 sweeps are not enough


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="same length"):
        paired_hits_test([1, 0], [1])
    with pytest.raises(ValueError, match="hits_b must hold only booleans"):
        paired_hits_test([1, 0], [1, 2])
