"""Multivariate stress scenarios: a conditional diffusion model of joint multi-day paths.

The model generates ``H``-day paths of the daily log returns of all constituents at once,
``(n_paths, H, n_assets)``, conditioned on

* the previous ``k`` days of every asset (the *history*, ending the day before the path's
  first day), and
* a *stress signature* of the path (:data:`diffrisk.scenario_baselines.SIGNATURE_COLUMNS`):
  the realised volatility of the equal-weighted portfolio relative to its causal EWMA
  forecast, the portfolio's cumulative log return over the horizon and the average
  pairwise correlation of the constituents.

Design (issue 6, following the stress-scenario paper, ``papers/000_*``):

* **Volatility-scaled noise.** Each asset's path and history are divided by its causal
  EWMA volatility at the conditioning date (data up to the day before); the diffusion runs
  on these scaled returns and samples are multiplied back. The forward noise is therefore
  proportional to each series' current volatility, as the paper proposes.
* **Denoiser.** Residual temporal convolutions across the horizon with the assets as
  channels (every layer mixes all assets); the timestep embedding, the history encoding
  and the signature embedding are added and injected into every block by FiLM. The
  network predicts ``v`` (Salimans & Ho 2022), converted to the noise prediction the
  shared step functions take (:func:`eps_from_v`): an eps-predicting network is not
  accurate enough at the noisiest steps when x0 is never clipped.
* **Condition dropout and guidance.** In training each signature component is replaced by
  a learned null token with probability ``p_drop_component`` and the whole signature with
  probability ``p_uncond``. At sampling, classifier-free guidance mixes the predictions
  with and without the requested components:
  ``eps = eps_null + w (eps_request - eps_null)``. ``w = 0`` *is* the unconditional model
  (the conditional pass is skipped), ``w = 1`` the plain conditional model, ``w > 1`` pushes
  harder toward the request. A partial request (e.g. only ``vol_ratio``) leaves the other
  components to the model.
* **Unconditional sets: a two-stage sampler.** Without a stress request, each path's
  signature is drawn from the training windows whose history features are nearest to the
  conditioning date's (:func:`draw_prior_signatures`) and the path is generated with
  guidance toward it. The null-signature branch alone under-disperses path-level
  volatility and horizon returns (measured by ``benchmarks/stress_sampler_steps.py``).
* **Reuse.** The noise schedule, the reverse chain
  (:func:`diffrisk.diffusion.sampler.reverse_process`: DDPM, DDIM and DPM-Solver++(2M)
  steps), the initial noise, the timestep embedding, the residual dilated block, and the
  training loop (:func:`diffrisk.diffusion.training.train_denoiser`: AdamW, EMA, early
  stopping) come from :mod:`diffrisk.diffusion`. This module supplies only what is
  specific to paths: the network, the v-prediction loss with condition dropout
  (:func:`_denoising_loss`) and the guided noise prediction
  (:func:`sample_scaled_paths`).

Leakage rules: every statistic (signature scaler, feature scaler, target scale, training
signature range, regime thresholds, minimum-variance weights) is fitted on training data
only; the model trains on windows that end on or before ``train_end`` and selects its
epoch on windows inside the validation period; a scenario set conditioned on date ``d``
reads returns strictly before ``d`` only.

Sign conventions: returns are log returns as fractions (0.01 = 1 %); VaR, ES and
conditional drawdown are returns (negative numbers for losses); ``alpha`` is the tail
probability (0.05 = 95 % VaR); a loss beyond VaR is ``L < VaR`` (strict).
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike, NDArray
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from . import audit, io, paths
from .diffusion.denoiser import ResidualDilatedBlock, SinusoidalTimeEmbedding
from .diffusion.sampler import initial_noise, reverse_process, reverse_steps
from .diffusion.schedule import NoiseSchedule, extract
from .diffusion.training import TrainOptions, read_checkpoint, save_checkpoint, train_denoiser
from .risk import cvar, var
from .scenario_baselines import (
    SIGNATURE_COLUMNS,
    ewma_volatility,
    filtered_block_bootstrap_paths,
    historical_signatures,
    multivariate_normal_paths,
    out_of_range,
    signature_range,
    stress_signature,
)
from .validation import (
    HEADLINE_METRICS,
    equal_weight_log_returns,
    fit_regime_thresholds,
    headline_bootstrap,
    historical_paths,
    summary_scores,
    validate_scenarios,
)

__all__ = [
    "StressRangeWarning",
    "StressConfig",
    "StressSpec",
    "StressDenoiser",
    "StressModel",
    "Archetype",
    "CrisisWindow",
    "constituent_returns",
    "conditioning_inputs",
    "training_windows",
    "train_stress_model",
    "save_stress_model",
    "load_stress_model",
    "eps_from_v",
    "sample_scaled_paths",
    "generate_paths",
    "draw_prior_signatures",
    "parse_archetypes",
    "parse_crisis_windows",
    "resolve_archetype",
    "calibrate_guidance",
    "generate_scenario_set",
    "write_scenario_set",
    "read_scenario_set",
    "regenerate_scenario_set",
    "baseline_scenario_set",
    "achieved_signatures",
    "parse_portfolios",
    "minimum_variance_weights",
    "portfolio_path_returns",
    "conditional_drawdown",
    "risk_summary",
    "stress_report_section",
    "run_stress_train",
    "run_stress_generate",
    "run_stress_validate",
]

logger = logging.getLogger(__name__)

NON_CONSTITUENTS: tuple[str, ...] = ("portfolio", "sp500")
"""Columns of :func:`diffrisk.data.load_returns` that are not constituents."""

GENERATORS: tuple[str, ...] = ("diffusion", "normal", "bootstrap")
"""Scenario generators compared in the validation table."""

UNCONDITIONAL = "unconditional"


class StressRangeWarning(UserWarning):
    """A requested stress signature lies outside the range seen in training."""


# --------------------------------------------------------------------------- config
@dataclass(frozen=True)
class StressConfig:
    """Model, diffusion and training settings of the stress-scenario generator.

    Parameters
    ----------
    horizon : int
        H, days per generated path.
    history : int
        k, past days of every asset fed to the history encoder.
    width : int
        Channels of the denoiser's temporal convolutions.
    n_blocks : int
        FiLM residual blocks of the denoiser (block i has dilation ``2 ** (i % 4)``).
    history_width : int
        Channels of the history encoder.
    history_blocks : int
        Residual dilated blocks of the history encoder.
    emb_dim : int
        Width of the time, history and signature embeddings (summed, then FiLM).
    schedule : {"linear", "cosine"}
        Beta schedule of :class:`diffrisk.diffusion.schedule.NoiseSchedule`: ``linear`` =
        the DDPM betas rescaled to T steps (``1e-4 * 1000 / T`` to ``0.02 * 1000 / T``);
        ``cosine`` = Nichol & Dhariwal with betas capped at 0.1. (With the usual cap of
        0.999 the last step's alpha-bar falls 1000-fold, which multiplies the noise
        prediction error by ~30 on the first reverse step; without x0 clipping the samples
        then explode.)
    diffusion_steps : int
        T, training diffusion steps.
    p_uncond : float
        Probability that the whole signature is replaced by the null tokens.
    p_drop_component : float
        Probability that one signature component is replaced by its null token.
    pacf_weight : float
        Weight of the PACF penalty (0 disables it): squared deviation of the partial
        autocorrelations (lags 1..``pacf_lags``) of the predicted ``x0`` of a batch from
        those of the training targets, on low-noise steps (``t < T / 2``).
    pacf_lags : int
        Lags of the PACF penalty.
    history_clip : float
        Bound on the scaled history values fed to the encoder (targets are never clipped).
    history_stats : bool
        Feed the history's average pairwise correlations and recent realised volatility
        to the history encoder (:func:`_history_scalars`); False keeps only the two
        volatility forecasts (the ablation).
    amplitude_embedding : bool
        Embed the noisy sample's own amplitude in the denoiser (:func:`_amplitude`);
        False is the ablation.
    ewma_lambda : float
        EWMA decay of the volatility scaling and of the portfolio volatility forecast.
    ewma_warmup : int
        Days initialising the EWMA.
    lr, weight_decay, batch_size, max_epochs, patience, min_epochs, grad_clip, ema_decay
        Optimisation (the fields of :class:`diffrisk.diffusion.training.TrainOptions`).
    samples_per_epoch : int
        Training windows drawn per epoch (0 = all).
    threads : int
        ``torch.set_num_threads`` during training and sampling.
    """

    horizon: int = 20
    history: int = 60
    width: int = 48
    n_blocks: int = 4
    history_width: int = 32
    history_blocks: int = 3
    emb_dim: int = 64
    schedule: str = "linear"
    diffusion_steps: int = 200
    p_uncond: float = 0.5
    p_drop_component: float = 0.3
    pacf_weight: float = 0.0
    pacf_lags: int = 5
    history_clip: float = 10.0
    history_stats: bool = True
    amplitude_embedding: bool = True
    ewma_lambda: float = 0.94
    ewma_warmup: int = 30
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 256
    max_epochs: int = 60
    patience: int = 10
    min_epochs: int = 5
    grad_clip: float = 1.0
    ema_decay: float = 0.995
    samples_per_epoch: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        for name in (
            "horizon",
            "history",
            "width",
            "n_blocks",
            "history_width",
            "emb_dim",
            "diffusion_steps",
            "pacf_lags",
            "threads",
        ):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"StressConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.horizon < 2:
            raise ValueError(f"StressConfig.horizon must be >= 2, got {self.horizon}")
        if self.pacf_lags >= self.horizon:
            raise ValueError(
                f"StressConfig.pacf_lags must be < horizon={self.horizon}, got {self.pacf_lags}"
            )
        for name in ("p_uncond", "p_drop_component"):
            if not 0.0 <= float(getattr(self, name)) < 1.0:
                raise ValueError(
                    f"StressConfig.{name} must be in [0, 1), got {getattr(self, name)!r}"
                )
        if self.schedule not in ("cosine", "linear"):
            raise ValueError(
                f"StressConfig.schedule must be 'cosine' or 'linear', got {self.schedule!r}"
            )
        if self.pacf_weight < 0 or self.history_clip <= 0:
            raise ValueError("StressConfig needs pacf_weight >= 0 and history_clip > 0")
        TrainOptions(**self.train_options_dict())  # validates the optimisation fields

    def train_options_dict(self) -> dict[str, Any]:
        """The fields of :class:`TrainOptions` (one noise draw per window)."""
        return {
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "batch_size": self.batch_size,
            "noise_draws": 1,
            "max_epochs": self.max_epochs,
            "patience": self.patience,
            "min_epochs": self.min_epochs,
            "grad_clip": self.grad_clip,
            "ema_decay": self.ema_decay,
            "samples_per_epoch": self.samples_per_epoch,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> StressConfig:
        """Build from a mapping (``params.yaml``'s ``stress.model``); unknown keys raise."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown stress.model parameters {unknown}; expected some of {sorted(known)}"
            )
        return cls(**dict(values))

    @classmethod
    def smoke(cls) -> StressConfig:
        """A tiny configuration for end-to-end tests (a few seconds on one core)."""
        return cls(
            horizon=10,
            history=20,
            width=8,
            n_blocks=2,
            history_width=8,
            history_blocks=1,
            emb_dim=16,
            diffusion_steps=20,
            max_epochs=1,
            min_epochs=1,
            patience=1,
            batch_size=256,
            samples_per_epoch=512,
            lr=2e-3,
            ema_decay=0.0,
        )


# --------------------------------------------------------------------------- data
def constituent_returns(returns: pd.DataFrame) -> pd.DataFrame:
    """The constituents' columns of the study's returns frame (drops ``portfolio``, ``sp500``).

    Raises
    ------
    ValueError
        If fewer than 2 constituents remain or a value is missing.
    """
    frame = returns.drop(columns=[c for c in NON_CONSTITUENTS if c in returns.columns])
    if frame.shape[1] < 2:
        raise ValueError(
            f"returns must hold at least 2 constituent columns besides "
            f"{NON_CONSTITUENTS}, got {list(frame.columns)}"
        )
    if not np.isfinite(frame.to_numpy(dtype=float)).all():
        raise ValueError("returns has NaN or infinite constituent values")
    return frame


def _position(index: pd.DatetimeIndex, as_of: str | pd.Timestamp | None) -> int:
    """Row position of the conditioning date: rows strictly before it form the history.

    ``None`` or ``""`` means the day after the last row (history = all rows).
    """
    if as_of is None or (isinstance(as_of, str) and not as_of.strip()):
        return len(index)
    try:
        stamp = pd.Timestamp(as_of)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"as_of={as_of!r} is not a date") from exc
    return int(index.searchsorted(stamp, side="left"))


@dataclass(frozen=True)
class ConditioningInputs:
    """What the model sees of the past at one conditioning date (rows ``< s`` only).

    Attributes
    ----------
    history : ndarray (n_assets, k)
        The last k returns of each asset divided by ``sigma`` (clipped).
    sigma : ndarray (n_assets,)
        EWMA volatility forecast of each asset for the first day of the path.
    portfolio_vol : float
        EWMA volatility forecast of the equal-weighted portfolio for that day.
    """

    history: NDArray[np.float64]
    sigma: NDArray[np.float64]
    portfolio_vol: float


def conditioning_inputs(
    past: ArrayLike, k: int, *, lam: float = 0.94, warmup: int = 30, clip: float = 10.0
) -> ConditioningInputs:
    """Conditioning inputs from the returns strictly before the conditioning date.

    Parameters
    ----------
    past : array_like, shape (s, n_assets)
        Daily log returns of the constituents up to the day before the path starts.
    k : int
        History length.
    lam, warmup : float, int
        EWMA decay and warm-up (:func:`diffrisk.scenario_baselines.ewma_volatility`).
    clip : float
        Bound on the scaled history.

    Returns
    -------
    ConditioningInputs
    """
    arr = np.asarray(past, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"past must be 2-D (days, n_assets), got ndim={arr.ndim}")
    if arr.shape[0] < max(k, warmup):
        raise ValueError(
            f"need at least max(history={k}, warmup={warmup}) days before the "
            f"conditioning date, got {arr.shape[0]}"
        )
    sigma = ewma_volatility(arr, lam=lam, warmup=warmup)[-1]
    if not np.all(np.isfinite(sigma)) or np.any(sigma <= 0):
        raise ValueError(
            "an asset has a zero EWMA volatility at the conditioning date "
            "(its price has not moved): cannot scale it"
        )
    port = float(ewma_volatility(equal_weight_log_returns(arr), lam=lam, warmup=warmup)[-1])
    history = np.clip(arr[-k:] / sigma, -clip, clip).T
    return ConditioningInputs(history=history, sigma=sigma, portfolio_vol=port)


