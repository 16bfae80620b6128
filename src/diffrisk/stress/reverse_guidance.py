"""Loss-guided reverse diffusion with exact path-space importance weights.

The reverse chain of a trained model (stochastic DDIM, ``eta > 0``) is steered toward a
loss region by moving the predicted ``x0`` a fraction of the way onto the region's
boundary at every stochastic step, the denoiser then continuing from the nudged state
(so the learned dependence shapes what follows). Each stochastic step is a Gaussian
transition ``N(mu, s^2 I)`` under the model and ``N(mu', s^2 I)`` under the guided
proposal, so the likelihood ratio of the whole chain is exact:
``log w = sum_steps [|x - mu'|^2 - |x - mu|^2] / (2 s^2)``; the deterministic last step
(``s = 0``) is never guided. ``E_q[w f(x0)] = E_p[f(x0)]`` for the unguided model p: the
importance-sampling estimate of ``P(loss >= L)`` (twisted sequential sampling without
resampling; cf. Wu et al. 2023, "Practical and asymptotically exact conditional sampling
in diffusion models").

References
----------
Song, J., Meng, C. & Ermon, S. (2021). Denoising diffusion implicit models (eq. 12, 16).
Dhariwal, P. & Nichol, A. (2021). Diffusion models beat GANs on image synthesis (§4).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.stats import binomtest, norm

from diffrisk.core.checks import finite_float
from diffrisk.diffusion.sampler import reverse_steps
from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.diffusion.steps import ddim_step

LossFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class GuidedDraw:
    """Samples of a guided chain and their importance weights.

    Attributes
    ----------
    x0 : Tensor
        Final states (the model's input scale).
    log_weight : ndarray (B,)
        ``log dp/dq`` of each chain (0 everywhere without guidance).
    """

    x0: torch.Tensor
    log_weight: NDArray[np.float64]


def boundary_shift(x0_hat: torch.Tensor, loss_fn: LossFn, target: float) -> torch.Tensor:
    """The smallest (Euclidean) first-order move of ``x0_hat`` onto ``loss >= target``.

    ``delta = max(0, target - loss(x)) * g / |g|^2`` with ``g`` the gradient of the loss
    (one Newton step onto the level set; exact for a linear loss); rows already beyond
    the target are not moved.

    Parameters
    ----------
    x0_hat : Tensor (B, ...)
    loss_fn : callable(Tensor (B, ...)) -> Tensor (B,)
        Differentiable loss of each row.
    target : float

    Returns
    -------
    Tensor, shape of ``x0_hat``
    """
    with torch.enable_grad():
        x = x0_hat.detach().clone().requires_grad_(True)
        loss = loss_fn(x)
        (grad,) = torch.autograd.grad(loss.sum(), x)
    gap = (float(target) - loss.detach()).clamp(min=0.0)
    norm2 = grad.flatten(1).pow(2).sum(1).clamp(min=1e-12)
    factor = (gap / norm2).reshape((-1,) + (1,) * (x0_hat.ndim - 1))
    return (factor * grad).to(x0_hat.dtype)


def check_guidance(strength: float, defensive: float) -> tuple[float, float]:
    """``(strength, defensive)`` as floats; ValueError unless in ``[0, 1]`` and ``[0, 1)``.

    Examples
    --------
    >>> check_guidance(1, 0.2)
    (1.0, 0.2)
    """
    s, d = finite_float(strength, "strength"), finite_float(defensive, "defensive")
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength!r}")
    if not 0.0 <= d < 1.0:
        raise ValueError(f"defensive must be in [0, 1), got {defensive!r}")
    return s, d


def guided_reverse(
    eps_fn: Callable[[torch.Tensor, int], torch.Tensor],
    schedule: NoiseSchedule,
    x_init: torch.Tensor,
    *,
    loss_fn: LossFn | None,
    target: float,
    strength: float,
    generator: torch.Generator,
    n_steps: int = 20,
    eta: float = 1.0,
    spacing: str = "linear",
    defensive: float = 0.0,
) -> GuidedDraw:
    """Stochastic DDIM from ``x_init``, guided toward ``loss >= target``, with weights.

    Parameters
    ----------
    eps_fn : callable(x_t, t) -> Tensor
        The model's (unguided) noise prediction.
    schedule : NoiseSchedule
    x_init : Tensor (B, ...)
        x_T.
    loss_fn : callable or None
        Differentiable loss of a batch of ``x0``; None = unguided.
    target : float
        Loss level the chain is steered to.
    strength : float
        gamma in [0, 1]: the fraction of :func:`boundary_shift` applied to ``x0_hat`` at
        every stochastic step (0 = unguided, the weights are then all 1).
    generator : torch.Generator
        Step noise.
    n_steps, spacing
        DDIM steps (:func:`diffrisk.diffusion.sampler.ddim_timesteps`).
    eta : float
        DDIM stochasticity in (0, 1]; the weights need stochastic steps.
    defensive : float
        lambda in [0, 1): the first ``round(lambda B)`` chains run unguided and every
        chain is weighted against the mixture ``lambda p + (1 - lambda) q`` (defensive
        importance sampling, Hesterberg 1995): ``w = 1 / (lambda + (1 - lambda) q / p)``
        <= 1 / lambda, which bounds the weights the plain guided proposal leaves
        heavy-tailed.

    Returns
    -------
    GuidedDraw
    """
    strength, defensive = check_guidance(strength, defensive)
    if not (0.0 < eta <= 1.0):
        raise ValueError(f"eta must be in (0, 1] for importance weights, got {eta!r}")
    steps = reverse_steps("ddim", schedule, n_steps, spacing)
    x = x_init
    log_r = torch.zeros(x.shape[0], dtype=torch.float64)  # log q/p along the path
    n_plain = int(round(defensive * x.shape[0])) if loss_fn is not None and strength > 0 else 0
    plain = (torch.arange(x.shape[0]) < n_plain).reshape((-1,) + (1,) * (x.ndim - 1))
    dims = tuple(range(1, x.ndim))
    for i, t in enumerate(int(s) for s in steps):
        t_prev = int(steps[i + 1]) if i + 1 < len(steps) else -1
        with torch.no_grad():
            eps = eps_fn(x, t)
            x0_hat = schedule.predict_x0(x, torch.tensor(t), eps)
            mean = ddim_step(schedule, x, t, t_prev, eps, eta, None, x0_hat=x0_hat)
        ab_t = float(schedule.alpha_bars[t])
        ab_prev = float(schedule.alpha_bars[t_prev]) if t_prev >= 0 else 1.0
        sigma = eta * math.sqrt((1.0 - ab_prev) / (1.0 - ab_t)) * math.sqrt(1.0 - ab_t / ab_prev)
        if sigma <= 0.0:
            x = mean
            continue
        guided = mean
        if loss_fn is not None and strength > 0.0:
            shifted = x0_hat + strength * boundary_shift(x0_hat, loss_fn, target)
            with torch.no_grad():
                guided = ddim_step(schedule, x, t, t_prev, eps, eta, None, x0_hat=shifted)
        z = torch.randn(x.shape, generator=generator)
        x = torch.where(plain, mean, guided) + sigma * z
        to_mean, to_guided = (x - mean).double(), (x - guided).double()
        log_r += ((to_mean**2).sum(dims) - (to_guided**2).sum(dims)) / (2.0 * sigma**2)
        if not torch.isfinite(x).all():
            raise FloatingPointError(f"guided sampler produced non-finite values at step t={t}")
    if n_plain == 0:
        log_w = -log_r
    else:
        lam = torch.tensor(defensive, dtype=torch.float64)
        log_w = -torch.logaddexp(lam.log(), torch.log1p(-lam) + log_r)
    return GuidedDraw(x0=x, log_weight=log_w.numpy())


def importance_estimate(
    hit: NDArray[np.bool_], log_weight: NDArray[np.float64], level: float = 0.95
) -> dict[str, float]:
    """Importance-sampling estimate of ``P(hit)`` under the unguided model, with a CI.

    ``p = mean(w 1{hit})`` (unbiased: ``E_q[w] = 1``), normal interval from the sample
    standard deviation of ``w 1{hit}``; also the mean weight (1 in expectation; far below
    1 when the proposal rarely visits where the model's non-hit mass lies, which does not
    bias ``p`` but makes the self-normalised estimator useless) and Kish's effective
    sample size ``(sum w)^2 / sum w^2``.

    Returns
    -------
    dict
        ``p``, ``lower``, ``upper``, ``se``, ``mean_weight``, ``ess``, ``n``.
    """
    hit = np.asarray(hit, dtype=bool)
    lw = np.asarray(log_weight, dtype=float)
    if hit.shape != lw.shape or hit.ndim != 1 or hit.size < 2:
        raise ValueError("hit and log_weight must be 1-D of the same length >= 2")
    w = np.exp(lw)
    y = w * hit
    p = float(y.mean())
    se = float(y.std(ddof=1) / math.sqrt(y.size))
    z = float(norm.ppf(0.5 + level / 2.0))
    return {
        "p": p,
        "lower": max(p - z * se, 0.0),
        "upper": p + z * se,
        "se": se,
        "mean_weight": float(w.mean()),
        "ess": float(w.sum() ** 2 / (w**2).sum()),
        "n": float(y.size),
    }


def wilson_estimate(hits: int, n: int, level: float = 0.95) -> dict[str, float]:
    """Plain Monte-Carlo ``P = hits / n`` with the Wilson score interval (scipy)."""
    if n < 1 or not (0 <= hits <= n):
        raise ValueError(f"need 0 <= hits <= n and n >= 1, got hits={hits}, n={n}")
    ci = binomtest(int(hits), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return {"p": hits / n, "lower": float(ci.low), "upper": float(ci.high), "n": float(n)}
