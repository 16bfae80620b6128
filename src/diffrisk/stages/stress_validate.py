"""Stage ``stress_validate``.

The validation suite, signatures and downstream risk of the stress sets. Writes
``reports/tables/stress_*.{csv,md}``, ``stress_section.md``, the stress figures and
``reports/metrics/stress.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from numpy.typing import NDArray

from diffrisk.core import io, paths
from diffrisk.core.paths import (
    comparison_checkpoint,
    scenario_set_file,
    stress_checkpoint,
    stress_dir,
)
from diffrisk.core.tables import write_csv_table, write_table
from diffrisk.evaluation.paths.bootstrap import HEADLINE_METRICS, headline_bootstrap
from diffrisk.evaluation.paths.common import historical_paths
from diffrisk.evaluation.paths.diversity import (
    coverage_threshold,
    diversity_table,
    training_scale,
)
from diffrisk.evaluation.paths.regimes import fit_regime_thresholds
from diffrisk.evaluation.paths.scores import date_scores, score_comparison, window_overlap
from diffrisk.evaluation.paths.suite import (
    pair_reference_label,
    signature_table,
    validation_rows,
)
from diffrisk.reporting.headline_metrics import stress_rows, write_rows
from diffrisk.reporting.stress_figures import (
    figure_acf,
    figure_corr_heatmaps,
    figure_fan_charts,
    figure_tail_dependence,
)
from diffrisk.reporting.stress_report import stress_report_section
from diffrisk.reporting.style import save_figure
from diffrisk.risk.portfolio import parse_portfolios, risk_summary
from diffrisk.stages.common import StressInputs, stage_returns, stress_inputs
from diffrisk.stress.archetypes import Archetype, CrisisWindow, parse_crisis_windows
from diffrisk.stress.budgets import budget_markdown, budget_table
from diffrisk.stress.comparison import COMPARISON_GENERATORS, load_comparison_model
from diffrisk.stress.config import GENERATORS, UNCONDITIONAL
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.scenario_sets import read_scenario_set


def _load_sets(index: Mapping[str, Any]) -> dict[tuple[str, str], tuple[NDArray, dict]]:
    return {
        (r["generator"], r["archetype"]): read_scenario_set(
            scenario_set_file(r["generator"], r["archetype"])
        )
        for r in index["sets"]
    }


def _budgets(sets: Mapping[tuple[str, str], tuple[NDArray, dict]], n_assets: int) -> pd.DataFrame:
    """The budget table from the checkpoints, the training records and the sets' metadata.

    Without wall-clock columns: the committed table changes only when a number does.
    """
    trained: dict[str, Any] = {"diffusion": load_stress_model(stress_checkpoint())}
    trained |= {
        k: load_comparison_model(comparison_checkpoint(k), k) for k in COMPARISON_GENERATORS
    }
    records = {"diffusion": json.loads((paths.models_dir() / "stress_train.json").read_text())}
    records |= json.loads((paths.models_dir() / "stress_train_comparison.json").read_text())
    metadata = {k: v[1] for k, v in sets.items()}
    return budget_table(trained, records, metadata, n_assets, wall_times=False)


def validate_stress_sets(
    *,
    crisis_windows: str,
    portfolios: str,
    alphas: str,
    tolerance: float,
    n_boot: int,
    bootstrap_block: int,
    inputs: StressInputs,
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

    Returns
    -------
    dict
        ``validation``, ``signatures``, ``risk``, ``headline``, ``diversity``, ``scores``,
        ``score_summary``, ``budgets`` DataFrames, ``metrics`` dict and ``section`` (Markdown for
        STUDY.md). In ``validation`` an archetype scored against the crisis window its
        request was measured on is labelled in-sample
        (:func:`~diffrisk.evaluation.paths.suite.pair_reference_label`).

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
    index_file = stress_dir() / "index.json"
    if not index_file.is_file():
        raise FileNotFoundError(f"{index_file} does not exist: run the stress_generate stage")
    index = json.loads(index_file.read_text())
    archetypes = [
        Archetype(
            a["name"],
            a["signature"],
            tuple(a["window"]) if a["window"] else None,
            a["as_of"],
            a["source"],
        )
        for a in index["archetypes"]
    ]
    sets = _load_sets(index)
    splits, seed = inputs.splits, inputs.seed
    returns = stage_returns(index_name=inputs.index_name)
    h = int(index["horizon"])
    train = returns.loc[returns.index <= splits.train_end]
    thresholds = fit_regime_thresholds(train)
    windows = parse_crisis_windows(crisis_windows, splits.train_end, splits.test_start)
    test = returns.loc[splits.dates(returns, "test")]
    references = {"test": (test, "held out")}
    references |= {w.name: (returns.loc[w.first : w.last], w.label) for w in windows}
    present = {g for g, _ in sets}
    generators = [g for g in (*GENERATORS, *COMPARISON_GENERATORS) if g in present]
    pairs = []
    for arch in archetypes:
        refs = ["test"] if arch.name == UNCONDITIONAL else [w.name for w in windows]
        pairs += [(g, arch.name, r) for g in generators for r in refs if (g, arch.name) in sets]
    validation = validation_rows({k: v[0] for k, v in sets.items()}, references, pairs, thresholds)
    arch_windows = {a.name: a.window for a in archetypes}
    by_name = {w.name: w for w in windows}
    validation["reference_label"] = [
        pair_reference_label(arch_windows.get(a), by_name[r].first, by_name[r].last, label)
        if r in by_name
        else label
        for a, r, label in zip(
            validation["archetype"],
            validation["reference"],
            validation["reference_label"],
            strict=True,
        )
    ]
    signatures = signature_table(sets, archetypes, tolerance, generators)
    unconditional = {
        g: sets[(g, UNCONDITIONAL)][0] for g in generators if (g, UNCONDITIONAL) in sets
    }
    scale = training_scale(train)
    threshold = coverage_threshold(
        historical_paths(train, h),
        historical_paths(returns.loc[splits.dates(returns, "validation")], h),
        scale,
        seed=int(seed),
    )
    diversity = diversity_table(
        {k: v[0] for k, v in sets.items()},
        {name: historical_paths(ref, h) for name, (ref, _) in references.items()},
        pairs,
        scale,
        threshold,
        seed=int(seed),
    )
    headline = (
        headline_bootstrap(
            unconditional, test, n_boot=int(n_boot), block=int(bootstrap_block), seed=int(seed)
        )
        if unconditional
        else pd.DataFrame()
    )
    unconditional_sets = {g: sets[(g, UNCONDITIONAL)] for g in generators if g in unconditional}
    scores = date_scores(unconditional_sets, test) if unconditional_sets else pd.DataFrame()
    overlap = window_overlap(scores["date"].unique(), test.index, h) if len(scores) else 0
    score_summary = score_comparison(scores, overlap=overlap) if len(scores) else pd.DataFrame()

    levels = [float(a) for a in str(alphas).split(",") if a.strip()]
    weights = parse_portfolios(portfolios, list(returns.columns), train)
    risk_parts = []
    for (gen, arch), (paths_, _) in sets.items():
        risk_parts.append(
            risk_summary(paths_, weights, levels).assign(
                source=f"{gen} / {arch}", generator=gen, archetype=arch
            )
        )
    for name, (ref, label) in references.items():
        hist = historical_paths(ref, h)
        risk_parts.append(
            risk_summary(hist, weights, levels).assign(
                source=f"historical {name} ({label})", generator="historical", archetype=name
            )
        )
    risk_table = pd.concat(risk_parts, ignore_index=True)
    risk_table = risk_table[
        [
            "source",
            "generator",
            "archetype",
            "portfolio",
            "alpha",
            "n_paths",
            "mean_return",
            "var",
            "es",
            "cdar",
        ]
    ]

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
    budgets = _budgets(sets, len(returns.columns))
    section = stress_report_section(
        validation,
        signatures,
        risk_table,
        {"out_of_range": out_of_range_map},
        headline,
        score_summary,
        budgets,
    )
    write_table(validation, "stress_validation")
    write_table(signatures, "stress_signatures")
    write_table(risk_table, "stress_risk")
    write_table(headline, "stress_headline")
    write_table(diversity, "stress_diversity")
    write_table(scores, "stress_scores")
    write_table(score_summary, "stress_scores_summary")
    write_csv_table(paths.tables_dir() / "stress_budgets.csv", budgets)
    io.write_text(paths.tables_dir() / "stress_budgets.md", budget_markdown(budgets))
    io.write_text(paths.tables_dir() / "stress_section.md", section)
    io.write_json(paths.metrics_dir() / "stress.json", headline_stress_metrics(metrics), digits=4)
    write_rows(
        paths.metrics_dir() / "stress", stress_rows(metrics["unconditional"], HEADLINE_METRICS)
    )
    figures = _write_figures(sets, archetypes, references, windows, returns, h)
    return {
        "validation": validation,
        "signatures": signatures,
        "risk": risk_table,
        "headline": headline,
        "diversity": diversity,
        "scores": scores,
        "score_summary": score_summary,
        "budgets": budgets,
        "metrics": metrics,
        "figures": figures,
        "section": section,
    }


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


def _write_figures(
    sets: Mapping[tuple[str, str], tuple[NDArray, dict]],
    archetypes: Sequence[Archetype],
    references: Mapping[str, tuple],
    windows: Sequence[CrisisWindow],
    returns: pd.DataFrame,
    h: int,
) -> dict[str, tuple[Path, Path]]:
    assets = list(returns.columns)
    test = references["test"][0].to_numpy()
    has_unc = ("diffusion", UNCONDITIONAL) in sets
    panels: list[tuple[str, NDArray]] = []
    if has_unc:
        panels += [("historical test", test)] + [
            (f"{g} unconditional", sets[(g, UNCONDITIONAL)][0]) for g in GENERATORS
        ]
    for w in windows:
        match = [a for a in archetypes if a.window and a.window[0] <= w.first <= a.window[1]]
        if match:
            panels += [(f"historical {w.name}", references[w.name][0].to_numpy())] + [
                (f"{g} {match[0].name}", sets[(g, match[0].name)][0]) for g in GENERATORS
            ]
    figures = {}
    if panels:
        figures["stress_corr_heatmaps"] = figure_corr_heatmaps(panels, assets)
    if has_unc:
        figures["stress_tail_dependence"] = figure_tail_dependence(
            [(f"{g} unconditional", sets[(g, UNCONDITIONAL)][0], test) for g in GENERATORS]
        )
        lag = min(5, h - 1)
        figures["stress_acf"] = figure_acf(
            [("historical test", historical_paths(test, h))]
            + [(f"{g} unconditional", sets[(g, UNCONDITIONAL)][0]) for g in GENERATORS],
            lag,
        )
    fans = []
    for arch in archetypes:
        realised = None
        if arch.window and arch.as_of:
            start = returns.index.searchsorted(pd.Timestamp(arch.as_of))
            block = returns.iloc[start : start + h]
            realised = block.to_numpy()[None] if len(block) == h else None
        fans.append((arch.name, sets[("diffusion", arch.name)][0], realised))
    figures["stress_fan_charts"] = figure_fan_charts(fans)
    return {stem: save_figure(fig, stem) for stem, fig in figures.items()}


def run(*, seed: int, data: Mapping[str, Any], stress: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``stress_validate``: :func:`validate_stress_sets` with its ``dvc.yaml`` parameters."""
    return validate_stress_sets(**stress["validate"], inputs=stress_inputs(seed, data))


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