@dataclass
class WindowSet:
    """Training windows as arrays (n windows).

    Attributes
    ----------
    targets : ndarray (n, n_assets, H)
        Scaled paths ``r / sigma`` (not clipped).
    history : ndarray (n, n_assets, k)
    sigma : ndarray (n, n_assets)
    portfolio_vol : ndarray (n,)
    signature : DataFrame (n rows)
        :data:`SIGNATURE_COLUMNS` of the raw paths.
    starts : DatetimeIndex
        First day of each path.
    """

    targets: NDArray[np.float32]
    history: NDArray[np.float32]
    sigma: NDArray[np.float64]
    portfolio_vol: NDArray[np.float64]
    signature: pd.DataFrame
    starts: pd.DatetimeIndex

    def __len__(self) -> int:
        return int(self.targets.shape[0])


def training_windows(
    returns: pd.DataFrame,
    first_start: str | pd.Timestamp | None,
    last_end: str | pd.Timestamp,
    config: StressConfig,
) -> WindowSet:
    """Every overlapping H-day window with ``first_start <= start`` and ``end <= last_end``.

    Parameters
    ----------
    returns : DataFrame (T, n_assets)
        Constituent returns; rows after ``last_end`` are dropped before anything is
        computed, so nothing after ``last_end`` can reach a window.
    first_start : date or None
        Earliest first day of a window (None: as early as the history allows).
    last_end : date
        Latest last day of a window (``train_end`` for training windows).
    config : StressConfig

    Returns
    -------
    WindowSet
        Windows whose assets all have a positive EWMA volatility at the start.
    """
    frame = returns.loc[returns.index <= pd.Timestamp(last_end)]
    arr = frame.to_numpy(dtype=float)
    k, h = config.history, config.horizon
    lo = max(k, config.ewma_warmup)
    if first_start is not None:
        lo = max(lo, int(frame.index.searchsorted(pd.Timestamp(first_start), side="left")))
    starts = np.arange(lo, arr.shape[0] - h + 1)
    if starts.size == 0:
        raise ValueError(
            f"no {h}-day window with {k} days of history fits between {first_start} and {last_end}"
        )
    sigma_all = ewma_volatility(arr, lam=config.ewma_lambda, warmup=config.ewma_warmup)
    port_all = ewma_volatility(
        equal_weight_log_returns(arr), lam=config.ewma_lambda, warmup=config.ewma_warmup
    )
    sigma = sigma_all[starts]
    ok = np.all(np.isfinite(sigma) & (sigma > 0), axis=1) & (port_all[starts] > 0)
    starts, sigma = starts[ok], sigma[ok]
    paths = np.lib.stride_tricks.sliding_window_view(arr, h, axis=0)[starts]  # (n, A, H)
    hist = np.lib.stride_tricks.sliding_window_view(arr, k, axis=0)[starts - k]  # (n, A, k)
    scale = sigma[:, :, None]
    signature = stress_signature(np.swapaxes(paths, 1, 2), port_all[starts])
    return WindowSet(
        targets=(paths / scale).astype(np.float32),
        history=np.clip(hist / scale, -config.history_clip, config.history_clip).astype(np.float32),
        sigma=sigma,
        portfolio_vol=port_all[starts],
        signature=signature,
        starts=pd.DatetimeIndex(frame.index[starts]),
    )


# --------------------------------------------------------------------------- scalers
def signature_features(
    signature: Mapping[str, float] | pd.DataFrame, portfolio_vol: ArrayLike, horizon: int
) -> pd.DataFrame:
    """Transform raw signatures into the model's conditioning scale (before standardising).

    ``vol_ratio -> log(vol_ratio)``; ``cum_return -> cum_return / (portfolio_vol sqrt(H))``
    (the move in units of the horizon's forecast volatility, so that an absolute request
    such as −15 % means more stress on a calm day than on a turbulent one); ``avg_corr``
    unchanged. Missing components stay NaN.
    """
    frame = (
        signature.loc[:, [c for c in SIGNATURE_COLUMNS if c in signature.columns]]
        if isinstance(signature, pd.DataFrame)
        else pd.DataFrame([dict(signature)])
    )
    frame = frame.reindex(columns=list(SIGNATURE_COLUMNS)).astype(float)
    vol = np.broadcast_to(np.asarray(portfolio_vol, dtype=float), (len(frame),))
    if (frame["vol_ratio"] <= 0).any():
        raise ValueError("signature vol_ratio must be > 0")
    return pd.DataFrame(
        {
            "vol_ratio": np.log(frame["vol_ratio"].to_numpy()),
            "cum_return": frame["cum_return"].to_numpy() / (vol * math.sqrt(horizon)),
            "avg_corr": frame["avg_corr"].to_numpy(),
        }
    )


RECENT_DAYS = 20
"""Days of the short history window of :func:`_history_scalars`."""

N_HISTORY_SCALARS = 5
"""Number of scalar history features (:func:`_history_scalars`)."""


