"""Reverse-process samplers: ancestral DDPM and DDIM, batched, seeded, never clipped.

:func:`sample` draws ``N`` scalar scenarios for each of ``B`` conditions at once (a model
may compute its conditioning once per (condition, step) and broadcast it over the
scenarios); conditions are processed in chunks only to bound memory. Randomness comes
from one seeded :class:`torch.Generator`, so a seed and a chunk size fix the output.

The predicted ``x_0`` is never clipped (fat tails are the point). After every reverse step
the state is checked; a NaN or Inf raises :class:`FloatingPointError` naming the step.

References
----------
Ho, J., Jain, A. & Abbeel, P. (2020). Denoising diffusion probabilistic models (Alg. 2).
Song, J., Meng, C. & Ermon, S. (2021). Denoising diffusion implicit models (eq. 12, 16).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from diffrisk.core.compute import warm_allocator
from diffrisk.diffusion.progress import progress_bar
from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.diffusion.steps import ddim_step, ddpm_step, multistep_x0

logger = logging.getLogger(__name__)


SPACINGS: tuple[str, ...] = ("linear", "quadratic", "logsnr")


SAMPLERS: tuple[str, ...] = ("ddpm", "ddim")


_NOISE_KINDS = ("iid", "stratified")

#: Default bound on ``conditions x scenarios`` that :func:`sample` processes at once.
CHUNK_ELEMENTS = 1 << 15


def ddim_timesteps(
    schedule: NoiseSchedule, n_steps: int, spacing: str = "logsnr"
) -> NDArray[np.int64]:
    """Descending, unique training-step indices visited by DDIM with ``n_steps`` steps.

    Parameters
    ----------
    schedule : NoiseSchedule
        The training schedule (T steps).
    n_steps : int
        S, number of reverse steps, ``1 <= S <= T``.
    spacing : {"logsnr", "linear", "quadratic"}
        * ``"linear"`` — ``round(linspace(T - 1, 0, S))`` (diffusers' "linspace"); starts at
          the last training step.
        * ``"quadratic"`` — ``round(linspace(sqrt(T - 1), 0, S) ** 2)``, denser near t = 0
          (Song et al. 2021, appendix D.2).
        * ``"logsnr"`` (default) — steps equally spaced in ``log(alpha_bar / (1 -
          alpha_bar))`` between the last and the first step. An eps-predicting DDIM step
          from t to s multiplies the error of eps by about ``sqrt(alpha_bar_s /
          alpha_bar_t)``; equal log-SNR spacing bounds this factor by ``exp(Δ / 2)`` on
          every step, whereas ``"linear"`` spacing on a cosine schedule jumps from
          ``alpha_bar ≈ 2e-7`` to ``≈ 2e-2`` in one step (a factor of ~300: the
          explosion seen in the feasibility run).

    Returns
    -------
    ndarray of int64, shape (S',)
        Strictly decreasing, ending at 0, starting at T - 1. ``S' = S`` except when
        rounding collides (log-SNR spacing on a short chain), in which case duplicates
        are dropped.
    """
    n_train = schedule.n_steps
    if int(n_steps) != n_steps or not (1 <= n_steps <= n_train):
        raise ValueError(f"n_steps must be an integer in [1, {n_train}], got {n_steps!r}")
    if n_steps == 1:
        return np.array([n_train - 1], dtype=np.int64)
    if spacing == "linear":
        steps = np.round(np.linspace(n_train - 1, 0, n_steps))
    elif spacing == "quadratic":
        steps = np.round(np.linspace(math.sqrt(n_train - 1), 0.0, n_steps) ** 2)
    elif spacing == "logsnr":
        steps = logsnr_steps(schedule, n_steps).astype(float)
    else:
        raise ValueError(f"spacing must be one of {SPACINGS}, got {spacing!r}")
    steps = np.unique(steps.astype(np.int64))[::-1].copy()
    return steps


def logsnr_steps(schedule: NoiseSchedule, n_steps: int) -> NDArray[np.int64]:
    """``n_steps`` steps nearest to equally spaced log-SNR values, last to first, (S,).

    The ``"logsnr"`` spacing of :func:`ddim_timesteps` before duplicates are dropped
    (non-increasing; a short chain has repeats near t = 0).
    """
    lam = schedule.log_snr().numpy()  # decreasing in t
    targets = np.linspace(lam[-1], lam[0], int(n_steps))
    return np.array([int(np.argmin(np.abs(lam - v))) for v in targets], dtype=np.int64)


def initial_noise(
    n_conditions: int, n_scenarios: int, generator: torch.Generator, kind: str = "iid"
) -> torch.Tensor:
    """The starting state x_T, shape (n_conditions, n_scenarios).

    Parameters
    ----------
    kind : {"iid", "stratified"}
        ``"iid"`` draws standard normals. ``"stratified"`` draws one normal from each of
        the N equal-probability strata per condition: ``Φ^{-1}((i + U_i) / N)``,
        ``i = 0..N-1``, ``U_i ~ U(0, 1)``. Each stratified draw is still exactly N(0, 1)
        marginally, but the empirical quantiles have far less Monte-Carlo noise; with the
        deterministic DDIM map (``eta = 0``), which is monotone in one dimension, the
        scenarios are then close to evenly spaced quantiles of the model's law.
    """
    if kind == "iid":
        return torch.randn(n_conditions, n_scenarios, generator=generator)
    if kind == "stratified":
        u = torch.rand(n_conditions, n_scenarios, generator=generator, dtype=torch.float64)
        grid = torch.arange(n_scenarios, dtype=torch.float64)
        p = ((grid + u) / n_scenarios).clamp(1e-12, 1 - 1e-12)
        return torch.special.ndtri(p).float()
    raise ValueError(f"initial noise kind must be one of {_NOISE_KINDS}, got {kind!r}")


def _check_finite(x: torch.Tensor, step: int, t: int, method: str) -> None:
    if not torch.isfinite(x).all():
        n_bad = int((~torch.isfinite(x)).sum())
        raise FloatingPointError(
            f"{method} sampler produced {n_bad} non-finite values at reverse step {step} "
            f"(diffusion step t={t}); check the schedule's last alpha_bar and the step spacing"
        )


def reverse_steps(
    method: str, schedule: NoiseSchedule, n_steps: int | None, spacing: str
) -> NDArray[np.int64]:
    """Descending diffusion steps visited by ``method``: all T for "ddpm", else DDIM's.

    Raises
    ------
    ValueError
        For an unknown method, or ``n_steps`` other than T with the ancestral sampler.
    """
    if method == "ddpm":
        if n_steps not in (None, schedule.n_steps):
            raise ValueError(
                f"the ancestral sampler runs all {schedule.n_steps} steps; "
                f"got n_steps={n_steps} (use sampler='ddim' for fewer)"
            )
        return np.arange(schedule.n_steps - 1, -1, -1, dtype=np.int64)
    if method == "ddim":
        return ddim_timesteps(schedule, n_steps or schedule.n_steps, spacing)
    raise ValueError(f"sampler must be one of {SAMPLERS}, got {method!r}")


def resolve_steps(
    method: str,
    schedule: NoiseSchedule,
    n_steps: int | None,
    spacing: str,
    steps: NDArray[np.int64] | None = None,
) -> NDArray[np.int64]:
    """``steps`` checked (DDIM, strictly descending in ``[0, T)``), else :func:`reverse_steps`.

    Raises
    ------
    ValueError
        For explicit steps with the ancestral sampler or outside the schedule.
    """
    if steps is None:
        return reverse_steps(method, schedule, n_steps, spacing)
    out = np.asarray(steps, dtype=np.int64)
    if method != "ddim":
        raise ValueError(f"explicit steps need sampler='ddim', got {method!r}")
    ok = out.ndim == 1 and out.size and out.min() >= 0 and out.max() < schedule.n_steps
    if not ok or (np.diff(out) >= 0).any():
        raise ValueError(
            f"steps must be strictly descending diffusion steps in [0, {schedule.n_steps}), "
            f"got {out.tolist()}"
        )
    return out


def step_noise(method: str, t: int, eta: float) -> bool:
    """Whether the reverse step at diffusion step ``t`` draws fresh noise ``randn(x.shape)``.

    The ancestral sampler draws on every step but the last (``t > 0``); DDIM only when
    stochastic (``eta > 0``), on every step.
    """
    return t > 0 if method == "ddpm" else eta > 0


def chunk_rows(n_scenarios: int, chunk_elements: int = CHUNK_ELEMENTS) -> int:
    """Conditions per chunk of :func:`sample`: ``max(1, chunk_elements // n_scenarios)``."""
    return max(1, int(chunk_elements) // int(n_scenarios))


def reverse_process(
    eps_fn: Callable[[torch.Tensor, int], torch.Tensor],
    schedule: NoiseSchedule,
    x_init: torch.Tensor,
    steps: NDArray[np.int64],
    *,
    generator: torch.Generator,
    method: str = "ddim",
    eta: float = 0.0,
    variance: str = "beta",
    order: int = 2,
    bar: Any = None,
) -> torch.Tensor:
    """Run the reverse chain from ``x_init`` over ``steps``, for a state of any shape.

    The loop shared by every model: :func:`sample` (one scalar per scenario) and a
    sampler of whole multivariate paths with classifier-free guidance
    (:func:`diffrisk.diffusion.guidance.guided_eps_fn`) differ only in ``eps_fn`` and in
    the shape of the state.

    Parameters
    ----------
    eps_fn : callable(x_t, t) -> Tensor
        Noise prediction at diffusion step ``t`` for the state ``x_t`` (same shape).
    schedule : NoiseSchedule
    x_init : Tensor
        x_T (e.g. :func:`initial_noise`).
    steps : ndarray of int
        Descending diffusion steps to visit (:func:`ddim_timesteps`, or all T steps for
        the ancestral sampler).
    generator : torch.Generator
        Source of the step noise (DDPM, or DDIM with ``eta > 0``), drawn for the whole
        state at each step.
    method, eta, variance, order
        As in :func:`sample`.
    bar : tqdm, optional
        Progress bar advanced once per step.

    Returns
    -------
    Tensor
        x_0, same shape as ``x_init``, unclipped.

    Raises
    ------
    FloatingPointError
        If a step produces NaN or Inf (names the step).

    Notes
    -----
    It first calls :func:`diffrisk.core.compute.warm_allocator` (memory only), so that a
    fresh process serves the chain's large temporaries from reused memory as a Dask task
    does, instead of mapping and page-faulting them afresh at every network call.
    """
    warm_allocator()
    if method not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {method!r}")
    if not (0.0 <= eta <= 1.0):
        raise ValueError(f"eta must be in [0, 1], got {eta}")
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    x = x_init
    x0_prev: torch.Tensor | None = None
    for i, t in enumerate(int(s) for s in steps):
        eps = eps_fn(x, t)
        z = torch.randn(x.shape, generator=generator) if step_noise(method, t, eta) else None
        if method == "ddpm":
            x = ddpm_step(schedule, x, t, eps, z, variance)
        else:
            t_prev = int(steps[i + 1]) if i + 1 < len(steps) else -1
            x0_hat = schedule.predict_x0(x, torch.tensor(t), eps)
            x0_used = x0_hat
            if order == 2 and x0_prev is not None and t_prev >= 0:
                x0_used = multistep_x0(schedule, x0_hat, x0_prev, int(steps[i - 1]), t, t_prev)
            x = ddim_step(schedule, x, t, t_prev, eps, eta, z, x0_hat=x0_used)
            x0_prev = x0_hat
        _check_finite(x, i, t, method)
        if bar is not None:
            bar.update(1)
    return x


@torch.no_grad()
def sample(
    model: nn.Module,
    schedule: NoiseSchedule,
    cond: torch.Tensor,
    n_scenarios: int,
    *,
    generator: torch.Generator,
    method: str = "ddim",
    n_steps: int | None = None,
    eta: float = 0.0,
    spacing: str = "logsnr",
    noise: str = "iid",
    variance: str = "beta",
    order: int = 2,
    chunk_elements: int = CHUNK_ELEMENTS,
    progress: bool | None = None,
    steps: NDArray[np.int64] | None = None,
) -> torch.Tensor:
    """Draw ``n_scenarios`` scalar samples for every condition.

    Parameters
    ----------
    model : torch.nn.Module
        Trained network (put in eval mode here); anything with ``eval()`` and an eps
        prediction ``predict_eps(x_t, cond, t)`` works (tests use analytic oracles).
    schedule : NoiseSchedule
        The training schedule.
    cond : Tensor (B, cond_dim)
        Encoded conditions, one row per condition.
    n_scenarios : int
        N, scenarios per condition.
    generator : torch.Generator
        Seeded source of all randomness.
    method : {"ddim", "ddpm"}
        DDIM (``n_steps`` steps, ``eta``) or the ancestral sampler (all T steps).
    n_steps : int, optional
        DDIM steps S (default T).
    eta : float
        DDIM stochasticity: 0 deterministic, 1 matches DDPM's variance.
    spacing : str
        DDIM step spacing; see :func:`ddim_timesteps`.
    noise : {"iid", "stratified"}
        How x_T is drawn; see :func:`initial_noise`.
    variance : {"beta", "posterior"}
        Ancestral step variance. ``"beta"`` (default; DDPM §3.2's upper bound) keeps the
        spread of Gaussian data with an exact denoiser within 1 % on a T = 200 chain;
        ``"posterior"`` (beta_tilde, the lower bound) narrows it by ~3 %.
    order : {1, 2}
        DDIM solver order: 1 is plain DDIM; 2 (default) replaces x0_hat by the multistep
        estimate of :func:`multistep_x0` (DPM-Solver++(2M) when eta = 0) on every step
        except the first and the last. Same number of network evaluations.
    chunk_elements : int
        Upper bound on ``conditions × scenarios`` processed at once. Small chunks keep the
        (chunk, N, hidden) activations in cache: 2^15 was ~4x faster than 2^20 per
        sample-step on the development machine.
    progress : bool, optional
        tqdm progress bar (``None``: only on a terminal).
    steps : ndarray of int, optional
        Descending diffusion steps to visit instead of ``n_steps`` and ``spacing`` (e.g. a
        distilled student's grid, :mod:`diffrisk.ddpm.distill`); DDIM only.

    Returns
    -------
    Tensor (B, N) float32
        Samples of x_0, unclipped.

    Notes
    -----
    Chunks are consecutive blocks of :func:`chunk_rows` conditions, each drawing its
    initial noise and then its step noise (:func:`step_noise`) from ``generator``. So
    chunks ``a..b-1`` alone are reproduced exactly by passing the conditions
    ``cond[a * rows : b * rows]`` with a generator set to the state at the start of chunk
    ``a`` (:func:`chunk_states`): the network sees the same batches and the same noise.
    """
    if cond.ndim != 2:
        raise ValueError(f"cond must have shape (B, cond_dim), got {tuple(cond.shape)}")
    if int(n_scenarios) != n_scenarios or n_scenarios < 1:
        raise ValueError(f"n_scenarios must be a positive integer, got {n_scenarios!r}")
    steps = resolve_steps(method, schedule, n_steps, spacing, steps)
    model.eval()
    n_cond = cond.shape[0]
    per_chunk = chunk_rows(n_scenarios, chunk_elements)
    out = torch.empty(n_cond, n_scenarios)
    n_chunks = math.ceil(n_cond / per_chunk) if n_cond else 0
    bar = progress_bar(n_chunks * len(steps), f"{method} sampling", progress, leave=False)
    for start in range(0, n_cond, per_chunk):
        c = cond[start : start + per_chunk]
        x = initial_noise(c.shape[0], n_scenarios, generator, noise)
        out[start : start + c.shape[0]] = reverse_process(
            lambda x_t, t, c=c: model.predict_eps(x_t, c, t),
            schedule,
            x,
            steps,
            generator=generator,
            method=method,
            eta=eta,
            variance=variance,
            order=order,
            bar=bar,
        )
    bar.close()
    logger.debug(
        "sampled %d x %d scenarios with %s (%d steps)", n_cond, n_scenarios, method, len(steps)
    )
    return out


def chunk_states(
    n_conditions: int,
    n_scenarios: int,
    steps: NDArray[np.int64],
    *,
    generator: torch.Generator,
    method: str = "ddim",
    eta: float = 0.0,
    noise: str = "iid",
    chunk_elements: int = CHUNK_ELEMENTS,
) -> list[torch.Tensor]:
    """Generator state at the start of every chunk of :func:`sample`, without the network.

    Replays only the random draws of :func:`sample` with the same arguments: each chunk's
    initial noise and, when the sampler is stochastic (ancestral, or DDIM with
    ``eta > 0``), its step noise. Drawing costs a small fraction of a network evaluation.

    Parameters
    ----------
    n_conditions : int
        B, the number of conditions :func:`sample` would be given.
    n_scenarios : int
        N, scenarios per condition.
    steps : ndarray of int
        The reverse steps :func:`sample` visits: :func:`reverse_steps` of its ``method``,
        ``schedule``, ``n_steps`` and ``spacing``.
    generator, method, eta, noise, chunk_elements
        As in :func:`sample`; ``generator`` is advanced exactly as :func:`sample` would
        advance it.

    Returns
    -------
    list of ByteTensor
        ``generator.get_state()`` before each chunk's first draw, one per chunk.
    """
    per_chunk = chunk_rows(n_scenarios, chunk_elements)
    n_noisy = sum(step_noise(method, int(t), eta) for t in steps)
    states = []
    for start in range(0, int(n_conditions), per_chunk):
        states.append(generator.get_state())
        rows = min(per_chunk, int(n_conditions) - start)
        initial_noise(rows, n_scenarios, generator, noise)
        for _ in range(n_noisy):
            torch.randn((rows, n_scenarios), generator=generator)
    return states
