"""Every reverse-stress method on the same request, and the held-out validation.

:func:`reverse_stress_methods` answers one request with the loss-guided diffusion model
and the classic peers (normal and Student-t Mahalanobis sets, historical windows,
conditional vine-copula draws), each
scored by the same plausibility (:mod:`diffrisk.stress.reverse_score`) and attributed to
assets and segments. :func:`validate_reverse_stress` replays losses that happened: for
each portfolio and period, the worst ``h``-day window is the request (its loss is L, its
first day the conditioning date, so every method sees only rows before it) and each
method's set is asked whether it ranks the realised leading segment first and how
typical of the set the realised path is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch

from diffrisk.core.compute import compute_map
from diffrisk.stress.model import StressModel
from diffrisk.stress.reverse import (
    ReverseRequest,
    ReverseResult,
    attributed_segments,
    check_attributions,
    diffusion_reverse_stress,
    leading_segments,
    loss_contributions,
    portfolio_loss,
)
from diffrisk.stress.reverse_peers import (
    elliptical_reverse_stress,
    fit_normal,
    fit_student_t,
    historical_reverse_stress,
)
from diffrisk.stress.reverse_score import PathReference, plausibility, set_coverage
from diffrisk.stress.reverse_vine import fit_vine, vine_reverse_stress

METHODS: tuple[str, ...] = ("diffusion", "normal", "student_t", "historical", "vine_copula")


def rank_by_plausibility(result: ReverseResult, reference: PathReference) -> pd.DataFrame:
    """Sort ``result``'s scenarios in place, most plausible first; their scores."""
    if len(result.loss) == 0:
        return pd.DataFrame({"d2": [], "plausibility": []})
    scores = plausibility(result.scenarios, reference)
    order = np.argsort(scores["d2"].to_numpy(), kind="stable")
    result.scenarios, result.loss = result.scenarios[order], result.loss[order]
    if "log_weight" in result.metadata:
        result.metadata["log_weight"] = np.asarray(result.metadata["log_weight"])[order]
    return scores.iloc[order].reset_index(drop=True)


