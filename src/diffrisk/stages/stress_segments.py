"""Stage ``stress_segments``.

Segment coverage of the unconditional scenario sets: generated versus held-out 5 % VaR
and ES of every constituent and sector group, the worst-covered segment, and whether a
stress model trained with stratified windows (``StressConfig.stratify="segment"``)
narrows the gap. Writes ``reports/tables/stress_segments.{csv,md}``,
``reports/tables/stress_segments_summary.{csv,md}``, ``reports/metrics/stress_segments.json``,
``reports/figures/stress_segments.{png,pdf}``, ``models/stress_stratified.pt`` and
``models/stress_segments_timing.json``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import torch

from diffrisk.core import io, paths
from diffrisk.core.compute import Compute
from diffrisk.core.paths import scenario_set_file, stress_checkpoint, stress_dir
from diffrisk.core.tables import write_table
from diffrisk.diffusion.weights_hash import model_version, weights_sha256
from diffrisk.evaluation.paths.segments import GOAL_RATIO, segment_summary, variant_tables
from diffrisk.reporting.stress_segments import figure_segment_errors
from diffrisk.reporting.style import save_figure
from diffrisk.stages.common import StressInputs, run_stress_stage, stage_returns
from diffrisk.stress.config import UNCONDITIONAL, StressConfig
from diffrisk.stress.fit import train_stress_model
from diffrisk.stress.model import StressModel, load_stress_model, save_stress_model
from diffrisk.stress.sampling import generate_paths
from diffrisk.stress.scenario_sets import read_scenario_set, read_set_index, recorded_sampling

logger = logging.getLogger(__name__)

STRATIFIED = "diffusion_stratified"

T = TypeVar("T")


def stress_segments(
    *,
    sectors: str,
    alpha: float,
    daily: bool,
    stratified: bool,
    stratified_max_epochs: int,
    inputs: StressInputs,
    compute: Compute,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Run the ``stress_segments`` stage.

    Parameters
    ----------
    sectors : str
        Sector map ``"name=TICKER,...; ..."`` of the constituents (an unknown ticker
        raises naming it; constituents left out form the sector ``other``).
    alpha : float
        Tail probability of VaR and ES.
    daily : bool
        Add the one-day rows.
    stratified : bool
        Train the stratified variant (labels = the sector that led each training window's
        worst move; batches balanced across labels), with the pipeline model's settings
        and seed, and score its unconditional set (same conditioning dates, paths per
        date, sampler settings and seed as the pipeline's).
    stratified_max_epochs : int
        Cap on the variant's epochs (the epoch is still selected on validation).
    inputs : StressInputs
        Training and validation for the variant (fitted with the study seed); the test
        period is the held-out reference (scored, never used for a choice).
    compute : Compute
        Where the tasks run (``stress.segments.workers``): one task trains the stratified
        variant and scores its set while the others score the stored sets, one per set.
        Every output is byte-identical whatever it is.
    progress : bool, optional
        Progress bar of the variant's training.

    Returns
    -------
    dict
        ``segments`` (per variant, segment, horizon), ``summary`` (per variant and
        horizon), ``metrics``, ``figure`` paths.
    """
    tic = time.perf_counter()
    index = read_set_index(stress_dir())
    splits = inputs.splits
    returns = stage_returns(index_name=inputs.index_name)
    assets = [str(c) for c in returns.columns]
    test = returns.loc[splits.dates(returns, "test")]
    sets = {
        r["generator"]: read_scenario_set(scenario_set_file(r["generator"], UNCONDITIONAL))
        for r in index["sets"]
        if r["archetype"] == UNCONDITIONAL
    }
    if "diffusion" not in sets:
        raise FileNotFoundError("no diffusion unconditional set: run the stress_generate stage")
    tables = {"sectors": sectors, "alpha": alpha, "daily": daily}
    jobs = [
        partial(_variant_table, name, paths_, test, assets, tables)
        for name, (paths_, _) in sets.items()
    ]
    if stratified:
        frozen = load_stress_model(stress_checkpoint())
        config = replace(
            frozen.config,
            stratify="segment",
            segments=sectors,
            max_epochs=min(frozen.config.max_epochs, int(stratified_max_epochs)),
        )
        torch.set_num_threads(int(config.threads))
        # first in the queue: the longest task (training) starts at once
        jobs.insert(
            0,
            partial(
                _stratified_variant,
                stage_returns(index_name=inputs.index_name, until_val_end=splits),
                returns,
                config,
                sets["diffusion"][1]["generation"],
                seed=int(inputs.seed),
                fit_dates=splits.fit_dates,
                tables=(test, assets, tables),
                progress=progress,
            ),
        )
    outs = compute.map(_call, jobs, desc="segment variants")
    training: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    parts = outs[1:] if stratified else outs
    if stratified:
        model, part, seconds["stratified_training"] = outs[0]
        ckpt = save_stress_model(model, paths.stress_stratified_checkpoint())
        best = min(model.history, key=lambda h: h["val_loss"])
        training = {
            "epochs_run": len(model.history),
            "best_epoch": int(best["epoch"]),
            "best_val_loss": float(best["val_loss"]),
            "max_epochs": int(config.max_epochs),
            "model_version": model_version("stress", model.train_end, weights_sha256(ckpt)),
        }
        parts = [*parts, part]
    table = pd.concat(parts, ignore_index=True)
    summary = segment_summary(table)
    metrics = _metrics(summary, training, sets)
    seconds["total"] = round(time.perf_counter() - tic, 1)
    io.write_json(paths.models_dir() / "stress_segments_timing.json", seconds)
    write_table(table, "stress_segments")
    write_table(summary, "stress_segments_summary")
    io.write_json(paths.metrics_dir() / "stress_segments.json", metrics, digits=4)
    horizon = int(table["horizon"].max())
    figure = save_figure(figure_segment_errors(table, horizon), "stress_segments")
    logger.info("stress_segments: %s", metrics["headline"])
    return {
        "segments": table,
        "summary": summary,
        "metrics": metrics,
        "figure": figure,
        "seconds": seconds,
    }


