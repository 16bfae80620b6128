"""Training time and sampling time (10,000 paths) of every stress-scenario generator.

Generators: the diffusion model (``stress.model``, sampled with the ``stress.generate``
settings: DDIM, 20 steps, a guided request), the conditional WGAN-GP and the conditional
VAE (``stress.comparison``), the multivariate normal and the filtered block bootstrap.
Training uses the pipeline's data and splits (rows up to ``data.val_end``); the normal and
the bootstrap have no training step (their fit is inside the sampling call). Sampling: one
conditioning date (``data.test_start``), 10,000 paths of 20 assets x 20 days, request
``vol_ratio=2`` for the conditional generators. Prints a Markdown table.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_stress_generators.py --threads 1``
(``--no-train`` times only sampling, from the checkpoints in ``models/``).
"""

from __future__ import annotations

import argparse
import logging
import time

import pandas as pd
import torch
import yaml

from diffrisk.core import paths
from diffrisk.data.returns import constituent_returns, load_returns
from diffrisk.data.splits import Splits
from diffrisk.stress.comparison import ComparisonConfig, load_comparison_model
from diffrisk.stress.comparison_sets import comparison_paths
from diffrisk.stress.comparison_training import train_comparison_generator
from diffrisk.stress.config import StressConfig
from diffrisk.stress.fit import train_stress_model
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.sampling import generate_paths
from diffrisk.stress.scenario_sets import baseline_scenario_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-train", action="store_true", help="sampling only (checkpoints)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    params = yaml.safe_load(paths.params_file().read_text())
    splits = Splits.from_mapping(params["data"])
    config = StressConfig.from_dict(params["stress"]["model"])
    settings = ComparisonConfig.from_dict(params["stress"]["comparison"])
    gen_params = params["stress"]["generate"]
    seed = int(params["seed"])
    returns = constituent_returns(load_returns(), params["data"]["index_name"])
    fit_rows = returns.loc[returns.index <= splits.val_end]
    split_args = (splits.train_end, splits.val_start, splits.val_end)
    rows: list[dict[str, object]] = []
    models: dict[str, object] = {}

    def timed(fn):  # noqa: ANN001, ANN202
        tic = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - tic

    if args.no_train:
        models["diffusion"] = load_stress_model(paths.stress_checkpoint())
        for kind in ("gan", "vae"):
            models[kind] = load_comparison_model(paths.comparison_checkpoint(kind), kind)
        train_s = dict.fromkeys(models, float("nan"))
    else:
        train_s = {}
        models["diffusion"], train_s["diffusion"] = timed(
            lambda: train_stress_model(fit_rows, split_args, config, seed=seed, progress=False)
        )
        for kind in ("gan", "vae"):
            models[kind], train_s[kind] = timed(
                lambda kind=kind: train_comparison_generator(
                    kind, fit_rows, split_args, config, settings, seed=seed, progress=False
                )
            )
    as_of, n, request = [str(splits.test_start.date())], int(args.paths), {"vol_ratio": 2.0}
    _, sample_s = timed(
        lambda: generate_paths(
            models["diffusion"],
            returns,
            as_of,
            n,
            request,
            guidance=1.5,
            seed=seed,
            sampler=gen_params["sampler"],
            n_steps=int(gen_params["n_steps"]),
            progress=False,
        )
    )
    rows.append({"generator": "diffusion", "train_s": train_s["diffusion"], "sample_s": sample_s})
    for kind in ("gan", "vae"):
        _, sample_s = timed(
            lambda kind=kind: comparison_paths(models[kind], returns, as_of, n, request, seed=seed)
        )
        rows.append({"generator": kind, "train_s": train_s[kind], "sample_s": sample_s})
    for kind in ("normal", "bootstrap"):
        _, sample_s = timed(
            lambda kind=kind: baseline_scenario_set(
                kind,
                returns,
                splits.train_end,
                as_of,
                n,
                config.horizon,
                seed=seed,
                block=int(gen_params["bootstrap_block"]),
            )
        )
        rows.append({"generator": kind, "train_s": float("nan"), "sample_s": sample_s})
    table = pd.DataFrame(rows)
    print(f"threads={args.threads}, {n} paths of {returns.shape[1]} assets x {config.horizon} days")
    print(table.to_markdown(index=False, floatfmt=".1f"))


if __name__ == "__main__":
    main()
