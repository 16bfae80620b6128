"""Stage ``stress_audit``.

The adversarial-request audit of the stress generator: capital-relief attacks within a
budget ε (:mod:`diffrisk.stress.adversarial`) and the defences that should catch them
(:mod:`diffrisk.evaluation.stress_audit`), thresholds set on validation (the plausibility
defence's on every validation date, the others' on the untouched validation requests;
:mod:`diffrisk.evaluation.audit_thresholds`), detection and false flags measured on test
dates, and the rule's false-flag rate estimated out of sample by cross-validation over the
validation dates. Writes ``reports/tables/stress_adversarial.{csv,md}``
(and ``stress_adversarial_relief``, ``stress_adversarial_items``), the figure
``reports/figures/stress_adversarial.{png,pdf}`` and ``reports/metrics/stress_adversarial.json``;
trains (or reloads) the independent diffusion members ``models/stress_members/member_<k>.pt``.

Cost on the default parameters: 594 generator calls of 128 paths (297 scored items) plus
two 6-epoch members, about 130 s of wall time on the project's 2-core machine. The members
to train and the requests (archetype, split, date with its attacks) run as Dask tasks
(``stress.audit.workers``, :mod:`diffrisk.evaluation.stress_audit_tasks`), with outputs
byte-identical to one process.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import torch

from diffrisk.core import audit, io, paths
from diffrisk.core.compute import Compute, shared_scheduler
from diffrisk.core.paths import scenario_set_file, stress_checkpoint, stress_dir
from diffrisk.core.tables import markdown_table, write_csv_table, write_table
from diffrisk.data.returns import returns_until
from diffrisk.data.splits import Splits
from diffrisk.evaluation.audit_thresholds import (
    cross_validated_false_flags,
    detection_table,
    fit_thresholds,
    relief_table,
)
from diffrisk.evaluation.stress_audit import (
    DEFENCES,
    PlausibilityReference,
    plausibility_reference,
    plausibility_scores_at,
)
from diffrisk.evaluation.stress_audit_tasks import AuditContext, audit_plan, audit_requests
from diffrisk.reporting.stress_adversarial import figure_stress_adversarial
from diffrisk.reporting.style import save_figure
from diffrisk.risk.portfolio import parse_portfolios
from diffrisk.stages.common import StressInputs, run_stress_stage, stage_returns
from diffrisk.stress.adversarial import validate_request
from diffrisk.stress.comparison import ComparisonModel, load_comparison_model
from diffrisk.stress.config import StressConfig
from diffrisk.stress.fit import train_stress_model as _train
from diffrisk.stress.model import StressModel, load_stress_model, save_stress_model
from diffrisk.stress.scenario_sets import read_set_index, recorded_sampling

logger = logging.getLogger(__name__)


def _spread(dates: pd.DatetimeIndex, n: int) -> list[pd.Timestamp]:
    """``n`` dates evenly spaced over ``dates`` (first and last included)."""
    if len(dates) == 0 or n < 1:
        raise ValueError(f"cannot pick {n} dates from a period of {len(dates)} days")
    pos = np.unique(np.linspace(0, len(dates) - 1, int(n)).round().astype(int))
    return [pd.Timestamp(dates[i]) for i in pos]


def _member_key(
    k: int, primary: StressModel, epochs: int, seed: int
) -> tuple[StressConfig, dict[str, Any]]:
    """Member k's config (the primary's, ``epochs`` epochs) and audit key (seed ``seed + k``)."""
    config = replace(
        primary.config,
        max_epochs=int(epochs),
        min_epochs=min(primary.config.min_epochs, int(epochs)),
    )
    key = {"config": config.to_dict(), "seed": int(seed) + k, "data": audit.recorded_data_hash()}
    return config, key


def _fit_member(job: tuple[pd.DataFrame, Splits, StressConfig, int]) -> StressModel:
    """Train one member on training and validation rows (module level: runs as a Dask task)."""
    returns, splits, config, seed = job
    torch.set_num_threads(int(config.threads))
    return _train(returns_until(returns, splits, "validation"), splits.fit_dates, config, seed=seed)


def member_models(
    primary: StressModel,
    returns: pd.DataFrame,
    splits: Splits,
    members: int,
    epochs: int,
    seed: int,
    compute: Compute,
) -> dict[str, StressModel]:
    """The independent diffusion members ``member_1..member_<members>``: k seeded ``seed + k``.

    Member k (the primary's config, ``epochs`` epochs) is reloaded from
    ``models/stress_members/member_<k>.pt`` when its audit record matches the config,
    seed and data; the others are trained (training and validation rows only), one task
    each on ``compute``, and written here, in this process, atomically, checkpoint before
    audit record.
    """
    keys = {k: _member_key(k, primary, epochs, seed) for k in range(1, int(members) + 1)}
    out: dict[int, StressModel] = {}
    for k in keys:
        path = paths.stress_member_checkpoint(k)
        record = path.with_suffix(".audit.json")
        if path.is_file() and record.is_file():
            if json.loads(record.read_text()).get("member") == keys[k][1]:
                logger.info("stress_audit: reusing member %d from %s", k, path)
                out[k] = load_stress_model(path)
    todo = [k for k in keys if k not in out]
    jobs = [(returns, splits, keys[k][0], keys[k][1]["seed"]) for k in todo]
    fitted = compute.map(_fit_member, jobs, desc="audit members")
    for k, model in zip(todo, fitted, strict=True):
        config, key = keys[k]
        path = save_stress_model(model, paths.stress_member_checkpoint(k))
        prov = audit.provenance({"stress.model": config.to_dict()}, key["seed"], key["data"])
        audit.write_provenance(path.with_suffix(".audit.json"), {**prov, "member": key})
        out[k] = model
    return {f"member_{k}": out[k] for k in sorted(out)}


def _comparison_model(kind: str) -> ComparisonModel:
    """The GAN or VAE comparison generator ``models/stress_<kind>.pt``.

    Its checkpoint is written by the ``stress_train`` stage; list it in this
    stage's ``deps`` in ``dvc.yaml`` before naming ``gan`` or ``vae`` in ``others``.
    """
    return load_comparison_model(paths.comparison_checkpoint(kind), kind)


def audit_stress_requests(
    *,
    archetypes: str,
    portfolios: str,
    epsilons: str,
    alpha: float,
    n_paths: int,
    n_validation_dates: int,
    n_test_dates: int,
    n_attack_dates: int,
    members: int,
    member_epochs: int,
    others: str,
    n_random: int,
    min_relief: float,
    false_flag_target: float,
    reference_step: int,
    tolerance: float,
    inputs: StressInputs,
    compute: Compute,
) -> dict[str, Any]:
    """Run the ``stress_audit`` stage.

    Parameters
    ----------
    archetypes : str
        Comma-separated names of the audited archetypes (registered in
        ``stress.generate.archetypes`` and resolved in ``data/stress/index.json``; each
        must lie inside the training range).
    portfolios : str
        :func:`~diffrisk.risk.portfolio.parse_portfolios` specification.
    epsilons : str
        Comma-separated budgets ε >= 0 (ε = 0 is the clean request: relief exactly 0).
    alpha : float
        Tail probability of the horizon ES.
    n_paths : int
        Paths per generator call.
    n_validation_dates, n_test_dates : int
        Conditioning dates of the untouched requests, evenly spread over each period.
    n_attack_dates : int
        Test dates attacked per archetype (archetype i takes test dates i, i + 1, ...).
    members, member_epochs : int
        Independent diffusion members (seeds ``seed + k``) and their training epochs.
    others : str
        Comma-separated independent generators of the disagreement defence:
        ``member_<k>`` (k <= members), ``gan``, ``vae``.
    n_random : int
        Random candidates added to the coordinate search.
    min_relief : float
        Relief above which an attack "moves ES" (the headline detection group).
    false_flag_target : float
        α of the threshold rule (:func:`~diffrisk.evaluation.stress_audit.fit_thresholds`).
    reference_step : int
        Days between the training windows of the plausibility reference.
    tolerance : float
        Steering tolerance τ (``stress.validate.tolerance``).
    inputs : StressInputs
        Thresholds from validation dates; detection and false flags on test dates;
        members and the plausibility reference from training (and validation) rows.
    compute : Compute
        Where the tasks run (``stress.audit.workers``): the members to train are one task
        each, the requests (archetype, split, date, with the date's attacks) one task
        each. Every output except the timings is byte-identical whatever it is.

    Returns
    -------
    dict
        ``items`` (every scored item), ``detection``, ``relief``, ``thresholds``,
        ``metrics``, ``figure``.
    """
    tic = time.perf_counter()
    # one Dask cluster for the members and the requests (none when workers == 1)
    with shared_scheduler(compute.workers, compute.scheduler) as scheduler:
        compute = Compute(compute.workers, scheduler)
        primary = load_stress_model(stress_checkpoint())
        cfg = primary.config
        torch.set_num_threads(int(cfg.threads))
        splits, seed = inputs.splits, inputs.seed
        returns = stage_returns(index_name=inputs.index_name)
        index = read_set_index(stress_dir())
        registered = {a["name"]: a["signature"] for a in index["archetypes"]}
        eps_grid = sorted({float(e) for e in str(epsilons).split(",") if e.strip()})
        if not eps_grid:
            raise ValueError("epsilons is empty: give budgets such as '0,0.5,1'")
        names = [a.strip() for a in str(archetypes).split(",") if a.strip()]
        nominal = {
            n: validate_request(
                n,
                registered,
                epsilon=min(eps_grid),
                horizon=cfg.horizon,
                model_horizon=cfg.horizon,
                bounds=primary.signature_bounds,
            )
            for n in names
        }
        train = returns.loc[returns.index <= splits.train_end]
        weights = parse_portfolios(portfolios, list(returns.columns), train)
        ewma = {"lam": cfg.ewma_lambda, "warmup": cfg.ewma_warmup}
        reference = plausibility_reference(
            train.to_numpy(), cfg.history, step=int(reference_step), **ewma
        )
        member_names = [f"member_{k}" for k in range(1, int(members) + 1)]
        other_names = [o.strip() for o in str(others).split(",") if o.strip()]
        unknown = [o for o in other_names if o not in member_names and o not in ("gan", "vae")]
        if unknown or not other_names:
            raise ValueError(
                f"others={others!r}: each must be one of {member_names + ['gan', 'vae']}"
            )
        trained = member_models(primary, returns, splits, members, member_epochs, seed, compute)
        member_seconds = time.perf_counter() - tic
        dates = {
            "validation": _spread(splits.dates(returns, "validation"), n_validation_dates),
            "test": _spread(splits.dates(returns, "test"), n_test_dates),
        }
        generation = {}
        for name in names:
            meta = json.loads(
                scenario_set_file("diffusion", name).with_suffix(".audit.json").read_text()
            )["generation"]
            generation[name] = (float(meta["guidance"]), recorded_sampling(meta))
        context = AuditContext(
            primary=primary,
            others={o: trained[o] if o in trained else _comparison_model(o) for o in other_names},
            returns=returns,
            weights=weights,
            reference=reference,
            alpha=alpha,
            tolerance=tolerance,
            n_paths=n_paths,
            n_random=n_random,
            epsilons=tuple(eps_grid),
            threads=int(cfg.threads),
        )
        plan = audit_plan(names, nominal, generation, dates, n_attack_dates, seed)
        items, calls = audit_requests(context, plan, compute.workers, scheduler=compute.scheduler)
        validation = items[(items["split"] == "validation") & ~items["attacked"]]
        # plausibility's null: every validation date (in the fold of its nearest item date)
        plausibility_null = _plausibility_null(
            returns, splits.dates(returns, "validation"), dates["validation"], reference, cfg
        )
        null = {d: plausibility_null if d == "plausibility" else validation[d] for d in DEFENCES}
        thresholds = fit_thresholds(null, false_flag_target)
        scored = items[(items["kind"] == "untouched") | items["attacked"]]
        detection = detection_table(scored, thresholds, min_relief)
        relief = relief_table(items[items["kind"] == "attack"])
        seconds = time.perf_counter() - tic
        cv = (
            cross_validated_false_flags(
                validation,
                validation["as_of"],
                false_flag_target,
                dense={"plausibility": plausibility_null},
            )
            if validation["as_of"].nunique() >= 2
            else {"combined": float("nan"), "n": len(validation), "n_folds": 0}
        )
        metrics = _metrics(detection, relief, thresholds, min_relief, false_flag_target, cv)
        metrics["plausibility_null"] = {
            "n_dates": len(plausibility_null),
            "quantiles": {
                f"{q:g}": float(plausibility_null.quantile(q)) for q in (0.5, 0.9, 0.95, 0.99, 1)
            },
        }
        metrics["n_validation_requests"] = int(
            validation[["archetype", "as_of"]].drop_duplicates().shape[0]
        )
        metrics |= {"generator_calls": calls, "n_items": len(items)}
        _write(items, detection, relief, thresholds, metrics)
        # timings vary run to run: kept out of the metrics so that these stay identical
        io.write_json(
            paths.stress_members_dir() / "timing.json",
            {
                "wall_time_s": round(seconds, 1),
                "member_time_s": round(member_seconds, 1),
                "workers": compute.workers,
            },
        )
        figure = save_figure(
            figure_stress_adversarial(relief, items, thresholds, min_relief), "stress_adversarial"
        )
        logger.info(
            "stress_audit: %d items, %d generator calls, %.1f s", len(items), calls, seconds
        )
        return {
            "items": items,
            "detection": detection,
            "relief": relief,
            "thresholds": thresholds,
            "metrics": metrics,
            "figure": figure,
        }


def _plausibility_null(
    returns: pd.DataFrame,
    days: pd.DatetimeIndex,
    item_dates: list[pd.Timestamp],
    reference: PlausibilityReference,
    cfg: StressConfig,
) -> pd.Series:
    """The plausibility score of the recorded history of every day in ``days``.

    Indexed by the nearest of ``item_dates`` (the untouched validation requests' dates;
    a day midway between two goes to the earlier), the group whose cross-validation fold
    the day joins
    (:func:`~diffrisk.evaluation.audit_thresholds.cross_validated_false_flags`).
    """
    ends = returns.index.searchsorted(days)
    scores = plausibility_scores_at(
        returns.to_numpy(dtype=float),
        ends,
        reference,
        cfg.history,
        lam=cfg.ewma_lambda,
        warmup=cfg.ewma_warmup,
    )
    anchors = pd.DatetimeIndex(item_dates)
    gap = np.abs(np.asarray(days, dtype="datetime64[ns]")[:, None] - anchors.to_numpy()[None, :])
    return pd.Series(scores, index=anchors[gap.argmin(axis=1)], name="plausibility")


def _metrics(
    detection: pd.DataFrame,
    relief: pd.DataFrame,
    thresholds: Mapping[str, float],
    min_relief: float,
    target: float,
    cv: Mapping[str, float],
) -> dict[str, Any]:
    """The headline numbers: relief by ε, detection, false flags (test and out of sample), goal."""
    overall = detection[detection["epsilon"].isna()].set_index("group")
    columns = [*DEFENCES, "combined"] + (["recorded_data"] if "recorded_data" in detection else [])
    moved = f"attacked test, relief > {min_relief:.0%}"
    by_eps = relief.groupby("epsilon")["relief_mean"].mean()
    rates = {
        g: {c: float(overall.loc[g, c]) for c in columns} | {"n": int(overall.loc[g, "n"])}
        for g in overall.index
    }
    detected = rates[moved]["combined"] if rates[moved]["n"] else float("nan")
    false_test = rates["untouched test (false flags)"]["combined"]
    return {
        "thresholds": dict(thresholds),
        "relief_mean_by_epsilon": {f"{e:g}": float(v) for e, v in by_eps.items()},
        "rates": rates,
        "goal": {
            "detection_moved_es": detected,
            "false_flags_test": false_test,
            "false_flags_validation": rates["untouched validation (false flags)"]["combined"],
            "false_flags_validation_cv": cv["combined"],
            "met": bool(detected >= 0.95 and false_test <= target and cv["combined"] <= target),
        },
        "false_flags_validation_cv": dict(cv),
    }


def _write(
    items: pd.DataFrame,
    detection: pd.DataFrame,
    relief: pd.DataFrame,
    thresholds: Mapping[str, float],
    metrics: Mapping[str, Any],
) -> None:
    write_csv_table(paths.tables_dir() / "stress_adversarial.csv", detection)
    write_table(relief, "stress_adversarial_relief")
    write_table(
        items.assign(as_of=items["as_of"].dt.strftime("%Y-%m-%d")), "stress_adversarial_items"
    )
    goal = metrics["goal"]
    text = "\n\n".join(
        [
            "## Detection of attacked requests and false flags (share of items flagged)",
            markdown_table(detection),
            "Thresholds (set on untouched validation requests; plausibility on every "
            f"validation date, {metrics['plausibility_null']['n_dates']} days): "
            + ", ".join(f"{k} > {v:.4g}" for k, v in thresholds.items()),
            f"Goal (>= 95 % of attacks moving ES detected at <= 5 % false flags, on test and "
            f"out of sample on validation): {'met' if goal['met'] else 'NOT met'} "
            f"(detection {goal['detection_moved_es']:.1%}, test false flags "
            f"{goal['false_flags_test']:.1%}, cross-validated false flags "
            f"{goal['false_flags_validation_cv']:.1%}).",
            "## Relief against the budget epsilon",
            markdown_table(relief),
        ]
    )
    io.write_text(paths.tables_dir() / "stress_adversarial.md", text + "\n")
    io.write_json(paths.metrics_dir() / "stress_adversarial.json", metrics, digits=4)


def run(*, seed: int, data: Mapping[str, Any], stress: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``stress_audit``: :func:`audit_stress_requests` with its ``dvc.yaml`` parameters."""
    tolerance = stress["validate"]["tolerance"]
    return run_stress_stage(audit_stress_requests, "audit", seed, data, stress, tolerance=tolerance)
