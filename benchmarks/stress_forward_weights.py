"""Does the stress denoiser's forward time depend on its weights? (one thread)

Times the forward pass of the trained checkpoint and of a freshly initialised network of
the same spec on the same inputs (10,000 samples in chunks of 1,000, best of 5), then the
same with denormal flushing. Equal times mean a latency change between two checkpoints
of one architecture comes from the machine, not from the weights.

Usage::

    .venv/bin/python benchmarks/stress_forward_weights.py --checkpoint models/stress.pt
"""

from __future__ import annotations

import argparse
import time

import torch

from diffrisk.stress.model import load_stress_model
from diffrisk.stress.network import StressDenoiser


def best_seconds(net: StressDenoiser, inputs: tuple, chunk: int, repeats: int) -> float:
    """Best wall time of one forward pass over every chunk of ``inputs``."""
    n = inputs[0].shape[0]

    def run() -> None:
        for i in range(0, n, chunk):
            net(*(x[i : i + chunk] for x in inputs))

    run()
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        run()
        times.append(time.perf_counter() - tic)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="models/stress.pt")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    trained = load_stress_model(args.checkpoint).net.eval()
    torch.manual_seed(0)
    fresh = StressDenoiser(trained.spec).eval()
    s, n = trained.spec, int(args.n)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        context = trained.encode_history(
            torch.randn(n, s.n_assets, s.history, generator=gen),
            torch.randn(n, s.n_scalars, generator=gen),
        )
        inputs = (
            0.3 * torch.randn(n, s.n_assets, s.horizon, generator=gen),
            torch.full((n,), 50, dtype=torch.long),
            context,
            torch.randn(n, s.emb_dim, generator=gen),
        )
        for flush in (False, True):
            torch.set_flush_denormal(flush)
            row = {
                name: best_seconds(net, inputs, args.chunk, args.repeats)
                for name, net in (("trained", trained), ("fresh-init", fresh))
            }
            print(
                f"flush_denormal={flush}: "
                + ", ".join(f"{k} {v:.3f} s" for k, v in row.items())
                + f" per {n} samples (chunks of {args.chunk}, best of {args.repeats})"
            )


if __name__ == "__main__":
    main()
