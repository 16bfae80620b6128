"""Acerbi-Szekely expected-shortfall backtests with Monte-Carlo p-values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from diffrisk.core.checks import check_int
from diffrisk.risk.measures import check_alpha
from diffrisk.risk.scoring import risk_inputs

#: Largest number of simulated values one Monte-Carlo chunk materialises (memory bound).
_CHUNK_ELEMENTS = 1 << 21


@dataclass(frozen=True)
class AcerbiSzekelyResult:
    """Acerbi–Szekely ES backtest (Z1 or Z2) with its Monte-Carlo p-value.

    Attributes
    ----------
    statistic : float
        Z1 or Z2: about 0 under a correct model, negative when risk is underestimated.
        Z1 is NaN when there is no exception.
    pvalue : float
        Fraction of the simulated statistics at or below the observed one (one-sided,
        small when risk is underestimated); NaN when ``n_sim == 0`` or the statistic
        is NaN.
    n_obs, n_exceptions : int
    alpha : float
    n_sim : int
    null : str
        How the null was simulated: ``"scenarios"``, ``"normal"`` or ``"t"``.
    simulated : ndarray
        The simulated statistics (NaN for Z1 draws without an exception).
    """

    statistic: float
    pvalue: float
    n_obs: int
    n_exceptions: int
    alpha: float
    n_sim: int
    null: str
    simulated: NDArray[np.float64] = field(repr=False, compare=False)


def _tail_sum(r: NDArray, v: NDArray, e: NDArray) -> tuple[float, int]:
    """``sum_t r_t 1{r_t < VaR_t} / ES_t`` and the number of exceptions."""
    hit = r < v
    return float(np.sum(r[hit] / e[hit])), int(np.count_nonzero(hit))


def _float32_atom_threshold(var: NDArray[np.float64]) -> NDArray[np.float64]:
    """VaR raised by one float32 ulp so that a VaR scenario stored in float32 is a hit."""
    return var + np.spacing(np.abs(var).astype(np.float32)).astype(np.float64)


def _exact_threshold(threshold: NDArray[np.float64], dtype: np.dtype) -> NDArray:
    """Largest value of ``dtype`` <= ``threshold``: ``x <= t`` iff ``x <= result`` for x of dtype.

    Lets float32 scenarios be compared with float64 thresholds without a float64 copy.
    """
    if dtype == np.float64:
        return threshold
    rounded = threshold.astype(dtype)
    above = rounded.astype(np.float64) > threshold
    return np.where(above, np.nextafter(rounded, np.asarray(-np.inf, dtype=dtype)), rounded)


def check_scenarios(scenarios: ArrayLike, n_obs: int) -> NDArray:
    """The scenarios as an ``(n_obs, N)`` array; ``ValueError`` on a wrong shape or NaN."""
    scen = np.asarray(scenarios)
    if scen.ndim != 2 or scen.shape[0] != n_obs or scen.shape[1] < 1:
        raise ValueError(
            f"scenarios must have shape (T, N) with T={n_obs} (the length of returns) and "
            f"N >= 1, got {scen.shape}"
        )
    if scen.dtype not in (np.float32, np.float64):
        scen = scen.astype(np.float64)
    if not np.all(np.isfinite(scen)):
        raise ValueError("scenarios contains NaN or inf")
    return scen


def _chunks(n_sim: int, n_obs: int) -> list[slice]:
    size = max(1, _CHUNK_ELEMENTS // max(n_obs, 1))
    return [slice(s, min(n_sim, s + size)) for s in range(0, n_sim, size)]


def _accumulate(
    sums: NDArray[np.float64],
    counts: NDArray[np.int64],
    part: slice,
    cols: NDArray[np.intp],
    hit: NDArray[np.bool_],
    weighted: NDArray[np.float64],
) -> None:
    """Store the per-simulation sums of weighted tail returns and hit counts of one chunk."""
    width = part.stop - part.start
    sums[part] = np.bincount(cols[hit], weights=weighted[hit], minlength=width)
    counts[part] = np.bincount(cols[hit], minlength=width)


#: Fractions of the scenarios (or of the probability) that the Monte-Carlo null draws
#: explicitly: the smallest one covering every tail is used, so the random stream of a
#: day set does not depend on which alphas are tested together (see _simulate_*).
_CANDIDATE_FRACTIONS = ((1, 10), (1, 5), (1, 2), (1, 1))


def _candidate_fraction(share: float) -> tuple[int, int]:
    """Smallest fraction ``num/den`` of :data:`_CANDIDATE_FRACTIONS` that is >= share."""
    return next(f for f in _CANDIDATE_FRACTIONS if share * f[1] <= f[0])


def _bernoulli_cells(rng: np.random.Generator, n_cells: int, p: float) -> NDArray[np.int64]:
    """Sorted indices of the successes among ``n_cells`` i.i.d. Bernoulli(p) trials.

    Drawn as cumulative sums of geometric gaps, so the cost is proportional to the
    number of successes, not of trials.
    """
    if p >= 1.0:
        return np.arange(n_cells, dtype=np.int64)
    expected = n_cells * p
    parts, last = [], -1
    while last < n_cells - 1:
        size = int(expected + 10.0 * math.sqrt(expected) + 100)
        positions = last + np.cumsum(rng.geometric(p, size))
        parts.append(positions)
        last = int(positions[-1])
    cells = np.concatenate(parts)
    return cells[cells < n_cells]


def _simulate_from_scenarios(
    scenarios: NDArray,
    var: NDArray[np.float64],
    es: NDArray[np.float64],
    n_sim: int,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Tail sums and hit counts of returns drawn day by day from the scenarios.

    ``var`` and ``es`` are (A, T) for A tail probabilities. Every simulation draws, for
    every day t, one of the N scenarios uniformly, seen as a rank in the day's sorted
    scenarios; it is a hit for alpha a iff the rank is below ``m_at``, the number of
    scenarios at or below the threshold. Only ranks below ``R`` (R/N the smallest of
    :data:`_CANDIDATE_FRACTIONS` with ``R >= max m_at``, i.e. 10 % of the scenarios for
    the usual alphas) are drawn explicitly: they are the successes of Bernoulli(R/N)
    trials over the days x simulations grid (geometric skipping), each with a rank
    uniform on [0, R). This has exactly the law of drawing every cell, costs O(R/N) of
    it, and gives the same draws for every set of alphas with the same R. The draws are
    shared by the A tail probabilities.
    """
    n_obs, n_scen = scenarios.shape
    threshold = _float32_atom_threshold(var) if scenarios.dtype == np.float32 else var
    weights = 1.0 / es
    sums = np.zeros((var.shape[0], n_sim))
    counts = np.zeros((var.shape[0], n_sim), dtype=np.int64)
    highest = _exact_threshold(threshold.max(axis=0), scenarios.dtype)
    depth = int(np.max(np.count_nonzero(scenarios <= highest[:, None], axis=1)))
    if depth == 0:
        return sums, counts
    tail = np.partition(scenarios, depth - 1, axis=1)[:, :depth] if depth < n_scen else scenarios
    tail = np.sort(tail, axis=1).astype(np.float64)
    n_tail = np.stack([np.sum(tail <= t[:, None], axis=1) for t in threshold])
    widest = n_tail.max(axis=0)
    num, den = _candidate_fraction(depth / n_scen)
    n_candidates = min(n_scen, -(-n_scen * num // den))
    for part in _chunks(n_sim, n_obs):
        width = part.stop - part.start
        cells = _bernoulli_cells(rng, n_obs * width, n_candidates / n_scen)
        rows, cols = np.divmod(cells, width)
        rank = rng.integers(0, n_candidates, size=rows.size)
        keep = rank < widest[rows]
        rows, cols, rank = rows[keep], cols[keep], rank[keep]
        drawn = tail[rows, rank]
        for a in range(var.shape[0]):
            hit = rank < n_tail[a, rows]
            _accumulate(sums[a], counts[a], part, cols, hit, drawn * weights[a, rows])
    return sums, counts


def _standard_var_es(alpha: float, distribution: str, nu: float) -> tuple[float, float]:
    """VaR and ES of the standard normal or standard Student-t(nu) at ``alpha``."""
    if distribution == "normal":
        q = float(stats.norm.ppf(alpha))
        return q, -float(stats.norm.pdf(q)) / alpha
    q = float(stats.t.ppf(alpha, nu))
    return q, -(nu + q * q) / (nu - 1.0) * float(stats.t.pdf(q, nu)) / alpha


def check_null(distribution: str, nu: float) -> float:
    """Degrees of freedom of the parametric null (``inf`` = normal); ``ValueError`` otherwise."""
    if distribution not in ("normal", "t"):
        raise ValueError(f"distribution must be 'normal' or 't', got {distribution!r}")
    nu = float(nu)
    if distribution == "t" and not nu > 1.0:
        raise ValueError(f"nu must be > 1 for a finite ES, got {nu!r}")
    return nu


def _simulate_parametric(
    var: NDArray[np.float64],
    es: NDArray[np.float64],
    alphas: Sequence[float],
    n_sim: int,
    rng: np.random.Generator,
    distribution: str,
    nu: float,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Tail sums and hit counts under a location-scale null matched to (VaR_t, ES_t).

    For each day and tail probability, ``r = mu_t + s_t eps`` with eps standard normal
    (or Student-t(nu)) and (mu_t, s_t) solving ``VaR = mu + s q``, ``ES = mu + s e`` for
    the standard (q, e). eps is drawn by inversion, ``eps = F^-1(u)`` with u uniform, so
    ``eps < q`` iff ``u < alpha``: only cells with ``u < p`` are drawn explicitly (p the
    smallest of :data:`_CANDIDATE_FRACTIONS` >= max(alphas), 0.1 for the usual alphas);
    they are the successes of Bernoulli(p) trials over the days x simulations grid
    (geometric skipping), with u uniform on [0, p) given success. One u per day and
    simulation is shared by the alphas, and the draws are the same for every set of
    alphas with the same p.
    """
    n_obs = var.shape[1]
    sums = np.zeros((var.shape[0], n_sim))
    counts = np.zeros((var.shape[0], n_sim), dtype=np.int64)
    standard = [_standard_var_es(a, distribution, nu) for a in alphas]
    scale = np.stack(
        [np.maximum((var[i] - es[i]) / (q - e), 0.0) for i, (q, e) in enumerate(standard)]
    )
    loc = np.stack([var[i] - scale[i] * q for i, (q, _) in enumerate(standard)])
    weights = 1.0 / es
    num, den = _candidate_fraction(max(alphas))
    share = num / den
    for part in _chunks(n_sim, n_obs):
        width = part.stop - part.start
        rows, cols = np.divmod(_bernoulli_cells(rng, n_obs * width, share), width)
        u = share * rng.random(rows.size)
        keep = u < max(alphas)
        rows, cols, u = rows[keep], cols[keep], u[keep]
        eps = special.ndtri(u) if distribution == "normal" else special.stdtrit(nu, u)
        for a, alpha in enumerate(alphas):
            draws = loc[a, rows] + scale[a, rows] * eps
            _accumulate(sums[a], counts[a], part, cols, u < alpha, draws * weights[a, rows])
    return sums, counts


def z_tests(
    returns: NDArray[np.float64],
    var: NDArray[np.float64],
    es: NDArray[np.float64],
    alphas: Sequence[float],
    scenarios: NDArray | None,
    n_sim: int,
    seed: int | np.random.SeedSequence,
    distribution: str,
    nu: float,
) -> tuple[list[AcerbiSzekelyResult], list[AcerbiSzekelyResult]]:
    """Z1 and Z2 for every alpha (var, es shaped (A, T)), sharing the simulated draws."""
    n_obs = returns.size
    rng = np.random.default_rng(seed)
    null = "scenarios" if scenarios is not None else distribution
    if n_sim == 0:
        sims = np.zeros((var.shape[0], 0))
        sim_counts = sims.astype(np.int64)
    elif scenarios is not None:
        sims, sim_counts = _simulate_from_scenarios(scenarios, var, es, n_sim, rng)
    else:
        sims, sim_counts = _simulate_parametric(var, es, alphas, n_sim, rng, distribution, nu)
    z1_results, z2_results = [], []
    for a, alpha in enumerate(alphas):
        tail, n_hits = _tail_sum(returns, var[a], es[a])
        z2 = 1.0 - tail / (n_obs * alpha)
        z2_sim = 1.0 - sims[a] / (n_obs * alpha)
        z2_p = float(np.mean(z2_sim <= z2)) if n_sim else math.nan
        z2_results.append(AcerbiSzekelyResult(z2, z2_p, n_obs, n_hits, alpha, n_sim, null, z2_sim))
        z1 = 1.0 - tail / n_hits if n_hits else math.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            z1_sim = np.where(sim_counts[a] > 0, 1.0 - sims[a] / sim_counts[a], np.nan)
        defined = z1_sim[np.isfinite(z1_sim)]
        z1_p = float(np.mean(defined <= z1)) if (n_hits and defined.size) else math.nan
        z1_results.append(AcerbiSzekelyResult(z1, z1_p, n_obs, n_hits, alpha, n_sim, null, z1_sim))
    return z1_results, z2_results


def acerbi_szekely(
    returns: ArrayLike,
    var: ArrayLike,
    es: ArrayLike,
    alpha: float,
    scenarios: ArrayLike | None = None,
    n_sim: int = 1000,
    seed: int | np.random.SeedSequence = 0,
    distribution: str = "normal",
    nu: float = 5.0,
) -> tuple[AcerbiSzekelyResult, AcerbiSzekelyResult]:
    """Acerbi–Szekely (2014) ES tests Z1 and Z2 of one forecast series, one simulated null.

    The statistics are defined in :func:`acerbi_szekely_z1` and :func:`acerbi_szekely_z2`
    (each returns its half of this pair); both p-values come from the same simulations.

    Parameters
    ----------
    returns, var, es : array_like, shape (T,)
        Realised log returns and the VaR and ES forecasts (returns, ES < 0, ES <= VaR).
    alpha : float
        Tail probability of the forecasts.
    scenarios : array_like, shape (T, N), optional
        The method's predictive scenarios for each day; the null is simulated from them.
    n_sim : int, default 1000
        Number of simulations (0: statistic only, p-value NaN).
    seed : int or numpy.random.SeedSequence, default 0
        Seed of the simulation.
    distribution : {"normal", "t"}, default "normal"
        Parametric null used when ``scenarios`` is None.
    nu : float, default 5.0
        Degrees of freedom of the Student-t null.

    Returns
    -------
    z1, z2 : AcerbiSzekelyResult

    Notes
    -----
    The Monte-Carlo null. With ``scenarios`` (shape (T, N), the method's own predictive
    draws), every simulation draws one scenario per day uniformly and recomputes the
    statistic with the same VaR/ES forecasts. A simulated return counts as an exception
    when it is ``<=`` VaR (plus one float32 ulp for float32 scenarios), so a day's hit
    probability is m/N, m the number of scenarios at or below the VaR. The
    ``"empirical"`` VaR of N scenarios is itself one of them (the ``k = ceil(alpha N)``-th
    smallest), and for a continuous predictive distribution approximated by N draws
    ``P(r < X_(k)) ~ k / (N + 1)``, which ``<=`` reproduces (k/N) while ``<`` misses one
    atom ((k-1)/N, a relative error of 1/k: 10 % at N = 1000, alpha = 1 %). The
    design-matched VaR of an ``"iid"`` or ``"stratified"`` set
    (:func:`diffrisk.risk.measures.var`) lies between two scenarios, or on one, and
    m/N is alpha to within 1/N (exactly alpha when alpha N is an integer). The ulp keeps
    a VaR atom when the forecast was computed in float64 and the scenarios stored in
    float32. Observed exceptions stay strict (``r_t < VaR_t``). Without scenarios the
    null is parametric: each day's return is ``mu_t + s_t eps`` with eps standard normal
    (``distribution="normal"``) or Student-t(``nu``), (mu_t, s_t) chosen so that its VaR
    and ES at ``alpha`` equal the forecasts. The simulation only draws the tail events
    explicitly (exactly the same law as drawing every day x simulation), is vectorised,
    and is a deterministic function of ``seed``.

    References
    ----------
    .. [1] Acerbi, C. and Szekely, B. (2014). Back-testing expected shortfall. *Risk*
       27(11), 76–81.
    """
    r, v, e = risk_inputs(returns, var, es)
    alpha = check_alpha(alpha)
    n_sim = check_int(n_sim, "n_sim", 0)
    nu = check_null(distribution, nu)
    scen = None if scenarios is None else check_scenarios(scenarios, r.size)
    z1, z2 = z_tests(r, v[None], e[None], [alpha], scen, n_sim, seed, distribution, nu)
    return z1[0], z2[0]


def acerbi_szekely_z2(
    returns: ArrayLike, var: ArrayLike, es: ArrayLike, alpha: float, **options: Any
) -> AcerbiSzekelyResult:
    """Acerbi–Szekely (2014) unconditional ES test Z2 with a Monte-Carlo p-value.

    In return space (ES_t < 0)::

        Z2 = 1 - sum_t r_t 1{r_t < VaR_t} / (T alpha ES_t)
           = 1 + sum_t r_t 1{r_t < VaR_t} / (T alpha |ES_t|).

    Under a correct model ``E[r_t 1{r_t < VaR_t}] = alpha ES_t``, so ``E[Z2] = 0``; more
    or deeper exceptions than forecast (risk underestimated) make Z2 negative. The
    p-value is the fraction of simulated Z2 at or below the observed one.

    Parameters as for :func:`acerbi_szekely`: ``returns, var, es, alpha``, and by
    keyword ``scenarios, n_sim, seed, distribution, nu`` (the simulated null, described
    there).

    Returns
    -------
    AcerbiSzekelyResult

    Examples
    --------
    >>> from diffrisk.risk import normal_var_es
    >>> v, e = normal_var_es(0.0, 0.01, 0.025)
    >>> res = acerbi_szekely_z2([0.001] * 99 + [-0.03], [v] * 100, [e] * 100, 0.025, n_sim=0)
    >>> round(res.statistic, 4)
    0.4867
    """
    return acerbi_szekely(returns, var, es, alpha, **options)[1]


def acerbi_szekely_z1(
    returns: ArrayLike, var: ArrayLike, es: ArrayLike, alpha: float, **options: Any
) -> AcerbiSzekelyResult:
    """Acerbi–Szekely (2014) conditional ES test Z1 with a Monte-Carlo p-value.

    In return space (ES_t < 0), with ``N_T = sum_t 1{r_t < VaR_t}``::

        Z1 = 1 - (1 / N_T) sum_t r_t 1{r_t < VaR_t} / ES_t,

    NaN when there is no exception. About 0 under a correct model (given the VaR is
    right); negative when the losses beyond VaR are deeper than the ES forecast. The
    p-value is the fraction of simulated Z1, among simulations with at least one
    exception, at or below the observed one.

    Parameters as for :func:`acerbi_szekely_z2`; returns an :class:`AcerbiSzekelyResult`.

    Notes
    -----
    The null is simulated exactly as for :func:`acerbi_szekely_z2` (same draws for the
    same seed); simulations without an exception, where Z1 is undefined, are left out.
    """
    return acerbi_szekely(returns, var, es, alpha, **options)[0]
