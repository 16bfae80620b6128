"""Parameter counts of the stress generators: the committed checkpoints and candidate sizes.

Prints the trainable parameters per network of ``models/stress.pt``, ``stress_gan.pt`` and
``stress_vae.pt`` (:func:`diffrisk.stress.budgets.network_counts`), then, for each
candidate ``stress.comparison.width`` (with the comparison's own condition encoder and
with the diffusion model's: ``history_width``, ``history_blocks``, ``emb_dim``), the GAN
generator / VAE decoder count and its ratio to the diffusion denoiser's. No data are read
and nothing is written: sizes are matched by parameter count, before any score.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/stress_sizes.py --widths 32,48,56,64,72,80
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from diffrisk.core.paths import comparison_checkpoint, stress_checkpoint
from diffrisk.stress.budgets import count_parameters, network_counts
from diffrisk.stress.comparison import PathGenerator, load_comparison_model
from diffrisk.stress.gan import Critic
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.vae import ConditionalVAE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="32,48,56,64,72,80,96")
    args = parser.parse_args()
    diffusion = load_stress_model(stress_checkpoint())
    base = network_counts("diffusion", diffusion)["denoiser"]
    print(f"diffusion: {network_counts('diffusion', diffusion)}")
    gan = load_comparison_model(comparison_checkpoint("gan"), "gan")
    for kind in ("gan", "vae"):
        print(f"{kind}: {network_counts(kind, load_comparison_model(comparison_checkpoint(kind)))}")
    d = diffusion.net.spec
    encoders = {
        "comparison condition encoder": {},
        "diffusion condition encoder": {
            "history_width": d.history_width,
            "history_blocks": d.history_blocks,
            "emb_dim": d.emb_dim,
        },
    }
    for label, extra in encoders.items():
        print(f"\n{label} {extra or ''}")
        print("width  generator  ratio  critic  decoder  ratio  encoder")
        for width in (int(w) for w in args.widths.split(",")):
            spec = replace(gan.net.spec, width=width, **extra)
            gen = count_parameters(PathGenerator(spec))
            dec = count_parameters(PathGenerator(spec, output_noise=True))
            enc = count_parameters(ConditionalVAE(PathGenerator(spec, output_noise=True)).encoder)
            print(
                f"{width:5d}  {gen:9,d}  {gen / base:5.2f}  {count_parameters(Critic(spec)):6,d}"
                f"  {dec:7,d}  {dec / base:5.2f}  {enc:7,d}"
            )


if __name__ == "__main__":
    main()
