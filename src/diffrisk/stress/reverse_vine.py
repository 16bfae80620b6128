"""Classic reverse stress test by conditional vine-copula sampling (skfolio).

The law of the ``h``-day cumulative log returns ``X`` of the assets (the overlapping
windows the elliptical peers fit, :func:`~diffrisk.stress.reverse_peers.window_sums`) is
fitted jointly with the portfolio's buy-and-hold ``h``-day return
``R_p = sum_i w_i (exp(X_i) - 1) = -loss`` as an extra column: a regular vine copula
(skfolio's :class:`~skfolio.distribution.VineCopula`, Dissmann et al. 2013) with its
default marginal candidates (Gaussian, Student-t, Johnson SU) and pair copulas (Gaussian,
Student-t, Clayton, Gumbel, Joe), the portfolio column set as the central asset so that
it is sampled first (Brechmann, Hendrich & Czado 2013). Scenarios are conditional draws
given ``R_p <= -L`` (the column's uniform drawn in ``[0, F_p(-L)]``, the assets by the
vine's inverse h-functions), kept where the buy-and-hold loss of the drawn assets reaches
L (the vine treats ``R_p`` as a random column, not the exact function of ``X``); daily
paths are Brownian bridges of the daily covariance ending at the drawn ``x``, as for the
elliptical peers.

``P(loss >= L)`` under the fitted vine is stratified on the portfolio column: with
``p_A = F_p(-L)`` (the fitted marginal, exact) and the hit shares ``h_A``, ``h_B`` of
conditional draws given ``R_p <= -L`` and given ``R_p > -L``,
``P = p_A h_A + (1 - p_A) h_B``; its interval combines the two shares' Wilson intervals at
``1 - 0.05 / 2`` (each side fails with probability <= 2.5 %, so the interval covers with
probability >= 95 %).

References
----------
Dissmann, J., Brechmann, E., Czado, C. & Kurowicka, D. (2013). Selecting and estimating
regular vine copulae and application to financial returns. CSDA 59.
Brechmann, E., Hendrich, K. & Czado, C. (2013). Conditional copula simulation for
systemic risk stress testing. Insurance: Mathematics and Economics 53(3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skfolio.distribution import VineCopula

from diffrisk.stress.reverse import (
    ReverseRequest,
    ReverseResult,
    ReverseStressError,
    portfolio_loss,
)
from diffrisk.stress.reverse_guidance import wilson_estimate
from diffrisk.stress.reverse_peers import bridge_paths, window_sums

#: Pair-copula trees fitted (skfolio's default truncation).
MAX_DEPTH = 4


@dataclass(frozen=True)
class VineFit:
    """A vine of the ``h``-day asset returns plus the portfolio column (the last one).

    Attributes
    ----------
    vine : VineCopula
        Fitted on ``(n_windows, n_assets + 1)``; the last column is ``R_p``.
    weights : ndarray (n_assets,)
        The portfolio of the extra column.
    daily_cov : ndarray (n_assets, n_assets)
        Covariance of the ``h``-day sums divided by ``h`` (the bridges' steps).
    horizon : int
    n_windows : int
    """

    vine: VineCopula
    weights: NDArray[np.float64]
    daily_cov: NDArray[np.float64]
    horizon: int
    n_windows: int


def fit_vine(
    returns: ArrayLike,
    weights: ArrayLike,
    horizon: int,
    *,
    max_depth: int | None = MAX_DEPTH,
    seed: int = 0,
) -> VineFit:
    """Fit the vine copula of the ``horizon``-day sums and the portfolio's return.

    Parameters
    ----------
    returns : array_like (T, n_assets)
        Daily log returns (rows before the scenarios start), at least 2 assets.
    weights : array_like (n_assets,)
    horizon : int
        Days per window.
    max_depth : int or None
        Trees of the vine (None: all; independence above it).
    seed : int
        skfolio's ``random_state``.
    """
    arr = np.asarray(returns, dtype=float)
    w = np.asarray(weights, dtype=float).ravel()
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"the vine peer needs returns of at least 2 assets, got {arr.shape}")
    if w.size != arr.shape[1]:
        raise ValueError(f"expected {arr.shape[1]} weights, got {w.size}")
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        raise ValueError(f"returns: non-finite value at row {bad[0, 0]}, column {bad[0, 1]}")
    x = window_sums(arr, int(horizon))
    if x.shape[0] < 10 * (x.shape[1] + 1):
        raise ValueError(
            f"returns: {x.shape[0]} windows of {horizon} days are too few for a vine of "
            f"{x.shape[1] + 1} columns (need {10 * (x.shape[1] + 1)})"
        )
    data = np.column_stack([x, np.expm1(x) @ w])
    vine = VineCopula(central_assets=[x.shape[1]], max_depth=max_depth, random_state=int(seed)).fit(
        data
    )
    cov = np.atleast_2d(np.cov(x, rowvar=False)) / int(horizon)
    return VineFit(vine, w, cov, int(horizon), int(x.shape[0]))


def _draw(fit: VineFit, n: int, low: float, high: float, seed: int) -> NDArray[np.float64]:
    """``n`` draws of the asset columns given ``low < R_p <= high`` (sets ``random_state``)."""
    col = fit.vine.n_features_in_ - 1
    fit.vine.set_params(random_state=int(seed))
    return fit.vine.sample(n, conditioning={col: (low, high)})[:, :col]


def vine_reverse_stress(
    fit: VineFit,
    request: ReverseRequest,
    level: float,
    *,
    n_paths: int = 1000,
    n_probability: int = 20_000,
    seed: int = 0,
) -> ReverseResult:
    """Scenarios of the fitted vine given the portfolio column is in the loss region.

    Parameters
    ----------
    fit : VineFit
        Fitted with ``request.weights`` and horizon.
    request : ReverseRequest
    level : float
        L, below the largest possible loss of the weights.
    n_paths : int
        Conditional draws given ``R_p <= -L``; those reaching L are returned.
    n_probability : int
        Draws of the two strata of ``P(loss >= L)`` (half each).
    seed : int

    Returns
    -------
    ReverseResult
        ``method="vine_copula"``; ``probability`` the stratified estimate (``p``,
        ``lower``, ``upper``, ``p_region`` = ``F_p(-L)``, ``share_region``,
        ``share_outside``); ``metadata["hit_rate"]`` the share of scenario draws reaching
        L.
    """
    h = fit.horizon
    if request.horizon != h:
        raise ValueError(f"fit horizon {h} differs from the request's {request.horizon}")
    if request.weights.shape != fit.weights.shape or not np.allclose(
        request.weights, fit.weights, rtol=1e-12, atol=0.0
    ):
        raise ValueError("the vine was fitted for other weights (its portfolio column)")
    worst = float(np.clip(request.weights, 0, None).sum())
    if not (np.isfinite(level) and 0 < level < worst):
        raise ReverseStressError(
            "loss",
            f"loss {level:.6g} is unreachable: it must lie in (0, {worst:.6g}), the largest "
            "possible loss of these weights",
        )
    if int(n_paths) < 1 or int(n_probability) < 2:
        raise ValueError(
            f"need n_paths >= 1 and n_probability >= 2, got {n_paths}, {n_probability}"
        )
    seeds = np.random.SeedSequence(int(seed)).generate_state(4)
    p_region = float(fit.vine.marginal_distributions_[-1].cdf(np.array([[-level]])).item())
    if not p_region > 0:
        raise ReverseStressError(
            "loss", f"loss {level:.6g} is unreachable under the fitted vine (P = 0)"
        )
    x = _draw(fit, int(n_paths), -np.inf, -level, seeds[0])
    paths = bridge_paths(x, fit.daily_cov, np.ones(len(x)), h, np.random.default_rng(seeds[1]))
    loss = portfolio_loss(paths, request.weights, h)
    keep = loss >= level

    # P(loss >= L): strata R_p <= -L (probability p_region) and R_p > -L, half the draws each
    n_a = int(n_probability) // 2
    n_b = int(n_probability) - n_a
    x_a = _draw(fit, n_a, -np.inf, -level, seeds[2])[:, None, :]
    x_b = _draw(fit, n_b, -level, np.inf, seeds[3])[:, None, :]
    hits_a = int((portfolio_loss(x_a, fit.weights, 1) >= level).sum())
    hits_b = int((portfolio_loss(x_b, fit.weights, 1) >= level).sum())
    share_a = wilson_estimate(hits_a, n_a, level=0.975)
    share_b = wilson_estimate(hits_b, n_b, level=0.975)
    prob = {k: p_region * share_a[k] + (1 - p_region) * share_b[k] for k in ("p", "lower", "upper")}
    prob.update(
        p_region=p_region,
        share_region=share_a["p"],
        share_outside=share_b["p"],
        n=float(n_a + n_b),
    )
    marginal = type(fit.vine.marginal_distributions_[-1]).__name__
    return ReverseResult(
        method="vine_copula",
        scenarios=paths[keep],
        loss=loss[keep],
        level=float(level),
        probability=prob,
        metadata={
            "hit_rate": float(keep.mean()),
            "n_windows": fit.n_windows,
            "max_depth": fit.vine.max_depth,
            "portfolio_marginal": marginal,
            "n_probability": int(n_probability),
            "seed": int(seed),
        },
    )
