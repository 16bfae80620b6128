"""Conditional DDPM for one-day return scenarios: configuration, fit, forecast, diagnostics.

The model learns the law of the *scaled* return ``z_t = (r_t - m_t) / sigma_t`` given the
last k scaled returns and a few conditioning features (:mod:`diffrisk.features`), pooled
over series. With the default ``garch`` scaling, ``sigma_t`` is a GARCH filter fitted on
training data, so the network learns the conditional law of GARCH-standardised residuals
(a learned Filtered Historical Simulation); scenarios map back as ``r = m_t + sigma_t z``.

Sign conventions: returns are log returns as fractions; VaR and CVaR are returns
(negative numbers); alpha is the tail probability (0.01 = 99 % VaR); an exception on day t
is ``r_t < VaR_t`` (strict). A forecast for day t uses returns of days ``< t`` only.

Hyper-parameters and checkpoints are selected on the validation period; the test period
is never seen by :func:`fit_ddpm` (it only reads returns up to ``val_end``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray
from scipy import stats

from .audit import frame_sha256
from .backtest import fz0_loss
from .diffusion.denoiser import Denoiser, DenoiserSpec
from .diffusion.sampler import SAMPLERS, SPACINGS, sample
from .diffusion.schedule import SCHEDULES, NoiseSchedule
from .diffusion.training import (
    ConditionTensors,
    TrainOptions,
    read_checkpoint,
    save_checkpoint,
    train_denoiser,
)
from .features import (
    FEATURE_NAMES,
    SCALINGS,
    WINDOW_CHANNELS,
    Scaler,
    conditioning_windows,
    fit_scaler,
    log_volatility_feature,
    scale_returns,
    stale_rows,
)
from .forecasts import ScenarioSet, risk_frame_from_scenarios
from .risk import cvar, var

__all__ = [
    "CHECKPOINT_FORMAT",
    "DDPMConfig",
    "DDPMModel",
    "fit_ddpm",
    "load_checkpoint",
    "forecast_ddpm",
    "sample_scaled",
    "fz0_mean",
    "validation_diagnostics",
]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "diffrisk-ddpm-1"
_SCORE_ALPHAS = (0.05, 0.01)


@dataclass(frozen=True)
class DDPMConfig:
    """Every hyper-parameter of the DDPM risk model (defaults: the recommended setting).

    Scaling and features
        scaling : {"garch", "ewma", "global"} — how returns are standardised.
        ewma_lambda : EWMA decay (``ewma`` scaling, and the vol feature of ``global``).
        garch_o : 1 (GJR-GARCH(1,1,1), default) or 0 (GARCH(1,1)) for ``garch`` scaling.
        garch_dist : "t" or "normal" innovations of the GARCH filter fit.
        vol_floor : floor of the volatility forecast, as a fraction of the training std.
        max_zero_frac : training windows with a larger share of exact-zero returns (stale
        prices) are dropped from training (never from forecasting).
        window : k, days of past scaled returns fed to the encoder.
        clip_window : clip of the encoder's input window (targets are never clipped).
        train_series : series whose windows train the model (None: pooled, all series).
        series_embedding : add a learned per-series embedding to the condition.
    Network (see :class:`~diffrisk.diffusion.denoiser.DenoiserSpec`)
        conv_width, n_blocks, kernel_size, cond_dim, time_dim, hidden, dropout;
        gaussian_skip : predict ``sqrt(1 - ab_t) x_t + head`` so that the network learns
        the departure of the scaled return from N(0, 1) (an untrained net samples N(0, 1)).
    Diffusion
        schedule : "linear" or "cosine"; diffusion_steps : T;
        beta_start, beta_end : linear-schedule endpoints; ``None`` (default) scales DDPM's
        1e-4 … 0.02 for T = 1000 by ``1000 / T`` (5e-4 … 0.1 for T = 200), which keeps the
        final alpha_bar near 5e-5 whatever T the tuner picks.
    Training (see :class:`~diffrisk.diffusion.training.TrainOptions`)
        lr, weight_decay, batch_size, noise_draws, max_epochs, patience, min_epochs,
        grad_clip, ema_decay, samples_per_epoch.
    Selection
        select_by : "fz0" (validation FZ0 of sampled VaR/ES, averaged over 5 % and 1 % and
        over ``val_series``) or "loss" (validation denoising loss).
        val_series : series scored for selection (None: all).
        val_scenarios, val_steps : scenarios per day and DDIM steps of the scoring draw.
        final_refit : after selection, refit scaler and network on train + validation
        for the selected number of epochs (hyper-parameters frozen).
    Sampling defaults of :func:`forecast_ddpm`
        sampler : "ddim" or "ddpm"; n_steps : DDIM steps; eta : DDIM eta;
        spacing : DDIM step spacing; noise : "stratified" or "iid" initial noise;
        order : DDIM solver order (2 = DPM-Solver++(2M) multistep, 1 = plain DDIM);
        variance : ancestral step variance ("beta" or "posterior").
    Compute
        threads : torch intra-op threads.
    """

    scaling: str = "garch"
    ewma_lambda: float = 0.94
    garch_o: int = 1
    garch_dist: str = "t"
    vol_floor: float = 0.2
    max_zero_frac: float = 0.2
    window: int = 64
    clip_window: float = 10.0
    train_series: tuple[str, ...] | None = None
    series_embedding: bool = False
    conv_width: int = 16
    n_blocks: int = 3
    kernel_size: int = 3
    cond_dim: int = 8
    time_dim: int = 16
    hidden: int = 32
    dropout: float = 0.1
    gaussian_skip: bool = True
    schedule: str = "linear"
    diffusion_steps: int = 200
    beta_start: float | None = None
    beta_end: float | None = None
    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 512
    noise_draws: int = 8
    max_epochs: int = 8
    patience: int = 3
    min_epochs: int = 2
    grad_clip: float = 1.0
    ema_decay: float = 0.995
    samples_per_epoch: int = 65536
    select_by: str = "fz0"
    val_series: tuple[str, ...] | None = None
    val_scenarios: int = 256
    val_steps: int = 10
    final_refit: bool = True
    sampler: str = "ddim"
    n_steps: int = 10
    eta: float = 0.0
    spacing: str = "logsnr"
    noise: str = "stratified"
    order: int = 2
    variance: str = "beta"
    threads: int = 1

    def __post_init__(self) -> None:
        choices = {
            "scaling": SCALINGS,
            "schedule": SCHEDULES,
            "sampler": SAMPLERS,
            "spacing": SPACINGS,
            "noise": ("iid", "stratified"),
            "select_by": ("fz0", "loss"),
            "garch_dist": ("t", "normal"),
            "order": (1, 2),
            "variance": ("beta", "posterior"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"DDPMConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}"
                )
        if self.garch_o not in (0, 1):
            raise ValueError(f"DDPMConfig.garch_o must be 0 or 1, got {self.garch_o!r}")
        for name in (
            "window",
            "diffusion_steps",
            "n_steps",
            "val_scenarios",
            "val_steps",
            "threads",
        ):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"DDPMConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.n_steps > self.diffusion_steps or self.val_steps > self.diffusion_steps:
            raise ValueError(
                f"DDPMConfig.n_steps ({self.n_steps}) and val_steps "
                f"({self.val_steps}) must be <= diffusion_steps "
                f"({self.diffusion_steps})"
            )
        if not (0.0 <= self.eta <= 1.0):
            raise ValueError(f"DDPMConfig.eta must be in [0, 1], got {self.eta}")
        for name in ("train_series", "val_series"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(str(s) for s in value))
        self.denoiser_spec(n_series=0)  # validates the network fields
        self.train_options()  # validates the optimisation fields

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DDPMConfig:
        """Build from a mapping (e.g. the ``ddpm:`` section of params.yaml).

        Unknown keys raise ``ValueError`` naming them; lists become tuples.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown DDPMConfig keys {unknown}; known keys: {sorted(known)}")
        clean = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items()}
        return cls(**clean)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (tuples as lists) for JSON and checkpoints."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    def denoiser_spec(self, n_series: int) -> DenoiserSpec:
        """The network shape for ``n_series`` series (embedding only if enabled)."""
        return DenoiserSpec(
            window_channels=len(WINDOW_CHANNELS),
            window_length=self.window,
            n_features=len(FEATURE_NAMES),
            n_series=n_series if self.series_embedding else 0,
            conv_width=self.conv_width,
            n_blocks=self.n_blocks,
            kernel_size=self.kernel_size,
            cond_dim=self.cond_dim,
            time_dim=self.time_dim,
            hidden=self.hidden,
            dropout=self.dropout,
            diffusion_steps=self.diffusion_steps,
        )

    def train_options(self, max_epochs: int | None = None) -> TrainOptions:
        """Optimisation settings (``max_epochs`` overrides the configured bound)."""
        return TrainOptions(
            lr=self.lr,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            noise_draws=self.noise_draws,
            max_epochs=max_epochs or self.max_epochs,
            patience=self.patience,
            min_epochs=min(self.min_epochs, max_epochs or self.max_epochs),
            grad_clip=self.grad_clip,
            ema_decay=self.ema_decay,
            samples_per_epoch=self.samples_per_epoch,
        )

    def noise_schedule(self) -> NoiseSchedule:
        """The training noise schedule."""
        if self.schedule == "linear":
            scale = 1000.0 / self.diffusion_steps
            start = self.beta_start if self.beta_start is not None else min(1e-4 * scale, 0.5)
            end = self.beta_end if self.beta_end is not None else min(0.02 * scale, 0.5)
            return NoiseSchedule.create(
                "linear", self.diffusion_steps, beta_start=start, beta_end=end
            )
        return NoiseSchedule.create("cosine", self.diffusion_steps)

    @classmethod
    def smoke(cls, **overrides: Any) -> DDPMConfig:
        """A tiny configuration that trains and samples in seconds (end-to-end tests)."""
        base = dict(
            window=24,
            conv_width=8,
            n_blocks=2,
            cond_dim=4,
            time_dim=8,
            hidden=16,
            diffusion_steps=50,
            beta_start=2e-3,
            beta_end=0.4,
            max_epochs=2,
            min_epochs=1,
            patience=1,
            samples_per_epoch=4096,
            batch_size=256,
            noise_draws=4,
            val_scenarios=64,
            val_steps=5,
            n_steps=5,
            scaling="ewma",
            final_refit=False,
        )
        base.update(overrides)
        return cls(**base)


