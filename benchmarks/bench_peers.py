"""Time the FZ0-fitted peers ``gas`` and ``es_caviar`` (``baselines`` stage) on the default data.

Per series of the default data (portfolio, sp500, 20 constituents): one fit (the first
refit's sample: the ``max_obs`` returns before the first test day, all three alphas) and
the full refit run over the test period 2019-01-02 ... 2022-12-28 (1006 days, refit every
``refit_every`` days) with the stage's arguments (params.yaml ``baselines``). Wall time
and this process's CPU time are printed (the machine is shared: CPU time is steadier).
The first call compiles the numba kernels (cached on disk afterwards); it is timed apart.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_peers.py [--series portfolio sp500]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_baselines import TEST_START, default_returns, timed

from diffrisk.baselines.caviar import CAVIAR_MODEL
from diffrisk.baselines.fz_refit import fit_fz0, fz0_peer
from diffrisk.baselines.gas import GAS_MODEL
from diffrisk.forecasts.contract import ALPHAS

PEERS = {"gas": GAS_MODEL, "es_caviar": CAVIAR_MODEL}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", nargs="*", help="series to time (default: all)")
    parser.add_argument("--refit-every", type=int, default=20)
    parser.add_argument("--min-obs", type=int, default=1000)
    parser.add_argument("--max-obs", type=int, default=5000)
    args = parser.parse_args()
    returns = default_returns()
    dates = returns.index[returns.index >= TEST_START]
    dates = dates[dates <= "2022-12-31"]
    names = args.series or list(returns.columns)
    first = int(returns.index.get_loc(dates[0]))
    print(f"{len(names)} series x {len(dates)} test days, refit_every={args.refit_every}")
    print(f"{'what':<44s} {'wall s':>8s} {'cpu s':>8s}")
    y0 = returns[names[0]].to_numpy(dtype=float)[max(0, first - args.max_obs) : first]
    for method, model in PEERS.items():
        timed(f"{method}: compile + one fit (alpha=0.05)", fit_fz0, model, y0, 0.05)
    kwargs = {"refit_every": args.refit_every, "min_obs": args.min_obs, "max_obs": args.max_obs}
    totals = dict.fromkeys(PEERS, 0.0)
    for name in names:
        y = returns[name].to_numpy(dtype=float)[max(0, first - args.max_obs) : first]
        y = y[~np.isnan(y)]
        for method, model in PEERS.items():
            timed(f"{name} {method}: one fit x {len(ALPHAS)} alphas", _fit_all, model, y)
            wall = time.perf_counter()
            timed(
                f"{name} {method}: refit run",
                fz0_peer,
                model,
                returns,
                dates,
                series=[name],
                **kwargs,
            )
            totals[method] += time.perf_counter() - wall
    for method, seconds in totals.items():
        print(f"{method} total refit run over {len(names)} series: {seconds:.1f} s wall")


def _fit_all(model, y) -> None:
    for alpha in ALPHAS:
        fit_fz0(model, y, alpha)


if __name__ == "__main__":
    main()
