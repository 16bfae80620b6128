"""The stress model's training loss: denoising error and the PACF penalty."""

from __future__ import annotations

import torch

from diffrisk.diffusion.prediction import to_x0, training_target
from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.stress.config import StressConfig
from diffrisk.stress.network import StressDenoiser


def differentiable_pacf(x0: torch.Tensor, lags: int) -> torch.Tensor:
    """PACF (A, L) of a batch of paths (B, A, H), pooled moments per asset (differentiable).

    Same estimator as :func:`diffrisk.evaluation.paths.temporal.path_autocorrelation`
    followed by the Durbin–Levinson recursion of
    :func:`diffrisk.evaluation.paths.temporal.partial_autocorrelation`, in torch so that
    the PACF penalty of the training loss has gradients.

    Parameters
    ----------
    x0 : Tensor (B, A, H)
    lags : int
        L, largest lag.

    Returns
    -------
    Tensor (A, L)
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


def denoising_loss(
    net: StressDenoiser,
    schedule: NoiseSchedule,
    batch: dict[str, torch.Tensor],
    gen: torch.Generator,
    config: StressConfig,
    pacf_target: torch.Tensor | None,
) -> torch.Tensor:
    """The training loss of a batch: denoising MSE plus the PACF penalty.

    The noise level ``t`` is drawn uniformly; the whole signature is dropped with
    probability ``config.p_uncond`` and each component with ``config.p_drop_component``
    (the unconditional branch of classifier-free guidance and partial requests). With
    ``pacf_target`` and ``config.pacf_weight > 0`` the mean squared distance of the PACF
    of the denoised paths (:func:`differentiable_pacf`, at the low-noise half of the
    batch, when it holds at least 8 paths) to ``pacf_target`` is added with that weight
    (the stress paper's partial-autocorrelation penalty).

    Parameters
    ----------
    net : StressDenoiser
    schedule : NoiseSchedule
    batch : dict of str to Tensor
        ``x0``, ``history``, ``scalars``, ``signature`` of the batch's windows.
    gen : torch.Generator
        Draws ``t``, the noise and the dropout masks.
    config : StressConfig
    pacf_target : Tensor (A, L) or None
        PACF of the training windows; None: no penalty.

    Returns
    -------
    Tensor
        The scalar loss.
    """
    n = batch["x0"].shape[0]
    t = torch.randint(0, schedule.n_steps, (n,), generator=gen)
    noise = torch.randn(batch["x0"].shape, generator=gen)
    drop_all = torch.rand(n, 1, generator=gen) < config.p_uncond
    drop_one = torch.rand(n, batch["signature"].shape[1], generator=gen) < config.p_drop_component
    mask = (drop_all | drop_one).float()
    x_t = schedule.q_sample(batch["x0"], t, noise)
    context = net.encode_history(batch["history"], batch["scalars"])
    pred = net(x_t, t, context, net.embed_signature(batch["signature"], mask))
    sqrt_ab, sqrt_1m = schedule.coefficients(t, x_t.shape)
    target = training_target(batch["x0"], noise, sqrt_ab, sqrt_1m, net.prediction_type)
    loss = torch.mean((pred - target) ** 2)
    if pacf_target is not None and config.pacf_weight > 0:
        low = t < schedule.n_steps // 2
        if int(low.sum()) >= 8:
            x0_hat = to_x0(pred[low], x_t[low], sqrt_ab[low], sqrt_1m[low], net.prediction_type)
            penalty = torch.mean((differentiable_pacf(x0_hat, config.pacf_lags) - pacf_target) ** 2)
            loss = loss + config.pacf_weight * penalty
    return loss
