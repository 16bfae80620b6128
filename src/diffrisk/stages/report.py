"""Stage ``report``.

``reports/STUDY.md`` from the tables (the headline first, failures included; the seed
ensemble; the known-truth simulation), and HTML of every executed notebook.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import pandas as pd

from diffrisk.core import audit, paths
from diffrisk.core.params import parse_list
from diffrisk.data.returns import load_returns
from diffrisk.data.splits import Splits
from diffrisk.reporting.distill_text import distill_paragraph, stress_distill_paragraph
from diffrisk.reporting.formatting import window_label
from diffrisk.reporting.headline_text import (
    ensemble_paragraph,
    selection_paragraph,
    simulation_paragraph,
)
from diffrisk.reporting.notebook_html import render_notebooks_html
from diffrisk.reporting.stress_extensions import stress_extensions_section
from diffrisk.reporting.study_report import figure_caption, figure_fields, write_study_report
from diffrisk.reporting.style import FIGURE_STEMS, TABLE_STEMS, pct_text
from diffrisk.stages.common import load_selection, read_backtest_table
from diffrisk.stages.student_choice import use_student

STRESS_FIGURES: tuple[str, ...] = (
    "stress_corr_heatmaps",
    "stress_tail_dependence",
    "stress_fan_charts",
    "stress_acf",
)
#: Figures of the audit and segment stages, shown under their section.
STRESS_EXTENSION_FIGURES: tuple[str, ...] = (
    "stress_adversarial",
    "stress_segments",
    "reverse_stress",
)
#: Tables pasted into that section, and the stage that writes each.
STRESS_EXTENSION_TABLES: dict[str, str] = {
    "stress_diversity": "stress_validate",
    "stress_adversarial": "stress_audit",
    "stress_drift": "stress_walk_forward",
    "stress_segments_summary": "stress_segments",
    "reverse_stress_scores": "reverse_stress",
}


def _stress_extensions() -> str:
    """The section on mode collapse, the audit, retraining, segments and reverse stress."""
    metrics = {}
    for stem, stage in (
        ("stress_adversarial", "stress_audit"),
        ("stress_drift", "stress_walk_forward"),
        ("stress_segments", "stress_segments"),
        ("reverse_stress", "reverse_stress"),
    ):
        metrics[stem] = _metrics(stem, stage)
    return stress_extensions_section(
        diversity=pd.read_csv(paths.tables_dir() / "stress_diversity.csv"),
        adversarial=metrics["stress_adversarial"],
        drift=metrics["stress_drift"],
        segments=metrics["stress_segments"],
        reverse=metrics["reverse_stress"],
        tables={stem: _table_text(stem, stage) for stem, stage in STRESS_EXTENSION_TABLES.items()},
    )


def _stress_distill_text() -> str:
    """The stress student's paragraph, with its table when the stage built one."""
    metrics = _metrics("stress_distill", "stress_distill")
    text = stress_distill_paragraph(metrics)
    if metrics["enabled"]:
        text += "\n\n" + _table_text("stress_distill", "stress_distill")
    return text


def _table_text(stem: str, stage: str) -> str:
    """``reports/tables/<stem>.md`` (``FileNotFoundError`` naming the stage that writes it)."""
    path = paths.tables_dir() / f"{stem}.md"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the {stage} stage first")
    return path.read_text(encoding="utf-8").strip()


def _metrics(stem: str, stage: str) -> dict[str, Any]:
    """``reports/metrics/<stem>.json`` (``FileNotFoundError`` naming the stage that writes it)."""
    path = paths.metrics_dir() / f"{stem}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the {stage} stage first")
    return json.loads(path.read_text(encoding="utf-8"))


def _simulation_summary() -> pd.DataFrame:
    """The known-truth summary at full precision (``data/simulation.parquet``)."""
    path = paths.data_dir() / "simulation.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the simulate stage first")
    return pd.read_parquet(path)


def stress_caption_fields(stress: Mapping[str, Any]) -> dict[str, str]:
    """The stress figures' caption fields from the ``stress`` section of the parameters.

    ``horizon`` (days of a path), ``reverse_es`` (the reverse stress test's ES level),
    ``audit_relief`` (the audit's relief threshold) and ``segments_es`` (the segment
    study's ES level); see :func:`diffrisk.reporting.study_report.figure_caption`.
    """
    return {
        "horizon": str(int(stress["model"]["horizon"])),
        "reverse_es": pct_text(stress["reverse"]["es_alpha"]),
        "audit_relief": pct_text(stress["audit"]["min_relief"]),
        "segments_es": pct_text(stress["segments"]["alpha"]),
    }


