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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from diffrisk.core.dataclass_fields import ParamsSection
from diffrisk.ddpm.fit import training_conditions
from diffrisk.ddpm.inputs import (
    ConditionTensors,
    condition_tensors,
    prepare_returns,
    rows_between,
    series_columns,
)
from diffrisk.ddpm.model import DDPMModel
from diffrisk.ddpm.network import Denoiser, DenoiserSpec
from diffrisk.diffusion.distill import (
    check_halving,
    ddim_step_rows,
    grid_coefficients,
    mean_loss,
    nested_grid,
    pair_starts,
    richardson,
    target_prediction,
    two_step_target,
)
from diffrisk.diffusion.prediction import to_x0
from diffrisk.diffusion.sampler import SPACINGS
from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.diffusion.training import (
    TrainOptions,
    check_field_range,
    check_positive_fields,
    read_checkpoint,
    restore_weights,
    save_checkpoint,
    train_denoiser,
)
from diffrisk.diffusion.weights_hash import model_version, state_dict_sha256

logger = logging.getLogger(__name__)

#: Values of :attr:`DDPMDistillConfig.loss`.
LOSSES: tuple[str, ...] = ("landing", "prediction")

STUDENT_KIND = "diffrisk.ddpm_student"


@dataclass(frozen=True)
class DDPMDistillConfig(ParamsSection):
    """Settings of :func:`distill_ddpm` (a ``params.yaml`` section ``ddpm_distill``).

    Parameters
    ----------
    start_steps : int
        DDIM steps of the first teacher (the fitted network, first-order DDIM).
    final_steps : int
        Steps of the final student; ``start_steps = final_steps * 2**k``.
    spacing : str
        Spacing of the first grid (:func:`~diffrisk.diffusion.sampler.ddim_timesteps`);
        the pipeline samples with ``"logsnr"``.
    loss : {"landing", "prediction"}
        What the student matches (see the module docstring).
    freeze_encoder : bool
        Keep the teacher's condition encoder (train the head only).
    lr, batch_size, noise_draws, ema_decay, grad_clip, samples_per_epoch, patience
        Optimisation of every round (AdamW, no weight decay); ``noise_draws`` (grid
        point, noise) pairs per condition.
    round_epochs : int
        Epoch budget of each halving round (the epoch with the lowest validation loss is
        kept).
    extrapolate : bool
        The first round's teacher lands on the Richardson extrapolation
        (:func:`~diffrisk.diffusion.distill.richardson`) of its two DDIM steps and of the
        four steps on the grid with twice the steps (the grid is then every second point
        of ``nested_grid(2 * start_steps)``): a second-order first teacher, since
        first-order DDIM converges slowly to the pipeline's second-order sampler.
    threads : int
        torch threads (read by the caller).
    """

    section: ClassVar[str] = "ddpm_distill"

    start_steps: int = 64
    final_steps: int = 4
    spacing: str = "logsnr"
    loss: str = "landing"
    freeze_encoder: bool = True
    lr: float = 1e-3
    batch_size: int = TrainOptions.batch_size
    samples_per_epoch: int = 32768
    noise_draws: int = TrainOptions.noise_draws
    round_epochs: int = 3
    patience: int = 2
    ema_decay: float = TrainOptions.ema_decay
    grad_clip: float = TrainOptions.grad_clip
    extrapolate: bool = False
    threads: int = 1

    def __post_init__(self) -> None:
        names = ("start_steps", "final_steps", "round_epochs", "batch_size", "noise_draws",
                 "patience", "threads")  # fmt: skip
        check_positive_fields(self, names, "DDPMDistillConfig")
        check_halving(self.start_steps, self.final_steps, "DDPMDistillConfig")
        check_field_range(self, ("lr",), "> 0", "DDPMDistillConfig")
        check_field_range(self, ("ema_decay",), "in [0, 1)", "DDPMDistillConfig")
        check_field_range(self, ("grad_clip", "samples_per_epoch"), ">= 0", "DDPMDistillConfig")
        if self.spacing not in SPACINGS:
            raise ValueError(
                f"DDPMDistillConfig.spacing must be one of {SPACINGS}, got {self.spacing!r}"
            )
        if self.loss not in LOSSES:
            raise ValueError(f"DDPMDistillConfig.loss must be one of {LOSSES}, got {self.loss!r}")

    def options(self) -> TrainOptions:
        """Optimisation settings of one round (no weight decay, no minimum epoch count)."""
        return TrainOptions.from_fields(
            self, weight_decay=0.0, max_epochs=int(self.round_epochs), min_epochs=1
        )


