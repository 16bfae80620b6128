"""Stage ``reverse_stress``.

Reverse stress testing. The headline request: the equal-weighted portfolio,
the stress model's horizon, L = the model's ``es_alpha`` ES of the loss at the first test
day; every method (loss-guided diffusion, normal and Student-t Mahalanobis sets,
historical windows, conditional vine-copula draws) answers it with scenarios reaching
L, a plausibility score and ``P(loss >= L)``. The held-out validation replays the worst
``h``-day loss of the equal-weighted and ``n_random`` random long-only portfolios in each
named period of the test period (scored once, never used for a choice). The same replay
on the validation period (cut into ``validation_windows`` sub-periods) scores every
attribution of :data:`~diffrisk.stress.reverse.ATTRIBUTIONS` and the diffusion guidance
``strength_candidates``, and names the choice of the rule fixed before it was run
(``reverse_stress_choice``; the configured ``attribution`` and ``strength`` are what the
test replay uses). Writes ``reports/tables/reverse_stress.{csv,md}``,
``reverse_stress_validation.{csv,md}``, ``reverse_stress_scores.{csv,md}``,
``reverse_stress_choice.{csv,md}``, ``reverse_stress_choice_requests.{csv,md}``,
``reports/figures/reverse_stress.{png,pdf}``, ``reports/metrics/reverse_stress.json`` and
``reports/metrics/reverse_stress_choice.json``, and the settings the scenario service
answers requests with, ``models/reverse_stress.json``
(:mod:`diffrisk.stress.reverse_serving`: the sectors, the attribution and strength used,
the loss guidance's other settings and the stress model's weight hash).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from diffrisk.core import io, paths
from diffrisk.core.compute import Compute, in_background, shared_scheduler
from diffrisk.core.params import parse_list
from diffrisk.core.paths import stress_checkpoint
from diffrisk.core.tables import write_table
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.evaluation.paired_hits import paired_hits_test
from diffrisk.reporting.reverse_stress import figure_reverse_stress
from diffrisk.reporting.style import save_figure
from diffrisk.stages.common import StressInputs, run_stress_stage, stage_returns
from diffrisk.stages.periods import held_out_periods, validation_periods
from diffrisk.stress.config import parse_segments
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.reverse import (
    ATTRIBUTIONS,
    check_attributions,
    check_request,
    loss_contributions,
    segment_contributions,
)
from diffrisk.stress.reverse_score import fit_path_reference
from diffrisk.stress.reverse_serving import SERVING_FILE, ReverseServing, write_serving
from diffrisk.stress.reverse_study import (
    hit_counts,
    pick_by_rule,
    reverse_stress_task,
    validate_reverse_stress,
)

logger = logging.getLogger(__name__)

#: ``stress.reverse.attribution`` / ``strength`` value: use the validation rule's choice.
AUTO = "auto"


def reverse_stress(
    *,
    es_alpha: float,
    n_paths: int,
    strength: float | str,
    defensive: float,
    n_steps: int,
    n_random: int,
    periods: str,
    methods: str,
    attribution: str,
    strength_candidates: str,
    validation_windows: int,
    sectors: str,
    inputs: StressInputs,
    compute: Compute,
) -> dict[str, Any]:
    """Run the ``reverse_stress`` stage (arguments: ``stress.reverse`` and the sectors).

    The validation replay runs first; ``attribution: auto`` / ``strength: auto`` make the
    test replay and the headline request use the choices of the rule
    (:func:`_choice`), a named attribution or a number is used as given (and the rule's
    choice is still reported). ``compute`` (``stress.reverse.workers``) runs the replayed
    requests, one task per (portfolio, period) request
    (:func:`~diffrisk.stress.reverse_study.validate_reverse_stress`), and the headline
    request as one more task beside the test replay's
    (:func:`~diffrisk.core.compute.in_background`). The outputs are byte-identical
    whatever it is.
    """
    tic = time.perf_counter()
    # one Dask cluster for every replay of the stage (none when workers == 1)
    with shared_scheduler(compute.workers, compute.scheduler) as scheduler:
        compute = Compute(compute.workers, scheduler)
        strengths = [float(x) for x in parse_list(strength_candidates)]
        base_strength = _base_strength(strength, strengths, strength_candidates)
        if _is_auto(attribution):
            attribution = AUTO
        base_attribution = "set_mean" if attribution == AUTO else attribution
        check_attributions([base_attribution])
        splits, seed = inputs.splits, inputs.seed
        returns = stage_returns(index_name=inputs.index_name)
        assets = [str(c) for c in returns.columns]
        model = load_stress_model(stress_checkpoint())
        torch.set_num_threads(int(model.config.threads))
        if model.assets != assets:
            raise ValueError(
                f"models/stress.pt assets {model.assets} differ from the data's {assets}"
            )
        segments = parse_segments(sectors, assets)
        h = int(model.config.horizon)
        train = returns.loc[returns.index <= splits.train_end].to_numpy(dtype=float)
        reference = fit_path_reference(train, h)
        options = {"strength": base_strength, "defensive": defensive, "n_steps": n_steps}
        # what the reverse stress test and its validation on the test periods share
        shared = {
            "reference": reference,
            "segments": segments,
            "n_paths": n_paths,
            "diffusion_options": options,
            "methods": tuple(m.strip() for m in str(methods).split(",") if m.strip()),
            "seed": seed,
            "attribution": base_attribution,
        }
        val_periods = validation_periods(
            returns.index, splits.val_start, splits.val_end, validation_windows, h
        )
        rng = np.random.default_rng(int(seed))
        portfolios = {"equal_weight": np.full(len(assets), 1.0 / len(assets))}
        portfolios |= {
            f"random_{k + 1}": rng.dirichlet(np.ones(len(assets))) for k in range(n_random)
        }
        usable, skipped = held_out_periods(
            periods, returns.index, splits.test_start, splits.test_end, h
        )
        # the choices of attribution and strength, on the validation period only
        replays = {}
        for gamma in strengths:
            if gamma != base_strength and "diffusion" not in shared["methods"]:
                continue  # the strength only changes the diffusion method
            replays[gamma] = validate_reverse_stress(
                model,
                returns,
                portfolios,
                val_periods,
                horizon=h,
                workers=compute.workers,
                scheduler=compute.scheduler,
                candidates=ATTRIBUTIONS,
                **(
                    shared
                    if gamma == base_strength
                    else shared
                    | {
                        "diffusion_options": options | {"strength": gamma},
                        "methods": ("diffusion",),
                    }
                ),
            )
        choice, requests, choice_metrics = _choice(
            replays, base_strength, attribution, val_periods, strength
        )
        used = choice_metrics["used"]
        rule = bool(choice_metrics["configured_is_the_rule_choice"])
        # what the test replay, the headline request and the service use
        serving = ReverseServing(
            sectors=str(sectors),
            attribution=used["attribution"],
            strength=used["strength"],
            defensive=defensive,
            n_steps=n_steps,
            checkpoint_sha256=weights_sha256(stress_checkpoint()),
            source="reverse_stress stage: "
            + ("the validation rule's choice" if rule else "configured"),
        )
        shared |= {
            "attribution": serving.attribution,
            "diffusion_options": serving.diffusion_options(),
        }
        test_rows = returns.index[returns.index >= splits.test_start]
        request = check_request(portfolios["equal_weight"], len(assets), h, h, es_alpha=es_alpha)
        # the headline request holds one worker while the others start on the test replay
        with in_background(
            reverse_stress_task,
            (model, returns, request, shared | {"as_of": test_rows[0]}),
            compute.scheduler,
        ) as headline:
            validation = validate_reverse_stress(
                model,
                returns,
                portfolios,
                usable,
                horizon=h,
                workers=compute.workers,
                scheduler=compute.scheduler,
                **shared,
            )
            results, summary = headline()
        contrib = pd.DataFrame(
            {
                name: segment_contributions(
                    loss_contributions(res.scenarios, request.weights, h), assets, segments
                ).mean(axis=0)
                for name, res in results.items()
                if len(res.loss)
            }
        ).T
        scores = _scores(validation)
        metrics = _metrics(summary, scores, results, skipped, h, es_alpha) | {
            "requests": len(portfolios) * len(usable),
            "periods": usable,
            "choice_used": used | {"rule_choice": rule},
        }
        write_table(summary, "reverse_stress")
        write_table(validation, "reverse_stress_validation")
        write_table(scores, "reverse_stress_scores")
        write_table(choice, "reverse_stress_choice")
        write_table(requests, "reverse_stress_choice_requests")
        io.write_json(paths.metrics_dir() / "reverse_stress.json", metrics, digits=6)
        io.write_json(paths.metrics_dir() / "reverse_stress_choice.json", choice_metrics, digits=6)
        write_serving(paths.models_dir() / SERVING_FILE, serving)
        figure = save_figure(figure_reverse_stress(contrib, summary), "reverse_stress")
        # the wall time is logged, not committed: a rerun that moves no number changes no file
        logger.info("reverse_stress: %s (%.1f s)", metrics["headline"], time.perf_counter() - tic)
        return {
            "summary": summary,
            "validation": validation,
            "scores": scores,
            "metrics": metrics,
            "choice": choice,
            "choice_requests": requests,
            "choice_metrics": choice_metrics,
            "serving": serving,
            "figure": figure,
        }


def _is_auto(value: Any) -> bool:
    """Whether a setting says ``auto`` (any case, surrounding blanks ignored)."""
    return isinstance(value, str) and value.strip().lower() == AUTO


def _base_strength(strength: float | str, strengths: list[float], candidates: str) -> float:
    """The strength the peers' validation replay runs at: the configured one, or 1.0 (auto).

    Raises
    ------
    ValueError
        Naming ``stress.reverse.strength`` when it is neither a number nor ``auto``, or
        ``stress.reverse.strength_candidates`` when it does not list that strength.
    """
    auto = _is_auto(strength)
    try:
        base = 1.0 if auto else float(strength)
    except (TypeError, ValueError):
        raise ValueError(
            f"stress.reverse.strength must be a number in [0, 1] or 'auto', got {strength!r}"
        ) from None
    if base not in strengths:
        what = "1.0 (the rule's tie default; strength: auto)" if auto else f"the configured {base}"
        raise ValueError(f"stress.reverse.strength_candidates {candidates!r} must list {what}")
    return base


def _choice(
    replays: Mapping[float, pd.DataFrame],
    strength: float,
    attribution: str,
    periods: Mapping[str, tuple[str, str]],
    configured_strength: float | str,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Validation hit counts of every attribution and strength, and the rule's choices.

    Rule (fixed before the validation replay was run): the attribution with the highest
    hit count summed over all methods at ``strength`` (the configured one, 1.0 with
    ``auto``), ties -> ``set_mean`` (the historical default); then the strength with the
    highest diffusion hit count under that attribution, ties -> 1.0. ``used`` in the
    metrics: the rule's choice where the configuration says ``auto``, else the
    configured value.
    """
    tables = []
    for gamma, replay in replays.items():
        counts = hit_counts(replay, ATTRIBUTIONS).reset_index()
        counts.insert(1, "strength", gamma)
        tables.append(counts)
    table = pd.concat(tables, ignore_index=True)
    main = table.loc[table["strength"] == strength]
    totals = {a: int(main[a].sum()) for a in ATTRIBUTIONS}
    total_row = {"method": "total", "strength": strength, "requests": int(main["requests"].sum())}
    table = pd.concat([table, pd.DataFrame([total_row | totals])], ignore_index=True)
    chosen = pick_by_rule(totals, "set_mean")
    diffusion = table.loc[table["method"] == "diffusion"].set_index("strength")[chosen]
    by_strength = {float(g): int(diffusion.loc[g]) for g in replays if g in diffusion.index}
    chosen_strength = pick_by_rule(by_strength, 1.0) if 1.0 in by_strength else None
    requests = pd.concat([r.assign(strength=g) for g, r in replays.items()], ignore_index=True)
    used = {
        "attribution": chosen if attribution == AUTO else attribution,
        "strength": (
            float(chosen_strength) if _is_auto(configured_strength) else float(configured_strength)
        ),
    }
    metrics = {
        "periods": {k: list(v) for k, v in periods.items()},
        "requests": int(len(replays[strength].groupby(["portfolio", "period"]))),
        "attribution": {
            "hits": {
                str(r["method"]): {a: int(r[a]) for a in ATTRIBUTIONS} for _, r in main.iterrows()
            },
            "total": totals,
            "chosen_by_rule": chosen,
            "configured": attribution,
        },
        "strength": {
            "diffusion_hits": {str(k): v for k, v in by_strength.items()},
            "chosen_by_rule": chosen_strength,
            "configured": configured_strength,
        },
        "used": used,
        "configured_is_the_rule_choice": bool(
            used["attribution"] == chosen and used["strength"] == chosen_strength
        ),
    }
    return table, requests, metrics


