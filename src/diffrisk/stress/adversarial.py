"""Capital-relief attacks on stress requests: budgets, projections and a derivative-free search.

A stress *request* is what a requester hands the generator: the returns up to the
conditioning date (the generator reads the last ``k`` rows, scaled by the assets' EWMA
volatility, and that volatility itself scales the paths) and a (partial) stress signature,
here the registered signature of a named archetype. The *capital-relief attack* perturbs
both, within a budget ε, so that the portfolio's horizon expected shortfall becomes milder
(the risk the stress paper warns of: conditioning inputs crafted to bias the generator
toward mild scenarios).

Budget (ε >= 0), stated precisely
---------------------------------
* History: only the last ``k`` rows before the conditioning date may change, each entry by
  at most ``ε σ_i``, ``|δ_{t,i}| <= ε σ_i``, where ``σ_i`` is asset i's EWMA volatility
  forecast for the conditioning date computed from the *untouched* rows (fixed while
  searching). :func:`project_history` clips onto this box.
* Signature: each requested component ``s_c`` may move by at most ``ε τ |s_c|``, with τ
  the steering tolerance (``stress.validate.tolerance``, the relative error counted as a
  hit), and stays inside the training range of the model
  (:func:`project_signature`). ε = 1 is thus "anything the steering check would accept".

Search space
------------
The search is over ``θ ∈ [-1, 1]^d`` (:class:`AttackSpace`): three history directions
(:data:`HISTORY_DIRECTIONS`; ``scale``: ``−r`` (θ > 0 shrinks the returns toward 0, θ < 0
inflates them), ``drift``: ``+ε σ_i`` every day, ``decorrelate``: minus the day's
cross-sectional mean return, which removes the common factor), their θ-weighted sum
clipped onto the budget box, and one coordinate per requested signature component,
``s_c + θ_c ε τ |s_c|``. :func:`capital_relief_search` is a coordinate search with common
random numbers: every candidate is generated with the same seed, so ES differences are the
request's effect, not sampling noise.

Relief is ``(ES_attacked − ES_clean) / |ES_clean|`` (ES a return, negative; relief > 0 =
milder scenarios, less capital).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.risk.measures import cvar
from diffrisk.risk.portfolio import portfolio_log_returns
from diffrisk.stress.signatures import SIGNATURE_COLUMNS, range_detail
from diffrisk.stress.windows import conditioning_position
from diffrisk.volatility.ewma import ewma_volatility

logger = logging.getLogger(__name__)

HISTORY_DIRECTIONS: tuple[str, ...] = ("scale", "drift", "decorrelate")

PathGenerator = Callable[[pd.DataFrame, pd.Timestamp, int, Mapping[str, float], int], NDArray]
"""``(returns, as_of, n_paths, signature, seed) -> paths (n_paths, H, n_assets)``."""


# --------------------------------------------------------------------------- requests
def validate_request(
    archetype: str,
    archetypes: Mapping[str, Mapping[str, float]],
    *,
    epsilon: float,
    horizon: int,
    model_horizon: int,
    bounds: pd.DataFrame,
) -> dict[str, float]:
    """Check an audited request; return the archetype's registered signature.

    Parameters
    ----------
    archetype : str
        Name of the requested archetype.
    archetypes : mapping name -> signature
        The registered archetypes (``stress.generate.archetypes``, resolved).
    epsilon : float
        Attack budget, >= 0.
    horizon : int
        Days of the requested paths, ``2 <= horizon <= model_horizon``.
    model_horizon : int
        H of the generator.
    bounds : DataFrame
        :func:`~diffrisk.stress.signatures.signature_range` of the training windows.

    Raises
    ------
    ValueError
        Naming the field and its allowed range or values.
    """
    if archetype not in archetypes:
        raise ValueError(f"archetype {archetype!r} is unknown; allowed: {sorted(archetypes)}")
    eps = float(epsilon)
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"epsilon must be a finite number >= 0, got {epsilon!r}")
    if int(horizon) != horizon or not 2 <= int(horizon) <= int(model_horizon):
        raise ValueError(
            f"horizon must be an integer in [2, {int(model_horizon)}] (the model's horizon), "
            f"got {horizon!r}"
        )
    signature = {str(k): float(v) for k, v in archetypes[archetype].items()}
    detail = range_detail(signature, bounds, prefix="signature.")
    if detail:
        raise ValueError(
            f"archetype {archetype!r}: {detail} (the training range); the generator "
            f"extrapolates there and the request cannot be audited"
        )
    return signature


def horizon_es(
    paths: ArrayLike, weights: Mapping[str, ArrayLike], alpha: float
) -> dict[str, float]:
    """Expected shortfall of each portfolio's horizon log return (a return, negative).

    ``cvar(Σ_h r_p,h, alpha)`` with ``r_p`` the daily rebalanced portfolio log return
    (:func:`~diffrisk.risk.portfolio.portfolio_log_returns`,
    :func:`~diffrisk.risk.measures.cvar`).
    """
    arr = np.asarray(paths, dtype=float)
    return {
        name: float(cvar(portfolio_log_returns(arr, w).sum(axis=1), alpha))
        for name, w in weights.items()
    }


def relief(es_attacked: float, es_clean: float) -> float:
    """``(ES_attacked − ES_clean) / |ES_clean|``: > 0 when the attacked ES is milder."""
    return (float(es_attacked) - float(es_clean)) / max(abs(float(es_clean)), 1e-12)


# --------------------------------------------------------------------------- budget
def history_sigma(past: ArrayLike, *, lam: float, warmup: int) -> NDArray[np.float64]:
    """Each asset's EWMA volatility forecast for the conditioning date (the budget's σ_i)."""
    return ewma_volatility(np.asarray(past, dtype=float), lam=lam, warmup=warmup)[-1]


def project_history(delta: ArrayLike, sigma: ArrayLike, epsilon: float) -> NDArray[np.float64]:
    """Clip a history perturbation (days, assets) onto ``|δ_{t,i}| <= ε σ_i``."""
    bound = float(epsilon) * np.asarray(sigma, dtype=float)
    return np.clip(np.asarray(delta, dtype=float), -bound, bound)


def project_signature(
    signature: Mapping[str, float],
    nominal: Mapping[str, float],
    epsilon: float,
    tolerance: float,
    bounds: pd.DataFrame,
) -> dict[str, float]:
    """Clip a signature onto ``|s'_c − s_c| <= ε τ |s_c|`` intersected with the training range."""
    out = {}
    for c, s in nominal.items():
        half = float(epsilon) * float(tolerance) * abs(float(s))
        lo = max(float(s) - half, float(bounds.loc["lower", c]))
        hi = min(float(s) + half, float(bounds.loc["upper", c]))
        out[c] = float(np.clip(float(signature.get(c, s)), min(lo, s), max(hi, s)))
    return out


