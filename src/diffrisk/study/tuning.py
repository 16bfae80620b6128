"""Optuna tuning of the DDPM on the inner validation period (nested validation).

A trial's objective is its best mean validation FZ0 over the epochs (sampled VaR/ES at 5 %
and 1 %, averaged over the validation series), on the *inner* validation period only: the
returns are cut at ``data.select_end`` and the model is fitted and scored with
:meth:`~diffrisk.data.splits.Splits.rehearsal`, so the rest of validation stays untouched
for later decisions and the test period is never read.

A seeded TPE sampler proposes; a successive-halving pruner (epochs are the resource)
compares the same quantity: after every epoch a trial reports its best FZ0 so far, and at
the rungs ``min_resource × reduction_factor^k`` only the best ``1 / reduction_factor`` of
the trials that reached the rung go on. A trial that reaches ``max_epochs`` completes.

Determinism: every fit uses the same seed, so a trial's value depends only on its
parameters (on one machine), and one worker repeats the study exactly. Workers sharing a
storage (e.g. PostgreSQL) interleave trials by timing and seed their samplers per worker:
that scale-out is not deterministic.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import optuna
import pandas as pd
import sqlalchemy.exc

from diffrisk.data.returns import returns_until
from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.fit import fit_ddpm

logger = logging.getLogger(__name__)

#: The search space: categorical choices, or ``(low, high, "log")`` for a log-uniform float.
DEFAULT_SPACE: dict[str, Any] = {
    "lr": (3e-4, 5e-3, "log"),
    "diffusion_steps": [50, 100, 200, 400],
    "window": [32, 64, 90],
    "batch_size": [256, 512, 1024],
    "schedule": ["linear", "cosine"],
    "scaling": ["garch", "ewma"],
    "conv_width": [8, 16, 32],
    "n_blocks": [2, 3, 4],
    "hidden": [16, 32, 64],
    "dropout": [0.0, 0.1, 0.2],
}

#: User attribute of a trial naming the worker (``host:pid``) that ran it.
WORKER_ATTR = "worker"


@dataclass(frozen=True)
class TuneSettings:
    """The budget and the search strategy of a study (the ``tune`` section).

    Parameters
    ----------
    n_trials : int
        Configurations to consider: finished (complete, pruned or failed) trials.
    n_startup_trials : int
        Random trials before TPE proposes.
    min_resource, reduction_factor : int
        Successive halving: first rung after ``min_resource`` epochs; each rung keeps the
        best ``1 / reduction_factor`` (>= 2) of the trials that reached it.
    timeout : float, optional
        Seconds after which no new trial starts (None: none; machine-dependent results).
    """

    n_trials: int = 32
    n_startup_trials: int = 10
    min_resource: int = 1
    reduction_factor: int = 3
    timeout: float | None = None

    def __post_init__(self) -> None:
        for name, low in (
            ("n_trials", 1),
            ("n_startup_trials", 0),
            ("min_resource", 1),
            ("reduction_factor", 2),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"tune.{name} must be an integer >= {low}, got {value!r}")
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"tune.timeout must be > 0 seconds or None, got {self.timeout!r}")

    def identity(self) -> dict[str, int]:
        """The settings that define the search (not the budget): part of the study name."""
        return {
            "n_startup_trials": int(self.n_startup_trials),
            "min_resource": int(self.min_resource),
            "reduction_factor": int(self.reduction_factor),
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


def selection_data(returns: pd.DataFrame, splits: Splits) -> tuple[pd.DataFrame, Splits]:
    """What tuning may see: ``splits.rehearsal()`` and the returns cut at its end.

    Returns ``(visible, selection)``: the rows up to ``splits.select_end`` and the split
    whose validation is ``val_start … select_end``. Raises ``DataError`` if
    ``splits.select_end`` is not set.
    """
    selection = splits.rehearsal()
    return returns_until(returns, selection, "validation"), selection


def worker_id() -> str:
    """``host:pid`` of this process (recorded on every trial it runs)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def make_objective(
    returns: pd.DataFrame,
    splits: Splits,
    base: DDPMConfig,
    seed: int,
    space: Mapping[str, Any] = DEFAULT_SPACE,
) -> Callable[[optuna.Trial], float]:
    """The Optuna objective: the best inner-validation FZ0 of the trial's epochs.

    ``returns`` is cut at ``splits.select_end`` and the fit selects on
    ``splits.rehearsal()`` (see :func:`selection_data`). After every epoch the best FZ0
    so far is reported and the pruner asked (except after the last epoch: a trial that
    ran every epoch completes). User attributes: ``worker`` and ``best_epoch``.

    Raises
    ------
    ValueError
        If ``base.select_by`` is not ``"fz0"`` (the pruner needs the FZ0 of every epoch).
    """
    if base.select_by != "fz0":
        raise ValueError(
            f"tuning needs select_by='fz0' (objective and pruning use the validation FZ0), "
            f"got select_by={base.select_by!r}"
        )
    visible, selection = selection_data(returns, splits)

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr(WORKER_ATTR, worker_id())
        config = suggest_config(trial, base, space)
        best = [math.inf]

        def report(epoch: int, val_loss: float, score: float | None) -> None:
            if score is not None and math.isfinite(score):
                best[0] = min(best[0], float(score))
            if not math.isfinite(best[0]):
                raise optuna.TrialPruned(f"no finite validation FZ0 after epoch {epoch}")
            trial.report(best[0], step=int(epoch))
            if epoch < config.max_epochs and trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch}: FZ0 {best[0]:.5f}")

        _, metrics = fit_ddpm(
            visible, selection, config, seed=int(seed), progress=False, epoch_callback=report
        )
        score = float(metrics["best_val_score"])
        if not math.isfinite(score):
            raise optuna.TrialPruned("non-finite validation score")
        trial.set_user_attr("best_epoch", int(metrics["best_epoch"]))
        return score

    return objective


