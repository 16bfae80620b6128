"""Sampling time of the stress generators by paths per network call (``chunk``).

The chunk of :func:`diffrisk.stress.sampling.generate_paths` and
:func:`diffrisk.stress.comparison_sets.comparison_paths` only bounds how many paths one
network call sees; each path's output is the same for any chunk of two or more rows, so
the chunk is chosen for speed (:data:`diffrisk.stress.sampling.SAMPLING_CHUNK`). Large
calls leave the activations of the element-wise operations (group norm, SiLU, FiLM) out of
cache.

Calls, all on the pipeline's checkpoints (``models/``) and data, conditioning date
``data.test_start``, request ``vol_ratio=2``: the diffusion model with the
``stress.generate`` sampler and guidance 1.5 (``--diffusion-paths`` paths, default 2,000:
one archetype set of the pipeline), the GAN and the VAE (``--paths``, default 10,000).
Each chunk: best of ``--repeats`` calls, and whether the paths equal those of the first
chunk bit for bit. Prints a Markdown table.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_stress_chunk.py --threads 1``
(under the ``avx2`` profile of the pipeline's kernel: prefix the variables of
``diffrisk.stages.kernel.profile_environment("avx2")``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
import yaml

from diffrisk.core import paths
from diffrisk.data.returns import constituent_returns, load_returns
from diffrisk.stress.comparison import load_comparison_model
from diffrisk.stress.comparison_sets import comparison_paths
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.sampling import generate_paths


def best_of(fn: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    """Fastest of ``repeats`` calls (seconds) and the last call's paths."""
    times, out = [], np.empty(0)
    for _ in range(repeats):
        tic = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - tic)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", default="2048,1024,512,256")
    parser.add_argument("--diffusion-paths", type=int, default=2000)
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = yaml.safe_load(paths.params_file().read_text())
    gen = params["stress"]["generate"]
    seed, request = int(params["seed"]), {"vol_ratio": 2.0}
    returns = constituent_returns(load_returns(), params["data"]["index_name"])
    as_of = [str(params["data"]["test_start"])]
    diffusion = load_stress_model(paths.stress_checkpoint())
    calls: dict[str, Callable[[int], np.ndarray]] = {
        f"diffusion ({args.diffusion_paths} paths)": lambda c: generate_paths(
            diffusion,
            returns,
            as_of,
            args.diffusion_paths,
            request,
            guidance=1.5,
            seed=seed,
            sampler=gen["sampler"],
            n_steps=int(gen["n_steps"]),
            chunk=c,
            progress=False,
        )[0],  # fmt: skip
    }
    for kind in ("gan", "vae"):
        model = load_comparison_model(paths.comparison_checkpoint(kind), kind)
        calls[f"{kind} ({args.paths} paths)"] = lambda c, m=model: comparison_paths(
            m, returns, as_of, args.paths, request, seed=seed, chunk=c, progress=False
        )[0]
    rows = []
    for name, call in calls.items():
        first = None
        for chunk in (int(c) for c in args.chunks.split(",")):
            seconds, out = best_of(lambda call=call, chunk=chunk: call(chunk), args.repeats)
            first = out if first is None else first
            rows.append(
                {"generator": name, "chunk": chunk, "seconds": seconds,
                 "identical": bool(np.array_equal(out, first))}
            )  # fmt: skip
    print(f"threads={args.threads}, best of {args.repeats}")
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".2f"))


if __name__ == "__main__":
    main()
