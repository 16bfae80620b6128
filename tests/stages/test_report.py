"""Tests of the report stage (diffrisk.stages.report): STUDY.md opens with the headline."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest

from diffrisk.core import paths
from diffrisk.reporting.style import FIGURE_STEMS
from diffrisk.stages import coverage, cvar_tables, report
from diffrisk.study.simulation_scoring import SUMMARY_COLUMNS
from tests.reporting.test_stress_extensions import (
    ADVERSARIAL,
    DIVERSITY,
    DRIFT,
    REVERSE,
    SEGMENTS,
)
from tests.stages.test_coverage import COVERAGE, HEADS, N_DAYS, SEED, write_coverage_inputs

#: the ``stress`` parameters the report reads (the stress figures' caption fields)
#: generate.student of the report's runs (the distill stage's decision decides).
GENERATE = {"student": "auto"}
STRESS = {
    "model": {"horizon": 10},
    "reverse": {"es_alpha": 0.025},
    "audit": {"min_relief": 0.2},
    "segments": {"alpha": 0.05},
}

DATA = {
    "train_end": "2018-12-31",
    "val_start": "2019-01-01",
    "val_end": "2019-10-31",
    "test_start": "2019-11-01",
    "test_end": "",
    "series": HEADS,
}

#: The parameters of every report run.
PARAMS = {"seed": SEED, "data": DATA, "coverage": COVERAGE, "stress": STRESS, "generate": GENERATE}


def simulation_summary() -> pd.DataFrame:
    rows = []
    for m, within in (("true", 5), ("fhs", 5), ("ddpm", 2)):
        for a in (0.05, 0.025, 0.01):
            rows.append(
                {
                    "method": m,
                    "alpha": a,
                    "n_paths": 5,
                    "n_obs": 1006,
                    "excess_fz0_mean": 0.0 if m == "true" else 0.02,
                    "excess_fz0_sd": 0.01,
                    "excess_fz0_min": 0.0,
                    "excess_fz0_max": 0.04,
                    "n_within_noise": within,
                    "n_kupiec_pass": 4,
                    "exception_rate_mean": a,
                }
            )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


@pytest.fixture
def project(project_tmp):
    """Every input of the report stage: the coverage and cvar_tables outputs, figures,
    notebooks, the stress section and the known-truth summary."""
    write_coverage_inputs()
    coverage.run(seed=SEED, coverage=COVERAGE, data={"series": HEADS})
    cvar_tables.run(coverage=COVERAGE)
    dates = pd.bdate_range("2019-11-01", periods=N_DAYS)
    returns = pd.DataFrame({"portfolio": 0.0, "sp500": 0.0}, index=dates.rename("date"))
    paths.returns_file().parent.mkdir(parents=True, exist_ok=True)
    returns.to_parquet(paths.returns_file())
    (paths.metrics_dir() / "data.json").write_text(json.dumps({"data_sha256": "abc"}))
    paths.paper_figures_dir().mkdir(parents=True, exist_ok=True)
    figures = [
        *((paths.paper_figures_dir(), stem) for stem in FIGURE_STEMS),
        *((paths.paper_figures_dir(), f"{stem}_sp500") for stem in FIGURE_STEMS),
        *((paths.figures_dir(), stem) for stem in report.STRESS_FIGURES),
        *((paths.figures_dir(), stem) for stem in report.STRESS_EXTENSION_FIGURES),
    ]
    for folder, stem in figures:
        for ext in ("png", "pdf"):
            (folder / f"{stem}.{ext}").write_bytes(b"figure")
    (paths.tables_dir() / "stress_section.md").write_text("## Stress scenarios\n\nStress text.")
    DIVERSITY.to_csv(paths.tables_dir() / "stress_diversity.csv", index=False)
    for stem in report.STRESS_EXTENSION_TABLES:
        (paths.tables_dir() / f"{stem}.md").write_text(f"| {stem} |")
    for stem, metrics in (
        ("stress_adversarial", ADVERSARIAL),
        ("stress_drift", DRIFT),
        ("stress_segments", SEGMENTS),
        ("reverse_stress", REVERSE),
    ):
        (paths.metrics_dir() / f"{stem}.json").write_text(json.dumps(metrics))
    decisions = json.loads(paths.selection_file().read_text())
    decisions.update(
        rule="lowest mean FZ0 wins",
        rehearsal={"train_end": "2014-12-31", "select": "a ... b", "score": "c ... d"},
        final_refit=False,
        n_steps=20,
        order=2,
        members=2,
    )
    paths.selection_file().write_text(json.dumps(decisions))
    pd.DataFrame(
        {
            "decision": "primary",
            "candidate": decisions["primary_method"],
            "series": ["portfolio", "portfolio"],
            "alpha": [0.05, 0.01],
            "n_obs": 100,
            "n_exceptions": [5, 1],
            "fz0_mean": [-3.5, -3.1],
        }
    ).to_csv(paths.tables_dir() / "selection.csv", index=False)
    summary = simulation_summary()
    summary.to_parquet(paths.data_dir() / "simulation.parquet")
    (paths.tables_dir() / "simulation.md").write_text("**Table S1. Known-truth simulation.**")
    distill = {"sampler": "student", "n_seeds": 4, "student_steps": 3, "teacher_steps": 20,
               "teacher_order": 2,
               "validation": {"figures_within": 18, "figures": 18, "verdicts_equal": True},
               "test": {"figures_within": 17, "figures": 18, "verdicts_equal": False}}  # fmt: skip
    (paths.metrics_dir() / "distill.json").write_text(json.dumps(distill))
    (paths.tables_dir() / "distill.md").write_text("| period | figure |")
    (paths.tables_dir() / "distill_verdicts.md").write_text("| period | same |")
    (paths.tables_dir() / "distill_solver.md").write_text("**Table D3.** | steps | within |")
    stress_distill = {"enabled": True, "sampler": "teacher", "student_steps": 4,
                      "teacher_steps": 20, "validation": {"figures_within": 10, "figures": 11},
                      "test": {"figures_within": 11, "figures": 11}}  # fmt: skip
    (paths.metrics_dir() / "stress_distill.json").write_text(json.dumps(stress_distill))
    (paths.tables_dir() / "stress_distill.md").write_text("| period | set | figure |")
    paths.executed_notebooks_dir().mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(), paths.executed_notebooks_dir() / "06_coverage.ipynb")
    return project_tmp


def test_study_opens_with_the_headline_and_names_the_failures(project):
    out = report.run(params=PARAMS)
    text = out["path"].read_text()
    headline_md = (paths.tables_dir() / "headline.md").read_text().strip()
    head = text.split("## Headline\n\n", 1)[1].split("\n## Results", 1)[0]
    assert head.startswith(headline_md)
    assert "The primary method, `ddpm_ens` (chosen on the validation period" in head
    assert "at most 3 exceptions at 1% in Feb–Apr 2020" in head
    assert "Unmet criteria of the goal, by method" in head
    results = text.split("## Results", 1)[1].split("## Figures", 1)[0]
    assert "### Nested validation (select stage)\n\nRule, fixed before any result" in results
    ensemble_md = (paths.tables_dir() / "ensemble.md").read_text().strip()
    assert f"### Seed ensemble\n\n{ensemble_md}\n\nSeed ensemble. portfolio at α = 5%" in results
    assert "### Known truth\n\n**Table S1. Known-truth simulation.**" in results
    few = results.split("### Few-step sampler (distill stage)\n\n", 1)[1]
    assert few.startswith("A 3-step student of the one-day model was distilled from its sampler")
    assert (
        "On validation: 18 of 18 figures within the bound, every backtest verdict equal, so " in few
    )
    assert "On test (reported, not used to choose): 17 of 18 figures within the bound, a " in few
    assert "| period | figure |\n\n| period | same |\n\n**Table D3.** | steps | within |" in few
    # auto with the rule's "student": the forecasts are the students'
    assert "The study's forecasts are drawn by 3-step students (the rule's choice, " in few
    stress_few = few.split("### Few-step stress sampler (stress_distill stage)\n\n", 1)[1]
    assert stress_few.startswith("A 4-step student of the stress model was distilled")
    assert "On validation 10 of 11 figures lie within the bound, so the student fails" in stress_few
    assert "the teacher either way.\n\n| period | set | figure |" in stress_few
    # 2 of 5 paths within noise: the report must not claim "within noise on most paths"
    assert "So `ddpm` is not within noise of the true law on most paths" in results
    assert "([PDF](figures/stress_acf.pdf))\n\n### Mode collapse (every generator)" in text
    stress = text.split("## Stress scenarios", 1)[1].split("\n## References", 1)[0]
    assert stress.rstrip().endswith("([PDF](figures/reverse_stress.pdf))")
    # the captions carry this run's levels and horizon (STRESS), not the defaults'
    assert "the diffusion model's 2.5% ES of the 10-day loss" in stress
    assert "generated 10-day 5% ES" in stress and "more than 20% relief" in stress
    assert "crash window (Feb–Apr 2020) shaded" in text
    assert "### Reverse stress testing\n\nHeadline request" in stress
    # the paper figures from the figures stage's directory output, the first series first
    for number, stem in enumerate((*FIGURE_STEMS, *(f"{s}_sp500" for s in FIGURE_STEMS)), 1):
        assert f"![Figure {number}: {stem}](figures/paper/{stem}.png)" in text
    # 3 paper figures per series, then the 4 stress and 2 extension figures, numbered on
    assert "**Figure 7.** Correlation matrices" in stress and "**Figure 12.**" in stress
    appendix = text.split("## Appendix: provenance and parameters", 1)[1]
    assert '"benchmark": "fhs"' in appendix and "## " not in appendix
    assert "](html/" not in text
    assert "## Stress scenarios\n\nStress text." in text
    assert "### Adversarial-request audit (capital-relief attack)\n\nMean relief" in text
    assert "| stress_drift |" in text and "worst-covered segment is LLY" in text
    assert [p.name for p in out["html"]] == ["06_coverage.html"]


def test_report_needs_the_simulation_summary(project):
    (paths.data_dir() / "simulation.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="run the simulate stage first"):
        report.run(params=PARAMS)


def test_report_names_the_distill_stage_when_its_metrics_are_missing(project):
    (paths.metrics_dir() / "distill.json").unlink()
    with pytest.raises(FileNotFoundError, match="distill.json does not exist: run the distill"):
        report.run(params=PARAMS)


def test_report_names_the_stage_of_a_missing_stress_metric(project):
    (paths.metrics_dir() / "stress_drift.json").unlink()
    with pytest.raises(FileNotFoundError, match="run the stress_walk_forward stage first"):
        report.run(params=PARAMS)


def test_report_shows_the_paper_figures_of_the_configured_series_only(project):
    """One headline series: only its three paper figures are needed and shown."""
    for stem in FIGURE_STEMS:
        for ext in ("png", "pdf"):
            (paths.paper_figures_dir() / f"{stem}_sp500.{ext}").unlink()
    data = {**DATA, "series": "portfolio"}
    text = report.run(params={**PARAMS, "data": data})["path"].read_text()
    figures = text.split("## Figures", 1)[1].split("## Discussion", 1)[0]
    assert figures.count("](figures/paper/") == 2 * len(FIGURE_STEMS)
    assert "_sp500" not in figures
    assert "**Figure 4.** Correlation matrices" in text


def test_report_says_when_no_stress_student_was_built(project):
    (paths.metrics_dir() / "stress_distill.json").write_text(
        json.dumps({"enabled": False, "sampler": "teacher"})
    )
    (paths.tables_dir() / "stress_distill.md").unlink()  # not read when nothing was built
    text = report.run(params=PARAMS)["path"].read_text()
    few = text.split("### Few-step stress sampler (stress_distill stage)\n\n", 1)[1]
    assert few.startswith("No few-step student of the stress model was built in this run")
    (paths.metrics_dir() / "stress_distill.json").unlink()
    with pytest.raises(FileNotFoundError, match="run the stress_distill stage first"):
        report.run(params=PARAMS)
