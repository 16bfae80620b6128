"""Training loop of a denoiser: AdamW, EMA, epoch selection, early stopping, checkpoints.

The loop is generic: it sees a dataset with ``len`` and ``take`` and a loss function of
(model, batch, generator); what a batch holds and what the network predicts (see
:mod:`diffrisk.diffusion.prediction`) are the caller's. Checkpoint selection uses a
*score* supplied by the caller (for the one-day risk model: the validation FZ0 loss of
sampled VaR/ES forecasts) or, without one, a validation loss function.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import torch

from diffrisk.core.dataclass_fields import fields_from
from diffrisk.diffusion.progress import progress_bar
from diffrisk.diffusion.time_cap import stop_for_time

logger = logging.getLogger(__name__)

#: Keys of a history entry of :func:`train_denoiser`, in the order of :data:`EPOCH_RECORD`.
EPOCH_KEYS: tuple[str, ...] = ("epoch", "train_loss", "val_loss", "score", "seconds")

#: Format of the INFO record :func:`train_denoiser` logs after every epoch; its arguments are
#: ``desc`` and the values of the epoch's history entry in :data:`EPOCH_KEYS` order, so a log
#: handler can rebuild the history from the records.
EPOCH_RECORD = "%s, epoch %d: train %.4f val %.4f score %.5f (%.1fs)"


def check_positive_fields(obj: Any, names: Iterable[str], owner: str = "") -> None:
    """Raise ``ValueError`` unless every attribute ``names`` of ``obj`` is ``>= 1``.

    The shared range check of the settings dataclasses (:class:`TrainOptions`,
    :class:`~diffrisk.ddpm.config.DDPMConfig`, :class:`~diffrisk.stress.config.StressConfig`,
    :class:`~diffrisk.ddpm.network.DenoiserSpec`).

    Parameters
    ----------
    obj : object
        The settings object whose attributes are checked (compared as ``int``).
    names : iterable of str
        Attribute names, checked in order; the first failing one is named.
    owner : str
        Prefix of the name in the message (e.g. ``"DDPMConfig"`` gives
        ``"DDPMConfig.window must be >= 1, got 0"``); empty for the bare name.

    Raises
    ------
    ValueError
        Naming the first attribute below 1.

    Examples
    --------
    >>> check_positive_fields(TrainOptions(), ("batch_size", "max_epochs"))
    """
    prefix = f"{owner}." if owner else ""
    for name in names:
        if int(getattr(obj, name)) < 1:
            raise ValueError(f"{prefix}{name} must be >= 1, got {getattr(obj, name)!r}")


_FIELD_RULES: dict[str, Callable[[float], bool]] = {
    "in [0, 1)": lambda v: 0.0 <= v < 1.0,
    "> 0": lambda v: v > 0,
    ">= 0": lambda v: not v < 0,
}


def check_field_range(obj: Any, names: Iterable[str], rule: str, owner: str) -> None:
    """Raise ``ValueError`` unless every attribute ``names`` of ``obj`` satisfies ``rule``.

    The range checks of the settings dataclasses beside :func:`check_positive_fields`.

    Parameters
    ----------
    obj, names
        As in :func:`check_positive_fields`, but the values are compared as ``float``.
    rule : {"in [0, 1)", "> 0", ">= 0"}
        The allowed range (``">= 0"`` lets NaN through, as ``value < 0`` is false).
    owner : str
        Prefix of the name in the message (``"StressConfig.p_uncond must be in [0, 1),
        got 1.0"``).

    Raises
    ------
    ValueError
        Naming the first attribute outside the range.

    Examples
    --------
    >>> check_field_range(TrainOptions(), ("lr", "grad_clip"), "> 0", "TrainOptions")
    """
    ok = _FIELD_RULES[rule]
    for name in names:
        if not ok(float(getattr(obj, name))):
            raise ValueError(f"{owner}.{name} must be {rule}, got {getattr(obj, name)!r}")


@dataclass(frozen=True)
class TrainOptions:
    """Optimisation settings.

    Parameters
    ----------
    lr : float
        AdamW learning rate.
    weight_decay : float
        AdamW decoupled weight decay.
    batch_size : int
        Conditions per batch.
    noise_draws : int
        (t, eps) draws per row of a batch (read by the caller's loss function).
    max_epochs : int
        Upper bound on epochs (the exact count when there is no validation data).
    patience : int
        Early stopping: epochs without improvement of the selection score.
    min_epochs : int
        Never stop before this many epochs.
    grad_clip : float
        Max global gradient norm (0 disables clipping).
    ema_decay : float
        Decay of the exponential moving average of the weights (0 disables EMA).
    samples_per_epoch : int
        Conditions drawn (without replacement) per epoch; 0 uses all.
    """

    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 512
    noise_draws: int = 8
    max_epochs: int = 20
    patience: int = 4
    min_epochs: int = 1
    grad_clip: float = 1.0
    ema_decay: float = 0.995
    samples_per_epoch: int = 0

    def __post_init__(self) -> None:
        check_positive_fields(
            self, ("batch_size", "noise_draws", "max_epochs", "patience", "min_epochs")
        )
        if self.lr <= 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("need lr > 0, weight_decay >= 0 and grad_clip >= 0")
        if not (0.0 <= self.ema_decay < 1.0):
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.samples_per_epoch < 0:
            raise ValueError(f"samples_per_epoch must be >= 0, got {self.samples_per_epoch}")

    @classmethod
    def from_fields(cls, source: Any, **overrides: Any) -> TrainOptions:
        """Options read from the same-named attributes of ``source`` (a model's config).

        Parameters
        ----------
        source : object
            Has an attribute for every field of :class:`TrainOptions` not in ``overrides``
            (e.g. :class:`~diffrisk.ddpm.config.DDPMConfig`).
        **overrides
            Field values that replace (or stand in for missing) attributes of ``source``.

        Returns
        -------
        TrainOptions
            Validated by :meth:`__post_init__`.
        """
        return fields_from(cls, source, **overrides)


class EMA:
    """Exponential moving average of a model's floating-point parameters and buffers.

    The effective decay warms up as ``min(decay, (1 + n) / (10 + n))`` after n updates
    (the schedule of tf.train.ExponentialMovingAverage with ``num_updates``) so that the
    average is not dominated by the random initial weights in short runs.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = float(decay)
        self.updates = 0
        self.shadow = copy.deepcopy(model).eval()
        for p in self.shadow.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """``shadow = d * shadow + (1 - d) * model`` with the warmed-up decay d."""
        self.updates += 1
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        for s, p in zip(
            self.shadow.state_dict().values(), model.state_dict().values(), strict=True
        ):
            if s.dtype.is_floating_point:
                s.mul_(d).add_(p.detach(), alpha=1.0 - d)
            else:
                s.copy_(p)


@dataclass
class TrainResult:
    """Outcome of :func:`train_denoiser`.

    Attributes
    ----------
    state_dict : dict
        Selected (EMA) weights.
    best_epoch : int
        1-based epoch of the selected weights.
    best_score : float
        Selection score of those weights (NaN without validation).
    history : list of dict
        Per epoch: ``epoch, train_loss, val_loss, score, seconds``.
    epochs_run : int
    wall_time : float
        Seconds.
    stopped_early : bool
    """

    state_dict: dict[str, torch.Tensor]
    best_epoch: int
    best_score: float
    history: list[dict[str, float]] = field(default_factory=list)
    epochs_run: int = 0
    wall_time: float = 0.0
    stopped_early: bool = False


LossFn = Callable[[torch.nn.Module, Any, torch.Generator], torch.Tensor]


class TrainingSet(Protocol):
    """What the training loop needs of a dataset: a length and row selection."""

    def __len__(self) -> int: ...

    def take(self, index: torch.Tensor) -> Any:
        """Rows ``index`` as a batch for the loss function."""
        ...


def _run_epoch(
    model: torch.nn.Module,
    ema: EMA,
    loss_fn: LossFn,
    train: TrainingSet,
    opt: torch.optim.Optimizer,
    options: TrainOptions,
    gen: torch.Generator,
    bar: Any,
) -> float:
    model.train()
    n = len(train)
    order = torch.randperm(n, generator=gen)
    if options.samples_per_epoch:
        order = order[: options.samples_per_epoch]
    total, count = 0.0, 0
    for s in range(0, len(order), options.batch_size):
        idx = order[s : s + options.batch_size]
        loss = loss_fn(model, train.take(idx), gen)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"training loss became {loss.item()} at batch {s}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if options.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), options.grad_clip)
        opt.step()
        ema.update(model)
        total += loss.item() * len(idx)
        count += len(idx)
        bar.update(1)
    return total / max(count, 1)


def train_denoiser(
    model: torch.nn.Module,
    train: TrainingSet,
    options: TrainOptions,
    *,
    seed: int,
    loss_fn: LossFn,
    val_loss_fn: Callable[[torch.nn.Module], float] | None = None,
    score_fn: Callable[[torch.nn.Module], float] | None = None,
    checkpoint_fn: Callable[[dict[str, Any]], None] | None = None,
    resume: dict[str, Any] | None = None,
    progress: bool | None = None,
    epoch_callback: Callable[[int, float, float | None], None] | None = None,
    desc: str = "train",
) -> TrainResult:
    """Train ``model`` on ``train``; select the EMA weights by validation.

    Parameters
    ----------
    model : torch.nn.Module
        Network to train (updated in place; the returned weights are the EMA's).
    train : TrainingSet
        Anything with ``__len__`` and ``take(index)``; ``take`` returns the batch passed
        to ``loss_fn``.
    options : TrainOptions
    seed : int
        Seeds batch order and the generator passed to ``loss_fn`` (t and noise draws).
    loss_fn : callable(model, batch, generator) -> Tensor
        Loss of one batch (``train.take(index)``), e.g.
        :func:`diffrisk.ddpm.loss.eps_loss_fn` or the stress model's v-prediction loss.
    val_loss_fn : callable(model) -> float, optional
        Validation loss of the EMA model (NaN in the history without it); it is also the
        selection score when ``score_fn`` is not given.
    score_fn : callable(model) -> float, optional
        Risk score of the EMA model on the validation period (lower is better); used for
        checkpoint selection and early stopping instead of the validation loss.
        Without ``val_loss_fn`` and ``score_fn`` exactly ``options.max_epochs`` epochs
        run and the last EMA weights are returned.
    checkpoint_fn : callable(dict) -> None, optional
        Receives the full training state after every epoch (for atomic checkpointing).
    resume : dict, optional
        A state previously passed to ``checkpoint_fn``; training continues from it.
    progress : bool, optional
        tqdm bar (``None``: only on a terminal).
    epoch_callback : callable(epoch, val_loss, score), optional
        Called after each epoch (after checkpointing) with the 1-based epoch, the
        validation loss (NaN without ``val_loss_fn``) and the score (None without
        ``score_fn``); an exception it raises (e.g. an Optuna prune) propagates.
    desc : str
        Label of the progress bar and of the per-epoch log records.

    Returns
    -------
    TrainResult

    Notes
    -----
    Inside a :func:`diffrisk.diffusion.time_cap.time_cap` scope the loop stops before an
    epoch that would end past the cap (``stopped_early``).
    """
    if len(train) == 0:
        raise ValueError("train has no conditions")
    opt = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    ema = EMA(model, options.ema_decay)
    gen = torch.Generator().manual_seed(int(seed))
    selecting = score_fn is not None or val_loss_fn is not None
    state: dict[str, Any] = {
        "epoch": 0,
        "history": [],
        "best_score": math.inf,
        "best_epoch": 0,
        "best_state": None,
        "bad_epochs": 0,
        "elapsed": 0.0,
    }
    if resume is not None:
        model.load_state_dict(resume["model"])
        ema.shadow.load_state_dict(resume["ema"])
        ema.updates = int(resume["ema_updates"])
        opt.load_state_dict(resume["optimizer"])
        gen.set_state(resume["generator"])
        torch.set_rng_state(resume["torch_rng"])  # dropout draws from the global generator
        state.update({k: resume[k] for k in state})
        logger.info("resuming training at epoch %d", state["epoch"] + 1)
    n_batches = math.ceil((options.samples_per_epoch or len(train)) / options.batch_size)
    bar = progress_bar(
        n_batches * options.max_epochs, desc, progress, initial=n_batches * state["epoch"]
    )
    stopped_early = False
    while state["epoch"] < options.max_epochs:
        tic = time.perf_counter()
        train_loss = _run_epoch(model, ema, loss_fn, train, opt, options, gen, bar)
        state["epoch"] += 1
        val_loss = float(val_loss_fn(ema.shadow)) if val_loss_fn is not None else math.nan
        score = float(score_fn(ema.shadow)) if score_fn is not None else val_loss
        seconds = time.perf_counter() - tic
        state["elapsed"] += seconds
        values = (state["epoch"], train_loss, val_loss, score, seconds)
        state["history"].append(dict(zip(EPOCH_KEYS, values, strict=True)))
        logger.info(EPOCH_RECORD, desc, *values)
        improved = not selecting or (math.isfinite(score) and score < state["best_score"])
        if improved:
            state["best_score"] = score if selecting else math.nan
            state["best_epoch"] = state["epoch"]
            state["best_state"] = copy.deepcopy(ema.shadow.state_dict())
            state["bad_epochs"] = 0
        else:
            state["bad_epochs"] += 1
        if checkpoint_fn is not None:
            checkpoint_fn(
                {
                    **state,
                    "model": model.state_dict(),
                    "ema": ema.shadow.state_dict(),
                    "ema_updates": ema.updates,
                    "optimizer": opt.state_dict(),
                    "generator": gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                }
            )
        if epoch_callback is not None:
            epoch_callback(state["epoch"], val_loss, score if score_fn is not None else None)
        if (
            selecting
            and state["bad_epochs"] >= options.patience
            and state["epoch"] >= options.min_epochs
        ):
            stopped_early = True
            break
        if state["epoch"] < options.max_epochs and stop_for_time(state["elapsed"], seconds):
            logger.info("stopping after epoch %d: training-time cap", state["epoch"])
            stopped_early = True
            break
    bar.close()
    if state["best_state"] is None:
        raise RuntimeError("no finite validation score in any epoch; nothing to select")
    return TrainResult(
        state_dict=state["best_state"],
        best_epoch=int(state["best_epoch"]),
        best_score=float(state["best_score"]),
        history=list(state["history"]),
        epochs_run=int(state["epoch"]),
        wall_time=float(state["elapsed"]),
        stopped_early=stopped_early,
    )


def options_dict(options: TrainOptions) -> dict[str, Any]:
    """Plain dict of ``options`` (for metrics and checkpoints)."""
    return asdict(options)
