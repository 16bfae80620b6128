"""The guided teacher's own sampler as the stress student's teacher (trajectory distillation).

Progressive halving (:func:`~diffrisk.stress.student.halving_loss_fn`) starts from
first-order DDIM on ``start_steps = 16`` linear steps, while the pipeline samples (and the
student is judged against) DDIM on 20 linear steps with the two-pass guided prediction;
every halving round adds its own error on top. Here, after guidance distillation, the
student learns in ONE round from the pipeline sampler's own trajectories (as the one-day
student does, :mod:`diffrisk.ddpm.distill_trajectory`):

1. **Recording** (:func:`record_trajectories`). For every training window, ``draws``
   trajectories of the guided TEACHER's sampler (deterministic DDIM, ``eta = 0``, order 1,
   the teacher's steps, two network passes per step: ``v_null + w (v_cond - v_null)``, as
   :func:`~diffrisk.stress.sampling.sample_scaled_paths` computes it) start from iid
   N(0, 1) noise, with a guidance weight ``w`` per trajectory uniform on
   ``[guidance_min, guidance_max]`` and the training's condition dropout
   (:func:`~diffrisk.stress.student.condition_draws`: half of the rows unconditional at
   ``p_uncond = 0.5``). The states at the student's grid points (a subset of the teacher's
   steps, :func:`~diffrisk.diffusion.distill.sampler_grid`) are kept, with the mask and
   ``w`` (:class:`Trajectories`; float32, ``rows x (final_steps + 1) x n_assets x horizon``:
   6,212 training windows x 1 draw x 5 x 20 x 20 take 50 MB).
2. **One round** (:func:`trajectory_loss_fn`). Each row draws a uniform student step
   ``k``; the student's ONE DDIM step from the state at ``t_k`` must land on the recorded
   state at ``t_{k+1}``.

The loss is on the network's v output against the v that implies the teacher's landing
point (``loss="prediction"`` of :func:`~diffrisk.diffusion.distill.one_step_loss`), as in
the halving rounds: the stress network predicts v, and for a v network the landing
point's error is the v error times ``a b' - a' b = sin(phi' - phi)`` (the angle the step
turns, ``a = cos phi``, ``b = sin phi``), so the landing loss would only reweight the
student's steps by that squared sine; the v loss weights every step alike, keeps the
scale of stage 1's loss (the same learning rate serves both) and never divides by a
small coefficient (``b`` > 0 at every start point, the end ``-1`` is never a start).

Validation windows get their own recorded trajectories (drawn after the training ones
from the same generator); they only pick the round's epoch.

References
----------
Luhman, E. & Luhman, T. (2021). Knowledge distillation in iterative generative models for
improved sampling speed. arXiv:2101.02388.
Meng, C. et al. (2023). On distillation of guided diffusion models. CVPR.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from diffrisk.diffusion.distill import grid_coefficients, one_step_loss
from diffrisk.diffusion.guidance import guided_prediction
from diffrisk.diffusion.prediction import to_eps
from diffrisk.diffusion.sampler import reverse_process
from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.stress.model import StressModel, WindowTensors
from diffrisk.stress.network import StressDenoiser
from diffrisk.stress.student import GuidedStudentNet, condition_draws, conditioning


@dataclass(frozen=True)
class Trajectories:
    """Recorded guided trajectories, one row per (window, draw), window-major.

    Attributes
    ----------
    window : LongTensor (N,)
        Row of the :class:`~diffrisk.stress.model.WindowTensors` that conditions each
        trajectory.
    states : Tensor (N, P, n_assets, horizon)
        States at the ``P`` student grid points: ``[:, 0]`` the starting noise, the last
        the sampler's output x0.
    drop : Tensor (N, n_signature)
        Condition dropout mask (1 = component replaced by its null token).
    weight : Tensor (N,)
        Guidance weight of each trajectory.
    """

    window: torch.Tensor
    states: torch.Tensor
    drop: torch.Tensor
    weight: torch.Tensor


class TrajectorySet:
    """Training rows of the round: windows joined to their recorded trajectories.

    Parameters
    ----------
    windows : WindowTensors
    record : Trajectories
        Recorded on ``windows``.
    """

    def __init__(self, windows: WindowTensors, record: Trajectories) -> None:
        self.windows, self.record = windows, record

    def __len__(self) -> int:
        return int(self.record.window.shape[0])

    def take(self, index: torch.Tensor | slice) -> dict[str, torch.Tensor]:
        """Rows ``index``: the window's tensors and ``states``, ``drop``, ``weight``."""
        r = self.record
        return {
            **self.windows.take(r.window[index]),
            "states": r.states[index],
            "drop": r.drop[index],
            "weight": r.weight[index],
        }


