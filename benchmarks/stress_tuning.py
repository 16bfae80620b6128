"""Equal-budget tuning studies of the stress generators on the VALIDATION period.

Runs :func:`diffrisk.stress.tuning.tune_generator` for the diffusion model, the GAN and
the VAE with the same number of trials, per-trial training-time cap and seed, on the
study's returns up to ``data.val_end`` (``params.yaml``'s ``data``, ``stress.model`` and
``stress.comparison`` are the defaults the trials start from), and scores the committed
checkpoints (``models/stress*.pt``, untuned) with the same validation score on the same
windows for comparison. Prints each generator's trials, best settings and runtime and
optionally writes them as JSON. The test period is never read. Nothing in the project is
written (only ``--out``).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/stress_tuning.py --n-trials 4 --trial-seconds 60 \\
        --out /tmp/stress_tuning.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch
import yaml

from diffrisk.core import paths
from diffrisk.core.compute import compute_map
from diffrisk.core.paths import comparison_checkpoint, stress_checkpoint
from diffrisk.data.returns import constituent_returns, load_returns
from diffrisk.data.splits import Splits
from diffrisk.stress.comparison import ComparisonConfig, load_comparison_model
from diffrisk.stress.config import StressConfig
from diffrisk.stress.model import WindowTensors, load_stress_model
from diffrisk.stress.tuning import (
    TUNED_GENERATORS,
    TuningConfig,
    tune_generator,
    validation_score,
    validation_windows,
)


def run_one(job: tuple) -> dict:
    """One generator's study (module level: a Dask task)."""
    generator, returns, dates, config, settings, tuning = job
    torch.set_num_threads(1)
    tic = time.perf_counter()
    result = tune_generator(generator, returns, dates, config, settings, tuning)
    return {**result.record(), "seconds": round(time.perf_counter() - tic, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", default=",".join(TUNED_GENERATORS))
    parser.add_argument("--n-trials", type=int, default=4)
    parser.add_argument("--trial-seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=20250515)
    parser.add_argument("--val-windows", type=int, default=256)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    params = yaml.safe_load((paths.project_root() / "params.yaml").read_text())
    splits = Splits.from_mapping(params["data"])
    dates = (splits.train_end, splits.val_start, splits.val_end)
    returns = constituent_returns(load_returns(), params["data"]["index_name"])
    returns = returns.loc[returns.index <= splits.val_end]
    config = StressConfig.from_dict(params["stress"]["model"])
    settings = replace(ComparisonConfig.from_dict(params["stress"]["comparison"]), workers=1)
    tuning = TuningConfig(
        enabled=True,
        n_trials=args.n_trials,
        trial_seconds=args.trial_seconds,
        seed=args.seed,
        val_windows=args.val_windows,
    )
    generators = [g.strip() for g in args.generators.split(",") if g.strip()]

    # the committed (untuned) checkpoints under the same score and windows
    windows, rows = validation_windows(returns, dates, config, tuning)
    untuned = {}
    for gen in generators:
        model = (
            load_stress_model(stress_checkpoint())
            if gen == "diffusion"
            else load_comparison_model(comparison_checkpoint(gen), gen)
        )
        batch = WindowTensors(windows, model).take(rows)
        untuned[gen] = validation_score(gen, model, batch, tuning.seed + 1)
        print(f"{gen}: committed checkpoint, validation energy distance {untuned[gen]:.5f}")

    tic = time.perf_counter()
    jobs = [(g, returns, dates, config, settings, tuning) for g in generators]
    results = dict(zip(generators, compute_map(run_one, jobs, args.workers), strict=True))
    total = time.perf_counter() - tic
    for gen, res in results.items():
        print(f"\n== {gen}: {res['n_trials']} trials in {res['seconds']} s")
        print(pd.DataFrame(res["trials"]).to_string(index=False))
        print(
            f"best {res['best_params']} score {res['best_score']:.5f} (untuned {untuned[gen]:.5f})"
        )
    print(f"\ntotal {total:.1f} s")
    if args.out:
        out = {
            "tuning": tuning.to_dict(),
            "untuned_score": untuned,
            "studies": results,
            "total_seconds": round(total, 1),
        }
        Path(args.out).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
