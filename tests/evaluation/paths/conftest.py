"""Shared samples and fixtures of the tests of diffrisk.evaluation.paths."""

from __future__ import annotations

import numpy as np
import pytest

from diffrisk.evaluation.paths.regimes import (
    fit_regime_thresholds,
)

RHO = 0.5


NU = 3


def bivariate_sample(rng: np.random.Generator, n: int, rho: float, nu: float | None):
    """N(0, [[1, ρ], [ρ, 1]]) draws, divided by sqrt(χ²_ν/ν) for a t sample."""
    factor = np.linalg.cholesky([[1.0, rho], [rho, 1.0]])
    z = rng.standard_normal((n, 2)) @ factor.T
    return z if nu is None else z / np.sqrt(rng.chisquare(nu, n) / nu)[:, None]


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(20240601)


@pytest.fixture(scope="module")
def thresholds():
    train = np.random.default_rng(1).normal(0.0, 0.01, size=(600, 3))
    return fit_regime_thresholds(train)