#: The code a trial runs (packages count with all their modules): its source hash enters
#: the study name, so a code change starts a new study instead of resuming stored trials.
TRIAL_CODE: tuple[str, ...] = (
    "diffrisk.core",
    "diffrisk.data",
    "diffrisk.risk",
    "diffrisk.volatility",
    "diffrisk.forecasts",
    "diffrisk.diffusion",
    "diffrisk.ddpm",
    "diffrisk.study.tuning",
)


def study_name_for(
    base: DDPMConfig,
    space: Mapping[str, Any],
    seed: int,
    data_hash: str,
    settings: TuneSettings | None = None,
    code_hash: str = "",
) -> str:
    """A study name that changes whenever the set-up of the search changes.

    The fixed config, space, seed, data, the search settings (startup trials, pruner) and
    ``code_hash`` (the source of the code a trial runs,
    :func:`diffrisk.core.audit.source_sha256`) enter; the budget (``n_trials``,
    ``timeout``) does not, so a study can grow. Re-running with the same set-up resumes
    the same study (an interrupted run); anything else, a code change included, starts a
    new one, so trials of different set-ups are never mixed.
    """
    key = json.dumps(
        {
            "base": base.to_dict(),
            "space": {k: list(v) for k, v in space.items()},
            "seed": int(seed),
            "data": data_hash,
            "search": (settings or TuneSettings()).identity(),
            "code": code_hash,
        },
        sort_keys=True,
    )
    return "ddpm-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def create_study(
    storage: str, study_name: str, settings: TuneSettings, sampler_seed: int, attempts: int = 5
) -> optuna.Study:
    """Create or load the study: TPE (seeded) and a successive-halving pruner.

    Workers starting together on an empty database race to create Optuna's tables: the
    loser's ``IntegrityError``/``ProgrammingError`` is retried (the tables then exist).
    """
    sampler = optuna.samplers.TPESampler(
        seed=int(sampler_seed), n_startup_trials=int(settings.n_startup_trials)
    )
    pruner = optuna.pruners.SuccessiveHalvingPruner(
        min_resource=int(settings.min_resource), reduction_factor=int(settings.reduction_factor)
    )
    for attempt in range(1, attempts + 1):
        try:
            return optuna.create_study(
                study_name=study_name,
                storage=storage,
                sampler=sampler,
                pruner=pruner,
                direction="minimize",
                load_if_exists=True,
            )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            if attempt >= attempts:
                raise
            logger.info("storage initialised by another worker; retrying (%d)", attempt)
            time.sleep(0.2 * attempt)
    raise ValueError(f"attempts must be >= 1, got {attempts}")


def open_study(
    storage: str,
    study_name: str,
    settings: TuneSettings,
    sampler_seed: int,
    base: DDPMConfig,
    space: Mapping[str, Any],
) -> optuna.Study:
    """:func:`create_study`, with the hand-set configuration enqueued as trial 0 of a new study.

    The trial of ``base``'s values of the ``space`` keys (:func:`base_trial_params`; none
    when a value lies outside the space) comes first, so tuning can only improve on it
    (by the validation score); ``skip_if_exists`` limits duplicates when workers start
    together.
    """
    study = create_study(storage, study_name, settings, sampler_seed)
    if not study.get_trials(deepcopy=False):
        base_values = base_trial_params(base, space)
        if base_values:
            study.enqueue_trial(base_values, skip_if_exists=True)
    return study


