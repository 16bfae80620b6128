"""The guided stress student's network and the conditioning draws of its losses.

Shared by both ways of distilling the guided stress model (:mod:`diffrisk.stress.distill`:
guidance distillation, then progressive halving or trajectory distillation,
:mod:`diffrisk.stress.distill_trajectory`): a copy of the teacher's denoiser with the
guidance weight ``w`` as an extra input (:class:`GuidedStudentNet`), the per-row draws
of a batch (noise, the training's condition dropout, ``w``; :func:`condition_draws`) and
the conditioning embeddings of a network for a batch (:func:`conditioning`).
"""

from __future__ import annotations

import torch
from torch import nn

from diffrisk.diffusion.nn import SinusoidalTimeEmbedding
from diffrisk.stress.config import StressConfig
from diffrisk.stress.network import StressDenoiser


class GuidedStudentNet(nn.Module):
    """``v = f(x_t, t, context, signature, w)``: the stress denoiser with a guidance input.

    Parameters
    ----------
    net : StressDenoiser
        The denoiser (its history encoder and signature embedding condition the paths).
    """

    prediction_type: str = StressDenoiser.prediction_type

    def __init__(self, net: StressDenoiser) -> None:
        super().__init__()
        self.net = net
        # w enters the sinusoidal embedding as is (periods >= 2 pi: smooth in w)
        self.guidance = SinusoidalTimeEmbedding(net.spec.emb_dim)
        last = self.guidance.mlp[-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor,
        context: torch.Tensor,
        signature: torch.Tensor,
        weight: torch.Tensor,
    ) -> torch.Tensor:
        """The guided v-prediction for weights ``weight`` (B,)."""
        return self.net(x_t, t, context, signature + self.guidance(weight))


def condition_draws(
    batch: dict[str, torch.Tensor], gen: torch.Generator, cfg: StressConfig, w_range: tuple
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Noise, condition dropout mask (as in training) and guidance weights of a batch.

    Drawn from ``gen`` in this order: the noise (the batch's ``x0`` shape, iid N(0, 1),
    the same values a sampler's ``initial_noise`` would draw for those rows), the mask
    (1 = dropped: all components with probability ``cfg.p_uncond``, each with
    ``cfg.p_drop_component``) and ``w`` uniform on ``w_range``.
    """
    n, k = batch["x0"].shape[0], batch["signature"].shape[1]
    noise = torch.randn(batch["x0"].shape, generator=gen)
    mask = (torch.rand(n, 1, generator=gen) < cfg.p_uncond) | (
        torch.rand(n, k, generator=gen) < cfg.p_drop_component
    )
    w = w_range[0] + (w_range[1] - w_range[0]) * torch.rand(n, generator=gen)
    return noise, mask.float(), w


def conditioning(
    net: StressDenoiser, batch: dict[str, torch.Tensor], mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """History context, signature embedding and null embedding of a batch."""
    context = net.encode_history(batch["history"], batch["scalars"])
    signature = net.embed_signature(batch["signature"], mask)
    ones = torch.ones_like(mask)
    return context, signature, net.embed_signature(batch["signature"], ones)
