"""StressConfig: every setting of the stress-path model."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from diffrisk.core.dataclass_fields import ParamsSection
from diffrisk.diffusion.settings import SmokeSettings
from diffrisk.diffusion.training import TrainOptions, check_field_range, check_positive_fields

GENERATORS: tuple[str, ...] = ("diffusion", "normal", "bootstrap")

#: Values of :attr:`StressConfig.stratify`.
STRATIFY_OPTIONS: tuple[str, ...] = ("none", "segment")

#: Values of :attr:`StressConfig.noise_levels`.
NOISE_LEVEL_OPTIONS: tuple[str, ...] = ("uniform", "lognormal")


UNCONDITIONAL = "unconditional"


class StressRangeWarning(UserWarning):
    """A requested stress signature lies outside the range seen in training."""


# --------------------------------------------------------------------------- config
@dataclass(frozen=True)
class StressConfig(ParamsSection, SmokeSettings):
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
        to the history encoder (:func:`history_scalars`); False keeps only the two
        volatility forecasts (the ablation).
    amplitude_embedding : bool
        Embed the noisy sample's own amplitude in the denoiser
        (:func:`~diffrisk.stress.network.amplitude_features`); False is the ablation.
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
    stratify : {"none", "segment"}
        ``none`` (default): every epoch draws the training windows uniformly.
        ``segment``: each training window is labelled by the segment that led its worst
        move (:func:`~diffrisk.stress.windows.segment_labels`) and the batches are drawn
        from a multiset in which every label has the same share
        (:func:`~diffrisk.stress.windows.balanced_index`); an epoch still draws
        ``samples_per_epoch`` windows (0 = as many as there are windows).
    segments : str
        Segment map of ``stratify="segment"``: ``"name=TICKER,TICKER; ..."``
        (:func:`parse_segments`); ``""`` = one segment per constituent.
    noise_levels : {"uniform", "lognormal"}
        Distribution of the training noise level (:func:`~diffrisk.stress.loss.draw_steps`).
        ``uniform``: the step ``t`` is uniform on ``0..T-1`` (DDPM).
        ``lognormal`` (default; it passed the validation rule of
        ``benchmarks/ablation_stress.py``, docs/stress-study.md): EDM's (Karras et al.
        2022) ``ln sigma ~ N(noise_p_mean, noise_p_std**2)``, ``sigma`` in the units of
        the data (``sigma_data * sigma_t`` with ``sigma_t = sqrt((1 - ab_t) / ab_t)``),
        each draw taken to the step whose ``ln sigma_t`` is nearest (the first and last
        steps take the tails).
    noise_p_mean, noise_p_std : float
        ``P_mean`` and ``P_std`` of ``noise_levels="lognormal"`` (EDM's -1.2 and 1.2);
        ``noise_p_std > 0``.
    sigma_data : float
        EDM's data standard deviation (> 0): the diffusion runs on ``x0 / sigma_data``
        and its samples are multiplied back (:attr:`StressModel.path_scale
        <diffrisk.stress.model.StressModel.path_scale>`, the one place that converts).
        The default 1 is EDM's preconditioning of the v-prediction network as it is; set
        it to :func:`~diffrisk.stress.model.scaled_target_std` of the training windows.
    asset_attention : int
        Layers of attention across assets in the denoiser
        (:class:`~diffrisk.stress.attention.AssetAttention`: one token per asset holding
        its noisy path, self-attention across the assets, cross-attention to the
        conditioning embeddings); 0 (default) = none, the temporal convolutions alone.
    attention_dim : int
        Width of the asset tokens (used when ``asset_attention > 0``).
    attention_heads : int
        Attention heads; divides ``attention_dim``.

    Notes
    -----
    With ``a = sqrt(ab_t)``, ``b = sqrt(1 - ab_t)``, EDM's ``x = x_t / a`` and
    ``sigma = b / a``, EDM's preconditioning with ``sigma_data = 1`` is ``c_in x = x_t``,
    ``c_skip x = a x_t``, ``c_out = b`` and ``D = a x_t + b F``: the v-prediction
    network with ``F = -v`` (``x0 = a x_t - b v``). Its loss weighting
    ``lambda(sigma) = 1 / c_out**2`` on the x0 error gives
    ``|a x_t - b v_hat - x0|**2 / b**2 = |v_hat - v|**2``: the v-MSE of
    :func:`~diffrisk.stress.loss.denoising_loss`. So with unit-variance data the model
    already has EDM's preconditioning and loss weighting; what differs is the noise-level
    distribution (``noise_levels``) and ``sigma_data`` (EDM's ``D`` with ``sigma_data = s``
    equals ``s`` times the ``sigma_data = 1`` denoiser of ``x0 / s`` at noise
    ``sigma / s``, with the same weighted loss).
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
    pacf_weight: float = 1.0
    pacf_lags: int = 5
    history_clip: float = 10.0
    history_stats: bool = True
    amplitude_embedding: bool = True
    ewma_lambda: float = 0.94
    ewma_warmup: int = 30
    lr: float = 1e-3
    weight_decay: float = TrainOptions.weight_decay
    batch_size: int = 256
    max_epochs: int = 60
    patience: int = 10
    min_epochs: int = 5
    grad_clip: float = TrainOptions.grad_clip
    ema_decay: float = TrainOptions.ema_decay
    samples_per_epoch: int = TrainOptions.samples_per_epoch
    threads: int = 1
    stratify: str = "none"
    segments: str = ""
    noise_levels: str = "lognormal"
    noise_p_mean: float = -1.2
    noise_p_std: float = 1.2
    sigma_data: float = 1.0
    asset_attention: int = 0
    attention_dim: int = 16
    attention_heads: int = 2

    section: ClassVar[str] = "stress.model"

    def __post_init__(self) -> None:
        check_positive_fields(
            self,
            (
                "horizon",
                "history",
                "width",
                "n_blocks",
                "history_width",
                "emb_dim",
                "diffusion_steps",
                "pacf_lags",
                "threads",
                "attention_dim",
                "attention_heads",
            ),
            "StressConfig",
        )
        if self.asset_attention < 0 or self.attention_dim % self.attention_heads:
            raise ValueError(
                "StressConfig needs asset_attention >= 0 and attention_heads dividing "
                f"attention_dim, got asset_attention={self.asset_attention}, "
                f"attention_dim={self.attention_dim}, attention_heads={self.attention_heads}"
            )
        if self.horizon < 2:
            raise ValueError(f"StressConfig.horizon must be >= 2, got {self.horizon}")
        if self.pacf_lags >= self.horizon:
            raise ValueError(
                f"StressConfig.pacf_lags must be < horizon={self.horizon}, got {self.pacf_lags}"
            )
        check_field_range(self, ("p_uncond", "p_drop_component"), "in [0, 1)", "StressConfig")
        if self.schedule not in ("cosine", "linear"):
            raise ValueError(
                f"StressConfig.schedule must be 'cosine' or 'linear', got {self.schedule!r}"
            )
        if self.stratify not in STRATIFY_OPTIONS:
            raise ValueError(
                f"StressConfig.stratify must be one of {STRATIFY_OPTIONS}, got {self.stratify!r}"
            )
        if self.pacf_weight < 0 or self.history_clip <= 0:
            raise ValueError("StressConfig needs pacf_weight >= 0 and history_clip > 0")
        if self.noise_levels not in NOISE_LEVEL_OPTIONS:
            raise ValueError(
                f"StressConfig.noise_levels must be one of {NOISE_LEVEL_OPTIONS}, "
                f"got {self.noise_levels!r}"
            )
        if not math.isfinite(self.noise_p_mean):
            raise ValueError(f"StressConfig.noise_p_mean must be finite, got {self.noise_p_mean}")
        for name in ("noise_p_std", "sigma_data"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"StressConfig.{name} must be finite and > 0, got {value}")
        self.train_options()  # validates the optimisation fields

    def train_options(self) -> TrainOptions:
        """Optimisation settings (one noise draw per window)."""
        return TrainOptions.from_fields(self, noise_draws=1)

    #: The tiny configuration of end-to-end tests (a few seconds on one core).
    SMOKE: ClassVar[Mapping[str, Any]] = {
        "horizon": 10,
        "history": 20,
        "width": 8,
        "n_blocks": 2,
        "history_width": 8,
        "history_blocks": 1,
        "emb_dim": 16,
        "diffusion_steps": 20,
        "max_epochs": 1,
        "min_epochs": 1,
        "patience": 1,
        "batch_size": 256,
        "samples_per_epoch": 512,
        "lr": 2e-3,
        "ema_decay": 0.0,
    }


# --------------------------------------------------------------------------- segments
def parse_segments(spec: str, assets: Sequence[str]) -> dict[str, list[str]]:
    """Segments (e.g. sector groups) of the constituents from ``"name=A,B; name=C"``.

    Parameters
    ----------
    spec : str
        ``;``-separated ``name=tickers`` entries (``stress.segments.sectors``); tickers are
        comma-separated. ``""`` gives one segment per constituent (named by its ticker).
    assets : sequence of str
        The constituents, in column order.

    Returns
    -------
    dict of str to list of str
        Segment name -> its tickers, in the order of ``assets``. Constituents that no
        entry names form a last segment ``"other"``.

    Raises
    ------
    ValueError
        Naming an entry without ``=``, a ticker that is not a constituent, a ticker listed
        in two segments, or a repeated segment name.

    Examples
    --------
    >>> parse_segments("tech=AAPL,MSFT; banks=JPM", ["AAPL", "JPM", "MSFT", "XOM"])
    {'tech': ['AAPL', 'MSFT'], 'banks': ['JPM'], 'other': ['XOM']}
    """
    names = [str(a) for a in assets]
    if not str(spec).strip():
        return {a: [a] for a in names}
    out: dict[str, list[str]] = {}
    owner: dict[str, str] = {}
    for chunk in (c.strip() for c in str(spec).split(";") if c.strip()):
        name, eq, members = (x.strip() for x in chunk.partition("="))
        tickers = [m.strip() for m in members.split(",") if m.strip()]
        if not eq or not name or not tickers:
            raise ValueError(f"segments entry {chunk!r}: expected name=TICKER,TICKER")
        if name in out:
            raise ValueError(f"segments: segment {name!r} is defined twice")
        unknown = [t for t in tickers if t not in names]
        if unknown:
            raise ValueError(
                f"segments: segment {name!r} names tickers {unknown} that are not among "
                f"the constituents {names}"
            )
        twice = [t for t in tickers if t in owner]
        if twice:
            raise ValueError(
                f"segments: tickers {twice} of segment {name!r} already belong to "
                f"segment {owner[twice[0]]!r}"
            )
        owner.update(dict.fromkeys(tickers, name))
        out[name] = [a for a in names if a in tickers]
    rest = [a for a in names if a not in owner]
    if rest:
        if "other" in out:
            raise ValueError(
                f"segments: constituents {rest} belong to no segment, and the name 'other' "
                "for them is taken"
            )
        out["other"] = rest
    return out