@dataclass
class DDPMModel:
    """A fitted DDPM risk model (what :func:`fit_ddpm` returns and checkpoints hold).

    Attributes
    ----------
    config : DDPMConfig
    net : Denoiser
        Selected (EMA) weights, eval mode.
    scaler : Scaler
        Causal scaling fitted on data up to ``fit_end``'s training part.
    schedule : NoiseSchedule
    data_hash : str
        SHA-256 (:func:`diffrisk.audit.frame_sha256`) of the returns used for fitting.
    fit_end : str
        Last date of the data the network was trained on (ISO).
    metrics : dict
        The metrics returned by :func:`fit_ddpm`.
    """

    config: DDPMConfig
    net: Denoiser
    scaler: Scaler
    schedule: NoiseSchedule
    data_hash: str
    fit_end: str
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def series(self) -> list[str]:
        """Series the model can forecast."""
        return list(self.scaler.series)

    def checkpoint_payload(self) -> dict[str, Any]:
        """Everything needed to rebuild the model (plain types plus a state dict)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "complete": True,
            "config": self.config.to_dict(),
            "spec": asdict(self.net.spec),
            "state_dict": self.net.state_dict(),
            "scaler": self.scaler.to_dict(),
            "data_hash": self.data_hash,
            "fit_end": self.fit_end,
            "metrics": self.metrics,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write a complete checkpoint atomically."""
        return save_checkpoint(path, self.checkpoint_payload())


