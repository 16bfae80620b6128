"""Few-step students of the guided stress model: guidance and progressive distillation.

Two stages, as in Meng et al. (2023), both trained on the teacher's TRAINING windows only
(validation windows select the epoch of each stage, nothing else):

1. **Guidance distillation.** A copy of the teacher's network gets one more input, the
   guidance weight ``w`` (a sinusoidal embedding added to the signature embedding, its
   last layer started at zero so the student starts as the teacher's conditional branch),
   and learns the guided prediction ``v_null + w (v_cond - v_null)`` of the teacher at
   every diffusion step, for ``w`` drawn uniformly from ``[guidance_min, guidance_max]``
   (the pipeline's per-archetype weights, ``stress.generate.guidance_grid``, and the
   prior's weight lie inside). One network pass per step instead of two, for any ``w``:
   one student serves every archetype's calibrated weight and any weight a service
   request asks for (a student per fixed weight would need one per grid value).
2. **Progressive distillation** (Salimans & Ho 2022, Alg. 2). On a nested grid of DDIM
   steps (``start_steps`` linear steps and the clean end), each round trains a student,
   initialised from its teacher (the previous student), so that ONE DDIM step from grid
   point ``t_i`` to ``t_{i+2}`` lands where the teacher's TWO steps land: the target
   ``x~ = (z'' - (s''/s) z) / (a'' - (s''/s) a)`` is matched in v space (an x0 loss
   weighted by ``1 + SNR``); each round halves the steps, down to ``final_steps``.
   The grid, the per-row teacher steps, the target and its conversion to v live in
   :mod:`diffrisk.diffusion.distill` (shared with the one-day student).
   With ``trajectory`` the halving rounds are replaced by ONE round on the guided
   teacher sampler's own recorded trajectories (the pipeline's DDIM, ``start_steps``
   linear steps, order 1, two passes per step) straight to ``final_steps``
   (:mod:`diffrisk.stress.distill_trajectory`).

The student is a :class:`StressStudent`: a :class:`~diffrisk.stress.model.StressModel`
whose network is the student's (so :func:`~diffrisk.stress.sampling.generate_paths`
conditions it as usual) plus the guidance embedding and the student's step grid;
:func:`student_sampler` plugs it into ``generate_paths(..., scaled_sampler=...)``.

References
----------
Salimans, T. & Ho, J. (2022). Progressive distillation for fast sampling of diffusion
models. ICLR.
Meng, C. et al. (2023). On distillation of guided diffusion models. CVPR.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from diffrisk.diffusion import distill as progressive
from diffrisk.diffusion.checkpoints import read_checkpoint, save_checkpoint
from diffrisk.diffusion.guidance import check_guidance_weight
from diffrisk.diffusion.prediction import to_eps
from diffrisk.diffusion.progress import progress_bar
from diffrisk.diffusion.sampler import initial_noise, reverse_process
from diffrisk.diffusion.training import TrainOptions, check_positive_fields, train_denoiser
from diffrisk.diffusion.weights_hash import model_version
from diffrisk.stress.config import ParamsSection, StressConfig
from diffrisk.stress.distill_trajectory import (
    TrajectorySet,
    record_trajectories,
    trajectory_loss_fn,
)
from diffrisk.stress.model import (
    StressModel,
    WindowTensors,
    statistics_from_payload,
    statistics_payload,
)
from diffrisk.stress.network import StressDenoiser, StressSpec
from diffrisk.stress.sampling import SAMPLING_CHUNK, ScaledSampler
from diffrisk.stress.student import GuidedStudentNet, guidance_loss_fn, halving_loss_fn
from diffrisk.stress.windows import training_windows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistillConfig(ParamsSection):
    """Settings of :func:`distill_stress_model` (``params.yaml``: ``stress.distill``).

    Parameters
    ----------
    start_steps : int
        DDIM steps of the guided teacher that the first round halves (linear spacing);
        with ``trajectory``, the steps of the teacher sampler whose trajectories are
        recorded (the pipeline's: 20).
    final_steps : int
        Steps of the final student; ``start_steps = final_steps * 2**k``, or with
        ``trajectory`` any number up to ``start_steps`` (the teacher's steps cut into
        ``final_steps`` runs as equal as possible, longer runs first).
    guidance_min, guidance_max : float
        Range of the guidance weights the student learns (uniform draws).
    lr, batch_size, ema_decay, grad_clip : optimisation of every stage (AdamW).
    guidance_epochs, round_epochs : int
        Epoch budget of the guidance stage and of each halving round (the epoch with the
        lowest validation loss is kept; ``patience`` epochs without improvement stop).
    samples_per_epoch : int
        Training windows drawn per epoch (0 = all).
    patience : int
    threads : int
        torch threads (read by the stage).
    trajectory : bool
        Trajectory distillation after the guidance stage instead of the halving rounds
        (one round of ``round_epochs``).
    trajectory_draws : int
        Recorded teacher trajectories per training (and validation) window.
    """

    section = "stress.distill.student"

    start_steps: int = 16
    final_steps: int = 4
    guidance_min: float = 0.0
    guidance_max: float = 3.0
    lr: float = 2e-4
    batch_size: int = 256
    ema_decay: float = 0.99
    grad_clip: float = TrainOptions.grad_clip
    guidance_epochs: int = 4
    round_epochs: int = 4
    samples_per_epoch: int = TrainOptions.samples_per_epoch
    patience: int = 2
    threads: int = 1
    trajectory: bool = False
    trajectory_draws: int = 1

    def __post_init__(self) -> None:
        names = ("start_steps", "final_steps", "guidance_epochs", "round_epochs", "batch_size",
                 "trajectory_draws")  # fmt: skip
        check_positive_fields(self, names, "DistillConfig")
        if not isinstance(self.trajectory, bool):
            raise ValueError(f"DistillConfig.trajectory must be a bool, got {self.trajectory!r}")
        if not self.trajectory:
            progressive.check_halving(self.start_steps, self.final_steps, "DistillConfig")
        elif self.final_steps > self.start_steps:
            raise ValueError(
                f"DistillConfig.final_steps ({self.final_steps}) must be <= start_steps "
                f"({self.start_steps}), the teacher sampler's steps"
            )
        check_guidance_weight(self.guidance_min)
        if not self.guidance_max >= self.guidance_min:
            raise ValueError(
                f"DistillConfig.guidance_max must be >= guidance_min, got {self.guidance_max}"
            )

    def options(self, epochs: int) -> TrainOptions:
        """Optimisation settings of one stage with ``epochs`` epochs.

        The other fields as configured; no weight decay, one noise draw per window, no
        minimum epoch count.
        """
        return TrainOptions.from_fields(
            self, weight_decay=0.0, noise_draws=1, max_epochs=int(epochs), min_epochs=1
        )


@dataclass
class StressStudent:
    """A distilled few-step guided sampler and its provenance.

    Attributes
    ----------
    model : StressModel
        The teacher's statistics with the student's network (``model.net`` is
        ``net.net``).
    net : GuidedStudentNet
    steps : ndarray of int
        Descending diffusion steps the student visits (the last step goes to x0).
    teacher : dict
        ``version`` and ``weights_sha256`` of the teacher.
    config : DistillConfig
    history : list of dict
        Per stage: ``stage``, ``steps``, ``best_epoch``, ``val_loss``, ``epochs_run``.
    """

    model: StressModel
    net: GuidedStudentNet
    steps: NDArray[np.int64]
    teacher: dict[str, str]
    config: DistillConfig
    history: list[dict[str, Any]] = field(default_factory=list)


# --------------------------------------------------------------------------- distillation
def distill_stress_model(
    teacher: StressModel,
    returns: pd.DataFrame,
    val_start: str | pd.Timestamp,
    val_end: str | pd.Timestamp,
    config: DistillConfig,
    *,
    seed: int,
    teacher_sha256: str = "",
    progress: bool | None = None,
) -> StressStudent:
    """Distil ``teacher`` into a guided student with ``config.final_steps`` DDIM steps.

    Parameters
    ----------
    teacher : StressModel
        The trained guided teacher (not modified).
    returns : DataFrame (T, n_assets)
        Constituent returns with the teacher's columns; rows after ``val_end`` are dropped.
        Training windows end on or before ``teacher.train_end`` (the teacher's own
        training windows); validation windows lie in ``[val_start, val_end]`` and only
        select each stage's epoch.
    val_start, val_end : date
    config : DistillConfig
    seed : int
        Seeds every draw (batch order, steps, noise, dropout, weights).
    teacher_sha256 : str
        :func:`~diffrisk.diffusion.weights_hash.weights_sha256` of the teacher's
        checkpoint (recorded as its version in the student's provenance).
    progress : bool, optional
        tqdm bars (None: only on a terminal).

    Returns
    -------
    StressStudent
    """
    if list(returns.columns) != list(teacher.assets):
        raise ValueError(
            f"returns columns {list(returns.columns)} differ from the teacher's assets "
            f"{teacher.assets}"
        )
    if pd.Timestamp(val_start) <= pd.Timestamp(teacher.train_end):
        raise ValueError(f"val_start={val_start} must be after train_end={teacher.train_end}")
    torch.manual_seed(int(seed))
    frame = returns.loc[returns.index <= pd.Timestamp(val_end)]
    cfg, schedule = teacher.config, teacher.schedule
    data = WindowTensors(training_windows(frame, None, teacher.train_end, cfg), teacher)
    val = WindowTensors(training_windows(frame, val_start, val_end, cfg), teacher)
    w_range = (float(config.guidance_min), float(config.guidance_max))
    student = GuidedStudentNet(copy.deepcopy(teacher.net)).train()
    if config.trajectory:
        grid, points = progressive.sampler_grid(
            schedule, config.start_steps, "linear", config.final_steps, "DistillConfig"
        )
    else:
        grid = progressive.nested_grid(schedule, config.start_steps, "linear")

    def stage(
        name: str, loss: Callable, epochs: int, train: Any = data, score: Any = val, **extra: Any
    ) -> None:
        """Train ``student`` on ``train`` (epoch picked on ``score``); ``extra`` -> history."""
        result = train_denoiser(
            student,
            train,
            config.options(epochs),
            seed=int(seed) + len(history),
            loss_fn=loss,
            val_loss_fn=lambda net: progressive.mean_loss(loss, net, score, int(seed) + 1000, 1024),
            progress=progress,
            desc=f"distill {name}",
        )
        student.load_state_dict(result.state_dict)
        history.append(
            {"stage": name, "steps": extra.pop("steps", len(grid) - 1),
             "best_epoch": result.best_epoch, "val_loss": result.best_score,
             "epochs_run": result.epochs_run, **extra}
        )  # fmt: skip
        logger.info("distillation stage %s", history[-1])

    history: list[dict[str, Any]] = []
    stage("guidance", guidance_loss_fn(teacher, w_range), config.guidance_epochs)
    if config.trajectory:  # one round on the teacher sampler's recorded trajectories
        tic, gen = time.perf_counter(), torch.Generator().manual_seed(int(seed))
        train_t, val_t = (
            TrajectorySet(d, record_trajectories(teacher, d, grid, points,
                                                 config.trajectory_draws, w_range, gen))
            for d in (data, val)
        )  # fmt: skip
        seconds = time.perf_counter() - tic
        name = f"{len(grid) - 1} sampler steps to {config.final_steps}"
        loss = trajectory_loss_fn(schedule, grid[points])
        stage(name, loss, config.round_epochs, train_t, val_t, steps=config.final_steps,
              recording_seconds=seconds)  # fmt: skip
        grid = grid[points]
    while len(grid) - 1 > config.final_steps:
        frozen = copy.deepcopy(student).eval().requires_grad_(False)
        loss = halving_loss_fn(frozen, schedule, grid, cfg, w_range)
        grid = grid[::2]
        stage(f"halve to {len(grid) - 1} steps", loss, config.round_epochs)
    student.eval()
    version = model_version("stress", teacher.train_end, teacher_sha256)
    return StressStudent(
        model=replace(teacher, net=student.net, history=[]),
        net=student,
        steps=grid[:-1].astype(np.int64),
        teacher={"version": version, "weights_sha256": teacher_sha256},
        config=config,
        history=history,
    )


# --------------------------------------------------------------------------- sampling
def student_sampler(
    student: StressStudent, *, chunk: int = SAMPLING_CHUNK, progress: bool | None = None
) -> ScaledSampler:
    """The student's sampler of scaled paths for ``generate_paths(..., scaled_sampler=)``.

    Deterministic DDIM (eta = 0, first order) over ``student.steps`` with ONE network pass
    per step: the guidance weight is an input. Guidance 0 (the unconditional branch) uses
    the null signature with ``w = 0``.
    """
    net, schedule = student.net.eval(), student.model.schedule
    spec = net.net.spec

    @torch.no_grad()
    def sample(
        context: torch.Tensor,
        cond: torch.Tensor,
        null: torch.Tensor,
        guidance: float,
        generator: torch.Generator,
    ) -> torch.Tensor:
        check_guidance_weight(guidance)
        n = context.shape[0]
        signature = cond if guidance > 0 else null
        weights = torch.full((n,), float(guidance))

        def eps_fn(x: torch.Tensor, t: int) -> torch.Tensor:
            eps = torch.empty_like(x)
            sqrt_ab, sqrt_1m = schedule.step_coefficients(t)
            for s in range(0, n, chunk):
                r = slice(s, s + chunk)
                tt = torch.full((x[r].shape[0],), t, dtype=torch.long)
                v = net(x[r], tt, context[r], signature[r], weights[r])
                eps[r] = to_eps(v, x[r], sqrt_ab, sqrt_1m, net.prediction_type)
            return eps

        x = initial_noise(n, spec.n_assets * spec.horizon, generator, "iid")
        x = x.reshape(n, spec.n_assets, spec.horizon)
        with progress_bar(len(student.steps), "student sampling", progress, leave=False) as bar:
            return reverse_process(
                eps_fn, schedule, x, student.steps, generator=generator, order=1, bar=bar
            )

    return sample


# --------------------------------------------------------------------------- checkpoints
def student_version(student: StressStudent, sha256: str = "") -> str:
    """Version string of a student (:func:`~diffrisk.stress.model.model_version`)."""
    return model_version(f"stress_student{len(student.steps)}", student.model.train_end, sha256)


def save_student(student: StressStudent, path: str | Path) -> Path:
    """Write the student atomically (teacher's statistics, weights, steps, provenance)."""
    model = student.model
    payload = {
        "kind": "diffrisk.stress_student",
        "spec": asdict(model.net.spec),
        "config": model.config.to_dict(),
        "distill": student.config.to_dict(),
        "state_dict": student.net.state_dict(),
        **statistics_payload(model),
        "steps": [int(s) for s in student.steps],
        "teacher": dict(student.teacher),
        "history": student.history,
    }
    return save_checkpoint(path, payload)


def load_student(path: str | Path) -> StressStudent:
    """Read a student written by :func:`save_student`."""
    payload = read_checkpoint(path)
    if payload.get("kind") != "diffrisk.stress_student":
        raise ValueError(
            f"{path} is not a stress-student checkpoint (kind={payload.get('kind')!r})"
        )
    config = StressConfig.from_dict(payload["config"])
    net = GuidedStudentNet(StressDenoiser(StressSpec(**payload["spec"])))
    net.load_state_dict(payload["state_dict"])
    net.eval()
    model = StressModel.create(net.net, config, **statistics_from_payload(payload))
    return StressStudent(
        model=model,
        net=net,
        steps=np.asarray(payload["steps"], dtype=np.int64),
        teacher=dict(payload["teacher"]),
        config=DistillConfig.from_dict(payload["distill"]),
        history=list(payload["history"]),
    )
