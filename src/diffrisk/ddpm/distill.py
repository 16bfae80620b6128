"""A few-step student of the one-day model: progressive distillation (Salimans & Ho 2022).

On a nested grid of DDIM steps (``start_steps`` steps in ``spacing``, and the clean end
``-1``; :func:`~diffrisk.diffusion.distill.nested_grid`) each round trains a student,
initialised from its teacher (the fitted model's network in the first round, then the
previous student), so that ONE deterministic DDIM step from grid point ``t_j`` to
``t_{j+2}`` lands where the teacher's TWO steps land; each round halves the steps, down to
``final_steps``. The target maths (per-row coefficients, the teacher's steps, the target
``x~`` and its conversion to the network's prediction) is
:mod:`diffrisk.diffusion.distill`, shared with the stress student.

The one-day network predicts eps (:class:`~diffrisk.ddpm.network.Denoiser`). An x0
recovered from eps at the noisiest step is the eps error over ``sqrt(alpha_bar_T)``
(about 150 times it on the pipeline's schedule), so a loss on x0 would be dominated by
the noisiest rows. The default loss (``loss="landing"``) is the squared distance between
the student's and the teacher's LANDING points ``z_{t_{j+2}}``: what the student is meant
to reproduce. In x0 terms it weights the x0 error by ``(a'' - (b''/b) a)^2`` (1 on the
last step to the clean end, about ``alpha_bar`` of the landing step from the noisiest
one), a truncated weight that never divides by ``sqrt(alpha_bar_T)``. ``loss="prediction"``
matches the eps implied by ``x~`` instead (unweighted, as the stress student does in v).

The first teacher is first-order DDIM on the start grid; the pipeline samples with the
second-order DPM-Solver++(2M), to which first-order DDIM converges slowly (on validation,
64 log-SNR steps still gave a 5 % VaR about 5 % milder). With ``extrapolate`` the first
round's target is the Richardson extrapolation of the teacher's steps on the grid and on
the grid with twice the steps (:func:`~diffrisk.diffusion.distill.richardson`), which is
second order and keeps every row Markov (a multistep solver would need the path's history).
With ``trajectory`` the first teacher is the pipeline's sampler itself: its recorded
trajectories on the training windows train one round straight to ``final_steps``
(:mod:`diffrisk.ddpm.distill_trajectory`).

Only the teacher's TRAINING windows (targets on or before ``train_end``) train the
student; validation windows (``val_start .. val_end``) pick each round's epoch; rows
after ``val_end`` are dropped before anything is computed. By default the condition
encoder stays the teacher's (``freeze_encoder``): the student learns the head only, and
the conditions are encoded once per batch for teacher and student.

References
----------
Salimans, T. & Ho, J. (2022). Progressive distillation for fast sampling of diffusion
models. ICLR.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from diffrisk.ddpm.distill_trajectory import trajectory_loss_fn, trajectory_states, with_states
from diffrisk.ddpm.fit import training_conditions
from diffrisk.ddpm.inputs import (
    ConditionTensors,
    condition_tensors,
    prepare_returns,
    rows_between,
    series_columns,
)
from diffrisk.ddpm.model import DDPMModel
from diffrisk.ddpm.network import Denoiser
from diffrisk.ddpm.student import DDPMDistillConfig, DDPMStudent, teacher_provenance
from diffrisk.diffusion.distill import (
    ddim_step_rows,
    grid_coefficients,
    mean_loss,
    nested_grid,
    one_step_loss,
    pair_starts,
    richardson,
    sampler_grid,
)
from diffrisk.diffusion.prediction import to_x0
from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.diffusion.training import (
    train_denoiser,
)

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- loss
def halving_loss_fn(
    teacher: Denoiser,
    schedule: NoiseSchedule,
    grid: NDArray[np.int64],
    config: DDPMDistillConfig,
    fine: NDArray[np.int64] | None = None,
) -> Callable[[Denoiser, ConditionTensors, torch.Generator], torch.Tensor]:
    """Loss (student, batch, generator) of a halving round on ``grid`` (steps + end -1).

    Each condition gets ``config.noise_draws`` (start, noise) pairs: the start is an even
    grid point ``t_j`` (uniform), ``z = a x0 + b eps``; the teacher's two DDIM steps
    ``t_j -> t_{j+1} -> t_{j+2}`` give ``z''``. See the module docstring for the losses.
    With ``fine`` (``grid == fine[::2]``) ``z''`` is the Richardson extrapolation of those
    two steps and the four steps ``fine[2j] -> ... -> fine[2j + 4]``.
    """
    g = torch.as_tensor(np.asarray(grid), dtype=torch.long)
    f = None if fine is None else torch.as_tensor(np.asarray(fine), dtype=torch.long)
    if f is not None and not torch.equal(f[::2], g):
        raise ValueError("grid must be every second point of fine")
    teacher = teacher.eval()
    kind = teacher.prediction_type

    def steps(z: torch.Tensor, points: list[torch.Tensor], cond: torch.Tensor) -> torch.Tensor:
        """The teacher's DDIM steps from ``z`` over the per-row ``points``."""
        coef = [grid_coefficients(schedule, p, ndim=2) for p in points]
        for k in range(len(points) - 1):
            x0 = to_x0(teacher(z, points[k], cond), z, *coef[k], kind)
            z = ddim_step_rows(z, x0, coef[k], coef[k + 1])
        return z

    def loss(student: Denoiser, batch: ConditionTensors, gen: torch.Generator) -> torch.Tensor:
        shape = (len(batch), config.noise_draws)
        j = pair_starts(shape, len(g), gen)
        noise = torch.randn(shape, generator=gen)
        t0, t1, t2 = g[j], g[j + 1], g[j + 2]
        c0, c2 = (grid_coefficients(schedule, s, ndim=2) for s in (t0, t2))
        z = c0[0] * batch.targets.unsqueeze(1) + c0[1] * noise
        with torch.no_grad():
            cond = teacher.encode(batch.windows, batch.features, batch.series_index)
            z2 = steps(z, [t0, t1, t2], cond)
            if f is not None:
                z2 = richardson(steps(z, [f[2 * j + k] for k in range(5)], cond), z2)
        if not config.freeze_encoder:
            cond = student.encode(batch.windows, batch.features, batch.series_index)
        out = student(z, t0, cond)
        return one_step_loss(out, z, z2, c0, c2, kind, config.loss)

    return loss


