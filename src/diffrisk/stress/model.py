"""A stress model: its fitted statistics, its tensors of windows and its checkpoints.

Training (the epoch selected on validation, the walk-forward refit) is in
:mod:`diffrisk.stress.fit`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike

from diffrisk.core.dataclass_fields import fields_from
from diffrisk.diffusion.checkpoints import read_checkpoint, restore_weights, save_checkpoint
from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.stress.config import StressConfig
from diffrisk.stress.network import StressDenoiser, StressSpec
from diffrisk.stress.signatures import (
    N_HISTORY_SCALARS,
    SIGNATURE_COLUMNS,
    ConditioningScales,
    history_scalars,
    signature_features,
    training_signature_range,
)
from diffrisk.stress.windows import WindowSet, training_windows


@dataclass
class StressModel(ConditioningScales):
    """A trained stress generator and everything fitted with it (training data only).

    Attributes
    ----------
    net : StressDenoiser
        EMA weights of the selected epoch, eval mode.
    schedule : NoiseSchedule
    config : StressConfig
    assets, signature_mean, signature_std, scalar_mean, scalar_std, target_scale,
    target_abs_max, signature_bounds, train_end, prior_features, prior_signatures
        The fitted statistics (:class:`~diffrisk.stress.signatures.ConditioningScales`).
    history : list of dict
        Per-epoch training record.
    """

    net: StressDenoiser
    schedule: NoiseSchedule
    config: StressConfig
    history: list[dict[str, float]] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        net: StressDenoiser,
        config: StressConfig,
        history: Iterable[dict[str, float]] = (),
        **statistics: Any,
    ) -> StressModel:
        """The model of ``net`` and ``config`` with the noise schedule of ``config``.

        The one place that ties a model's ``schedule`` to its ``config``
        (:func:`make_schedule`); ``statistics`` are the fields of
        :class:`~diffrisk.stress.signatures.ConditioningScales`.
        """
        return cls(
            net=net,
            schedule=make_schedule(config),
            config=config,
            history=list(history),
            **statistics,
        )

    @property
    def path_scale(self) -> float:
        """``target_scale * config.sigma_data``: the diffusion's space times this is ``r / sigma``.

        The one place where ``sigma_data`` enters: the training targets are
        ``r / (sigma * path_scale)`` (:class:`WindowTensors`) and every sampled path is
        multiplied by it (:func:`~diffrisk.stress.sampling.generate_paths`,
        :func:`~diffrisk.stress.reverse.diffusion_reverse_stress`), so the model diffuses
        ``x0 / sigma_data`` and returns ``sigma_data * x0_hat``. ``sigma_data = 1`` leaves
        ``target_scale`` bit for bit.
        """
        return self.target_scale * self.config.sigma_data


def make_schedule(config: StressConfig) -> NoiseSchedule:
    """The noise schedule of ``config`` (``schedule``, ``diffusion_steps``)."""
    if config.schedule == "linear":
        scale = 1000.0 / config.diffusion_steps
        return NoiseSchedule.create(
            "linear",
            config.diffusion_steps,
            beta_start=1e-4 * scale,
            beta_end=min(0.02 * scale, 0.5),
        )
    return NoiseSchedule.create("cosine", config.diffusion_steps, max_beta=0.1)


def as_float_tensor(x: ArrayLike) -> torch.Tensor:
    """``x`` as a float32 tensor (the dtype of the network's inputs)."""
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


class WindowTensors:
    """Torch views of a :class:`WindowSet` in a stress generator's input scale.

    ``x0 = r / (sigma * model.path_scale)``. What every stress generator trains on (the
    diffusion model here, the GAN and VAE of :mod:`diffrisk.stress.comparison`).
    """

    def __init__(self, windows: WindowSet, model: ConditioningScales) -> None:
        self.x0 = as_float_tensor(windows.targets / model.path_scale)
        self.history = as_float_tensor(windows.history)
        self.scalars = as_float_tensor(
            model.scalars(windows.sigma, windows.portfolio_vol, windows.history)
        )
        values, mask = model.signature_input(windows.signature, windows.portfolio_vol)
        self.signature, self.mask = as_float_tensor(values), as_float_tensor(mask)

    def __len__(self) -> int:
        return int(self.x0.shape[0])

    def take(self, index: torch.Tensor | slice) -> dict[str, torch.Tensor]:
        """Rows ``index``: ``x0``, ``history``, ``scalars``, ``signature``, ``mask``."""
        return {
            "x0": self.x0[index],
            "history": self.history[index],
            "scalars": self.scalars[index],
            "signature": self.signature[index],
            "mask": self.mask[index],
        }


def scaled_target_std(model: ConditioningScales, windows: WindowSet) -> float:
    """Standard deviation of ``r / (sigma * target_scale)`` over ``windows`` (all values).

    What to set :attr:`~diffrisk.stress.config.StressConfig.sigma_data` to (measure it on
    the training windows). ``target_scale`` is the pooled standard deviation of the
    training targets, so on the training windows this is 1 up to rounding; per asset, or
    on other windows, it need not be.
    """
    return float(np.std(windows.targets / model.target_scale))


def fit_stress_statistics(
    windows: WindowSet,
    assets: list[str],
    config: StressConfig,
    signature_bounds: pd.DataFrame,
    train_end: str,
) -> StressModel:
    """An untrained :class:`StressModel` with every statistic fitted on training windows.

    Parameters
    ----------
    windows : WindowSet
        Training windows (:func:`~diffrisk.stress.windows.training_windows`).
    assets : list of str
        Constituents, in column order.
    config : StressConfig
    signature_bounds : DataFrame
        The signature range of the training windows
        (:func:`~diffrisk.stress.signatures.training_signature_range`; it guards requests).
    train_end : str
        Last training day.

    Returns
    -------
    StressModel
        Standardisations, target scale and bounds, signature prior, and a freshly
        initialised network (drawn from torch's global generator).
    """
    feats = signature_features(windows.signature, windows.portfolio_vol, config.horizon).to_numpy()
    n_scalars = N_HISTORY_SCALARS if config.history_stats else 2
    scal = history_scalars(windows.sigma, windows.portfolio_vol, windows.history)[:, :n_scalars]
    spec = fields_from(
        StressSpec,
        config,
        keep_defaults=("n_signature",),
        n_assets=len(assets),
        n_scalars=n_scalars,
        amplitude=config.amplitude_embedding,
    )
    sig_mean, sig_std = np.nanmean(feats, axis=0), np.nanstd(feats, axis=0) + 1e-8
    scal_mean, scal_std = scal.mean(axis=0), scal.std(axis=0) + 1e-8
    complete = np.all(np.isfinite(feats), axis=1)
    return StressModel.create(
        StressDenoiser(spec),
        config,
        assets=list(assets),
        signature_mean=sig_mean,
        signature_std=sig_std,
        scalar_mean=scal_mean,
        scalar_std=scal_std,
        target_scale=float(np.std(windows.targets)),
        target_abs_max=np.abs(windows.targets).max(axis=(0, 2)).astype(np.float64),
        signature_bounds=signature_bounds,
        train_end=str(pd.Timestamp(train_end).date()),
        prior_features=((scal - scal_mean) / scal_std)[complete],
        prior_signatures=((feats - sig_mean) / sig_std)[complete],
    )


def fit_training_statistics(
    returns: pd.DataFrame, dates: tuple[Any, Any, Any], config: StressConfig
) -> tuple[StressModel, WindowSet, WindowSet]:
    """The training and validation windows and the statistics fitted on training windows.

    The common start of every stress generator's training
    (:func:`~diffrisk.stress.fit.train_stress_model`,
    :func:`diffrisk.stress.comparison_training.train_comparison_generator`,
    :func:`diffrisk.stress.tuning.validation_windows`).

    Parameters
    ----------
    returns : DataFrame (T, n_assets)
    dates : (train_end, val_start, val_end)
        The fit dates (as :attr:`diffrisk.data.splits.Splits.fit_dates`): only rows up to
        ``val_end`` are read; training windows end on or before ``train_end``; validation
        windows lie in ``[val_start, val_end]``.
    config : StressConfig

    Returns
    -------
    model : StressModel
        :func:`fit_stress_statistics` of the training windows (its network is drawn from
        torch's global generator: seed it first).
    train_windows, val_windows : WindowSet
    """
    train_end, val_start, val_end = dates
    if pd.Timestamp(val_start) <= pd.Timestamp(train_end):
        raise ValueError(f"val_start={val_start} must be after train_end={train_end}")
    frame = returns.loc[returns.index <= pd.Timestamp(val_end)]
    model, train_w = fit_statistics_through(frame, train_end, config)
    val_w = training_windows(frame, val_start, val_end, config)
    return model, train_w, val_w


def fit_statistics_through(
    frame: pd.DataFrame, end: Any, config: StressConfig
) -> tuple[StressModel, WindowSet]:
    """The training windows ending on or before ``end``, and the statistics fitted on them.

    The fit of every version of the model: the first (:func:`fit_training_statistics`) and
    each walk-forward refit (:func:`diffrisk.stress.fit.refit_stress_model`).

    Parameters
    ----------
    frame : DataFrame (T, n_assets)
        Constituent returns; rows after ``end`` may be present but are never read.
    end : date
        The last day a window (and the signature range) may use.
    config : StressConfig

    Returns
    -------
    model : StressModel
        :func:`fit_stress_statistics` of the windows, with the range of
        :func:`~diffrisk.stress.signatures.training_signature_range` (its network is drawn
        from torch's global generator: seed it first).
    windows : WindowSet
    """
    windows = training_windows(frame, None, end, config)
    bounds = training_signature_range(
        frame, end, config.horizon, lam=config.ewma_lambda, warmup=config.ewma_warmup
    )
    return fit_stress_statistics(windows, list(frame.columns), config, bounds, str(end)), windows


def save_stress_model(model: StressModel, path: str | Path) -> Path:
    """Write the model atomically (:func:`diffrisk.diffusion.checkpoints.save_checkpoint`).

    The payload holds only tensors, numbers, strings and lists, and the history is stored
    without its wall times, so the file's SHA-256 is a stable identity of the model: the
    same on every rerun with the same seed.
    """
    payload = {
        "kind": "diffrisk.stress",
        "spec": asdict(model.net.spec),
        "config": model.config.to_dict(),
        "state_dict": model.net.state_dict(),
        **statistics_payload(model),
        "history": model.history,
    }
    return save_checkpoint(path, payload)


def statistics_payload(stats: ConditioningScales) -> dict[str, Any]:
    """The fitted statistics as checkpoint entries (tensors, numbers, strings, lists)."""
    return {
        "assets": list(stats.assets),
        "signature_mean": stats.signature_mean.tolist(),
        "signature_std": stats.signature_std.tolist(),
        "scalar_mean": stats.scalar_mean.tolist(),
        "scalar_std": stats.scalar_std.tolist(),
        "target_scale": float(stats.target_scale),
        "target_abs_max": stats.target_abs_max.tolist(),
        "prior_features": torch.as_tensor(stats.prior_features),
        "prior_signatures": torch.as_tensor(stats.prior_signatures),
        "signature_bounds": stats.signature_bounds.to_dict(orient="index"),
        "train_end": stats.train_end,
    }


def statistics_from_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of :class:`ConditioningScales` from :func:`statistics_payload`'s entries."""
    bounds = pd.DataFrame.from_dict(payload["signature_bounds"], orient="index")
    return {
        "assets": list(payload["assets"]),
        "signature_mean": np.asarray(payload["signature_mean"]),
        "signature_std": np.asarray(payload["signature_std"]),
        "scalar_mean": np.asarray(payload["scalar_mean"]),
        "scalar_std": np.asarray(payload["scalar_std"]),
        "target_scale": float(payload["target_scale"]),
        "target_abs_max": np.asarray(payload["target_abs_max"]),
        "prior_features": payload["prior_features"].numpy(),
        "prior_signatures": payload["prior_signatures"].numpy(),
        "signature_bounds": bounds.loc[["lower", "upper"], list(SIGNATURE_COLUMNS)],
        "train_end": str(payload["train_end"]),
    }


def load_stress_model(path: str | Path) -> StressModel:
    """Read a model written by :func:`save_stress_model`."""
    payload = read_checkpoint(path)
    if payload.get("kind") != "diffrisk.stress":
        raise ValueError(f"{path} is not a stress-model checkpoint (kind={payload.get('kind')!r})")
    config = StressConfig.from_dict(payload["config"])
    net = restore_weights(StressDenoiser(StressSpec(**payload["spec"])), payload)
    return StressModel.create(
        net, config, payload.get("history", []), **statistics_from_payload(payload)
    )