def _scores(validation: pd.DataFrame) -> pd.DataFrame:
    """Per method: requests, answered, realised leading segment ranked first, coverage.

    ``only_diffusion`` / ``only_method`` / ``mcnemar_p``: the requests whose realised
    leading segment only the diffusion method / only this method ranks first, and the
    exact McNemar p-value of equal rank-1 rates (paired by request; NaN for diffusion).
    """
    if validation.empty:
        return pd.DataFrame(columns=["method", "requests", "answered", "rank_1_share"])
    g = validation.groupby("method", sort=False)
    out = pd.DataFrame(
        {
            "requests": g.size(),
            "answered": g["n_scenarios"].apply(lambda s: int((s > 0).sum())),
            "rank_1_share": g["realised_segment_rank"].apply(lambda s: float((s == 1).mean())),
            "mean_rank": g["realised_segment_rank"].mean(),
            "top_scenario_share": g["top_scenario_leads_with_it"].mean(),
            "median_realised_coverage": g["realised_coverage"].median(),
        }
    )
    hits = validation.assign(hit=validation["realised_segment_rank"] == 1).pivot_table(
        index=["portfolio", "period"],
        columns="method",
        values="hit",
        aggfunc="first",
        fill_value=False,
    )
    for method in out.index:
        if "diffusion" not in hits or method == "diffusion":
            continue
        test = paired_hits_test(hits["diffusion"].to_numpy(bool), hits[method].to_numpy(bool))
        out.loc[method, ["only_diffusion", "only_method", "mcnemar_p"]] = [
            test.only_a, test.only_b, test.pvalue,
        ]  # fmt: skip
    return out.reset_index()


