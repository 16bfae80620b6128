"""Tests of diffrisk.evaluation.stress_student: the figures of the stress student's rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.stress_student import (
    STUDENT_ALPHAS,
    bootstrap_set_figures,
    stress_set_figures,
    student_within_noise,
)
from diffrisk.risk.measures import var_cvar
from diffrisk.risk.portfolio import portfolio_log_returns


def paths_with(n_dates: int, n: int, seed: int = 0, scale: float = 0.01) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, (n_dates * n, 5, 3))


def test_tail_figures_are_those_of_the_portfolios_horizon_returns():
    paths = paths_with(2, 300)
    fig = stress_set_figures(paths, np.array([0.01, 0.02]), 300)
    horizon = portfolio_log_returns(paths, axis=2).sum(axis=1)  # equal weight, per path
    for a in STUDENT_ALPHAS:
        var, es = var_cvar(horizon, a)
        assert fig[f"var_{a:g}"] == pytest.approx(float(var), rel=1e-12)
        assert fig[f"es_{a:g}"] == pytest.approx(float(es), rel=1e-12)
    assert "energy" not in fig and "variogram" not in fig
    # the volatility ratio divides by each date's forecast: doubling it halves the ratio
    half = stress_set_figures(paths, np.array([0.02, 0.04]), 300)["mean_vol_ratio"]
    assert half == pytest.approx(fig["mean_vol_ratio"] / 2, rel=1e-12)


def test_scores_vanish_when_every_path_is_the_realised_one():
    realised = paths_with(3, 1, seed=1)
    paths = np.repeat(realised, 4, axis=0)  # 4 copies of each date's realised path
    fig = stress_set_figures(paths, np.full(3, 0.01), 4, realised)
    assert fig["energy"] == pytest.approx(0.0, abs=1e-12)
    assert fig["variogram"] == pytest.approx(0.0, abs=1e-12)
    far = stress_set_figures(paths + 0.05, np.full(3, 0.01), 4, realised)
    assert far["energy"] > 0.1 and far["variogram"] > 0.0


def test_standard_errors_are_zero_for_identical_paths_and_shrink_with_more_paths():
    one = np.repeat(paths_with(2, 1), 50, axis=0)  # every date: 50 identical paths
    fig = bootstrap_set_figures(one, np.full(2, 0.01), 50, n_boot=20, seed=0)
    assert all(se == 0.0 for _, se in fig.values())
    small = bootstrap_set_figures(paths_with(2, 100), np.full(2, 0.01), 100, n_boot=200)
    large = bootstrap_set_figures(paths_with(2, 1600), np.full(2, 0.01), 1600, n_boot=200)
    # 16x the paths: about a quarter of the error (tail quantiles are noisy: a loose bound)
    ratio = large["var_0.05"][1] / small["var_0.05"][1]
    assert 0.1 < ratio < 0.5
    assert (
        large["var_0.05"][0]
        == stress_set_figures(paths_with(2, 1600), np.full(2, 0.01), 1600)["var_0.05"]
    )


def test_bootstrap_is_seeded_and_checks_its_resamples():
    paths, vol, real = paths_with(2, 30), np.full(2, 0.01), paths_with(2, 1, seed=2)
    a = bootstrap_set_figures(paths, vol, 30, real, n_boot=10, n_boot_scores=3, seed=5)
    b = bootstrap_set_figures(paths, vol, 30, real, n_boot=10, n_boot_scores=3, seed=5)
    assert a == b and "energy" in a
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_set_figures(paths, vol, 30, real, n_boot=10, n_boot_scores=1)


def test_student_within_noise_tests_every_figure_of_every_set():
    teacher = {"prior": {"var_0.05": (-0.05, 0.001), "energy": (0.2, 0.0001)},
               "request": {"mean_vol_ratio": (1.9, 0.01)}}  # fmt: skip
    close = {"prior": {"var_0.05": (-0.0525, 0.001), "energy": (0.2002, 0.0001)},
             "request": {"mean_vol_ratio": (1.92, 0.01)}}  # fmt: skip
    table, ok = student_within_noise(close, teacher)
    assert ok and len(table) == 3
    row = table.set_index(["set", "figure"]).loc[("prior", "var")]
    assert row["alpha"] == 0.05 and row["bound"] == pytest.approx(2 * np.hypot(0.001, 0.001))
    assert pd.isna(table.set_index(["set", "figure"]).loc[("request", "mean_vol_ratio"), "alpha"])
    # the energy score 3 combined SEs away: that figure fails, the rule fails
    far = {**close, "prior": {**close["prior"], "energy": (0.2 + 3 * np.hypot(1e-4, 1e-4), 1e-4)}}
    table, ok = student_within_noise(far, teacher, teacher_b=teacher, k=2.0)
    assert not ok and table["within"].tolist().count(False) == 1
    assert (table["teacher_b_minus_teacher"] == 0).all()
