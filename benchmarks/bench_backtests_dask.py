"""The coverage stage's backtest battery on Dask: 1 vs 2 workers, one task per (series, method).

Loads the pipeline's forecast tables and scenario sets (``data/forecasts/``; set
``DIFFRISK_ROOT`` to read another checkout's) of ``--methods`` (default: every method of
``coverage.methods`` whose table exists), runs
:func:`diffrisk.evaluation.tables.backtest_table` with ``--n-sim`` Acerbi–Szekely
simulations for each worker count in ``--workers``, checks that the tables are
byte-identical and prints wall time, speed-up over the first worker count and the mean
time per task (wall x workers / tasks; the embedded cluster's start-up and the transfer
of every pair's scenarios to the workers included, as a user sees them).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_backtests_dask.py``
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import yaml

from diffrisk.core import paths
from diffrisk.core.params import parse_list
from diffrisk.evaluation.tables import backtest_table
from diffrisk.forecasts.store import load_forecasts, load_scenarios


def main() -> None:
    """Run the benchmark and print one line per worker count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="", help="comma-separated (default: coverage.methods)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--n-sim", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20250515)
    args = parser.parse_args()
    params = yaml.safe_load(paths.params_file().read_text())
    wanted = parse_list(args.methods or params["coverage"]["methods"])
    names = [m for m in wanted if paths.forecast_file(m).is_file()]
    frames = {m: load_forecasts(m) for m in names}
    scen = {m: load_scenarios(m) for m in names if paths.scenarios_file(m).is_file()}
    n_pairs = sum(f["series"].nunique() for f in frames.values())
    print(
        f"root {paths.project_root()}: {len(names)} methods ({len(scen)} with scenarios), "
        f"{n_pairs} (series, method) tasks, n_sim {args.n_sim}; missing: "
        f"{[m for m in wanted if m not in names]}"
    )
    reference: pd.DataFrame | None = None
    base = None
    for workers in args.workers:
        start = time.perf_counter()
        table = backtest_table(frames, scen, n_sim=args.n_sim, seed=args.seed, workers=workers)
        wall = time.perf_counter() - start
        base = base or wall
        if reference is None:
            reference = table
        else:
            pd.testing.assert_frame_equal(reference, table, check_exact=True)
        print(
            f"workers {workers}: wall {wall:.1f} s, speed-up {base / wall:.2f}, "
            f"{wall * workers / n_pairs * 1000:.0f} ms/task, {len(table)} rows"
            + (", byte-identical to the first" if table is not reference else "")
        )


if __name__ == "__main__":
    main()
