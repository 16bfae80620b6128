"""The STUDY.md section on mode collapse, the audit, retraining, segments and reverse stress."""

from __future__ import annotations

import pandas as pd

from diffrisk.reporting.stress_extensions import (
    adversarial_paragraph,
    diversity_paragraph,
    drift_paragraph,
    reverse_stress_paragraph,
    segments_paragraph,
    stress_extensions_section,
)

DIVERSITY = pd.DataFrame(
    {
        "generator": ["diffusion", "gan", "gan"],
        "archetype": ["unconditional", "unconditional", "volatility_x2"],
        "diversity_ratio": [0.95, 0.31, 0.2],
        "coverage_share": [0.02, 0.001, 0.0],
        "collapsed": [False, True, True],
    }
)
RATES = {"signature": 0.25, "disagreement": 0.0, "plausibility": 0.5, "combined": 0.75}
ADVERSARIAL = {
    "relief_mean_by_epsilon": {"0": 0.0, "0.5": 0.3},
    "rates": {"attacked test, relief > 10%": {"n": 4, "recorded_data": 1.0, **RATES}},
    "goal": {"false_flags_test": 0.05, "false_flags_validation": 0.0, "met": False},
}
DRIFT = {
    "versions": ["v0", "v1", "v2"],
    "epochs": 4,
    "served_better": 2,
    "comparisons": 6,
    "mean_frozen": {"corr_frobenius": 3.0, "tail_dep_q05": 0.1, "acf_abs_distance": 0.05},
    "mean_served": {"corr_frobenius": 2.5, "tail_dep_q05": 0.2, "acf_abs_distance": 0.06},
}
VARIANT = {"max_over_median": 2.5, "worst_segment": "LLY", "max_es_error": 0.5}
SEGMENTS = {
    "horizon": 20,
    "headline": {
        "goal_met": False,
        "stratified_narrows_gap": True,
        "stratified_max_over_median": 1.9,
    },
    "variants": {
        "diffusion": {**VARIANT, "median_es_error": 0.2},
        "normal": {**VARIANT, "max_over_median": 3.0, "worst_segment": "AAPL"},
    },
}

REVERSE = {
    "es_alpha": 0.01,
    "horizon": 20,
    "headline": {
        "loss_level": 0.0291,
        "diffusion_ranks_first_more_often": False,
        "rank_1_share": {"diffusion": 0.5, "normal": 0.75},
        "mcnemar_p_vs_diffusion": {"normal": 0.625},
    },
    "methods": {
        "diffusion": {"p": 0.0131, "p_lower": 0.0082, "p_upper": 0.018, "share_reaching": 1.0},
        "normal": {"p": 0.181, "p_lower": 0.1805, "p_upper": 0.1817, "share_reaching": 0.96},
    },
}


def test_diversity_names_the_collapsed_unconditional_sets_only():
    text = diversity_paragraph(DIVERSITY)
    assert "diffusion 0.95 / 0.020, gan 0.31 / 0.001" in text
    assert "collapsed (ratio below the stated 0.5): gan." in text
    assert "no unconditional set" not in text


def test_adversarial_states_rates_and_the_failed_goal():
    text = adversarial_paragraph(ADVERSARIAL)
    assert "ε = 0.5: 30.0 %" in text
    assert "Of 4 attacked test requests" in text and "combined 75.0 %" in text
    assert "recorded market data, possible only for a real date: 100.0 %" in text
    assert "5.0 % on test" in text and text.endswith("**not met**.")


def test_drift_counts_refits_and_comparisons():
    text = drift_paragraph(DRIFT)
    assert text.startswith("2 yearly refits (warm start, 4 epochs each")
    assert "smaller distance in 2 of 6" in text
    assert "`corr_frobenius` frozen 3, refitted 2.5" in text


