"""The GARCH(1,1)-t fit of the ``garch_t`` and ``fhs`` baselines (warm-started arch fits)."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
from arch import arch_model
from arch.utility.exceptions import StartingValueWarning
from numpy.typing import NDArray

from diffrisk.core.compute import single_threaded_blas

logger = logging.getLogger(__name__)


#: Order of the parameters of a constant-mean GARCH(1,1)-t fit (arch's ``res.params``).
ARCH_T_KEYS: tuple[str, ...] = ("mu", "omega", "alpha[1]", "beta[1]", "nu")


def _interior_start(model: Any, y_fit: NDArray[np.float64], params: NDArray) -> NDArray:
    """Previous parameters moved just inside the new sample's bounds for a warm start.

    arch rejects a starting value on or outside its bounds (``omega``'s lower bound
    scales with the sample variance) or on the persistence boundary
    ``alpha + beta = 1``; fits of heavy-tailed series often end there.
    """
    start = np.array(params, dtype=float)
    bounds = np.array(model.volatility.bounds(y_fit - y_fit.mean()), dtype=float)
    start[1:4] = np.clip(start[1:4], bounds[:, 0] * 1.001 + 1e-12, bounds[:, 1])
    start[3] = min(start[3], 1.0 - 1e-4 - start[2])
    start[4] = float(np.clip(start[4], 2.1, 499.0))
    return start


def fit_garch_t(y_fit: NDArray[np.float64], start: NDArray[np.float64] | None) -> NDArray:
    """Fit constant-mean GARCH(1,1)-t on ``y_fit`` (percent); warm start from ``start``.

    A warm start that converges is accepted; otherwise (optimizer flag, or arch rejects
    the starting values) the model is also fitted from arch's own starting values and the
    attempt with the highest log-likelihood is kept.

    Parameters
    ----------
    y_fit : ndarray (n,)
        Fit sample, returns times :data:`~diffrisk.baselines.common.GARCH_SCALE`.
    start : ndarray (5,) or None
        Previous parameters (warm start), in the order of :data:`ARCH_T_KEYS`.

    Returns
    -------
    ndarray (5,)
        arch's ``(mu, omega, alpha[1], beta[1], nu)`` (:data:`ARCH_T_KEYS`).
    """
    model = arch_model(y_fit, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    attempts = (None,) if start is None else (_interior_start(model, y_fit, start), None)
    tried = []
    for attempt in attempts:
        with warnings.catch_warnings(record=True) as caught, single_threaded_blas():
            warnings.simplefilter("always")
            res = model.fit(disp="off", starting_values=attempt, show_warning=False)
        rejected = any(issubclass(w.category, StartingValueWarning) for w in caught)
        if res.convergence_flag == 0 and not rejected:
            return res.params.to_numpy(dtype=float)
        tried.append(res)
    best = max(tried, key=lambda r: r.loglikelihood)
    logger.info(
        "garch_t fit on %d returns: kept the best of %d attempts (optimizer flags %s)",
        y_fit.shape[0],
        len(tried),
        [r.convergence_flag for r in tried],
    )
    return best.params.to_numpy(dtype=float)
