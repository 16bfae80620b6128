"""A distilled one-day student: its settings, provenance and checkpoint.

:func:`diffrisk.ddpm.distill.distill_ddpm` makes a :class:`DDPMStudent` from a fitted
model and a :class:`DDPMDistillConfig` (a ``params.yaml`` section); the checkpoint records
the teacher's version and weight hash, which
:func:`~diffrisk.ddpm.forecast.forecast_ddpm` checks before sampling with the student.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from diffrisk.core.dataclass_fields import ParamsSection
from diffrisk.ddpm.model import DDPMModel
from diffrisk.ddpm.network import Denoiser, DenoiserSpec
from diffrisk.diffusion.checkpoints import read_checkpoint, restore_weights, save_checkpoint
from diffrisk.diffusion.distill import check_halving
from diffrisk.diffusion.sampler import SPACINGS
from diffrisk.diffusion.training import TrainOptions, check_field_range, check_positive_fields
from diffrisk.diffusion.weights_hash import model_version, state_dict_sha256

#: Values of :attr:`DDPMDistillConfig.loss`.
LOSSES: tuple[str, ...] = ("landing", "prediction")

STUDENT_KIND = "diffrisk.ddpm_student"


@dataclass(frozen=True)
class DDPMDistillConfig(ParamsSection):
    """Settings of :func:`distill_ddpm` (a ``params.yaml`` section ``ddpm_distill``).

    Parameters
    ----------
    start_steps : int
        DDIM steps of the first teacher (the fitted network: first-order DDIM, or the
        pipeline's sampler with ``trajectory``).
    final_steps : int
        Steps of the final student; ``start_steps = final_steps * 2**k`` (with
        ``trajectory``: any number up to the teacher's distinct steps).
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
    trajectory : bool
        The first teacher is the pipeline's sampler itself
        (:mod:`diffrisk.ddpm.distill_trajectory`): DDIM with ``start_steps`` steps in
        ``spacing`` and solver order ``teacher_order`` (set them to the pipeline's). One
        round learns its recorded trajectories, its steps cut into ``final_steps`` runs
        as equal as possible (:func:`~diffrisk.diffusion.distill.sampler_grid`);
        ``noise_draws`` trajectories per condition are recorded once.
    teacher_order : {1, 2}
        Solver order of the trajectory teacher (2: DPM-Solver++(2M), the pipeline's).
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
    trajectory: bool = False
    teacher_order: int = 2
    threads: int = 1

    def __post_init__(self) -> None:
        names = ("start_steps", "final_steps", "round_epochs", "batch_size", "noise_draws",
                 "patience", "threads")  # fmt: skip
        check_positive_fields(self, names, "DDPMDistillConfig")
        if self.teacher_order not in (1, 2):
            raise ValueError(
                f"DDPMDistillConfig.teacher_order must be 1 or 2, got {self.teacher_order!r}"
            )
        if self.trajectory and self.extrapolate:
            raise ValueError("DDPMDistillConfig: choose trajectory or extrapolate, not both")
        if not self.trajectory:
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


# --------------------------------------------------------------------------- checkpoints
def save_student(student: DDPMStudent, path: str | Path) -> Path:
    """Write the student atomically (network, steps, settings, teacher provenance).

    The history is saved without its wall-clock entries (``seconds``,
    ``recording_seconds``), so the same distillation writes the same bytes and the
    stages that read the file do not rerun for a timing.
    """
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
