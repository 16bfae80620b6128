"""Time the ``vine_copula`` reverse-stress peer: skfolio vine fit, then sampling.

One request per loss level: equal weights over every column of ``--returns`` except
``--drop`` (default data: the 20 constituents), horizon ``--horizon``, the rows before
``--before``; the fit (:func:`~diffrisk.stress.reverse_vine.fit_vine`) is timed once,
then :func:`~diffrisk.stress.reverse_vine.vine_reverse_stress` (``--n-paths`` scenario
draws, ``--n-probability`` draws for ``P(loss >= L)``) per level. Wall and this
process's CPU time are printed (the machine may be shared: CPU time is steadier).

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_reverse_vine.py --returns
data/processed/returns.parquet [--max-depth 4] [--levels 0.10 0.15]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from diffrisk.stress.reverse import check_request
from diffrisk.stress.reverse_vine import MAX_DEPTH, fit_vine, vine_reverse_stress


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--returns", required=True)
    parser.add_argument("--drop", nargs="*", default=["portfolio", "sp500"])
    parser.add_argument("--before", default="2019-01-01")
    parser.add_argument("--horizon", type=int, default=20)
    parser.add_argument("--max-depth", type=int, default=MAX_DEPTH)
    parser.add_argument("--levels", type=float, nargs="+", default=[0.10, 0.15])
    parser.add_argument("--n-paths", type=int, default=300)
    parser.add_argument("--n-probability", type=int, default=20_000)
    args = parser.parse_args()
    frame = pd.read_parquet(args.returns)
    frame = frame.drop(columns=[c for c in args.drop if c in frame.columns])
    arr = frame.loc[frame.index < pd.Timestamp(args.before)].to_numpy(dtype=float)
    h, n_assets = args.horizon, arr.shape[1]
    weights = np.full(n_assets, 1.0 / n_assets)
    wall, cpu = time.perf_counter(), time.process_time()
    fit = fit_vine(arr, weights, h, max_depth=args.max_depth)
    print(
        f"fit: {n_assets} assets + portfolio, {fit.n_windows} windows of {h} days, "
        f"max_depth={args.max_depth}: wall {time.perf_counter() - wall:.1f} s, "
        f"cpu {time.process_time() - cpu:.1f} s"
    )
    for level in args.levels:
        request = check_request(weights, n_assets, h, h, loss=level)
        wall, cpu = time.perf_counter(), time.process_time()
        res = vine_reverse_stress(
            fit, request, level, n_paths=args.n_paths, n_probability=args.n_probability
        )
        prob = res.probability
        print(
            f"L={level}: sampling wall {time.perf_counter() - wall:.1f} s, "
            f"cpu {time.process_time() - cpu:.1f} s; {len(res.loss)} scenarios "
            f"(hit rate {res.metadata['hit_rate']:.3f}), "
            f"P = {prob['p']:.4g} [{prob['lower']:.4g}, {prob['upper']:.4g}]"
        )


if __name__ == "__main__":
    main()
