"""The discussion section of STUDY.md: per series and alpha, who wins and who fails.

Every sentence is computed from the backtest and Diebold–Mariano tables
(:func:`study_discussion`); :func:`join_words` and :func:`p_text` are the wording helpers
the other report sections share.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.reporting.paper_tables import (
    methods_of,
    normalise_dm_table,
    prepare_backtests,
    table_value,
)
from diffrisk.reporting.style import (
    alpha_sort_key,
    is_ddpm,
    method_label,
    method_rank,
    pct_text,
    series_label,
)


def join_words(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c`` (``none`` for no item)."""
    items = list(items)
    if not items:
        return "none"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def p_text(p: float) -> str:
    """A p-value as text: ``p < 0.001`` or ``p = 0.006``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _level_text(level: float) -> str:
    return f"{100 * level:g}%"


def _fz0_paragraph(
    rows: Mapping[tuple[Any, ...], Mapping[str, Any]],
    dm: Mapping[tuple[Any, ...], Mapping[str, Any]],
    s: str,
    a: float,
    methods: Sequence[str],
    level: float,
    benchmark: str,
) -> tuple[str, str | None, bool]:
    """Sentence on the lowest mean FZ0; returns (text, winner, significant vs FHS)."""
    ak = alpha_sort_key(a)
    fz = {m: table_value(rows, (s, m, ak), "fz0_mean") for m in methods}
    fz = {m: v for m, v in fz.items() if np.isfinite(v)}
    if not fz:
        return "No FZ0 results.", None, False
    ranked = sorted(fz, key=lambda m: (fz[m], method_rank(m)))
    best = ranked[0]
    text = f"Lowest mean FZ0 loss: {method_label(best)} ({fz[best]:.4f})"
    if len(ranked) > 1:
        text += f"; next {method_label(ranked[1])} ({fz[ranked[1]]:.4f})"
    text += "."
    significant = False
    bench = method_label(benchmark)
    if best == benchmark:
        text += (
            f" {bench} is the Diebold–Mariano benchmark itself: no method has a lower mean "
            "FZ0 loss here."
        )
    elif benchmark not in fz:
        text += f" There are no {bench} results, so no Diebold–Mariano comparison."
    else:
        rec = dm.get((s, best, ak, benchmark))
        p = table_value(dm, (s, best, ak, benchmark), "dm_p") if rec else math.nan
        if not np.isfinite(p):
            text += f" No Diebold–Mariano result against {bench} is available for it."
        else:
            significant = p < level
            stat = table_value(dm, (s, best, ak, benchmark), "dm_stat")
            text += (
                f" Its advantage over {bench} (FZ0 {fz[benchmark]:.4f}) is "
                f"{'' if significant else 'not '}significant at the {_level_text(level)} "
                f"level by the Diebold–Mariano test (DM = {stat:.2f}, {p_text(p)})."
            )
    return text, best, significant


def _pass_fail(
    name: str,
    rows: Mapping[tuple[Any, ...], Mapping[str, Any]],
    key: Callable[[str], tuple[Any, ...]],
    column: str,
    methods: Sequence[str],
    level: float,
) -> str:
    pvals = {m: table_value(rows, key(m), column) for m in methods}
    passed = [method_label(m) for m in methods if np.isfinite(pvals[m]) and pvals[m] >= level]
    failed = [method_label(m) for m in methods if np.isfinite(pvals[m]) and pvals[m] < level]
    absent = [method_label(m) for m in methods if not np.isfinite(pvals[m])]
    lv = f"{level:g}"
    if passed and failed:
        text = (
            f"{name}: passed (p ≥ {lv}) by {join_words(passed)}; rejected (p < {lv}) for "
            f"{join_words(failed)}."
        )
    elif passed:
        text = f"{name}: passed (p ≥ {lv}) by every method tested."
    elif failed:
        text = f"{name}: rejected (p < {lv}) for every method tested."
    else:
        text = f"{name}: no results."
    if absent and (passed or failed):
        text += f" Not available for {join_words(absent)}."
    return text


def _coverage_paragraph(
    rows: Mapping[tuple[Any, ...], Mapping[str, Any]],
    s: str,
    a: float,
    methods: Sequence[str],
    level: float,
) -> str:
    ak = alpha_sort_key(a)
    rates = {m: table_value(rows, (s, m, ak), "exception_rate") for m in methods}
    rates = {m: v for m, v in rates.items() if np.isfinite(v)}
    parts = []
    if rates:
        listing = "; ".join(f"{method_label(m)} {100 * v:.2f}%" for m, v in rates.items())
        closest = min(rates, key=lambda m: (abs(rates[m] - a), method_rank(m)))
        parts.append(
            f"Exception rates against the nominal {pct_text(a)}: {listing}. Closest to "
            f"nominal: {method_label(closest)} ({100 * rates[closest]:.2f}%)."
        )

    def key(m: str) -> tuple[Any, ...]:
        return (s, m, ak)

    parts.append(_pass_fail("Kupiec test", rows, key, "kupiec_p", methods, level))
    parts.append(
        _pass_fail("Christoffersen independence", rows, key, "christoffersen_ind_p", methods, level)
    )
    parts.append(
        _pass_fail(
            "Christoffersen conditional coverage",
            rows,
            key,
            "christoffersen_cc_p",
            methods,
            level,
        )
    )
    parts.append(
        _pass_fail("Acerbi–Szekely Z2 test of the CVaR", rows, key, "as_z2_p", methods, level)
    )
    return " ".join(parts)


def _cvar_claim_paragraph(
    rows: Mapping[tuple[Any, ...], Mapping[str, Any]],
    s: str,
    a: float,
    methods: Sequence[str],
) -> str | None:
    ak = alpha_sort_key(a)
    refs = [m for m in ("hs", "mc_normal") if m in methods]
    ddpms = [m for m in methods if is_ddpm(m)]
    if not ddpms or not refs:
        return None
    sentences = []
    for d in ddpms:
        c_d = table_value(rows, (s, d, ak), "avg_cvar")
        c_ref = {m: table_value(rows, (s, m, ak), "avg_cvar") for m in refs}
        if not np.isfinite(c_d) or not all(np.isfinite(v) for v in c_ref.values()):
            continue
        deeper = [method_label(m) for m in refs if c_d < c_ref[m]]
        shallower = [method_label(m) for m in refs if c_d >= c_ref[m]]
        listing = " and ".join(f"{method_label(m)} {100 * c_ref[m]:.2f}%" for m in refs)
        relation = []
        if deeper:
            relation.append(f"deeper than {join_words(deeper)}")
        if shallower:
            relation.append(f"not deeper than {join_words(shallower)}")
        verdict = (
            "holds" if not shallower else ("does not hold" if not deeper else "holds only in part")
        )
        text = (
            f"{method_label(d)}: average CVaR {100 * c_d:.2f}% against {listing}, "
            f"{' but '.join(relation)}; the paper's claim of a deeper CVaR than Historical "
            f"Simulation and Monte Carlo {verdict} here."
        )
        z2, z2_p = table_value(rows, (s, d, ak), "as_z2"), table_value(rows, (s, d, ak), "as_z2_p")
        rate = table_value(rows, (s, d, ak), "exception_rate")
        if np.isfinite(rate):
            text += f" Its VaR exception rate is {100 * rate:.2f}% (nominal {pct_text(a)})"
            if np.isfinite(z2) and np.isfinite(z2_p):
                text += f" and its Acerbi–Szekely Z2 = {z2:.2f} ({p_text(z2_p)})"
            text += "."
        sentences.append(text)
    return " ".join(sentences) if sentences else None


def study_discussion(
    backtests: pd.DataFrame,
    dm_table: pd.DataFrame | None = None,
    *,
    series: Sequence[str] | None = None,
    alphas: Sequence[float] = (0.05, 0.01),
    level: float = 0.05,
    benchmark: str = "fhs",
) -> str:
    """The discussion section of ``STUDY.md``, every sentence computed from the tables.

    For each series and alpha: the method with the lowest mean FZ0 loss and whether its
    advantage over Filtered HS is significant by the Diebold–Mariano test at ``level``
    (the comparison uses the ``fz0_mean`` ordering of ``backtests`` and the two-sided
    ``dm_p`` of ``dm_table``); exception rates against the nominal rate; which methods
    pass the Kupiec, Christoffersen (independence, conditional coverage) and
    Acerbi–Szekely tests at ``level``; and how each DDPM configuration's average CVaR
    compares with Historical Simulation and Monte Carlo (the source paper's claim).

    Parameters
    ----------
    backtests : DataFrame
        Uses ``series, method, alpha, exception_rate, avg_cvar, kupiec_p,
        christoffersen_ind_p, christoffersen_cc_p, as_z2, as_z2_p, fz0_mean``.
    dm_table : DataFrame, optional
        As in :func:`extended_table`.
    series, alphas
        As in :func:`table1_cvar`.
    level : float, default 0.05
        Significance level of every test.

    Returns
    -------
    str
        Markdown, one ``###`` section per (series, alpha) after a summary paragraph.
    """
    cols = (
        "exception_rate",
        "avg_cvar",
        "kupiec_p",
        "christoffersen_ind_p",
        "christoffersen_cc_p",
        "as_z2",
        "as_z2_p",
        "fz0_mean",
    )
    rows, chosen = prepare_backtests(backtests, cols, series)
    dm = normalise_dm_table(dm_table) if dm_table is not None else {}
    sections = []
    n_cells = n_ddpm_best = n_ddpm_sig = 0
    for s in chosen:
        methods = methods_of(backtests, s)
        for a in alphas:
            fz_text, best, significant = _fz0_paragraph(rows, dm, s, a, methods, level, benchmark)
            n_cells += 1
            if best is not None and is_ddpm(best):
                n_ddpm_best += 1
                n_ddpm_sig += int(significant)
            body = [fz_text, _coverage_paragraph(rows, s, a, methods, level)]
            claim = _cvar_claim_paragraph(rows, s, a, methods)
            if claim:
                body.append(claim)
            sections.append(f"### {series_label(s)}, α = {pct_text(a)}\n\n" + "\n\n".join(body))
    summary = (
        f"A diffusion-model configuration has the lowest mean FZ0 loss in {n_ddpm_best} of "
        f"the {n_cells} (series, α) cases; in {n_ddpm_sig} of them its advantage over "
        f"{method_label(benchmark)} is significant at the {_level_text(level)} level by "
        "the Diebold–Mariano test. FZ0 is the Fissler–Ziegel joint VaR/CVaR loss (lower "
        "is better); a deeper average CVaR is only better if the tests of the CVaR and "
        "the FZ0 loss agree."
    )
    return summary + "\n\n" + "\n\n".join(sections) + "\n"
