"""Stage ``reverse_stress``.

Reverse stress testing (issue 21). The headline request: the equal-weighted portfolio,
the stress model's horizon, L = the model's ``es_alpha`` ES of the loss at the first test
day; every method (loss-guided diffusion, normal and Student-t Mahalanobis sets,
historical windows, conditional vine-copula draws) answers it with scenarios reaching
L, a plausibility score and ``P(loss >= L)``. The held-out validation replays the worst
``h``-day loss of the equal-weighted and ``n_random`` random long-only portfolios in each
named period of the test period (scored once, never used for a choice). Writes
``reports/tables/reverse_stress.{csv,md}``, ``reverse_stress_validation.{csv,md}``,
``reverse_stress_scores.{csv,md}``, ``reports/figures/reverse_stress.{png,pdf}`` and
``reports/metrics/reverse_stress.json``.
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
from diffrisk.core.compute import Compute
from diffrisk.core.paths import stress_checkpoint
from diffrisk.core.tables import write_table
from diffrisk.reporting.reverse_stress import figure_reverse_stress
from diffrisk.reporting.style import save_figure
from diffrisk.stages.common import StressInputs, run_stress_stage, stage_returns
from diffrisk.stress.config import parse_segments
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.reverse import check_request, loss_contributions, segment_contributions
from diffrisk.stress.reverse_score import fit_path_reference
from diffrisk.stress.reverse_study import reverse_stress_methods, validate_reverse_stress

logger = logging.getLogger(__name__)


def parse_periods(spec: str) -> dict[str, tuple[str, str]]:
    """``"name=start/end; ..."`` -> ``{name: (start, end)}`` (ValueError naming the entry)."""
    out: dict[str, tuple[str, str]] = {}
    for chunk in (c.strip() for c in str(spec).split(";") if c.strip()):
        name, eq, span = (x.strip() for x in chunk.partition("="))
        start, slash, end = (x.strip() for x in span.partition("/"))
        if not (eq and slash and name and start and end):
            raise ValueError(f"reverse periods entry {chunk!r}: expected name=start/end")
        out[name] = (str(pd.Timestamp(start).date()), str(pd.Timestamp(end).date()))
    return out


def reverse_stress(
    *,
    es_alpha: float,
    n_paths: int,
    strength: float,
    defensive: float,
    n_steps: int,
    n_random: int,
    periods: str,
    methods: str,
    sectors: str,
    inputs: StressInputs,
    compute: Compute,
) -> dict[str, Any]:
    """Run the ``reverse_stress`` stage (arguments: ``stress.reverse`` and the sectors).

    ``compute`` (``stress.reverse.workers``) runs the validation requests, one task per
    (portfolio, period) request
    (:func:`~diffrisk.stress.reverse_study.validate_reverse_stress`). The outputs are
    byte-identical whatever it is.
    """
    tic = time.perf_counter()
    splits, seed = inputs.splits, inputs.seed
    returns = stage_returns(index_name=inputs.index_name)
    assets = [str(c) for c in returns.columns]
    model = load_stress_model(stress_checkpoint())
    torch.set_num_threads(int(model.config.threads))
    if model.assets != assets:
        raise ValueError(f"models/stress.pt assets {model.assets} differ from the data's {assets}")
    segments = parse_segments(sectors, assets)
    h = int(model.config.horizon)
    train = returns.loc[returns.index <= splits.train_end].to_numpy(dtype=float)
    reference = fit_path_reference(train, h)
    options = {"strength": strength, "defensive": defensive, "n_steps": n_steps}
    # what the reverse stress test and its validation on the test periods share
    shared = {
        "reference": reference,
        "segments": segments,
        "n_paths": n_paths,
        "diffusion_options": options,
        "methods": tuple(m.strip() for m in str(methods).split(",") if m.strip()),
        "seed": seed,
    }
    test_rows = returns.index[returns.index >= splits.test_start]
    as_of = test_rows[0]
    request = check_request(
        np.full(len(assets), 1.0 / len(assets)), len(assets), h, h, es_alpha=es_alpha
    )
    results, summary = reverse_stress_methods(
        model,
        returns,
        request,
        as_of=as_of,
        **shared,
    )
    contrib = pd.DataFrame(
        {
            name: segment_contributions(
                loss_contributions(res.scenarios, request.weights, h), assets, segments
            ).mean(axis=0)
            for name, res in results.items()
            if len(res.loss)
        }
    ).T
    rng = np.random.default_rng(int(seed))
    portfolios = {"equal_weight": request.weights}
    portfolios |= {f"random_{k + 1}": rng.dirichlet(np.ones(len(assets))) for k in range(n_random)}
    end = splits.test_end or returns.index[-1]
    windows = {
        name: (max(pd.Timestamp(s), splits.test_start), min(pd.Timestamp(e), pd.Timestamp(end)))
        for name, (s, e) in parse_periods(periods).items()
    }
    usable = {
        k: (str(s.date()), str(e.date()))
        for k, (s, e) in windows.items()
        if ((returns.index >= s) & (returns.index <= e)).sum() >= h
    }
    skipped = sorted(set(windows) - set(usable))
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
    scores = _scores(validation)
    metrics = _metrics(summary, scores, results, skipped, h, es_alpha)
    write_table(summary, "reverse_stress")
    write_table(validation, "reverse_stress_validation")
    write_table(scores, "reverse_stress_scores")
    io.write_json(paths.metrics_dir() / "reverse_stress.json", metrics, digits=6)
    figure = save_figure(figure_reverse_stress(contrib, summary), "reverse_stress")
    # the wall time is logged, not committed: a rerun that moves no number changes no file
    logger.info("reverse_stress: %s (%.1f s)", metrics["headline"], time.perf_counter() - tic)
    return {
        "summary": summary,
        "validation": validation,
        "scores": scores,
        "metrics": metrics,
        "figure": figure,
    }


def _scores(validation: pd.DataFrame) -> pd.DataFrame:
    """Per method: requests, answered, realised leading segment ranked first, coverage."""
    if validation.empty:
        return pd.DataFrame(columns=["method", "requests", "answered", "rank_1_share"])
    g = validation.groupby("method", sort=False)
    return pd.DataFrame(
        {
            "requests": g.size(),
            "answered": g["n_scenarios"].apply(lambda s: int((s > 0).sum())),
            "rank_1_share": g["realised_segment_rank"].apply(lambda s: float((s == 1).mean())),
            "mean_rank": g["realised_segment_rank"].mean(),
            "top_scenario_share": g["top_scenario_leads_with_it"].mean(),
            "median_realised_coverage": g["realised_coverage"].median(),
        }
    ).reset_index()


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