def _call(job: Callable[[], T]) -> T:
    """``job()``: what a Dask task of this stage runs (jobs are partials of module functions)."""
    return job()


def _variant_table(
    name: str,
    scenarios: np.ndarray,
    reference: pd.DataFrame,
    assets: list[str],
    tables: Mapping[str, Any],
) -> pd.DataFrame:
    """One variant's rows of the segment table (:func:`variant_tables` of that set alone)."""
    return variant_tables({name: scenarios}, reference, assets, **tables)


def _stratified_variant(
    train: pd.DataFrame,
    returns: pd.DataFrame,
    config: StressConfig,
    generation: Mapping[str, Any],
    *,
    seed: int,
    fit_dates: tuple[Any, ...],
    tables: tuple[pd.DataFrame, list[str], Mapping[str, Any]],
    progress: bool | None,
) -> tuple[StressModel, pd.DataFrame, float]:
    """Train the stratified variant and score its unconditional set (one Dask task).

    The set has the pipeline's diffusion set's conditioning dates, paths per date, sampler
    settings and seed (``generation``). Returns the model, its rows of the segment table
    and the training wall time (seconds).
    """
    torch.set_num_threads(int(config.threads))  # a worker starts with torch's default
    t0 = time.perf_counter()
    model = train_stress_model(train, fit_dates, config, seed=seed, progress=progress)
    fitted = round(time.perf_counter() - t0, 1)
    scenarios, _ = generate_paths(
        model,
        returns,
        generation["as_of"],
        int(generation["n_paths_per_date"]),
        None,
        guidance=generation["guidance"],
        seed=int(generation["seed"]),
        prior_neighbours=generation["prior_neighbours"],
        **recorded_sampling(generation),
    )
    return model, _variant_table(STRATIFIED, scenarios, *tables), fitted


def _metrics(
    summary: pd.DataFrame, training: Mapping[str, Any], sets: Mapping[str, Any]
) -> dict[str, Any]:
    """The H-day summary per variant, the goal, and whether stratification narrows the gap."""
    horizon = int(summary["horizon"].max())
    rows = summary[summary["horizon"] == horizon].set_index("variant")
    kinds = {"median_es_error": float, "max_es_error": float, "max_over_median": float}
    kinds |= {"worst_segment": str, "goal_met": bool}
    out: dict[str, Any] = {
        "horizon": horizon,
        "goal": f"max ES error <= {GOAL_RATIO:g} x median segment's",
        "variants": {v: {k: f(rows.loc[v, k]) for k, f in kinds.items()} for v in rows.index},
        "model_versions": {g: meta.get("model_version") for g, (_, meta) in sets.items()},
    }
    base = rows.loc["diffusion"]
    headline = {
        "worst_segment": str(base["worst_segment"]),
        "max_over_median": float(base["max_over_median"]),
        "goal_met": bool(base["goal_met"]),
    }
    if STRATIFIED in rows.index:
        strat = rows.loc[STRATIFIED]
        headline |= {
            "stratified_max_over_median": float(strat["max_over_median"]),
            "stratified_worst_segment": str(strat["worst_segment"]),
            "stratified_narrows_gap": bool(strat["max_over_median"] < base["max_over_median"]),
            "stratified_lowers_max_error": bool(strat["max_es_error"] < base["max_es_error"]),
        }
        out["stratified_training"] = dict(training)
    out["headline"] = headline
    return out


def run(*, seed: int, data: Mapping[str, Any], stress: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``stress_segments``: :func:`stress_segments` with its ``dvc.yaml`` parameters."""
    return run_stress_stage(stress_segments, "segments", seed, data, stress)
