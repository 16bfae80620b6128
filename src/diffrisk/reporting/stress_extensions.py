"""STUDY.md paragraphs on the stress generators' audit, retraining and segment coverage.

Every sentence is computed from the stage outputs it summarises:

* ``stress_diversity.csv`` (``stress_validate``) — mode-collapse diagnostics;
* ``reports/metrics/stress_adversarial.json`` (``stress_audit``) — the capital-relief attack
  and the defences;
* ``reports/metrics/stress_drift.json`` (``stress_walk_forward``) — yearly refits;
* ``reports/metrics/stress_segments.json`` (``stress_segments``) — segment coverage.

Sign conventions follow the stages: ES is a return (negative); relief is
``(ES_attacked - ES_clean) / |ES_clean|`` (positive = a milder tail).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from diffrisk.evaluation.paths.bootstrap import HEADLINE_METRICS


def _pct(x: float) -> str:
    return f"{100 * float(x):.1f} %"


def diversity_paragraph(diversity: pd.DataFrame) -> str:
    """Mode collapse: the diversity ratio and coverage share of each unconditional set.

    Parameters
    ----------
    diversity : DataFrame
        ``stress_diversity.csv``: ``generator``, ``archetype``, ``diversity_ratio``,
        ``coverage_share``, ``collapsed`` (and the threshold ``tau``).
    """
    unc = diversity[diversity["archetype"] == "unconditional"]
    if unc.empty:
        return "No unconditional set was scored for mode collapse."
    collapsed = sorted(unc.loc[unc["collapsed"].astype(bool), "generator"])
    parts = ", ".join(
        f"{r.generator} {r.diversity_ratio:.2f} / {r.coverage_share:.3f}"
        for r in unc.itertuples(index=False)
    )
    verdict = (
        f"collapsed (ratio below the stated 0.5): {', '.join(collapsed)}."
        if collapsed
        else "no unconditional set has collapsed (every ratio is above the stated 0.5)."
    )
    return (
        "Mode collapse, unconditional sets against the held-out windows "
        f"(diversity ratio / coverage share): {parts}; {verdict}"
    )


def adversarial_paragraph(metrics: Mapping[str, Any]) -> str:
    """The capital-relief attack and the audit's detection against false flags.

    Parameters
    ----------
    metrics : mapping
        ``reports/metrics/stress_adversarial.json``.
    """
    relief = metrics["relief_mean_by_epsilon"]
    rates = metrics["rates"]
    goal = metrics["goal"]
    attacked = rates["attacked test, relief > 10%"]
    text = [
        "Mean relief of the portfolio's 20-day ES found by the attack within budget ε: "
        + ", ".join(f"ε = {e}: {_pct(v)}" for e, v in relief.items())
        + ".",
        f"Of {attacked['n']} attacked test requests that ease ES by more than 10 %, the "
        "defences flag: "
        + ", ".join(
            f"{name} {_pct(attacked[name])}"
            for name in ("signature", "disagreement", "plausibility", "combined")
        )
        + f" (the check against recorded market data, possible only for a real date: "
        f"{_pct(attacked['recorded_data'])}).",
        f"False flags on untouched requests: {_pct(goal['false_flags_test'])} on test, "
        f"{_pct(goal['false_flags_validation'])} on validation (in sample: thresholds set "
        "there)"
        + (
            f"; out of sample on validation (thresholds fitted on half of the validation "
            f"dates, applied to the other half, both ways): "
            f"{_pct(goal['false_flags_validation_cv'])}"
            if "false_flags_validation_cv" in goal
            else ""
        )
        + (
            f"; {metrics['n_validation_requests']} distinct validation requests set the thresholds"
            if "n_validation_requests" in metrics
            else ""
        )
        + (
            f" (the plausibility threshold: all {metrics['plausibility_null']['n_dates']} "
            "validation dates)."
            if "plausibility_null" in metrics
            else "."
        ),
        "Goal (≥ 95 % detected at ≤ 5 % false flags, on test and cross-validated): "
        + ("met." if goal["met"] else "**not met**."),
    ]
    return " ".join(text)


def drift_paragraph(metrics: Mapping[str, Any]) -> str:
    """Walk-forward retraining: how often the served refit beats the frozen model.

    Parameters
    ----------
    metrics : mapping
        ``reports/metrics/stress_drift.json``.
    """
    frozen, served = metrics["mean_frozen"], metrics["mean_served"]
    means = "; ".join(
        f"`{m}` frozen {frozen[m]:.4g}, refitted {served[m]:.4g}"
        for m in HEADLINE_METRICS
        if m in frozen and m in served
    )
    return (
        f"{len(metrics['versions']) - 1} yearly refits (warm start, {metrics['epochs']} "
        f"epochs each, no selection on test), each scored on the following year: the "
        f"refitted version has the smaller distance in {metrics['served_better']} of "
        f"{metrics['comparisons']} year × metric comparisons. Means over the years: {means}."
    )


def segments_paragraph(metrics: Mapping[str, Any]) -> str:
    """Segment coverage: the worst-covered segment and the goal ratio.

    Parameters
    ----------
    metrics : mapping
        ``reports/metrics/stress_segments.json``.
    """
    head = metrics["headline"]
    variants = metrics["variants"]
    diff = variants["diffusion"]
    others = ", ".join(
        f"{name} {v['max_over_median']:.2f} (worst {v['worst_segment']})"
        for name, v in variants.items()
        if name != "diffusion"
    )
    stratified = ("narrows" if head["stratified_narrows_gap"] else "does not narrow") + " the gap"
    return (
        f"{metrics['horizon']}-day 5 % ES, generated against held-out, per constituent and "
        f"sector portfolio: the diffusion model's worst-covered segment is "
        f"{diff['worst_segment']}, with an ES error {diff['max_over_median']:.2f} × the "
        f"median segment's ({_pct(diff['max_es_error'])} vs {_pct(diff['median_es_error'])}). "
        f"Goal (≤ 2 ×): " + ("met" if head["goal_met"] else "**not met**") + ". "
        f"Other variants, max / median: {others}. Stratified sampling of training windows "
        f"across segments {stratified} ({head['stratified_max_over_median']:.2f} ×)."
    )


def reverse_stress_paragraph(metrics: Mapping[str, Any]) -> str:
    """Reverse stress testing: the headline request and the held-out ranking.

    Parameters
    ----------
    metrics : mapping
        ``reports/metrics/reverse_stress.json`` (``requests``, ``periods`` and
        ``choice_used`` optional; ``choice_used["rule_choice"]``: whether the attribution
        and strength used are the validation rule's).
    """
    head = metrics["headline"]
    methods = metrics["methods"]
    estimates = "; ".join(
        f"{name} {m['p']:.3g} [{m['p_lower']:.3g}, {m['p_upper']:.3g}], "
        f"{_pct(m['share_reaching'])} of its scenarios reach L"
        for name, m in methods.items()
    )
    shares = ", ".join(f"{name} {_pct(v)}" for name, v in head["rank_1_share"].items())
    verdict = "met" if head["diffusion_ranks_first_more_often"] else "**not met**"
    mcnemar = head.get("mcnemar_p_vs_diffusion", {})
    paired = (
        " Paired by request, the exact McNemar p-value of equal rates against the diffusion "
        "method: " + ", ".join(f"{name} {p:.2g}" for name, p in mcnemar.items()) + "."
        if mcnemar
        else ""
    )
    requests = f"{metrics['requests']} " if "requests" in metrics else ""
    periods = f": {', '.join(metrics['periods'])}" if metrics.get("periods") else ""
    choice = metrics.get("choice_used")
    used = (
        f"; the sets' leading sector estimated by `{choice['attribution']}` at guidance "
        f"strength {choice['strength']:g}, "
        + (
            "the validation rule's choice"
            if choice.get("rule_choice")
            else "as configured, not the validation rule's choice"
        )
        if choice
        else ""
    )
    return (
        f"Headline request: the equal-weighted portfolio, L = the diffusion model's "
        f"{_pct(metrics['es_alpha'])} ES of the {metrics['horizon']}-day loss "
        f"({_pct(head['loss_level'])}). P(loss ≥ L) with its 95 % interval, per method: "
        f"{estimates}. On the {requests}held-out losses of the test period (the worst "
        f"{metrics['horizon']}-day loss of each portfolio in each period{periods}){used}, "
        f"the share of requests whose reverse-stress set ranks the realised leading sector "
        f"first: "
        f"{shares}.{paired} Goal (the diffusion method first more often than every classic "
        f"peer): {verdict}. Every request's rows: `reports/tables/reverse_stress.md` and "
        f"`reverse_stress_validation.md`."
    )


def stress_extensions_section(
    *,
    diversity: pd.DataFrame,
    adversarial: Mapping[str, Any],
    drift: Mapping[str, Any],
    segments: Mapping[str, Any],
    reverse: Mapping[str, Any],
    tables: Mapping[str, str],
) -> str:
    """The STUDY.md section on mode collapse, the audit, retraining, segments, reverse stress.

    Parameters
    ----------
    diversity : DataFrame
        ``stress_diversity.csv``.
    adversarial, drift, segments, reverse : mapping
        The stages' metrics JSON files (``reverse``: ``reverse_stress.json``).
    tables : mapping
        Markdown of ``stress_diversity``, ``stress_adversarial``, ``stress_drift``,
        ``stress_segments_summary`` and ``reverse_stress_scores`` (keys are those stems),
        pasted under each paragraph.

    Returns
    -------
    str
        Markdown.
    """
    blocks = [
        ("Mode collapse (every generator)", diversity_paragraph(diversity), "stress_diversity"),
        (
            "Adversarial-request audit (capital-relief attack)",
            adversarial_paragraph(adversarial),
            "stress_adversarial",
        ),
        ("Walk-forward retraining of the stress model", drift_paragraph(drift), "stress_drift"),
        ("Segment coverage", segments_paragraph(segments), "stress_segments_summary"),
        ("Reverse stress testing", reverse_stress_paragraph(reverse), "reverse_stress_scores"),
    ]
    lines: list[str] = []
    for title, paragraph, stem in blocks:
        lines += [f"### {title}", "", paragraph, "", _demote_headings(tables[stem]), ""]
    return "\n".join(lines)


def _demote_headings(markdown: str) -> str:
    """A table file's own headings, moved below the section's ``###`` level."""
    return "\n".join(
        f"##{line}" if line.startswith("#") else line for line in markdown.strip().splitlines()
    )
