"""Noise schedules of the diffusion model: betas, alpha-bar, forward noising, posterior.

Pure tensors, no network. Coefficients are computed in float64 and stored as float32
(the habit of ``diffusers``); indices ``t`` run from 0 (least noise) to ``T - 1``.

Notation (Ho, Jain & Abbeel 2020, "DDPM"): ``beta_t`` the per-step variance,
``alpha_t = 1 - beta_t``, ``alpha_bar_t = prod_{s<=t} alpha_s``. The forward process is
``q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)`` (DDPM eq. 4) and the
posterior ``q(x_{t-1} | x_t, x_0) = N(mu_tilde, beta_tilde)`` with (DDPM eq. 6–7)
``mu_tilde = c1 x_0 + c2 x_t``, ``c1 = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t)``,
``c2 = sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)`` and
``beta_tilde = (1 - alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t)``.

References
----------
Ho, J., Jain, A. & Abbeel, P. (2020). Denoising diffusion probabilistic models.
arXiv:2006.11239.
Nichol, A. & Dhariwal, P. (2021). Improved denoising diffusion probabilistic models.
arXiv:2102.09672 (the cosine schedule, eq. 17).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from diffrisk.diffusion.prediction import x0_from_eps

SCHEDULES: tuple[str, ...] = ("linear", "cosine")


def _check_steps(n_steps: int) -> int:
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    return int(n_steps)


def linear_beta_schedule(
    n_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02
) -> NDArray[np.float64]:
    """Betas spaced linearly from ``beta_start`` to ``beta_end`` (DDPM §4).

    Parameters
    ----------
    n_steps : int
        Number of diffusion steps T.
    beta_start, beta_end : float
        First and last beta, ``0 < beta_start <= beta_end < 1``. The DDPM values
        (1e-4, 0.02) are for T = 1000; for a shorter chain scale them by ``1000 / T``.

    Returns
    -------
    ndarray of float64, shape (T,)
    """
    n = _check_steps(n_steps)
    if not (0.0 < beta_start <= beta_end < 1.0):
        raise ValueError(
            f"need 0 < beta_start <= beta_end < 1, got beta_start={beta_start}, beta_end={beta_end}"
        )
    return np.linspace(beta_start, beta_end, n, dtype=np.float64)


def cosine_beta_schedule(
    n_steps: int, s: float = 0.008, max_beta: float = 0.999
) -> NDArray[np.float64]:
    """Betas of the cosine schedule of Nichol & Dhariwal (2021, eq. 17).

    ``alpha_bar(t) = f(t) / f(0)``, ``f(t) = cos(((t / T) + s) / (1 + s) * pi / 2) ** 2`` and
    ``beta_t = min(1 - alpha_bar(t + 1) / alpha_bar(t), max_beta)``.

    Parameters
    ----------
    n_steps : int
        Number of diffusion steps T.
    s : float, default 0.008
        Offset that keeps beta_0 away from zero.
    max_beta : float, default 0.999
        Cap on each beta (the paper's value). Note that with the cap the final
        ``alpha_bar`` is tiny (≈ 2e-7 for T = 1000 with ``max_beta = 0.999``): an
        epsilon-predicting sampler must not take a large jump from there (see
        :func:`diffrisk.diffusion.sampler.ddim_timesteps`).

    Returns
    -------
    ndarray of float64, shape (T,)
    """
    n = _check_steps(n_steps)
    if s < 0:
        raise ValueError(f"s must be >= 0, got {s}")
    if not (0.0 < max_beta < 1.0):
        raise ValueError(f"max_beta must be in (0, 1), got {max_beta}")
    grid = np.arange(n + 1, dtype=np.float64) / n
    f = np.cos((grid + s) / (1.0 + s) * math.pi / 2.0) ** 2
    alpha_bar = f / f[0]
    betas = 1.0 - alpha_bar[1:] / alpha_bar[:-1]
    return np.clip(betas, 0.0, max_beta)


def make_betas(kind: str, n_steps: int, **kwargs: float) -> NDArray[np.float64]:
    """Return the betas of schedule ``kind`` (one of :data:`SCHEDULES`)."""
    if kind == "linear":
        return linear_beta_schedule(n_steps, **kwargs)
    if kind == "cosine":
        return cosine_beta_schedule(n_steps, **kwargs)
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {kind!r}")


def extract(
    coef: torch.Tensor, t: torch.Tensor, shape: torch.Size | tuple[int, ...]
) -> torch.Tensor:
    """Gather ``coef[t]`` and reshape it to broadcast against a tensor of ``shape``.

    ``t`` has shape ``(B,)`` or ``shape[:t.ndim]``; trailing singleton axes are added.
    """
    out = coef.gather(0, t.reshape(-1).long()).reshape(t.shape)
    return out.reshape(*t.shape, *([1] * (len(shape) - t.ndim)))


@dataclass(frozen=True, eq=False)
class NoiseSchedule:
    """Float32 buffers of a beta schedule and the DDPM forward/posterior formulas.

    Build with :meth:`from_betas` or :meth:`create`; all coefficients are derived in
    float64 from ``betas`` and stored as float32 tensors on the CPU.

    Attributes
    ----------
    betas, alphas, alpha_bars, alpha_bars_prev : Tensor (T,)
    sqrt_alpha_bars, sqrt_one_minus_alpha_bars : Tensor (T,)
    posterior_variance : Tensor (T,)
        ``beta_tilde_t`` (0 at t = 0).
    posterior_log_variance : Tensor (T,)
        Log of ``beta_tilde_t`` with the t = 0 entry replaced by that of t = 1 (as in
        DDPM's code) so that it stays finite.
    posterior_mean_coef1, posterior_mean_coef2 : Tensor (T,)
        ``c1`` (on x_0) and ``c2`` (on x_t) of DDPM eq. 7.
    """

    betas: torch.Tensor
    alphas: torch.Tensor
    alpha_bars: torch.Tensor
    alpha_bars_prev: torch.Tensor
    sqrt_alpha_bars: torch.Tensor
    sqrt_one_minus_alpha_bars: torch.Tensor
    posterior_variance: torch.Tensor
    posterior_log_variance: torch.Tensor
    posterior_mean_coef1: torch.Tensor
    posterior_mean_coef2: torch.Tensor

    @classmethod
    def from_betas(cls, betas: NDArray[np.floating]) -> NoiseSchedule:
        """Derive every coefficient (float64) from ``betas`` and store them as float32."""
        b = np.asarray(betas, dtype=np.float64)
        if b.ndim != 1 or b.size < 1:
            raise ValueError(f"betas must be a non-empty 1-D array, got shape {b.shape}")
        if not np.all((b > 0) & (b < 1)):
            raise ValueError("betas must lie in the open interval (0, 1)")
        a = 1.0 - b
        ab = np.cumprod(a)
        ab_prev = np.concatenate([[1.0], ab[:-1]])
        post_var = b * (1.0 - ab_prev) / (1.0 - ab)
        post_logvar = np.log(
            np.concatenate([post_var[1:2], post_var[1:]])
            if b.size > 1
            else np.maximum(post_var, 1e-20)
        )
        c1 = b * np.sqrt(ab_prev) / (1.0 - ab)
        c2 = (1.0 - ab_prev) * np.sqrt(a) / (1.0 - ab)

        def f32(x: NDArray[np.float64]) -> torch.Tensor:
            return torch.from_numpy(np.asarray(x, dtype=np.float32))

        return cls(
            betas=f32(b),
            alphas=f32(a),
            alpha_bars=f32(ab),
            alpha_bars_prev=f32(ab_prev),
            sqrt_alpha_bars=f32(np.sqrt(ab)),
            sqrt_one_minus_alpha_bars=f32(np.sqrt(1.0 - ab)),
            posterior_variance=f32(post_var),
            posterior_log_variance=f32(post_logvar),
            posterior_mean_coef1=f32(c1),
            posterior_mean_coef2=f32(c2),
        )

    @classmethod
    def create(cls, kind: str = "linear", n_steps: int = 1000, **kwargs: float) -> NoiseSchedule:
        """Build the schedule ``kind`` ("linear" or "cosine") with ``n_steps`` steps."""
        return cls.from_betas(make_betas(kind, n_steps, **kwargs))

    @property
    def n_steps(self) -> int:
        """Number of diffusion steps T."""
        return int(self.betas.shape[0])

    def _check_t(self, t: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t)
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.n_steps):
            raise ValueError(
                f"t must be in [0, {self.n_steps - 1}], got range [{int(t.min())}, {int(t.max())}]"
            )
        return t

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Draw ``x_t ~ q(x_t | x_0)``: ``sqrt(ab_t) x_0 + sqrt(1 - ab_t) noise`` (DDPM eq. 4)."""
        t = self._check_t(t)
        return (
            extract(self.sqrt_alpha_bars, t, x0.shape) * x0
            + extract(self.sqrt_one_minus_alpha_bars, t, x0.shape) * noise
        )

    def step_coefficients(self, t: int) -> tuple[float, float]:
        """``(sqrt(ab_t), sqrt(1 - ab_t))`` of one step as Python floats.

        ``ab_t`` is the float32 ``alpha_bars[t]`` promoted to float64; ``t = -1`` (the end
        of the chain, no noise) gives ``(1, 0)``. The one-step coefficients of
        :mod:`diffrisk.diffusion.prediction`.
        """
        ab = float(self.alpha_bars[t]) if t >= 0 else 1.0
        return math.sqrt(ab), math.sqrt(1.0 - ab)

    def coefficients(
        self, t: torch.Tensor, shape: torch.Size | tuple[int, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(sqrt(ab_t), sqrt(1 - ab_t))`` (float32 buffers) broadcasting against ``shape``.

        The per-row coefficients of :mod:`diffrisk.diffusion.prediction`.
        """
        t = self._check_t(t)
        return (
            extract(self.sqrt_alpha_bars, t, shape),
            extract(self.sqrt_one_minus_alpha_bars, t, shape),
        )

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Invert eq. 4 for x_0 given a noise prediction (never clipped).

        :func:`~diffrisk.diffusion.prediction.x0_from_eps` with the float32 buffers.
        """
        t = self._check_t(t)
        return x0_from_eps(
            x_t,
            eps,
            extract(self.sqrt_alpha_bars, t, x_t.shape),
            extract(self.sqrt_one_minus_alpha_bars, t, x_t.shape),
        )

    def posterior_mean_variance(
        self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean, variance and log-variance of ``q(x_{t-1} | x_t, x_0)`` (DDPM eq. 6–7)."""
        t = self._check_t(t)
        mean = (
            extract(self.posterior_mean_coef1, t, x_t.shape) * x0
            + extract(self.posterior_mean_coef2, t, x_t.shape) * x_t
        )
        variance = extract(self.posterior_variance, t, x_t.shape)
        log_variance = extract(self.posterior_log_variance, t, x_t.shape)
        return mean, variance, log_variance

    def log_snr(self) -> torch.Tensor:
        """``log(alpha_bar_t / (1 - alpha_bar_t))`` per step, computed in float64."""
        ab = self.alpha_bars.double()
        return torch.log(ab) - torch.log1p(-ab)