def _average_correlation(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mean pairwise correlation of the assets over the last axis of ``x`` (n, A, days)."""
    c = x - x.mean(axis=-1, keepdims=True)
    sd = np.sqrt((c**2).mean(axis=-1))
    z = c / np.where(sd > 0, sd, 1.0)[..., None]
    corr = np.einsum("nad,nbd->nab", z, z) / x.shape[-1]
    a = x.shape[1]
    return (corr.sum(axis=(1, 2)) - np.trace(corr, axis1=1, axis2=2)) / (a * (a - 1))


def _history_scalars(
    sigma: NDArray[np.float64], portfolio_vol: ArrayLike, history: ArrayLike
) -> NDArray[np.float64]:
    """Scalar summaries of the past fed to the history encoder, shape (n, 5).

    Columns: log EWMA volatility of the equal-weighted portfolio; mean log EWMA volatility
    of the assets; mean pairwise correlation of the assets over the whole history and over
    its last :data:`RECENT_DAYS` days; log root-mean-square of the scaled history over its
    last :data:`RECENT_DAYS` days (recent realised volatility relative to the current
    forecast). A convolution over the assets cannot form the cross-products a correlation
    needs, so the co-movement level of the recent past is given explicitly; everything is
    computed from rows before the conditioning date.

    Parameters
    ----------
    sigma : ndarray (n, A) or (A,)
        EWMA volatility forecast of each asset.
    portfolio_vol : array_like (n,) or scalar
        EWMA volatility forecast of the equal-weighted portfolio.
    history : array_like (n, A, k) or (A, k)
        Scaled history (:attr:`ConditioningInputs.history`).
    """
    s = np.atleast_2d(sigma)
    hist = np.asarray(history, dtype=np.float64)
    hist = hist[None] if hist.ndim == 2 else hist
    recent = hist[..., -min(RECENT_DAYS, hist.shape[-1]) :]
    return np.column_stack(
        [
            np.log(np.atleast_1d(np.asarray(portfolio_vol, float))),
            np.log(s).mean(axis=1),
            _average_correlation(hist),
            _average_correlation(recent),
            0.5 * np.log((recent**2).mean(axis=(1, 2)) + 1e-12),
        ]
    )


# --------------------------------------------------------------------------- network
@dataclass(frozen=True)
class StressSpec:
    """Shape of :class:`StressDenoiser` (plain numbers, serialisable)."""

    n_assets: int
    horizon: int
    history: int
    width: int = 48
    n_blocks: int = 4
    history_width: int = 32
    history_blocks: int = 3
    emb_dim: int = 64
    n_scalars: int = N_HISTORY_SCALARS
    n_signature: int = len(SIGNATURE_COLUMNS)
    amplitude: bool = True


class FiLMBlock(nn.Module):
    """Residual block over the horizon: ``x + conv(SiLU(FiLM(conv(SiLU(norm(x))))))``.

    FiLM (Perez et al. 2018): ``h * (1 + scale) + shift`` with ``(scale, shift)`` a linear
    map of the summed embedding. Convolutions are non-causal ('same' padding): the whole
    path is generated jointly.
    """

    def __init__(self, width: int, emb_dim: int, dilation: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(min(8, width), width)
        self.conv1 = nn.Conv1d(width, width, 3, dilation=dilation, padding=dilation)
        self.film = nn.Linear(emb_dim, 2 * width)
        self.conv2 = nn.Conv1d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """Apply to ``x`` (B, width, H) with the embedding ``emb`` (B, emb_dim)."""
        h = self.conv1(F.silu(self.norm(x)))
        scale, shift = self.film(emb).unsqueeze(-1).chunk(2, dim=1)
        return x + self.conv2(F.silu(h * (1.0 + scale) + shift))


def _amplitude(x: torch.Tensor) -> torch.Tensor:
    """Log root-mean-square of each sample (B, A, H) and of its cross-sectional mean, (B, 2).

    The group normalisations of the denoiser remove the overall scale of a sample from its
    hidden features; without these two numbers the network cannot see how volatile (and,
    through the mean across assets, how correlated) the noisy path it is denoising is,
    and the generated paths come out with too little dispersion of volatility.
    """
    total = 0.5 * torch.log((x**2).mean(dim=(1, 2)) + 1e-8)
    market = 0.5 * torch.log((x.mean(dim=1) ** 2).mean(dim=1) + 1e-8)
    return torch.stack([total, market], dim=-1)


class StressDenoiser(nn.Module):
    """``v = f(x_t, t, history, signature)`` for scaled paths ``x`` of shape (B, A, H).

    Parts: a history encoder (residual dilated convolutions over the k past days, assets as
    channels, pooled at the last step and on average, plus two scalar volatility features),
    a signature embedding with one learned null token per component (a component whose
    mask is 1 is replaced by its token; the mask is an input too), the sinusoidal timestep
    embedding of :mod:`diffrisk.diffusion.denoiser`, an embedding of the noisy sample's
    own amplitude (:func:`_amplitude`), and FiLM residual blocks over the horizon. The
    output convolution starts at zero.
    """

    def __init__(self, spec: StressSpec) -> None:
        super().__init__()
        self.spec = spec
        a, w, hw, d = spec.n_assets, spec.width, spec.history_width, spec.emb_dim
        self.history_proj = nn.Conv1d(a, hw, 1)
        self.history_blocks = nn.ModuleList(
            ResidualDilatedBlock(hw, 2**i, 3, 0.0) for i in range(spec.history_blocks)
        )
        self.history_out = nn.Sequential(
            nn.Linear(2 * hw + spec.n_scalars, d), nn.SiLU(), nn.Linear(d, d)
        )
        self.null_token = nn.Parameter(torch.zeros(spec.n_signature))
        self.signature_mlp = nn.Sequential(
            nn.Linear(2 * spec.n_signature, d), nn.SiLU(), nn.Linear(d, d)
        )
        self.time = SinusoidalTimeEmbedding(d)
        self.amplitude = (
            nn.Sequential(nn.Linear(2, d), nn.SiLU(), nn.Linear(d, d)) if spec.amplitude else None
        )
        self.inp = nn.Conv1d(a, w, 1)
        self.blocks = nn.ModuleList(FiLMBlock(w, d, 2 ** (i % 4)) for i in range(spec.n_blocks))
        self.out_norm = nn.GroupNorm(min(8, w), w)
        self.out = nn.Conv1d(w, a, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def encode_history(self, history: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        """History context (B, emb_dim) from scaled history (B, A, k) and scalars (B, n_scalars)."""
        h = self.history_proj(history)
        for block in self.history_blocks:
            h = block(h)
        return self.history_out(torch.cat([h[..., -1], h.mean(-1), scalars], dim=-1))

    def embed_signature(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Signature embedding (B, emb_dim); ``mask`` 1 = component replaced by its null token.

        NaN values under a mask of 1 are allowed (they are never read).
        """
        m = mask.to(values.dtype)
        filled = torch.where(m > 0, self.null_token.expand_as(values), values)
        return self.signature_mlp(torch.cat([filled, m], dim=-1))

    def forward(
        self, x_t: torch.Tensor, t: torch.Tensor, context: torch.Tensor, signature: torch.Tensor
    ) -> torch.Tensor:
        """Predict ``v = sqrt(ab_t) eps - sqrt(1 - ab_t) x0`` for ``x_t`` (B, A, H) at steps ``t``.

        Convert it to a noise prediction with :func:`eps_from_v`.

        ``context`` and ``signature`` are the (B, emb_dim) outputs of
        :meth:`encode_history` and :meth:`embed_signature`.
        """
        emb = self.time(t) + context + signature
        if self.amplitude is not None:
            emb = emb + self.amplitude(_amplitude(x_t))
        emb = F.silu(emb)
        h = self.inp(x_t)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(F.silu(self.out_norm(h)))


# --------------------------------------------------------------------------- fitted model
@dataclass
class StressModel:
    """A trained stress generator and everything fitted with it (training data only).

    Attributes
    ----------
    net : StressDenoiser
        EMA weights of the selected epoch, eval mode.
    schedule : NoiseSchedule
    config : StressConfig
    assets : list of str
        Constituents, in the column order of generated paths.
    signature_mean, signature_std : ndarray (3,)
        Standardisation of :func:`signature_features` on training windows.
    scalar_mean, scalar_std : ndarray (n_scalars,)
        Standardisation of the volatility features on training windows.
    target_scale : float
        Standard deviation of the scaled training targets (the model sees ``x / scale``).
    target_abs_max : ndarray (n_assets,)
        Largest |scaled return| of each asset in training (soft plausibility bounds).
    signature_bounds : DataFrame
        :func:`signature_range` of the training windows' signatures (out-of-range guard).
    train_end : str
        Last day a training window may reach.
    prior_features, prior_signatures : ndarray (n_windows, n_scalars), (n_windows, 3)
        Standardised history features and standardised signatures of the training
        windows: the signature prior of unconditional sets (:func:`draw_prior_signatures`).
    history : list of dict
        Per-epoch training record.
    """

    net: StressDenoiser
    schedule: NoiseSchedule
    config: StressConfig
    assets: list[str]
    signature_mean: NDArray[np.float64]
    signature_std: NDArray[np.float64]
    scalar_mean: NDArray[np.float64]
    scalar_std: NDArray[np.float64]
    target_scale: float
    target_abs_max: NDArray[np.float64]
    signature_bounds: pd.DataFrame
    train_end: str
    prior_features: NDArray[np.float64]
    prior_signatures: NDArray[np.float64]
    history: list[dict[str, float]] = field(default_factory=list)

    def scalars(
        self, sigma: NDArray[np.float64], portfolio_vol: ArrayLike, history: ArrayLike
    ) -> NDArray:
        """Standardised history features (n, :data:`N_HISTORY_SCALARS`)."""
        raw = _history_scalars(sigma, portfolio_vol, history)[:, : self.net.spec.n_scalars]
        return (raw - self.scalar_mean) / self.scalar_std

    def signature_input(
        self, signature: Mapping[str, float] | pd.DataFrame, portfolio_vol: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Standardised signature values and the null mask (1 where a component is absent)."""
        feats = signature_features(signature, portfolio_vol, self.config.horizon).to_numpy()
        mask = np.isnan(feats).astype(np.float64)
        values = np.where(mask > 0, 0.0, (feats - self.signature_mean) / self.signature_std)
        return values, mask


def _make_schedule(config: StressConfig) -> NoiseSchedule:
    if config.schedule == "linear":
        scale = 1000.0 / config.diffusion_steps
        return NoiseSchedule.create(
            "linear",
            config.diffusion_steps,
            beta_start=1e-4 * scale,
            beta_end=min(0.02 * scale, 0.5),
        )
    return NoiseSchedule.create("cosine", config.diffusion_steps, max_beta=0.1)


def _torch(x: ArrayLike) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


def _pacf_torch(x0: torch.Tensor, lags: int) -> torch.Tensor:
    """PACF (A, L) of a batch of paths (B, A, H), pooled moments per asset (differentiable).

    Same estimator as :func:`diffrisk.validation.path_autocorrelation` followed by the
    Durbin–Levinson recursion of :func:`diffrisk.validation.partial_autocorrelation`.
    """
    c = x0 - x0.mean(dim=(0, 2), keepdim=True)
    var_ = (c**2).mean(dim=(0, 2)) + 1e-8
    rho = torch.stack(
        [(c[..., :-k] * c[..., k:]).mean(dim=(0, 2)) / var_ for k in range(1, lags + 1)], dim=-1
    )
    phi = rho[..., :1]
    out = [rho[..., 0]]
    for k in range(2, lags + 1):
        prev = rho[..., : k - 1]
        num = rho[..., k - 1] - (phi * prev.flip(-1)).sum(-1)
        den = 1.0 - (phi * prev).sum(-1)
        phi_kk = num / den
        phi = torch.cat([phi - phi_kk[..., None] * phi.flip(-1), phi_kk[..., None]], -1)
        out.append(phi_kk)
    return torch.stack(out, dim=-1)


class _Tensors:
    """Torch views of a :class:`WindowSet` in the model's input scale."""

    def __init__(self, windows: WindowSet, model: StressModel) -> None:
        self.x0 = _torch(windows.targets / model.target_scale)
        self.history = _torch(windows.history)
        self.scalars = _torch(model.scalars(windows.sigma, windows.portfolio_vol, windows.history))
        values, _ = model.signature_input(windows.signature, windows.portfolio_vol)
        self.signature = _torch(values)

    def __len__(self) -> int:
        return int(self.x0.shape[0])

    def take(self, index: torch.Tensor | slice) -> dict[str, torch.Tensor]:
        """A batch (the inputs of :func:`_denoising_loss`) of rows ``index``."""
        return {
            "x0": self.x0[index],
            "history": self.history[index],
            "scalars": self.scalars[index],
            "signature": self.signature[index],
        }


def _fit_statistics(
    windows: WindowSet,
    assets: list[str],
    config: StressConfig,
    train_signatures: pd.DataFrame,
    train_end: str,
) -> StressModel:
    feats = signature_features(windows.signature, windows.portfolio_vol, config.horizon).to_numpy()
    n_scalars = N_HISTORY_SCALARS if config.history_stats else 2
    scal = _history_scalars(windows.sigma, windows.portfolio_vol, windows.history)[:, :n_scalars]
    spec = StressSpec(
        n_assets=len(assets),
        horizon=config.horizon,
        history=config.history,
        width=config.width,
        n_blocks=config.n_blocks,
        history_width=config.history_width,
        history_blocks=config.history_blocks,
        emb_dim=config.emb_dim,
        n_scalars=n_scalars,
        amplitude=config.amplitude_embedding,
    )
    sig_mean, sig_std = np.nanmean(feats, axis=0), np.nanstd(feats, axis=0) + 1e-8
    scal_mean, scal_std = scal.mean(axis=0), scal.std(axis=0) + 1e-8
    complete = np.all(np.isfinite(feats), axis=1)
    return StressModel(
        net=StressDenoiser(spec),
        schedule=_make_schedule(config),
        config=config,
        assets=list(assets),
        signature_mean=sig_mean,
        signature_std=sig_std,
        scalar_mean=scal_mean,
        scalar_std=scal_std,
        target_scale=float(np.std(windows.targets)),
        target_abs_max=np.abs(windows.targets).max(axis=(0, 2)).astype(np.float64),
        signature_bounds=signature_range(train_signatures),
        train_end=str(pd.Timestamp(train_end).date()),
        prior_features=((scal - scal_mean) / scal_std)[complete],
        prior_signatures=((feats - sig_mean) / sig_std)[complete],
    )


def _denoising_loss(
    net: StressDenoiser,
    schedule: NoiseSchedule,
    batch: dict[str, torch.Tensor],
    gen: torch.Generator,
    config: StressConfig,
    pacf_target: torch.Tensor | None,
) -> torch.Tensor:
    n = batch["x0"].shape[0]
    t = torch.randint(0, schedule.n_steps, (n,), generator=gen)
    noise = torch.randn(batch["x0"].shape, generator=gen)
    drop_all = torch.rand(n, 1, generator=gen) < config.p_uncond
    drop_one = torch.rand(n, batch["signature"].shape[1], generator=gen) < config.p_drop_component
    mask = (drop_all | drop_one).float()
    x_t = schedule.q_sample(batch["x0"], t, noise)
    context = net.encode_history(batch["history"], batch["scalars"])
    v_hat = net(x_t, t, context, net.embed_signature(batch["signature"], mask))
    sqrt_ab = extract(schedule.sqrt_alpha_bars, t, x_t.shape)
    sqrt_1m = extract(schedule.sqrt_one_minus_alpha_bars, t, x_t.shape)
    loss = torch.mean((v_hat - (sqrt_ab * noise - sqrt_1m * batch["x0"])) ** 2)
    if pacf_target is not None and config.pacf_weight > 0:
        low = t < schedule.n_steps // 2
        if int(low.sum()) >= 8:
            x0_hat = sqrt_ab[low] * x_t[low] - sqrt_1m[low] * v_hat[low]
            penalty = torch.mean((_pacf_torch(x0_hat, config.pacf_lags) - pacf_target) ** 2)
            loss = loss + config.pacf_weight * penalty
    return loss


@torch.no_grad()
def _evaluate(
    net: StressDenoiser, schedule: NoiseSchedule, data: _Tensors, config: StressConfig, seed: int
) -> float:
    net.eval()
    gen = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    for s in range(0, len(data), 1024):
        batch = data.take(slice(s, s + 1024))
        loss = _denoising_loss(net, schedule, batch, gen, config, None)
        total += float(loss) * batch["x0"].shape[0]
        count += batch["x0"].shape[0]
    return total / max(count, 1)


def train_stress_model(
    returns: pd.DataFrame,
    train_end: str | pd.Timestamp,
    val_start: str | pd.Timestamp,
    val_end: str | pd.Timestamp,
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
    train_end : date
        Last day a training window (and every fitted statistic) may use.
    val_start, val_end : date
        Validation windows start on or after ``val_start`` and end on or before
        ``val_end`` (their history may reach back into training, which is allowed).
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
    ``L_simple`` of Ho et al. 2020 weighted by ``1 / ab_t``, see :func:`eps_from_v`) on
    ``x0 = r / (sigma * target_scale)`` with
    one (t, eps) draw per window, plus the optional PACF penalty
    (``config.pacf_weight``). The validation loss uses fixed (seeded) draws and the same
    condition dropout, so it measures the conditional and the unconditional fit together.
    """
    if pd.Timestamp(val_start) <= pd.Timestamp(train_end):
        raise ValueError(f"val_start={val_start} must be after train_end={train_end}")
    torch.manual_seed(int(seed))
    frame = returns.loc[returns.index <= pd.Timestamp(val_end)]
    train_w = training_windows(frame, None, train_end, config)
    val_w = training_windows(frame, val_start, val_end, config)
    train_sig = historical_signatures(
        frame.loc[frame.index <= pd.Timestamp(train_end)],
        config.horizon,
        lam=config.ewma_lambda,
        warmup=config.ewma_warmup,
    )
    model = _fit_statistics(train_w, list(frame.columns), config, train_sig, str(train_end))
    train_t, val_t = _Tensors(train_w, model), _Tensors(val_w, model)
    pacf_target = _pacf_torch(train_t.x0, config.pacf_lags) if config.pacf_weight > 0 else None
    logger.info(
        "stress model: %d training windows (to %s), %d validation windows",
        len(train_w),
        train_end,
        len(val_w),
    )
    options = TrainOptions(**config.train_options_dict())
    result = train_denoiser(
        model.net,
        model.schedule,
        train_t,
        options,
        seed=int(seed),
        loss_fn=lambda net, batch, gen: _denoising_loss(
            net, model.schedule, batch, gen, config, pacf_target
        ),
        val_loss_fn=lambda net: _evaluate(net, model.schedule, val_t, config, int(seed) + 1),
        progress=progress,
        desc="train stress",
    )
    model.net.load_state_dict(result.state_dict)
    model.net.eval()
    model.history = [
        {k: h[k] for k in ("epoch", "train_loss", "val_loss", "seconds")} for h in result.history
    ]
    return model


def save_stress_model(model: StressModel, path: str | Path) -> Path:
    """Write the model atomically (:func:`diffrisk.diffusion.training.save_checkpoint`).

    The payload holds only tensors, numbers, strings and lists, so the file's SHA-256 is a
    stable identity of the model.
    """
    payload = {
        "kind": "diffrisk.stress",
        "spec": asdict(model.net.spec),
        "config": model.config.to_dict(),
        "state_dict": model.net.state_dict(),
        "assets": list(model.assets),
        "signature_mean": model.signature_mean.tolist(),
        "signature_std": model.signature_std.tolist(),
        "scalar_mean": model.scalar_mean.tolist(),
        "scalar_std": model.scalar_std.tolist(),
        "target_scale": float(model.target_scale),
        "target_abs_max": model.target_abs_max.tolist(),
        "prior_features": torch.as_tensor(model.prior_features),
        "prior_signatures": torch.as_tensor(model.prior_signatures),
        "signature_bounds": model.signature_bounds.to_dict(orient="index"),
        "train_end": model.train_end,
        "history": model.history,
    }
    return save_checkpoint(path, payload)


def load_stress_model(path: str | Path) -> StressModel:
    """Read a model written by :func:`save_stress_model`."""
    payload = read_checkpoint(path)
    if payload.get("kind") != "diffrisk.stress":
        raise ValueError(f"{path} is not a stress-model checkpoint (kind={payload.get('kind')!r})")
    config = StressConfig.from_dict(payload["config"])
    net = StressDenoiser(StressSpec(**payload["spec"]))
    net.load_state_dict(payload["state_dict"])
    net.eval()
    bounds = pd.DataFrame.from_dict(payload["signature_bounds"], orient="index")
    return StressModel(
        net=net,
        schedule=_make_schedule(config),
        config=config,
        assets=list(payload["assets"]),
        signature_mean=np.asarray(payload["signature_mean"]),
        signature_std=np.asarray(payload["signature_std"]),
        scalar_mean=np.asarray(payload["scalar_mean"]),
        scalar_std=np.asarray(payload["scalar_std"]),
        target_scale=float(payload["target_scale"]),
        target_abs_max=np.asarray(payload["target_abs_max"]),
        prior_features=payload["prior_features"].numpy(),
        prior_signatures=payload["prior_signatures"].numpy(),
        signature_bounds=bounds.loc[["lower", "upper"], list(SIGNATURE_COLUMNS)],
        train_end=str(payload["train_end"]),
        history=list(payload.get("history", [])),
    )


# --------------------------------------------------------------------------- sampling
def eps_from_v(schedule: NoiseSchedule, x_t: torch.Tensor, t: int, v: torch.Tensor) -> torch.Tensor:
    """Noise prediction from a v-prediction: ``eps = sqrt(1 - ab_t) x_t + sqrt(ab_t) v``.

    The network predicts ``v = sqrt(ab_t) eps - sqrt(1 - ab_t) x0`` (Salimans & Ho 2022,
    "Progressive distillation", §4). An eps-predicting network must match eps to within
    ``sqrt(ab_t)`` at the noisiest steps (``ab_T`` ≈ 5e-5 here), otherwise ``x0_hat`` is
    off by the error over ``sqrt(ab_T)`` on the first reverse step; with v the eps error is
    ``sqrt(ab_t)`` times the v error. The eps is what the shared step functions of
    :mod:`diffrisk.diffusion.sampler` take. Linear in v, so guidance on v equals guidance
    on eps.
    """
    ab = float(schedule.alpha_bars[t])
    return math.sqrt(1.0 - ab) * x_t + math.sqrt(ab) * v


@torch.no_grad()
def sample_scaled_paths(
    model: StressModel,
    context: torch.Tensor,
    cond_embedding: torch.Tensor,
    null_embedding: torch.Tensor,
    guidance: float,
    *,
    generator: torch.Generator,
    sampler: str = "ddim",
    n_steps: int = 40,
    eta: float = 0.0,
    spacing: str = "linear",
    order: int = 1,
    chunk: int = 2048,
    progress: bool | None = None,
) -> torch.Tensor:
    """Reverse diffusion for a batch of paths with classifier-free guidance.

    The chain is :func:`diffrisk.diffusion.sampler.reverse_process`; this function only
    supplies the guided noise prediction.

    Parameters
    ----------
    model : StressModel
    context, cond_embedding, null_embedding : Tensor (B, emb_dim)
        History context, requested-signature embedding and all-null embedding per path.
    guidance : float
        w >= 0: ``v = v_null + w (v_cond - v_null)`` (the same mixture of the noise
        predictions, since eps is linear in v); ``w = 0`` skips the
        conditional pass, so the result is exactly the unconditional model's.
    generator : torch.Generator
        All randomness (x_T and, for DDPM or eta > 0, the step noise), drawn for the
        whole batch at once so the result does not depend on ``chunk``.
    sampler : {"ddim", "ddpm"}
        DDIM with ``n_steps`` steps or the ancestral sampler over all T steps
        (:func:`diffrisk.diffusion.sampler.reverse_steps`).
    n_steps, eta, spacing
        DDIM settings (:func:`diffrisk.diffusion.sampler.ddim_timesteps`).
    order : {1, 2}
        DDIM solver order: 1 = plain DDIM (default; measured better than 2 on the
        validation suite), 2 = DPM-Solver++(2M) (:func:`~diffrisk.diffusion.sampler.sample`).
    chunk : int
        Paths per network call (memory and cache only).

    Returns
    -------
    Tensor (B, A, H)
        Samples in the model's input scale (``r / (sigma * target_scale)``), unclipped.
    """
    if guidance < 0 or not math.isfinite(guidance):
        raise ValueError(f"guidance must be a finite number >= 0, got {guidance!r}")
    steps = reverse_steps(sampler, model.schedule, None if sampler == "ddpm" else n_steps, spacing)
    net, spec = model.net.eval(), model.net.spec
    n = context.shape[0]

    def guided_eps(x: torch.Tensor, t: int) -> torch.Tensor:
        eps = torch.empty_like(x)
        for s in range(0, n, chunk):
            sl = slice(s, s + chunk)
            tt = torch.full((x[sl].shape[0],), t, dtype=torch.long)
            v = net(x[sl], tt, context[sl], null_embedding[sl])
            if guidance != 0.0:
                v_cond = net(x[sl], tt, context[sl], cond_embedding[sl])
                v = v + guidance * (v_cond - v)
            eps[sl] = eps_from_v(model.schedule, x[sl], t, v)
        return eps

    x = initial_noise(n, spec.n_assets * spec.horizon, generator, "iid").reshape(
        n, spec.n_assets, spec.horizon
    )
    with tqdm(
        total=len(steps),
        desc=f"{sampler} stress sampling",
        disable=(not progress) if progress is not None else None,
        leave=False,
    ) as bar:
        return reverse_process(
            guided_eps,
            model.schedule,
            x,
            steps,
            generator=generator,
            method=sampler,
            eta=eta,
            order=order,
            bar=bar,
        )


def draw_prior_signatures(
    model: StressModel, features: ArrayLike, n_per_date: int, k: int, seed: int
) -> NDArray[np.float64]:
    """Draw standardised signatures from the training windows nearest in history features.

    For each conditioning date (a row of ``features``, the standardised history features of
    :meth:`StressModel.scalars`), the ``k`` training windows with the smallest Euclidean
    distance in the same features are found, and ``n_per_date`` of their signatures are
    drawn with replacement: an analogue (nearest-neighbour) estimate of the distribution
    of the horizon's volatility ratio, cumulative return and correlation given the past.
    Only training windows are searched, so nothing after ``train_end`` is used.

    Parameters
    ----------
    model : StressModel
    features : array_like (n_dates, n_scalars)
    n_per_date : int
    k : int
        Neighbours per date (capped at the number of training windows).
    seed : int
        Seed of ``np.random.default_rng``.

    Returns
    -------
    ndarray (n_dates * n_per_date, 3)
        Standardised signatures (the model's conditioning scale), date-major.
    """
    feats = np.atleast_2d(np.asarray(features, dtype=float))
    bank, sigs = model.prior_features, model.prior_signatures
    if bank.shape[0] == 0 or bank.shape[1] != feats.shape[1]:
        raise ValueError(
            "the model carries no signature prior for these features (retrain it with this "
            "version of diffrisk)"
        )
    k = min(int(k), bank.shape[0])
    rng = np.random.default_rng(int(seed))
    out = []
    for row in feats:
        nearest = np.argsort(((bank - row) ** 2).sum(axis=1), kind="stable")[:k]
        out.append(sigs[rng.choice(nearest, size=int(n_per_date))])
    return np.concatenate(out)


def generate_paths(
    model: StressModel,
    returns: pd.DataFrame,
    as_of: Sequence[str | pd.Timestamp | None],
    n_paths_per_date: int,
    signature: Mapping[str, float] | None,
    *,
    guidance: float,
    seed: int,
    sampler: str = "ddim",
    n_steps: int = 40,
    eta: float = 0.0,
    spacing: str = "linear",
    order: int = 1,
    soft_bound: float = 0.0,
    prior_neighbours: int = 0,
    chunk: int = 2048,
    progress: bool | None = None,
) -> tuple[NDArray[np.float32], pd.DataFrame]:
    """Generate joint H-day paths of the constituents from one or several conditioning dates.

    Parameters
    ----------
    model : StressModel
    returns : DataFrame (T, n_assets)
        Constituent returns with the model's columns; for conditioning date ``d`` only the
        rows strictly before ``d`` are read.
    as_of : sequence of date or None
        First day of the paths (the conditioning date); None/"" = the day after the last row.
    n_paths_per_date : int
    signature : mapping or None
        Requested (partial) stress signature in raw units (e.g. ``{"vol_ratio": 2.0}``);
        None or empty = unconditional.
    guidance : float
        Classifier-free guidance weight w >= 0 (ignored when ``signature`` is empty and
        ``prior_neighbours`` is 0).
    seed : int
        Seed of the :class:`torch.Generator` (and of the prior draws).
    sampler, n_steps, eta, spacing, order : see :func:`sample_scaled_paths`.
    soft_bound : float
        0 = off. Otherwise each scaled daily return is squashed softly,
        ``x -> b tanh(x / b)`` with ``b = soft_bound * target_abs_max`` (the largest
        |scaled return| of the asset in training): a plausibility bound on daily moves.
    prior_neighbours : int
        Only without a requested signature. 0: the model's unconditional branch (null
        signature). K > 0: each path gets a signature drawn from the K training windows
        whose history features are closest to the date's (:func:`draw_prior_signatures`)
        and is generated conditionally on it with weight ``guidance``. The unconditional
        branch under-disperses path-level volatility and horizon returns; drawing the
        signature first (a two-stage sampler) fixes most of that.
    chunk : int
    progress : bool, optional

    Returns
    -------
    paths : ndarray float32 (n_dates * n_paths_per_date, H, n_assets)
        Daily log returns (fractions), paths of date i at rows ``i*n .. (i+1)*n - 1``.
    dates : DataFrame
        Per conditioning date: ``as_of`` (first day of the paths), ``last_history`` (last
        row read), ``portfolio_vol`` (EWMA forecast of the equal-weighted portfolio).
    """
    if list(returns.columns) != list(model.assets):
        raise ValueError(
            f"returns columns {list(returns.columns)} differ from the model's assets {model.assets}"
        )
    if int(n_paths_per_date) != n_paths_per_date or n_paths_per_date < 1:
        raise ValueError(f"n_paths_per_date must be a positive integer, got {n_paths_per_date!r}")
    if soft_bound < 0:
        raise ValueError(f"soft_bound must be >= 0, got {soft_bound}")
    if int(prior_neighbours) != prior_neighbours or prior_neighbours < 0:
        raise ValueError(f"prior_neighbours must be an integer >= 0, got {prior_neighbours!r}")
    request = {k: float(v) for k, v in (signature or {}).items()}
    unknown = sorted(set(request) - set(SIGNATURE_COLUMNS))
    if unknown:
        raise ValueError(f"unknown signature components {unknown}; expected {SIGNATURE_COLUMNS}")
    cfg = model.config
    arr = returns.to_numpy(dtype=float)
    rows, inputs = [], []
    for d in as_of:
        s = _position(returns.index, d)
        inp = conditioning_inputs(
            arr[:s], cfg.history, lam=cfg.ewma_lambda, warmup=cfg.ewma_warmup, clip=cfg.history_clip
        )
        first = (
            returns.index[s]
            if s < len(returns.index)
            else (pd.Timestamp(d) if d not in (None, "") else pd.NaT)
        )
        rows.append(
            {
                "as_of": first,
                "last_history": returns.index[s - 1],
                "portfolio_vol": inp.portfolio_vol,
            }
        )
        inputs.append(inp)
    n = int(n_paths_per_date)
    history = _torch(np.stack([i.history for i in inputs]))
    sigma = np.stack([i.sigma for i in inputs])
    port = np.array([i.portfolio_vol for i in inputs])
    net = model.net.eval()
    with torch.no_grad():
        features = model.scalars(sigma, port, history.numpy())
        context = net.encode_history(history, _torch(features))
        null_vals = torch.zeros(len(inputs), len(SIGNATURE_COLUMNS))
        null = net.embed_signature(null_vals, torch.ones_like(null_vals))
        if request:
            values, mask = model.signature_input(pd.DataFrame([request] * len(inputs)), port)
            cond = net.embed_signature(_torch(values), _torch(mask)).repeat_interleave(n, 0)
        elif prior_neighbours:
            drawn = draw_prior_signatures(model, features, n, int(prior_neighbours), int(seed))
            cond = net.embed_signature(_torch(drawn), torch.zeros(len(drawn), drawn.shape[1]))
        else:
            cond = null.repeat_interleave(n, 0)
    rep = lambda z: z.repeat_interleave(n, dim=0)  # noqa: E731
    gen = torch.Generator().manual_seed(int(seed))
    scaled = (
        sample_scaled_paths(
            model,
            rep(context),
            cond,
            rep(null),
            float(guidance) if (request or prior_neighbours) else 0.0,
            generator=gen,
            sampler=sampler,
            n_steps=n_steps,
            eta=eta,
            spacing=spacing,
            order=order,
            chunk=chunk,
            progress=progress,
        )
        .numpy()
        .astype(np.float64)
        * model.target_scale
    )
    if soft_bound > 0:
        bound = (soft_bound * model.target_abs_max)[None, :, None]
        scaled = bound * np.tanh(scaled / bound)
    paths = np.swapaxes(scaled * np.repeat(sigma, n, axis=0)[:, :, None], 1, 2)
    return paths.astype(np.float32), pd.DataFrame(rows)


# --------------------------------------------------------------------------- archetypes
@dataclass(frozen=True)
class Archetype:
    """A named stress request.

    Attributes
    ----------
    name : str
    signature : dict
        Requested (partial) signature in raw units; empty = unconditional.
    window : tuple of str, optional
        ``(first, last)``: measure the signature from the worst historical H-day window
        (lowest portfolio cumulative return) starting in this period
        (:func:`resolve_archetype`).
    as_of : str, optional
        Conditioning date (first day of the paths); None = the stage's ``as_of`` (for a
        window archetype: the start of its worst window).
    source : str
        How the signature was obtained (filled by :func:`resolve_archetype`).
    """

    name: str
    signature: dict[str, float] = field(default_factory=dict)
    window: tuple[str, str] | None = None
    as_of: str | None = None
    source: str = "requested"


def _parse_period(text: str, where: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split("/")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"{where}: expected a period 'YYYY-MM-DD/YYYY-MM-DD', got {text!r}")
    try:
        first, last = pd.Timestamp(parts[0]), pd.Timestamp(parts[1])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: cannot parse the period {text!r} as dates") from exc
    if first >= last:
        raise ValueError(f"{where}: period {text!r} must start before it ends")
    return str(first.date()), str(last.date())


def parse_archetypes(spec: str) -> list[Archetype]:
    """Parse the ``stress.generate.archetypes`` parameter.

    Format: archetypes separated by ``;``, each ``name`` or ``name: key=value, ...`` with
    keys among :data:`SIGNATURE_COLUMNS` (a requested value), ``window`` (a period
    ``first/last`` whose worst window defines the signature) and ``as_of`` (a date).

    Examples
    --------
    >>> [a.name for a in parse_archetypes("unconditional; volatility_x2: vol_ratio=2")]
    ['unconditional', 'volatility_x2']
    >>> parse_archetypes("decline: cum_return=-0.1625")[0].signature
    {'cum_return': -0.1625}
    """
    out: list[Archetype] = []
    for chunk in (c.strip() for c in str(spec).split(";")):
        if not chunk:
            continue
        name, _, body = chunk.partition(":")
        name = name.strip()
        if not name.replace("_", "").isalnum():
            raise ValueError(f"archetype name {name!r} must be letters, digits and '_'")
        signature: dict[str, float] = {}
        window, as_of = None, None
        for item in (i.strip() for i in body.split(",") if i.strip()):
            key, eq, value = (s.strip() for s in item.partition("="))
            if not eq:
                raise ValueError(f"archetype {name!r}: expected key=value, got {item!r}")
            if key in SIGNATURE_COLUMNS:
                try:
                    signature[key] = float(value)
                except ValueError as exc:
                    raise ValueError(
                        f"archetype {name!r}: {key}={value!r} is not a number"
                    ) from exc
            elif key == "window":
                window = _parse_period(value, f"archetype {name!r}")
            elif key == "as_of":
                as_of = str(pd.Timestamp(value).date())
            else:
                raise ValueError(
                    f"archetype {name!r}: unknown key {key!r}; expected one of "
                    f"{(*SIGNATURE_COLUMNS, 'window', 'as_of')}"
                )
        if window is not None and signature:
            raise ValueError(f"archetype {name!r}: give either a window or signature values")
        if name == UNCONDITIONAL and (signature or window):
            raise ValueError("archetype 'unconditional' takes no signature or window")
        if name != UNCONDITIONAL and not signature and window is None:
            raise ValueError(f"archetype {name!r} has no signature value and no window")
        out.append(Archetype(name, signature, window, as_of))
    names = [a.name for a in out]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate archetype names in {names}")
    if not out:
        raise ValueError("archetypes specification is empty")
    return out


def resolve_archetype(
    archetype: Archetype,
    returns: pd.DataFrame,
    horizon: int,
    *,
    lam: float = 0.94,
    warmup: int = 30,
) -> Archetype:
    """Fill a window archetype's signature from its worst historical window.

    The worst window is the H-day window starting in ``archetype.window`` with the lowest
    cumulative return of the equal-weighted portfolio; its signature is measured by
    :func:`diffrisk.scenario_baselines.historical_signatures` (the volatility forecast
    uses only days before the window). Its first day becomes ``as_of`` unless one is set.
    Other archetypes are returned unchanged.
    """
    if archetype.window is None:
        return archetype
    first, last = (pd.Timestamp(d) for d in archetype.window)
    sig = historical_signatures(
        returns.loc[returns.index <= last + pd.Timedelta(days=62)], horizon, lam=lam, warmup=warmup
    )
    inside = sig[(sig["start"] >= first) & (sig["start"] <= last)]
    if inside.empty:
        raise ValueError(
            f"archetype {archetype.name!r}: no {horizon}-day window starts in "
            f"{archetype.window[0]}/{archetype.window[1]}"
        )
    worst = inside.loc[inside["cum_return"].idxmin()]
    values = {c: float(worst[c]) for c in SIGNATURE_COLUMNS}
    start = str(pd.Timestamp(worst["start"]).date())
    return Archetype(
        archetype.name,
        values,
        archetype.window,
        archetype.as_of or start,
        source=f"worst {horizon}-day window {start}..{pd.Timestamp(worst['end']).date()}",
    )


@dataclass(frozen=True)
class CrisisWindow:
    """A historical crisis period used as a validation reference.

    ``label`` says how it relates to the model: ``in-sample`` (starts in training),
    ``validation`` or ``held out`` (test period).
    """

    name: str
    first: str
    last: str
    label: str


def parse_crisis_windows(
    spec: str, train_end: str | pd.Timestamp, test_start: str | pd.Timestamp
) -> list[CrisisWindow]:
    """Parse ``name=first/last; ...`` (``stress.validate.crisis_windows``) and label each.

    Examples
    --------
    >>> w = parse_crisis_windows("covid=2020-02-19/2020-07-10", "2014-12-31", "2019-01-01")
    >>> (w[0].name, w[0].label)
    ('covid', 'held out')
    """
    out = []
    for chunk in (c.strip() for c in str(spec).split(";") if c.strip()):
        name, eq, period = (s.strip() for s in chunk.partition("="))
        if not eq or not name:
            raise ValueError(f"crisis window {chunk!r}: expected name=first/last")
        first, last = _parse_period(period, f"crisis window {name!r}")
        if pd.Timestamp(first) <= pd.Timestamp(train_end):
            label = "in-sample"
        elif pd.Timestamp(first) >= pd.Timestamp(test_start):
            label = "held out"
        else:
            label = "validation"
        out.append(CrisisWindow(name, first, last, label))
    if not out:
        raise ValueError("crisis_windows specification is empty")
    return out


# --------------------------------------------------------------------------- scenario sets
def _rows_before(returns: pd.DataFrame, as_of: Sequence[str | None]) -> pd.DataFrame:
    """The rows any of the conditioning dates may read (strictly before the latest)."""
    s = max(_position(returns.index, d) for d in as_of)
    return returns.iloc[:s]


def _json_ready(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=io._json_default))


def _sampling_settings(
    sampler: str, n_steps: int, eta: float, spacing: str, order: int, soft_bound: float
) -> dict[str, Any]:
    """The sampling keyword arguments of :func:`generate_paths`, as one mapping."""
    return {
        "sampler": sampler,
        "n_steps": n_steps,
        "eta": eta,
        "spacing": spacing,
        "order": order,
        "soft_bound": soft_bound,
    }


DEFAULT_GUIDANCE_GRID: tuple[float, ...] = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0)
"""Guidance weights tried by :func:`calibrate_guidance`."""


def calibrate_guidance(
    model: StressModel,
    returns: pd.DataFrame,
    signature: Mapping[str, float],
    as_of: Sequence[str | pd.Timestamp | None],
    grid: Sequence[float] = DEFAULT_GUIDANCE_GRID,
    *,
    n_paths_per_date: int = 200,
    seed: int,
    **sampling: Any,
) -> tuple[float, dict[str, Any]]:
    """The guidance weight whose pilot set comes closest to the requested signature.

    For each weight of ``grid`` a pilot set is drawn (same dates, ``n_paths_per_date``
    paths, ``seed``) and scored by the largest relative error of its mean signature over
    the requested components that lie inside the training range (all components if none
    does); the smallest score wins, ties going to the smaller weight. Only the model and
    the request are used: no realised returns after the conditioning dates, so choosing
    the weight this way leaks nothing. The pilot is a separate draw from the final set.

    Parameters
    ----------
    model, returns, signature, as_of
        As in :func:`generate_paths` (an empty signature returns weight 0).
    grid : sequence of float
        Candidate weights (>= 0).
    n_paths_per_date : int
        Pilot paths per conditioning date.
    seed : int
        Seed of every pilot set.
    **sampling
        ``sampler``, ``n_steps``, ``eta``, ``spacing``, ``order``, ``soft_bound`` of
        :func:`generate_paths`.

    Returns
    -------
    weight : float
    record : dict
        ``grid``, ``score`` (per weight), ``components`` scored, ``n_paths_per_date``,
        ``seed``: what the metadata keeps.
    """
    request = {k: float(v) for k, v in signature.items()}
    weights = sorted(float(w) for w in grid)
    if not weights or any(w < 0 or not math.isfinite(w) for w in weights):
        raise ValueError(f"guidance grid must hold finite weights >= 0, got {list(grid)!r}")
    if not request:
        return 0.0, {"grid": weights, "score": [], "components": [], "seed": int(seed)}
    outside = set(out_of_range(request, model.signature_bounds))
    scored = [c for c in request if c not in outside] or list(request)
    scores = []
    for w in weights:
        pilot, dates = generate_paths(
            model, returns, as_of, n_paths_per_date, request, guidance=w, seed=seed, **sampling
        )
        achieved = stress_signature(
            pilot, np.repeat(dates["portfolio_vol"].to_numpy(), n_paths_per_date)
        ).mean()
        scores.append(
            max(abs(achieved[c] - request[c]) / max(abs(request[c]), 1e-12) for c in scored)
        )
        logger.info("guidance %.2f: largest relative error %.3f", w, scores[-1])
    best = int(np.argmin(scores))
    record = {
        "grid": weights,
        "score": [float(x) for x in scores],
        "components": scored,
        "n_paths_per_date": int(n_paths_per_date),
        "seed": int(seed),
    }
    return weights[best], record


def generate_scenario_set(
    model: StressModel,
    returns: pd.DataFrame,
    archetype: Archetype,
    as_of: Sequence[str | None],
    n_paths_per_date: int,
    *,
    guidance: float | str,
    seed: int,
    sampler: str = "ddim",
    n_steps: int = 40,
    eta: float = 0.0,
    spacing: str = "linear",
    order: int = 1,
    soft_bound: float = 0.0,
    guidance_grid: Sequence[float] = DEFAULT_GUIDANCE_GRID,
    calibration_paths: int = 200,
    prior_neighbours: int = 0,
    checkpoint_sha256: str = "",
    data_sha256: str = "",
    params: Mapping[str, Any] | None = None,
) -> tuple[NDArray[np.float32], dict[str, Any]]:
    """Generate a diffusion scenario set and its audit metadata.

    A request outside the range of the training windows' signatures
    (:func:`diffrisk.scenario_baselines.out_of_range` on ``model.signature_bounds``) is
    flagged in the metadata (``out_of_range``) and raises a :class:`StressRangeWarning`.

    ``guidance="auto"`` chooses the weight with :func:`calibrate_guidance` (a pilot set
    per weight of ``guidance_grid``, seed ``seed + 1``); the chosen weight and the pilot
    errors are recorded in the metadata, so regeneration needs no calibration.
    ``prior_neighbours`` (sets without a request only) draws each path's signature from
    the history-nearest training windows (:func:`generate_paths`).

    Returns
    -------
    paths : ndarray float32 (n_dates * n_paths_per_date, H, n_assets)
    metadata : dict
        Everything needed to regenerate the set exactly (:func:`regenerate_scenario_set`):
        generator, archetype, signature, guidance, seed, conditioning dates, sampler
        settings, checkpoint SHA-256, SHA-256 of the returns read, plus the provenance
        record (:func:`diffrisk.audit.provenance`: params, data hash, package version,
        git revision, UTC timestamp).
    """
    flagged = out_of_range(archetype.signature, model.signature_bounds)
    if flagged:
        bounds = model.signature_bounds
        detail = ", ".join(
            f"{c}={archetype.signature[c]:.4g} outside [{bounds.loc['lower', c]:.4g}, "
            f"{bounds.loc['upper', c]:.4g}]"
            for c in flagged
        )
        warnings.warn(
            f"archetype {archetype.name!r} requests a signature outside the range "
            f"seen in training ({detail}); the generator extrapolates",
            StressRangeWarning,
            stacklevel=2,
        )
    sampling = _sampling_settings(sampler, n_steps, eta, spacing, order, soft_bound)
    prior = 0 if archetype.signature else int(prior_neighbours)
    calibration = None
    if isinstance(guidance, str):
        if guidance.strip().lower() != "auto":
            raise ValueError(f"guidance must be a number >= 0 or 'auto', got {guidance!r}")
        guidance, calibration = calibrate_guidance(
            model,
            returns,
            archetype.signature,
            as_of,
            guidance_grid,
            n_paths_per_date=calibration_paths,
            seed=int(seed) + 1,
            **sampling,
        )
    paths, dates = generate_paths(
        model,
        returns,
        as_of,
        n_paths_per_date,
        archetype.signature,
        guidance=guidance,
        seed=seed,
        prior_neighbours=prior,
        **sampling,
    )
    generation = {
        "generator": "diffusion",
        "archetype": archetype.name,
        "archetype_source": archetype.source,
        "signature": dict(archetype.signature),
        "guidance": float(guidance),
        "seed": int(seed),
        "as_of": [None if d in (None, "") else str(pd.Timestamp(d).date()) for d in as_of],
        "n_paths_per_date": int(n_paths_per_date),
        "sampler": sampler,
        "n_steps": int(n_steps),
        "eta": float(eta),
        "spacing": spacing,
        "order": int(order),
        "soft_bound": float(soft_bound),
        "guidance_calibration": None if calibration is None else _json_ready(calibration),
        "prior_neighbours": prior,
    }
    extra = {
        "generation": generation,
        "conditioning": _json_ready(
            dates.assign(
                as_of=dates["as_of"].astype(str), last_history=dates["last_history"].astype(str)
            ).to_dict(orient="list")
        ),
        "assets": list(model.assets),
        "horizon": int(model.config.horizon),
        "checkpoint_sha256": checkpoint_sha256,
        "returns_sha256": audit.frame_sha256(_rows_before(returns, as_of)),
        "out_of_range": flagged,
        "out_of_range_flag": bool(flagged),
        "training_signature_range": _json_ready(model.signature_bounds.to_dict(orient="index")),
        "torch_version": torch.__version__,
        "torch_threads": int(torch.get_num_threads()),
    }
    record = audit.provenance(params or {}, seed, data_sha256, extra=extra)
    return paths, _json_ready(record)


def write_scenario_set(
    path: str | Path, paths_: NDArray[np.float32], metadata: Mapping[str, Any]
) -> Path:
    """Write ``paths`` and its metadata to ``path`` (npz) and ``<path stem>.audit.json``.

    The npz holds ``paths`` (float32), ``assets`` and ``metadata`` (the JSON text), so the
    set is self-describing; both files are written atomically.
    """
    text = json.dumps(_json_ready(dict(metadata)), sort_keys=True)
    out = io.write_npz(
        path,
        paths=np.asarray(paths_, dtype=np.float32),
        assets=np.asarray(metadata.get("assets", []), dtype=str),
        metadata=np.asarray(text),
    )
    audit.write_provenance(Path(path).with_suffix(".audit.json"), json.loads(text))
    return out


def read_scenario_set(path: str | Path) -> tuple[NDArray[np.float32], dict[str, Any]]:
    """Read a set written by :func:`write_scenario_set`: ``(paths, metadata)``."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"scenario set {p} does not exist: run the stress_generate stage")
    with np.load(p, allow_pickle=False) as z:
        return z["paths"], json.loads(str(z["metadata"]))


def regenerate_scenario_set(
    metadata: Mapping[str, Any], returns: pd.DataFrame, checkpoint: str | Path
) -> NDArray[np.float32]:
    """Regenerate a diffusion scenario set from its metadata (the audit round trip).

    Parameters
    ----------
    metadata : mapping
        As written by :func:`generate_scenario_set`.
    returns : DataFrame
        Constituent returns; the rows before the latest conditioning date must hash to the
        recorded ``returns_sha256``.
    checkpoint : path
        The model file; its SHA-256 must equal the recorded ``checkpoint_sha256``.

    Returns
    -------
    ndarray float32
        The set, identical to the original on the same software and thread count.

    Raises
    ------
    ValueError
        If the checkpoint, the data or the generator differ from the record.
    """
    gen = metadata.get("generation", {})
    if gen.get("generator") != "diffusion":
        raise ValueError(
            f"metadata generator is {gen.get('generator')!r}; only 'diffusion' "
            f"sets are regenerated from a checkpoint"
        )
    sha = audit.file_sha256(checkpoint)
    if sha != metadata.get("checkpoint_sha256"):
        raise ValueError(
            f"checkpoint {checkpoint} has SHA-256 {sha[:12]}…, the set was made "
            f"with {str(metadata.get('checkpoint_sha256'))[:12]}…"
        )
    used = audit.frame_sha256(_rows_before(returns, gen["as_of"]))
    if used != metadata.get("returns_sha256"):
        raise ValueError(
            "returns differ from those the set was generated from (returns_sha256 mismatch)"
        )
    model = load_stress_model(checkpoint)
    archetype = Archetype(gen["archetype"], dict(gen["signature"]))
    paths_, _ = generate_paths(
        model,
        returns,
        gen["as_of"],
        gen["n_paths_per_date"],
        archetype.signature,
        guidance=gen["guidance"],
        seed=gen["seed"],
        sampler=gen["sampler"],
        n_steps=gen["n_steps"],
        eta=gen["eta"],
        spacing=gen["spacing"],
        order=gen["order"],
        soft_bound=gen["soft_bound"],
        prior_neighbours=gen["prior_neighbours"],
    )
    return paths_


def baseline_scenario_set(
    kind: str,
    returns: pd.DataFrame,
    train_end: str | pd.Timestamp,
    as_of: Sequence[str | None],
    n_paths_per_date: int,
    horizon: int,
    *,
    seed: int,
    block: int = 5,
    lam: float = 0.94,
    warmup: int = 30,
) -> tuple[NDArray[np.float32], dict[str, Any]]:
    """A simple generator's set from the same conditioning dates as a diffusion set.

    ``kind="normal"``: :func:`diffrisk.scenario_baselines.multivariate_normal_paths` with the
    training mean and covariance (the same law at every date). ``kind="bootstrap"``:
    :func:`~diffrisk.scenario_baselines.filtered_block_bootstrap_paths` of training days,
    started at each date's EWMA volatility (returns strictly before the date), seed
    ``seed + i`` for date i. Both fit on rows up to ``train_end`` only.

    Returns
    -------
    paths : ndarray float32 (n_dates * n_paths_per_date, horizon, n_assets)
    metadata : dict
        Generator settings, conditioning dates and volatilities (no provenance record;
        the stage adds it).
    """
    train = returns.loc[returns.index <= pd.Timestamp(train_end)].to_numpy(dtype=float)
    arr = returns.to_numpy(dtype=float)
    n = int(n_paths_per_date)
    vols = []
    for d in as_of:
        past = arr[: _position(returns.index, d)]
        vols.append(
            float(ewma_volatility(equal_weight_log_returns(past), lam=lam, warmup=warmup)[-1])
        )
    if kind == "normal":
        paths_ = multivariate_normal_paths(train, n * len(as_of), horizon, seed)
    elif kind == "bootstrap":
        parts = []
        for i, d in enumerate(as_of):
            past = arr[: _position(returns.index, d)]
            vol_now = ewma_volatility(past, lam=lam, warmup=warmup)[-1]
            parts.append(
                filtered_block_bootstrap_paths(
                    train, n, horizon, block, seed + i, vol_now, lam=lam, warmup=warmup
                )
            )
        paths_ = np.concatenate(parts)
    else:
        raise ValueError(f"kind must be 'normal' or 'bootstrap', got {kind!r}")
    meta = {
        "generation": {
            "generator": kind,
            "seed": int(seed),
            "block": int(block),
            "n_paths_per_date": n,
            "as_of": [None if d in (None, "") else str(pd.Timestamp(d).date()) for d in as_of],
        },
        "conditioning": {"portfolio_vol": vols},
        "assets": [str(c) for c in returns.columns],
        "horizon": int(horizon),
    }
    return paths_, meta


def achieved_signatures(paths_: NDArray[np.floating], metadata: Mapping[str, Any]) -> pd.DataFrame:
    """Stress signature of every path of a set, with each path's own volatility forecast."""
    vols = np.asarray(metadata["conditioning"]["portfolio_vol"], dtype=float)
    n = int(metadata["generation"]["n_paths_per_date"])
    return stress_signature(paths_, np.repeat(vols, n))


# --------------------------------------------------------------------------- downstream risk
def parse_portfolios(
    spec: str, assets: Sequence[str], train_returns: pd.DataFrame
) -> dict[str, NDArray[np.float64]]:
    """Portfolio weights from ``name=members; ...`` (``stress.validate.portfolios``).

    ``members`` is ``all`` (equal weights on every constituent), ``minvar`` (the global
    minimum-variance weights of :func:`minimum_variance_weights` on ``train_returns``) or
    comma-separated tickers (equal weights on them).

    Examples
    --------
    >>> w = parse_portfolios("banks=B,C", ["A", "B", "C"], pd.DataFrame())
    >>> w["banks"].tolist()
    [0.0, 0.5, 0.5]
    """
    names = [str(a) for a in assets]
    out: dict[str, NDArray[np.float64]] = {}
    for chunk in (c.strip() for c in str(spec).split(";") if c.strip()):
        name, eq, members = (s.strip() for s in chunk.partition("="))
        if not eq or not name or not members:
            raise ValueError(f"portfolio {chunk!r}: expected name=members")
        if members == "all":
            w = np.full(len(names), 1.0 / len(names))
        elif members == "minvar":
            w = minimum_variance_weights(train_returns.loc[:, names])
        else:
            tickers = [m.strip() for m in members.split(",") if m.strip()]
            missing = [m for m in tickers if m not in names]
            if missing:
                raise ValueError(
                    f"portfolio {name!r}: tickers {missing} are not among the constituents {names}"
                )
            w = np.array([1.0 / len(tickers) if a in tickers else 0.0 for a in names])
        out[name] = w
    if not out:
        raise ValueError("portfolios specification is empty")
    return out


def minimum_variance_weights(train_returns: pd.DataFrame | ArrayLike) -> NDArray[np.float64]:
    """Global minimum-variance weights ``Σ⁻¹1 / (1ᵀΣ⁻¹1)`` of the training covariance.

    Fully invested, short positions allowed (the closed form of Merton 1972). Fit on
    training returns only.

    Examples
    --------
    Two uncorrelated assets with variances 1 and 4 get weights 0.8 and 0.2:

    >>> rng = np.random.default_rng(0)
    >>> z = rng.standard_normal((200_000, 2)) * [1.0, 2.0]
    >>> np.round(minimum_variance_weights(z), 2).tolist()
    [0.8, 0.2]
    """
    arr = np.asarray(train_returns, dtype=float)
    if arr.ndim != 2 or arr.shape[0] <= arr.shape[1]:
        raise ValueError(f"train_returns must be 2-D with more days than assets, got {arr.shape}")
    cov = np.cov(arr, rowvar=False)
    x = np.linalg.solve(cov, np.ones(arr.shape[1]))
    return x / x.sum()


def portfolio_path_returns(paths_: ArrayLike, weights: ArrayLike) -> NDArray[np.float64]:
    """Daily log returns ``(n_paths, H)`` of a daily rebalanced portfolio of the paths.

    ``r_p = log(Σ_i w_i exp(r_i))`` with fully invested weights (Σ w = 1).
    """
    arr = np.asarray(paths_, dtype=float)
    w = np.asarray(weights, dtype=float)
    if arr.ndim != 3 or w.shape != (arr.shape[2],):
        raise ValueError(f"need paths (n, H, A) and weights (A,), got {arr.shape} and {w.shape}")
    if not math.isclose(float(w.sum()), 1.0, abs_tol=1e-9):
        raise ValueError(f"weights must sum to 1, got {w.sum():.6g}")
    gross = np.exp(arr) @ w
    if np.any(gross <= 0):
        raise ValueError(
            "a short portfolio lost more than its value in one day; log return undefined"
        )
    return np.log(gross)


def conditional_drawdown(daily: ArrayLike) -> NDArray[np.float64]:
    """Maximum drawdown of each path (a log return <= 0): ``min_h (C_h - max_{j<=h} C_j)``.

    ``C`` is the cumulative log return with ``C_0 = 0`` (the start counts as a peak).

    Examples
    --------
    >>> conditional_drawdown([[0.1, -0.3, 0.1]]).round(3).tolist()
    [-0.3]
    """
    arr = np.atleast_2d(np.asarray(daily, dtype=float))
    cum = np.concatenate([np.zeros((arr.shape[0], 1)), np.cumsum(arr, axis=1)], axis=1)
    return np.min(cum - np.maximum.accumulate(cum, axis=1), axis=1)


def risk_summary(
    paths_: ArrayLike, weights: Mapping[str, ArrayLike], alphas: Sequence[float] = (0.05, 0.01)
) -> pd.DataFrame:
    """VaR, ES and conditional drawdown at risk over the horizon, per portfolio and alpha.

    Parameters
    ----------
    paths_ : array_like (n_paths, H, n_assets)
    weights : mapping name -> (n_assets,)
    alphas : sequence of float
        Tail probabilities.

    Returns
    -------
    DataFrame
        ``portfolio, alpha, n_paths, mean_return, var, es, cdar``: ``var`` = the α-quantile
        of the horizon log return (:func:`diffrisk.risk.var`), ``es`` = the mean at or
        below it (:func:`diffrisk.risk.cvar`), ``cdar`` = the mean of the α worst maximum
        drawdowns (Chekhlov, Uryasev & Zabarankin 2005). All are returns (negative = loss).
    """
    rows = []
    for name, w in weights.items():
        daily = portfolio_path_returns(paths_, w)
        total, drawdown = daily.sum(axis=1), conditional_drawdown(daily)
        for a in alphas:
            rows.append(
                {
                    "portfolio": name,
                    "alpha": float(a),
                    "n_paths": int(total.size),
                    "mean_return": float(total.mean()),
                    "var": float(var(total, a)),
                    "es": float(cvar(total, a)),
                    "cdar": float(cvar(drawdown, a)),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- validation
def _tail_levels(n_reference_days: int, levels: Sequence[float] = (0.05, 0.01)) -> list[float]:
    return [q for q in levels if math.floor(q * n_reference_days + 1e-9) >= 1]


def validation_rows(
    sets: Mapping[tuple[str, str], NDArray[np.floating]],
    references: Mapping[str, tuple[pd.DataFrame, str]],
    pairs: Sequence[tuple[str, str, str]],
    thresholds: Any,
) -> pd.DataFrame:
    """One row of :func:`diffrisk.validation.summary_scores` per (archetype, generator, reference).

    Parameters
    ----------
    sets : mapping (generator, archetype) -> paths
    references : mapping name -> (returns window, label)
    pairs : sequence of (generator, archetype, reference name)
    thresholds : RegimeThresholds fitted on training data.
    """
    rows = []
    for gen, arch, ref_name in pairs:
        ref, label = references[ref_name]
        levels = _tail_levels(len(ref))
        table = validate_scenarios(sets[(gen, arch)], ref, thresholds, tail_levels=levels or (0.5,))
        scores = summary_scores(table).reset_index(drop=True)
        row = {
            "archetype": arch,
            "generator": gen,
            "reference": ref_name,
            "reference_label": label,
            "n_paths": int(sets[(gen, arch)].shape[0]),
            "n_reference_days": int(len(ref)),
        }
        rows.append({**row, **scores.iloc[0].to_dict()})
    frame = pd.DataFrame(rows)
    for col in ("tail_dep_q05", "tail_dep_q01"):
        if col not in frame:
            frame[col] = np.nan
    return frame


def signature_table(
    sets: Mapping[tuple[str, str], tuple[NDArray[np.floating], Mapping[str, Any]]],
    archetypes: Sequence[Archetype],
    tolerance: float = 0.10,
) -> pd.DataFrame:
    """Achieved versus requested signature per archetype, component and generator.

    ``achieved_mean`` and ``achieved_median`` are over the set's paths (each measured
    with its own date's volatility forecast); ``relative_error`` =
    ``|achieved_mean − requested| / |requested|``; ``within_tolerance`` compares it with
    ``tolerance`` (the issue's 10 %).
    """
    rows = []
    for arch in archetypes:
        for comp, requested in arch.signature.items():
            for gen in GENERATORS:
                if (gen, arch.name) not in sets:
                    continue
                paths_, meta = sets[(gen, arch.name)]
                achieved = achieved_signatures(paths_, meta)[comp]
                err = abs(float(achieved.mean()) - requested) / max(abs(requested), 1e-12)
                rows.append(
                    {
                        "archetype": arch.name,
                        "component": comp,
                        "generator": gen,
                        "requested": requested,
                        "achieved_mean": float(achieved.mean()),
                        "achieved_median": float(achieved.median()),
                        "achieved_p05": float(achieved.quantile(0.05)),
                        "achieved_p95": float(achieved.quantile(0.95)),
                        "relative_error": err,
                        "within_tolerance": bool(err <= tolerance),
                        "guidance": meta["generation"].get("guidance", np.nan),
                        "out_of_range": comp in meta.get("out_of_range", []),
                    }
                )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- figures
_GEN_COLORS = {
    "diffusion": "#c0392b",
    "normal": "#7f8c8d",
    "bootstrap": "#2980b9",
    "historical": "#000000",
}


def _figure(n_rows: int, n_cols: int, height: float = 2.4) -> tuple[Any, NDArray[Any]]:
    import matplotlib
    from matplotlib.figure import Figure

    from . import reports

    with matplotlib.rc_context(reports.style_rc()):
        fig = Figure(figsize=(7.0, height * n_rows), layout="constrained")
        axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    return fig, axes


def figure_corr_heatmaps(
    panels: Sequence[tuple[str, NDArray[np.floating]]], assets: Sequence[str], n_cols: int = 4
) -> Any:
    """Correlation heat maps, one panel per (title, paths or days) in ``panels``."""
    from .validation import correlation_matrix

    n_rows = math.ceil(len(panels) / n_cols)
    fig, axes = _figure(n_rows, n_cols, height=2.0)
    image = None
    for ax, (title, data_) in zip(axes.ravel(), panels, strict=False):
        image = ax.imshow(correlation_matrix(data_), vmin=-0.2, vmax=1.0, cmap="viridis")
        ax.set_title(title, fontsize=7)
        ax.grid(False)
        ax.set_xticks([])
        ax.set_yticks(range(len(assets)), labels=list(assets), fontsize=4)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.7, label="correlation")
    return fig


def figure_tail_dependence(
    panels: Sequence[tuple[str, NDArray[np.floating], NDArray[np.floating]]], q: float = 0.05
) -> Any:
    """Pairwise lower-tail dependence λ(q): generated (y) against historical (x)."""
    from .validation import lower_tail_dependence

    fig, axes = _figure(1, len(panels), height=2.5)
    for ax, (title, gen, ref) in zip(axes.ravel(), panels, strict=True):
        i, j = np.triu_indices(gen.shape[-1], k=1)
        x, y = lower_tail_dependence(ref, q)[i, j], lower_tail_dependence(gen, q)[i, j]
        ax.scatter(x, y, s=4, alpha=0.6, color=_GEN_COLORS.get(title.split()[0], "C0"))
        ax.plot([0, 1], [0, 1], color="k", lw=0.6)
        ax.set_title(f"{title}\nmean |Δλ| = {np.mean(np.abs(x - y)):.3f}", fontsize=7)
        ax.set_xlabel(f"historical λ({q:g})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes.ravel()[0].set_ylabel(f"generated λ({q:g})")
    return fig


def figure_fan_charts(
    panels: Sequence[tuple[str, NDArray[np.floating], NDArray[np.floating] | None]],
) -> Any:
    """Fan charts of the equal-weighted portfolio's cumulative return per archetype.

    Each panel: 5–95 % and 25–75 % bands and the median of the diffusion paths, with the
    realised crisis path (black) when the archetype comes from a historical window.
    """
    n_cols = min(3, len(panels))
    fig, axes = _figure(math.ceil(len(panels) / n_cols), n_cols, height=2.2)
    for ax, (title, paths_, realised) in zip(axes.ravel(), panels, strict=False):
        cum = np.cumsum(equal_weight_log_returns(paths_), axis=1) * 100
        days = np.arange(1, cum.shape[1] + 1)
        q = np.percentile(cum, [5, 25, 50, 75, 95], axis=0)
        ax.fill_between(days, q[0], q[4], color=_GEN_COLORS["diffusion"], alpha=0.2, lw=0)
        ax.fill_between(days, q[1], q[3], color=_GEN_COLORS["diffusion"], alpha=0.35, lw=0)
        ax.plot(days, q[2], color=_GEN_COLORS["diffusion"], lw=1)
        if realised is not None:
            ax.plot(
                days,
                np.cumsum(equal_weight_log_returns(realised)) * 100,
                color="k",
                lw=1,
                label="realised",
            )
            ax.legend(fontsize=6)
        ax.set_title(title, fontsize=7)
        ax.set_xlabel("day")
    axes.ravel()[0].set_ylabel("cumulative log return (%)")
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    return fig


def figure_acf(series: Sequence[tuple[str, NDArray[np.floating]]], max_lag: int) -> Any:
    """ACF of returns and of |returns| (mean over assets), lags 1..L, pairs within paths."""
    from .validation import path_autocorrelation

    fig, axes = _figure(1, 2, height=2.6)
    lags = np.arange(1, max_lag + 1)
    for name, paths_ in series:
        color = _GEN_COLORS.get(name.split()[0], None)
        style = "-" if not name.startswith("historical") else "--"
        for ax, absolute in zip(axes.ravel(), (False, True), strict=True):
            acf = np.nanmean(path_autocorrelation(paths_, max_lag, absolute=absolute), axis=0)
            ax.plot(lags, acf, style, marker="o", ms=3, color=color, label=name)
    axes[0, 0].set_title("ACF of returns (mean over assets)")
    axes[0, 1].set_title("ACF of |returns| (volatility clustering)")
    for ax in axes.ravel():
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("lag (days)")
    axes[0, 1].legend(fontsize=6)
    return fig


# --------------------------------------------------------------------------- report
def _fmt_pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def stress_report_section(
    validation: pd.DataFrame,
    signatures: pd.DataFrame,
    risk: pd.DataFrame,
    metadata: Mapping[str, Any] | None = None,
    headline: pd.DataFrame | None = None,
) -> str:
    """The stress-scenario section of ``STUDY.md``; every sentence is computed from the tables.

    Parameters
    ----------
    validation : DataFrame
        ``stress_validation.csv``.
    signatures : DataFrame
        ``stress_signatures.csv``.
    risk : DataFrame
        ``stress_risk.csv``.
    metadata : mapping, optional
        ``{"out_of_range": {archetype: [components]}, "train_end": str}``.
    headline : DataFrame, optional
        ``stress_headline.csv`` (:func:`diffrisk.validation.headline_bootstrap`).

    Returns
    -------
    str
        Markdown.
    """
    meta = dict(metadata or {})
    lines = ["## Stress scenarios (joint multi-day paths)", ""]
    unc = validation[(validation["archetype"] == UNCONDITIONAL)]
    if not unc.empty:
        ref = unc["reference"].iloc[0]
        lines.append(
            f"Unconditional diffusion scenarios, conditioned on each date's history across "
            f"the held-out {ref} period, against that period (distances, lower is better):"
        )
        lines.append("")
        by_gen = unc.set_index("generator")
        wins = []
        for metric in HEADLINE_METRICS:
            vals = {g: float(by_gen.loc[g, metric]) for g in GENERATORS if g in by_gen.index}
            best = min(vals, key=vals.get)
            others = ", ".join(f"{g} {v:.3f}" for g, v in vals.items() if g != "diffusion")
            verdict = (
                "beats both simple generators"
                if best == "diffusion"
                else f"does not beat the {best} generator"
            )
            wins.append(best == "diffusion")
            lines.append(
                f"- `{metric}`: diffusion {vals['diffusion']:.3f} ({others}); the "
                f"diffusion model {verdict}."
            )
        lines.append("")
        lines.append(
            f"The diffusion model wins {sum(wins)} of {len(wins)} headline metrics "
            f"(correlation distance, 5 % tail dependence, volatility clustering) on "
            f"the held-out period."
        )
        if headline is not None and len(headline):
            share = headline.pivot(index="metric", columns="generator", values="share_best")
            se = headline.pivot(index="metric", columns="generator", values="boot_se")
            text = "; ".join(
                f"`{m}` " + ", ".join(f"{g} {share.loc[m, g]:.0%}" for g in share.columns)
                for m in share.index
            )
            lines.append(
                f"How firm is that ranking? On block-bootstrap resamples of the test period "
                f"(the reference is one draw of history), the share of resamples on which "
                f"each generator has the smallest distance: {text}. The standard error of "
                f"the diffusion distances from the reference's sampling noise alone is "
                + ", ".join(f"{se.loc[m, 'diffusion']:.3g} (`{m}`)" for m in se.index)
                + "."
            )
        lines.append("")
    crisis = validation[validation["archetype"] != UNCONDITIONAL]
    if not crisis.empty:
        lines.append(
            "Stressed archetypes against the crisis windows "
            "(`tail_dep_q05` distance; labels say whether the window was seen in "
            "training):"
        )
        lines.append("")
        for (arch, ref, label), grp in crisis.groupby(
            ["archetype", "reference", "reference_label"], sort=False
        ):
            vals = grp.set_index("generator")["tail_dep_q05"]
            text = ", ".join(f"{g} {vals[g]:.3f}" for g in GENERATORS if g in vals.index)
            lines.append(f"- {arch} vs {ref} ({label}): {text}.")
        lines.append("")
    diff = signatures[signatures["generator"] == "diffusion"] if len(signatures) else signatures
    if len(diff):
        ok = int(diff["within_tolerance"].sum())
        inside = diff[~diff["out_of_range"].astype(bool)]
        lines.append(
            f"Achieved versus requested signature (diffusion, mean over paths): "
            f"{ok} of {len(diff)} requested components are within 10 % "
            f"({int(inside['within_tolerance'].sum())} of the {len(inside)} inside the "
            f"training range); "
            f"median relative error {_fmt_pct(float(diff['relative_error'].median()))}."
        )
        weights = diff.drop_duplicates("archetype").set_index("archetype")["guidance"]
        lines.append(
            "Guidance weights used: " + ", ".join(f"{a} {w:g}" for a, w in weights.items()) + "."
        )
        worst = diff.loc[diff["relative_error"].idxmax()]
        lines.append(
            f"The largest miss is {worst['archetype']} `{worst['component']}`: "
            f"requested {worst['requested']:.3g}, achieved {worst['achieved_mean']:.3g} "
            f"({_fmt_pct(float(worst['relative_error']))})"
            + (", a request outside the training range." if worst["out_of_range"] else ".")
        )
        flagged = {a: c for a, c in meta.get("out_of_range", {}).items() if c}
        if flagged:
            text = "; ".join(f"{a}: {', '.join(c)}" for a, c in flagged.items())
            lines.append(
                f"Requests outside the signature range of the training windows "
                f"(flagged in the set's metadata and by a StressRangeWarning): {text}."
            )
        lines.append("")
    if len(risk):
        ew = risk[(risk["portfolio"] == risk["portfolio"].iloc[0]) & (risk["alpha"] == 0.05)]
        if len(ew):
            lines.append(
                f"Downstream risk of the {ew['portfolio'].iloc[0]} portfolio over the "
                f"horizon (5 % ES, log return):"
            )
            lines.append("")
            for row in ew.itertuples(index=False):
                lines.append(
                    f"- {row.source}: ES {_fmt_pct(row.es)}, VaR {_fmt_pct(row.var)}, "
                    f"CDaR {_fmt_pct(row.cdar)} ({row.n_paths} paths)."
                )
            lines.append("")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- stages
def stress_dir() -> Path:
    """``data/stress/``: the scenario sets and their metadata."""
    return paths.data_dir() / "stress"


def stress_checkpoint() -> Path:
    """``models/stress.pt``: the trained stress generator."""
    return paths.models_dir() / "stress.pt"


def scenario_set_file(generator: str, archetype: str) -> Path:
    """``data/stress/<generator>_<archetype>.npz``."""
    return stress_dir() / f"{generator}_{archetype}.npz"


def _markdown(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, floatfmt=".4g") + "\n"


def _write_table(stem: str, frame: pd.DataFrame) -> None:
    io.write_csv(paths.tables_dir() / f"{stem}.csv", frame, index=False, float_format="%.6g")
    io.write_text(paths.tables_dir() / f"{stem}.md", _markdown(frame))


def run_stress_train(
    *, model: Mapping[str, Any], splits: Any, seed: int = 0, progress: bool | None = None
) -> dict[str, Any]:
    """Run the ``stress_train`` stage: fit the stress generator on training windows.

    Parameters
    ----------
    model : mapping
        ``params.yaml``'s ``stress.model`` (fields of :class:`StressConfig`).
    splits : diffrisk.data.Splits
        Training windows end on or before ``splits.train_end``; the epoch is selected on
        windows inside ``splits.val_start .. splits.val_end``; test rows are never read.
    seed : int
        Study seed.

    Returns
    -------
    dict
        ``metrics`` (best epoch, validation loss, windows, history), ``config``.

    Outputs
    -------
    ``models/stress.pt`` (+ ``models/stress.audit.json``), ``models/stress_train.json``
    (per-epoch history with timings).
    """
    from . import data

    config = StressConfig.from_dict(dict(model))
    torch.set_num_threads(int(config.threads))
    returns = constituent_returns(data.returns_until(data.load_returns(), splits, "validation"))
    data_hash = audit.recorded_data_hash()
    tic = time.perf_counter()
    fitted = train_stress_model(
        returns,
        splits.train_end,
        splits.val_start,
        splits.val_end,
        config,
        seed=int(seed),
        progress=progress,
    )
    seconds = time.perf_counter() - tic
    best = min(fitted.history, key=lambda h: h["val_loss"])
    metrics = {
        "best_epoch": int(best["epoch"]),
        "best_val_loss": float(best["val_loss"]),
        "epochs_run": len(fitted.history),
        "train_end": fitted.train_end,
        "n_parameters": int(sum(p.numel() for p in fitted.net.parameters())),
        "signature_range": _json_ready(fitted.signature_bounds.to_dict(orient="index")),
    }
    path = save_stress_model(fitted, stress_checkpoint())
    record = audit.provenance(
        {"stress.model": config.to_dict()},
        seed,
        data_hash,
        extra={"checkpoint_sha256": audit.file_sha256(path), "outputs": metrics},
    )
    audit.write_provenance(path.with_suffix(".audit.json"), record)
    io.write_json(
        paths.models_dir() / "stress_train.json",
        {**metrics, "wall_time_s": round(seconds, 1), "history": fitted.history},
    )
    logger.info(
        "stress_train: %d epochs in %.1f s, best epoch %d (val loss %.4f)",
        len(fitted.history),
        seconds,
        metrics["best_epoch"],
        metrics["best_val_loss"],
    )
    return {
        "metrics": {**metrics, "wall_time_s": round(seconds, 1), "history": fitted.history},
        "config": config,
    }


def run_stress_generate(
    *,
    archetypes: str,
    as_of: str = "",
    n_paths: int = 2000,
    unconditional_every: int = 20,
    unconditional_paths_per_date: int = 100,
    guidance: float | str = "auto",
    guidance_grid: str = "1.0,1.25,1.5,2.0,2.5,3.0",
    calibration_paths: int = 200,
    prior_neighbours: int = 50,
    prior_guidance: float = 1.25,
    sampler: str = "ddim",
    n_steps: int = 40,
    eta: float = 0.0,
    spacing: str = "linear",
    order: int = 1,
    soft_bound: float = 0.0,
    bootstrap_block: int = 5,
    splits: Any,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``stress_generate`` stage: a scenario set per archetype and generator.

    Parameters
    ----------
    archetypes : str
        :func:`parse_archetypes` specification (``stress.generate.archetypes``).
    as_of : str
        Conditioning date of the archetypes without their own (first day of the paths;
        "" = the day after the last data row).
    n_paths : int
        Paths per stressed archetype.
    unconditional_every, unconditional_paths_per_date : int
        The ``unconditional`` set is conditioned on every ``unconditional_every``-th test
        day (from the first), with this many paths per date.
    guidance : float or "auto"
        Classifier-free guidance weight w, or "auto": per archetype, the weight of
        ``guidance_grid`` whose pilot set of ``calibration_paths`` paths best hits the
        request (:func:`calibrate_guidance`).
    guidance_grid : str
        Comma-separated candidate weights of ``guidance="auto"``.
    calibration_paths : int
        Pilot paths per weight.
    prior_neighbours, prior_guidance : int, float
        The ``unconditional`` set draws each path's signature from the
        ``prior_neighbours`` training windows nearest in history features and guides
        toward it with ``prior_guidance`` (:func:`generate_paths`); 0 neighbours = the
        model's unconditional branch.
    sampler, n_steps, eta, spacing, order, soft_bound
        See :func:`generate_paths`.
    bootstrap_block : int
        Block length of the filtered block bootstrap baseline.
    splits : diffrisk.data.Splits
    seed : int

    Returns
    -------
    dict
        ``index`` (DataFrame of the sets written), ``archetypes`` (resolved),
        ``seconds`` (per set).

    Outputs
    -------
    ``data/stress/<generator>_<archetype>.npz`` and ``.audit.json`` for generator in
    (diffusion, normal, bootstrap), ``data/stress/index.json``.
    """
    from . import data

    model = load_stress_model(stress_checkpoint())
    torch.set_num_threads(int(model.config.threads))
    returns = constituent_returns(data.load_returns())
    h = model.config.horizon
    resolved = [
        resolve_archetype(
            a, returns, h, lam=model.config.ewma_lambda, warmup=model.config.ewma_warmup
        )
        for a in parse_archetypes(archetypes)
    ]
    test_dates = splits.dates(returns, "test")
    if len(test_dates) == 0:
        raise ValueError("the test period has no returns: cannot condition the unconditional set")
    data_hash, ckpt_hash = (audit.recorded_data_hash(), audit.file_sha256(stress_checkpoint()))
    sampling = _sampling_settings(sampler, n_steps, eta, spacing, order, soft_bound)
    params = {
        "archetypes": archetypes,
        "as_of": as_of,
        "n_paths": n_paths,
        "unconditional_every": unconditional_every,
        "unconditional_paths_per_date": unconditional_paths_per_date,
        "guidance": guidance,
        "guidance_grid": guidance_grid,
        "calibration_paths": calibration_paths,
        "prior_neighbours": prior_neighbours,
        "prior_guidance": prior_guidance,
        **sampling,
        "bootstrap_block": bootstrap_block,
        "stress.model": model.config.to_dict(),
    }
    grid = [float(w) for w in str(guidance_grid).split(",") if w.strip()]
    rows, seconds = [], {}
    for i, arch in enumerate(resolved):
        if arch.name == UNCONDITIONAL:
            dates = [str(d.date()) for d in test_dates[:: int(unconditional_every)]]
            per = int(unconditional_paths_per_date)
        else:
            dates, per = [arch.as_of or as_of], int(n_paths)
        set_seed = int(seed) + 1000 * (i + 1)
        tic = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", StressRangeWarning)
            paths_, meta = generate_scenario_set(
                model,
                returns,
                arch,
                dates,
                per,
                guidance=prior_guidance if arch.name == UNCONDITIONAL else guidance,
                guidance_grid=grid,
                calibration_paths=int(calibration_paths),
                prior_neighbours=int(prior_neighbours),
                seed=set_seed,
                **sampling,
                checkpoint_sha256=ckpt_hash,
                data_sha256=data_hash,
                params=params,
            )
        for w in caught:
            logger.warning("%s", w.message)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        seconds[f"diffusion_{arch.name}"] = round(time.perf_counter() - tic, 2)
        write_scenario_set(scenario_set_file("diffusion", arch.name), paths_, meta)
        rows.append(
            {
                "generator": "diffusion",
                "archetype": arch.name,
                "n_paths": len(paths_),
                "n_dates": len(dates),
                "out_of_range": meta["out_of_range"],
                "guidance": meta["generation"]["guidance"],
            }
        )
        for kind in ("normal", "bootstrap"):
            tic = time.perf_counter()
            b_paths, b_meta = baseline_scenario_set(
                kind,
                returns,
                splits.train_end,
                dates,
                per,
                h,
                seed=set_seed,
                block=bootstrap_block,
                lam=model.config.ewma_lambda,
                warmup=model.config.ewma_warmup,
            )
            seconds[f"{kind}_{arch.name}"] = round(time.perf_counter() - tic, 2)
            b_meta["generation"]["archetype"] = arch.name
            record = audit.provenance(params, set_seed, data_hash, extra=b_meta)
            write_scenario_set(scenario_set_file(kind, arch.name), b_paths, record)
            rows.append(
                {
                    "generator": kind,
                    "archetype": arch.name,
                    "n_paths": len(b_paths),
                    "n_dates": len(dates),
                    "out_of_range": [],
                    "guidance": None,
                }
            )
    index = {
        "archetypes": [asdict(a) for a in resolved],
        "sets": rows,
        "checkpoint_sha256": ckpt_hash,
        "horizon": h,
    }
    io.write_json(stress_dir() / "index.json", index)
    io.write_json(paths.models_dir() / "stress_generate_timing.json", seconds)
    logger.info("stress_generate: %d sets in %.1f s", len(rows), sum(seconds.values()))
    return {"index": pd.DataFrame(rows), "archetypes": resolved, "seconds": seconds}


def _load_sets(index: Mapping[str, Any]) -> dict[tuple[str, str], tuple[NDArray, dict]]:
    return {
        (r["generator"], r["archetype"]): read_scenario_set(
            scenario_set_file(r["generator"], r["archetype"])
        )
        for r in index["sets"]
    }


def run_stress_validate(
    *,
    crisis_windows: str,
    portfolios: str,
    alphas: str = "0.05,0.01",
    tolerance: float = 0.10,
    n_boot: int = 500,
    bootstrap_block: int = 20,
    splits: Any,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``stress_validate`` stage: validation, signatures, downstream risk, figures.

    Parameters
    ----------
    crisis_windows : str
        :func:`parse_crisis_windows` specification; references of the stressed archetypes.
    portfolios : str
        :func:`parse_portfolios` specification (the first is the headline portfolio).
    alphas : str
        Comma-separated tail probabilities of the risk table.
    tolerance : float
        Relative error counted as hitting a requested signature component.
    n_boot, bootstrap_block : int
        Block-bootstrap resamples of the test period, and their block length in days, for
        the uncertainty of the unconditional headline distances
        (:func:`diffrisk.validation.headline_bootstrap`).
    splits : diffrisk.data.Splits
        ``test`` is the held-out reference of the unconditional set; regime thresholds and
        minimum-variance weights use training rows only.
    seed : int
        Study seed (recorded).

    Returns
    -------
    dict
        ``validation``, ``signatures``, ``risk`` DataFrames, ``metrics`` dict and
        ``section`` (Markdown for STUDY.md).

    Outputs
    -------
    ``reports/tables/stress_validation.{csv,md}``, ``stress_signatures.{csv,md}``,
    ``stress_risk.{csv,md}``, ``stress_headline.{csv,md}``, ``stress_section.md``;
    ``reports/figures/stress_corr_heatmaps``,
    ``stress_tail_dependence``, ``stress_fan_charts``, ``stress_acf`` (png + pdf);
    ``reports/metrics/stress.json``.
    """
    from . import data, reports

    index_file = stress_dir() / "index.json"
    if not index_file.is_file():
        raise FileNotFoundError(f"{index_file} does not exist: run the stress_generate stage")
    index = json.loads(index_file.read_text())
    archetypes = [
        Archetype(
            a["name"],
            a["signature"],
            tuple(a["window"]) if a["window"] else None,
            a["as_of"],
            a["source"],
        )
        for a in index["archetypes"]
    ]
    sets = _load_sets(index)
    returns = constituent_returns(data.load_returns())
    h = int(index["horizon"])
    train = returns.loc[returns.index <= splits.train_end]
    thresholds = fit_regime_thresholds(train)
    windows = parse_crisis_windows(crisis_windows, splits.train_end, splits.test_start)
    test = returns.loc[splits.dates(returns, "test")]
    references = {"test": (test, "held out")}
    references |= {w.name: (returns.loc[w.first : w.last], w.label) for w in windows}
    pairs = []
    for arch in archetypes:
        refs = ["test"] if arch.name == UNCONDITIONAL else [w.name for w in windows]
        pairs += [(g, arch.name, r) for g in GENERATORS for r in refs]
    validation = validation_rows({k: v[0] for k, v in sets.items()}, references, pairs, thresholds)
    signatures = signature_table(sets, archetypes, tolerance)
    unconditional = {
        g: sets[(g, UNCONDITIONAL)][0] for g in GENERATORS if (g, UNCONDITIONAL) in sets
    }
    headline = (
        headline_bootstrap(
            unconditional, test, n_boot=int(n_boot), block=int(bootstrap_block), seed=int(seed)
        )
        if unconditional
        else pd.DataFrame()
    )

    levels = [float(a) for a in str(alphas).split(",") if a.strip()]
    weights = parse_portfolios(portfolios, list(returns.columns), train)
    risk_parts = []
    for (gen, arch), (paths_, _) in sets.items():
        risk_parts.append(
            risk_summary(paths_, weights, levels).assign(
                source=f"{gen} / {arch}", generator=gen, archetype=arch
            )
        )
    for name, (ref, label) in references.items():
        hist = historical_paths(ref, h)
        risk_parts.append(
            risk_summary(hist, weights, levels).assign(
                source=f"historical {name} ({label})", generator="historical", archetype=name
            )
        )
    risk_table = pd.concat(risk_parts, ignore_index=True)
    risk_table = risk_table[
        [
            "source",
            "generator",
            "archetype",
            "portfolio",
            "alpha",
            "n_paths",
            "mean_return",
            "var",
            "es",
            "cdar",
        ]
    ]

    out_of_range_map = {
        r["archetype"]: r["out_of_range"] for r in index["sets"] if r["generator"] == "diffusion"
    }
    unc = validation[validation["archetype"] == UNCONDITIONAL].set_index("generator")
    in_range = (signatures["generator"] == "diffusion") & ~signatures["out_of_range"].astype(bool)
    metrics = {
        "unconditional": {
            g: {
                m: float(unc.loc[g, m])
                for m in (
                    "ks_mean",
                    "corr_frobenius",
                    "tail_dep_q05",
                    "tail_dep_q01",
                    "acf_abs_distance",
                    "regime_transition_distance",
                )
            }
            for g in unc.index
        },
        "diffusion_wins_headline": int(
            sum(unc[m].idxmin() == "diffusion" for m in HEADLINE_METRICS)
        )
        if len(unc)
        else 0,
        "signature_relative_error": {
            f"{r.archetype}/{r.component}": float(r.relative_error)
            for r in signatures[signatures["generator"] == "diffusion"].itertuples()
        },
        "signature_within_tolerance": int(
            signatures.loc[signatures["generator"] == "diffusion", "within_tolerance"].sum()
        ),
        "signature_components": int((signatures["generator"] == "diffusion").sum()),
        "signature_within_tolerance_in_range": int(
            signatures.loc[in_range, "within_tolerance"].sum()
        ),
        "signature_components_in_range": int(in_range.sum()),
        "guidance": {
            r.archetype: float(r.guidance)
            for r in signatures[signatures["generator"] == "diffusion"]
            .drop_duplicates("archetype")
            .itertuples()
        },
        "out_of_range": out_of_range_map,
        "headline_share_best": {
            r.metric: float(r.share_best)
            for r in headline.itertuples()
            if len(headline) and r.generator == "diffusion"
        },
    }
    section = stress_report_section(
        validation, signatures, risk_table, {"out_of_range": out_of_range_map}, headline
    )
    _write_table("stress_validation", validation)
    _write_table("stress_signatures", signatures)
    _write_table("stress_risk", risk_table)
    _write_table("stress_headline", headline)
    io.write_text(paths.tables_dir() / "stress_section.md", section)
    io.write_json(paths.metrics_dir() / "stress.json", metrics)
    _write_figures(sets, archetypes, references, windows, returns, h, reports)
    return {
        "validation": validation,
        "signatures": signatures,
        "risk": risk_table,
        "headline": headline,
        "metrics": metrics,
        "section": section,
    }


def _write_figures(
    sets: Mapping[tuple[str, str], tuple[NDArray, dict]],
    archetypes: Sequence[Archetype],
    references: Mapping[str, tuple],
    windows: Sequence[CrisisWindow],
    returns: pd.DataFrame,
    h: int,
    reports: Any,
) -> None:
    assets = list(returns.columns)
    test = references["test"][0].to_numpy()
    has_unc = ("diffusion", UNCONDITIONAL) in sets
    panels: list[tuple[str, NDArray]] = []
    if has_unc:
        panels += [("historical test", test)] + [
            (f"{g} unconditional", sets[(g, UNCONDITIONAL)][0]) for g in GENERATORS
        ]
    for w in windows:
        match = [a for a in archetypes if a.window and a.window[0] <= w.first <= a.window[1]]
        if match:
            panels += [(f"historical {w.name}", references[w.name][0].to_numpy())] + [
                (f"{g} {match[0].name}", sets[(g, match[0].name)][0]) for g in GENERATORS
            ]
    figures = {}
    if panels:
        figures["stress_corr_heatmaps"] = figure_corr_heatmaps(panels, assets)
    if has_unc:
        figures["stress_tail_dependence"] = figure_tail_dependence(
            [(f"{g} unconditional", sets[(g, UNCONDITIONAL)][0], test) for g in GENERATORS]
        )
        lag = min(5, h - 1)
        figures["stress_acf"] = figure_acf(
            [("historical test", historical_paths(test, h))]
            + [(f"{g} unconditional", sets[(g, UNCONDITIONAL)][0]) for g in GENERATORS],
            lag,
        )
    fans = []
    for arch in archetypes:
        realised = None
        if arch.window and arch.as_of:
            start = returns.index.searchsorted(pd.Timestamp(arch.as_of))
            block = returns.iloc[start : start + h]
            realised = block.to_numpy()[None] if len(block) == h else None
        fans.append((arch.name, sets[("diffusion", arch.name)][0], realised))
    figures["stress_fan_charts"] = figure_fan_charts(fans)
    for stem, fig in figures.items():
        reports.save_figure(fig, stem)