def _model_from_payload(payload: Mapping[str, Any], source: str) -> DDPMModel:
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{source}: not a DDPM checkpoint of format {CHECKPOINT_FORMAT!r} "
            f"(found {payload.get('format')!r})"
        )
    if not payload.get("complete", False):
        raise ValueError(
            f"{source}: checkpoint is from an unfinished training run; "
            "call fit_ddpm(..., resume=True) to finish it"
        )
    config = DDPMConfig.from_dict(payload["config"])
    net = Denoiser(DenoiserSpec(**payload["spec"]))
    net.load_state_dict(payload["state_dict"])
    net.eval()
    return DDPMModel(
        config=config,
        net=net,
        scaler=Scaler.from_dict(payload["scaler"]),
        schedule=config.noise_schedule(),
        data_hash=str(payload["data_hash"]),
        fit_end=str(payload["fit_end"]),
        metrics=dict(payload.get("metrics", {})),
    )


def load_checkpoint(path: str | os.PathLike[str]) -> DDPMModel:
    """Load a model written by :func:`fit_ddpm` / :meth:`DDPMModel.save`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a complete DDPM checkpoint.
    """
    return _model_from_payload(read_checkpoint(path), str(path))


# ------------------------------------------------------------------------------ helpers
def fz0_mean(
    returns: NDArray[np.floating],
    var_: NDArray[np.floating],
    es: NDArray[np.floating],
    alpha: float,
) -> float:
    """Mean FZ0 loss (:func:`diffrisk.backtest.fz0_loss`) in return space; lower is better.

    ``FZ0 = -1{r <= v} (v - r) / (alpha e) + v / e + log(-e) - 1`` (Patton, Ziegel & Chen
    2019). ES forecasts above ``-1e-12`` (possible for an untrained model during
    selection) are capped there so that the loss stays finite.
    """
    e = np.minimum(np.asarray(es, dtype=float), -1e-12)
    return float(np.mean(fz0_loss(returns, var_, e, alpha)))


