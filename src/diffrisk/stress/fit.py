"""Training the stress model: the epoch selected on validation, and the walk-forward refit.

:func:`train_stress_model` fits every statistic on the training windows
(:func:`~diffrisk.stress.model.fit_training_statistics`) and trains the denoiser with the
epoch of the lowest validation loss; :func:`refit_stress_model` refits a previous
version's configuration on an expanded window for a fixed number of epochs. Both train
through :func:`diffrisk.diffusion.training.train_denoiser`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.diffusion.training import TrainingSet, TrainOptions, train_denoiser
from diffrisk.stress.config import StressConfig, parse_segments
from diffrisk.stress.loss import denoising_loss, differentiable_pacf
from diffrisk.stress.model import (
    StressModel,
    WindowTensors,
    fit_statistics_through,
    fit_training_statistics,
)
from diffrisk.stress.network import StressDenoiser
from diffrisk.stress.windows import WindowSet, balanced_index, segment_labels

__all__ = ["refit_stress_model", "train_stress_model"]

logger = logging.getLogger(__name__)


class _Reindexed:
    """Tensors of windows seen through a fixed index (the stratified multiset)."""

    def __init__(self, base: WindowTensors, index: NDArray[np.int64]) -> None:
        self.base, self.index = base, torch.as_tensor(index, dtype=torch.long)

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def take(self, index: torch.Tensor | slice) -> dict[str, torch.Tensor]:
        """Rows ``self.index[index]`` of the base tensors."""
        return self.base.take(self.index[index])


def _training_set(
    windows: WindowSet, model: StressModel, seed: int
) -> tuple[WindowTensors, TrainingSet, TrainOptions]:
    """The tensors, what the loop draws from, and the options (``config.stratify`` applied)."""
    config = model.config
    data, options = WindowTensors(windows, model), config.train_options()
    if config.stratify != "segment":
        return data, data, options
    segments = parse_segments(config.segments, model.assets)
    labels = segment_labels(windows, model.assets, segments)
    counts = dict(zip(segments, np.bincount(labels, minlength=len(segments)).tolist(), strict=True))
    logger.info("stratified sampling: windows per leading segment %s", counts)
    draw = _Reindexed(data, balanced_index(labels, seed))
    per_epoch = config.samples_per_epoch or len(windows)
    return data, draw, replace(options, samples_per_epoch=per_epoch)


@torch.no_grad()
def _evaluate(
    net: StressDenoiser,
    schedule: NoiseSchedule,
    data: WindowTensors,
    config: StressConfig,
    seed: int,
) -> float:
    net.eval()
    gen = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    for s in range(0, len(data), 1024):
        batch = data.take(slice(s, s + 1024))
        loss = denoising_loss(net, schedule, batch, gen, config, None)
        total += float(loss) * batch["x0"].shape[0]
        count += batch["x0"].shape[0]
    return total / max(count, 1)


def train_stress_model(
    returns: pd.DataFrame,
    dates: tuple[Any, Any, Any],
    config: StressConfig,
    *,
    seed: int,
    progress: bool | None = None,
) -> StressModel:
    """Fit the stress generator on training windows, select the epoch on validation windows.

    Parameters
    ----------
    returns : DataFrame (T, n_assets)
        Constituent daily log returns (any later rows are dropped: only rows up to
        ``val_end`` are read, and training windows end on or before ``train_end``).
    dates : (train_end, val_start, val_end)
        The fit dates (as :attr:`diffrisk.data.splits.Splits.fit_dates`): ``train_end`` is
        the last day a training window (and every fitted statistic) may use; validation
        windows start on or after ``val_start`` and end on or before ``val_end`` (their
        history may reach back into training, which is allowed).
    config : StressConfig
    seed : int
        Seeds the initial weights, batch order, steps, noise and condition dropout.
    progress : bool, optional
        tqdm bar (None: only on a terminal).

    Returns
    -------
    StressModel
        The EMA weights of the epoch with the lowest validation denoising loss.

    Notes
    -----
    Loss: mean squared error of the v-prediction (Salimans & Ho 2022; equivalent to
    ``L_simple`` of Ho et al. 2020 weighted by ``1 / ab_t``, see
    :func:`diffrisk.diffusion.prediction.training_target`) on
    ``x0 = r / (sigma * target_scale * sigma_data)`` (:attr:`StressModel.path_scale`) with
    one (t, eps) draw per window (``t`` by ``config.noise_levels``), plus the optional PACF penalty
    (``config.pacf_weight``). The validation loss uses fixed (seeded) draws and the same
    condition dropout, so it measures the conditional and the unconditional fit together.
    With ``config.stratify="segment"`` the batches are drawn from the label-balanced
    multiset of :func:`~diffrisk.stress.windows.balanced_index` (labels and multiset from
    the training windows only).
    """
    torch.manual_seed(int(seed))
    model, train_w, val_w = fit_training_statistics(returns, dates, config)
    logger.info(
        "stress model: %d training windows (to %s), %d validation windows",
        len(train_w),
        dates[0],
        len(val_w),
    )
    return _fit_network(model, train_w, int(seed), val_w, None, progress, "train stress")


def _fit_network(
    model: StressModel,
    windows: WindowSet,
    seed: int,
    val_windows: WindowSet | None,
    epochs: int | None,
    progress: bool | None,
    desc: str,
) -> StressModel:
    """Train ``model.net`` in place (selection on ``val_windows``, or exactly ``epochs``)."""
    config = model.config
    train_t, draw, options = _training_set(windows, model, seed)
    if epochs is not None:
        options = replace(options, max_epochs=int(epochs), min_epochs=1)
    pacf_target = (
        differentiable_pacf(train_t.x0, config.pacf_lags) if config.pacf_weight > 0 else None
    )
    val_fn = None
    if val_windows is not None:
        val_t = WindowTensors(val_windows, model)
        val_fn = lambda net: _evaluate(net, model.schedule, val_t, config, seed + 1)  # noqa: E731
    result = train_denoiser(
        model.net,
        draw,
        options,
        seed=seed,
        loss_fn=lambda net, batch, gen: denoising_loss(
            net, model.schedule, batch, gen, config, pacf_target
        ),
        val_loss_fn=val_fn,
        progress=progress,
        desc=desc,
    )
    model.net.load_state_dict(result.state_dict)
    model.net.eval()
    model.history = [
        {k: h[k] for k in ("epoch", "train_loss", "val_loss", "seconds")} for h in result.history
    ]
    return model


def refit_stress_model(
    previous: StressModel,
    returns: pd.DataFrame,
    fit_end: str | pd.Timestamp,
    epochs: int,
    *,
    seed: int,
    warm_start: bool = True,
    progress: bool | None = None,
) -> StressModel:
    """Refit ``previous``'s configuration on every window ending on or before ``fit_end``.

    The walk-forward update (:mod:`diffrisk.stress.walk_forward`): rows after ``fit_end``
    are dropped first, every statistic (standardisations, target scale, signature range
    and prior) is refitted on the expanded window, and the network trains for exactly
    ``epochs`` epochs, starting from ``previous``'s weights (``warm_start``) or from a
    fresh seeded initialisation. There is no epoch selection (no validation data after
    ``fit_end`` exists to select on): the last EMA weights are kept.

    Parameters
    ----------
    previous : StressModel
        The previous version (configuration, assets and, with ``warm_start``, weights).
    returns : DataFrame (T, n_assets)
        Constituent returns with ``previous.assets`` as columns.
    fit_end : date
        Last day a training window may reach.
    epochs : int
        Training epochs (>= 1).
    seed : int
        Seeds the batch order, the steps and noise (and the weights without warm start).
    warm_start : bool, default True
    progress : bool, optional
        tqdm bar (None: only on a terminal).

    Returns
    -------
    StressModel
        ``train_end`` = the last row on or before ``fit_end``; ``history`` holds the refit's
        epochs (``val_loss`` NaN).
    """
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1 for a refit, got {epochs!r}")
    if list(returns.columns) != list(previous.assets):
        raise ValueError(
            f"returns columns {list(returns.columns)} differ from the model's assets "
            f"{previous.assets}"
        )
    frame = returns.loc[returns.index <= pd.Timestamp(fit_end)]
    if frame.empty:
        raise ValueError(f"no returns on or before fit_end={fit_end}")
    config = previous.config
    torch.manual_seed(int(seed))
    end = str(pd.Timestamp(frame.index[-1]).date())
    model, windows = fit_statistics_through(frame, frame.index[-1], config)
    if warm_start:
        model.net.load_state_dict(previous.net.state_dict())
    logger.info(
        "stress refit through %s: %d windows, %d epochs (warm start: %s)",
        end,
        len(windows),
        epochs,
        warm_start,
    )
    return _fit_network(model, windows, int(seed), None, int(epochs), progress, f"refit to {end}")
