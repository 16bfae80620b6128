"""Reverse stress testing: the scenarios that break a portfolio, and how likely that is.

A request names portfolio weights over the stress model's assets, a horizon ``h`` (at most
the model's) and a loss level ``L`` (a fraction of the stated total exposure), or a tail
level ``alpha`` (then ``L`` is the ``alpha``-ES of the model's ``h``-day loss). The loss of
a path is buy-and-hold over its first ``h`` days:
``loss = -sum_i w_i (exp(R_i) - 1)``, ``R_i`` the asset's cumulative log return.

:func:`diffusion_reverse_stress` answers it with the trained diffusion model: the reverse
chain is guided toward ``loss >= L`` (:mod:`diffrisk.stress.reverse_guidance`), the
scenarios that reach ``L`` are returned, and the importance weights of the guided chains
give an unbiased estimate of ``P(loss >= L)`` under the unguided model. The classic peers
are in :mod:`diffrisk.stress.reverse_peers`; the plausibility score shared by every
method in :mod:`diffrisk.stress.reverse_score`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike, NDArray

from diffrisk.diffusion.guidance import guided_eps_fn
from diffrisk.diffusion.prediction import to_eps
from diffrisk.risk.measures import cvar
from diffrisk.stress.model import StressModel, as_float_tensor
from diffrisk.stress.reverse_guidance import guided_reverse, importance_estimate
from diffrisk.stress.sampling import SAMPLING_CHUNK, draw_prior_signatures
from diffrisk.stress.signatures import SIGNATURE_COLUMNS
from diffrisk.stress.windows import conditioning_batch


class ReverseStressError(ValueError):
    """A bad reverse-stress request; ``field`` names the offending request field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ReverseRequest:
    """A checked request (:func:`check_request`)."""

    weights: NDArray[np.float64]
    horizon: int
    loss: float | None
    es_alpha: float | None


@dataclass
class ReverseResult:
    """The answer of one method to one request.

    Attributes
    ----------
    method : str
    scenarios : ndarray (N, h, n_assets)
        Daily log returns of the returned scenarios, most plausible first.
    loss : ndarray (N,)
        Their portfolio losses (fractions of the total exposure).
    level : float
        The loss level L of the request.
    probability : dict
        ``p``, ``lower``, ``upper`` of ``P(loss >= L)`` (+ estimator details); empty
        where the method has none.
    metadata : dict
        Settings and diagnostics (e.g. the guided chains' raw hit rate).
    """

    method: str
    scenarios: NDArray[np.float64]
    loss: NDArray[np.float64]
    level: float
    probability: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def reached(self) -> NDArray[np.bool_]:
        """Whether each scenario's loss reaches the level."""
        return self.loss >= self.level * (1 - 1e-9)


def check_request(
    weights: ArrayLike,
    n_assets: int,
    horizon: Any,
    max_horizon: int,
    *,
    loss: float | None = None,
    es_alpha: float | None = None,
    total: float | None = None,
    total_tolerance: float = 1e-6,
) -> ReverseRequest:
    """Check a request; :class:`ReverseStressError` names the bad field.

    Parameters
    ----------
    weights : array_like (n_assets,)
        Exposures per asset (long positive; a fraction of the total or money units).
    n_assets : int
        Assets of the model.
    horizon : int
        Days, ``1 <= horizon <= max_horizon``.
    max_horizon : int
        The model's horizon.
    loss : float, optional
        L > 0, below the largest possible loss ``sum(max(w_i, 0))`` (every long asset lost,
        short positions unchanged): otherwise unreachable.
    es_alpha : float, optional
        Tail level in (0, 0.5) of the ES that sets L; exactly one of ``loss``/``es_alpha``.
    total : float, optional
        The stated sum of the weights; checked to ``total_tolerance`` (relative).
    """
    w = np.asarray(weights, dtype=float).ravel() if np.ndim(weights) else np.array([])
    if w.size != int(n_assets):
        raise ReverseStressError("weights", f"expected {n_assets} weights, got {w.size}")
    if not np.all(np.isfinite(w)) or not np.any(w != 0):
        raise ReverseStressError("weights", "weights must be finite and not all zero")
    if total is not None:
        if not math.isfinite(float(total)):
            raise ReverseStressError("total", f"total must be finite, got {total!r}")
        if abs(w.sum() - float(total)) > total_tolerance * max(abs(float(total)), 1.0):
            raise ReverseStressError(
                "weights", f"weights sum to {w.sum():.10g}, not to the stated total {total}"
            )
    if isinstance(horizon, bool) or int(horizon) != horizon or not 1 <= horizon <= max_horizon:
        raise ReverseStressError(
            "horizon",
            f"horizon must be an integer in [1, {max_horizon}] (the model's), got {horizon!r}",
        )
    if (loss is None) == (es_alpha is None):
        raise ReverseStressError("loss", "give exactly one of loss and es_alpha")
    if loss is not None:
        worst = float(np.clip(w, 0, None).sum())
        if not math.isfinite(loss) or loss <= 0:
            raise ReverseStressError("loss", f"loss must be a positive number, got {loss!r}")
        if loss >= worst:
            raise ReverseStressError(
                "loss",
                f"loss {loss:.6g} is unreachable: the largest possible loss of these weights "
                f"(every long position lost) is {worst:.6g}",
            )
    if es_alpha is not None and not (0.0 < es_alpha < 0.5):
        raise ReverseStressError("es_alpha", f"es_alpha must be in (0, 0.5), got {es_alpha!r}")
    return ReverseRequest(w, int(horizon), None if loss is None else float(loss), es_alpha)