def _metrics(
    summary: pd.DataFrame,
    scores: pd.DataFrame,
    results: Mapping[str, Any],
    skipped: list[str],
    horizon: int,
    es_alpha: float,
) -> dict[str, Any]:
    rows = summary.set_index("method")
    per_method = {
        m: {
            "n_scenarios": int(rows.loc[m, "n_scenarios"]),
            "p": float(rows.loc[m, "p"]),
            "p_lower": float(rows.loc[m, "p_lower"]),
            "p_upper": float(rows.loc[m, "p_upper"]),
            "share_reaching": float(rows.loc[m, "share_reaching"]),
        }
        for m in rows.index
    }
    rank1 = scores.set_index("method")["rank_1_share"].to_dict() if len(scores) else {}
    peers = [v for k, v in rank1.items() if k != "diffusion"]
    headline = {
        "loss_level": float(summary["loss_level"].iloc[0]),
        "diffusion_hit_rate": float(results["diffusion"].metadata["hit_rate"])
        if "diffusion" in results
        else None,
        "rank_1_share": {k: float(v) for k, v in rank1.items()},
        "diffusion_ranks_first_more_often": bool(
            "diffusion" in rank1 and peers and rank1["diffusion"] > max(peers)
        ),
        "mcnemar_p_vs_diffusion": (
            {
                str(r.method): float(r.mcnemar_p)
                for r in scores.itertuples()
                if r.method != "diffusion"
            }
            if "mcnemar_p" in scores
            else {}
        ),
    }
    return {
        "horizon": horizon,
        "es_alpha": es_alpha,
        "methods": per_method,
        "skipped_periods": skipped,
        "headline": headline,
    }


def run(*, seed: int, data: Mapping[str, Any], stress: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``reverse_stress``: :func:`reverse_stress` with its ``dvc.yaml`` parameters."""
    sectors = stress["segments"]["sectors"]
    return run_stress_stage(reverse_stress, "reverse", seed, data, stress, sectors=sectors)
