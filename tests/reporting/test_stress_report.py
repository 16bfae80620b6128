"""The stress section of STUDY.md: the headline goal sentence."""

from __future__ import annotations

import pandas as pd

from diffrisk.reporting.stress_report import (
    ALL_GENERATORS,
    headline_goal_sentence,
    stress_report_section,
)
from diffrisk.stress.budgets import budget_markdown


def share(diffusion: list[float], gan: list[float]) -> pd.DataFrame:
    index = pd.Index(["corr_frobenius", "tail_dep_q05"], name="metric")
    return pd.DataFrame({"diffusion": diffusion, "gan": gan}, index=index)


def test_all_generators_include_the_comparison_generators():
    assert ALL_GENERATORS == ("diffusion", "normal", "bootstrap", "gan", "vae")


def test_goal_met_only_when_diffusion_reaches_the_share_on_every_metric():
    assert headline_goal_sentence(share([0.9, 0.8], [0.1, 0.2])).startswith("Goal met")
    text = headline_goal_sentence(share([0.9, 0.3], [0.1, 0.7]))
    assert "not met on 1 of 2 metrics" in text
    assert "`tail_dep_q05` (diffusion 30%, best gan 70%)" in text


def test_difference_lines_read_the_bootstrap_table():
    from diffrisk.reporting.stress_report import difference_lines

    table = pd.DataFrame(
        {
            "generator": ["diffusion", "gan"],
            "metric": ["corr_frobenius"] * 2,
            "baseline": ["diffusion"] * 2,
            "baseline_minus": [float("nan"), 0.575],
            "baseline_minus_lo": [float("nan"), -0.2],
            "baseline_minus_hi": [float("nan"), 1.3],
            "baseline_better_share": [float("nan"), 0.27],
        }
    )
    lines = difference_lines(table)
    assert lines[0].startswith("Differences of distance, diffusion minus each other")
    assert "- `corr_frobenius`: vs gan +0.575 [-0.2, +1.3], closer on 27%." in lines
    assert difference_lines(table.drop(columns="baseline_minus")) == []


def test_proper_score_lines_rank_and_quote_the_dm_tests():
    from diffrisk.reporting.stress_report import proper_score_lines

    table = pd.DataFrame(
        {
            "score": ["energy_score"] * 3,
            "generator": ["diffusion", "gan", "normal"],
            "n_dates": [60] * 3,
            "mean": [0.31, 0.30, 0.35],
            "rank": [2, 1, 3],
            "baseline": ["diffusion"] * 3,
            "baseline_minus": [float("nan"), 0.01, -0.04],
            "dm_statistic": [float("nan"), 1.0, -3.0],
            "dm_pvalue": [float("nan"), 0.32, 0.004],
            "dm_horizon": [1] * 3,
        }
    )
    lines = proper_score_lines(table)
    assert "each of 60 test dates" in lines[0]
    assert lines[2] == (
        "- energy score: mean gan 0.3, diffusion 0.31, normal 0.35; best gan; "
        "diffusion − gan +0.01 (p = 0.320); diffusion − normal -0.04 (p = 0.004)."
    )
    assert "(HLN-corrected) of the per-date" in lines[0]  # horizon 1: disjoint paths
    overlapping = proper_score_lines(table.assign(dm_horizon=4))
    assert "(HLN-corrected; the paths overlap: 4-step tests) of the per-date" in overlapping[0]
    assert overlapping[1:] == lines[1:]


def test_section_renders_the_budget_table_with_its_caption():
    budgets = pd.DataFrame(
        {
            "generator": ["diffusion", "gan"],
            "parameters_sampling": [1000, 250],
            "tuning_trials": [0, 0],
        }
    )
    empty = pd.DataFrame(columns=["archetype"])
    text = stress_report_section(empty, pd.DataFrame(), pd.DataFrame(), budgets=budgets)
    assert "relative to the diffusion model: gan 0.25×." in text
    assert budget_markdown(budgets) in text
    assert "Budgets" not in stress_report_section(empty, pd.DataFrame(), pd.DataFrame())
