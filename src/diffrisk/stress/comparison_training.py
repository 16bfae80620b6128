"""Training of the GAN and VAE comparison generators: one entry point for both.

:func:`train_comparison_generator` fits the statistics and builds the untrained generator exactly as
the diffusion model does (:func:`~diffrisk.stress.model.fit_training_statistics`), then
runs the generator's own training loop (:func:`~diffrisk.stress.gan.fit_gan`,
:func:`~diffrisk.stress.vae.fit_vae`) on a :class:`~diffrisk.stress.comparison.TrainingRun`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pandas as pd
import torch
from torch import nn

from diffrisk.core.dataclass_fields import fields_from
from diffrisk.stress.comparison import (
    COMPARISON_GENERATORS,
    ComparisonConfig,
    ComparisonModel,
    ComparisonSpec,
    PathGenerator,
    TrainingRun,
)
from diffrisk.stress.config import StressConfig
from diffrisk.stress.gan import fit_gan
from diffrisk.stress.model import WindowTensors, fit_training_statistics
from diffrisk.stress.vae import fit_vae

logger = logging.getLogger(__name__)

#: The training loop of each comparison generator: the per-epoch record and the
#: auxiliary network (critic / whole VAE) of a run.
FITTERS: dict[str, Callable[[TrainingRun], tuple[list[dict[str, float]], nn.Module]]] = {
    "gan": fit_gan,
    "vae": fit_vae,
}


def train_comparison_generator(
    kind: str,
    returns: pd.DataFrame,
    dates: tuple[Any, Any, Any],
    config: StressConfig,
    settings: ComparisonConfig,
    *,
    seed: int,
    progress: bool | None = None,
) -> ComparisonModel:
    """Fit the conditional WGAN-GP or VAE on the diffusion model's training windows.

    The windows and statistics are those of
    :func:`~diffrisk.stress.fit.train_stress_model`; the network is initialised from
    torch's global generator after ``torch.manual_seed(seed)``.

    Parameters
    ----------
    kind : {"gan", "vae"}
        The generator (a VAE decoder also outputs a noise scale).
    returns : DataFrame (T, n_assets)
        Constituent returns; only rows up to ``val_end`` are read.
    dates : (train_end, val_start, val_end)
        The fit dates (as :attr:`diffrisk.data.splits.Splits.fit_dates`): training windows
        end on or before ``train_end``; validation windows (epoch selection) lie inside
        ``[val_start, val_end]``.
    config : StressConfig
        Window settings (horizon, history, EWMA) shared with the diffusion model.
    settings : ComparisonConfig
    seed : int
        Seeds the initial weights, batch order, latents, condition dropout and (GAN)
        interpolation weights.
    progress : bool, optional
        tqdm bar (None: only on a terminal).

    Returns
    -------
    ComparisonModel
        The EMA generator (GAN) or decoder (VAE) of the selected epoch, eval mode, with
        its training ``history``; ``aux`` is the critic (GAN) or the whole VAE (encoder
        included).
    """
    if kind not in COMPARISON_GENERATORS:
        raise ValueError(f"kind must be one of {COMPARISON_GENERATORS}, got {kind!r}")
    torch.manual_seed(int(seed))
    stats, train_w, val_w = fit_training_statistics(returns, dates, config)
    spec = fields_from(
        ComparisonSpec,
        settings,
        keep_defaults=("n_signature",),
        n_assets=len(stats.assets),
        horizon=config.horizon,
        history=config.history,
        n_scalars=stats.net.spec.n_scalars,
    )
    model = ComparisonModel(
        kind=kind,
        net=PathGenerator(spec, output_noise=kind == "vae"),
        config=config,
        settings=settings,
        **stats.statistics(),
    )
    run = TrainingRun(
        model, WindowTensors(train_w, model), WindowTensors(val_w, model), int(seed), progress
    )
    logger.info(
        "%s: %d training windows, %d validation windows", kind, len(run.train), len(run.val)
    )
    model.history, model.aux = FITTERS[kind](run)
    return model
