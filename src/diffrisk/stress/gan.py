"""Conditional Wasserstein GAN with gradient penalty: a comparison generator of stress paths.

Generator: temporal latent ``z`` (n, latent_channels, H) plus the condition embedding
(history and signature, :class:`~diffrisk.stress.comparison.ConditionEncoder`) through
FiLM-conditioned temporal convolutions to a scaled path (n, A, H)
(:class:`~diffrisk.stress.comparison.PathGenerator`). Critic: the path through the same
kind of temporal convolutions, conditioned by its own condition encoder, averaged over the
horizon, concatenated with the path's amplitude features
(:func:`~diffrisk.stress.network.amplitude_features`) and mapped to a score. Loss
(Gulrajani et al. 2017): critic ``E[D(fake)] - E[D(real)] + lambda * GP``, generator
``-E[D(fake)]``, ``gan_n_critic`` critic updates per generator update, Adam with betas
(0.0, 0.9), lambda = 10. Group normalisation (per sample) keeps the penalty valid.

Epoch selection (rule fixed before training): after each epoch the EMA generator draws
one path for each of ``gan_val_windows`` validation windows (a fixed seeded subset; each
path conditioned on its window's history and full signature; fixed latents) and the
epoch's score is the energy distance (:func:`energy_distance`) between these paths and
the real validation windows, both flattened in the model's scale. The epoch with the
smallest score is kept; training stops after ``gan_patience`` epochs without improvement
(or, inside a :func:`~diffrisk.diffusion.time_cap.time_cap` scope, before an epoch that
would end past the cap).
Test data are never read.

References
----------
I. Gulrajani, F. Ahmed, M. Arjovsky, V. Dumoulin and A. Courville, "Improved Training of
Wasserstein GANs", NeurIPS 2017.
G. J. Székely and M. L. Rizzo, "Energy statistics", J. Stat. Plan. Inference 143, 2013.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

from diffrisk.diffusion.progress import progress_bar
from diffrisk.diffusion.time_cap import stop_for_time
from diffrisk.diffusion.training import EMA
from diffrisk.stress.comparison import (
    ComparisonSpec,
    ConditionEncoder,
    PathGenerator,
    TemporalConvNet,
    TrainingRun,
    drop_condition,
    select_epoch,
)
from diffrisk.stress.network import amplitude_features

logger = logging.getLogger(__name__)


class Critic(nn.Module):
    """``D(x, condition)``: a score per scaled path x (B, A, H)."""

    def __init__(self, spec: ComparisonSpec) -> None:
        super().__init__()
        self.condition = ConditionEncoder(spec)
        self.trunk = TemporalConvNet(
            spec.n_assets, spec.width, spec.width, spec.n_blocks, spec.emb_dim
        )
        self.head = nn.Sequential(
            nn.Linear(spec.width + 3 + spec.emb_dim, spec.width),
            nn.SiLU(),
            nn.Linear(spec.width, 1),
        )

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """Scores (B,) of paths ``x`` under condition embeddings ``emb`` (B, emb_dim).

        The head sees the pooled features, the path's amplitude features, its scaled
        cumulative market move and the condition embedding together (non-linearly), so it
        can compare what a path realises with what was requested.
        """
        h = self.trunk(x, emb).mean(dim=-1)
        market = x.mean(dim=1).sum(dim=-1, keepdim=True) / math.sqrt(x.shape[-1])
        feats = torch.cat([h, amplitude_features(x), market, emb], dim=-1)
        return self.head(feats).squeeze(-1)


def gradient_penalty(
    score: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    gen: torch.Generator,
) -> torch.Tensor:
    """``E[(||grad_x D(x_hat)||_2 - 1)^2]`` at ``x_hat = u real + (1 - u) fake``, u ~ U(0, 1).

    Parameters
    ----------
    score : callable
        ``x -> D(x)`` (B,), the critic with its condition fixed.
    real, fake : Tensor (B, ...)
    gen : torch.Generator
        Draws the interpolation weights (one per sample).

    Returns
    -------
    Tensor
        Scalar penalty, differentiable (``create_graph``) for the critic update.
    """
    u = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), generator=gen)
    x_hat = (u * real + (1.0 - u) * fake.detach()).requires_grad_(True)
    grad = torch.autograd.grad(score(x_hat).sum(), x_hat, create_graph=True)[0]
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` of two samples (n, d), (m, d).

    Within-sample means exclude the zero diagonal (U-statistics); 0 in expectation when
    both samples come from the same law, larger when they differ.
    """
    x, y = x.flatten(1).double(), y.flatten(1).double()
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"energy_distance needs at least 2 rows per sample, got {n} and {m}")
    xy = torch.cdist(x, y).mean()
    xx = torch.cdist(x, x).sum() / (n * (n - 1))
    yy = torch.cdist(y, y).sum() / (m * (m - 1))
    return float(2 * xy - xx - yy)