def write_report(
    *,
    params: Mapping[str, Any],
    splits: Splits,
    headline: str | Sequence[str],
    benchmark: str,
    crash_start: str,
    crash_end: str,
    seed: int,
) -> dict[str, Any]:
    """Run the ``report`` stage: ``reports/STUDY.md`` and HTML renderings of the notebooks.

    Parameters
    ----------
    params : mapping
        The study's parameters (recorded in the provenance block).
    splits : Splits
        For the test period shown in the report.
    headline : str or sequence of str
        Series discussed.
    benchmark : str
        The Diebold–Mariano reference method (``coverage.benchmark``).
    crash_start, crash_end : str
        The headline's crash window (``coverage.crash_start``, ``coverage.crash_end``).
    seed : int

    Returns
    -------
    dict
        ``path`` (STUDY.md) and ``html`` (rendered notebooks).
    """
    backtests = read_backtest_table("backtests")
    dm = read_backtest_table("diebold_mariano")
    head = read_backtest_table("headline")
    ensemble = read_backtest_table("ensemble")
    ensemble_text = ensemble_paragraph(ensemble)
    if not ensemble.empty:
        ensemble_text = _table_text("ensemble", "coverage") + "\n\n" + ensemble_text
    selection = pd.read_csv(paths.tables_dir() / "selection.csv")
    sections = [
        ("Nested validation (select stage)", selection_paragraph(load_selection(), selection)),
        ("Seed ensemble", ensemble_text),
        (
            "Known truth",
            _table_text("simulation", "simulate")
            + "\n\n"
            + simulation_paragraph(_simulation_summary()),
        ),
        (
            "Few-step sampler (distill stage)",
            distill_paragraph(
                _metrics("distill", "distill"), use_student(params["generate"]["student"])
            )
            + "\n\n"
            + _table_text("distill", "distill")
            + "\n\n"
            + _table_text("distill_verdicts", "distill")
            + "\n\n"
            + _table_text("distill_solver", "distill"),
        ),
        ("Few-step stress sampler (stress_distill stage)", _stress_distill_text()),
    ]
    crash_label = window_label(crash_start, crash_end)
    caption_fields = stress_caption_fields(params["stress"])
    html = render_notebooks_html(
        paths.executed_notebooks_dir(),
        paths.reports_dir() / "html",
        alt_text=partial(
            figure_caption,
            series=parse_list(headline),
            fields=figure_fields(crash_label, caption_fields),
        ),
    )
    stress_section = paths.tables_dir() / "stress_section.md"
    needed = [stress_section] + [paths.figures_dir() / f"{stem}.png" for stem in STRESS_FIGURES]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing} do not exist: run the stress_validate stage first")
    closing = [
        (stress_section.read_text(encoding="utf-8"), STRESS_FIGURES),
        (_stress_extensions(), STRESS_EXTENSION_FIGURES),
    ]
    test_dates = splits.dates(load_returns(), "test")
    record = audit.provenance(dict(params), seed, audit.recorded_data_hash())
    extra_figures = [f"{stem}_{name}" for name in parse_list(headline)[1:] for stem in FIGURE_STEMS]
    path = write_study_report(
        backtests,
        record,
        dm_table=dm,
        tables=TABLE_STEMS,
        figures=(*FIGURE_STEMS, *extra_figures),
        paper_figures_dir=paths.paper_figures_dir(),
        notebooks=sorted(paths.notebooks_dir().glob("*.ipynb")),
        test_period=(test_dates[0], test_dates[-1]),
        series=parse_list(headline),
        benchmark=benchmark,
        headline=head,
        crash_label=crash_label,
        caption_fields=caption_fields,
        extra_sections=sections,
        closing_sections=closing,
    )
    return {"path": path, "html": html}


def run(*, params: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``report``: :func:`write_report` with its ``dvc.yaml`` parameters."""
    data = params["data"]
    return write_report(
        params=params,
        splits=Splits.from_mapping(data),
        headline=data["series"],
        benchmark=params["coverage"]["benchmark"],
        crash_start=params["coverage"]["crash_start"],
        crash_end=params["coverage"]["crash_end"],
        seed=params["seed"],
    )
