"""Shared parts of the GAN and VAE comparison generators of the stress model.

The two comparison generators (:mod:`diffrisk.stress.gan`, :mod:`diffrisk.stress.vae`)
see exactly what the diffusion model sees:

* the same training and validation windows (:func:`~diffrisk.stress.windows.training_windows`
  with the diffusion model's :class:`~diffrisk.stress.config.StressConfig`: horizon,
  history, EWMA scaling);
* the same statistics, fitted on training windows only
  (:func:`~diffrisk.stress.model.fit_stress_statistics`: signature and history-feature
  standardisation, target scale, training signature range, signature prior);
* the same conditioning: the history encoder and the signature embedding with one learned
  null token per component (:class:`ConditionEncoder` shares the forward code of
  :class:`~diffrisk.stress.network.StressDenoiser`), trained with the same component and
  whole-signature dropout, so partial requests (only ``vol_ratio``) and unconditional
  requests work; the signature enters the network directly (no guidance).

Both generate a scaled path ``x = r / (sigma * target_scale)`` (n, A, H) from a temporal
latent ``z`` (n, latent_channels, H) with a temporal-convolution network whose residual
blocks are FiLM-conditioned (:class:`~diffrisk.stress.network.FiLMBlock`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from diffrisk.diffusion.checkpoints import read_checkpoint, restore_weights, save_checkpoint
from diffrisk.diffusion.settings import SmokeSettings
from diffrisk.diffusion.training import check_field_range, check_positive_fields
from diffrisk.stress.config import ParamsSection, StressConfig
from diffrisk.stress.model import (
    WindowTensors,
    statistics_from_payload,
    statistics_payload,
)
from diffrisk.stress.network import ConditionModules, FiLMBlock
from diffrisk.stress.signatures import (
    N_HISTORY_SCALARS,
    SIGNATURE_COLUMNS,
    ConditioningScales,
)

COMPARISON_GENERATORS: tuple[str, ...] = ("gan", "vae")
"""Names of the comparison generators (scenario-set files ``<name>_<archetype>.npz``)."""


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class ComparisonConfig(ParamsSection, SmokeSettings):
    """Architecture and training settings of the GAN and VAE comparison generators.

    Parameters
    ----------
    width : int
        Channels of the temporal convolutions (generator, critic, encoder, decoder).
    n_blocks : int
        FiLM residual blocks per network (block i has dilation ``2 ** (i % 4)``).
    latent_channels : int
        Channels of the temporal latent ``z`` (n, latent_channels, H).
    history_width, history_blocks : int
        Channels and residual dilated blocks of the history encoder.
    emb_dim : int
        Width of the condition embedding (history context + signature embedding).
    p_uncond, p_drop_component : float
        Condition dropout in training, as for the diffusion model: the whole signature,
        or each component, is replaced by its null token with these probabilities.
    batch_size : int
        Windows per batch.
    samples_per_epoch : int
        Training windows drawn per epoch (0 = all).
    ema_decay : float
        Decay of the EMA of the generator's (GAN) or the VAE's weights (0 = off).
    gan_epochs, gan_patience : int
        Epoch budget of the GAN and early-stopping patience on the validation score.
    gan_lr : float
        Adam learning rate of generator and critic (betas (0.0, 0.9), Gulrajani et al.).
    gan_n_critic : int
        Critic updates per generator update.
    gan_gp_weight : float
        Gradient-penalty weight lambda (10 in Gulrajani et al. 2017).
    gan_val_windows : int
        Validation windows (a fixed, seeded draw) of the GAN's energy-distance score.
    vae_epochs, vae_patience : int
        Epoch budget of the VAE and early-stopping patience on the validation loss.
    vae_lr : float
        Adam learning rate of the VAE.
    vae_beta : float
        Final weight of the KL term (1 = the ELBO).
    vae_kl_warmup_epochs : int
        Epochs over which the KL weight rises linearly from 0 to ``vae_beta``.
    threads : int
        ``torch.set_num_threads`` during training and sampling.
    workers : int
        Processes of the ``stress_train`` stage (2: the GAN on one, the diffusion model
        and then the VAE on the other); the weights do not depend on it.
    """

    width: int = 32
    n_blocks: int = 3
    latent_channels: int = 4
    history_width: int = 16
    history_blocks: int = 2
    emb_dim: int = 32
    p_uncond: float = 0.2
    p_drop_component: float = 0.3
    batch_size: int = 128
    samples_per_epoch: int = 0
    ema_decay: float = 0.99
    gan_epochs: int = 24
    gan_patience: int = 10
    gan_lr: float = 1e-3
    gan_n_critic: int = 5
    gan_gp_weight: float = 10.0
    gan_val_windows: int = 256
    vae_epochs: int = 30
    vae_patience: int = 8
    vae_lr: float = 1e-3
    vae_beta: float = 1.0
    vae_kl_warmup_epochs: int = 5
    threads: int = 1
    workers: int = 1

    section: ClassVar[str] = "stress.comparison"

    def __post_init__(self) -> None:
        # every count is >= 1 except these, which may be 0 (checked below with the floats)
        may_be_zero = ("samples_per_epoch", "history_blocks")
        check_positive_fields(
            self,
            [f.name for f in fields(self) if f.type == "int" and f.name not in may_be_zero],
            "ComparisonConfig",
        )
        check_field_range(
            self, ("p_uncond", "p_drop_component", "ema_decay"), "in [0, 1)", "ComparisonConfig"
        )
        check_field_range(self, ("gan_lr", "vae_lr"), "> 0", "ComparisonConfig")
        check_field_range(
            self, ("gan_gp_weight", "vae_beta", *may_be_zero), ">= 0", "ComparisonConfig"
        )

    #: The tiny configuration of tests (a second or two on one core).
    SMOKE: ClassVar[Mapping[str, Any]] = {
        "width": 8,
        "n_blocks": 1,
        "latent_channels": 2,
        "history_width": 8,
        "history_blocks": 1,
        "emb_dim": 16,
        "batch_size": 64,
        "samples_per_epoch": 256,
        "gan_epochs": 2,
        "gan_patience": 2,
        "gan_val_windows": 32,
        "vae_epochs": 2,
        "vae_patience": 2,
        "vae_kl_warmup_epochs": 1,
    }


@dataclass(frozen=True)
class ComparisonSpec:
    """Shape of the comparison networks (plain numbers, serialisable).

    The network fields (``width`` ... ``emb_dim``) are read from :class:`ComparisonConfig`
    (which holds their defaults), the others from the data.
    """

    n_assets: int
    horizon: int
    history: int
    width: int
    n_blocks: int
    latent_channels: int
    history_width: int
    history_blocks: int
    emb_dim: int
    n_scalars: int = N_HISTORY_SCALARS
    n_signature: int = len(SIGNATURE_COLUMNS)


# --------------------------------------------------------------------------- networks
class ConditionEncoder(ConditionModules):
    """Condition embedding ``SiLU(history context + signature embedding)`` (B, emb_dim).

    The same modules as the diffusion denoiser's history encoder and signature embedding,
    and the same forward code (both are :class:`~diffrisk.stress.network.ConditionModules`):
    :meth:`encode_history` and :meth:`embed_signature` *are*
    :meth:`StressDenoiser.encode_history` and :meth:`StressDenoiser.embed_signature`.
    """

    def forward(self, cond: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Embedding of ``cond`` (``history``, ``scalars``, ``signature``, ``mask``)."""
        context = self.encode_history(cond["history"], cond["scalars"])
        return F.silu(context + self.embed_signature(cond["signature"], cond["mask"]))


