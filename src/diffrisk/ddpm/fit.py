"""Training the one-day model: pooled windows, epoch selection by validation FZ0, final refit."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from diffrisk.core.audit import frame_sha256
from diffrisk.ddpm.config import CHECKPOINT_FORMAT, SCORE_ALPHAS, DDPMConfig
from diffrisk.ddpm.features import (
    Scaler,
    stale_rows,
)
from diffrisk.ddpm.forecast import fz0_mean, sample_scaled
from diffrisk.ddpm.inputs import (
    ConditionTensors,
    PreparedReturns,
    condition_tensors,
    fit_inputs,
    rows_between,
    series_columns,
    split_dates,
)
from diffrisk.ddpm.loss import eps_loss_fn, evaluate_loss
from diffrisk.ddpm.market_state import MarketState
from diffrisk.ddpm.model import DDPMModel, config_hash, model_from_payload
from diffrisk.ddpm.network import Denoiser
from diffrisk.diffusion.checkpoints import read_checkpoint, save_checkpoint
from diffrisk.diffusion.training import train_denoiser
from diffrisk.risk.measures import cvar, var

logger = logging.getLogger(__name__)


def _risk_score(
    z_samples: torch.Tensor,
    prep: PreparedReturns,
    rows: NDArray[np.int64],
    columns: Sequence[int],
    returns: NDArray[np.float64],
) -> float:
    """Mean over series and alpha in (5 %, 1 %) of the mean FZ0 loss of sampled forecasts.

    The scoring draw uses stratified noise through deterministic DDIM, so VaR/CVaR use
    the ``"stratified"`` estimator (:func:`diffrisk.risk.measures.var`).
    """
    n_rows = rows.size
    z = z_samples.numpy().astype(np.float64).reshape(len(columns), n_rows, -1)
    scores = []
    for j, c in enumerate(columns):
        scen = prep.loc[rows, c, None] + prep.sigma[rows, c, None] * z[j]
        realized = returns[rows, c]
        for alpha in SCORE_ALPHAS:
            v, e = var(scen, alpha, design="stratified"), cvar(scen, alpha, design="stratified")
            scores.append(fz0_mean(realized, v, e, alpha))
    return float(np.mean(scores))


# ------------------------------------------------------------------------------ fitting
def training_conditions(
    prep: PreparedReturns,
    returns: pd.DataFrame,
    scaler: Scaler,
    rows: NDArray[np.int64],
    columns: Sequence[int],
    config: DDPMConfig,
) -> ConditionTensors:
    """The training conditions of ``(rows, columns)`` without the stale windows.

    A window with more than ``config.max_zero_frac`` zero raw returns
    (:func:`~diffrisk.ddpm.features.stale_rows`) is dropped. Used by the fit and by the
    distillation of a fitted model (:mod:`diffrisk.ddpm.distill`).

    Raises
    ------
    ValueError
        If a kept target is NaN.
    """
    data = condition_tensors(prep, rows, columns, config)
    raw = returns[[scaler.series[c] for c in columns]].to_numpy(dtype=np.float64)
    stale = stale_rows(raw, rows, config.window, config.max_zero_frac).reshape(-1)
    if stale.any():
        logger.info(
            "dropping %d stale training windows (> %.0f%% zero returns)",
            int(stale.sum()),
            100 * config.max_zero_frac,
        )
        data = data.take(torch.from_numpy(np.flatnonzero(~stale)))
    if torch.isnan(data.targets).any():
        raise ValueError("train targets contain NaN")
    return data


def _train_phase(
    returns: pd.DataFrame,
    config: DDPMConfig,
    seed: int,
    train_end: pd.Timestamp,
    val: tuple[pd.Timestamp, pd.Timestamp] | None,
    max_epochs: int | None,
    checkpoint: tuple[Path, dict[str, Any]] | None,
    resume_state: dict[str, Any] | None,
    progress: bool | None,
    epoch_callback: Callable[[int, float, float | None], None] | None = None,
    init_state: Mapping[str, torch.Tensor] | None = None,
) -> tuple[Denoiser, Scaler, MarketState | None, Any]:
    """Fit the inputs on data up to ``train_end`` and train; select on ``val`` if given.

    ``init_state`` (a warm start) replaces the seeded initial weights of the network.
    """
    scaler, market, prep = fit_inputs(returns, config, train_end)
    index = pd.DatetimeIndex(returns.index)
    train_cols = series_columns(scaler, config.train_series, "train_series")
    train_rows = rows_between(index, None, train_end, config.window)
    train = training_conditions(prep, returns, scaler, train_rows, train_cols, config)
    torch.manual_seed(int(seed))
    net = Denoiser(config.denoiser_spec(len(scaler.series)))
    schedule = config.noise_schedule()
    if config.gaussian_skip:
        net.use_gaussian_skip(schedule.sqrt_one_minus_alpha_bars)
    if init_state is not None:
        net.load_state_dict(dict(init_state))
    val_loss_fn, score_fn = None, None
    if val is not None:
        val_rows = rows_between(index, val[0], val[1], config.window)
        val_cols = series_columns(scaler, config.val_series, "val_series")
        val_data = condition_tensors(prep, val_rows, val_cols, config)

        def val_loss_fn(model: torch.nn.Module) -> float:
            if not len(val_data):
                return math.nan
            return evaluate_loss(model, schedule, val_data, seed=int(seed) + 1)

        if config.select_by == "fz0":
            raw = returns[list(scaler.series)].to_numpy(dtype=np.float64)

            def score_fn(model: Denoiser) -> float:
                z = sample_scaled(
                    model,
                    schedule,
                    val_data,
                    config.val_scenarios,
                    seed=int(seed) + 7,
                    sampler="ddim",
                    n_steps=config.val_steps,
                    spacing=config.spacing,
                    noise="stratified",
                    order=config.order,
                    progress=False,
                )
                return _risk_score(z, prep, val_rows, val_cols, raw)

    checkpoint_fn = None
    if checkpoint is not None:
        path, header = checkpoint

        def checkpoint_fn(state: dict[str, Any]) -> None:
            save_checkpoint(path, {**header, "complete": False, "training_state": state})

    logger.info(
        "training on %d conditions (%s scaling, %d series)",
        len(train),
        config.scaling,
        len(train_cols),
    )
    options = config.train_options(max_epochs)
    result = train_denoiser(
        net,
        train,
        options,
        seed=seed,
        loss_fn=eps_loss_fn(schedule, options.noise_draws),
        val_loss_fn=val_loss_fn,
        score_fn=score_fn,
        checkpoint_fn=checkpoint_fn,
        resume=resume_state,
        progress=progress,
        epoch_callback=epoch_callback,
        desc="train ddpm",
    )
    net.load_state_dict(result.state_dict)
    net.eval()
    return net, scaler, market, result


def fit_ddpm(
    returns: pd.DataFrame,
    splits: Any,
    config: DDPMConfig | None = None,
    seed: int = 0,
    checkpoint_path: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool | None = None,
    epoch_callback: Callable[[int, float, float | None], None] | None = None,
) -> tuple[DDPMModel, dict[str, Any]]:
    """Train the conditional DDPM; select the checkpoint on the validation period.

    Parameters
    ----------
    returns : DataFrame (dates × series)
        Daily log returns (fractions). Rows after ``val_end`` are dropped before anything
        is computed, so the test period can never influence the fit.
    splits : diffrisk.data.splits.Splits or mapping
        Needs ``train_end``, ``val_start`` and ``val_end``.
    config : DDPMConfig, optional
        Hyper-parameters (default: :class:`DDPMConfig` defaults).
    seed : int
        Seeds weight initialisation, batches, noise and the validation draws.
    checkpoint_path : path-like, optional
        Where to write the checkpoint (atomically, after every epoch while training and
        the final model at the end): weights, config, scaler, data hash, metrics.
    resume : bool
        Continue from ``checkpoint_path`` if it holds an unfinished run with the same
        configuration, seed and data (a finished one is loaded and returned as is: its
        metrics without the wall times, which checkpoints do not store).
    progress : bool, optional
        tqdm progress (``None``: only on a terminal).
    epoch_callback : callable(epoch, val_loss, score), optional
        Called after every epoch of the selection phase (e.g. Optuna's report/prune; an
        exception it raises stops the fit). ``score`` is the validation FZ0 score, or
        None when selecting by loss.

    Returns
    -------
    model : DDPMModel
    metrics : dict
        ``train_loss``/``val_loss``/``score`` histories, ``best_epoch``,
        ``best_val_score`` (mean validation FZ0 of the selected weights, or the loss),
        ``epochs_run``, ``wall_time_s``, ``final_refit``,
        ``refit_epochs``, ``fit_end``, ``data_hash``, ``config``.
    """
    config = config or DDPMConfig()
    torch.set_num_threads(int(config.threads))
    if not isinstance(returns, pd.DataFrame) or not isinstance(returns.index, pd.DatetimeIndex):
        raise ValueError("returns must be a DataFrame with a DatetimeIndex")
    train_end, val_start, val_end = split_dates(splits)
    data = returns.loc[returns.index <= val_end]
    data_hash = frame_sha256(data)
    header = {
        "format": CHECKPOINT_FORMAT,
        "config": config.to_dict(),
        "seed": int(seed),
        "data_hash": data_hash,
        "config_hash": config_hash(config),
    }
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    resume_state, phase_done = None, {}
    if resume and path is not None and path.is_file():
        payload = read_checkpoint(path)
        same = (
            payload.get("config_hash") == header["config_hash"]
            and payload.get("data_hash") == data_hash
            and payload.get("seed") == seed
        )
        if not same:
            raise ValueError(
                f"cannot resume from {path}: it was written with a different "
                "configuration, seed or data"
            )
        if payload.get("complete"):
            model = model_from_payload(payload, str(path))
            return model, model.metrics
        resume_state = payload["training_state"]
        phase_done = payload.get("phase_done", {})
    tic = time.perf_counter()
    ckpt = (path, {**header, "phase": "select"}) if path is not None else None
    if phase_done:
        best_epoch = int(phase_done["best_epoch"])
        sel_metrics = phase_done["metrics"]
    else:
        net, scaler, market, res = _train_phase(
            data,
            config,
            seed,
            train_end,
            (val_start, val_end),
            None,
            ckpt,
            resume_state,
            progress,
            epoch_callback,
        )
        resume_state = None
        best_epoch = res.best_epoch
        sel_metrics = {
            "history": res.history,
            "best_epoch": res.best_epoch,
            "best_val_score": res.best_score,
            "epochs_run": res.epochs_run,
            "stopped_early": res.stopped_early,
            "select_wall_time_s": res.wall_time,
        }
        fit_end = str(train_end.date())
    if config.final_refit:
        done = {"best_epoch": best_epoch, "metrics": sel_metrics}
        ckpt = (path, {**header, "phase": "refit", "phase_done": done}) if path else None
        net, scaler, market, res = _train_phase(
            data, config, seed, val_end, None, best_epoch, ckpt, resume_state, progress
        )
        fit_end = str(val_end.date())
    metrics: dict[str, Any] = {
        **sel_metrics,
        "final_refit": bool(config.final_refit),
        "refit_epochs": best_epoch if config.final_refit else 0,
        "wall_time_s": time.perf_counter() - tic,
        "fit_end": fit_end,
        "data_hash": data_hash,
        "config": config.to_dict(),
    }
    model = DDPMModel(
        config=config,
        net=net,
        scaler=scaler,
        schedule=config.noise_schedule(),
        data_hash=data_hash,
        fit_end=fit_end,
        metrics=metrics,
        market=market,
    )
    if path is not None:
        save_checkpoint(
            path, {**model.checkpoint_payload(), **{k: header[k] for k in ("seed", "config_hash")}}
        )
    return model, metrics


def refit_ddpm(
    model: DDPMModel,
    returns: pd.DataFrame,
    fit_end: Any,
    epochs: int,
    seed: int,
    warm_start: bool = True,
    progress: bool | None = None,
) -> DDPMModel:
    """Refit ``model``'s configuration on every return up to ``fit_end`` (no selection).

    The scaler is refitted on the data up to ``fit_end`` and the network trained for
    ``epochs`` epochs on the windows whose targets lie on or before ``fit_end``; rows after
    ``fit_end`` are dropped first, so they cannot influence the result (the walk-forward
    leakage rule: a refit used for forecasts from day t uses data up to t - 1 only).

    Parameters
    ----------
    model : DDPMModel
        The previous version (its configuration, and its weights when ``warm_start``).
    returns : DataFrame (dates × series)
        Daily log returns; must contain ``fit_end``'s history.
    fit_end : date-like
        Last date of the refit data.
    epochs : int
        Training epochs (>= 1).
    seed : int
        Seeds batches and noise (and the initial weights when not warm-starting).
    warm_start : bool, default True
        Start from ``model``'s weights (the walk-forward update) rather than from a fresh
        seeded initialisation (the classical final refit).
    progress : bool, optional
        tqdm progress (``None``: only on a terminal).

    Returns
    -------
    DDPMModel
        ``fit_end`` set to the refit's last date; ``metrics`` hold ``refit_epochs``,
        ``warm_start``, ``parent_fit_end``, ``history``, ``wall_time_s``.
    """
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1 for a refit, got {epochs!r}")
    end = pd.Timestamp(fit_end)
    if not isinstance(returns.index, pd.DatetimeIndex):
        raise ValueError("returns must be a DataFrame with a DatetimeIndex")
    data = returns.loc[returns.index <= end]
    if data.empty:
        raise ValueError(f"no returns on or before fit_end={end.date()}")
    torch.set_num_threads(int(model.config.threads))
    init = model.net.state_dict() if warm_start else None
    tic = time.perf_counter()
    net, scaler, market, res = _train_phase(
        data,
        model.config,
        int(seed),
        end,
        None,
        int(epochs),
        None,
        None,
        progress,
        init_state=init,
    )
    fit_end_text = str(pd.Timestamp(data.index[-1]).date())
    metrics = {
        "refit_epochs": int(epochs),
        "warm_start": bool(warm_start),
        "parent_fit_end": model.fit_end,
        "history": res.history,
        "wall_time_s": time.perf_counter() - tic,
        "fit_end": fit_end_text,
    }
    return DDPMModel(
        config=model.config,
        net=net,
        scaler=scaler,
        schedule=model.config.noise_schedule(),
        data_hash=frame_sha256(data),
        fit_end=fit_end_text,
        metrics=metrics,
        market=market,
    )
