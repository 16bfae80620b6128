"""Stage ``stress_train``.

Fit the multivariate stress-path model. Writes ``models/stress.pt`` (+ audit).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import torch

from diffrisk.core import audit, io, paths
from diffrisk.core.paths import stress_checkpoint
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stages.common import StressInputs, stage_returns, stress_inputs
from diffrisk.stress.config import StressConfig
from diffrisk.stress.model import save_stress_model, train_stress_model
from diffrisk.stress.scenario_sets import json_ready
from diffrisk.stress.tuning import TuningConfig, tune_generator

logger = logging.getLogger(__name__)


def train_stress(
    *,
    model: Mapping[str, Any],
    inputs: StressInputs,
    tuning: Mapping[str, Any] | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Run the ``stress_train`` stage: fit the stress generator on training windows.

    ``inputs`` (:class:`~diffrisk.stages.common.StressInputs`) sets the training and
    validation windows as that class describes (no test row is read); the model is fitted
    with the study seed.

    Parameters
    ----------
    model : mapping
        ``params.yaml``'s ``stress.model`` (fields of :class:`StressConfig`).
    inputs : StressInputs
        The study's periods, index column and seed.
    tuning : mapping, optional
        ``stress.tuning`` (:class:`~diffrisk.stress.tuning.TuningConfig`); when enabled
        the model is the best trial of the diffusion model's study
        (:func:`~diffrisk.stress.tuning.tune_generator`, scored on validation), its tuned
        settings replace ``model``'s, and the record holds the trials.
    progress : bool, optional
        tqdm bar of the epochs (None: only on a terminal).

    Returns
    -------
    dict
        ``metrics`` (best epoch, validation loss, windows, history), ``config``.

    Outputs
    -------
    ``models/stress.pt`` (+ ``models/stress.audit.json``), ``models/stress_train.json``
    (per-epoch history with timings; ``tuning``: the trials, ``n_trials`` 0 untuned).
    """
    config = StressConfig.from_dict(dict(model))
    torch.set_num_threads(int(config.threads))
    splits = inputs.splits
    returns = stage_returns(index_name=inputs.index_name, until_val_end=splits)
    data_hash = audit.recorded_data_hash()
    tune = TuningConfig.from_dict(dict(tuning or {}))
    tic = time.perf_counter()
    tuning_record: dict[str, Any] = {"n_trials": 0}
    if tune.enabled:
        study = tune_generator("diffusion", returns, splits.fit_dates, config, None, tune)
        fitted, tuning_record = study.model, study.record()
        config = fitted.config  # the tuned settings replace the defaults
    else:
        fitted = train_stress_model(
            returns, splits.fit_dates, config, seed=int(inputs.seed), progress=progress
        )
    seconds = time.perf_counter() - tic
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
    record = audit.provenance(
        {"stress.model": config.to_dict(), "stress.tuning": tune.to_dict()},
        inputs.seed,
        data_hash,
        extra={"checkpoint_sha256": weights_sha256(path), "outputs": metrics},
    )
    audit.write_provenance(path.with_suffix(".audit.json"), record)
    io.write_json(
        paths.models_dir() / "stress_train.json",
        {
            **metrics,
            "wall_time_s": round(seconds, 1),
            "tuning": tuning_record,
            "history": fitted.history,
        },
    )
    logger.info(
        "stress_train: %d epochs in %.1f s, best epoch %d (val loss %.4f)",
        len(fitted.history),
        seconds,
        metrics["best_epoch"],
        metrics["best_val_loss"],
    )
    return {
        "metrics": {
            **metrics,
            "wall_time_s": round(seconds, 1),
            "tuning": tuning_record,
            "history": fitted.history,
        },
        "config": config,
    }


def run(*, seed: int, data: Mapping[str, Any], stress: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``stress_train``: :func:`train_stress` with its ``dvc.yaml`` parameters."""
    return train_stress(
        model=stress["model"], inputs=stress_inputs(seed, data), tuning=stress["tuning"]
    )
