"""STUDY.md: every sentence computed from the tables, plus provenance; notebook HTML."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.core import io, paths
from diffrisk.reporting.paper_tables import (
    methods_of,
    normalise_dm_table,
    prepare_backtests,
    select_series,
    table_value,
)
from diffrisk.reporting.style import (
    FIGURE_CAPTIONS,
    FIGURE_STEMS,
    TABLE_STEMS,
    alpha_sort_key,
    is_ddpm,
    method_label,
    method_rank,
    pct_text,
    series_label,
    sort_methods,
)

logger = logging.getLogger(__name__)


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if not items:
        return "none"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _p_text(p: float) -> str:
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
                f"level by the Diebold–Mariano test (DM = {stat:.2f}, {_p_text(p)})."
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
            f"{name}: passed (p ≥ {lv}) by {_join(passed)}; rejected (p < {lv}) for "
            f"{_join(failed)}."
        )
    elif passed:
        text = f"{name}: passed (p ≥ {lv}) by every method tested."
    elif failed:
        text = f"{name}: rejected (p < {lv}) for every method tested."
    else:
        text = f"{name}: no results."
    if absent and (passed or failed):
        text += f" Not available for {_join(absent)}."
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
            relation.append(f"deeper than {_join(deeper)}")
        if shallower:
            relation.append(f"not deeper than {_join(shallower)}")
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
                text += f" and its Acerbi–Szekely Z2 = {z2:.2f} ({_p_text(z2_p)})"
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


_PROVENANCE_ITEMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Raw data SHA-256", ("data_hash", "data_sha256", "raw_sha256", "prices_sha256", "sha256")),
    ("Git revision", ("git_revision", "git_rev", "git_commit", "git")),
    ("Package version", ("package_version", "diffrisk_version", "version")),
    ("Generated (UTC)", ("timestamp_utc", "utc_timestamp", "created_utc", "timestamp")),
    ("Seed", ("seed",)),
)


def provenance_block(provenance: Mapping[str, Any]) -> str:
    """Markdown table of a provenance record; missing standard items read "not recorded"."""
    used: set[str] = set()
    lines = ["| Item | Value |", "| --- | --- |"]
    for label, aliases in _PROVENANCE_ITEMS:
        key = next((k for k in aliases if k in provenance), None)
        if key is None:
            value = "not recorded"
        else:
            used.add(key)
            value = f"`{provenance[key]}`"
        lines.append(f"| {label} | {value} |")
    nested = {}
    for key in sorted(provenance):
        if key in used:
            continue
        value = provenance[key]
        if isinstance(value, Mapping | list | tuple):
            nested[key] = value
        else:
            lines.append(f"| {key} | `{value}` |")
    text = "\n".join(lines)
    for key, value in nested.items():
        dumped = json.dumps(value, indent=2, sort_keys=True, default=str)
        text += f"\n\n`{key}`:\n\n```json\n{dumped}\n```"
    return text


def _relative_link(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def write_study_report(
    backtests: pd.DataFrame,
    provenance: Mapping[str, Any],
    dm_table: pd.DataFrame | None = None,
    *,
    out_path: str | os.PathLike[str] | None = None,
    tables_dir: str | os.PathLike[str] | None = None,
    figures_dir: str | os.PathLike[str] | None = None,
    tables: Sequence[str] = TABLE_STEMS,
    figures: Sequence[str] = FIGURE_STEMS,
    notebooks_html: Sequence[str | os.PathLike[str]] = (),
    test_period: tuple[Any, Any] | None = None,
    series: Sequence[str] | None = None,
    alphas: Sequence[float] = (0.05, 0.01),
    level: float = 0.05,
    benchmark: str = "fhs",
) -> Path:
    """Write ``reports/STUDY.md`` from the pipeline's outputs.

    Parameters
    ----------
    backtests : DataFrame
        ``reports/tables/backtests.csv`` (see :func:`study_discussion` for the columns).
    provenance : mapping
        The provenance record (e.g. from ``diffrisk.audit``): raw-data hash
        (``data_hash``/``data_sha256``/``raw_sha256``…), ``git_revision``,
        ``package_version``, ``timestamp_utc``, ``seed``; nested values such as
        ``params`` are shown as JSON. Missing items show as "not recorded".
    dm_table : DataFrame, optional
        Diebold–Mariano results (see :func:`extended_table`).
    out_path : path-like, optional
        Default ``reports/STUDY.md``.
    tables_dir, figures_dir : path-like, optional
        Where the ``<stem>.md`` tables and ``<stem>.png``/``.pdf`` figures are; default
        ``reports/tables`` and ``reports/figures``.
    tables, figures : sequence of str
        Stems to inline / link, in order; each must exist.
    notebooks_html : sequence of path-like
        HTML renderings (from :func:`render_notebooks_html`) to link.
    test_period : (start, end), optional
        Shown in the text.
    series, alphas, level
        As in :func:`study_discussion`.

    Returns
    -------
    Path
        The report.

    Raises
    ------
    FileNotFoundError
        If a listed table, figure or notebook file does not exist.
    """
    out = Path(out_path) if out_path is not None else paths.reports_dir() / "STUDY.md"
    tdir = Path(tables_dir) if tables_dir is not None else paths.tables_dir()
    fdir = Path(figures_dir) if figures_dir is not None else paths.figures_dir()
    table_texts = []
    for stem in tables:
        path = tdir / f"{stem}.md"
        if not path.is_file():
            raise FileNotFoundError(f"table {stem!r}: {path} does not exist (write it first)")
        table_texts.append(path.read_text(encoding="utf-8").strip())
    figure_links = []
    for stem in figures:
        png, pdf = fdir / f"{stem}.png", fdir / f"{stem}.pdf"
        for p in (png, pdf):
            if not p.is_file():
                raise FileNotFoundError(f"figure {stem!r}: {p} does not exist (write it first)")
        caption = FIGURE_CAPTIONS.get(stem, stem)
        figure_links.append(
            f"![{caption}]({_relative_link(png, out.parent)})\n\n"
            f"{caption} ([PDF]({_relative_link(pdf, out.parent)}))"
        )
    notebook_links = []
    for nb in notebooks_html:
        nb_path = Path(nb)
        if not nb_path.is_file():
            raise FileNotFoundError(f"notebook rendering {nb_path} does not exist")
        notebook_links.append(f"- [{nb_path.stem}]({_relative_link(nb_path, out.parent)})")

    discussion = study_discussion(
        backtests, dm_table, series=series, alphas=alphas, level=level, benchmark=benchmark
    )
    chosen = select_series(backtests, series, "backtests")
    methods = sort_methods(backtests.loc[backtests["series"].isin(chosen), "method"])
    n_obs = pd.to_numeric(backtests.loc[backtests["series"].isin(chosen), "n_obs"], errors="coerce")
    period = (
        f"the test period {pd.Timestamp(test_period[0]).date()} – "
        f"{pd.Timestamp(test_period[1]).date()}"
        if test_period is not None
        else "the test period"
    )
    days = (
        f"{int(n_obs.min())} trading days"
        if n_obs.notna().any() and n_obs.min() == n_obs.max()
        else f"{int(n_obs.min())}–{int(n_obs.max())} trading days"
        if n_obs.notna().any()
        else "every trading day"
    )
    levels = " and ".join(pct_text(a) for a in alphas)
    what = (
        f"For each of the {days} of {period}, every method forecast the one-day-ahead "
        f"distribution of the daily log return of {_join([series_label(s) for s in chosen])} "
        "using data up to the previous day only, and from it the Value-at-Risk (the "
        f"α-quantile) and the CVaR (the mean return at or below the VaR) at α = {levels}. "
        f"Methods: {_join([method_label(m) for m in methods])}. The realised returns then "
        "scored every method: VaR exceptions (r_t < VaR_t) with the Kupiec and "
        "Christoffersen tests and the Basel traffic light, the CVaR with the "
        "Acerbi–Szekely Z2 test, both jointly with the Fissler–Ziegel FZ0 loss, compared "
        f"against {method_label(benchmark)} with the Diebold–Mariano test.\n\n"
        "Conventions: returns are log returns; VaR and CVaR are returns, so negative "
        "numbers are losses; α is the tail probability; tables are in percent."
    )
    parts = [
        "# Diffusion-model VaR and CVaR: study report",
        "_Generated by `diffrisk.reporting.study_report.write_study_report` from the pipeline "
        "outputs: every number and every sentence of the discussion is computed from the "
        "tables. Do not edit by hand._",
        "## What was done",
        what,
        "## Results",
        "\n\n".join(table_texts) if table_texts else "No tables.",
        "## Figures",
        "\n\n".join(figure_links) if figure_links else "No figures.",
        "## Discussion",
        discussion.strip(),
    ]
    if notebook_links:
        parts += ["## Executed notebooks", "\n".join(notebook_links)]
    parts += ["## Provenance", provenance_block(provenance)]
    path = io.write_text(out, "\n\n".join(parts) + "\n")
    logger.info("wrote study report %s", path)
    return path


_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock html_head_js_requirejs %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
"""