def _validation_score(
    net: PathGenerator, batch: Mapping[str, torch.Tensor], z: torch.Tensor
) -> float:
    net.eval()
    with torch.no_grad():
        fake = net(z, net.condition(batch))
    return energy_distance(fake, batch["x0"])


def fit_gan(run: TrainingRun) -> tuple[list[dict[str, float]], Critic]:
    """The WGAN-GP training loop of one :class:`~diffrisk.stress.comparison.TrainingRun`.

    Run by :func:`~diffrisk.stress.comparison_training.train_comparison_generator`.
    ``run.seed`` seeds the critic's initial weights (through torch's global generator,
    after the generator's), the batch order, latents, interpolation weights, condition
    dropout and the validation subset. Leaves the EMA generator of the selected epoch in
    ``run.model.net`` (eval mode).

    Returns
    -------
    history : list of dict
        Per epoch: ``critic_loss``, ``gp``, ``generator_loss``, ``score``, ``seconds``.
    critic : Critic
    """
    model, train, val, settings = run.model, run.train, run.val, run.model.settings
    net, critic = model.net, Critic(model.net.spec)
    opt_g = torch.optim.Adam(net.parameters(), lr=settings.gan_lr, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(critic.parameters(), lr=settings.gan_lr, betas=(0.0, 0.9))
    ema = EMA(net, settings.ema_decay)
    gen = torch.Generator().manual_seed(run.seed)
    rng = np.random.default_rng(run.seed + 1)
    rows = np.sort(rng.choice(len(val), min(settings.gan_val_windows, len(val)), replace=False))
    val_batch = val.take(torch.as_tensor(rows))
    val_z = torch.randn(
        len(rows),
        model.net.spec.latent_channels,
        model.net.spec.horizon,
        generator=torch.Generator().manual_seed(run.seed + 2),
    )
    spec = model.net.spec
    n_use = settings.samples_per_epoch or len(train)
    n_batches = math.ceil(min(n_use, len(train)) / settings.batch_size)
    history: list[dict[str, float]] = []
    critic_steps = 0
    best_state, best_score = None, math.inf
    bar = progress_bar(n_batches * settings.gan_epochs, "train gan", run.progress)
    for epoch in range(1, settings.gan_epochs + 1):
        tic = time.perf_counter()
        net.train()
        critic.train()
        order = torch.randperm(len(train), generator=gen)[:n_use]
        sums = {"critic_loss": 0.0, "generator_loss": 0.0, "gp": 0.0}
        g_steps = 0
        for s in range(0, len(order), settings.batch_size):
            batch = drop_condition(train.take(order[s : s + settings.batch_size]), settings, gen)
            real = batch["x0"]
            z = torch.randn(real.shape[0], spec.latent_channels, spec.horizon, generator=gen)
            with torch.no_grad():
                fake = net(z, net.condition(batch))
            emb_d = critic.condition(batch)
            gp = gradient_penalty(lambda x, e=emb_d: critic(x, e), real, fake, gen)
            loss_d = critic(fake, emb_d).mean() - critic(real, emb_d).mean()
            loss_d = loss_d + settings.gan_gp_weight * gp
            if not math.isfinite(loss_d.item()):
                raise FloatingPointError(f"critic loss became {loss_d.item()} in epoch {epoch}")
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            sums["critic_loss"] += loss_d.item()
            sums["gp"] += gp.item()
            critic_steps += 1
            if critic_steps % settings.gan_n_critic == 0:
                z = torch.randn(real.shape[0], spec.latent_channels, spec.horizon, generator=gen)
                loss_g = -critic(net(z, net.condition(batch)), critic.condition(batch)).mean()
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                ema.update(net)
                sums["generator_loss"] += loss_g.item()
                g_steps += 1
            bar.update(1)
        score = _validation_score(ema.shadow, val_batch, val_z)
        history.append(
            {
                "epoch": epoch,
                "critic_loss": sums["critic_loss"] / n_batches,
                "gp": sums["gp"] / n_batches,
                "generator_loss": sums["generator_loss"] / max(g_steps, 1),
                "score": score,
                "seconds": time.perf_counter() - tic,
            }
        )
        logger.info(
            "gan epoch %d: critic %.4f gp %.4f energy distance %.4f",
            epoch,
            history[-1]["critic_loss"],
            history[-1]["gp"],
            score,
        )
        if math.isfinite(score) and score < best_score:
            best_score, best_state = score, copy.deepcopy(ema.shadow.state_dict())
        if select_epoch(history, settings.gan_patience):
            break
        if epoch < settings.gan_epochs and stop_for_time(
            sum(h["seconds"] for h in history), history[-1]["seconds"]
        ):
            logger.info("gan: stopping after epoch %d: training-time cap", epoch)
            break
    bar.close()
    if best_state is None:
        raise RuntimeError("no finite validation score in any epoch; nothing to select")
    net.load_state_dict(best_state)
    net.eval()
    return history, critic
