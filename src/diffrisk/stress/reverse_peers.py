"""Classic reverse stress tests: Mahalanobis worst case (normal, Student-t), history.

The elliptical peers fit the law of the ``h``-day cumulative log returns ``X`` of the
assets (overlapping windows of the returns before the scenarios start). Their most likely
scenario on the loss surface is the point of ``{loss(x) = L}`` nearest to the mean in
Mahalanobis distance (Breuer, Jandacka, Rheinberger & Summer 2009): for an elliptical law
the density falls with that distance, so the normal and the Student-t fits share the
point and differ in how likely it is. For the linearised loss ``-w'x`` it is closed form,
``x* = mu + Sigma a (L - a'mu) / (a'Sigma a)`` with ``a = -w`` and distance
``(L - a'mu) / sqrt(a'Sigma a)``; for the buy-and-hold loss it is solved numerically from
there. The scenario sets are exact draws of the fitted law given ``a'X >= L`` (a truncated
normal for ``a'X``, the rest by Gaussian conditioning; for the t through its normal
scale mixture), kept where the buy-and-hold loss reaches L; daily paths are Brownian
bridges of the daily covariance ending at the drawn ``x``.

References
----------
Breuer, T., Jandacka, M., Rheinberger, K. & Summer, M. (2009). How to find plausible,
severe and useful stress scenarios. International Journal of Central Banking 5(3).
McNeil, A., Frey, R. & Embrechts, P. (2015). Quantitative Risk Management, §6.2 (EM fit
of the multivariate t).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats
from scipy.special import logsumexp

from diffrisk.stress.reverse import ReverseRequest, ReverseResult, portfolio_loss
from diffrisk.stress.reverse_guidance import wilson_estimate

NU_GRID: tuple[float, ...] = (3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 30.0)


@dataclass(frozen=True)
class EllipticalFit:
    """Location, scatter and degrees of freedom (``inf`` = normal) of ``h``-day returns."""

    mean: NDArray[np.float64]
    scatter: NDArray[np.float64]
    nu: float
    horizon: int


def window_sums(returns: ArrayLike, horizon: int) -> NDArray[np.float64]:
    """Cumulative log returns of every overlapping ``horizon``-day window, (n, n_assets)."""
    arr = np.asarray(returns, dtype=float)
    if arr.ndim != 2 or arr.shape[0] <= horizon:
        raise ValueError(f"need more than horizon={horizon} rows of returns, got {arr.shape}")
    csum = np.vstack([np.zeros(arr.shape[1]), np.cumsum(arr, axis=0)])
    return csum[horizon:] - csum[:-horizon]


def fit_normal(returns: ArrayLike, horizon: int) -> EllipticalFit:
    """Sample mean and covariance of the overlapping ``horizon``-day sums."""
    x = window_sums(returns, horizon)
    return EllipticalFit(x.mean(axis=0), np.cov(x, rowvar=False), math.inf, int(horizon))


def fit_student_t(
    returns: ArrayLike, horizon: int, nu_grid: tuple[float, ...] = NU_GRID, n_iter: int = 100
) -> EllipticalFit:
    """Multivariate t of the ``horizon``-day sums (EM per ``nu``, best ``nu`` of the grid).

    For each ``nu`` of ``nu_grid`` the location and scatter are fitted by EM; the ``nu``
    with the largest (pseudo-)likelihood of the overlapping windows is kept.
    """
    x = window_sums(returns, horizon)
    best: tuple[float, EllipticalFit] | None = None
    for nu in nu_grid:
        mu, sig = x.mean(axis=0), np.cov(x, rowvar=False) * (nu - 2) / nu
        for _ in range(n_iter):
            c = x - mu
            d2 = np.einsum("ij,jk,ik->i", c, np.linalg.inv(sig), c)
            u = (nu + x.shape[1]) / (nu + d2)
            mu_new = (u[:, None] * x).sum(axis=0) / u.sum()
            c = x - mu_new
            sig = (u[:, None] * c).T @ c / x.shape[0]
            done = np.max(np.abs(mu_new - mu)) < 1e-8 * (1.0 + np.max(np.abs(mu)))
            mu = mu_new
            if done:
                break
        ll = float(stats.multivariate_t(mu, sig, df=nu, allow_singular=True).logpdf(x).sum())
        if best is None or ll > best[0]:
            best = (ll, EllipticalFit(mu, sig, float(nu), int(horizon)))
    assert best is not None
    return best[1]


def mahalanobis_worst_case(
    fit: EllipticalFit, weights: ArrayLike, level: float, *, loss: str = "buy_and_hold"
) -> tuple[NDArray[np.float64], float]:
    """The most likely ``h``-day scenario with loss L and its Mahalanobis distance.

    Parameters
    ----------
    fit : EllipticalFit
    weights : array_like (n_assets,)
    level : float
        L.
    loss : {"linear", "buy_and_hold"}
        ``-w'x`` (closed form) or ``-sum w (exp(x) - 1)`` (SLSQP from the closed form).

    Returns
    -------
    x : ndarray (n_assets,)
        Cumulative log returns of the scenario.
    distance : float
        ``sqrt((x - mu)' Sigma^-1 (x - mu))``.
    """
    a = -np.asarray(weights, dtype=float)
    mu, sig = fit.mean, fit.scatter
    s_a = sig @ a
    x = mu + s_a * (level - a @ mu) / (a @ s_a)
    if loss == "buy_and_hold":
        prec = np.linalg.inv(sig)
        res = optimize.minimize(
            lambda z: (z - mu) @ prec @ (z - mu),
            x,
            jac=lambda z: 2 * prec @ (z - mu),
            constraints=[
                {
                    "type": "eq",
                    "fun": lambda z: a @ np.expm1(z) - level,
                    "jac": lambda z: a * np.exp(z),
                }
            ],
            method="SLSQP",
            options={"ftol": 1e-12, "maxiter": 500},
        )
        # SLSQP can stop with "rank-deficient subproblem" at a solution it has reached:
        # accept its point when it satisfies the constraint.
        feasible = abs(a @ np.expm1(res.x) - level) <= 1e-8 * max(1.0, abs(level))
        if not (res.success or feasible):
            raise RuntimeError(f"worst-case search failed: {res.message}")
        x = res.x
    elif loss != "linear":
        raise ValueError(f"loss must be 'linear' or 'buy_and_hold', got {loss!r}")
    c = x - mu
    return x, float(math.sqrt(c @ np.linalg.solve(sig, c)))


def bridge_paths(
    x: NDArray[np.float64],
    daily_cov: NDArray[np.float64],
    scale: NDArray[np.float64],
    h: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Daily paths (n, h, A) summing to ``x``: i.i.d. N(0, daily_cov) steps, centred.

    Each path's steps are multiplied by its ``scale`` (1, or the t's mixing variable).
    """
    z = rng.multivariate_normal(np.zeros(x.shape[1]), daily_cov, size=(x.shape[0], h))
    z = z * scale[:, None, None]
    return x[:, None, :] / h + z - z.mean(axis=1, keepdims=True)


def _conditional_draws(
    fit: EllipticalFit,
    a: NDArray[np.float64],
    threshold: float,
    n: int,
    n_mixture: int,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Exact draws of the fitted law given ``a'X >= threshold``; ``(x, g)`` (g: t mixing)."""
    mu, sig, nu = fit.mean, fit.scatter, fit.nu
    m_y, s_y = float(a @ mu), float(math.sqrt(a @ sig @ a))
    g = np.ones(n_mixture) if math.isinf(nu) else rng.gamma(nu / 2, 2 / nu, size=n_mixture)
    log_tail = stats.norm.logsf((threshold - m_y) * np.sqrt(g) / s_y)
    g = g[rng.choice(n_mixture, size=n, p=np.exp(log_tail - logsumexp(log_tail)))]
    lo = (threshold - m_y) * np.sqrt(g) / s_y
    y = m_y + s_y / np.sqrt(g) * stats.truncnorm.rvs(lo, np.inf, random_state=rng)
    z = rng.multivariate_normal(np.zeros(len(mu)), sig, size=n) / np.sqrt(g)[:, None]
    s_a = sig @ a
    return mu + z + np.outer(y - m_y - z @ a, s_a / (a @ s_a)), g


def elliptical_reverse_stress(
    fit: EllipticalFit,
    request: ReverseRequest,
    level: float,
    *,
    n_paths: int = 1000,
    n_mixture: int = 50_000,
    seed: int = 0,
) -> ReverseResult:
    """Scenarios of the fitted normal/t given the loss reaches L, and ``P(loss >= L)``.

    ``X`` is drawn from the fitted law conditionally on the linearised loss ``a'X >= L``
    (exact: truncated normal for ``a'X`` given the t's mixing variable, resampled in
    proportion to ``P(a'X >= L | g)``), with the truncation at the linearised loss of the
    most likely scenario (``>= L``: the buy-and-hold loss is below the linear one for
    long positions), then kept where the buy-and-hold loss reaches L.
    For long-only weights ``loss <= a'X``, so ``P(loss >= L) = P(a'X >= L) * P(loss >= L |
    a'X >= L)``: the closed-form tail times the Wilson interval of the share of a second
    draw (``n_mixture`` draws) truncated at L.
    Otherwise ``P`` is plain Monte Carlo with ``n_mixture`` draws (Wilson interval).
    """
    h = fit.horizon
    if request.horizon != h:
        raise ValueError(f"fit horizon {h} differs from the request's {request.horizon}")
    rng = np.random.default_rng(int(seed))
    a = -request.weights
    m_y, s_y, nu = float(a @ fit.mean), float(math.sqrt(a @ fit.scatter @ a)), fit.nu
    name = "normal" if math.isinf(nu) else "student_t"
    x_star, dist = mahalanobis_worst_case(fit, request.weights, level)
    # scenarios: truncated where the most likely scenario's linearised loss lies (>= L)
    x, g = _conditional_draws(fit, a, max(level, float(a @ x_star)), n_paths, n_mixture, rng)
    paths = bridge_paths(x, fit.scatter / h, 1 / np.sqrt(g), h, rng)
    loss = portfolio_loss(paths, request.weights, h)
    keep = loss >= level
    zscore = (level - m_y) / s_y
    tail = float(stats.norm.sf(zscore) if math.isinf(nu) else stats.t.sf(zscore, nu))
    if np.all(request.weights >= 0):
        x_p, _ = _conditional_draws(fit, a, level, n_mixture, n_mixture, rng)
        hits = int((-(np.expm1(x_p) * request.weights).sum(axis=1) >= level).sum())
        share = wilson_estimate(hits, int(n_mixture))
        prob = {k: tail * share[k] for k in ("p", "lower", "upper")}
        prob["linear_tail"] = tail
    else:
        gg = np.ones(n_mixture) if math.isinf(nu) else rng.gamma(nu / 2, 2 / nu, size=n_mixture)
        z = rng.multivariate_normal(np.zeros(len(a)), fit.scatter, size=n_mixture)
        xs = fit.mean + z / np.sqrt(gg)[:, None]
        hits = int((-(np.expm1(xs) * request.weights).sum(axis=1) >= level).sum())
        prob = wilson_estimate(hits, n_mixture)
    return ReverseResult(
        method=name,
        scenarios=paths[keep],
        loss=loss[keep],
        level=float(level),
        probability=prob,
        metadata={"nu": nu, "worst_case_distance": dist, "hit_rate": float(keep.mean())},
    )


def historical_reverse_stress(
    returns: ArrayLike, request: ReverseRequest, level: float
) -> ReverseResult:
    """Historical windows (all overlapping ``h``-day windows of ``returns``) reaching L.

    ``P`` is the share of windows that reach L with a Wilson interval (overlapping windows
    are dependent: the interval is too narrow, the point estimate is unbiased).
    """
    arr = np.asarray(returns, dtype=float)
    h = request.horizon
    idx = np.arange(arr.shape[0] - h + 1)
    paths = np.stack([arr[i : i + h] for i in idx]) if len(idx) else np.empty((0, h, arr.shape[1]))
    loss = portfolio_loss(paths, request.weights, h)
    keep = np.flatnonzero(loss >= level)
    return ReverseResult(
        method="historical",
        scenarios=paths[keep],
        loss=loss[keep],
        level=float(level),
        probability=wilson_estimate(len(keep), max(len(idx), 1)),
        metadata={"window_start_rows": keep.tolist(), "n_windows": int(len(idx))},
    )
