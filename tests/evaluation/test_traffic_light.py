"""Tests of diffrisk.evaluation.traffic_light: the Basel traffic light and its windows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from diffrisk.evaluation.traffic_light import (
    traffic_light,
    traffic_light_thresholds,
    traffic_light_windows,
)

# =========================================================================== traffic light

# Basel Committee on Banking Supervision (1996), "Supervisory framework for the use of
# backtesting ...", Table 2: cumulative probability of x or fewer exceptions in 250 days
# for a correct 99 % model, zones and plus factors.
BASEL_TABLE = [
    (0, 0.0811, "green", 0.00),
    (1, 0.2858, "green", 0.00),
    (2, 0.5432, "green", 0.00),
    (3, 0.7581, "green", 0.00),
    (4, 0.8922, "green", 0.00),
    (5, 0.9588, "yellow", 0.40),
    (6, 0.9863, "yellow", 0.50),
    (7, 0.9960, "yellow", 0.65),
    (8, 0.9989, "yellow", 0.75),
    (9, 0.9997, "yellow", 0.85),
    (10, 0.9999, "red", 1.00),
]


@pytest.mark.parametrize(("x", "cumulative", "zone", "plus"), BASEL_TABLE)
def test_traffic_light_basel_table(x, cumulative, zone, plus):
    res = traffic_light(x, 250, 0.01)
    assert res.cumulative_probability == pytest.approx(cumulative, abs=5e-5)
    assert res.zone == zone
    assert res.plus_factor == plus
    # p-value = P(X >= x): MathWorks varbacktest/tl "TypeI"
    assert res.pvalue == pytest.approx(1 - stats.binom.cdf(x - 1, 250, 0.01), abs=1e-15)


def test_traffic_light_jorion_error_rates():
    # Jorion (2007), Value at Risk, 3rd ed., ch. 6: with the Basel cut-off of 4
    # exceptions, a correct 99 % model is rejected 10.8 % of the time (type 1), while an
    # incorrect model with 3 % true exception rate is accepted 12.8 % of the time.
    assert traffic_light(5, 250, 0.01).pvalue == pytest.approx(0.108, abs=5e-4)
    assert traffic_light(4, 250, 0.03).cumulative_probability == pytest.approx(0.128, abs=5e-4)


def test_traffic_light_generalised_thresholds():
    assert traffic_light_thresholds(250, 0.01) == (5, 10)
    # Three years (750 days) of a 99.5 % VaR: yellow from 7 and red from 13 exceptions
    # (cfrm17.github.io, "Trade lifecycle" backtesting KPIs, Basel zones extended).
    assert traffic_light_thresholds(750, 0.005) == (7, 13)
    y, r = traffic_light_thresholds(1006, 0.025)
    assert traffic_light(y - 1, 1006, 0.025).zone == "green"
    assert traffic_light(y, 1006, 0.025).zone == "yellow"
    assert traffic_light(r, 1006, 0.025).zone == "red"
    assert math.isnan(traffic_light(3, 500, 0.01).plus_factor)


def test_traffic_light_extremes_are_finite():
    assert traffic_light(0, 10_000, 0.01).zone == "green"
    res = traffic_light(10_000, 10_000, 0.01)
    assert res.zone == "red" and res.cumulative_probability == 1.0 and res.pvalue >= 0.0


def test_traffic_light_windows_hand_and_brute_force():
    res = traffic_light_windows([1] * 5 + [0] * 250)
    assert (res.n_windows, res.green, res.yellow, res.red) == (6, 5, 1, 0)
    assert res.counts.tolist() == [5, 4, 3, 2, 1, 0] and res.last_zone == "green"
    h = np.random.default_rng(4).random(900) < 0.025
    res = traffic_light_windows(h, 250, 0.01)
    counts = [int(h[i : i + 250].sum()) for i in range(900 - 249)]
    zones = [traffic_light(c, 250, 0.01).zone for c in counts]
    assert res.counts.tolist() == counts
    assert (res.green, res.yellow, res.red) == tuple(
        zones.count(z) for z in ("green", "yellow", "red")
    )
    assert res.max_exceptions == max(counts) and res.last_zone == zones[-1]
    short = traffic_light_windows(h[:100], 250, 0.01)
    assert short.n_windows == 0 and short.last_zone == ""


# =========================================================================== validation


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: traffic_light(11, 10), "n_exceptions must be <= n_obs=10"),
        (lambda: traffic_light(-1), "n_exceptions must be an integer >= 0"),
        (lambda: traffic_light(2.5), "n_exceptions must be an integer >= 0"),
        (lambda: traffic_light(2, 0), "n_obs must be an integer >= 1"),
        (lambda: traffic_light_windows([0, 1], 0), "window must be an integer >= 1"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