def finished_trials(study: optuna.Study) -> int:
    """Trials that finished: complete, pruned or failed (the configurations considered)."""
    return sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))


def run_study(
    returns: pd.DataFrame,
    splits: Splits,
    base: DDPMConfig,
    seed: int,
    settings: TuneSettings,
    storage: str,
    study_name: str,
    space: Mapping[str, Any] = DEFAULT_SPACE,
    *,
    add: bool = False,
    sampler_seed: int | None = None,
) -> optuna.Study:
    """Create or resume a study and run its trials.

    Parameters
    ----------
    returns : DataFrame
        Wide daily log returns (cut at ``splits.select_end`` inside).
    splits : Splits
        The study's splits (``select_end`` set); trials select on ``splits.rehearsal()``.
    base : DDPMConfig
        Values of the fields not searched (the reduced tuning fidelity).
    seed : int
        Seeds every fit (and the sampler unless ``sampler_seed`` is given).
    settings : TuneSettings
    storage, study_name : str
        Optuna storage URL (``sqlite:///…`` or ``postgresql://…``) and study.
    space : mapping
        Search space (see :func:`suggest_config`).
    add : bool
        False (the stage): run until the study holds ``settings.n_trials`` finished
        trials (resumes an interrupted study, adds nothing to a finished one). True (a
        worker of a shared study): run ``settings.n_trials`` more trials.
    sampler_seed : int, optional
        Seed of the TPE sampler (default ``seed``); workers sharing a study need
        different ones, or their random start-up trials coincide.

    Raises
    ------
    ValueError
        If ``settings.min_resource`` exceeds ``base.max_epochs`` (no rung is reached).
    """
    if settings.min_resource > base.max_epochs:
        raise ValueError(
            f"tune.min_resource ({settings.min_resource}) must be <= the tuning max_epochs "
            f"({base.max_epochs})"
        )
    study = open_study(
        storage, study_name, settings, seed if sampler_seed is None else sampler_seed, base, space
    )
    done = finished_trials(study)
    # A trial left RUNNING by an interrupted run is not counted, so it is redone; it is
    # not marked failed here because, with a shared storage, it may be another worker's.
    remaining = int(settings.n_trials) if add else max(0, int(settings.n_trials) - done)
    logger.info("study %s: %d finished trials, running %d more", study_name, done, remaining)
    if remaining:
        study.optimize(
            make_objective(returns, splits, base, seed, space),
            n_trials=remaining,
            timeout=settings.timeout,
            catch=(ValueError,),
            show_progress_bar=False,
        )
    return study


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """The trial history, one row per trial.

    Columns: ``number``, ``state``, ``value`` (best validation FZ0; empty unless
    complete), ``epochs`` (epochs run), ``last_score`` (the last reported FZ0, also of a
    pruned trial), ``param_*``, ``best_epoch``.
    """
    rows = []
    for t in study.trials:
        steps = sorted(t.intermediate_values)
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value if t.state == optuna.trial.TrialState.COMPLETE else None,
                "epochs": steps[-1] if steps else 0,
                "last_score": t.intermediate_values[steps[-1]] if steps else None,
                **{f"param_{k}": v for k, v in t.params.items()},
                "best_epoch": t.user_attrs.get("best_epoch"),
            }
        )
    return pd.DataFrame(rows)


def best_params_record(study: optuna.Study) -> dict[str, Any]:
    """What the train stage reads: ``tuned``, ``best_params``, ``best_value``, counts.

    Raises
    ------
    RuntimeError
        If the study has no complete trial.
    """
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"study {study.study_name} has no completed trial")
    best = study.best_trial
    return {
        "tuned": True,
        "study_name": study.study_name,
        "best_trial": best.number,
        "best_value": float(best.value),
        "best_epoch": best.user_attrs.get("best_epoch"),
        "best_params": {
            k: (v.item() if isinstance(v, np.generic) else v) for k, v in best.params.items()
        },
        "n_complete": len(complete),
        "n_pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in trials),
        "n_failed": sum(t.state == optuna.trial.TrialState.FAIL for t in trials),
    }
