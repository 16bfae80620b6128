"""Conditional VAE with temporal-convolution encoder and decoder: a comparison generator.

Encoder ``q(z | x, c)``: the scaled path (n, A, H) through FiLM-conditioned temporal
convolutions to the mean and log-variance of a temporal latent (n, latent_channels, H).
Decoder ``p(x | z, c)``: :class:`~diffrisk.stress.comparison.PathGenerator` (the same
network shape as the GAN's generator) gives the mean; the observation model is Gaussian
with one learned standard deviation per asset, and samples include that noise. The
condition ``c`` (history and signature, with component dropout) is embedded once and
shared by encoder and decoder.

Loss per path element: ``NLL(x | mean, scale) + beta_k KL(q || N(0, I))`` with the KL
weight annealed linearly from 0 to ``vae_beta`` over the first ``vae_kl_warmup_epochs``
epochs (:func:`kl_weight`, per optimisation step). Optimisation: the shared loop
:func:`diffrisk.diffusion.training.train_denoiser` (Adam, no weight decay, gradient
clipping, EMA, early stopping).

Epoch selection (rule fixed before training): the validation loss is the negative ELBO
per element at the final weight ``beta = vae_beta``, on all validation windows, with fixed
seeded latent draws and the same condition dropout as training (so the conditional and
unconditional branches are both measured); the EMA weights of the epoch with the
smallest validation loss are kept. Test data are never read.

References
----------
D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
S. R. Bowman et al., "Generating Sentences from a Continuous Space", CoNLL 2016 (KL annealing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from diffrisk.diffusion.training import TrainOptions, train_denoiser
from diffrisk.stress.comparison import (
    ComparisonConfig,
    PathGenerator,
    TemporalConvNet,
    TrainingRun,
    WindowTensors,
    drop_condition,
)


def kl_weight(step: int, warmup_steps: int, beta: float) -> float:
    """Linear KL annealing: ``beta * min(1, step / warmup_steps)`` (step 0 = first update).

    Examples
    --------
    >>> kl_weight(0, 10, 1.0), kl_weight(5, 10, 1.0), kl_weight(30, 10, 0.5)
    (0.0, 0.5, 0.5)
    """
    if int(warmup_steps) < 1:
        raise ValueError(f"warmup_steps must be >= 1, got {warmup_steps!r}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step!r}")
    return float(beta) * min(1.0, float(step) / float(warmup_steps))


class ConditionalVAE(nn.Module):
    """Encoder and decoder (:class:`PathGenerator`) of the conditional VAE."""

    def __init__(self, generator: PathGenerator) -> None:
        super().__init__()
        spec = generator.spec
        self.generator = generator
        self.encoder = TemporalConvNet(
            spec.n_assets, 2 * spec.latent_channels, spec.width, spec.n_blocks, spec.emb_dim
        )

    def losses(
        self, batch: Mapping[str, torch.Tensor], gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gaussian negative log-likelihood and KL, both per path element (scalars).

        The NLL omits the constant ``0.5 log(2 pi)``.
        """
        emb = self.generator.condition(batch)
        mu, logvar = self.encoder(batch["x0"], emb).chunk(2, dim=1)
        logvar = logvar.clamp(-10.0, 10.0)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
        mean = self.generator.mean(z, emb)
        log_scale = self.generator.log_scale[None, :, None]
        nll = 0.5 * ((batch["x0"] - mean) * torch.exp(-log_scale)) ** 2 + log_scale
        kl = 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar)
        per_path = batch["x0"][0].numel()
        return nll.sum(dim=(1, 2)).mean() / per_path, kl.sum(dim=(1, 2)).mean() / per_path


@torch.no_grad()
def _validation_loss(
    vae: ConditionalVAE, data: WindowTensors, settings: ComparisonConfig, seed: int
) -> float:
    vae.eval()
    gen = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    for s in range(0, len(data), 1024):
        batch = drop_condition(data.take(slice(s, s + 1024)), settings, gen)
        nll, kl = vae.losses(batch, gen)
        total += float(nll + settings.vae_beta * kl) * batch["x0"].shape[0]
        count += batch["x0"].shape[0]
    return total / max(count, 1)


def fit_vae(run: TrainingRun) -> tuple[list[dict[str, float]], ConditionalVAE]:
    """The VAE training loop of one :class:`~diffrisk.stress.comparison.TrainingRun`.

    Run by :func:`~diffrisk.stress.comparison_training.train_comparison_generator`.
    ``run.seed`` seeds the encoder's initial weights (through torch's global generator,
    after the decoder's), the batch order, latents and condition dropout. Leaves the
    decoder of the selected epoch (EMA weights) in ``run.model.net``.

    Returns
    -------
    history : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``seconds``.
    vae : ConditionalVAE
        The whole VAE (encoder included), eval mode.
    """
    train, val, settings = run.train, run.val, run.model.settings
    vae = ConditionalVAE(run.model.net)
    n_use = min(settings.samples_per_epoch or len(train), len(train))
    warmup = settings.vae_kl_warmup_epochs * math.ceil(n_use / settings.batch_size)
    step = {"n": 0}

    def loss_fn(net: nn.Module, batch: dict, gen: torch.Generator) -> torch.Tensor:
        nll, kl = net.losses(drop_condition(batch, settings, gen), gen)  # type: ignore[operator]
        beta = kl_weight(step["n"], warmup, settings.vae_beta)
        step["n"] += 1
        return nll + beta * kl

    options = TrainOptions(
        lr=settings.vae_lr,
        weight_decay=0.0,
        batch_size=settings.batch_size,
        noise_draws=1,
        max_epochs=settings.vae_epochs,
        patience=settings.vae_patience,
        min_epochs=min(settings.vae_kl_warmup_epochs + 1, settings.vae_epochs),
        grad_clip=1.0,
        ema_decay=settings.ema_decay,
        samples_per_epoch=settings.samples_per_epoch,
    )
    result = train_denoiser(
        vae,
        train,
        options,
        seed=run.seed,
        loss_fn=loss_fn,
        val_loss_fn=lambda net: _validation_loss(net, val, settings, run.seed + 1),  # type: ignore[arg-type]
        progress=run.progress,
        desc="train vae",
    )
    vae.load_state_dict(result.state_dict)
    vae.eval()
    history = [
        {k: h[k] for k in ("epoch", "train_loss", "val_loss", "seconds")} for h in result.history
    ]
    return history, vae
