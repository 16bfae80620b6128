"""Stage ``stress_walk_forward``.

Walk-forward retraining of the stress model through the test period: yearly versions
refitted on expanding windows (warm start, a fixed number of epochs), each scored on the
year it serves (and on later years), the frozen pipeline model on the same years. Writes
``models/stress_wf/``, ``reports/tables/stress_drift.{csv,md}`` and
``reports/metrics/stress_drift.json``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import torch

from diffrisk.core import audit, io, paths
from diffrisk.core.compute import Compute, in_background, shared_scheduler
from diffrisk.core.paths import scenario_set_file, stress_checkpoint
from diffrisk.core.tables import write_table
from diffrisk.data.splits import periods_after_fit
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.evaluation.paths.drift import drift_summary, drift_table
from diffrisk.stages.common import StressInputs, run_stress_stage, stage_returns
from diffrisk.stress.config import UNCONDITIONAL
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.scenario_sets import SAMPLER_KEYS, read_scenario_set
from diffrisk.stress.walk_forward import (
    StressVersion,
    save_versions,
    version_period_sets,
    walk_forward_task,
)

logger = logging.getLogger(__name__)

#: Sampling settings of the pipeline's unconditional set that the walk-forward sets reuse.
GENERATION_KEYS: tuple[str, ...] = ("guidance", "prior_neighbours", *SAMPLER_KEYS)


def stress_walk_forward(
    *,
    epochs: int,
    frequency: str,
    scope: str,
    warm_start: bool,
    inputs: StressInputs,
    compute: Compute,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Run the ``stress_walk_forward`` stage.

    Parameters
    ----------
    epochs : int
        Training epochs of every refit (fixed in ``params.yaml`` beforehand).
    frequency : {"year", "quarter", "month"}
        One version per calendar period of the test period.
    scope : {"all", "served"}
        Score every version on every later period, or only the serving one (plus the
        frozen model); :func:`~diffrisk.stress.walk_forward.version_period_sets`.
    warm_start : bool
        Start each refit from the previous version.
    inputs : StressInputs
        The test period is split into the periods. Refit k uses the seed ``seed + k``;
        period p's sets use the pipeline unconditional set's seed + p.
    compute : Compute
        Where the sets are drawn (``stress.walk_forward.workers``), one task per
        (period, version) set; the refits stay one chain (each starts from the previous
        version), one more task, while the frozen model's sets are drawn beside it.
        Every output is byte-identical whatever it is.
    progress : bool, optional
        Progress bars of the refits.

    Returns
    -------
    dict
        ``drift`` (DataFrame), ``summary`` and ``versions`` (records), ``seconds``.

    Outputs
    -------
    ``models/stress_wf/version_<k>.pt``, ``models/stress_wf/versions.json`` (records,
    timings and provenance), ``reports/tables/stress_drift.{csv,md}``,
    ``reports/metrics/stress_drift.json`` (no timings: identical on a rerun).
    """
    tic = time.perf_counter()
    frozen = load_stress_model(stress_checkpoint())
    torch.set_num_threads(int(frozen.config.threads))
    returns = stage_returns(index_name=inputs.index_name)
    test_dates = inputs.splits.dates(returns, "test")
    if len(test_dates) == 0:
        raise ValueError("the test period has no returns: nothing to walk forward through")
    _, meta = read_scenario_set(scenario_set_file("diffusion", UNCONDITIONAL))
    generation = meta["generation"]
    # the refits' own check, before any work: the frozen model must not have seen a period
    periods_after_fit(test_dates, frequency, frozen.train_end, "walk-forward day")
    frozen_sha = weights_sha256(stress_checkpoint())
    options = {
        "epochs": int(epochs),
        "seed": int(inputs.seed),
        "frequency": frequency,
        "warm_start": bool(warm_start),
        "frozen_sha256": frozen_sha,
        "progress": progress,
    }
    sampling = {
        "n_paths_per_date": int(generation["n_paths_per_date"]),
        "seed": int(generation["seed"]),
        "frequency": frequency,
        "scope": scope,
        **{k: generation[k] for k in GENERATION_KEYS},
    }
    with shared_scheduler(compute.workers, compute.scheduler) as scheduler:
        # the refit chain holds one worker while the frozen model's sets are drawn
        with in_background(
            walk_forward_task, (frozen, returns, test_dates, options), scheduler
        ) as refitted:
            frozen_sets = version_period_sets(
                [StressVersion(0, frozen, frozen_sha)],
                returns,
                test_dates,
                generation["as_of"],
                workers=compute.workers,
                scheduler=scheduler,
                **sampling,
            )
            versions = save_versions(refitted(), paths.stress_walk_forward_checkpoint)
        fitted = time.perf_counter() - tic
        refit_sets = version_period_sets(
            versions[1:],
            returns,
            test_dates,
            generation["as_of"],
            workers=compute.workers,
            scheduler=scheduler,
            **sampling,
        )
    # in period order, version 0 first within a period (as one call over every version)
    sets = sorted(frozen_sets + refit_sets, key=lambda s: (s.reference.index[0], s.version.version))
    table = drift_table(sets)
    summary = drift_summary(table)
    seconds = {"refits": round(fitted, 1), "total": round(time.perf_counter() - tic, 1)}
    records = [v.record() for v in versions]
    params = {"epochs": epochs, "frequency": frequency, "scope": scope, "warm_start": warm_start}
    record = audit.provenance(
        {"stress.walk_forward": params, "stress.model": frozen.config.to_dict()},
        inputs.seed,
        audit.recorded_data_hash(),
        extra={"versions": records, "generation": generation, "seconds": seconds},
    )
    io.write_json(paths.stress_walk_forward_dir() / "versions.json", record)
    write_table(table, "stress_drift")
    metrics = {
        "epochs": int(epochs),
        "versions": [r["model_version"] for r in records],
        "served_better": summary["served_better"],
        "comparisons": summary["comparisons"],
        "mean_served": summary["mean_served"],
        "mean_frozen": summary["mean_frozen"],
    }
    io.write_json(paths.metrics_dir() / "stress_drift.json", metrics, digits=4)
    logger.info(
        "stress_walk_forward: %d versions, %d sets in %.1f s; served version better in %d of %d",
        len(versions),
        len(sets),
        seconds["total"],
        summary["served_better"],
        summary["comparisons"],
    )
    return {"drift": table, "summary": summary, "versions": records, "seconds": seconds}


def run(*, seed: int, data: Mapping[str, Any], stress: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``stress_walk_forward``: :func:`stress_walk_forward` with its parameters."""
    return run_stress_stage(stress_walk_forward, "walk_forward", seed, data, stress)