@dataclass
class AttackSpace:
    """The requests reachable within budget ε from one clean request.

    Attributes
    ----------
    past : DataFrame (s, n_assets)
        The untouched rows before the conditioning date.
    as_of : Timestamp
        Conditioning date (first day of the paths).
    nominal : dict
        The archetype's registered signature.
    epsilon, tolerance : float
    bounds : DataFrame
    history : int
        k, rows the attacker may change (the model's history length).
    sigma : ndarray (n_assets,)
        Budget scale σ_i (:func:`history_sigma` of ``past``).
    """

    past: pd.DataFrame
    as_of: pd.Timestamp
    nominal: dict[str, float]
    epsilon: float
    tolerance: float
    bounds: pd.DataFrame
    history: int
    sigma: NDArray[np.float64]
    components: tuple[str, ...] = field(init=False)
    directions: NDArray[np.float64] = field(init=False)

    def __post_init__(self) -> None:
        window = self.past.to_numpy(dtype=float)[-self.history :]
        common = np.broadcast_to(window.mean(axis=1, keepdims=True), window.shape)
        drift = np.broadcast_to(self.epsilon * self.sigma, window.shape)
        self.directions = np.stack([-window, drift, -common])
        self.components = tuple(c for c in SIGNATURE_COLUMNS if c in self.nominal)

    @property
    def n_dims(self) -> int:
        """Search dimensions (0 when ε = 0: nothing can move)."""
        return 0 if self.epsilon == 0 else len(HISTORY_DIRECTIONS) + len(self.components)

    def delta(self, theta: ArrayLike) -> NDArray[np.float64]:
        """History perturbation (k, n_assets) of ``θ``, inside the budget box."""
        t = np.clip(np.asarray(theta, dtype=float)[: len(HISTORY_DIRECTIONS)], -1.0, 1.0)
        raw = np.tensordot(t, self.directions[: len(t)], axes=1)
        return project_history(raw, self.sigma, self.epsilon)

    def request(self, theta: ArrayLike) -> tuple[pd.DataFrame, dict[str, float]]:
        """The supplied returns and the signature of ``θ`` (``θ = 0``: the clean request)."""
        t = np.zeros(len(HISTORY_DIRECTIONS) + len(self.components))
        given = np.clip(np.asarray(theta, dtype=float), -1.0, 1.0)
        t[: given.size] = given
        frame = self.past.copy()
        if self.epsilon > 0 and np.any(t[: len(HISTORY_DIRECTIONS)] != 0):
            frame.iloc[-self.history :] = frame.iloc[-self.history :].to_numpy() + self.delta(t)
        moved = {
            c: self.nominal[c]
            + t[len(HISTORY_DIRECTIONS) + j] * self.epsilon * self.tolerance * abs(self.nominal[c])
            for j, c in enumerate(self.components)
        }
        sig = project_signature(moved, self.nominal, self.epsilon, self.tolerance, self.bounds)
        return frame, sig


