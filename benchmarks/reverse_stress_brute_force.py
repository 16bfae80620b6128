"""The diffusion reverse stress test's P(loss >= L) against brute-force sampling of the model.

The ``reverse_stress`` stage estimates P(loss >= L) for its headline request (equal
weights, L = the model's ``es_alpha`` ES of the H-day loss, conditioned on the first test
day) from 300 loss-guided chains, importance-weighted back to the unguided model, with a
95 % interval (``reports/metrics/reverse_stress.json``, ``methods.diffusion``). This
script draws ``--paths`` (default 10^6) UNGUIDED chains of the same model, date and
stochastic sampler (``strength = 0``: the importance weights are all 1) and counts the
losses that reach the same L: the brute-force P with its Wilson 95 % interval. The
estimate agrees when the brute-force P lies inside the stage's interval.

Chunks of ``--chunk`` paths (seeds ``seed + 1000 + k``, none shared with the stage's
chains) run as Dask tasks on ``--workers`` processes (:func:`diffrisk.core.compute.compute_map`).

Run (after ``make repro``; 1,766 s on 1 worker of the 2-core machine beside another job)::

    .venv/bin/python benchmarks/reverse_stress_brute_force.py --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from scipy.stats import binomtest

from diffrisk.core.compute import compute_map
from diffrisk.data.returns import constituent_returns
from diffrisk.stress.model import StressModel, load_stress_model
from diffrisk.stress.reverse import check_request, diffusion_reverse_stress


@lru_cache(maxsize=1)
def inputs(checkpoint: str, returns_file: str, index_name: str) -> tuple[StressModel, pd.DataFrame]:
    """The model and its returns, loaded once per worker process."""
    torch.set_num_threads(1)
    model = load_stress_model(checkpoint)
    returns = constituent_returns(pd.read_parquet(returns_file), index_name)
    return model, returns[list(model.assets)]


def count_hits(item: dict) -> tuple[int, int]:
    """(losses reaching L, paths) of one chunk of unguided chains."""
    model, returns = inputs(item["checkpoint"], item["returns"], item["index_name"])
    h = int(model.config.horizon)
    n_assets = len(model.assets)
    request = check_request(np.full(n_assets, 1.0 / n_assets), n_assets, h, h, loss=item["level"])
    res = diffusion_reverse_stress(
        model,
        returns,
        request,
        as_of=item["as_of"],
        n_paths=item["n"],
        strength=0.0,
        n_steps=item["n_steps"],
        seed=item["seed"],
    )
    return len(res.loss), int(item["n"])  # the returned scenarios are the hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="models/stress.pt")
    parser.add_argument("--returns", default="data/processed/returns.parquet")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--metrics", default="reports/metrics/reverse_stress.json")
    parser.add_argument("--paths", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="", help="write the result as JSON here")
    args = parser.parse_args()
    params = yaml.safe_load(Path(args.params).read_text())
    metrics = json.loads(Path(args.metrics).read_text())
    level = float(metrics["headline"]["loss_level"])
    stage = metrics["methods"]["diffusion"]
    index_name = params["data"]["index_name"]
    _, returns = inputs(args.checkpoint, args.returns, index_name)
    as_of = str(
        returns.index[returns.index >= pd.Timestamp(params["data"]["test_start"])][0].date()
    )
    seed = int(params["seed"])
    n_chunks = -(-int(args.paths) // int(args.chunk))
    items = [
        {
            "checkpoint": args.checkpoint,
            "returns": args.returns,
            "index_name": index_name,
            "level": level,
            "as_of": as_of,
            "n": min(int(args.chunk), int(args.paths) - k * int(args.chunk)),
            "n_steps": int(params["stress"]["reverse"]["n_steps"]),
            "seed": seed + 1000 + k,
        }
        for k in range(n_chunks)
    ]
    load_before = os.getloadavg()[0]
    tic = time.perf_counter()
    counts = compute_map(count_hits, items, workers=args.workers, desc="unguided chains")
    seconds = time.perf_counter() - tic
    hits = sum(c[0] for c in counts)
    n = sum(c[1] for c in counts)
    ci = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
    brute = {"p": hits / n, "lower": float(ci.low), "upper": float(ci.high), "hits": hits, "n": n}
    inside = stage["p_lower"] <= brute["p"] <= stage["p_upper"]
    print(f"request: equal weights, L = {level:.6g}, as_of {as_of}, {n_chunks} chunks")
    print(
        f"brute force ({n:,} unguided chains): P = {brute['p']:.5g} "
        f"[{brute['lower']:.5g}, {brute['upper']:.5g}] ({hits:,} hits)"
    )
    print(
        f"stage's importance estimate ({stage['n_scenarios']} scenarios of 300 chains): "
        f"P = {stage['p']:.5g} [{stage['p_lower']:.5g}, {stage['p_upper']:.5g}]"
    )
    print(f"brute-force P inside the stage's interval: {inside}")
    load_after = os.getloadavg()[0]
    print(f"{seconds:.0f} s on {args.workers} workers (load {load_before:.2f} -> {load_after:.2f})")
    if args.out:
        record = {
            "level": level,
            "as_of": as_of,
            "brute_force": brute,
            "stage": stage,
            "inside": inside,
            "seconds": seconds,
            "workers": args.workers,
        }
        Path(args.out).write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