def _split_dates(splits: Any) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """(train_end, val_start, val_end) from a :class:`diffrisk.data.Splits` or a mapping."""
    get = splits.get if isinstance(splits, Mapping) else lambda k: getattr(splits, k, None)
    values = {k: get(k) for k in ("train_end", "val_start", "val_end")}
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise ValueError(
            f"splits lacks {missing}: pass a diffrisk.data.Splits or a mapping "
            "with train_end, val_start and val_end"
        )
    te, vs, ve = (pd.Timestamp(values[k]) for k in ("train_end", "val_start", "val_end"))
    if not (te < vs <= ve):
        raise ValueError(
            f"need train_end < val_start <= val_end, got {te.date()}, {vs.date()}, {ve.date()}"
        )
    return te, vs, ve


@dataclass(frozen=True)
class _Prepared:
    loc: NDArray[np.float64]
    sigma: NDArray[np.float64]
    z: NDArray[np.float64]
    log_vol: NDArray[np.float64]


def _prepare(returns: pd.DataFrame, scaler: Scaler) -> _Prepared:
    loc, sigma, z = scale_returns(returns, scaler)
    return _Prepared(loc, sigma, z, log_volatility_feature(returns, scaler, sigma))


def _tensors(
    prep: _Prepared, rows: NDArray[np.int64], columns: Sequence[int], config: DDPMConfig
) -> ConditionTensors:
    cols = list(columns)
    win, feats, sidx, targets = conditioning_windows(
        prep.z[:, cols], prep.log_vol[:, cols], rows, config.window, config.clip_window
    )
    sidx = np.asarray(cols, dtype=np.int64)[sidx]
    return ConditionTensors(
        torch.from_numpy(win),
        torch.from_numpy(feats),
        torch.from_numpy(sidx),
        torch.from_numpy(targets),
    )


def _rows_between(
    index: pd.DatetimeIndex, start: pd.Timestamp | None, end: pd.Timestamp, window: int
) -> NDArray[np.int64]:
    mask = index <= end
    if start is not None:
        mask &= index >= start
    rows = np.flatnonzero(mask)
    return rows[rows >= window].astype(np.int64)


