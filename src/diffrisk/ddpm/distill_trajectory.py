"""The pipeline sampler as the first teacher of a one-day student (trajectory distillation).

Progressive distillation's first teacher is first-order DDIM on a fine grid, and first-order
DDIM converges slowly to the pipeline's second-order sampler (DPM-Solver++(2M), Lu et al.
2022): on validation its 5 % VaR on 64 log-SNR steps is still milder than the pipeline's by
about six times the Monte-Carlo bound, and every student inherits that bias. Here the
first teacher is the pipeline's sampler itself. Its deterministic trajectories (DDIM,
``eta = 0``, with the pipeline's steps, spacing and order), started from iid normal noise
on every training condition, are recorded at the student's grid points, a subset of its
steps (:func:`~diffrisk.diffusion.distill.sampler_grid`, :func:`trajectory_states`), and
the student learns ONE DDIM step from each recorded state to the next, landing where the
teacher's steps land (:func:`trajectory_loss_fn`; the step's target maths is
:mod:`diffrisk.diffusion.distill`'s). It is the multi-step
analogue of Luhman & Luhman (2021), who distil a whole sampler into one step; the
student sees the states the sampler visits rather than forward-noised data, and
multistep history is no obstacle because the teacher runs whole trajectories.

References
----------
Luhman, E. & Luhman, T. (2021). Knowledge distillation in iterative generative models for
improved sampling speed. arXiv:2101.02388.
Lu, C. et al. (2022). DPM-Solver++: fast solver for guided sampling of diffusion
probabilistic models. arXiv:2211.01095.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import NDArray

from diffrisk.ddpm.inputs import ConditionTensors
from diffrisk.ddpm.network import Denoiser
from diffrisk.diffusion.distill import grid_coefficients, one_step_loss
from diffrisk.diffusion.sampler import reverse_process
from diffrisk.diffusion.schedule import NoiseSchedule


@torch.no_grad()
def trajectory_states(
    net: Denoiser,
    schedule: NoiseSchedule,
    data: ConditionTensors,
    grid: NDArray[np.int64],
    points: NDArray[np.int64],
    draws: int,
    order: int,
    generator: torch.Generator,
    batch_size: int = 4096,
) -> torch.Tensor:
    """The sampler's states at the student's points, ``draws`` trajectories per condition.

    Parameters
    ----------
    net : Denoiser
        The teacher's network (put in eval mode).
    schedule : NoiseSchedule
    data : ConditionTensors
        Conditions (their targets are not used).
    grid : ndarray of int
        :func:`~diffrisk.diffusion.distill.sampler_grid`'s steps with the end ``-1``.
    points : ndarray of int
        :func:`~diffrisk.diffusion.distill.sampler_grid`'s indices of the states to record.
    draws : int
        Trajectories per condition (iid N(0, 1) starts).
    order : int
        The sampler's order (2: DPM-Solver++(2M)), as in
        :func:`~diffrisk.diffusion.sampler.reverse_process`.
    generator : torch.Generator
        Source of the starting noise, drawn chunk by chunk.
    batch_size : int
        Conditions per chunk.

    Returns
    -------
    Tensor (n, draws, len(points))
        State ``[:, :, 0]`` is the starting noise, ``[:, :, k]`` the state at
        ``grid[points[k]]`` and the last the sampler's x0.
    """
    net.eval()
    steps = np.asarray(grid[:-1])
    recorded = {int(t) for t in np.asarray(grid)[np.asarray(points)[:-1]]}
    out = torch.empty(len(data), int(draws), len(points))
    for s in range(0, len(data), int(batch_size)):
        part = data.take(torch.arange(s, min(s + int(batch_size), len(data))))
        cond = net.encode(part.windows, part.features, part.series_index)
        x = torch.randn(len(part), int(draws), generator=generator)
        kept: list[torch.Tensor] = []

        def eps_fn(x_t: torch.Tensor, t: int, c: torch.Tensor = cond, kept: list = kept):
            if t in recorded:  # the state the sampler visits at a student grid point
                kept.append(x_t)
            return net.predict_eps(x_t, c, t)

        kept.append(reverse_process(eps_fn, schedule, x, steps, generator=generator,
                                    order=int(order)))  # fmt: skip
        out[s : s + len(part)] = torch.stack(kept, dim=-1)
    return out


def with_states(data: ConditionTensors, states: torch.Tensor) -> ConditionTensors:
    """``data`` whose targets are the teacher's recorded states (n, draws, points)."""
    return dataclasses.replace(data, targets=states)


def trajectory_loss_fn(
    schedule: NoiseSchedule,
    grid: NDArray[np.int64],
    points: NDArray[np.int64],
    loss: str,
    encoder: Denoiser | None,
) -> Callable[[Denoiser, ConditionTensors, torch.Generator], torch.Tensor]:
    """Loss (student, batch, generator) of one round on the sampler's recorded states.

    ``batch.targets`` holds :func:`trajectory_states` (see :func:`with_states`). For every
    (condition, draw) a uniform student step ``k`` is drawn; the student takes ONE DDIM
    step from the state at ``grid[points[k]]`` to ``grid[points[k + 1]]``.
    ``loss="landing"`` is the squared distance of its landing point to the teacher's,
    ``"prediction"`` the squared error of its output against the output implying the
    teacher's landing point (:func:`~diffrisk.diffusion.distill.one_step_loss`).
    ``encoder``: the frozen network whose condition encoder is used (``None``: the
    student's own, trained).
    """
    g = torch.as_tensor(np.asarray(grid)[np.asarray(points)], dtype=torch.long)

    def loss_fn(student: Denoiser, batch: ConditionTensors, gen: torch.Generator) -> torch.Tensor:
        states = batch.targets
        k = torch.randint(0, len(g) - 1, states.shape[:2], generator=gen)
        z = states.gather(2, k.unsqueeze(-1)).squeeze(-1)
        z_next = states.gather(2, (k + 1).unsqueeze(-1)).squeeze(-1)
        c0, c1 = (grid_coefficients(schedule, g[i], ndim=2) for i in (k, k + 1))
        owner = student if encoder is None else encoder
        with torch.set_grad_enabled(encoder is None and torch.is_grad_enabled()):
            cond = owner.encode(batch.windows, batch.features, batch.series_index)
        out = student(z, g[k], cond)
        return one_step_loss(out, z, z_next, c0, c1, student.prediction_type, loss)

    return loss_fn
