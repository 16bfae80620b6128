"""DDPMConfig: every setting of the one-day model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from diffrisk.core.dataclass_fields import fields_from
from diffrisk.ddpm.features import FEATURE_NAMES, SCALINGS, WINDOW_CHANNELS
from diffrisk.ddpm.market_state import parse_market_features
from diffrisk.ddpm.network import DenoiserSpec
from diffrisk.diffusion.sampler import SAMPLERS, SPACINGS
from diffrisk.diffusion.schedule import SCHEDULES, NoiseSchedule
from diffrisk.diffusion.settings import SmokeSettings
from diffrisk.diffusion.training import TrainOptions, check_positive_fields

CHECKPOINT_FORMAT = "diffrisk-ddpm-1"


SCORE_ALPHAS: tuple[float, ...] = (0.05, 0.01)
"""Tail levels of the validation FZ0 score (and default levels of the diagnostics)."""


@dataclass(frozen=True)
class DDPMConfig(SmokeSettings):
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
    Market state (see :mod:`diffrisk.ddpm.market_state`; off by default)
        market_features : comma-separated common features of each day added to every
        condition (``"xs_vol,avg_corr,index_vol,drawdown"``); ``""`` = none.
        market_columns : the cross-section (comma-separated columns, or ``"all"``: every
        column but ``portfolio`` and ``market_index``).
        market_index : the index column of ``index_vol``/``drawdown``; ``""`` = the
        equal-weighted portfolio of the cross-section.
        market_window : days of the cross-sectional features (2 <= w <= ``window``).
    Network (see :class:`~diffrisk.ddpm.network.DenoiserSpec`)
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
    market_features: str = ""
    market_columns: str = "all"
    market_index: str = ""
    market_window: int = 20
    conv_width: int = DenoiserSpec.conv_width
    n_blocks: int = DenoiserSpec.n_blocks
    kernel_size: int = DenoiserSpec.kernel_size
    cond_dim: int = DenoiserSpec.cond_dim
    time_dim: int = DenoiserSpec.time_dim
    hidden: int = DenoiserSpec.hidden
    dropout: float = DenoiserSpec.dropout
    gaussian_skip: bool = True
    schedule: str = "linear"
    diffusion_steps: int = 200
    beta_start: float | None = None
    beta_end: float | None = None
    lr: float = TrainOptions.lr
    weight_decay: float = TrainOptions.weight_decay
    batch_size: int = TrainOptions.batch_size
    noise_draws: int = TrainOptions.noise_draws
    max_epochs: int = 8
    patience: int = 3
    min_epochs: int = 2
    grad_clip: float = TrainOptions.grad_clip
    ema_decay: float = TrainOptions.ema_decay
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
        for name in ("final_refit", "gaussian_skip", "series_embedding"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"DDPMConfig.{name} must be true or false, got {getattr(self, name)!r}"
                )
        if self.garch_o not in (0, 1):
            raise ValueError(f"DDPMConfig.garch_o must be 0 or 1, got {self.garch_o!r}")
        check_positive_fields(
            self,
            ("window", "diffusion_steps", "n_steps", "val_scenarios", "val_steps", "threads"),
            "DDPMConfig",
        )
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
        parse_market_features(self.market_features)
        for name in ("market_columns", "market_index"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"DDPMConfig.{name} must be a string, got {getattr(self, name)!r}")
        if not (2 <= int(self.market_window) <= self.window):
            raise ValueError(
                f"DDPMConfig.market_window must be in [2, window={self.window}], "
                f"got {self.market_window!r}"
            )
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

    @property
    def market_feature_names(self) -> tuple[str, ...]:
        """The market-state features in use (empty when off)."""
        return parse_market_features(self.market_features)

    def denoiser_spec(self, n_series: int) -> DenoiserSpec:
        """The network shape for ``n_series`` series (embedding only if enabled)."""
        return fields_from(
            DenoiserSpec,
            self,
            keep_defaults=("series_embedding_dim",),
            window_channels=len(WINDOW_CHANNELS),
            window_length=self.window,
            n_features=len(FEATURE_NAMES) + len(self.market_feature_names),
            n_series=n_series if self.series_embedding else 0,
        )

    def train_options(self, max_epochs: int | None = None) -> TrainOptions:
        """Optimisation settings (``max_epochs`` overrides the configured bound)."""
        return TrainOptions.from_fields(
            self,
            max_epochs=max_epochs or self.max_epochs,
            min_epochs=min(self.min_epochs, max_epochs or self.max_epochs),
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

    #: The tiny configuration that trains and samples in seconds (end-to-end tests).
    SMOKE: ClassVar[Mapping[str, Any]] = {
        "window": 24,
        "conv_width": 8,
        "n_blocks": 2,
        "cond_dim": 4,
        "time_dim": 8,
        "hidden": 16,
        "diffusion_steps": 50,
        "beta_start": 2e-3,
        "beta_end": 0.4,
        "max_epochs": 2,
        "min_epochs": 1,
        "patience": 1,
        "samples_per_epoch": 4096,
        "batch_size": 256,
        "noise_draws": 4,
        "val_scenarios": 64,
        "val_steps": 5,
        "n_steps": 5,
        "scaling": "ewma",
        "final_refit": False,
    }
