"""The stress-generator audit's requests as independent tasks (one per request).

The ``stress_audit`` stage scores untouched requests on validation and test dates and
attacks some test dates (:mod:`diffrisk.stress.adversarial`). Each request, an
(archetype, split, date) with its attacks, is one task: :func:`audit_request` is a pure
function of the shared :class:`AuditContext` (models, weights, plausibility reference,
settings) and its :class:`AuditRequest` (date, nominal signature, sampler settings, seed),
so :func:`audit_requests` can run the tasks on the package's compute layer
(:func:`diffrisk.core.compute.compute_map`) and gather them in input order: the items are
byte-identical for any number of workers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from diffrisk.core.compute import compute_map
from diffrisk.evaluation.stress_audit import PlausibilityReference, score_request
from diffrisk.stress.adversarial import (
    AttackOutcome,
    PathGenerator,
    attack_request,
    attack_space,
    history_sigma,
    path_generator,
)
from diffrisk.stress.comparison import ComparisonModel
from diffrisk.stress.comparison_sets import comparison_paths
from diffrisk.stress.model import StressModel
from diffrisk.stress.sampling import generate_paths


@dataclass(frozen=True)
class AuditContext:
    """What every request of the audit shares (bound to the task function by ``partial``).

    Attributes
    ----------
    primary : StressModel
        The audited diffusion generator.
    others : mapping
        The independent generators of the disagreement defence, in their order: a
        :class:`StressModel` (a diffusion member, sampled like the primary) or a
        :class:`ComparisonModel` (GAN or VAE).
    returns : DataFrame
        The recorded constituent returns (a request's history is the rows before its date).
    weights : mapping
        Portfolio weights by name.
    reference : PlausibilityReference
        The plausibility defence's training reference.
    alpha, tolerance : float
        Tail probability of the horizon ES; steering tolerance τ.
    n_paths, n_random : int
        Paths per generator call; random candidates of the attack search.
    epsilons : tuple of float
        The attack budgets, ascending.
    threads : int
        ``torch.set_num_threads`` of every task.
    """

    primary: StressModel
    others: Mapping[str, StressModel | ComparisonModel]
    returns: pd.DataFrame
    weights: Mapping[str, NDArray[np.float64]]
    reference: PlausibilityReference
    alpha: float
    tolerance: float
    n_paths: int
    n_random: int
    epsilons: tuple[float, ...]
    threads: int = 1


@dataclass(frozen=True)
class AuditRequest:
    """One request: an archetype's nominal signature on one date of one split.

    Attributes
    ----------
    archetype, split : str
        Names written into every item of the request.
    as_of : Timestamp
        Conditioning date (the history is the recorded rows before it).
    signature : mapping
        The archetype's nominal signature.
    guidance : float
        Guidance of the diffusion generators (the archetype's recorded scenario set's).
    sampling : mapping
        Sampler settings of the diffusion generators
        (:func:`~diffrisk.stress.scenario_sets.recorded_sampling`).
    attacked : bool
        Whether the date is attacked at every budget of the context.
    seed : int
        Seed of every generator call of the request (common random numbers).
    """

    archetype: str
    split: str
    as_of: pd.Timestamp
    signature: Mapping[str, float]
    guidance: float
    sampling: Mapping[str, Any]
    attacked: bool
    seed: int


def audit_plan(
    archetypes: Sequence[str],
    signatures: Mapping[str, Mapping[str, float]],
    generation: Mapping[str, tuple[float, Mapping[str, Any]]],
    dates: Mapping[str, Sequence[pd.Timestamp]],
    n_attack_dates: int,
    seed: int,
) -> list[AuditRequest]:
    """Every request of the audit, archetype by archetype, split by split, date by date.

    Request j of archetype i (0-based) is seeded ``seed + 7919 (i + 1) + j``; archetype i
    attacks the test dates ``j`` with ``(j - i) mod n < n_attack_dates`` (n test dates),
    so the archetypes attack different dates.

    Parameters
    ----------
    archetypes : sequence of str
        The audited archetypes, in order.
    signatures : mapping
        Nominal signature by archetype.
    generation : mapping
        ``(guidance, sampler settings)`` by archetype.
    dates : mapping
        Conditioning dates by split (``"test"`` is the attacked split).
    n_attack_dates : int
        Test dates attacked per archetype.
    seed : int
        Study seed.

    Returns
    -------
    list of AuditRequest
    """
    plan = []
    for i, name in enumerate(archetypes):
        guidance, sampling = generation[name]
        for split, split_dates in dates.items():
            n = len(split_dates)
            for j, d in enumerate(split_dates):
                attacked = split == "test" and (j - i) % n < int(n_attack_dates)
                plan.append(
                    AuditRequest(
                        name,
                        split,
                        pd.Timestamp(d),
                        dict(signatures[name]),
                        float(guidance),
                        dict(sampling),
                        attacked,
                        int(seed) + 7919 * (i + 1) + j,
                    )
                )
    return plan


def _generators(context: AuditContext, request: AuditRequest) -> dict[str, PathGenerator]:
    """The primary generator (key ``diffusion``) and the independent ones, in order."""
    options = {"guidance": request.guidance, "progress": False, **request.sampling}
    out = {"diffusion": path_generator(generate_paths, context.primary, **options)}
    for name, model in context.others.items():
        if isinstance(model, StressModel):
            out[name] = path_generator(generate_paths, model, **options)
        else:
            out[name] = path_generator(comparison_paths, model, progress=False)
    return out


def _score(
    context: AuditContext,
    primary: NDArray,
    others: Sequence[NDArray],
    frame: pd.DataFrame,
    signature: Mapping[str, float],
) -> pd.DataFrame:
    """:func:`~diffrisk.evaluation.stress_audit.score_request` with the context's settings."""
    cfg = context.primary.config
    ewma = {"lam": cfg.ewma_lambda, "warmup": cfg.ewma_warmup}
    return score_request(
        primary,
        others,
        frame,
        signature,
        context.weights,
        context.reference,
        alpha=context.alpha,
        tolerance=context.tolerance,
        history=cfg.history,
        recorded=context.returns,
        sigma=history_sigma(frame.to_numpy(dtype=float), **ewma),
        **ewma,
    )


def _attack(
    context: AuditContext,
    request: AuditRequest,
    epsilon: float,
    generator: PathGenerator,
    clean: NDArray,
) -> AttackOutcome:
    """The capital-relief search on the request within budget ``epsilon``."""
    cfg = context.primary.config
    space = attack_space(
        context.returns,
        request.as_of,
        request.signature,
        epsilon=epsilon,
        tolerance=context.tolerance,
        bounds=context.primary.signature_bounds,
        history=cfg.history,
        lam=cfg.ewma_lambda,
        warmup=cfg.ewma_warmup,
    )
    return attack_request(
        generator,
        space,
        context.weights,
        alpha=context.alpha,
        n_paths=context.n_paths,
        seed=request.seed,
        n_random=context.n_random,
        clean_paths=clean,
    )


def audit_request(context: AuditContext, request: AuditRequest) -> tuple[list[dict[str, Any]], int]:
    """Score one request untouched and, on an attacked date, under every budget.

    Parameters
    ----------
    context : AuditContext
        Models, weights, reference and settings shared by the requests.
    request : AuditRequest
        The request.

    Returns
    -------
    rows : list of dict
        One item per portfolio of the untouched request (``kind`` ``"untouched"``), then
        per budget, distinct attack optimum and portfolio (``kind`` ``"attack"``).
    calls : int
        Generator calls made.
    """
    torch.set_num_threads(int(context.threads))
    gens = _generators(context, request)
    d, n_paths, seed = request.as_of, context.n_paths, request.seed

    def run_others(frame: pd.DataFrame, sig: Mapping[str, float]) -> list[NDArray]:
        return [g(frame, d, n_paths, sig, seed) for k, g in gens.items() if k != "diffusion"]

    past = context.returns.iloc[: context.returns.index.searchsorted(d)]
    clean = gens["diffusion"](past, d, n_paths, request.signature, seed)
    scored = _score(context, clean, run_others(past, request.signature), past, request.signature)
    calls = len(gens)
    base = {"split": request.split, "archetype": request.archetype, "as_of": d}
    rows = [
        {
            **base,
            **r,
            "kind": "untouched",
            "attacked": False,
            "epsilon": 0.0,
            "relief": 0.0,
            "es_clean": r["es"],
            "es_attacked": r["es"],
            "theta": "",
        }
        for r in scored.to_dict(orient="records")
    ]
    if not request.attacked:
        return rows, calls
    for eps in context.epsilons:
        outcome = _attack(context, request, eps, gens["diffusion"], clean)
        calls += next(iter(outcome.results.values())).n_evaluations
        for key in sorted({r.theta for r in outcome.results.values()}):
            frame, sig = outcome.space.request(np.asarray(key))
            sc = _score(
                context, outcome.paths[key], run_others(frame, sig), frame, request.signature
            )
            calls += len(gens) - 1
            sc = sc.set_index("portfolio")
            rows += [
                {
                    **base,
                    **sc.loc[r.portfolio].to_dict(),
                    "portfolio": r.portfolio,
                    "kind": "attack",
                    "attacked": eps > 0,
                    "epsilon": eps,
                    "relief": r.relief,
                    "es_clean": r.es_clean,
                    "es_attacked": r.es_attacked,
                    "theta": ",".join(f"{t:g}" for t in key),
                }
                for r in outcome.results.values()
                if r.theta == key
            ]
    return rows, calls


def audit_requests(
    context: AuditContext,
    plan: Sequence[AuditRequest],
    workers: int = 1,
    *,
    scheduler: str | None = None,
) -> tuple[pd.DataFrame, int]:
    """Every request of ``plan`` as a task (:func:`audit_request`), items in plan order.

    Parameters
    ----------
    context : AuditContext
        Shared by every task.
    plan : sequence of AuditRequest
        The requests (:func:`audit_plan`).
    workers : int, default 1
        Dask worker processes (:func:`~diffrisk.core.compute.compute_map`; 1 and no
        scheduler: in this process). The items do not depend on it.
    scheduler : str, optional
        Address of a running Dask scheduler.

    Returns
    -------
    items : DataFrame
        Every scored item, requests in plan order.
    calls : int
        Generator calls made.
    """
    done = compute_map(
        partial(audit_request, context),
        plan,
        workers,
        scheduler=scheduler,
        desc="stress audit requests",
    )
    rows = [row for got, _ in done for row in got]
    return pd.DataFrame(rows), sum(calls for _, calls in done)