@torch.no_grad()
def guided_states(
    net: StressDenoiser,
    schedule: NoiseSchedule,
    noise: torch.Tensor,
    embeddings: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    weight: torch.Tensor,
    grid: NDArray[np.int64],
    points: NDArray[np.int64],
) -> torch.Tensor:
    """The guided teacher sampler's states at ``grid[points]`` from ``noise``.

    The sampler of :func:`~diffrisk.stress.sampling.sample_scaled_paths` with two passes
    (``batched_guidance=False``), DDIM, ``eta = 0``, order 1, over ``grid[:-1]``, except
    that the guidance weight is one per row.

    Parameters
    ----------
    net : StressDenoiser
        The teacher's network (put in eval mode).
    schedule : NoiseSchedule
    noise : Tensor (B, n_assets, horizon)
        The starting states x_T.
    embeddings : tuple of Tensor (B, emb_dim)
        History context, signature embedding and null embedding per row.
    weight : Tensor (B,)
        Guidance weight per row (``v_null + w (v_cond - v_null)``).
    grid, points : ndarray of int
        :func:`~diffrisk.diffusion.distill.sampler_grid`'s steps (with the end ``-1``) and
        indices of the states to keep.

    Returns
    -------
    Tensor (B, len(points), n_assets, horizon)
    """
    net.eval()
    context, cond, null = embeddings
    recorded = {int(t) for t in np.asarray(grid)[np.asarray(points)[:-1]]}
    w = weight[:, None, None]
    kept: list[torch.Tensor] = []

    def eps_fn(x: torch.Tensor, t: int) -> torch.Tensor:
        if t in recorded:
            kept.append(x)
        tt = torch.full((x.shape[0],), t, dtype=torch.long)
        out = guided_prediction(net(x, tt, context, null), net(x, tt, context, cond), w)
        sqrt_ab, sqrt_1m = schedule.step_coefficients(t)
        return to_eps(out, x, sqrt_ab, sqrt_1m, net.prediction_type)

    steps = np.asarray(grid)[:-1]
    gen = torch.Generator()  # never drawn from: DDIM with eta = 0 is deterministic
    kept.append(reverse_process(eps_fn, schedule, noise, steps, generator=gen, order=1))
    return torch.stack(kept, dim=1)


def record_trajectories(
    teacher: StressModel,
    data: WindowTensors,
    grid: NDArray[np.int64],
    points: NDArray[np.int64],
    draws: int,
    w_range: tuple[float, float],
    generator: torch.Generator,
    batch_size: int = 2048,
) -> Trajectories:
    """``draws`` guided teacher trajectories per window of ``data``, kept at ``grid[points]``.

    Rows are window-major (row ``i * draws + d`` is draw ``d`` of window ``i``), drawn in
    chunks of ``batch_size`` rows; each chunk draws its noise, dropout mask and weights
    from ``generator`` (:func:`~diffrisk.stress.student.condition_draws`), conditions the
    teacher's network on the window and the mask and runs :func:`guided_states`.
    """
    n_rows = len(data) * int(draws)
    window = torch.arange(len(data)).repeat_interleave(int(draws))
    spec = teacher.net.spec
    states = torch.empty(n_rows, len(points), spec.n_assets, spec.horizon)
    drop = torch.empty(n_rows, spec.n_signature)
    weight = torch.empty(n_rows)
    for s in range(0, n_rows, int(batch_size)):
        rows = slice(s, min(s + int(batch_size), n_rows))
        batch = data.take(window[rows])
        noise, drop[rows], weight[rows] = condition_draws(batch, generator, teacher.config, w_range)
        with torch.no_grad():
            cond = conditioning(teacher.net.eval(), batch, drop[rows])
        states[rows] = guided_states(
            teacher.net, teacher.schedule, noise, cond, weight[rows], grid, points
        )
    return Trajectories(window=window, states=states, drop=drop, weight=weight)


def trajectory_loss_fn(
    schedule: NoiseSchedule, student_grid: NDArray[np.int64]
) -> Callable[[GuidedStudentNet, dict, torch.Generator], torch.Tensor]:
    """Loss (student, batch, generator) of the round on :class:`TrajectorySet` rows.

    ``student_grid`` is ``grid[points]`` (the student's steps and the end ``-1``). Row
    ``i`` draws a uniform step ``k``; the student's v at the recorded state ``z_k`` (step
    ``t_k``, the row's mask and weight) is matched to the v whose one DDIM step lands on
    the recorded ``z_{k+1}`` (module docstring).
    """
    g = torch.as_tensor(np.asarray(student_grid), dtype=torch.long)

    def loss(student: GuidedStudentNet, batch: dict, gen: torch.Generator) -> torch.Tensor:
        states = batch["states"]
        rows = torch.arange(states.shape[0])
        k = torch.randint(0, len(g) - 1, (states.shape[0],), generator=gen)
        z, z_next = states[rows, k], states[rows, k + 1]
        c0, c1 = grid_coefficients(schedule, g[k]), grid_coefficients(schedule, g[k + 1])
        context, signature, _ = conditioning(student.net, batch, batch["drop"])
        out = student(z, g[k], context, signature, batch["weight"])
        return one_step_loss(out, z, z_next, c0, c1, student.prediction_type, "prediction")

    return loss