def attack_space(
    returns: pd.DataFrame,
    as_of: str | pd.Timestamp,
    nominal: Mapping[str, float],
    *,
    epsilon: float,
    tolerance: float,
    bounds: pd.DataFrame,
    history: int,
    lam: float,
    warmup: int,
) -> AttackSpace:
    """The :class:`AttackSpace` of the clean request (``returns`` rows before ``as_of``)."""
    if float(epsilon) < 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
    if not 0 < float(tolerance):
        raise ValueError(f"tolerance must be > 0, got {tolerance!r}")
    s = conditioning_position(returns.index, as_of)
    if s < max(int(history), int(warmup)):
        raise ValueError(f"as_of={as_of}: need at least {max(history, warmup)} rows before it")
    past = returns.iloc[:s]
    return AttackSpace(
        past=past,
        as_of=pd.Timestamp(as_of),
        nominal={c: float(v) for c, v in nominal.items()},
        epsilon=float(epsilon),
        tolerance=float(tolerance),
        bounds=bounds,
        history=int(history),
        sigma=history_sigma(past.to_numpy(dtype=float), lam=lam, warmup=warmup),
    )


# --------------------------------------------------------------------------- search
@dataclass(frozen=True)
class AttackResult:
    """The best request found against one portfolio.

    ``theta`` (the search coordinates), ``es_clean`` and ``es_attacked`` (horizon ES,
    returns), ``relief`` (:func:`relief`), ``n_evaluations`` (generator calls of the whole
    search, shared by the portfolios).
    """

    portfolio: str
    theta: tuple[float, ...]
    es_clean: float
    es_attacked: float
    relief: float
    n_evaluations: int


@dataclass
class AttackOutcome:
    """Per-portfolio :class:`AttackResult` plus the paths of every evaluated candidate."""

    space: AttackSpace
    results: dict[str, AttackResult]
    paths: dict[tuple[float, ...], NDArray[np.float32]]