def _columns(scaler: Scaler, names: Sequence[str] | None, what: str) -> list[int]:
    if names is None:
        return list(range(len(scaler.series)))
    unknown = [s for s in names if s not in scaler.series]
    if unknown:
        raise ValueError(f"{what} {unknown} not among the model's series {list(scaler.series)}")
    return [scaler.series.index(s) for s in names]


def sample_scaled(
    net: Denoiser,
    schedule: NoiseSchedule,
    data: ConditionTensors,
    n_scenarios: int,
    *,
    seed: int,
    sampler: str = "ddim",
    n_steps: int | None = None,
    eta: float = 0.0,
    spacing: str = "logsnr",
    noise: str = "stratified",
    order: int = 2,
    variance: str = "beta",
    progress: bool | None = None,
) -> torch.Tensor:
    """Encode every condition once and draw ``n_scenarios`` scaled returns for each, (n, N).

    See :func:`diffrisk.diffusion.sampler.sample` for the sampling options.
    """
    cond = data.encode(net)
    gen = torch.Generator().manual_seed(int(seed))
    return sample(
        net,
        schedule,
        cond,
        n_scenarios,
        generator=gen,
        method=sampler,
        n_steps=n_steps if sampler == "ddim" else None,
        eta=eta,
        spacing=spacing,
        noise=noise,
        order=order,
        variance=variance,
        progress=progress,
    )


def _risk_score(
    z_samples: torch.Tensor,
    prep: _Prepared,
    rows: NDArray[np.int64],
    columns: Sequence[int],
    returns: NDArray[np.float64],
) -> float:
    """Mean over series and alpha in (5 %, 1 %) of the mean FZ0 loss of sampled forecasts."""
    n_rows = rows.size
    z = z_samples.numpy().astype(np.float64).reshape(len(columns), n_rows, -1)
    scores = []
    for j, c in enumerate(columns):
        scen = prep.loc[rows, c, None] + prep.sigma[rows, c, None] * z[j]
        realized = returns[rows, c]
        for alpha in _SCORE_ALPHAS:
            scores.append(fz0_mean(realized, var(scen, alpha), cvar(scen, alpha), alpha))
    return float(np.mean(scores))


