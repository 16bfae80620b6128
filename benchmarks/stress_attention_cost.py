"""Cost of the stress denoiser's attention across assets: parameters and seconds per epoch.

Trains the ``stress.model`` configuration of ``params.yaml`` for a few epochs on the
training windows (ending by ``data.train_end``; nothing later is read) with
``asset_attention`` = 0, 1, 2 and prints the parameter count and the median seconds per
epoch of each (one thread; a timing on a busy machine is indicative only).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/stress_attention_cost.py --epochs 3
"""

from __future__ import annotations

import argparse
import statistics

import torch
import yaml

from diffrisk import stress
from diffrisk.core import paths
from diffrisk.data.returns import constituent_returns, load_returns
from diffrisk.data.splits import Splits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--layers", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--seed", type=int, default=20250515)
    args = parser.parse_args()
    torch.set_num_threads(1)
    params = yaml.safe_load((paths.project_root() / "params.yaml").read_text())
    splits = Splits.from_mapping(params["data"])
    returns = constituent_returns(load_returns(), params["data"]["index_name"])
    visible = returns.loc[returns.index <= splits.val_end]
    for layers in args.layers:
        config = stress.StressConfig.from_dict(
            {
                **params["stress"]["model"],
                "asset_attention": layers,
                "max_epochs": args.epochs,
                "min_epochs": args.epochs,
            }
        )
        model = stress.train_stress_model(
            visible, splits.fit_dates, config, seed=args.seed, progress=False
        )
        n_params = sum(p.numel() for p in model.net.parameters())
        seconds = statistics.median(h["seconds"] for h in model.history)
        print(f"asset_attention={layers}: {n_params} parameters, {seconds:.2f} s per epoch")


if __name__ == "__main__":
    main()
