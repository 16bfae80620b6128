"""Stage ``stress_train``.

Fit the three stress generators on the same training windows and conditioning: the
diffusion model (``models/stress.pt``) and its two comparison generators, a conditional
WGAN-GP and a conditional VAE (``models/stress_gan.pt``, ``models/stress_vae.pt``), each
with an audit record; ``models/stress_train.json`` (diffusion) and
``models/stress_train_comparison.json`` (GAN and VAE) hold their training records. The
three fits are independent Dask tasks (``stress.comparison.workers`` processes): with two
workers the GAN, the longest fit, has one to itself while the diffusion model and then the
VAE share the other, so the stage takes about as long as the GAN alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import torch

from diffrisk.core import audit, io, paths
from diffrisk.core.compute import compute_map
from diffrisk.core.paths import comparison_checkpoint, stress_checkpoint
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stages.common import StressInputs, stage_returns, stress_inputs
from diffrisk.stages.display import plot_image as plot_image  # for the notebook
from diffrisk.stress.budgets import SELECTION
from diffrisk.stress.comparison import ComparisonConfig, ComparisonModel, save_comparison_model
from diffrisk.stress.comparison_training import FITTERS, train_comparison_generator
from diffrisk.stress.config import StressConfig
from diffrisk.stress.fit import train_stress_model
from diffrisk.stress.model import StressModel, save_stress_model
from diffrisk.stress.scenario_sets import json_ready
from diffrisk.stress.tuning import TuningConfig, tune_generator

logger = logging.getLogger(__name__)

#: The fits in the order they are handed to the workers, longest first (measured on the
#: default settings: GAN 114 s, diffusion 71 s, VAE 56 s on one thread each). A worker
#: takes the next fit when it is free, so two workers run the GAN | the diffusion model,
#: then the VAE.
FIT_ORDER: tuple[str, ...] = ("gan", "diffusion", "vae")

#: Seed offset of each generator from the study seed (the GAN ``seed``, the VAE ``seed + 1``,
#: as the comparison generators always had; the diffusion model the study seed).
SEED_OFFSET: dict[str, int] = {"diffusion": 0, **{kind: k for k, kind in enumerate(FITTERS)}}

Fitted = StressModel | ComparisonModel


def _fit_generator(job: tuple[Any, ...]) -> tuple[Fitted, float, dict[str, Any]]:
    """Fit one generator, or tune it (module level: runs as a Dask task).

    Returns the fitted model, the seconds and the tuning record (``n_trials`` 0 untuned).
    """
    kind, returns, dates, config, settings, seed, progress, tune = job
    diffusion = kind == "diffusion"
    torch.set_num_threads(int(config.threads if diffusion else settings.threads))
    tic = time.perf_counter()
    if tune.enabled:
        study = tune_generator(kind, returns, dates, config, None if diffusion else settings, tune)
        return study.model, time.perf_counter() - tic, study.record()
    if diffusion:
        fitted: Fitted = train_stress_model(returns, dates, config, seed=seed, progress=progress)
    else:
        fitted = train_comparison_generator(
            kind, returns, dates, config, settings, seed=seed, progress=progress
        )
    return fitted, time.perf_counter() - tic, {"n_trials": 0}


def train_stress(
    *,
    model: Mapping[str, Any],
    comparison: Mapping[str, Any],
    inputs: StressInputs,
    tuning: Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Run the ``stress_train`` stage: fit the diffusion model, the GAN and the VAE.

    ``inputs`` (:class:`~diffrisk.stages.common.StressInputs`) sets the training and
    validation windows as that class describes (no test row is read). The diffusion model
    is fitted with the study seed, the GAN with ``seed``, the VAE with ``seed + 1``; each
    fit is seeded on its own, so the weights do not depend on where it runs.

    Parameters
    ----------
    model : mapping
        ``params.yaml``'s ``stress.model`` (fields of :class:`StressConfig`): the diffusion
        model, and the windows, history length and scaling every generator shares.
    comparison : mapping
        ``stress.comparison`` (:class:`ComparisonConfig`): the GAN and the VAE; its
        ``workers`` is the processes of the stage's three fits (1: one after the other in
        this process).
    inputs : StressInputs
        The study's periods, index column and seed.
    tuning : mapping, optional
        ``stress.tuning`` (:class:`~diffrisk.stress.tuning.TuningConfig`); when enabled
        each generator is the best trial of its own study
        (:func:`~diffrisk.stress.tuning.tune_generator`: the same trials, time cap and seed
        for each, scored on validation), its tuned settings replace the defaults and are
        saved with it, and the records hold the trials.
    progress : bool, optional
        tqdm bars of the epochs (None: only on a terminal).

    Returns
    -------
    dict
        ``metrics``: the diffusion model's (best epoch, validation loss, windows, seconds,
        tuning record, history); ``config``: its (tuned) settings; ``comparison``: per
        comparison generator its metrics (best epoch, selection score, epochs run, seconds,
        parameters, tuning record, history); ``comparison_config``: their settings.

    Outputs
    -------
    ``models/stress.pt``, ``models/stress_gan.pt``, ``models/stress_vae.pt`` (each with
    its ``.audit.json``), ``models/stress_train.json`` (per-epoch history with timings;
    ``tuning``: the trials, ``n_trials`` 0 untuned), ``models/stress_train_comparison.json``
    (the same per comparison generator).
    """
    config = StressConfig.from_dict(dict(model))
    settings = ComparisonConfig.from_dict(dict(comparison))
    tune = TuningConfig.from_dict(dict(tuning or {}))
    torch.set_num_threads(int(config.threads))
    splits, seed = inputs.splits, int(inputs.seed)
    returns = stage_returns(index_name=inputs.index_name, until_val_end=splits)
    data_hash = audit.recorded_data_hash()
    jobs = [
        (
            kind,
            returns,
            splits.fit_dates,
            config,
            settings,
            seed + SEED_OFFSET[kind],
            progress,
            tune,
        )
        for kind in FIT_ORDER
    ]
    fits = dict(
        zip(
            FIT_ORDER,
            compute_map(_fit_generator, jobs, int(settings.workers), desc="stress generators"),
            strict=True,
        )
    )
    fitted, seconds, tuning_record = fits.pop("diffusion")
    result = _write_diffusion(fitted, seconds, tuning_record, tune, seed, data_hash)
    record = {
        kind: _write_comparison(kind, *fits[kind], config, tune, seed, data_hash)
        for kind in FITTERS
    }
    io.write_json(paths.models_dir() / "stress_train_comparison.json", record)
    return result | {"comparison": record, "comparison_config": settings}


