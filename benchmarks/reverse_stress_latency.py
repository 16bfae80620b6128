"""Latency of ``POST /reverse-stress`` (issue 21 goal: p95 <= 5 s on the idle machine).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/reverse_stress_latency.py \
        --checkpoint models/stress.pt --returns data/processed/returns.parquet \
        --record models/reverse_stress.json --n 20 --n-paths 300

Each request: equal weights, L = the model's 1 % ES (pilot + guided chains, the default
peers: every method but vine_copula), answered with the settings of the ``reverse_stress``
stage's record (``--record``; without it the library defaults, one segment per asset).
Prints the median and p95 wall time in seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient

from diffrisk.service.reverse_stress import configure, router


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--returns", required=True)
    parser.add_argument("--record", default=None, help="models/reverse_stress.json")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--n-paths", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    app = FastAPI()
    context = configure(app, args.checkpoint, args.returns, args.record)
    app.include_router(router)
    client = TestClient(app)
    n_assets = len(context.model.assets)
    body = {"weights": [1.0 / n_assets] * n_assets, "es_alpha": 0.01, "n_paths": args.n_paths}
    times = []
    for seed in range(args.n):
        tic = time.perf_counter()
        r = client.post("/reverse-stress", json=body | {"seed": seed})
        times.append(time.perf_counter() - tic)
        r.raise_for_status()
    print(f"median {np.median(times):.2f} s, p95 {np.quantile(times, 0.95):.2f} s")


if __name__ == "__main__":
    main()