@dataclass
class DDPMStudent:
    """A distilled few-step sampler of a fitted one-day model and its provenance.

    Attributes
    ----------
    net : Denoiser
        The student's network (same architecture as the teacher's, eval mode).
    steps : ndarray of int
        Descending diffusion steps the student visits (the last step goes to x0).
    teacher : dict
        ``version``, ``weights_sha256`` and ``fit_end`` of the teacher; sampling with
        :func:`~diffrisk.ddpm.forecast.forecast_ddpm` checks the weights.
    config : DDPMDistillConfig
    history : list of dict
        Per round: ``stage``, ``steps``, ``best_epoch``, ``val_loss``, ``epochs_run``,
        ``seconds``.
    """

    net: Denoiser
    steps: NDArray[np.int64]
    teacher: dict[str, str]
    config: DDPMDistillConfig
    history: list[dict[str, Any]] = field(default_factory=list)


def teacher_provenance(model: DDPMModel) -> dict[str, str]:
    """``version``, ``weights_sha256`` and ``fit_end`` of a fitted model."""
    sha = state_dict_sha256(model.net.state_dict())
    return {
        "version": model_version("ddpm", model.fit_end, sha),
        "weights_sha256": sha,
        "fit_end": str(model.fit_end),
    }


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
            x0_target = two_step_target(z, z2, c0, c2)
        if not config.freeze_encoder:
            cond = student.encode(batch.windows, batch.features, batch.series_index)
        out = student(z, t0, cond)
        if config.loss == "prediction":
            return torch.mean((out - target_prediction(x0_target, z, c0, kind)) ** 2)
        landing = ddim_step_rows(z, to_x0(out, z, *c0, student.prediction_type), c0, c2)
        return torch.mean((landing - z2) ** 2)

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
        tic = time.perf_counter()
        result = train_denoiser(
            student,
            data,
            config.options(),
            seed=int(seed) + len(history),
            loss_fn=loss,
            val_loss_fn=lambda net, loss=loss: validation_loss(loss, net, val, int(seed) + 1000),
            progress=progress,
            desc=f"distill {name}",
        )
        student.load_state_dict(result.state_dict)
        if config.freeze_encoder:  # the EMA's rounding must not move the frozen weights
            student.encoder.load_state_dict(teacher.net.encoder.state_dict())
        history.append(
            {"stage": name, "steps": len(grid) - 1, "best_epoch": result.best_epoch,
             "val_loss": result.best_score, "epochs_run": result.epochs_run,
             "seconds": time.perf_counter() - tic}
        )  # fmt: skip
        logger.info("distillation round %s", history[-1])
    student.eval().requires_grad_(False)
    return DDPMStudent(
        net=student,
        steps=grid[:-1].astype(np.int64),
        teacher=teacher_provenance(teacher),
        config=config,
        history=history,
    )


# --------------------------------------------------------------------------- checkpoints
def save_student(student: DDPMStudent, path: str | Path) -> Path:
    """Write the student atomically (network, steps, settings, teacher provenance)."""
    payload = {
        "kind": STUDENT_KIND,
        "spec": asdict(student.net.spec),
        "state_dict": student.net.state_dict(),
        "steps": [int(s) for s in student.steps],
        "teacher": dict(student.teacher),
        "distill": student.config.to_dict(),
        "history": student.history,
    }
    return save_checkpoint(path, payload)


def load_student(path: str | Path) -> DDPMStudent:
    """Read a student written by :func:`save_student`.

    Raises
    ------
    ValueError
        If the file is not a one-day student checkpoint.
    """
    payload = read_checkpoint(path)
    if payload.get("kind") != STUDENT_KIND:
        raise ValueError(
            f"{path} is not a one-day student checkpoint (kind={payload.get('kind')!r})"
        )
    net = restore_weights(Denoiser(DenoiserSpec(**payload["spec"])), payload)
    return DDPMStudent(
        net=net.requires_grad_(False),
        steps=np.asarray(payload["steps"], dtype=np.int64),
        teacher=dict(payload["teacher"]),
        config=DDPMDistillConfig.from_dict(payload["distill"]),
        history=list(payload["history"]),
    )
