"""Stage ``stress_validate``.

The validation suite, signatures and downstream risk of the stress sets. Writes
``reports/tables/stress_*.{csv,md}``, ``stress_section.md``, the stress figures and
``reports/metrics/stress.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from diffrisk.core import io, paths
from diffrisk.core.compute import Compute
from diffrisk.core.tables import write_csv_table, write_table
from diffrisk.evaluation.paths.bootstrap import HEADLINE_METRICS
from diffrisk.reporting.headline_metrics import stress_rows, write_rows
from diffrisk.reporting.stress_report import stress_report_section
from diffrisk.stages.common import StressInputs, run_stress_stage
from diffrisk.stages.stress_validate_parts import PARTS, run_part, stage_settings
from diffrisk.stress.budgets import budget_markdown
from diffrisk.stress.config import UNCONDITIONAL


def validate_stress_sets(
    *,
    crisis_windows: str,
    portfolios: str,
    alphas: str,
    tolerance: float,
    n_boot: int,
    bootstrap_block: int,
    inputs: StressInputs,
    compute: Compute | None = None,
) -> dict[str, Any]:
    """Run the ``stress_validate`` stage: validation, signatures, downstream risk, figures.

    Parameters
    ----------
    crisis_windows : str
        :func:`parse_crisis_windows` specification; references of the stressed archetypes.
    portfolios : str
        :func:`parse_portfolios` specification (the first is the headline portfolio).
    alphas : str
        Comma-separated tail probabilities of the risk table.
    tolerance : float
        Relative error counted as hitting a requested signature component.
    n_boot, bootstrap_block : int
        Resamples of the test period made of whole ``bootstrap_block``-day windows (the
        horizon: ACF pairs never cross two windows), for the uncertainty of the
        unconditional headline distances and of their differences
        (:func:`diffrisk.evaluation.paths.bootstrap.headline_bootstrap`).
    inputs : StressInputs
        ``test`` is the held-out reference of the unconditional set; regime thresholds and
        minimum-variance weights use training rows only. The seed drives the coverage
        threshold, the diversity table and the bootstrap.
    compute : Compute, optional
        Where the stage's four parts run (``stress.validate.workers``; default: in this
        process, one after the other): the validation suite and signatures, the bootstrap
        and proper scores, the figures, and the diversity, risk and budget tables; each
        task reads the sets itself. Every output is byte-identical whatever it is.

    Returns
    -------
    dict
        ``validation``, ``signatures``, ``risk``, ``headline``, ``diversity``, ``scores``,
        ``score_summary``, ``budgets`` DataFrames, ``metrics`` dict and ``section`` (Markdown for
        STUDY.md). In ``validation`` an archetype scored against the crisis window its
        request was measured on is labelled in-sample
        (:func:`~diffrisk.evaluation.paths.request_tables.pair_reference_label`).

    Outputs
    -------
    ``reports/tables/stress_validation.{csv,md}``, ``stress_signatures.{csv,md}``,
    ``stress_risk.{csv,md}``, ``stress_headline.{csv,md}``, ``stress_diversity.{csv,md}``
    (mode-collapse diagnostics of every set, :mod:`diffrisk.evaluation.paths.diversity`:
    units and coverage threshold fitted on training and validation windows only),
    ``stress_scores.{csv,md}`` (energy and variogram score of every generator's
    unconditional set against the realised H-day path of each conditioning date,
    :mod:`diffrisk.evaluation.paths.scores`), ``stress_scores_summary.{csv,md}`` (mean
    scores and Diebold–Mariano tests of diffusion against each generator),
    ``stress_budgets.{csv,md}`` (what each generator was given: parameters per network,
    epochs, training time, conditioning, per-request calibration, tuning trials;
    :func:`~diffrisk.stress.budgets.budget_table`, from ``models/stress*.pt``, the training
    records ``models/stress_train*.json`` and the sets' metadata),
    ``stress_section.md``;
    ``reports/figures/stress_corr_heatmaps``,
    ``stress_tail_dependence``, ``stress_fan_charts``, ``stress_acf`` (png + pdf);
    ``reports/metrics/stress.json``.
    """
    parameters = {
        "crisis_windows": crisis_windows,
        "portfolios": portfolios,
        "alphas": alphas,
        "tolerance": tolerance,
        "n_boot": n_boot,
        "bootstrap_block": bootstrap_block,
    }
    settings = stage_settings(parameters, inputs)
    index = settings.index
    compute = compute or Compute()
    parts: dict[str, Any] = {}
    for out in compute.map(run_part, [(p, settings) for p in PARTS], desc="validation parts"):
        parts |= out
    validation, signatures = parts["validation"], parts["signatures"]
    headline, score_summary = parts["headline"], parts["score_summary"]
    out_of_range_map = {
        r["archetype"]: r["out_of_range"] for r in index["sets"] if r["generator"] == "diffusion"
    }
    unc = validation[validation["archetype"] == UNCONDITIONAL].set_index("generator")
    in_range = (signatures["generator"] == "diffusion") & ~signatures["out_of_range"].astype(bool)
    metrics = {
        "unconditional": {
            g: {
                m: float(unc.loc[g, m])
                for m in (
                    "ks_mean",
                    "corr_frobenius",
                    "tail_dep_q05",
                    "tail_dep_q01",
                    "acf_abs_distance",
                    "regime_transition_distance",
                )
            }
            for g in unc.index
        },
        "diffusion_wins_headline": int(
            sum(unc[m].idxmin() == "diffusion" for m in HEADLINE_METRICS)
        )
        if len(unc)
        else 0,
        "signature_relative_error": {
            f"{r.archetype}/{r.component}": float(r.relative_error)
            for r in signatures[signatures["generator"] == "diffusion"].itertuples()
        },
        "signature_within_tolerance": int(
            signatures.loc[signatures["generator"] == "diffusion", "within_tolerance"].sum()
        ),
        "signature_components": int((signatures["generator"] == "diffusion").sum()),
        "signature_within_tolerance_in_range": int(
            signatures.loc[in_range, "within_tolerance"].sum()
        ),
        "signature_components_in_range": int(in_range.sum()),
        "guidance": {
            r.archetype: float(r.guidance)
            for r in signatures[signatures["generator"] == "diffusion"]
            .drop_duplicates("archetype")
            .itertuples()
        },
        "out_of_range": out_of_range_map,
        "headline_share_best": {
            r.metric: float(r.share_best)
            for r in headline.itertuples()
            if len(headline) and r.generator == "diffusion"
        },
        "proper_scores": _proper_score_metrics(score_summary),
    }
    budgets = parts["budgets"]
    section = stress_report_section(
        validation,
        signatures,
        parts["risk"],
        {"out_of_range": out_of_range_map},
        headline,
        score_summary,
        budgets,
    )
    write_table(validation, "stress_validation")
    write_table(signatures, "stress_signatures")
    write_table(parts["risk"], "stress_risk")
    write_table(headline, "stress_headline")
    write_table(parts["diversity"], "stress_diversity")
    write_table(parts["scores"], "stress_scores")
    write_table(score_summary, "stress_scores_summary")
    write_csv_table(paths.tables_dir() / "stress_budgets.csv", budgets)
    io.write_text(paths.tables_dir() / "stress_budgets.md", budget_markdown(budgets))
    io.write_text(paths.tables_dir() / "stress_section.md", section)
    io.write_json(paths.metrics_dir() / "stress.json", headline_stress_metrics(metrics), digits=4)
    write_rows(
        paths.metrics_dir() / "stress", stress_rows(metrics["unconditional"], HEADLINE_METRICS)
    )
    return {**parts, "metrics": metrics, "section": section}


def _proper_score_metrics(summary: pd.DataFrame) -> dict[str, Any]:
    """Per score: each generator's mean, the diffusion rank and its DM p-values."""
    out: dict[str, Any] = {}
    for score, grp in summary.groupby("score", sort=False) if len(summary) else ():
        rows = grp.set_index("generator")
        out[str(score)] = {
            "mean": {g: float(v) for g, v in rows["mean"].items()},
            "diffusion_rank": int(rows.loc["diffusion", "rank"])
            if "diffusion" in rows.index
            else None,
            "diffusion_dm_pvalue": {
                g: float(v) for g, v in rows["dm_pvalue"].items() if g != "diffusion"
            },
        }
    return out


def run(*, seed: int, data: Mapping[str, Any], stress: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``stress_validate``: :func:`validate_stress_sets` with its ``dvc.yaml`` parameters."""
    return run_stress_stage(validate_stress_sets, "validate", seed, data, stress)


def headline_stress_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The few numbers ``dvc metrics show`` prints for the stress stages.

    The diffusion set's three headline distances (unconditional set against the held-out
    test period), how many of them it wins, its bootstrap share of wins, its proper scores
    against the realised paths (mean, rank, DM p-values), and how many requested signature
    components it hits within tolerance; the full grid is in
    ``reports/tables/stress_*.csv``.
    """
    diffusion = metrics["unconditional"].get("diffusion", {})
    return {
        "diffusion": {m: diffusion[m] for m in HEADLINE_METRICS if m in diffusion},
        "diffusion_wins_headline": metrics["diffusion_wins_headline"],
        "headline_share_best": metrics["headline_share_best"],
        "proper_scores": metrics.get("proper_scores", {}),
        "signature_within_tolerance_in_range": metrics["signature_within_tolerance_in_range"],
        "signature_components_in_range": metrics["signature_components_in_range"],
    }
