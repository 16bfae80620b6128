"""The stress model's training loss: denoising error and the PACF penalty."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.stats import norm

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


def noise_level_probabilities(
    schedule: NoiseSchedule, p_mean: float, p_std: float, sigma_data: float = 1.0
) -> NDArray[np.float64]:
    """Probability of each step under EDM's log-normal noise levels (Karras et al. 2022).

    Step ``t`` has noise level ``sigma_t = sqrt((1 - ab_t) / ab_t)`` in the model's units
    (data divided by ``sigma_data``), ``sigma_data * sigma_t`` in the data's. Drawing
    ``ln sigma ~ N(p_mean, p_std**2)`` (data units) and taking the step whose
    ``ln(sigma_data * sigma_t)`` is nearest, with the first and last steps taking the
    tails (the clip to the schedule's range), gives step ``t`` the normal mass between the
    midpoints of its log-noise level and its neighbours':
    ``P(t) = Phi((m_t - p_mean) / p_std) - Phi((m_{t-1} - p_mean) / p_std)``,
    ``m_t = (ln s_t + ln s_{t+1}) / 2``, ``m_{-1} = -inf``, ``m_{T-1} = +inf``.

    Parameters
    ----------
    schedule : NoiseSchedule
        Its ``alpha_bars`` decrease strictly (so ``sigma_t`` increases).
    p_mean, p_std : float
        EDM's ``P_mean`` and ``P_std`` (-1.2 and 1.2 in the paper).
    sigma_data : float
        The model's data scale (:attr:`~diffrisk.stress.config.StressConfig.sigma_data`).

    Returns
    -------
    ndarray (T,)
        Non-negative, summing to 1.
    """
    ab = schedule.alpha_bars.double().numpy()
    log_sigma = 0.5 * np.log((1.0 - ab) / ab) + np.log(sigma_data)
    cdf = norm.cdf((log_sigma[1:] + log_sigma[:-1]) / 2.0, loc=p_mean, scale=p_std)
    return np.diff(np.concatenate([[0.0], cdf, [1.0]]))


def draw_steps(
    schedule: NoiseSchedule, n: int, gen: torch.Generator, config: StressConfig
) -> torch.Tensor:
    """The training steps ``t`` (n,) of a batch under ``config.noise_levels``.

    ``uniform``: ``torch.randint(0, T, (n,))`` (one draw of ``gen``, as the model always
    did). ``lognormal``: ``n`` float64 uniforms of ``gen`` inverted through the cumulative
    :func:`noise_level_probabilities` (``noise_p_mean``, ``noise_p_std``, ``sigma_data``).
    """
    if config.noise_levels == "uniform":
        return torch.randint(0, schedule.n_steps, (n,), generator=gen)
    probs = noise_level_probabilities(
        schedule, config.noise_p_mean, config.noise_p_std, config.sigma_data
    )
    cdf = torch.as_tensor(np.cumsum(probs[:-1]), dtype=torch.float64)
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    return torch.searchsorted(cdf, u, right=True)


def denoising_loss(
    net: StressDenoiser,
    schedule: NoiseSchedule,
    batch: dict[str, torch.Tensor],
    gen: torch.Generator,
    config: StressConfig,
    pacf_target: torch.Tensor | None,
) -> torch.Tensor:
    """The training loss of a batch: denoising MSE plus the PACF penalty.

    The noise level ``t`` is drawn by :func:`draw_steps` (uniform unless
    ``config.noise_levels`` says otherwise); the loss is the v-MSE, which is EDM's x0
    error weighted by ``1 / c_out**2`` (:class:`~diffrisk.stress.config.StressConfig`,
    Notes); ``batch["x0"]`` is already divided by ``config.sigma_data``
    (:class:`~diffrisk.stress.model.WindowTensors`). The whole signature is dropped with
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
    t = draw_steps(schedule, n, gen, config)
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
