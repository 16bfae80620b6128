"""The stress section of STUDY.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from diffrisk.evaluation.paths.bootstrap import HEADLINE_METRICS
from diffrisk.stress.budgets import budget_caption, budget_markdown
from diffrisk.stress.comparison import COMPARISON_GENERATORS
from diffrisk.stress.config import GENERATORS, UNCONDITIONAL

#: Every generator of the stress comparison, in table order.
ALL_GENERATORS: tuple[str, ...] = (*GENERATORS, *COMPARISON_GENERATORS)
#: The headline goal: the smallest distance with this bootstrap share on each metric.
GOAL_SHARE = 0.8


# --------------------------------------------------------------------------- report
def _fmt_pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def headline_goal_sentence(share: pd.DataFrame) -> str:
    """Whether diffusion is best on every headline metric with ``GOAL_SHARE`` of resamples."""
    if "diffusion" not in share.columns:
        return "No diffusion set: the headline goal cannot be assessed."
    misses = [
        f"`{m}` (diffusion {share.loc[m, 'diffusion']:.0%}, best "
        f"{share.loc[m].idxmax()} {share.loc[m].max():.0%})"
        for m in share.index
        if share.loc[m, "diffusion"] < GOAL_SHARE
    ]
    if not misses:
        return (
            f"Goal met: diffusion has the smallest distance on at least {GOAL_SHARE:.0%} of "
            "the resamples on every headline metric."
        )
    return (
        f"Goal (diffusion best on every headline metric in at least {GOAL_SHARE:.0%} of the "
        f"resamples) not met on {len(misses)} of {len(share.index)} metrics: "
        + "; ".join(misses)
        + "."
    )


def difference_lines(headline: pd.DataFrame) -> list[str]:
    """Sentences on the bootstrap intervals of diffusion-minus-other distances."""
    if "baseline_minus" not in headline or headline["baseline_minus"].isna().all():
        return []
    rows = headline.dropna(subset=["baseline_minus"])
    base = str(rows["baseline"].iloc[0])
    lines = [
        f"Differences of distance, {base} minus each other generator (negative: {base} is "
        f"closer to the test period), with 95 % intervals over the resamples and the share "
        f"of resamples on which {base} is closer:",
        "",
    ]
    for metric, grp in rows.groupby("metric", sort=False):
        text = "; ".join(
            f"vs {r.generator} {r.baseline_minus:+.3g} [{r.baseline_minus_lo:+.3g}, "
            f"{r.baseline_minus_hi:+.3g}], closer on {r.baseline_better_share:.0%}"
            for r in grp.itertuples()
        )
        lines.append(f"- `{metric}`: {text}.")
    lines.append("")
    return lines


def _horizon_clause(scores: pd.DataFrame) -> str:
    """The clause naming the h-step tests when the scored paths overlap (``dm_horizon`` > 1)."""
    h = int(scores["dm_horizon"].max())
    return f"; the paths overlap: {h}-step tests" if h > 1 else ""


def proper_score_lines(scores: pd.DataFrame) -> list[str]:
    """Sentences on the energy and variogram scores against the realised paths."""
    names = {"energy_score": "energy score", "variogram_score": "variogram score (p = 0.5)"}
    n_dates = int(scores["n_dates"].max())
    lines = [
        f"Proper scores against what happened: on each of {n_dates} test dates every "
        f"generator's unconditional set is scored against the realised path of the next "
        f"horizon days of all constituents (daily log returns, flattened; lower is better); "
        f"Diebold–Mariano tests (HLN-corrected{_horizon_clause(scores)}) of the per-date "
        f"differences:",
        "",
    ]
    for score, grp in scores.groupby("score", sort=False):
        grp = grp.sort_values("rank")
        means = ", ".join(f"{r.generator} {r.mean:.4g}" for r in grp.itertuples())
        base = str(grp["baseline"].iloc[0])
        tests = "; ".join(
            f"{base} − {r.generator} {r.baseline_minus:+.3g} (p = {r.dm_pvalue:.3f})"
            for r in grp.itertuples()
            if pd.notna(r.dm_pvalue)
        )
        best = grp["generator"].iloc[0]
        lines.append(
            f"- {names.get(str(score), score)}: mean {means}; best {best}"
            + (f"; {tests}." if tests else ".")
        )
    lines.append("")
    return lines


def stress_report_section(
    validation: pd.DataFrame,
    signatures: pd.DataFrame,
    risk: pd.DataFrame,
    metadata: Mapping[str, Any] | None = None,
    headline: pd.DataFrame | None = None,
    scores: pd.DataFrame | None = None,
    budgets: pd.DataFrame | None = None,
) -> str:
    """The stress-scenario section of ``STUDY.md``; every sentence is computed from the tables.

    Parameters
    ----------
    validation : DataFrame
        ``stress_validation.csv``.
    signatures : DataFrame
        ``stress_signatures.csv``.
    risk : DataFrame
        ``stress_risk.csv``.
    metadata : mapping, optional
        ``{"out_of_range": {archetype: [components]}, "train_end": str}``.
    headline : DataFrame, optional
        ``stress_headline.csv`` (:func:`diffrisk.evaluation.paths.bootstrap.headline_bootstrap`).
    scores : DataFrame, optional
        ``stress_scores_summary.csv`` (:func:`diffrisk.evaluation.paths.scores.score_comparison`).
    budgets : DataFrame, optional
        ``stress_budgets.csv`` (:func:`diffrisk.stress.budgets.budget_table`), rendered
        with its caption (:func:`diffrisk.stress.budgets.budget_caption`).

    Returns
    -------
    str
        Markdown.
    """
    meta = dict(metadata or {})
    lines = ["## Stress scenarios (joint multi-day paths)", ""]
    unc = validation[(validation["archetype"] == UNCONDITIONAL)]
    if not unc.empty:
        ref = unc["reference"].iloc[0]
        lines.append(
            f"Unconditional diffusion scenarios, conditioned on each date's history across "
            f"the held-out {ref} period, against that period (distances, lower is better):"
        )
        lines.append("")
        by_gen = unc.set_index("generator")
        wins = []
        for metric in HEADLINE_METRICS:
            vals = {g: float(by_gen.loc[g, metric]) for g in ALL_GENERATORS if g in by_gen.index}
            best = min(vals, key=vals.get)
            others = ", ".join(f"{g} {v:.3f}" for g, v in vals.items() if g != "diffusion")
            verdict = (
                f"beats all {len(vals) - 1} other generators"
                if best == "diffusion"
                else f"does not beat the {best} generator"
            )
            wins.append(best == "diffusion")
            lines.append(
                f"- `{metric}`: diffusion {vals['diffusion']:.3f} ({others}); the "
                f"diffusion model {verdict}."
            )
        lines.append("")
        lines.append(
            f"The diffusion model wins {sum(wins)} of {len(wins)} headline metrics "
            f"(correlation distance, 5 % tail dependence, volatility clustering) on "
            f"the held-out period."
        )
        if headline is not None and len(headline):
            share = headline.pivot(index="metric", columns="generator", values="share_best")
            se = headline.pivot(index="metric", columns="generator", values="boot_se")
            text = "; ".join(
                f"`{m}` " + ", ".join(f"{g} {share.loc[m, g]:.0%}" for g in share.columns)
                for m in share.index
            )
            lines.append(
                "How firm is that ranking? On resamples of the "
                "test period made of whole horizon-long windows (the reference is one draw "
                "of history; autocorrelation pairs never cross two windows), the share of "
                f"resamples on which each generator has the smallest distance: {text}. The "
                f"standard error of the diffusion distances from the reference's sampling "
                f"noise alone is "
                + ", ".join(f"{se.loc[m, 'diffusion']:.3g} (`{m}`)" for m in se.index)
                + "."
            )
            lines.append("")
            lines += difference_lines(headline)
            lines.append("")
            lines.append(headline_goal_sentence(share))
        lines.append("")
    if scores is not None and len(scores):
        lines += proper_score_lines(scores)
    if budgets is not None and len(budgets):
        lines += [budget_caption(budgets), "", budget_markdown(budgets), ""]
    crisis = validation[validation["archetype"] != UNCONDITIONAL]
    if not crisis.empty:
        lines.append(
            "Stressed archetypes against the crisis windows "
            "(`tail_dep_q05` distance; labels say whether the window was seen in "
            "training, or whether the request itself was measured on the window, which "
            "makes that row in-sample whatever the model saw):"
        )
        lines.append("")
        for (arch, ref, label), grp in crisis.groupby(
            ["archetype", "reference", "reference_label"], sort=False
        ):
            vals = grp.set_index("generator")["tail_dep_q05"]
            text = ", ".join(f"{g} {vals[g]:.3f}" for g in ALL_GENERATORS if g in vals.index)
            lines.append(f"- {arch} vs {ref} ({label}): {text}.")
        lines.append("")
    diff = signatures[signatures["generator"] == "diffusion"] if len(signatures) else signatures
    if len(diff):
        ok = int(diff["within_tolerance"].sum())
        inside = diff[~diff["out_of_range"].astype(bool)]
        lines.append(
            f"Achieved versus requested signature (diffusion, mean over paths): "
            f"{ok} of {len(diff)} requested components are within 10 % "
            f"({int(inside['within_tolerance'].sum())} of the {len(inside)} inside the "
            f"training range); "
            f"median relative error {_fmt_pct(float(diff['relative_error'].median()))}."
        )
        weights = diff.drop_duplicates("archetype").set_index("archetype")["guidance"]
        lines.append(
            "Guidance weights used: " + ", ".join(f"{a} {w:g}" for a, w in weights.items()) + "."
        )
        worst = diff.loc[diff["relative_error"].idxmax()]
        lines.append(
            f"The largest miss is {worst['archetype']} `{worst['component']}`: "
            f"requested {worst['requested']:.3g}, achieved {worst['achieved_mean']:.3g} "
            f"({_fmt_pct(float(worst['relative_error']))})"
            + (", a request outside the training range." if worst["out_of_range"] else ".")
        )
        flagged = {a: c for a, c in meta.get("out_of_range", {}).items() if c}
        if flagged:
            text = "; ".join(f"{a}: {', '.join(c)}" for a, c in flagged.items())
            lines.append(
                f"Requests outside the signature range of the training windows "
                f"(flagged in the set's metadata and by a StressRangeWarning): {text}."
            )
        lines.append("")
    if len(risk):
        ew = risk[(risk["portfolio"] == risk["portfolio"].iloc[0]) & (risk["alpha"] == 0.05)]
        if len(ew):
            lines.append(
                f"Downstream risk of the {ew['portfolio'].iloc[0]} portfolio over the "
                f"horizon (5 % ES, log return):"
            )
            lines.append("")
            for row in ew.itertuples(index=False):
                lines.append(
                    f"- {row.source}: ES {_fmt_pct(row.es)}, VaR {_fmt_pct(row.var)}, "
                    f"CDaR {_fmt_pct(row.cdar)} ({row.n_paths} paths)."
                )
            lines.append("")
    return "\n".join(lines) + "\n"
