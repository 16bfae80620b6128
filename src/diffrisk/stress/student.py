"""The guided stress student's network and the conditioning draws of its losses.

Shared by both ways of distilling the guided stress model (:mod:`diffrisk.stress.distill`:
guidance distillation, then progressive halving or trajectory distillation,
:mod:`diffrisk.stress.distill_trajectory`): a copy of the teacher's denoiser with the
guidance weight ``w`` as an extra input (:class:`GuidedStudentNet`), the per-row draws
of a batch (noise, the training's condition dropout, ``w``; :func:`condition_draws`) and
the conditioning embeddings of a network for a batch (:func:`conditioning`), and the
losses of the guidance stage and of a progressive halving round
(:func:`guidance_loss_fn`, :func:`halving_loss_fn`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from diffrisk.diffusion import distill as progressive
from diffrisk.diffusion.guidance import guided_prediction
from diffrisk.diffusion.nn import SinusoidalTimeEmbedding
from diffrisk.diffusion.prediction import to_x0
from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.stress.config import StressConfig
from diffrisk.stress.model import StressModel
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


# --------------------------------------------------------------------------- losses
def guidance_loss_fn(teacher: StressModel, w_range: tuple[float, float]) -> Callable:
    """Loss (student, batch, gen) of stage 1: the guided teacher's v at a random step."""
    tnet, schedule, cfg = teacher.net.eval(), teacher.schedule, teacher.config

    def loss(student: GuidedStudentNet, batch: dict, gen: torch.Generator) -> torch.Tensor:
        noise, mask, w = condition_draws(batch, gen, cfg, w_range)
        t = torch.randint(0, schedule.n_steps, (noise.shape[0],), generator=gen)
        z = schedule.q_sample(batch["x0"], t, noise)
        with torch.no_grad():
            ctx, sig, null = conditioning(tnet, batch, mask)
            both = tnet(torch.cat([z, z]), torch.cat([t, t]), torch.cat([ctx, ctx]),
                        torch.cat([null, sig]))  # fmt: skip
            target = guided_prediction(*both.chunk(2), w[:, None, None])
        ctx_s, sig_s, _ = conditioning(student.net, batch, mask)
        return torch.mean((student(z, t, ctx_s, sig_s, w) - target) ** 2)

    return loss


def halving_loss_fn(
    teacher: GuidedStudentNet,
    schedule: NoiseSchedule,
    grid: NDArray[np.int64],
    cfg: StressConfig,
    w_range: tuple[float, float],
) -> Callable:
    """Loss (student, batch, gen) of a halving round on ``grid`` (teacher's steps + end -1).

    Row ``i`` starts at an even grid point ``t_j`` (uniform); the teacher's two DDIM steps
    ``t_j -> t_{j+1} -> t_{j+2}`` give ``z''``; the student's one step must reach it.
    """
    g = torch.as_tensor(np.asarray(grid), dtype=torch.long)
    teacher = teacher.eval()

    def loss(student: GuidedStudentNet, batch: dict, gen: torch.Generator) -> torch.Tensor:
        noise, mask, w = condition_draws(batch, gen, cfg, w_range)
        j = progressive.pair_starts(noise.shape[0], len(g), gen)
        t0, t1, t2 = g[j], g[j + 1], g[j + 2]
        c0, c1, c2 = (progressive.grid_coefficients(schedule, s) for s in (t0, t1, t2))
        z = c0[0] * batch["x0"] + c0[1] * noise
        with torch.no_grad():
            ctx, sig, _ = conditioning(teacher.net, batch, mask)
            x0a = to_x0(teacher(z, t0, ctx, sig, w), z, *c0, teacher.prediction_type)
            z1 = progressive.ddim_step_rows(z, x0a, c0, c1)
            x0b = to_x0(teacher(z1, t1, ctx, sig, w), z1, *c1, teacher.prediction_type)
            z2 = progressive.ddim_step_rows(z1, x0b, c1, c2)
            x0_target = progressive.two_step_target(z, z2, c0, c2)
            v_target = progressive.target_prediction(x0_target, z, c0, teacher.prediction_type)
        ctx_s, sig_s, _ = conditioning(student.net, batch, mask)
        return torch.mean((student(z, t0, ctx_s, sig_s, w) - v_target) ** 2)

    return loss