def _write_diffusion(
    fitted: StressModel,
    seconds: float,
    tuning_record: dict[str, Any],
    tune: TuningConfig,
    seed: int,
    data_hash: str | None,
) -> dict[str, Any]:
    """Save the diffusion model, its audit record and ``stress_train.json``."""
    config = fitted.config  # the tuned settings when the study ran
    best = min(fitted.history, key=lambda h: h["val_loss"])
    metrics = {
        "best_epoch": int(best["epoch"]),
        "best_val_loss": float(best["val_loss"]),
        "epochs_run": len(fitted.history),
        "train_end": fitted.train_end,
        "n_parameters": int(sum(p.numel() for p in fitted.net.parameters())),
        "signature_range": json_ready(fitted.signature_bounds.to_dict(orient="index")),
    }
    path = save_stress_model(fitted, stress_checkpoint())
    provenance = audit.provenance(
        {"stress.model": config.to_dict(), "stress.tuning": tune.to_dict()},
        seed,
        data_hash,
        extra={"checkpoint_sha256": weights_sha256(path), "outputs": metrics},
    )
    audit.write_provenance(path.with_suffix(".audit.json"), provenance)
    record = {
        **metrics,
        "wall_time_s": round(seconds, 1),
        "tuning": tuning_record,
        "history": fitted.history,
    }
    io.write_json(paths.models_dir() / "stress_train.json", record)
    logger.info(
        "stress_train: diffusion %d epochs in %.1f s, best epoch %d (val loss %.4f)",
        len(fitted.history),
        seconds,
        metrics["best_epoch"],
        metrics["best_val_loss"],
    )
    return {"metrics": record, "config": config}


def _write_comparison(
    kind: str,
    fitted: ComparisonModel,
    seconds: float,
    tuning_record: dict[str, Any],
    config: StressConfig,
    tune: TuningConfig,
    seed: int,
    data_hash: str | None,
) -> dict[str, Any]:
    """Save a comparison generator and its audit record; its entry of the training record."""
    key, selection = SELECTION[kind]
    best = min(fitted.history, key=lambda h: h[key])
    metrics = {
        "selection": selection,
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
        seed + SEED_OFFSET[kind],
        data_hash,
        extra={"checkpoint_sha256": weights_sha256(path), "outputs": metrics},
    )
    audit.write_provenance(path.with_suffix(".audit.json"), provenance)
    logger.info(
        "stress_train: %s %d epochs in %.1f s, best epoch %d (%.4f)",
        kind,
        metrics["epochs_run"],
        seconds,
        metrics["best_epoch"],
        metrics["best_score"],
    )
    return {**metrics, "tuning": tuning_record, "history": fitted.history}


def run(*, seed: int, data: Mapping[str, Any], stress: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``stress_train``: :func:`train_stress` with its ``dvc.yaml`` parameters."""
    return train_stress(
        model=stress["model"],
        comparison=stress["comparison"],
        inputs=stress_inputs(seed, data),
        tuning=stress["tuning"],
    )