def reverse_stress_methods(
    model: StressModel | None,
    returns: pd.DataFrame,
    request: ReverseRequest,
    *,
    as_of: str | pd.Timestamp | None,
    reference: PathReference,
    segments: Mapping[str, Sequence[str]],
    n_paths: int = 500,
    diffusion_options: Mapping[str, Any] | None = None,
    methods: Sequence[str] = METHODS,
    seed: int = 0,
    attribution: str = "set_mean",
) -> tuple[dict[str, ReverseResult], pd.DataFrame]:
    """Answer one request with every method; results and a summary table.

    Parameters
    ----------
    model : StressModel or None
        None skips the diffusion method.
    returns : DataFrame (T, n_assets)
        Constituent returns; the peers are fitted on the rows strictly before ``as_of``.
    request : ReverseRequest
        With ``loss`` set (L) for the peers; the diffusion method may set L from
        ``es_alpha`` first, and the peers then use its L.
    as_of : date or None
    reference : PathReference
        The plausibility reference (training windows).
    segments : mapping
        Segment (sector) -> tickers, for the attribution.
    n_paths : int
        Guided chains / peer draws.
    diffusion_options : mapping, optional
        Extra arguments of :func:`~diffrisk.stress.reverse.diffusion_reverse_stress`.
    methods : sequence of str
        Subset of :data:`METHODS`.
    seed : int
    attribution : str, default "set_mean"
        How the set's segment ranking is estimated, the same for every method
        (:func:`~diffrisk.stress.reverse.attributed_segments`).

    Returns
    -------
    results : dict of str to ReverseResult
        Scenarios sorted most plausible first; ``metadata["plausibility"]`` their scores.
    summary : DataFrame
        One row per method: L, scenarios returned, share reaching L, ``P(loss >= L)``
        with its interval, the best and median plausibility, the leading asset and
        segment of the most plausible scenario, the set's segment ranking.
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"methods {unknown} unknown; expected a subset of {METHODS}")
    check_attributions([attribution])
    before = returns.iloc[: returns.index.searchsorted(pd.Timestamp(as_of))] if as_of else returns
    assets = list(returns.columns)
    results: dict[str, ReverseResult] = {}
    level = request.loss
    if "diffusion" in methods and model is not None:
        res = diffusion_reverse_stress(
            model,
            returns,
            request,
            as_of=as_of,
            n_paths=n_paths,
            seed=seed,
            **dict(diffusion_options or {}),
        )
        results["diffusion"] = res
        level = res.level
    if level is None:
        raise ValueError("loss: the peers need L (give loss, or run the diffusion method)")
    arr = before.to_numpy(dtype=float)
    if "normal" in methods:
        fit = fit_normal(arr, request.horizon)
        results["normal"] = elliptical_reverse_stress(
            fit, request, level, n_paths=n_paths, seed=seed
        )
    if "student_t" in methods:
        fit = fit_student_t(arr, request.horizon)
        results["student_t"] = elliptical_reverse_stress(
            fit, request, level, n_paths=n_paths, seed=seed
        )
    if "historical" in methods:
        results["historical"] = historical_reverse_stress(arr, request, level)
    if "vine_copula" in methods:
        vine = fit_vine(arr, request.weights, request.horizon, seed=seed)
        results["vine_copula"] = vine_reverse_stress(
            vine, request, level, n_paths=n_paths, seed=seed
        )
    rows = []
    for name, res in results.items():
        scores = rank_by_plausibility(res, reference)
        res.metadata["plausibility"] = scores
        row: dict[str, Any] = {
            "method": name,
            "loss_level": res.level,
            "n_scenarios": len(res.loss),
            "share_reaching": float(res.reached.mean()) if len(res.loss) else float("nan"),
            "hit_rate": res.metadata.get("hit_rate", float("nan")),
            "p": res.probability.get("p", float("nan")),
            "p_lower": res.probability.get("lower", float("nan")),
            "p_upper": res.probability.get("upper", float("nan")),
        }
        if len(res.loss):
            contrib = loss_contributions(res.scenarios, request.weights, request.horizon)
            ranking = attributed_segments(
                contrib, scores["plausibility"], assets, segments, attribution
            )
            top = leading_segments(contrib[:1], assets, segments)
            row.update(
                best_plausibility=float(scores["plausibility"].iloc[0]),
                median_plausibility=float(scores["plausibility"].median()),
                leading_asset=assets[int(np.argmax(contrib[0]))],
                leading_segment=str(top.index[0]),
                set_segment_ranking=", ".join(ranking.index.astype(str)),
            )
        rows.append(row)
    return results, pd.DataFrame(rows)


def reverse_stress_task(
    job: tuple[Any, ...],
) -> tuple[dict[str, ReverseResult], pd.DataFrame]:
    """:func:`reverse_stress_methods` of one request, as a Dask task.

    ``job`` is ``(model, returns, request, options)``, ``options`` the keywords of
    :func:`reverse_stress_methods`; torch's threads are set to the model's (a worker
    process starts with torch's default).
    """
    model, returns, request, options = job
    if model is not None:
        torch.set_num_threads(int(model.config.threads))
    return reverse_stress_methods(model, returns, request, **options)


def worst_window(
    returns: pd.DataFrame, weights: np.ndarray, horizon: int, start: str, end: str
) -> tuple[pd.Timestamp, float, np.ndarray]:
    """The ``horizon``-day window inside ``[start, end]`` with the largest portfolio loss.

    Returns its first day, its loss and its daily returns (h, n_assets).
    """
    inside = returns.loc[
        (returns.index >= pd.Timestamp(start)) & (returns.index <= pd.Timestamp(end))
    ]
    if len(inside) < horizon:
        raise ValueError(f"period {start}..{end} has fewer than {horizon} rows")
    arr = inside.to_numpy(dtype=float)
    paths = np.lib.stride_tricks.sliding_window_view(arr, horizon, axis=0).transpose(0, 2, 1)
    loss = portfolio_loss(paths, weights, horizon)
    i = int(np.argmax(loss))
    return inside.index[i], float(loss[i]), paths[i]


def validate_reverse_stress(
    model: StressModel | None,
    returns: pd.DataFrame,
    portfolios: Mapping[str, np.ndarray],
    periods: Mapping[str, tuple[str, str]],
    *,
    horizon: int,
    reference: PathReference,
    segments: Mapping[str, Sequence[str]],
    workers: int = 1,
    scheduler: str | None = None,
    attribution: str = "set_mean",
    candidates: Sequence[str] = (),
    **options: Any,
) -> pd.DataFrame:
    """Replay the worst realised ``horizon``-day loss of each portfolio in each period.

    Parameters
    ----------
    model, returns, reference, segments
        As for :func:`reverse_stress_methods`.
    portfolios : mapping of str to ndarray
        Portfolio weights by name.
    periods : mapping of str to (start, end)
        The periods searched for the worst window, by name.
    horizon : int
        Days of the window (the request's horizon).
    workers : int, default 1
        Processes of the embedded Dask cluster, one task per (portfolio, period) request
        (:func:`diffrisk.core.compute.compute_map`; 1 and no scheduler: in this process).
        Every request is a pure function of its window and the shared ``seed``, and the
        rows come back in request order: the table is the same whatever it is.
    scheduler : str, optional
        A running Dask scheduler (:func:`diffrisk.core.compute.resolve_scheduler`).
    attribution : str, default "set_mean"
        How each set's segment ranking is estimated, the same for every method
        (:func:`~diffrisk.stress.reverse.attributed_segments`): the ranking behind
        ``realised_segment_rank``.
    candidates : sequence of str, default ()
        Further attributions scored on the same sets: one column ``rank_<name>`` each
        (the realised leading segment's rank under it), for choosing ``attribution``.
    **options
        ``n_paths``, ``diffusion_options``, ``methods``, ``seed`` of
        :func:`reverse_stress_methods` (its defaults when absent), passed on for every
        request.

    Returns
    -------
    DataFrame
        One row per (portfolio, period, method): the realised window, L, the realised
        leading segment, its rank in the method's set (1 = ranked first; by mean loss
        contribution over the set under ``attribution``), whether the most plausible
        scenario leads with it, the realised path's plausibility score, its coverage by
        the set (:func:`~diffrisk.stress.reverse_score.set_coverage`) and the ranks under
        ``candidates``.
    """
    check_attributions([attribution, *candidates])
    assets = list(returns.columns)
    replays = []
    for pname, weights in portfolios.items():
        w = np.asarray(weights, dtype=float)
        for period, (start, end) in periods.items():
            first, loss, path = worst_window(returns, w, horizon, start, end)
            realised = leading_segments(loss_contributions(path, w, horizon), assets, segments)
            replays.append(_Replay(pname, period, w, first, loss, path, str(realised.index[0])))
    task = partial(
        _replay_rows,
        model=model,
        returns=returns,
        reference=reference,
        segments=segments,
        options={**options, "attribution": attribution},
        candidates=tuple(candidates),
    )
    parts = compute_map(task, replays, workers, scheduler=scheduler, desc="reverse requests")
    return pd.DataFrame([row for part in parts for row in part])


@dataclass(frozen=True)
class _Replay:
    """One validation request: a portfolio's worst realised window in a period."""

    portfolio: str
    period: str
    weights: np.ndarray
    first: pd.Timestamp
    loss: float
    path: np.ndarray
    lead: str


def _replay_rows(
    replay: _Replay,
    *,
    model: StressModel | None,
    returns: pd.DataFrame,
    reference: PathReference,
    segments: Mapping[str, Sequence[str]],
    options: Mapping[str, Any],
    candidates: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """The rows of :func:`validate_reverse_stress` for one request (one Dask task)."""
    if model is not None:  # a worker process starts with torch's default threads
        torch.set_num_threads(int(model.config.threads))
    assets = list(returns.columns)
    w, horizon, lead = replay.weights, len(replay.path), replay.lead
    request = ReverseRequest(w, int(horizon), replay.loss, None)
    results, summary = reverse_stress_methods(
        model,
        returns,
        request,
        as_of=replay.first,
        reference=reference,
        segments=segments,
        **options,
    )
    realised_score = float(plausibility(replay.path[None], reference)["plausibility"].iloc[0])
    rows = []
    for _, srow in summary.iterrows():
        res = results[srow["method"]]
        ranks = dict.fromkeys((options["attribution"], *candidates), float("nan"))
        top_lead = None
        if len(res.loss):
            contrib = loss_contributions(res.scenarios, w, horizon)
            scores = res.metadata["plausibility"]["plausibility"]
            for name in ranks:
                ranking = attributed_segments(contrib, scores, assets, segments, name)
                ranks[name] = float(list(ranking.index).index(lead) + 1)
            top_lead = srow.get("leading_segment")
        row = {
            "portfolio": replay.portfolio,
            "period": replay.period,
            "window_start": replay.first.date(),
            "loss": replay.loss,
            "realised_leading_segment": lead,
            "method": srow["method"],
            "n_scenarios": int(srow["n_scenarios"]),
            "p": srow["p"],
            "p_lower": srow["p_lower"],
            "p_upper": srow["p_upper"],
            "realised_segment_rank": ranks[options["attribution"]],
            "top_scenario_leads_with_it": top_lead == lead,
            "realised_plausibility": realised_score,
            "realised_coverage": set_coverage(replay.path, res.scenarios, reference),
        }
        rows.append(row | {f"rank_{name}": ranks[name] for name in candidates})
    return rows


def hit_counts(table: pd.DataFrame, candidates: Sequence[str]) -> pd.DataFrame:
    """Per method, the requests whose realised leading segment each candidate ranks first.

    Parameters
    ----------
    table : DataFrame
        :func:`validate_reverse_stress` rows with the ``rank_<name>`` columns of
        ``candidates`` (a request a method did not answer counts as a miss).
    candidates : sequence of str

    Returns
    -------
    DataFrame
        Index the methods (first-seen order), columns ``requests`` and the candidates.
    """
    g = table.groupby("method", sort=False)
    out = pd.DataFrame({"requests": g.size()})
    for name in candidates:
        out[name] = g[f"rank_{name}"].apply(lambda s: int((s == 1).sum()))
    return out


def pick_by_rule(counts: Mapping[Any, int], default: Any) -> Any:
    """The candidate with the highest count; ties -> ``default``, else the first listed.

    The selection rule of the validation choices (fixed before the counts are seen).
    """
    if default not in counts:
        raise ValueError(f"the default {default!r} is not among the candidates {list(counts)}")
    best = max(counts.values())
    if counts[default] == best:
        return default
    return next(k for k, v in counts.items() if v == best)
