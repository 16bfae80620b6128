"""Optuna tuning of the DDPM on the validation period.

The objective of a trial is the DDPM's mean validation-period FZ0 score (sampled VaR/ES
at 5 % and 1 %, averaged over the validation series) — never the test period: the returns
are cut at the end of validation before anything is fitted. A TPE sampler (seeded)
proposes; a median pruner stops trials whose validation denoising loss after an epoch is
worse than the median of earlier trials at that epoch.

Storage is a parameter: SQLite under ``models/`` by default, so an interrupted study
resumes; a PostgreSQL URL lets many workers on many machines share one study::

    python -m diffrisk.stages.tune --storage postgresql://user:pw@host/db --n-trials 20

(run the same command on every worker; each adds trials to the one study).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import optuna
import pandas as pd

from diffrisk.data.returns import returns_until
from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.fit import fit_ddpm

logger = logging.getLogger(__name__)


#: The search space: categorical choices, or ``(low, high, "log")`` for a log-uniform float.
DEFAULT_SPACE: dict[str, Any] = {
    "lr": (5e-4, 5e-3, "log"),
    "diffusion_steps": [100, 200, 400],
    "window": [32, 64, 90],
    "batch_size": [256, 512, 1024],
    "schedule": ["linear", "cosine"],
    "scaling": ["garch", "ewma"],
    "conv_width": [8, 16, 32],
}


def suggest_config(
    trial: optuna.Trial, base: DDPMConfig, space: Mapping[str, Any] = DEFAULT_SPACE
) -> DDPMConfig:
    """Draw a configuration: ``base`` with every key of ``space`` suggested by the trial.

    Parameters
    ----------
    trial : optuna.Trial
    base : DDPMConfig
        Fixed values of every field not searched.
    space : mapping
        Field → list of choices, or ``(low, high, "log")`` for a log-uniform float.

    Returns
    -------
    DDPMConfig
        Validated; a ``ValueError`` names an invalid combination.
    """
    values: dict[str, Any] = {}
    for name, choice in space.items():
        if isinstance(choice, tuple) and len(choice) == 3 and choice[2] == "log":
            values[name] = trial.suggest_float(name, float(choice[0]), float(choice[1]), log=True)
        elif isinstance(choice, (list, tuple)):
            values[name] = trial.suggest_categorical(name, list(choice))
        else:
            raise ValueError(f"search space entry {name!r} must be a list or (low, high, 'log')")
    # DDIM steps of the scoring draw and of sampling cannot exceed the diffusion steps.
    steps = int(values.get("diffusion_steps", base.diffusion_steps))
    values["val_steps"] = min(base.val_steps, steps)
    values["n_steps"] = min(base.n_steps, steps)
    return replace(base, **values)


def base_trial_params(base: DDPMConfig, space: Mapping[str, Any]) -> dict[str, Any]:
    """The searched values of ``base``, if every one lies in the search space.

    Returns an empty dict when some value of ``base`` is outside ``space`` (then the base
    configuration cannot be enqueued as a trial).
    """
    values: dict[str, Any] = {}
    for name, choice in space.items():
        value = getattr(base, name)
        if isinstance(choice, tuple) and len(choice) == 3 and choice[2] == "log":
            if not float(choice[0]) <= float(value) <= float(choice[1]):
                return {}
        elif value not in list(choice):
            return {}
        values[name] = value
    return values


def make_objective(
    returns: pd.DataFrame,
    splits: Splits,
    base: DDPMConfig,
    seed: int,
    space: Mapping[str, Any] = DEFAULT_SPACE,
) -> Callable[[optuna.Trial], float]:
    """The Optuna objective: validation FZ0 of a DDPM fitted with the trial's values.

    ``returns`` is cut at ``splits.val_end`` here, so the test period is never seen.
    """
    visible = returns_until(returns, splits, "validation")

    def objective(trial: optuna.Trial) -> float:
        config = suggest_config(trial, base, space)

        def report(epoch: int, val_loss: float, score: float | None) -> None:
            trial.report(float(val_loss), step=int(epoch))
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch}: val loss {val_loss:.4f}")

        _, metrics = fit_ddpm(
            visible, splits, config, seed=int(seed), progress=False, epoch_callback=report
        )
        score = float(metrics["best_val_score"])
        if not math.isfinite(score):
            raise optuna.TrialPruned("non-finite validation score")
        trial.set_user_attr("best_epoch", int(metrics["best_epoch"]))
        return score

    return objective


def study_name_for(base: DDPMConfig, space: Mapping[str, Any], seed: int, data_hash: str) -> str:
    """A study name that changes whenever the fixed config, space, seed or data change.

    Re-running with the same settings resumes the same study; anything else starts a new
    one, so trials of different set-ups are never mixed.
    """
    key = json.dumps(
        {
            "base": base.to_dict(),
            "space": {k: list(v) for k, v in space.items()},
            "seed": int(seed),
            "data": data_hash,
        },
        sort_keys=True,
    )
    return "ddpm-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def run_study(
    returns: pd.DataFrame,
    splits: Splits,
    base: DDPMConfig,
    seed: int,
    n_trials: int,
    timeout: float | None,
    storage: str,
    study_name: str,
    space: Mapping[str, Any] = DEFAULT_SPACE,
    n_startup_trials: int = 3,
) -> optuna.Study:
    """Create or resume a study and run it until it has ``n_trials`` finished trials.

    Parameters
    ----------
    returns : DataFrame
        Wide daily log returns (cut at the end of validation inside).
    splits : Splits
    base : DDPMConfig
        Values of the fields not searched (e.g. a shorter ``max_epochs`` for tuning).
    seed : int
        Seeds the TPE sampler and every fit.
    n_trials : int
        Target number of finished (complete or pruned) trials in the study.
    timeout : float or None
        Stop starting new trials after this many seconds (a safety net: when it binds,
        the result depends on the machine's speed).
    storage : str
        Optuna storage URL (``sqlite:///…`` or ``postgresql://…``).
    study_name : str
    space : mapping
        Search space (see :func:`suggest_config`).
    n_startup_trials : int
        Random trials before TPE and before the pruner acts.
    """
    if n_trials < 1:
        raise ValueError(f"tune.n_trials must be >= 1, got {n_trials}")
    sampler = optuna.samplers.TPESampler(seed=int(seed), n_startup_trials=n_startup_trials)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=1)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="minimize",
        load_if_exists=True,
    )
    if not study.trials:
        # The hand-set configuration is trial 0, so tuning can only improve on it (by the
        # validation score) — with a handful of trials TPE alone may never come near it.
        base_values = base_trial_params(base, space)
        if base_values:
            study.enqueue_trial(base_values)
    done = sum(t.state.is_finished() for t in study.trials)
    # A trial left RUNNING by an interrupted run is not counted, so it is redone; it is
    # not marked failed here because, with a shared storage, it may be another worker's.
    remaining = max(0, int(n_trials) - done)
    logger.info("study %s: %d finished trials, running %d more", study_name, done, remaining)
    if remaining:
        objective = make_objective(returns, splits, base, seed, space)
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=timeout,
            catch=(ValueError,),
            show_progress_bar=False,
        )
    return study


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """The trial history: number, state, value (validation FZ0), params, best epoch."""
    rows = []
    for t in study.trials:
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                **{f"param_{k}": v for k, v in t.params.items()},
                "best_epoch": t.user_attrs.get("best_epoch"),
            }
        )
    return pd.DataFrame(rows)


def best_params_record(study: optuna.Study) -> dict[str, Any]:
    """What the train stage reads: ``tuned``, ``best_params``, ``best_value``, counts."""
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"study {study.study_name} has no completed trial")
    best = study.best_trial
    return {
        "tuned": True,
        "study_name": study.study_name,
        "best_trial": best.number,
        "best_value": float(best.value),
        "best_params": {
            k: (v.item() if isinstance(v, np.generic) else v) for k, v in best.params.items()
        },
        "n_complete": len(complete),
        "n_pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
    }
