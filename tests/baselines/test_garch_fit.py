"""Tests of diffrisk.baselines.garch_fit: the GARCH(1,1)-t fit recovers known parameters."""

from __future__ import annotations

import numpy as np
from arch import arch_model

from diffrisk.baselines.garch import garch_path
from diffrisk.baselines.garch_fit import fit_garch_t
from tests.conftest import TRUE


def test_garch_fit_recovers_true_parameters_and_sigma(long_series):
    returns, y, true_sigma = long_series
    p0 = 2900
    params = fit_garch_t(y[:p0], None)
    reference = arch_model(y[:p0], mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(disp="off")
    truth = np.array([TRUE[k] for k in ("mu", "omega", "alpha", "beta", "nu")])
    # within 3 robust standard errors of the truth (observed: at most 1.2 SE, seed 1)
    assert np.all(np.abs(params - truth) < 3 * reference.std_err.to_numpy())
    path = garch_path(
        returns["x"].to_numpy(),
        np.arange(p0, 3000),
        100,
        1000,
        0,
        None,
        "x",
        returns.index[p0:],
        returns.index,
    )
    rel = path.sigma / true_sigma[p0:] - 1  # forecast sigma_t vs the true conditional sigma
    assert np.mean(np.abs(rel)) < 0.06 and np.max(np.abs(rel)) < 0.15
