"""Classifier-free guidance: mix a conditional and an unconditional prediction.

One network trained with condition dropout predicts both ``f(x_t, t, c)`` and
``f(x_t, t, null)``; sampling uses ``f_null + w (f_cond - f_null)`` (Ho & Salimans 2022,
eq. 6, written with ``w`` = their ``1 + w``): ``w = 0`` is the unconditional model,
``w = 1`` the conditional one, ``w > 1`` pushes the samples toward the condition. The
mixture is linear, so guiding eps, v or x0 predictions gives the same noise prediction.

References
----------
Ho, J. & Salimans, T. (2022). Classifier-free diffusion guidance. arXiv:2207.12598.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

GuidedPredictor = Callable[[torch.Tensor, torch.Tensor, slice, bool], torch.Tensor]
PairPredictor = Callable[[torch.Tensor, torch.Tensor, slice], tuple[torch.Tensor, torch.Tensor]]


def check_guidance_weight(weight: float) -> float:
    """Return ``weight`` if it is a finite number >= 0, else raise ``ValueError``."""
    if weight < 0 or not math.isfinite(weight):
        raise ValueError(f"guidance must be a finite number >= 0, got {weight!r}")
    return weight


def guided_prediction(uncond: torch.Tensor, cond: torch.Tensor, weight: float) -> torch.Tensor:
    """``uncond + weight (cond - uncond)`` for predictions of any type (eps, v or x0)."""
    return uncond + weight * (cond - uncond)


def guided_eps_fn(
    predict: GuidedPredictor,
    to_eps: Callable[[torch.Tensor, int, torch.Tensor], torch.Tensor],
    weight: float,
    chunk: int,
    predict_pair: PairPredictor | None = None,
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """The guided noise prediction ``eps_fn(x_t, t)`` of a reverse process, in row chunks.

    Parameters
    ----------
    predict : callable(x, t, rows, conditional) -> Tensor
        Network output for the state rows ``x`` (= ``x_t[rows]``) at the steps ``t``
        (LongTensor, one per row), with the condition of those rows (``conditional``
        True) or the null condition (False).
    to_eps : callable(x, t, prediction) -> Tensor
        Noise implied by a (guided) prediction at diffusion step ``t``, e.g.
        :func:`diffrisk.diffusion.prediction.to_eps` for the network's prediction type.
    weight : float
        Guidance weight w >= 0; ``w = 0`` skips the conditional pass, so the result is
        exactly the unconditional model's.
    chunk : int
        Rows per network call (memory and cache only: the result does not depend on it).
    predict_pair : callable(x, t, rows) -> (Tensor, Tensor), optional
        The unconditional and the conditional output of the same rows from ONE network
        call (both branches stacked along the batch: one pass per guided step instead of
        two). Used instead of the two calls of ``predict`` when ``weight != 0``; equal to
        them up to float rounding for a network that treats rows independently.

    Returns
    -------
    callable(x_t, t) -> Tensor
        For :func:`diffrisk.diffusion.sampler.reverse_process`.
    """
    check_guidance_weight(weight)

    def eps_fn(x: torch.Tensor, t: int) -> torch.Tensor:
        eps = torch.empty_like(x)
        for s in range(0, x.shape[0], chunk):
            rows = slice(s, s + chunk)
            x_rows = x[rows]
            tt = torch.full((x_rows.shape[0],), t, dtype=torch.long)
            if weight == 0.0:
                out = predict(x_rows, tt, rows, False)
            elif predict_pair is not None:
                out = guided_prediction(*predict_pair(x_rows, tt, rows), weight)
            else:
                uncond = predict(x_rows, tt, rows, False)
                out = guided_prediction(uncond, predict(x_rows, tt, rows, True), weight)
            eps[rows] = to_eps(x_rows, t, out)
        return eps

    return eps_fn