def validation_loss(
    loss: Callable[[Denoiser, ConditionTensors, torch.Generator], torch.Tensor],
    net: Denoiser,
    data: ConditionTensors,
    seed: int,
    batch_size: int = 4096,
) -> float:
    """``loss`` of ``net`` in eval mode on every condition of ``data``, fixed seeded draws.

    :func:`diffrisk.diffusion.distill.mean_loss` after ``net.eval()``.
    """
    net.eval()
    return mean_loss(loss, net, data, seed, batch_size)


# --------------------------------------------------------------------------- distillation
def distill_ddpm(
    teacher: DDPMModel,
    returns: pd.DataFrame,
    train_end: str | pd.Timestamp,
    val_start: str | pd.Timestamp,
    val_end: str | pd.Timestamp,
    config: DDPMDistillConfig,
    *,
    seed: int,
    progress: bool | None = None,
) -> DDPMStudent:
    """Distil ``teacher`` into a student with ``config.final_steps`` DDIM steps.

    Parameters
    ----------
    teacher : DDPMModel
        The fitted one-day model (not modified); its scaler and market state condition
        every window.
    returns : DataFrame (dates x series)
        The returns the teacher was fitted on; rows after ``val_end`` are dropped first.
    train_end : date
        Last target day of the training windows; on or before ``teacher.fit_end`` (the
        student learns on the teacher's training windows only).
    val_start, val_end : date
        Validation windows (targets in ``[val_start, val_end]``) pick each round's epoch.
    config : DDPMDistillConfig
    seed : int
        Seeds every draw (initial state, batch order, grid points, noise).
    progress : bool, optional
        tqdm bars (None: only on a terminal).

    Returns
    -------
    DDPMStudent
    """
    train_end, val_start, val_end = (pd.Timestamp(d) for d in (train_end, val_start, val_end))
    if train_end > pd.Timestamp(teacher.fit_end):
        raise ValueError(
            f"train_end={train_end.date()} is after the teacher's fit_end={teacher.fit_end}"
        )
    if not train_end < val_start <= val_end:
        raise ValueError(
            f"need train_end < val_start <= val_end, got {train_end.date()}, "
            f"{val_start.date()}, {val_end.date()}"
        )
    if list(returns.columns) != teacher.series and not set(teacher.series) <= set(returns):
        raise ValueError(f"returns lack the teacher's series {teacher.series}")
    torch.manual_seed(int(seed))
    cfg, schedule = teacher.config, teacher.schedule
    frame = returns.loc[returns.index <= val_end, teacher.series]
    index = pd.DatetimeIndex(frame.index)
    prep = prepare_returns(frame, teacher.scaler, teacher.market)
    train_cols = series_columns(teacher.scaler, cfg.train_series, "train_series")
    train_rows = rows_between(index, None, train_end, cfg.window)
    data = training_conditions(prep, frame, teacher.scaler, train_rows, train_cols, cfg)
    val_cols = series_columns(teacher.scaler, cfg.val_series, "val_series")
    val = condition_tensors(
        prep, rows_between(index, val_start, val_end, cfg.window), val_cols, cfg
    )
    if not len(val):
        raise ValueError(f"no validation windows in {val_start.date()} .. {val_end.date()}")
    student = copy.deepcopy(teacher.net).train()
    if config.freeze_encoder:
        student.encoder.requires_grad_(False)
    if config.trajectory:
        return _distill_trajectory(teacher, student, data, val, config, int(seed), progress)
    fine = None
    if config.extrapolate:
        fine = nested_grid(schedule, 2 * config.start_steps, config.spacing)
        grid = fine[::2]
    else:
        grid = nested_grid(schedule, config.start_steps, config.spacing)
    history: list[dict[str, Any]] = []
    while len(grid) - 1 > config.final_steps:
        frozen = copy.deepcopy(student).eval().requires_grad_(False)
        loss = halving_loss_fn(frozen, schedule, grid, config, fine if not history else None)
        grid = grid[::2]
        name = f"halve to {len(grid) - 1} steps"
        history.append(
            _train_round(teacher, student, data, val, loss, config, int(seed) + len(history),
                         name, len(grid) - 1, progress)
        )  # fmt: skip
    student.eval().requires_grad_(False)
    return DDPMStudent(
        net=student,
        steps=grid[:-1].astype(np.int64),
        teacher=teacher_provenance(teacher),
        config=config,
        history=history,
    )