def test_segments_reports_worst_segment_goal_and_stratified_effect():
    text = segments_paragraph(SEGMENTS)
    assert "worst-covered segment is LLY, with an ES error 2.50 × the median" in text
    assert "(50.0 % vs 20.0 %)" in text and "Goal (≤ 2 ×): **not met**" in text
    assert "normal 3.00 (worst AAPL)" in text
    assert "narrows the gap (1.90 ×)" in text


def test_reverse_stress_states_the_estimates_the_ranking_and_the_failed_goal():
    text = reverse_stress_paragraph(REVERSE)
    assert "L = the diffusion model's 1.0 % ES of the 20-day loss (2.9 %)" in text
    assert "diffusion 0.0131 [0.0082, 0.018], 100.0 % of its scenarios reach L" in text
    assert "normal 0.181 [0.18, 0.182], 96.0 % of its scenarios reach L" in text
    assert "ranks the realised leading sector first: diffusion 50.0 %, normal 75.0 %" in text
    assert "classic peer): **not met**." in text
    assert "exact McNemar p-value of equal rates against the diffusion method: normal 0.62." in text
    met = {**REVERSE["headline"], "diffusion_ranks_first_more_often": True}
    assert "classic peer): met." in reverse_stress_paragraph({**REVERSE, "headline": met})
    assert "On the held-out losses of the test period (the worst 20-day loss of each" in text
    design = {
        "requests": 16,
        "periods": {"test_2019": ["2019-01-02", "2019-12-31"], "test_2020": ["a", "b"]},
        "choice_used": {"attribution": "set_mean", "strength": 1.0, "rule_choice": True},
    }
    text = reverse_stress_paragraph(REVERSE | design)
    assert "On the 16 held-out losses of the test period (the worst 20-day loss of each " in text
    assert "in each period: test_2019, test_2020); the sets' leading sector estimated by " in text
    assert "`set_mean` at guidance strength 1, the validation rule's choice, the share" in text
    design["choice_used"] = {"attribution": "weighted", "strength": 0.5, "rule_choice": False}
    text = reverse_stress_paragraph(REVERSE | design)
    assert "`weighted` at guidance strength 0.5, as configured, not the validation rule's" in text


def test_section_pastes_each_table_under_its_paragraph():
    tables = {
        s: f"| {s} |"
        for s in (
            "stress_diversity",
            "stress_adversarial",
            "stress_drift",
            "stress_segments_summary",
            "reverse_stress_scores",
        )
    }
    metrics = {"adversarial": ADVERSARIAL, "drift": DRIFT, "segments": SEGMENTS}
    text = stress_extensions_section(diversity=DIVERSITY, **metrics, reverse=REVERSE, tables=tables)
    assert "#### Detection" in stress_extensions_section(
        diversity=DIVERSITY,
        **metrics,
        reverse=REVERSE,
        tables={**tables, "stress_adversarial": "## Detection\n\n| a |"},
    )
    order = [text.index(f"| {s} |") for s in tables]
    assert order == sorted(order)
    assert text.index("### Segment coverage") < text.index("| stress_segments_summary |")
    assert text.index("### Reverse stress testing") < text.index("| reverse_stress_scores |")


def test_adversarial_quotes_the_out_of_sample_false_flags_when_present():
    goal = {**ADVERSARIAL["goal"], "false_flags_validation_cv": 0.125}
    text = adversarial_paragraph({**ADVERSARIAL, "goal": goal, "n_validation_requests": 18})
    assert "both ways): 12.5 %; 18 distinct validation requests set the thresholds." in text
    assert "out of sample" not in adversarial_paragraph(ADVERSARIAL)
    dense = {**ADVERSARIAL, "goal": goal, "n_validation_requests": 69}
    dense["plausibility_null"] = {"n_dates": 1006}
    assert text.replace("18 distinct", "69 distinct").replace(
        "the thresholds.", "the thresholds (the plausibility threshold: all 1006 validation dates)."
    ) == adversarial_paragraph(dense)
