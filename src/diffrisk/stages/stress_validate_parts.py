"""The four parts of stage ``stress_validate``, each a Dask task (or run in process).

Each part reads the stored scenario sets and the returns itself (:func:`read_context`), so
only the stage's parameters travel to a worker and only tables come back:
:func:`validation_part` (the validation suite and the signatures), :func:`score_part` (the
bootstrap of the headline distances and the proper scores), :func:`figure_part` (the
figures, written by the task) and :func:`risk_part` (diversity, downstream risk, budgets).
The stage (:mod:`diffrisk.stages.stress_validate`) joins them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from numpy.typing import NDArray

from diffrisk.core import paths
from diffrisk.core.paths import (
    comparison_checkpoint,
    scenario_set_file,
    stress_checkpoint,
    stress_dir,
)
from diffrisk.evaluation.paths.bootstrap import headline_bootstrap
from diffrisk.evaluation.paths.common import historical_paths
from diffrisk.evaluation.paths.diversity import (
    coverage_threshold,
    diversity_table,
    training_scale,
)
from diffrisk.evaluation.paths.regimes import fit_regime_thresholds
from diffrisk.evaluation.paths.request_tables import (
    pair_reference_label,
    signature_table,
    validation_rows,
)
from diffrisk.evaluation.paths.scores import date_scores, score_comparison, window_overlap
from diffrisk.reporting.stress_figures import write_stress_figures
from diffrisk.risk.portfolio import parse_portfolios, risk_summary
from diffrisk.stages.common import StressInputs, stage_returns
from diffrisk.stress.archetypes import Archetype, CrisisWindow, parse_crisis_windows
from diffrisk.stress.budgets import budget_table
from diffrisk.stress.comparison import COMPARISON_GENERATORS, load_comparison_model
from diffrisk.stress.config import GENERATORS, UNCONDITIONAL
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.scenario_sets import read_scenario_set, read_set_index

logger = logging.getLogger(__name__)

#: Columns of ``reports/tables/stress_risk``, in order.
RISK_COLUMNS: tuple[str, ...] = (
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
)


@dataclass(frozen=True)
class ValidateSettings:
    """What every task of the stage receives: the parameters and its files, resolved.

    A task reads no path of its own (:mod:`diffrisk.core.paths` is resolved in the stage's
    process, :func:`stage_settings`), so it runs the same in any worker; the crisis windows,
    portfolios and tail probabilities arrive parsed.
    """

    windows: list[CrisisWindow]
    weights: dict[str, NDArray]
    levels: list[float]
    tolerance: float
    n_boot: int
    bootstrap_block: int
    inputs: StressInputs
    index: dict[str, Any]
    returns: pd.DataFrame
    set_files: dict[tuple[str, str], Path]
    checkpoints: dict[str, Path]
    train_records: dict[str, Any]
    figures_dir: Path


def stage_settings(parameters: Mapping[str, Any], inputs: StressInputs) -> ValidateSettings:
    """:class:`ValidateSettings` of the stage's parameters (parsed), its index and files.

    ``parameters`` holds the ``stress.validate`` keys of
    :func:`~diffrisk.stages.stress_validate.validate_stress_sets` (``workers`` aside).

    Raises, before any task starts: ``FileNotFoundError`` naming the stage to run when the
    stress sets have not been written; ``ValueError`` from :func:`parse_crisis_windows` or
    :func:`parse_portfolios` naming a bad window or ticker.
    """
    index = read_set_index(stress_dir())
    records = {"diffusion": json.loads((paths.models_dir() / "stress_train.json").read_text())}
    records |= json.loads((paths.models_dir() / "stress_train_comparison.json").read_text())
    splits, returns = inputs.splits, stage_returns(index_name=inputs.index_name)
    train = returns.loc[returns.index <= splits.train_end]
    return ValidateSettings(
        windows=parse_crisis_windows(
            parameters["crisis_windows"], splits.train_end, splits.test_start
        ),
        weights=parse_portfolios(parameters["portfolios"], list(returns.columns), train),
        levels=[float(a) for a in str(parameters["alphas"]).split(",") if a.strip()],
        tolerance=float(parameters["tolerance"]),
        n_boot=int(parameters["n_boot"]),
        bootstrap_block=int(parameters["bootstrap_block"]),
        inputs=inputs,
        index=index,
        returns=returns,
        set_files={
            (r["generator"], r["archetype"]): scenario_set_file(r["generator"], r["archetype"])
            for r in index["sets"]
        },
        checkpoints={"diffusion": stress_checkpoint()}
        | {k: comparison_checkpoint(k) for k in COMPARISON_GENERATORS},
        train_records=records,
        figures_dir=paths.figures_dir(),
    )


def budgets_table(
    sets: Mapping[tuple[str, str], tuple[NDArray, dict]], settings: ValidateSettings
) -> pd.DataFrame:
    """The budget table from the checkpoints, the training records and the sets' metadata.

    Without wall-clock columns: the committed table changes only when a number does.
    """
    trained: dict[str, Any] = {"diffusion": load_stress_model(settings.checkpoints["diffusion"])}
    trained |= {k: load_comparison_model(settings.checkpoints[k], k) for k in COMPARISON_GENERATORS}
    metadata = {k: v[1] for k, v in sets.items()}
    n_assets = len(settings.returns.columns)
    return budget_table(trained, settings.train_records, metadata, n_assets, wall_times=False)


@dataclass(frozen=True)
class ValidateContext:
    """What the stage's parts compute from: the stored sets, the returns and the references."""

    archetypes: list[Archetype]
    sets: dict[tuple[str, str], tuple[NDArray, dict]]
    returns: pd.DataFrame
    horizon: int
    train: pd.DataFrame
    windows: list[CrisisWindow]
    references: dict[str, tuple[pd.DataFrame, str]]
    generators: list[str]
    pairs: list[tuple[str, str, str]]

    @property
    def unconditional(self) -> dict[str, tuple[NDArray, dict]]:
        """Each generator's unconditional set (with its metadata), in generator order."""
        return {
            g: self.sets[(g, UNCONDITIONAL)]
            for g in self.generators
            if (g, UNCONDITIONAL) in self.sets
        }