def _train_round(
    teacher: DDPMModel,
    student: Denoiser,
    data: ConditionTensors,
    val: ConditionTensors,
    loss: Callable[[Denoiser, ConditionTensors, torch.Generator], torch.Tensor],
    config: DDPMDistillConfig,
    seed: int,
    name: str,
    steps: int,
    progress: bool | None,
) -> dict[str, Any]:
    """Train ``student`` in place for one round on ``loss``; its ``history`` entry.

    The epoch with the lowest :func:`validation_loss` on ``val`` (draws seeded by
    ``seed + 1000``) is kept; a frozen encoder is restored to the teacher's afterwards.
    """
    tic = time.perf_counter()
    result = train_denoiser(
        student,
        data,
        config.options(),
        seed=seed,
        loss_fn=loss,
        val_loss_fn=lambda net: validation_loss(loss, net, val, seed + 1000),
        progress=progress,
        desc=f"distill {name}",
    )
    student.load_state_dict(result.state_dict)
    if config.freeze_encoder:  # the EMA's rounding must not move the frozen weights
        student.encoder.load_state_dict(teacher.net.encoder.state_dict())
    entry = {"stage": name, "steps": int(steps), "best_epoch": result.best_epoch,
             "val_loss": result.best_score, "epochs_run": result.epochs_run,
             "seconds": time.perf_counter() - tic}  # fmt: skip
    logger.info("distillation round %s", entry)
    return entry


def _distill_trajectory(
    teacher: DDPMModel,
    student: Denoiser,
    data: ConditionTensors,
    val: ConditionTensors,
    config: DDPMDistillConfig,
    seed: int,
    progress: bool | None,
) -> DDPMStudent:
    """One round on the pipeline sampler's recorded trajectories (``config.trajectory``)."""
    schedule = teacher.schedule
    grid, points = sampler_grid(
        schedule, config.start_steps, config.spacing, config.final_steps, "DDPMDistillConfig"
    )
    tic = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    train_t, val_t = (
        with_states(d, trajectory_states(teacher.net, schedule, d, grid, points,
                                         config.noise_draws, config.teacher_order, gen))
        for d in (data, val)
    )  # fmt: skip
    recorded = time.perf_counter() - tic
    logger.info("recorded %d x %d teacher trajectories in %.1f s", len(data), config.noise_draws,
                recorded)  # fmt: skip
    frozen = teacher.net if config.freeze_encoder else None
    loss = trajectory_loss_fn(schedule, grid, points, config.loss, frozen)
    name = f"{len(grid) - 1} sampler steps to {config.final_steps}"
    entry = _train_round(teacher, student, train_t, val_t, loss, config, seed, name,
                         config.final_steps, progress)  # fmt: skip
    history = [{**entry, "seconds": entry["seconds"] + recorded, "recording_seconds": recorded}]
    student.eval().requires_grad_(False)
    return DDPMStudent(
        net=student,
        steps=grid[points][:-1].astype(np.int64),
        teacher=teacher_provenance(teacher),
        config=config,
        history=history,
    )
