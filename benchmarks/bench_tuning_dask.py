"""Optuna trials as Dask tasks: the tuning study on 1 vs 2 workers sharing a journal file.

Builds the ``tune`` stage's study from ``params.yaml`` (the reduced tuning fidelity, the
inner validation period; set ``DIFFRISK_ROOT`` to read another checkout's data and
parameters), and for each worker count in ``--workers`` runs ``--n-trials`` trials with
:func:`diffrisk.study.tuning_dask.run_study_on_dask` on a fresh journal file
(``journal:<tmp>/study.journal``). Prints wall time, trials per minute, the mean time per
task-trial (wall x workers / trials: the per-task cost, cluster start-up included) and the
epochs run (pruned trials stop early, so the count differs between runs: a multi-worker
study is not deterministic), and the CPU time of this process and its worker processes
per epoch (the cost that does not depend on what else runs on the machine).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_tuning_dask.py --n-trials 8``
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import yaml

from diffrisk.core import paths
from diffrisk.data.splits import Splits
from diffrisk.stages.tune import study_setup
from diffrisk.study.tuning import trials_frame
from diffrisk.study.tuning_dask import run_study_on_dask


def cpu_seconds() -> float:
    """User + system CPU of this process and of its finished children (the Dask workers)."""
    return sum(
        u.ru_utime + u.ru_stime
        for u in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def main() -> None:
    """Run the benchmark and print one line per worker count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    params = yaml.safe_load(paths.params_file().read_text())
    tune, seed = params["tune"], int(params["seed"])
    splits = Splits.from_mapping(params["data"])
    setup = study_setup(
        n_trials=args.n_trials,
        n_startup_trials=tune["n_startup_trials"],
        min_resource=tune["min_resource"],
        reduction_factor=tune["reduction_factor"],
        timeout=0,
        overrides=tune.get("overrides", {}),
        ddpm=params["ddpm"],
        splits=splits,
        seed=seed,
        headline=params["data"].get("series"),
    )
    print(f"root {paths.project_root()}: study {setup.study_name}, {args.n_trials} trials")
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"journal:{Path(tmp) / 'study.journal'}"
            start, cpu = time.perf_counter(), cpu_seconds()
            study = run_study_on_dask(
                setup.returns,
                splits,
                setup.base,
                seed,
                setup.settings,
                url,
                setup.study_name,
                workers=workers,
            )
            wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
            frame = trials_frame(study)
        n, epochs = len(frame), int(frame["epochs"].sum())
        print(
            f"workers {workers}: wall {wall:.1f} s, {n} trials "
            f"({(frame['state'] == 'COMPLETE').sum()} complete), {epochs} epochs, "
            f"{60 * n / wall:.1f} trials/min, {wall * workers / n:.1f} s per task-trial, "
            f"{wall * workers / max(epochs, 1):.2f} s per task-epoch; CPU {cpu:.0f} s, "
            f"{cpu / max(epochs, 1):.2f} CPU s per epoch"
        )


if __name__ == "__main__":
    main()
