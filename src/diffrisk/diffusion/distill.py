"""Progressive distillation maths shared by every model (Salimans & Ho 2022, Alg. 2).

A student learns to take ONE deterministic DDIM step (eta = 0) from grid point ``t_i``
to ``t_{i+2}`` that lands where its teacher's TWO steps ``t_i -> t_{i+1} -> t_{i+2}``
land. With ``a = sqrt(alpha_bar)`` and ``b = sqrt(1 - alpha_bar)`` at ``t_i`` (and
``a'``, ``b'`` at ``t_{i+2}``) the DDIM step from ``z`` with clean estimate ``x`` is
``z' = a' x + b' (z - a x) / b``; the one ``x~`` that reaches the teacher's ``z''`` is

``x~ = (z'' - (b'/b) z) / (a' - (b'/b) a)``

(Salimans & Ho 2022, Alg. 2). Everything here works row by row: rows of a batch start at
different grid points, so the schedule coefficients are per-row tensors
(:func:`grid_coefficients`, with the clean end point ``-1`` as ``(a, b) = (1, 0)``), and
the teacher's steps are :func:`ddim_step_rows`. What the model's network is and how it is
conditioned stays with the model (:mod:`diffrisk.stress.distill`,
:mod:`diffrisk.ddpm.distill`).

The grid (:func:`nested_grid`) holds ``start_steps`` DDIM steps and the end point ``-1``;
each halving round keeps every second point, so every student grid is a subset of its
teacher's and the last student's final step still goes to the clean end.

References
----------
Salimans, T. & Ho, J. (2022). Progressive distillation for fast sampling of diffusion
models. ICLR.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from diffrisk.diffusion.prediction import eps_from_x0, to_x0, training_target
from diffrisk.diffusion.sampler import ddim_timesteps, logsnr_steps, resolve_steps
from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.diffusion.training import TrainingSet

Coefficients = tuple[torch.Tensor, torch.Tensor]


def check_halving(start_steps: int, final_steps: int, owner: str) -> None:
    """Raise unless ``start_steps = final_steps * 2**k`` (k >= 0), naming ``owner``'s field.

    Examples
    --------
    >>> check_halving(64, 4, "DistillConfig")
    """
    ratio = int(start_steps) / int(final_steps)
    if ratio < 1 or ratio != 2 ** round(np.log2(ratio)):
        raise ValueError(
            f"{owner}.start_steps ({start_steps}) must be final_steps "
            f"({final_steps}) times a power of 2"
        )


def nested_grid(schedule: NoiseSchedule, start_steps: int, spacing: str) -> NDArray[np.int64]:
    """The first teacher's grid: ``start_steps`` descending DDIM steps and the end ``-1``.

    Parameters
    ----------
    schedule : NoiseSchedule
    start_steps : int
        DDIM steps of the first teacher.
    spacing : str
        As in :func:`~diffrisk.diffusion.sampler.ddim_timesteps`, except that ``"logsnr"``
        keeps ``start_steps`` distinct steps: where two log-SNR points round to the same
        step (near t = 0 on a short chain, where ``ddim_timesteps`` drops one), the steps
        below the collision are consecutive (``t_i = max(round, t_{i+1} + 1)`` from the
        end), so every grid has exactly ``2**k`` times the student's steps.

    Returns
    -------
    ndarray of int64, shape (start_steps + 1,)
        ``grid[::2**k]`` is the grid after ``k`` halvings (it keeps the end ``-1``).

    Raises
    ------
    ValueError
        If ``start_steps`` exceeds the schedule's steps, or the spacing merges steps.
    """
    n = int(start_steps)
    if spacing == "logsnr":
        if not 1 <= n <= schedule.n_steps:
            raise ValueError(f"start_steps must be in [1, {schedule.n_steps}], got {n}")
        steps = logsnr_steps(schedule, n)
        for i in range(n - 2, -1, -1):
            steps[i] = max(steps[i], steps[i + 1] + 1)
    else:
        steps = ddim_timesteps(schedule, n, spacing)
    if len(np.unique(steps)) != n or steps[0] > schedule.n_steps - 1:
        raise ValueError(
            f"{spacing} spacing gives only {len(np.unique(steps))} distinct steps of {n} on a "
            f"{schedule.n_steps}-step schedule; use fewer start_steps or another spacing"
        )
    return np.append(steps, -1).astype(np.int64)


def sampler_grid(
    schedule: NoiseSchedule, n_steps: int, spacing: str, final_steps: int, owner: str
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """A teacher sampler's steps + end ``-1``, and a trajectory student's points on them.

    Trajectory distillation (:mod:`diffrisk.ddpm.distill_trajectory`,
    :mod:`diffrisk.stress.distill_trajectory`) records the teacher sampler's states at a
    subset of its own steps; the student steps from each recorded state to the next.

    Parameters
    ----------
    schedule : NoiseSchedule
    n_steps, spacing
        The teacher's DDIM steps, as :func:`~diffrisk.diffusion.sampler.sample` visits them.
    final_steps : int
        The student's steps, at most the number S of distinct teacher steps.
    owner : str
        The settings class named in the error (e.g. ``"DDPMDistillConfig"``).

    Returns
    -------
    grid : ndarray of int64, shape (S + 1,)
        The S steps the sampler visits and ``-1``.
    points : ndarray of int64, shape (final_steps + 1,)
        Indices into ``grid`` of the student's grid ``grid[points]`` (from ``0`` to the
        end ``S``): the S teacher steps cut into ``final_steps`` runs as equal as
        possible, longer runs first (:func:`numpy.array_split`), e.g. 20 steps into 3
        runs of 7, 7 and 6.

    Raises
    ------
    ValueError
        If ``n_steps`` is not in ``[1, T]`` or ``final_steps`` not in ``[1, S]``.
    """
    if not 1 <= int(n_steps) <= schedule.n_steps:
        raise ValueError(
            f"{owner}.start_steps ({n_steps}) must be in [1, {schedule.n_steps}], the "
            "schedule's steps"
        )
    steps = resolve_steps("ddim", schedule, int(n_steps), spacing)
    if not 1 <= int(final_steps) <= len(steps):
        raise ValueError(
            f"{owner}.final_steps ({final_steps}) must be in [1, {len(steps)}], the "
            f"teacher sampler's distinct steps (start_steps={n_steps}, {spacing})"
        )
    runs = [len(r) for r in np.array_split(np.arange(len(steps)), int(final_steps))]
    points = np.concatenate([[0], np.cumsum(runs)]).astype(np.int64)
    return np.append(steps, -1).astype(np.int64), points


def grid_coefficients(schedule: NoiseSchedule, grid: torch.Tensor, ndim: int = 3) -> Coefficients:
    """``sqrt(ab)``, ``sqrt(1 - ab)`` at per-row steps ``grid``, ``(1, 0)`` at the end ``-1``.

    Parameters
    ----------
    schedule : NoiseSchedule
    grid : LongTensor
        One diffusion step per row (any shape, e.g. (B,) or (B, M)); ``-1`` is the clean
        end point.
    ndim : int
        Dimensions of the state the coefficients broadcast against: trailing singleton
        dimensions are added to ``grid``'s shape.

    Returns
    -------
    tuple of Tensor, each ``grid.shape + (1,) * (ndim - grid.ndim)``
    """
    end = grid < 0
    t = grid.clamp(min=0)
    a = torch.where(end, 1.0, schedule.sqrt_alpha_bars[t])
    b = torch.where(end, 0.0, schedule.sqrt_one_minus_alpha_bars[t])
    shape = tuple(grid.shape) + (1,) * (int(ndim) - grid.ndim)
    return a.reshape(shape), b.reshape(shape)


def ddim_step_rows(
    x: torch.Tensor, x0: torch.Tensor, coef: Coefficients, coef_next: Coefficients
) -> torch.Tensor:
    """Deterministic DDIM step (eta = 0) ``x -> a' x0 + b' eps(x, x0)`` with per-row coefficients.

    The same step as :func:`~diffrisk.diffusion.steps.ddim_step` with ``eta = 0``, for rows
    at different steps (``coef`` at the current, ``coef_next`` at the next grid point).
    """
    return coef_next[0] * x0 + coef_next[1] * eps_from_x0(x, x0, *coef)


def two_step_target(
    z: torch.Tensor, z_two: torch.Tensor, coef: Coefficients, coef_two: Coefficients
) -> torch.Tensor:
    """The clean estimate ``x~`` whose ONE DDIM step from ``z`` lands on ``z_two``.

    ``x~ = (z'' - (b''/b) z) / (a'' - (b''/b) a)`` (Salimans & Ho 2022, Alg. 2), with
    ``(a, b)`` the coefficients at ``z``'s step and ``(a'', b'')`` at ``z_two``'s.
    """
    ratio = coef_two[1] / coef[1]
    return (z_two - ratio * z) / (coef_two[0] - ratio * coef[0])


def target_prediction(
    x0_target: torch.Tensor, z: torch.Tensor, coef: Coefficients, prediction_type: str
) -> torch.Tensor:
    """The network output of type ``prediction_type`` that implies ``x0_target`` at ``z``.

    The eps is ``(z - a x~) / b`` and the output is
    :func:`~diffrisk.diffusion.prediction.training_target` of ``(x~, eps)``.
    """
    eps = eps_from_x0(z, x0_target, *coef)
    return training_target(x0_target, eps, *coef, prediction_type)


def one_step_loss(
    out: torch.Tensor,
    z: torch.Tensor,
    z_next: torch.Tensor,
    coef: Coefficients,
    coef_next: Coefficients,
    prediction_type: str,
    loss: str,
) -> torch.Tensor:
    """Mean loss of a student's output ``out`` at ``z`` whose ONE DDIM step must reach ``z_next``.

    ``loss="landing"``: the squared distance of the student's landing point (its DDIM step
    from ``z``, coefficients ``coef`` to ``coef_next``) to ``z_next``; ``"prediction"``:
    the squared error of ``out`` against the output implying ``z_next``
    (:func:`two_step_target`, which holds for any landing point, and
    :func:`target_prediction`).
    """
    if loss == "prediction":
        x0 = two_step_target(z, z_next, coef, coef_next)
        return torch.mean((out - target_prediction(x0, z, coef, prediction_type)) ** 2)
    landing = ddim_step_rows(z, to_x0(out, z, *coef, prediction_type), coef, coef_next)
    return torch.mean((landing - z_next) ** 2)


def pair_starts(
    shape: int | tuple[int, ...], grid_length: int, generator: torch.Generator
) -> torch.Tensor:
    """Uniform even grid positions ``j`` (each row's two teacher steps ``j -> j+1 -> j+2``).

    ``shape`` is the number of rows or a shape (e.g. (B, M) for M draws per condition).
    """
    n_pairs = (int(grid_length) - 1) // 2
    size = (int(shape),) if isinstance(shape, int) else tuple(shape)
    return 2 * torch.randint(0, n_pairs, size, generator=generator)


def richardson(fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
    """``2 fine - coarse``: Richardson extrapolation of a first-order solver.

    ``coarse`` is the landing point of DDIM steps on a grid, ``fine`` the same path on the
    grid with every step halved; DDIM's global error is first order in the step, so the
    combination cancels its leading term (Richardson 1911).
    """
    return 2.0 * fine - coarse


@torch.no_grad()
def mean_loss(
    loss: Callable[[Any, Any, torch.Generator], torch.Tensor],
    net: torch.nn.Module,
    data: TrainingSet,
    seed: int,
    batch_size: int,
) -> float:
    """``loss`` of ``net`` on every row of ``data`` in order, with fixed (seeded) draws.

    The validation score of a distillation round: rows in batches of ``batch_size``
    (``data.take`` of an index range), each batch's mean loss weighted by its rows. The
    network's mode is left as it is.
    """
    gen = torch.Generator().manual_seed(int(seed))
    total, count = 0.0, 0
    for s in range(0, len(data), int(batch_size)):
        index = torch.arange(s, min(s + int(batch_size), len(data)))
        total += float(loss(net, data.take(index), gen)) * len(index)
        count += len(index)
    return total / max(count, 1)
