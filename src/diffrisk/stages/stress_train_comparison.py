"""Stage ``stress_train_comparison``.

Fit the two comparison generators of the stress model, a conditional WGAN-GP and a
conditional VAE, on the diffusion model's windows. Writes ``models/stress_gan.pt``,
``models/stress_vae.pt`` (+ audit records) and ``models/stress_train_comparison.json``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import torch

from diffrisk.core import audit, io, paths
from diffrisk.core.compute import compute_map
from diffrisk.core.paths import comparison_checkpoint
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stages.common import StressInputs, stage_returns, stress_inputs
from diffrisk.stress.comparison import ComparisonConfig, ComparisonModel, save_comparison_model
from diffrisk.stress.comparison_training import FITTERS, train_comparison_generator
from diffrisk.stress.config import StressConfig
from diffrisk.stress.tuning import TuningConfig, tune_generator

logger = logging.getLogger(__name__)


def _fit_generator(job: tuple[Any, ...]) -> tuple[ComparisonModel, float, dict[str, Any]]:
    """Fit one comparison generator, or tune it (module level: runs as a Dask task).

    Returns the fitted model, the seconds and the tuning record (``n_trials`` 0 untuned).
    """
    kind, returns, dates, config, settings, seed, progress, tune = job
    torch.set_num_threads(int(settings.threads))
    tic = time.perf_counter()
    if tune.enabled:
        study = tune_generator(kind, returns, dates, config, settings, tune)
        return study.model, time.perf_counter() - tic, study.record()
    fitted = train_comparison_generator(
        kind, returns, dates, config, settings, seed=seed, progress=progress
    )
    return fitted, time.perf_counter() - tic, {"n_trials": 0}


def train_comparison(
    *,
    model: Mapping[str, Any],
    comparison: Mapping[str, Any],
    inputs: StressInputs,
    tuning: Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Run the ``stress_train_comparison`` stage: fit the GAN and the VAE.

    Parameters
    ----------
    model : mapping
        ``params.yaml``'s ``stress.model`` (:class:`StressConfig`): the windows, history
        length and scaling shared with the diffusion model.
    comparison : mapping
        ``stress.comparison`` (:class:`ComparisonConfig`); ``workers: 2`` fits both at once
        as Dask tasks on worker processes (each with ``threads`` threads), with the same
        weights as a serial run (each fit is seeded on its own).
    inputs : StressInputs
        Training windows end on or before ``splits.train_end``; epochs are selected on
        validation windows; test rows are never read. The GAN is seeded with ``seed``,
        the VAE with ``seed + 1``.
    tuning : mapping, optional
        ``stress.tuning`` (:class:`~diffrisk.stress.tuning.TuningConfig`); when enabled
        each generator is the best trial of its own study (the same trials, time cap and
        seed as the diffusion model's, scored on validation), its tuned settings are
        saved with it, and the record holds the trials.

    Returns
    -------
    dict
        ``metrics`` per generator (best epoch, selection score, epochs run, seconds,
        parameters, tuning record, history).

    Outputs
    -------
    ``models/stress_gan.pt``, ``models/stress_vae.pt`` (+ ``.audit.json``),
    ``models/stress_train_comparison.json``.
    """
    config = StressConfig.from_dict(dict(model))
    settings = ComparisonConfig.from_dict(dict(comparison))
    tune = TuningConfig.from_dict(dict(tuning or {}))
    torch.set_num_threads(int(settings.threads))
    splits, seed = inputs.splits, inputs.seed
    returns = stage_returns(index_name=inputs.index_name, until_val_end=splits)
    data_hash = audit.recorded_data_hash()
    record: dict[str, Any] = {}
    jobs = [
        (kind, returns, splits.fit_dates, config, settings, int(seed) + offset, progress, tune)
        for offset, kind in enumerate(FITTERS)
    ]
    fits = compute_map(_fit_generator, jobs, int(settings.workers), desc="comparison generators")
    for offset, (kind, (fitted, seconds, tuned)) in enumerate(zip(FITTERS, fits, strict=True)):
        key = "score" if kind == "gan" else "val_loss"
        best = min(fitted.history, key=lambda h, k=key: h[k])
        metrics = {
            "selection": "validation energy distance" if kind == "gan" else "validation -ELBO",
            "best_epoch": int(best["epoch"]),
            "best_score": float(best[key]),
            "epochs_run": len(fitted.history),
            "n_parameters": int(sum(p.numel() for p in fitted.net.parameters())),
            "train_end": fitted.train_end,
            "wall_time_s": round(seconds, 1),
        }
        path = save_comparison_model(fitted, comparison_checkpoint(kind))
        provenance = audit.provenance(
            {
                "stress.model": config.to_dict(),
                "stress.comparison": fitted.settings.to_dict(),
                "stress.tuning": tune.to_dict(),
            },
            int(seed) + offset,
            data_hash,
            extra={"checkpoint_sha256": weights_sha256(path), "outputs": metrics},
        )
        audit.write_provenance(path.with_suffix(".audit.json"), provenance)
        record[kind] = {**metrics, "tuning": tuned, "history": fitted.history}
        logger.info(
            "stress_train_comparison: %s %d epochs in %.1f s, best epoch %d (%.4f)",
            kind,
            metrics["epochs_run"],
            seconds,
            metrics["best_epoch"],
            metrics["best_score"],
        )
    io.write_json(paths.models_dir() / "stress_train_comparison.json", record)
    return {"metrics": record, "config": settings}


def run(*, seed: int, data: Mapping[str, Any], stress: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``stress_train_comparison``: :func:`train_comparison` with its parameters."""
    return train_comparison(
        model=stress["model"],
        comparison=stress["comparison"],
        inputs=stress_inputs(seed, data),
        tuning=stress["tuning"],
    )