def render_notebooks_html(
    executed_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]
) -> list[Path]:
    """Render every executed notebook (``*.ipynb``) of a folder to self-contained HTML.

    Parameters
    ----------
    executed_dir : path-like
        Folder of executed notebooks (``reports/notebooks``).
    out_dir : path-like
        Folder for ``<name>.html``.

    Returns
    -------
    list of Path
        The HTML files, in name order.

    Notes
    -----
    Uses nbconvert's ``HTMLExporter`` with the ``lab`` template minus the blocks that load
    require.js, MathJax, Mermaid and the widget renderer from a CDN: the pages load
    nothing remote (equations show as TeX source), images are embedded as data URIs, and
    the conversion needs no network.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    src = Path(executed_dir)
    if not src.is_dir():
        raise FileNotFoundError(f"executed_dir {src} is not a folder")
    notebooks = sorted(src.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no executed notebooks (*.ipynb) in {src}")
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"diffrisk_offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="diffrisk_offline.html.j2",
        embed_images=True,
    )
    written = []
    for nb_path in notebooks:
        try:
            node = nbformat.read(nb_path, as_version=4)
        except Exception as exc:  # nbformat raises several unrelated types
            raise ValueError(f"cannot read notebook {nb_path}: {exc}") from exc
        body, _ = exporter.from_notebook_node(node, resources={"metadata": {"name": nb_path.stem}})
        written.append(io.write_text(Path(out_dir) / f"{nb_path.stem}.html", body))
    logger.info("rendered %d notebooks to %s", len(written), out_dir)
    return written