def read_context(settings: ValidateSettings) -> ValidateContext:
    """Read the stored sets and build the references (each task reads the sets itself)."""
    index = settings.index
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
    sets = {key: read_scenario_set(path) for key, path in settings.set_files.items()}
    splits, returns = settings.inputs.splits, settings.returns
    windows = settings.windows
    references = {"test": (returns.loc[splits.dates(returns, "test")], "held out")}
    references |= {w.name: (returns.loc[w.first : w.last], w.label) for w in windows}
    present = {g for g, _ in sets}
    generators = [g for g in (*GENERATORS, *COMPARISON_GENERATORS) if g in present]
    pairs = []
    for arch in archetypes:
        refs = ["test"] if arch.name == UNCONDITIONAL else [w.name for w in windows]
        pairs += [(g, arch.name, r) for g in generators for r in refs if (g, arch.name) in sets]
    return ValidateContext(
        archetypes=archetypes,
        sets=sets,
        returns=returns,
        horizon=int(index["horizon"]),
        train=returns.loc[returns.index <= splits.train_end],
        windows=windows,
        references=references,
        generators=generators,
        pairs=pairs,
    )


def validation_part(ctx: ValidateContext, settings: ValidateSettings) -> dict[str, pd.DataFrame]:
    """The validation suite of every (generator, archetype, reference) and the signatures."""
    thresholds = fit_regime_thresholds(ctx.train)
    arrays = {k: v[0] for k, v in ctx.sets.items()}
    validation = validation_rows(arrays, ctx.references, ctx.pairs, thresholds)
    arch_windows = {a.name: a.window for a in ctx.archetypes}
    by_name = {w.name: w for w in ctx.windows}
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
    signatures = signature_table(ctx.sets, ctx.archetypes, settings.tolerance, ctx.generators)
    return {"validation": validation, "signatures": signatures}


