"""Sentences of the study report's headline, ensemble and known-truth sections.

Every sentence is computed from a table: the headline table
(:func:`diffrisk.evaluation.headline.headline_table`), the ensemble table
(:func:`diffrisk.evaluation.ensemble.ensemble_table`) and the known-truth summary
(:func:`diffrisk.study.simulation_scoring.simulation_summary`). Nothing is claimed that a
number in those tables contradicts: a test "passes" only when its p-value is at least the
level, and "within noise" is said only of the paths where the Diebold–Mariano test
against the true model does not reject.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from diffrisk.evaluation.headline import GOAL, goal_table
from diffrisk.evaluation.multiplicity import family_summary
from diffrisk.reporting.discussion import join_words, p_text

_CRITERIA_TEXT = {
    "kupiec": "Kupiec",
    "christoffersen_cc": "Christoffersen conditional coverage",
    "acerbi_szekely": "Acerbi–Szekely Z2",
}


def _pct(alpha: float) -> str:
    return f"{100 * float(alpha):g}%"


def _shortfall(row: dict, benchmark: str, crash_label: str) -> str:
    """What an unmet goal criterion looks like, in words, with its number."""
    criterion, value = row["criterion"], float(row["value"])
    if criterion == "fz0_below_benchmark":
        return f"mean FZ0 not below {benchmark}'s (difference {value:+.4f})"
    if criterion == "traffic_light":
        return f"{value:.0f} red traffic-light windows"
    if criterion == "crash_exceptions":
        return f"{value:.0f} exceptions in {crash_label}"
    return f"{_CRITERIA_TEXT[criterion]} {p_text(value)}"


def goal_statement(benchmark: str, series: Sequence[str], crash_label: str) -> str:
    """The study's goal (:data:`diffrisk.evaluation.headline.GOAL`) in one sentence.

    Parameters
    ----------
    benchmark : str
        The method to beat on mean FZ0.
    series : sequence of str
        The headline series.
    crash_label : str
        Name of the crash window (e.g. ``Feb–Apr 2020``).

    Returns
    -------
    str
    """
    level = GOAL["level"]
    return (
        f"The goal, fixed before the test period was scored: beat {benchmark} on mean FZ0 "
        f"at 5% and 1% on {join_words(list(series))}, with Kupiec, Christoffersen "
        f"conditional-coverage and Acerbi–Szekely p ≥ {level:g}, "
        f"{'no' if GOAL['max_red'] == 0 else 'at most ' + format(GOAL['max_red'], 'g')} red "
        f"traffic-light window and at most {GOAL['max_crash_exceptions']:g} exceptions at "
        f"{_pct(GOAL['crash_alpha'])} in {crash_label}."
    )


def goal_paragraph(
    headline: pd.DataFrame, primary: str, benchmark: str, crash_label: str = "Feb–Apr 2020"
) -> str:
    """The verdict on the primary method: the goal, whether it is met, every shortfall.

    Parameters
    ----------
    headline : DataFrame
        :func:`diffrisk.evaluation.headline.headline_table` output.
    primary : str
        The study's primary method.
    benchmark : str
        The Diebold–Mariano reference method.
    crash_label : str, default "Feb–Apr 2020"

    Returns
    -------
    str
        Markdown paragraph.
    """
    series = list(dict.fromkeys(headline["series"]))
    goal = goal_table(headline, primary)
    unmet = goal.loc[goal["met"].eq(False)]
    unknown = goal.loc[goal["met"].isna()]
    if not unmet.empty:
        verdict = "does **not** meet it"
    elif not unknown.empty:
        verdict = "meets every criterion that could be checked, but not all could be"
    else:
        verdict = "meets it"
    text = (
        f"{goal_statement(benchmark, series, crash_label)} The primary method, "
        f"`{primary}` (chosen on the validation period by the select stage), {verdict}."
    )
    if not unmet.empty:
        cells = []
        for (s, a), part in unmet.groupby(["series", "alpha"], sort=False):
            items = [_shortfall(r, benchmark, crash_label) for r in part.to_dict("records")]
            cells.append(f"{s} at α = {_pct(a)}: {'; '.join(items)}")
        text += " Where it falls short — " + " — ".join(cells) + "."
    if not unknown.empty:
        names = sorted(set(unknown["criterion"]))
        text += f" Not checkable (no data): {join_words(names)}."
    return text


def methods_paragraph(headline: pd.DataFrame, benchmark: str) -> str:
    """Every method against the goal's criteria: unmet counts, and who meets them all.

    Parameters
    ----------
    headline : DataFrame
        :func:`diffrisk.evaluation.headline.headline_table` output.
    benchmark : str
        The Diebold–Mariano reference method (its own FZ0 criterion does not apply).

    Returns
    -------
    str
        One sentence per fact: the number of unmet criteria of each method (out of those
        that can be checked) and the methods that meet every criterion.
    """
    parts, winners = [], []
    for method in dict.fromkeys(headline["method"]):
        goal = goal_table(headline, method)
        checked = goal.loc[goal["met"].notna()]
        failed = int(checked["met"].eq(False).sum())
        parts.append(f"`{method}` {failed} of {len(checked)}")
        if failed == 0 and len(checked) == len(goal):
            winners.append(f"`{method}`")
    text = (
        "Unmet criteria of the goal, by method (out of those that apply; the FZ0 "
        f"criterion does not apply to {benchmark} itself): " + "; ".join(parts) + ". "
    )
    text += f"Methods that meet every criterion: {join_words(winners)}. "
    return text + family_sentence(headline)


def family_sentence(headline: pd.DataFrame, level: float = GOAL["level"]) -> str:
    """How many of the battery's tests a correct model fails by chance; Holm verdicts.

    Parameters
    ----------
    headline : DataFrame
        :func:`diffrisk.evaluation.headline.headline_table` output (any methods).
    level : float, default 0.05
        Size of each test and the family-wise error rate of Holm's procedure.

    Returns
    -------
    str
        Per method (:func:`diffrisk.evaluation.multiplicity.family_summary`): tests
        counted, raw rejections against the ``level * n`` expected by chance (and the
        95 % binomial range), and the tests still rejected after Holm's adjustment over
        the method's whole battery.
    """
    summary = family_summary(headline, level)
    if summary.empty:
        return "No backtest p-value is available for a family-wise count."
    parts = []
    for rec in summary.to_dict("records"):
        holm = rec["rejected_holm"] or "none"
        parts.append(
            f"`{rec['method']}` {rec['n_rejected_raw']} of {rec['n_tests']} rejected "
            f"(a correct model: {rec['expected_by_chance']:.1f} expected, "
            f"{rec['chance_low']:.0f}–{rec['chance_high']:.0f}), after Holm {holm}"
        )
    return (
        f"Family-wise: each method's battery (Kupiec, Christoffersen conditional coverage "
        f"and Acerbi–Szekely per series and α, the PIT KS test per series) has many tests, "
        f"and a correct model fails each at the {_pct(level)} level with probability "
        f"{level:g}, so it fails {level:g} × n of n by chance on average (the 95% range "
        f"is binomial, i.e. as if the tests were independent). Raw "
        f"rejections and the tests Holm's step-down adjustment still rejects at a "
        f"family-wise {_pct(level)}: " + "; ".join(parts) + "."
    )


def pit_sentence(headline: pd.DataFrame, level: float = GOAL["level"]) -> str:
    """Per series: the methods whose PIT is rejected as uniform by the KS test.

    Parameters
    ----------
    headline : DataFrame
        :func:`diffrisk.evaluation.headline.headline_table` output (``pit_ks_p``).
    level : float, default 0.05
        Size of the test.

    Returns
    -------
    str
    """
    pit = headline.drop_duplicates(["series", "method"])
    parts = []
    for s, part in pit.groupby("series", sort=False):
        p = part.set_index("method")["pit_ks_p"].astype(float)
        rejected = [f"`{m}`" for m, v in p.items() if v < level]
        kept = [f"`{m}`" for m, v in p.items() if v >= level]
        parts.append(
            f"on {s} rejected for {join_words(rejected)}, not rejected for {join_words(kept)}"
        )
    return (
        f"Uniformity of the PIT (Kolmogorov–Smirnov at the {_pct(level)} level): "
        + "; ".join(parts)
        + "."
    )


def ensemble_paragraph(ensemble: pd.DataFrame, level: float = GOAL["level"]) -> str:
    """The seed ensemble: FZ0 spread over members, pooled FZ0, disagreement tests.

    Parameters
    ----------
    ensemble : DataFrame
        :func:`diffrisk.evaluation.ensemble.ensemble_table` output (may be empty).
    level : float, default 0.05
        Size of the disagreement tests: "evidence" is said only when a p-value is below.

    Returns
    -------
    str
        One clause per (series, alpha).
    """
    if ensemble.empty:
        return "No ensemble members were forecast, so there is no ensemble analysis."
    cells = []
    for rec in ensemble.to_dict("records"):
        pooled, lo = float(rec["fz0_pooled"]), float(rec["fz0_member_min"])
        mean, sd = float(rec["fz0_member_mean"]), float(rec["fz0_member_sd"])
        if pooled < lo:
            rank = "lower than every member's"
        elif pooled < mean:
            rank = "below the members' mean but not below the best member's"
        else:
            rank = "not below the members' mean"
        sd_text = "" if math.isnan(sd) else f" ± {sd:.4f}"
        text = (
            f"{rec['series']} at α = {_pct(rec['alpha'])}: members' mean FZ0 {mean:.4f}"
            f"{sd_text} (sd over {int(rec['n_members'])} members), pooled {pooled:.4f}, "
            f"{rank}"
        )
        lp, mp = float(rec["logit_p"]), float(rec["mw_p"])
        if np.isfinite(lp) or np.isfinite(mp):
            tests = []
            if np.isfinite(lp):
                tests.append(f"logit slope {float(rec['logit_slope']):+.2f} per sd, {p_text(lp)}")
            if np.isfinite(mp):
                tests.append(f"Mann–Whitney {p_text(mp)}")
            evidence = any(np.isfinite(v) and v < level for v in (lp, mp))
            text += (
                f"; disagreement vs exceptions: {', '.join(tests)} — "
                + ("evidence" if evidence else "no evidence")
                + f" at the {_pct(level)} level that disagreement predicts exceptions"
            )
        else:
            text += "; too few exceptions to test whether disagreement predicts them"
        cells.append(text)
    return "Seed ensemble. " + ". ".join(cells) + "."


def simulation_paragraph(
    summary: pd.DataFrame,
    method: str = "ddpm",
    alphas: Sequence[float] = (0.05, 0.01),
    true_method: str = "true",
) -> str:
    """The known-truth check: every method's spread across paths and an honest verdict.

    "Within noise" is claimed for ``method`` only when, at every alpha of ``alphas``, its
    excess FZ0 is not significant (Diebold–Mariano against the true model) on more than
    half of the paths; likewise "passes Kupiec on most paths".

    Parameters
    ----------
    summary : DataFrame
        :func:`diffrisk.study.simulation_scoring.simulation_summary` output.
    method : str, default "ddpm"
        The diffusion model run on the simulated paths.
    alphas : sequence of float, default (0.05, 0.01)
    true_method : str, default "true"
        The true model's rows (left out of the text).

    Returns
    -------
    str
    """
    rows = summary.loc[summary["method"] != true_method]
    if rows.empty:
        return "No method was run on the simulated paths."
    n_paths = int(rows["n_paths"].max())
    per = []
    for m in dict.fromkeys(rows["method"]):
        cells = []
        for a in alphas:
            r = rows.loc[(rows["method"] == m) & np.isclose(rows["alpha"], a)]
            if r.empty:
                continue
            r = r.iloc[0]
            cells.append(
                f"{_pct(a)}: {float(r['excess_fz0_mean']):+.4f} "
                f"[{float(r['excess_fz0_min']):+.4f}, {float(r['excess_fz0_max']):+.4f}], "
                f"within noise on {int(r['n_within_noise'])}, Kupiec passed on "
                f"{int(r['n_kupiec_pass'])}"
            )
        per.append(f"`{m}` ({'; '.join(cells)})")
    text = (
        f"Known truth, {n_paths} simulated GARCH(1,1)-t path{'s' if n_paths != 1 else ''}. "
        "Excess mean FZ0 over the true model, mean [min, max] over paths, and the number "
        "of paths where it is within noise (Diebold–Mariano p ≥ 0.05 against the truth) "
        "and where Kupiec passes (p ≥ 0.05): " + "; ".join(per) + "."
    )
    target = rows.loc[
        (rows["method"] == method)
        & rows["alpha"].apply(lambda x: any(np.isclose(x, a) for a in alphas))
    ]
    if not target.empty:
        text += f" Of the diffusion models only `{method}` is run on the simulated paths."
        most = bool((target["n_within_noise"] > target["n_paths"] / 2).all())
        text += (
            f" So `{method}` {'is' if most else 'is not'} within noise of the true law on "
            f"most paths at {join_words([_pct(a) for a in alphas])}"
        )
        kupiec = bool((target["n_kupiec_pass"] > target["n_paths"] / 2).all())
        text += f", and it {'passes' if kupiec else 'does not pass'} Kupiec on most paths."
    return text


def selection_paragraph(decisions: dict, scores: pd.DataFrame) -> str:
    """The nested-validation decisions and every candidate's score, as Markdown.

    Parameters
    ----------
    decisions : dict
        ``reports/metrics/selection.json`` (the select stage's decisions, rule and scores).
    scores : DataFrame
        ``reports/tables/selection.csv``: decision, candidate, series, alpha, n_obs,
        n_exceptions, fz0_mean.
    """
    rehearsal = decisions["rehearsal"]
    lines = [
        f"Rule, fixed before any result: {decisions['rule']}",
        "",
        f"Rehearsal: fit on train (through {rehearsal['train_end']}), "
        f"select epochs on {rehearsal['select']}, score {rehearsal['score']}. "
        f"Decisions: final refit **{str(decisions['final_refit']).lower()}**, DDIM "
        f"**{decisions['n_steps']} steps, order {decisions['order']}**, primary method "
        f"**`{decisions['primary_method']}`** ({decisions['members']} ensemble members).",
        "",
        "| decision | candidate | mean FZ0 (rehearsal) | exceptions 5% / 1% (headline series) |",
        "| --- | --- | ---: | --- |",
    ]
    for (decision, candidate), rows in scores.groupby(["decision", "candidate"], sort=False):
        exc = {
            a: int(rows.loc[np.isclose(rows["alpha"], a), "n_exceptions"].sum())
            for a in (0.05, 0.01)
        }
        n_obs = int(rows.loc[np.isclose(rows["alpha"], 0.05), "n_obs"].sum())
        mean = float(rows["fz0_mean"].mean())
        value = f"{mean:.4f}" if math.isfinite(mean) else "∞ (ES ≥ 0 on some day)"
        lines.append(
            f"| {decision} | {candidate} | {value} | {exc[0.05]} / {exc[0.01]} "
            f"of {n_obs} (expected {0.05 * n_obs:.1f} / {0.01 * n_obs:.1f}) |"
        )
    margin = decisions.get("primary_margin") or {}
    if margin:
        k = float(decisions.get("margin_se", 1.0))
        steps = []
        for cand, rec in margin.items():
            gain, se = float(rec["gain"]), float(rec["se"])
            numbers = (
                f"gain {gain:+.4f}, se {se:.4f}"
                if math.isfinite(gain)
                else "a non-finite loss on some day"
            )
            verdict = "replaces it" if rec["switch"] else "does not replace it"
            steps.append(f"`{cand}` against `{rec['against']}`: {numbers} — {verdict}")
        lines += [
            "",
            f"Primary-method noise margin (a candidate must gain more than {k:g} HAC "
            f"standard error{'s' if k != 1 else ''}): " + "; ".join(steps) + ".",
        ]
    return "\n".join(lines)
