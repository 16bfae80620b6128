"""Stage ``train``.

Fit the one-day DDPM on train, select the epoch on validation (and refit if the select
stage decided so): K seed members, member 0 being the study's model. Writes
``models/ddpm.pt`` (+ ``.audit.json``), ``models/ddpm_ens/member_<k>.pt`` (k ≥ 1; their
provenance records in ``models/ddpm_ens.audit.json``, outside the folder the ``generate``
stage reads, so that the time a record carries does not make that stage stale),
``reports/metrics/train.json``, ``reports/plots/train_history.csv``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from diffrisk.core import audit, io, paths
from diffrisk.core.tables import write_csv_table
from diffrisk.data.splits import Splits
from diffrisk.ddpm.ensemble import fit_members, member_seeds
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stages.common import stage_returns
from diffrisk.stages.ddpm_settings import ddpm_config
from diffrisk.stages.display import plot_image as plot_image  # for the notebook

logger = logging.getLogger(__name__)

#: What ``reports/metrics/train.json`` holds: no wall-clock time (it would change on every
#: run), no per-epoch history (``reports/plots/train_history.csv``), no tuned values
#: (``reports/metrics/tune.json``).
HEADLINE_KEYS = ("best_epoch", "best_val_score", "epochs_run", "stopped_early", "final_refit")


def train_ddpm(
    *,
    ddpm: Mapping[str, Any],
    use_tuned: bool,
    members: int,
    workers: int,
    splits: Splits,
    seed: int,
) -> dict[str, Any]:
    """Run the ``train`` stage: fit the DDPM members on train, select on validation, save.

    Parameters
    ----------
    ddpm : mapping
        The ``ddpm`` section of ``params.yaml`` (fields of
        :class:`~diffrisk.ddpm.config.DDPMConfig`).
    use_tuned : bool
        Apply the tune stage's best parameters (``tune.enabled``).
    members : int
        K, seed members (``select.members``): member k trains with ``seed + k``; member 0
        is ``models/ddpm.pt``, the static model ``ddpm``.
    workers : int
        Processes fitting members at the same time (``select.workers``).
    splits : Splits
        Training / validation periods (the test period is dropped before fitting).
    seed : int
        Study seed.

    Returns
    -------
    dict
        ``metrics`` (as written to ``reports/metrics/train.json``), ``config``, ``tuned``.
    """
    config, tuned = ddpm_config(ddpm, use_tuned)
    returns = stage_returns(until_val_end=splits)
    logger.info("training %d DDPM member(s) on %d days × %d series", int(members), *returns.shape)
    seeds = member_seeds(int(seed), int(members))
    checkpoints = [paths.ensemble_checkpoint(k) for k in range(len(seeds))]
    models = fit_members(returns, splits, config, seeds, checkpoints, int(workers))
    metrics = models[0].metrics
    history = metrics.get("history", {})
    summary = {
        "best_epoch": metrics.get("best_epoch"),
        "best_val_score": metrics.get("best_val_score"),
        "epochs_run": metrics.get("epochs_run"),
        "stopped_early": metrics.get("stopped_early"),
        "final_refit": metrics.get("final_refit"),
        "wall_time_s": round(float(metrics.get("wall_time_s", 0.0)), 1),
        "history": history,
        "tuned_params": tuned,
    }
    data_hash = audit.recorded_data_hash()
    records = [
        audit.provenance(
            {"ddpm": config.to_dict(), "tuned": tuned, "member": k, "member_seed": member_seed},
            seed,
            data_hash,
            extra={"checkpoint_sha256": weights_sha256(path)},
        )
        for k, (member_seed, path) in enumerate(zip(seeds, checkpoints, strict=True))
    ]
    audit.write_provenance(checkpoints[0].with_suffix(".audit.json"), records[0])
    audit.write_provenance(paths.ensemble_audit(), {"members": records[1:]})
    io.write_json(
        paths.metrics_dir() / "train.json",
        {k: summary[k] for k in HEADLINE_KEYS},
        digits=4,
    )
    plot = pd.DataFrame(history).drop(columns=["seconds"], errors="ignore")
    write_csv_table(paths.plots_dir() / "train_history.csv", plot)
    io.write_json(paths.models_dir() / "train_timing.json", {"wall_time_s": summary["wall_time_s"]})
    return {"metrics": summary, "config": config, "tuned": tuned, "models": models}


def run(
    *,
    seed: int,
    data: Mapping[str, Any],
    tune: Mapping[str, Any],
    ddpm: Mapping[str, Any],
    select: Mapping[str, Any],
) -> dict[str, Any]:
    """Stage ``train``: :func:`train_ddpm` with its ``dvc.yaml`` parameters."""
    return train_ddpm(
        ddpm=ddpm,
        use_tuned=tune["enabled"],
        members=select["members"],
        workers=select["workers"],
        splits=Splits.from_mapping(data),
        seed=seed,
    )