def score_part(ctx: ValidateContext, settings: ValidateSettings) -> dict[str, pd.DataFrame]:
    """The bootstrap of the headline distances and the proper scores of the unconditional sets."""
    test = ctx.references["test"][0]
    unconditional = ctx.unconditional
    headline = (
        headline_bootstrap(
            {g: v[0] for g, v in unconditional.items()},
            test,
            n_boot=int(settings.n_boot),
            block=int(settings.bootstrap_block),
            seed=int(settings.inputs.seed),
        )
        if unconditional
        else pd.DataFrame()
    )
    scores = date_scores(unconditional, test) if unconditional else pd.DataFrame()
    overlap = window_overlap(scores["date"].unique(), test.index, ctx.horizon) if len(scores) else 0
    score_summary = score_comparison(scores, overlap=overlap) if len(scores) else pd.DataFrame()
    return {"headline": headline, "scores": scores, "score_summary": score_summary}


def risk_part(ctx: ValidateContext, settings: ValidateSettings) -> dict[str, pd.DataFrame]:
    """Mode-collapse diagnostics, the downstream risk of every set and window, the budgets."""
    splits, seed, h = settings.inputs.splits, int(settings.inputs.seed), ctx.horizon
    scale = training_scale(ctx.train)
    threshold = coverage_threshold(
        historical_paths(ctx.train, h),
        historical_paths(ctx.returns.loc[splits.dates(ctx.returns, "validation")], h),
        scale,
        seed=seed,
    )
    diversity = diversity_table(
        {k: v[0] for k, v in ctx.sets.items()},
        {name: historical_paths(ref, h) for name, (ref, _) in ctx.references.items()},
        ctx.pairs,
        scale,
        threshold,
        seed=seed,
    )
    weights, levels = settings.weights, settings.levels
    risk_parts = []
    for (gen, arch), (paths_, _) in ctx.sets.items():
        risk_parts.append(
            risk_summary(paths_, weights, levels).assign(
                source=f"{gen} / {arch}", generator=gen, archetype=arch
            )
        )
    for name, (ref, label) in ctx.references.items():
        risk_parts.append(
            risk_summary(historical_paths(ref, h), weights, levels).assign(
                source=f"historical {name} ({label})", generator="historical", archetype=name
            )
        )
    risk_table = pd.concat(risk_parts, ignore_index=True)[list(RISK_COLUMNS)]
    budgets = budgets_table(ctx.sets, settings)
    return {"diversity": diversity, "risk": risk_table, "budgets": budgets}


def figure_part(ctx: ValidateContext, settings: ValidateSettings) -> dict[str, Any]:
    """The stage's figures, written (png + pdf); their paths."""
    figures = write_stress_figures(
        ctx.sets,
        ctx.archetypes,
        ctx.references,
        ctx.windows,
        ctx.returns,
        ctx.horizon,
        out_dir=settings.figures_dir,
    )
    return {"figures": figures}


#: The stage's parts, longest first, so that two workers finish together (on the default
#: data, idle: about 16, 12, 10 and 6 s of a task each, the sets' reading included).
PARTS: tuple[Callable[[ValidateContext, ValidateSettings], dict[str, Any]], ...] = (
    validation_part,
    score_part,
    risk_part,
    figure_part,
)


def run_part(
    job: tuple[Callable[[ValidateContext, ValidateSettings], dict[str, Any]], ValidateSettings],
) -> dict[str, Any]:
    """One task of the stage: read the inputs, compute one part (a Dask task or in process)."""
    part, settings = job
    tic = time.perf_counter()
    out = part(read_context(settings), settings)
    logger.info("stress_validate: %s in %.1f s", part.__name__, time.perf_counter() - tic)
    return out