def _config_hash(config: DDPMConfig) -> str:
    text = json.dumps(config.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------ fitting
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
) -> tuple[Denoiser, Scaler, Any]:
    """Fit the scaler on data up to ``train_end`` and train; select on ``val`` if given."""
    scaler = fit_scaler(
        returns,
        train_end,
        kind=config.scaling,
        ewma_lambda=config.ewma_lambda,
        garch_o=config.garch_o,
        garch_dist=config.garch_dist,
        vol_floor=config.vol_floor,
    )
    prep = _prepare(returns, scaler)
    index = pd.DatetimeIndex(returns.index)
    train_cols = _columns(scaler, config.train_series, "train_series")
    train_rows = _rows_between(index, None, train_end, config.window)
    train = _tensors(prep, train_rows, train_cols, config)
    raw_train = returns[[scaler.series[c] for c in train_cols]].to_numpy(dtype=np.float64)
    stale = stale_rows(raw_train, train_rows, config.window, config.max_zero_frac).reshape(-1)
    if stale.any():
        logger.info(
            "dropping %d stale training windows (> %.0f%% zero returns)",
            int(stale.sum()),
            100 * config.max_zero_frac,
        )
        train = train.take(torch.from_numpy(np.flatnonzero(~stale)))
    torch.manual_seed(int(seed))
    net = Denoiser(config.denoiser_spec(len(scaler.series)))
    schedule = config.noise_schedule()
    if config.gaussian_skip:
        net.use_gaussian_skip(schedule.sqrt_one_minus_alpha_bars)
    val_data, score_fn = None, None
    if val is not None:
        val_rows = _rows_between(index, val[0], val[1], config.window)
        val_cols = _columns(scaler, config.val_series, "val_series")
        val_data = _tensors(prep, val_rows, val_cols, config)
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
    result = train_denoiser(
        net,
        schedule,
        train,
        config.train_options(max_epochs),
        seed=seed,
        val=val_data,
        score_fn=score_fn,
        checkpoint_fn=checkpoint_fn,
        resume=resume_state,
        progress=progress,
        epoch_callback=epoch_callback,
    )
    net.load_state_dict(result.state_dict)
    net.eval()
    return net, scaler, result


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
    splits : diffrisk.data.Splits or mapping
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
        configuration, seed and data (a finished one is loaded and returned as is).
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
    train_end, val_start, val_end = _split_dates(splits)
    data = returns.loc[returns.index <= val_end]
    data_hash = frame_sha256(data)
    header = {
        "format": CHECKPOINT_FORMAT,
        "config": config.to_dict(),
        "seed": int(seed),
        "data_hash": data_hash,
        "config_hash": _config_hash(config),
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
            model = _model_from_payload(payload, str(path))
            return model, model.metrics
        resume_state = payload["training_state"]
        phase_done = payload.get("phase_done", {})
    tic = time.perf_counter()
    ckpt = (path, {**header, "phase": "select"}) if path is not None else None
    if phase_done:
        best_epoch = int(phase_done["best_epoch"])
        sel_metrics = phase_done["metrics"]
    else:
        net, scaler, res = _train_phase(
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
        net, scaler, res = _train_phase(
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
    )
    if path is not None:
        save_checkpoint(
            path, {**model.checkpoint_payload(), **{k: header[k] for k in ("seed", "config_hash")}}
        )
    return model, metrics


# ---------------------------------------------------------------------------- forecasting
def _forecast_rows(
    returns: pd.DataFrame, forecast_dates: Iterable[Any], window: int
) -> tuple[pd.DatetimeIndex, NDArray[np.int64]]:
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(list(forecast_dates)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"forecast_dates must be dates: {exc}") from exc
    if len(dates) == 0:
        raise ValueError("forecast_dates is empty")
    if not dates.is_unique or not dates.is_monotonic_increasing:
        raise ValueError("forecast_dates must be sorted increasing without duplicates")
    rows = pd.DatetimeIndex(returns.index).get_indexer(dates)
    if (rows < 0).any():
        raise ValueError(f"forecast_dates {dates[rows < 0][0].date()} not in the returns index")
    if rows.min() < window:
        raise ValueError(
            f"forecast date {dates[0].date()} has fewer than window={window} earlier returns"
        )
    return dates, rows.astype(np.int64)


def forecast_ddpm(
    model: DDPMModel,
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    n_scenarios: int = 500,
    sampler: str | None = None,
    n_steps: int | None = None,
    eta: float | None = None,
    seed: int = 0,
    series: Sequence[str] | None = None,
    spacing: str | None = None,
    noise: str | None = None,
    order: int | None = None,
    progress: bool | None = None,
) -> tuple[pd.DataFrame, ScenarioSet]:
    """One-day VaR/CVaR forecasts and scenarios for every date and series.

    Parameters
    ----------
    model : DDPMModel
    returns : DataFrame (dates × series)
        All history; the forecast for date d uses rows strictly before d (its scaled
        window and volatility forecast), and ``returns.loc[d]`` only as the realised value.
    forecast_dates : sequence of dates
        Sorted, unique, each in ``returns.index`` with at least ``window`` earlier rows.
    n_scenarios : int, default 500
        Scenarios per day and series (5,000 works; memory is chunked).
    sampler, n_steps, eta, spacing, noise, order
        Sampling options; ``None`` takes the model config's defaults (``sampler="ddpm"``
        runs all T ancestral steps and ignores ``n_steps``).
    seed : int
        Seed of the sampling generator.
    series : sequence of str, optional
        Series to forecast (default: every series of the model).
    progress : bool, optional
        tqdm progress (``None``: only on a terminal).

    Returns
    -------
    frame : DataFrame
        The forecast table (:func:`diffrisk.forecasts.risk_frame_from_scenarios`): VaR and
        CVaR are returns (negative numbers), an exception is ``r_t < VaR_t``.
    scenarios : ScenarioSet
        (S, D, N) float32 return scenarios ``m_t + sigma_t z``.
    """
    cfg = model.config
    torch.set_num_threads(int(cfg.threads))
    names = list(series) if series is not None else model.series
    cols = _columns(model.scaler, names, "series")
    dates, rows = _forecast_rows(returns, forecast_dates, cfg.window)
    history = returns.iloc[: int(rows.max()) + 1]
    prep = _prepare(history, model.scaler)
    data = _tensors(prep, rows, cols, cfg)
    z = sample_scaled(
        model.net,
        model.schedule,
        data,
        n_scenarios,
        seed=seed,
        sampler=sampler or cfg.sampler,
        n_steps=n_steps or cfg.n_steps,
        eta=cfg.eta if eta is None else eta,
        spacing=spacing or cfg.spacing,
        noise=noise or cfg.noise,
        order=cfg.order if order is None else order,
        variance=cfg.variance,
        progress=progress,
    )
    # float32 throughout: (S, D, N) can be large (22 x 1006 x 5000 = 442 MB)
    scen = z.numpy().reshape(len(cols), rows.size, n_scenarios)
    scen *= prep.sigma[rows][:, cols].T[:, :, None].astype(np.float32)
    scen += prep.loc[rows][:, cols].T[:, :, None].astype(np.float32)
    realized = history[names].to_numpy(dtype=np.float64)[rows].T
    frame = risk_frame_from_scenarios(scen, dates, names, realized)
    return frame, ScenarioSet(scenarios=scen, dates=dates, series=names)


# ---------------------------------------------------------------------------- diagnostics
def validation_diagnostics(
    frame: pd.DataFrame,
    scenarios: ScenarioSet,
    alphas: Sequence[float] = _SCORE_ALPHAS,
    n_bins: int = 10,
) -> pd.DataFrame:
    """Exception rates, FZ0 and the PIT of each realised return within its scenarios.

    Parameters
    ----------
    frame : DataFrame
        Forecast table (``date, series, realized, var_XX, cvar_XX``).
    scenarios : ScenarioSet
        The scenarios the table was computed from.
    alphas : sequence of float
        Tail probabilities to report (default 5 % and 1 %).
    n_bins : int
        PIT histogram bins.

    Returns
    -------
    DataFrame, one row per series
        ``n_obs``, ``exception_rate_XX`` (share of days with ``r_t < VaR_t``),
        ``fz0_XX``, ``pit_ks_stat``, ``pit_ks_pvalue`` (KS test of the PIT values against
        U(0, 1)), ``pit_hist`` (list of bin frequencies, each ideally ``1 / n_bins``).

    Notes
    -----
    The PIT of day t is the share of scenarios ``<= r_t``; with N scenarios it lives on a
    grid of step 1/N, which the KS test ignores (negligible for N ≥ 500).
    """
    from .forecasts import cvar_column, var_column

    rows = []
    for name in scenarios.series:
        sub = frame[frame["series"] == name].set_index("date").reindex(scenarios.dates)
        if sub["realized"].isna().any():
            raise ValueError(f"frame lacks rows for series {name!r} on some scenario dates")
        r = sub["realized"].to_numpy(dtype=float)
        scen = np.asarray(scenarios.for_series(name), dtype=float)
        pit = (scen <= r[:, None]).mean(axis=1)
        ks = stats.kstest(pit, "uniform")
        hist, _ = np.histogram(pit, bins=n_bins, range=(0.0, 1.0))
        row: dict[str, Any] = {"series": name, "n_obs": int(r.size)}
        for a in alphas:
            v = sub[var_column(a)].to_numpy(dtype=float)
            e = sub[cvar_column(a)].to_numpy(dtype=float)
            tag = var_column(a)[4:]
            row[f"exception_rate_{tag}"] = float(np.mean(r < v))
            row[f"fz0_{tag}"] = fz0_mean(r, v, e, a)
        row.update(
            {
                "pit_ks_stat": float(ks.statistic),
                "pit_ks_pvalue": float(ks.pvalue),
                "pit_hist": (hist / max(r.size, 1)).tolist(),
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)
