"""What a denoiser predicts (eps, x0 or v) and every conversion between them.

With ``a = sqrt(alpha_bar_t)`` and ``b = sqrt(1 - alpha_bar_t)`` the forward process is
``x_t = a x0 + b eps`` (Ho et al. 2020, eq. 4) and the velocity is ``v = a eps - b x0``
(Salimans & Ho 2022, §4). A network predicts one of the three (its ``prediction_type``,
as in ``diffusers``):

* ``"epsilon"`` — the noise (the one-day model, :class:`diffrisk.ddpm.network.Denoiser`);
* ``"v_prediction"`` — the velocity (the stress model,
  :class:`diffrisk.stress.network.StressDenoiser`);
* ``"sample"`` — x0 itself.

The samplers of :mod:`diffrisk.diffusion.sampler` take eps; :func:`to_eps` converts any
prediction. The coefficient functions take ``a`` and ``b`` as Python floats (one step for
the whole batch, :meth:`NoiseSchedule.step_coefficients`) or as tensors broadcasting
against ``x_t`` (per-row steps, :meth:`NoiseSchedule.coefficients`); each formula is
written once, so every caller evaluates it in the same order and gets the same bits.

References
----------
Ho, J., Jain, A. & Abbeel, P. (2020). Denoising diffusion probabilistic models.
Salimans, T. & Ho, J. (2022). Progressive distillation for fast sampling of diffusion
models (v-prediction, §4 and appendix D).
"""

from __future__ import annotations

import torch

PREDICTION_TYPES: tuple[str, ...] = ("epsilon", "v_prediction", "sample")

Coef = float | torch.Tensor


def check_prediction_type(prediction_type: str) -> str:
    """Return ``prediction_type`` if it is one of :data:`PREDICTION_TYPES`, else raise."""
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(
            f"prediction_type must be one of {PREDICTION_TYPES}, got {prediction_type!r}"
        )
    return prediction_type


# --------------------------------------------------------------------------- conversions
def x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, sqrt_ab: Coef, sqrt_1m: Coef) -> torch.Tensor:
    """``x0 = (x_t - sqrt(1 - ab) eps) / sqrt(ab)`` (eq. 4 inverted; never clipped)."""
    return (x_t - sqrt_1m * eps) / sqrt_ab


def eps_from_x0(x_t: torch.Tensor, x0: torch.Tensor, sqrt_ab: Coef, sqrt_1m: Coef) -> torch.Tensor:
    """``eps = (x_t - sqrt(ab) x0) / sqrt(1 - ab)``."""
    return (x_t - sqrt_ab * x0) / sqrt_1m


def eps_from_v(x_t: torch.Tensor, v: torch.Tensor, sqrt_ab: Coef, sqrt_1m: Coef) -> torch.Tensor:
    """``eps = sqrt(1 - ab) x_t + sqrt(ab) v``.

    An eps-predicting network must match eps to within ``sqrt(ab_t)`` at the noisiest
    steps (``ab_T`` ≈ 5e-5 for the package's schedules), otherwise ``x0_hat`` is off by
    the error over ``sqrt(ab_T)`` on the first reverse step; with v the eps error is
    ``sqrt(ab_t)`` times the v error. Linear in v, so guidance on v equals guidance on eps.
    """
    return sqrt_1m * x_t + sqrt_ab * v


def x0_from_v(x_t: torch.Tensor, v: torch.Tensor, sqrt_ab: Coef, sqrt_1m: Coef) -> torch.Tensor:
    """``x0 = sqrt(ab) x_t - sqrt(1 - ab) v``."""
    return sqrt_ab * x_t - sqrt_1m * v


def v_from_eps(x0: torch.Tensor, eps: torch.Tensor, sqrt_ab: Coef, sqrt_1m: Coef) -> torch.Tensor:
    """``v = sqrt(ab) eps - sqrt(1 - ab) x0`` (the v-prediction training target)."""
    return sqrt_ab * eps - sqrt_1m * x0


# --------------------------------------------------------------------------- by prediction type
def _unchanged(
    x_t: torch.Tensor, prediction: torch.Tensor, sqrt_ab: Coef, sqrt_1m: Coef
) -> torch.Tensor:
    """The prediction itself (it already is the wanted quantity)."""
    return prediction


_TO_EPS = {"epsilon": _unchanged, "v_prediction": eps_from_v, "sample": eps_from_x0}
_TO_X0 = {"epsilon": x0_from_eps, "v_prediction": x0_from_v, "sample": _unchanged}


def to_eps(
    prediction: torch.Tensor, x_t: torch.Tensor, sqrt_ab: Coef, sqrt_1m: Coef, prediction_type: str
) -> torch.Tensor:
    """The noise implied by a network output of type ``prediction_type``."""
    return _TO_EPS[check_prediction_type(prediction_type)](x_t, prediction, sqrt_ab, sqrt_1m)


def to_x0(
    prediction: torch.Tensor, x_t: torch.Tensor, sqrt_ab: Coef, sqrt_1m: Coef, prediction_type: str
) -> torch.Tensor:
    """The clean sample implied by a network output of type ``prediction_type``."""
    return _TO_X0[check_prediction_type(prediction_type)](x_t, prediction, sqrt_ab, sqrt_1m)


def training_target(
    x0: torch.Tensor,
    eps: torch.Tensor,
    sqrt_ab: Coef,
    sqrt_1m: Coef,
    prediction_type: str,
) -> torch.Tensor:
    """What a network of type ``prediction_type`` should output for ``(x0, eps)``.

    The mean squared error to this target is ``L_simple`` (Ho et al. 2020, eq. 14) for
    ``"epsilon"``; for ``"v_prediction"`` it is ``L_simple`` weighted by ``1 / ab_t``
    (the eps error is ``sqrt(ab_t)`` times the v error; Salimans & Ho 2022, appendix D).
    """
    if prediction_type == "epsilon":
        return eps
    if prediction_type == "v_prediction":
        return v_from_eps(x0, eps, sqrt_ab, sqrt_1m)
    if prediction_type == "sample":
        return x0
    raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, got {prediction_type!r}")