def portfolio_loss(paths: ArrayLike, weights: ArrayLike, horizon: int) -> NDArray[np.float64]:
    """Buy-and-hold loss ``-sum_i w_i (exp(R_i) - 1)`` of each path over ``horizon`` days.

    Parameters
    ----------
    paths : array_like (N, H, n_assets)
        Daily log returns.
    weights : array_like (n_assets,)
    horizon : int
        Days summed (the first ``horizon`` of each path).
    """
    return loss_contributions(paths, weights, horizon).sum(axis=1)


def loss_contributions(paths: ArrayLike, weights: ArrayLike, horizon: int) -> NDArray[np.float64]:
    """Each asset's share ``-w_i (exp(R_i) - 1)`` of the loss, shape (N, n_assets)."""
    arr = np.asarray(paths, dtype=float)
    if arr.ndim == 2:
        arr = arr[None]
    cum = arr[:, : int(horizon), :].sum(axis=1)
    return -np.asarray(weights, dtype=float)[None, :] * np.expm1(cum)


def segment_contributions(
    contributions: ArrayLike, assets: Sequence[str], segments: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """Loss contributions summed per segment (sector), one row per scenario.

    ``segments`` maps a name to its tickers (:func:`diffrisk.stress.config.parse_segments`);
    assets in no segment are ignored.
    """
    arr = np.atleast_2d(np.asarray(contributions, dtype=float))
    pos = {a: i for i, a in enumerate(assets)}
    return pd.DataFrame(
        {name: arr[:, [pos[t] for t in tickers]].sum(axis=1) for name, tickers in segments.items()}
    )


def leading_segments(
    contributions: ArrayLike, assets: Sequence[str], segments: Mapping[str, Sequence[str]]
) -> pd.Series:
    """Segments ranked by their mean loss contribution over a scenario set (largest first)."""
    frame = segment_contributions(contributions, assets, segments)
    return frame.mean(axis=0).sort_values(ascending=False, kind="stable")


#: How a scenario set's leading segment is estimated (:func:`attributed_segments`).
ATTRIBUTIONS: tuple[str, ...] = ("set_mean", "most_plausible", "top_decile", "weighted")


def check_attributions(names: Sequence[str]) -> None:
    """Raise ValueError naming every name in ``names`` that is not in :data:`ATTRIBUTIONS`."""
    unknown = [a for a in names if a not in ATTRIBUTIONS]
    if unknown:
        raise ValueError(f"attribution {unknown} unknown; expected one of {ATTRIBUTIONS}")


def attributed_segments(
    contributions: ArrayLike,
    plausibility: ArrayLike,
    assets: Sequence[str],
    segments: Mapping[str, Sequence[str]],
    attribution: str = "set_mean",
) -> pd.Series:
    """Segments ranked by a scenario set's loss contributions under an attribution rule.

    Parameters
    ----------
    contributions : array_like (N, n_assets)
        :func:`loss_contributions` of the set, most plausible scenario first.
    plausibility : array_like (N,)
        The scenarios' plausibility scores in (0, 1]
        (:func:`diffrisk.stress.reverse_score.plausibility`), same order.
    assets, segments
        As for :func:`segment_contributions`.
    attribution : str
        One of :data:`ATTRIBUTIONS`: ``set_mean`` the mean segment contribution over the
        whole set (:func:`leading_segments`); ``most_plausible`` the first scenario's;
        ``top_decile`` the mean over the ``ceil(N / 10)`` most plausible scenarios;
        ``weighted`` the mean over the whole set weighted by plausibility,
        ``sum_i p_i c_i / sum_i p_i``.

    Returns
    -------
    Series
        Segment -> attributed contribution, largest first (stable on ties).
    """
    check_attributions([attribution])
    arr = np.atleast_2d(np.asarray(contributions, dtype=float))
    if attribution == "set_mean":
        return leading_segments(arr, assets, segments)
    if attribution == "most_plausible":
        return leading_segments(arr[:1], assets, segments)
    if attribution == "top_decile":
        return leading_segments(arr[: max(1, -(-len(arr) // 10))], assets, segments)
    p = np.asarray(plausibility, dtype=float).ravel()
    if p.shape != (len(arr),) or not np.all(p > 0):
        raise ValueError(f"plausibility: expected {len(arr)} positive scores, got {p.shape}")
    frame = segment_contributions(arr, assets, segments)
    weighted = frame.mul(p / p.sum(), axis=0).sum(axis=0)
    return weighted.sort_values(ascending=False, kind="stable")


def _model_eps_fn(
    model: StressModel,
    returns: pd.DataFrame,
    as_of: str | pd.Timestamp | None,
    n: int,
    *,
    prior_neighbours: int,
    prior_guidance: float,
    seed: int,
    chunk: int,
) -> tuple[Any, NDArray[np.float64], pd.Series]:
    """The model's unguided noise prediction for ``n`` paths from one conditioning date.

    The same law as :func:`diffrisk.stress.sampling.generate_paths` without a requested
    signature (the unconditional branch, or the two-stage prior with ``prior_neighbours``).
    """
    inputs, dates = conditioning_batch(returns, [as_of], model.config)
    inp = inputs[0]
    net = model.net.eval()
    with torch.no_grad():
        history = as_float_tensor(inp.history[None])
        features = model.scalars(inp.sigma[None], np.array([inp.portfolio_vol]), history.numpy())
        context = net.encode_history(history, as_float_tensor(features)).repeat_interleave(n, 0)
        null_vals = torch.zeros(1, len(SIGNATURE_COLUMNS))
        null = net.embed_signature(null_vals, torch.ones_like(null_vals)).repeat_interleave(n, 0)
        if prior_neighbours:
            drawn = draw_prior_signatures(model, features, n, int(prior_neighbours), int(seed))
            cond = net.embed_signature(
                as_float_tensor(drawn), torch.zeros(len(drawn), drawn.shape[1])
            )
        else:
            cond = null
    weight = float(prior_guidance) if prior_neighbours else 0.0

    def predict(x: torch.Tensor, t: torch.Tensor, rows: slice, conditional: bool) -> torch.Tensor:
        with torch.no_grad():
            return net(x, t, context[rows], cond[rows] if conditional else null[rows])

    def prediction_to_eps(x: torch.Tensor, t: int, prediction: torch.Tensor) -> torch.Tensor:
        sqrt_ab, sqrt_1m = model.schedule.step_coefficients(t)
        return to_eps(prediction, x, sqrt_ab, sqrt_1m, net.prediction_type)

    eps_fn = guided_eps_fn(predict, prediction_to_eps, weight, chunk)
    return eps_fn, np.asarray(inp.sigma, dtype=float), dates.iloc[0]


def diffusion_reverse_stress(
    model: StressModel,
    returns: pd.DataFrame,
    request: ReverseRequest,
    *,
    as_of: str | pd.Timestamp | None = None,
    n_paths: int = 1000,
    strength: float = 1.0,
    n_steps: int = 20,
    eta: float = 1.0,
    spacing: str = "linear",
    prior_neighbours: int = 0,
    prior_guidance: float = 1.0,
    pilot_paths: int = 1000,
    defensive: float = 0.2,
    seed: int = 0,
    chunk: int = SAMPLING_CHUNK,
) -> ReverseResult:
    """Loss-guided diffusion: scenarios reaching L and an IS estimate of ``P(loss >= L)``.

    Parameters
    ----------
    model : StressModel
    returns : DataFrame (T, n_assets)
        Constituent returns (the model's columns); rows before ``as_of`` are read.
    request : ReverseRequest
    as_of : date, optional
        First day of the scenarios (None = the day after the last row).
    n_paths : int
        Guided chains; the returned scenarios are those that reach L.
    strength : float
        Guidance strength gamma in [0, 1]
        (:func:`~diffrisk.stress.reverse_guidance.guided_reverse`).
    n_steps, eta, spacing
        Stochastic DDIM settings (``eta > 0``: the importance weights need noise).
    prior_neighbours, prior_guidance
        The unguided law (:func:`diffrisk.stress.sampling.generate_paths`' arguments).
    pilot_paths : int
        Unguided chains that set L from ``request.es_alpha`` (unused when L is given).
    defensive : float
        Share of unguided chains in the defensive mixture proposal (bounds the weights
        by ``1 / defensive``; :func:`~diffrisk.stress.reverse_guidance.guided_reverse`).
    seed : int

    Returns
    -------
    ReverseResult
        Scenarios reaching L (empty if none did), ``probability`` the importance estimate
        under the unguided model; ``metadata["hit_rate"]`` the share of guided chains that
        reached L, ``metadata["ess"]`` the effective sample size.
    """
    if list(returns.columns) != list(model.assets):
        raise ReverseStressError("weights", f"the model's assets are {model.assets}")
    spec = model.net.spec
    h = request.horizon
    w = torch.as_tensor(request.weights, dtype=torch.float64)

    def draw(n: int, level: float, gamma: float, seed_: int) -> tuple[NDArray, NDArray, Any]:
        eps_fn, sigma, date = _model_eps_fn(
            model,
            returns,
            as_of,
            n,
            prior_neighbours=prior_neighbours,
            prior_guidance=prior_guidance,
            seed=seed_,
            chunk=chunk,
        )
        scale = torch.as_tensor(sigma * model.path_scale, dtype=torch.float64)[None, :, None]

        def loss_fn(x: torch.Tensor) -> torch.Tensor:
            cum = (x.double() * scale)[:, :, :h].sum(-1)
            return -(torch.expm1(cum) * w).sum(-1)

        gen = torch.Generator().manual_seed(int(seed_))
        x = torch.randn(n, spec.n_assets, spec.horizon, generator=gen)
        out = guided_reverse(
            eps_fn,
            model.schedule,
            x,
            loss_fn=loss_fn if gamma > 0 else None,
            target=level,
            strength=gamma,
            generator=gen,
            n_steps=n_steps,
            eta=eta,
            spacing=spacing,
            defensive=defensive,
        )
        paths = np.swapaxes(out.x0.double().numpy() * scale.numpy(), 1, 2)
        return paths, out.log_weight, date

    level = request.loss
    metadata: dict[str, Any] = {}
    if level is None:
        pilot, _, _ = draw(int(pilot_paths), 0.0, 0.0, seed + 1)
        pnl = -portfolio_loss(pilot, request.weights, h)
        level = float(-cvar(pnl, float(request.es_alpha)))
        metadata.update(level_from="es", es_alpha=request.es_alpha, pilot_paths=int(pilot_paths))
        if level <= 0:
            raise ReverseStressError(
                "es_alpha", f"the model's {request.es_alpha} ES is a gain ({-level:.4g})"
            )
    paths, log_w, date = draw(int(n_paths), level, float(strength), seed)
    loss = portfolio_loss(paths, request.weights, h)
    hit = loss >= level
    estimate = importance_estimate(hit, log_w)
    keep = np.flatnonzero(hit)
    metadata.update(
        hit_rate=float(hit.mean()),
        ess=estimate["ess"],
        n_paths=int(n_paths),
        strength=float(strength),
        defensive=float(defensive),
        n_steps=int(n_steps),
        eta=float(eta),
        spacing=spacing,
        prior_neighbours=int(prior_neighbours),
        prior_guidance=float(prior_guidance),
        as_of=str(date["as_of"]),
        last_history=str(date["last_history"]),
        seed=int(seed),
        log_weight=log_w[keep],
    )
    return ReverseResult(
        method="diffusion",
        scenarios=paths[keep, :h, :],
        loss=loss[keep],
        level=float(level),
        probability=estimate,
        metadata=metadata,
    )
