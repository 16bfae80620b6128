"""Time the stress generator: 10,000 joint paths of 20 assets x 20 days with DDIM (20 steps).

The network has the default ``stress.model`` shape (untrained weights cost exactly as much
as trained ones: the time is the network evaluations of the reverse loop). Two runs: a
guided request (classifier-free guidance, two network passes per step) and the
unconditional model (one pass per step). Target (issue 6): <= 60 s on 2 CPU cores.

Run: ``OMP_NUM_THREADS=2 python benchmarks/bench_stress.py --threads 2``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from diffrisk.stress.config import StressConfig
from diffrisk.stress.model import StressModel, fit_stress_statistics, load_stress_model
from diffrisk.stress.sampling import generate_paths
from diffrisk.stress.signatures import historical_signatures
from diffrisk.stress.windows import training_windows


def synthetic_returns(n_days: int, n_assets: int, seed: int) -> pd.DataFrame:
    """One-factor daily log returns (fractions) on business days."""
    rng = np.random.default_rng(seed)
    factor = rng.standard_normal((n_days, 1))
    r = 0.01 * (0.6 * factor + 0.8 * rng.standard_normal((n_days, n_assets)))
    dates = pd.bdate_range("2000-01-03", periods=n_days, name="date")
    return pd.DataFrame(r, index=dates, columns=[f"S{i:02d}" for i in range(n_assets)])


def untrained_model(returns: pd.DataFrame, config: StressConfig) -> StressModel:
    """A model with the statistics of ``returns`` and freshly initialised weights."""
    windows = training_windows(returns, None, returns.index[-1], config)
    sig = historical_signatures(returns, config.horizon)
    torch.manual_seed(0)
    model = fit_stress_statistics(
        windows, list(returns.columns), config, sig, str(returns.index[-1].date())
    )
    torch.nn.init.normal_(model.net.out.weight, std=0.05)  # non-zero output, like a trained net
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", default="", help="a trained models/stress.pt (optional)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    returns = synthetic_returns(1500, 20, seed=0)
    if args.checkpoint:
        model = load_stress_model(args.checkpoint)
        returns.columns = model.assets
    else:
        model = untrained_model(returns, StressConfig())
    print(
        f"torch threads: {torch.get_num_threads()}, paths: {args.paths}, DDIM steps: "
        f"{args.steps}, horizon {model.config.horizon} x {len(model.assets)} assets, "
        f"width {model.config.width} x {model.config.n_blocks} blocks"
    )
    for label, request, w in (
        ("guided (vol_ratio=2, w=1.5)", {"vol_ratio": 2.0}, 1.5),
        ("unconditional", None, 0.0),
    ):
        tic = time.perf_counter()
        paths, _ = generate_paths(
            model, returns, [""], args.paths, request, guidance=w, seed=1, n_steps=args.steps
        )
        seconds = time.perf_counter() - tic
        print(
            f"{label:<28s} {seconds:7.1f} s  shape {paths.shape}  "
            f"({args.paths / seconds:,.0f} paths/s)"
        )


if __name__ == "__main__":
    main()
