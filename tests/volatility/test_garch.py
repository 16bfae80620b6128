"""GARCH / GJR parameters, variance filter and simulation (diffrisk.volatility.garch)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from arch import arch_model

from diffrisk.study.simulation import DEFAULT_PARAMS
from diffrisk.volatility.garch import (
    GarchParams,
    arch_backcast,
    arch_initial_variance,
    fit_garch,
    garch_variance,
    simulate_garch,
)

GJR = GarchParams(mu=0.001, omega=1e-6, alpha=0.1, beta=0.8, gamma=0.05, nu=6.0)


def _simulated(n: int, params: GarchParams, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.standard_t(params.nu, n) * params.innovation_scale
    return simulate_garch(params, z)[0]


# ---------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------
def test_closed_forms_of_the_parameters():
    p = GarchParams(mu=0.0, omega=2e-6, alpha=0.05, beta=0.9, gamma=0.06, nu=6.0)
    assert p.persistence == pytest.approx(0.05 + 0.03 + 0.9, rel=1e-15)
    assert p.unconditional_variance == pytest.approx(2e-6 / 0.02, rel=1e-12)
    assert p.unconditional_volatility == pytest.approx(0.01, rel=1e-12)
    assert p.innovation_scale == pytest.approx(math.sqrt(4 / 6), rel=1e-15)
    normal = GarchParams(mu=0.0, omega=1e-6, alpha=0.05, beta=0.9)
    assert (normal.gamma, normal.nu, normal.innovation_scale) == (0.0, math.inf, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"omega": 0.0}, "omega must be > 0"),
        ({"alpha": -0.1}, "alpha must be >= 0"),
        ({"beta": -0.1}, "beta must be >= 0"),
        ({"nu": 2.0}, "nu must be > 2"),
        ({"nu": float("nan")}, "nu must be a finite number"),
        ({"mu": float("inf")}, "mu must be a finite number"),
        ({"gamma": "x"}, "gamma must be a finite number"),
    ],
)
def test_invalid_parameters_name_the_argument(kwargs, match):
    base = {"mu": 0.0, "omega": 1e-6, "alpha": 0.05, "beta": 0.9}
    with pytest.raises(ValueError, match=match):
        GarchParams(**{**base, **kwargs})


def test_from_arch_reads_gjr_and_normal_fits():
    p = GarchParams.from_arch({"mu": 0.1, "omega": 0.02, "alpha[1]": 0.05, "beta[1]": 0.9})
    assert p == GarchParams(mu=0.001, omega=2e-6, alpha=0.05, beta=0.9)
    q = GarchParams.from_arch(
        {"mu": 0.1, "omega": 0.02, "alpha[1]": 0.05, "gamma[1]": 0.04, "beta[1]": 0.9, "nu": 7.0},
        scale=1.0,
    )
    assert (q.mu, q.omega, q.gamma, q.nu) == (0.1, 0.02, 0.04, 7.0)


# ---------------------------------------------------------------------------------------
# The variance filter
# ---------------------------------------------------------------------------------------
def test_three_steps_by_hand():
    p = GarchParams(mu=0.0, omega=0.1, alpha=0.2, beta=0.5, gamma=0.3)
    v = garch_variance(np.array([1.0, -2.0, 0.5]), p, init_var=1.0)
    # v1 = 0.1 + 0.2 * 1 + 0.5 * 1; v2 = 0.1 + (0.2 + 0.3) * 4 + 0.5 * 0.8;
    # v3 = 0.1 + 0.2 * 0.25 + 0.5 * 2.5 (the last element: the forecast after the sample)
    np.testing.assert_allclose(v, [1.0, 0.8, 2.5, 1.4], rtol=1e-15)


def test_filter_is_bitwise_the_documented_recursion():
    r = _simulated(2000, GJR, seed=4)
    init_var = 2e-4
    e = r - GJR.mu
    shock = (GJR.alpha + GJR.gamma * (e < 0)) * e**2
    expected = np.empty(r.size + 1)
    expected[0] = init_var
    for t in range(1, r.size + 1):  # evaluated as (omega + shock) + beta * previous
        expected[t] = GJR.omega + shock[t - 1] + GJR.beta * expected[t - 1]
    np.testing.assert_array_equal(garch_variance(r, GJR, init_var), expected)


def test_filter_is_causal():
    r = _simulated(500, GJR, seed=5)
    base = garch_variance(r, GJR, 1e-4)
    for t in (0, 17, 250, 499):
        moved = r.copy()
        moved[t:] = np.random.default_rng(t).normal(0.0, 0.05, 500 - t)
        v = garch_variance(moved, GJR, 1e-4)
        # element s uses r[:s]: elements 0 .. t are untouched by r[t:], t + 1 changes
        np.testing.assert_array_equal(v[: t + 1], base[: t + 1])
        assert v[t + 1] != base[t + 1]
    # the forecast for day t + 1 is unchanged by returns after t
    moved = r.copy()
    moved[101:] *= 3.0
    np.testing.assert_array_equal(garch_variance(moved, GJR, 1e-4)[:102], base[:102])


@pytest.mark.parametrize("o", [0, 1])
def test_filter_equals_arch_conditional_volatility(o):
    params = GarchParams(mu=0.05, omega=0.02, alpha=0.08, beta=0.88, gamma=0.06 * o, nu=6.0)
    y = _simulated(2500, params, seed=8)  # percent units
    model = arch_model(y, mean="Constant", vol="GARCH", p=1, o=o, q=1, dist="t", rescale=False)
    res = model.fit(disp="off")
    fitted = GarchParams.from_arch(res.params, scale=1.0)
    assert fitted.gamma == (res.params["gamma[1]"] if o else 0.0)
    backcast = arch_backcast(y)
    assert backcast == pytest.approx(res.model._backcast, rel=1e-14)
    v = garch_variance(y, fitted, arch_initial_variance(fitted, backcast))
    np.testing.assert_allclose(np.sqrt(v[:-1]), res.conditional_volatility, rtol=1e-12)
    one_step = res.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]
    assert v[-1] == pytest.approx(one_step, rel=1e-12)


def test_filter_argument_errors():
    with pytest.raises(ValueError, match="returns must be 1-D"):
        garch_variance(np.zeros((3, 2)), GJR, 1e-4)
    with pytest.raises(ValueError, match="init_var must be >= 0"):
        garch_variance(np.zeros(3), GJR, -1.0)
    with pytest.raises(ValueError, match="params must be a GarchParams"):
        garch_variance(np.zeros(3), {"omega": 1e-6}, 1e-4)
    assert garch_variance(np.zeros(0), GJR, 1e-4).tolist() == [1e-4]


# ---------------------------------------------------------------------------------------
# Fit and simulation
# ---------------------------------------------------------------------------------------
def test_fit_garch_recovers_persistence_and_converts_units():
    truth = GarchParams(mu=0.0005, omega=2e-6, alpha=0.08, beta=0.9, nu=6.0)
    r = _simulated(4000, truth, seed=1)
    p = fit_garch(r)
    assert p.alpha + p.beta == pytest.approx(0.98, abs=0.02)
    assert p.gamma == 0.0 and 3 < p.nu < 15
    res = arch_model(100 * r, mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(disp="off")
    assert p.omega == pytest.approx(res.params["omega"] / 1e4, rel=1e-3)
    gjr = fit_garch(r, o=1, dist="normal")
    assert gjr.nu == math.inf and math.isfinite(gjr.gamma)
    with pytest.raises(ValueError, match="at least 100 values"):
        fit_garch(r[:50])
    with pytest.raises(ValueError, match="o must be 0 or 1"):
        fit_garch(r, o=2)
    with pytest.raises(ValueError, match="dist must be"):
        fit_garch(r, dist="skewt")


def test_simulation_by_hand_and_filtered_back():
    p = GarchParams(mu=0.0, omega=0.1, alpha=0.2, beta=0.5, gamma=0.3)
    r, s2 = simulate_garch(p, np.array([1.0, -1.0, 0.5]), init_var=1.0)
    # e0 = 1, s2_1 = 0.1 + 0.2 + 0.5 = 0.8; e1 = -sqrt(0.8), s2_2 = 0.1 + 0.5 * 0.8 + 0.4 = 0.9
    np.testing.assert_allclose(s2, [1.0, 0.8, 0.9], rtol=1e-15)
    np.testing.assert_allclose(r, [1.0, -math.sqrt(0.8), 0.5 * math.sqrt(0.9)], rtol=1e-15)
    # the filter recovers the simulated variances from the simulated returns
    z = np.random.default_rng(2).standard_t(GJR.nu, 3000) * GJR.innovation_scale
    r, s2 = simulate_garch(GJR, z)
    assert s2[0] == GJR.unconditional_variance
    np.testing.assert_allclose(garch_variance(r, GJR, s2[0])[:-1], s2, rtol=1e-12)
    with pytest.raises(ValueError, match=r"alpha \+ gamma / 2 \+ beta must be < 1"):
        simulate_garch(GarchParams(mu=0.0, omega=1e-6, alpha=0.1, beta=0.9), z)
    with pytest.raises(ValueError, match="z must be 1-D"):
        simulate_garch(GJR, z.reshape(-1, 2))


# ---------------------------------------------------------------------------------------
# Equality with arch, parameter conversion and validation
# ---------------------------------------------------------------------------------------
def test_garch_filter_equals_arch_in_sample_and_fixed_parameter_forecasts(long_series):
    _, y, _ = long_series
    p0 = 2900
    model = arch_model(y, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    res = model.fit(disp="off", last_obs=p0)  # fit on y[:p0], keep the rest for forecasting
    params = GarchParams.from_arch(res.params, scale=1.0)  # percent units, as fitted
    path = garch_variance(y, params, arch_initial_variance(params, arch_backcast(y[:p0])))
    assert path.shape == (y.shape[0] + 1,)
    assert arch_backcast(y[:p0]) == pytest.approx(res.model._backcast, rel=1e-14)
    cond_vol = res.conditional_volatility[:p0]
    np.testing.assert_allclose(np.sqrt(path[:p0]), cond_vol, rtol=1e-12)
    # arch's one-step forecasts made at t = p0-1 ... n-1 with the parameters held fixed
    fixed = res.forecast(horizon=1, start=p0 - 1, reindex=False).variance.to_numpy()[:, 0]
    np.testing.assert_allclose(path[p0:], fixed, rtol=1e-12)


def test_from_arch_converts_percent_units_to_fractions():
    fitted = {"mu": 0.0903, "omega": 0.01161, "alpha[1]": 0.07054, "beta[1]": 0.9216, "nu": 8.11}
    p = GarchParams.from_arch(fitted)
    assert p.mu == pytest.approx(9.03e-4, rel=1e-12)
    assert p.omega == pytest.approx(1.161e-6, rel=1e-12)
    assert (p.alpha, p.beta, p.nu, p.gamma) == (0.07054, 0.9216, 8.11, 0.0)
    # without nu the innovations are normal; gamma[1] is read when present (GJR)
    normal = GarchParams.from_arch({k: v for k, v in fitted.items() if k != "nu"}, scale=1.0)
    assert normal.nu == math.inf and normal.innovation_scale == 1.0 and normal.omega == 0.01161
    assert GarchParams.from_arch({**fitted, "gamma[1]": 0.02}).gamma == 0.02
    with pytest.raises(ValueError, match=r"params lacks arch keys \['beta\[1\]'\]"):
        GarchParams.from_arch({k: v for k, v in fitted.items() if k != "beta[1]"})
    with pytest.raises(ValueError, match="scale must be > 0"):
        GarchParams.from_arch(fitted, scale=0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"nu": 2.0}, "nu must be > 2"),
        ({"nu": 1.5}, "nu must be > 2"),
        ({"omega": 0.0}, "omega must be > 0"),
        ({"omega": -1e-6}, "omega must be > 0"),
        ({"alpha": -0.01}, "alpha must be >= 0"),
        ({"beta": -0.01}, "beta must be >= 0"),
        ({"mu": float("nan")}, "mu must be a finite number"),
        ({"nu": float("nan")}, "nu must be a finite number"),
        ({"nu": -float("inf")}, "nu must be a finite number"),
        ({"gamma": float("inf")}, "gamma must be a finite number"),
        ({"omega": "big"}, "omega must be a finite number"),
        ({"alpha": True}, "alpha must be a finite number"),
    ],
)
def test_invalid_params_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(DEFAULT_PARAMS, **kwargs)


_FIT_IN_SUBPROCESS = """
import numpy as np
from diffrisk.study.simulation import DEFAULT_PARAMS
from diffrisk.volatility.garch import fit_garch, simulate_garch
z = np.random.default_rng(7).standard_t(5, 8000) / np.sqrt(5 / 3)
r, _ = simulate_garch(DEFAULT_PARAMS, z)
print(repr(fit_garch(r, o=1, dist="t")))
"""


def test_fit_garch_does_not_depend_on_the_blas_thread_count():
    """The same fit in processes started with 1 and 2 BLAS threads gives the same numbers.

    Without the single-threaded block around the optimiser, this 8,000-day GJR fit
    differs in the 6th-7th digit between the two settings (multi-threaded dot products).
    """
    import os
    import subprocess
    import sys

    fits = []
    for threads in ("1", "2"):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
        out = subprocess.run(
            [sys.executable, "-c", _FIT_IN_SUBPROCESS],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        fits.append(out.stdout.strip())
    assert fits[0] == fits[1]
    assert fits[0].startswith("GarchParams(")
