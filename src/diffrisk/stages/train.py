"""Stage `train`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diffrisk.core import audit, io, paths
from diffrisk.data.returns import load_returns, returns_until
from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.fit import fit_ddpm
from diffrisk.stages.common import logger
from diffrisk.stages.generate import _without_timing


def ddpm_config(ddpm: Mapping[str, Any], use_tuned: bool) -> tuple[Any, dict[str, Any]]:
    """The DDPM configuration: ``params.yaml``'s ``ddpm`` section, then tuned values.

    When ``use_tuned`` and ``models/best_params.yaml`` holds tuned values (the tune stage
    ran with ``tune.enabled``), they override the section; otherwise the section is used
    as is.

    Returns
    -------
    config : DDPMConfig
    tuned : dict
        The overrides applied (empty when none).
    """
    import yaml

    tuned: dict[str, Any] = {}
    path = paths.best_params_file()
    if use_tuned and path.is_file():
        record = yaml.safe_load(path.read_text()) or {}
        if record.get("tuned"):
            tuned = dict(record.get("best_params", {}))
    return DDPMConfig.from_dict({**dict(ddpm), **tuned}), tuned


def run(
    *,
    ddpm: Mapping[str, Any],
    use_tuned: bool,
    splits: Splits,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``train`` stage: fit the DDPM on train, select on validation, save.

    Parameters
    ----------
    ddpm : mapping
        The ``ddpm`` section of ``params.yaml`` (fields of :class:`~diffrisk.ddpm.DDPMConfig`).
    use_tuned : bool
        Apply the tune stage's best parameters (``tune.enabled``).
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
    returns = returns_until(load_returns(), splits, "validation")
    logger.info("training the DDPM on %d days × %d series", *returns.shape)
    model, metrics = fit_ddpm(
        returns, splits, config, seed=int(seed), checkpoint_path=paths.ddpm_checkpoint()
    )
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
    record = audit.provenance(
        {"ddpm": config.to_dict(), "tuned": tuned}, seed, audit.recorded_data_hash()
    )
    audit.write_provenance(paths.ddpm_checkpoint().with_suffix(".audit.json"), record)
    io.write_json(paths.metrics_dir() / "train.json", _without_timing(summary))
    io.write_json(paths.models_dir() / "train_timing.json", {"wall_time_s": summary["wall_time_s"]})
    return {"metrics": summary, "config": config, "tuned": tuned}