class TemporalConvNet(nn.Module):
    """``(B, in, H) -> (B, out, H)``: 1x1 conv, FiLM residual blocks, norm, 1x1 conv."""

    def __init__(self, in_ch: int, out_ch: int, width: int, n_blocks: int, emb_dim: int) -> None:
        super().__init__()
        self.inp = nn.Conv1d(in_ch, width, 1)
        self.blocks = nn.ModuleList(
            FiLMBlock(width, emb_dim, 2 ** (i % 4)) for i in range(n_blocks)
        )
        self.out_norm = nn.GroupNorm(min(8, width), width)
        self.out = nn.Conv1d(width, out_ch, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """Apply to ``x`` with the condition embedding ``emb`` (B, emb_dim)."""
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(F.silu(self.out_norm(h)))


class PathGenerator(nn.Module):
    """Latent ``z`` (B, latent, H) + condition -> scaled path (B, A, H).

    The GAN's generator and the VAE's decoder. With ``output_noise`` (the VAE) the path
    is the decoder mean plus ``exp(log_scale) * eps``, the Gaussian observation model of
    the likelihood, with one learned scale per asset.
    """

    def __init__(self, spec: ComparisonSpec, output_noise: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.condition = ConditionEncoder(spec)
        self.decoder = TemporalConvNet(
            spec.latent_channels, spec.n_assets, spec.width, spec.n_blocks, spec.emb_dim
        )
        self.log_scale = nn.Parameter(torch.zeros(spec.n_assets)) if output_noise else None

    def mean(self, z: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """Decoder output for latent ``z`` and condition embedding ``emb``."""
        return self.decoder(z, emb)

    def forward(
        self, z: torch.Tensor, emb: torch.Tensor, eps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """A scaled path; ``eps`` (B, A, H) is the observation noise (VAE only)."""
        out = self.mean(z, emb)
        if self.log_scale is not None and eps is not None:
            out = out + torch.exp(self.log_scale)[None, :, None] * eps
        return out


# --------------------------------------------------------------------------- fitted model
@dataclass
class ComparisonModel(ConditioningScales):
    """A trained GAN or VAE with the statistics fitted with it (training data only).

    Attributes
    ----------
    kind : {"gan", "vae"}
    net : PathGenerator
        Selected (EMA) generator / decoder weights, eval mode.
    aux : nn.Module or None
        The critic (GAN) or the encoder (VAE); not needed for sampling, not saved.
    config : StressConfig
        The diffusion model's window and scaling settings (horizon, history, EWMA).
    settings : ComparisonConfig
    assets, signature_mean, signature_std, scalar_mean, scalar_std, target_scale,
    target_abs_max, signature_bounds, train_end, prior_features, prior_signatures
        The fitted statistics (:class:`~diffrisk.stress.signatures.ConditioningScales`,
        from :func:`~diffrisk.stress.model.fit_stress_statistics`).
    history : list of dict
        Per-epoch training record.
    """

    kind: str
    net: PathGenerator
    config: StressConfig
    settings: ComparisonConfig
    history: list[dict[str, float]] = field(default_factory=list)
    aux: nn.Module | None = None


def drop_condition(
    batch: Mapping[str, torch.Tensor], settings: ComparisonConfig, gen: torch.Generator
) -> dict[str, torch.Tensor]:
    """``batch`` with signature components dropped to their null token (training only)."""
    n, c = batch["signature"].shape
    drop_all = torch.rand(n, 1, generator=gen) < settings.p_uncond
    drop_one = torch.rand(n, c, generator=gen) < settings.p_drop_component
    mask = torch.clamp(batch["mask"] + (drop_all | drop_one).float(), max=1.0)
    return {**batch, "mask": mask}


@dataclass
class TrainingRun:
    """One generator's training data, handed to its training loop.

    :func:`~diffrisk.stress.comparison_training.train_comparison_generator` builds it;
    :func:`~diffrisk.stress.gan.fit_gan` and :func:`~diffrisk.stress.vae.fit_vae` run on it.

    Attributes
    ----------
    model : ComparisonModel
        The untrained model: statistics fitted on training windows, network initialised.
        The loop leaves the selected weights in ``model.net``.
    train, val : WindowTensors
        Training windows and the validation windows of the epoch selection.
    seed : int
    progress : bool or None
        tqdm bar (None: only on a terminal).
    """

    model: ComparisonModel
    train: WindowTensors
    val: WindowTensors
    seed: int
    progress: bool | None = None


def select_epoch(history: list[dict[str, float]], patience: int, min_epochs: int = 1) -> bool:
    """True when the last ``patience`` epochs did not improve the best score (stop)."""
    if len(history) < max(min_epochs, patience + 1):
        return False
    best = int(np.nanargmin([h["score"] for h in history]))
    return len(history) - 1 - best >= patience


# --------------------------------------------------------------------------- checkpoints
def save_comparison_model(model: ComparisonModel, path: str | Path) -> Path:
    """Write the generator and its statistics atomically (tensors, numbers, strings only).

    The history is stored without its wall times
    (:func:`~diffrisk.diffusion.checkpoints.save_checkpoint`): the file's
    SHA-256 is the same on every rerun with the same seed.
    """
    payload = {
        "kind": f"diffrisk.stress.{model.kind}",
        "spec": asdict(model.net.spec),
        "config": model.config.to_dict(),
        "settings": model.settings.to_dict(),
        "state_dict": model.net.state_dict(),
        **statistics_payload(model),
        "history": model.history,
    }
    return save_checkpoint(path, payload)


def load_comparison_model(path: str | Path, kind: str | None = None) -> ComparisonModel:
    """Read a model written by :func:`save_comparison_model` (``kind`` checks its type)."""
    payload = read_checkpoint(path)
    found = str(payload.get("kind", "")).rpartition(".")[2]
    if not str(payload.get("kind", "")).startswith("diffrisk.stress.") or (
        found not in COMPARISON_GENERATORS
    ):
        raise ValueError(f"{path} is not a GAN/VAE checkpoint (kind={payload.get('kind')!r})")
    if kind is not None and found != kind:
        raise ValueError(f"{path} holds a {found!r} model, expected kind={kind!r}")
    net = restore_weights(
        PathGenerator(ComparisonSpec(**payload["spec"]), output_noise=found == "vae"), payload
    )
    return ComparisonModel(
        kind=found,
        net=net,
        config=StressConfig.from_dict(payload["config"]),
        settings=ComparisonConfig.from_dict(payload["settings"]),
        **statistics_from_payload(payload),
        history=list(payload.get("history", [])),
    )