def capital_relief_search(
    evaluate: Callable[[NDArray[np.float64]], NDArray],
    n_dims: int,
    weights: Mapping[str, ArrayLike],
    alpha: float,
    *,
    n_random: int = 0,
    seed: int = 0,
) -> tuple[dict[str, tuple[tuple[float, ...], float, float]], dict[tuple[float, ...], NDArray]]:
    """Derivative-free search of ``θ ∈ [-1, 1]^d`` for the mildest ES of each portfolio.

    Coordinate search with a combination step, every candidate evaluated once and shared
    by all portfolios:

    1. ``θ = 0`` (the clean request);
    2. ``θ = ±e_j`` for each coordinate j (2d evaluations);
    3. ``n_random`` points uniform on the cube (seeded by ``seed``);
    4. per portfolio, ``θ_p = Σ_j s_j e_j`` with ``s_j`` the sign of the single move that
       made its ES milder than the clean one (0 if neither did), when it has two or more
       non-zero entries and was not evaluated yet.

    Each portfolio keeps the evaluated candidate with the highest (mildest) ES, ties to the
    earlier candidate, so the result is never worse than the clean request. Budget:
    ``1 + 2d + n_random + (number of portfolios)`` evaluations at most.

    Parameters
    ----------
    evaluate : callable
        ``θ -> paths (n, H, A)``, generated with one fixed seed (common random numbers).
    n_dims : int
        d (0: only the clean request is evaluated).
    weights : mapping name -> weights
    alpha : float
        Tail probability of the ES.
    n_random, seed : int

    Returns
    -------
    best : dict name -> (θ, ES_clean, ES_best)
    paths : dict θ -> paths of every evaluated candidate
    """
    evaluated: dict[tuple[float, ...], NDArray] = {}
    scores: dict[tuple[float, ...], dict[str, float]] = {}

    def run(theta: NDArray[np.float64]) -> tuple[float, ...]:
        key = tuple(float(x) for x in np.clip(theta, -1.0, 1.0))
        if key not in evaluated:
            evaluated[key] = evaluate(np.asarray(key))
            scores[key] = horizon_es(evaluated[key], weights, alpha)
        return key

    clean = run(np.zeros(n_dims))
    singles: dict[tuple[int, float], tuple[float, ...]] = {}
    for j in range(n_dims):
        for sign in (1.0, -1.0):
            singles[(j, sign)] = run(sign * np.eye(n_dims)[j])
    rng = np.random.default_rng(int(seed))
    for _ in range(int(n_random) if n_dims else 0):
        run(rng.uniform(-1.0, 1.0, n_dims))
    for name in weights:
        combo = np.zeros(n_dims)
        for j in range(n_dims):
            best_sign = max((1.0, -1.0), key=lambda s: scores[singles[(j, s)]][name])
            if scores[singles[(j, best_sign)]][name] > scores[clean][name]:
                combo[j] = best_sign
        if np.count_nonzero(combo) >= 2:
            run(combo)
    best = {}
    for name in weights:
        key = max(scores, key=lambda k: scores[k][name])  # first maximum: clean wins ties
        best[name] = (key, scores[clean][name], scores[key][name])
    return best, evaluated


def attack_request(
    generator: PathGenerator,
    space: AttackSpace,
    weights: Mapping[str, ArrayLike],
    *,
    alpha: float,
    n_paths: int,
    seed: int,
    n_random: int = 0,
    clean_paths: NDArray | None = None,
) -> AttackOutcome:
    """Search the requests of ``space`` for the mildest ES of each portfolio.

    Every candidate is generated with ``seed`` (common random numbers);
    ``clean_paths`` (the clean request's paths with the same seed, if already drawn) saves
    one generator call. See :func:`capital_relief_search`.
    """

    def evaluate(theta: NDArray[np.float64]) -> NDArray:
        if clean_paths is not None and not np.any(theta):
            return clean_paths
        frame, sig = space.request(theta)
        return generator(frame, space.as_of, int(n_paths), sig, int(seed))

    best, evaluated = capital_relief_search(
        evaluate, space.n_dims, weights, alpha, n_random=n_random, seed=seed
    )
    n_calls = len(evaluated) - (clean_paths is not None)
    results = {
        name: AttackResult(name, key, es0, es1, relief(es1, es0), n_calls)
        for name, (key, es0, es1) in best.items()
    }
    logger.debug(
        "attack at %s eps=%.2f: %d calls, relief %s",
        space.as_of.date(),
        space.epsilon,
        n_calls,
        {k: round(r.relief, 3) for k, r in results.items()},
    )
    return AttackOutcome(space, results, evaluated)


def path_generator(sample: Callable[..., Any], model: Any, **options: Any) -> PathGenerator:
    """A :data:`PathGenerator` from a sampler with the call shape of ``generate_paths``.

    ``sample(model, returns, [as_of], n_paths, signature, seed=seed, **options)`` must
    return ``(paths, dates)`` (:func:`diffrisk.stress.sampling.generate_paths`, and the
    comparison generators' :func:`~diffrisk.stress.comparison_sets.comparison_paths`).
    """

    def generate(
        returns: pd.DataFrame,
        as_of: pd.Timestamp,
        n_paths: int,
        signature: Mapping[str, float],
        seed: int,
    ) -> NDArray:
        paths, _ = sample(
            model, returns, [as_of], int(n_paths), dict(signature), seed=int(seed), **options
        )
        return np.asarray(paths)

    return generate
