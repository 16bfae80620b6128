"""STUDY.md: every sentence computed from the tables, references, provenance.

The report links only to files that are committed with it (tables, figures, the stage
notebooks): the executed notebooks and their HTML renderings are stage outputs that git
ignores, so the report names their folders without linking to them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from diffrisk.core import io, paths
from diffrisk.reporting.discussion import join_words, study_discussion
from diffrisk.reporting.headline_text import goal_paragraph, methods_paragraph, pit_sentence
from diffrisk.reporting.paper_tables import select_series
from diffrisk.reporting.references import REFERENCES, references_section
from diffrisk.reporting.style import (
    FIGURE_CAPTIONS,
    FIGURE_STEMS,
    TABLE_STEMS,
    method_label,
    pct_text,
    series_label,
    sort_methods,
)

logger = logging.getLogger(__name__)


_PROVENANCE_ITEMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Raw data SHA-256", ("data_hash", "data_sha256", "raw_sha256", "prices_sha256", "sha256")),
    ("Package version", ("package_version", "diffrisk_version", "version")),
    ("Seed", ("seed",)),
)

#: Provenance keys that change with every run (git state, wall clock): recorded in each
#: output's ``.audit.json``, left out of the committed report so that a rerun that moves no
#: number leaves it byte-identical.
_RUN_DEPENDENT_KEYS = frozenset(
    {
        "git_revision",
        "git_rev",
        "git_commit",
        "git",
        "git_dirty",
        "timestamp_utc",
        "utc_timestamp",
        "created_utc",
        "timestamp",
    }
)


def provenance_block(provenance: Mapping[str, Any]) -> str:
    """Markdown table of a provenance record; missing standard items read "not recorded".

    Run-dependent keys (git revision, timestamps) are left out (``_RUN_DEPENDENT_KEYS``).
    """
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
        if key in used or key in _RUN_DEPENDENT_KEYS:
            continue
        value = provenance[key]
        if isinstance(value, Mapping | list | tuple):
            nested[key] = value
        else:
            lines.append(f"| {key} | `{value}` |")
    lines.append(
        "\nThe git revision and the time of each run are in every output's `.audit.json` "
        "sidecar, not here: a rerun that moves no number leaves this report unchanged."
    )
    text = "\n".join(lines)
    for key, value in nested.items():
        dumped = json.dumps(value, indent=2, sort_keys=True, default=str)
        text += f"\n\n`{key}`:\n\n```json\n{dumped}\n```"
    return text


def figure_fields(
    crash_label: str, caption_fields: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every field of the figure captions: the crash window's label and ``caption_fields``.

    Examples
    --------
    >>> figure_fields("Feb–Apr 2020", {"horizon": "20"})
    {'crash_window': 'Feb–Apr 2020', 'horizon': '20'}
    """
    return {"crash_window": crash_label, **(caption_fields or {})}


def figure_caption(
    stem: str, series: Sequence[str] = (), fields: Mapping[str, str] | None = None
) -> str:
    """Caption of the figure ``stem`` (:data:`~diffrisk.reporting.style.FIGURE_CAPTIONS`).

    Parameters
    ----------
    stem : str
        File stem. ``<base>_<series>`` (a paper figure of a further series) takes the
        caption of ``<base>`` and names the series.
    series : sequence of str
        The headline series, first one first: a paper figure's base stem names the first.
    fields : mapping of str to str, optional
        Values of the caption's fields in braces (the run's levels, windows and horizon,
        e.g. ``crash_window``); every field the caption names must be given.

    Returns
    -------
    str
        The caption; the stem itself for a figure without one.

    Raises
    ------
    ValueError
        If the caption names a field that ``fields`` lacks.
    """
    base, name = stem, ""
    if stem not in FIGURE_CAPTIONS:
        base = next((b for b in FIGURE_STEMS if stem.startswith(f"{b}_")), "")
        if not base:
            return stem
        name = stem.removeprefix(f"{base}_")
    elif stem in FIGURE_STEMS and series:
        name = series[0]
    try:
        caption = FIGURE_CAPTIONS[base].format_map(dict(fields or {}))
    except KeyError as missing:
        raise ValueError(
            f"the caption of figure {stem!r} needs the field {missing.args[0]!r}; "
            f"given: {sorted(fields or {})}"
        ) from None
    return f"{caption} Series: {series_label(name)}." if name else caption


def figure_block(
    stem: str,
    number: int,
    figures_dir: Path,
    out_dir: Path,
    series: Sequence[str] = (),
    fields: Mapping[str, str] | None = None,
) -> str:
    """Markdown of one figure: the PNG, then "**Figure N.** caption" and a link to the PDF.

    Parameters
    ----------
    stem : str
        File stem of ``<stem>.png`` and ``<stem>.pdf`` in ``figures_dir``.
    number : int
        Figure number in the report.
    figures_dir, out_dir : Path
        Where the figure files are; where the report is (links are relative to it).
    series, fields
        As in :func:`figure_caption`.

    Raises
    ------
    FileNotFoundError
        If the PNG or the PDF does not exist.
    """
    png, pdf = figures_dir / f"{stem}.png", figures_dir / f"{stem}.pdf"
    for p in (png, pdf):
        if not p.is_file():
            raise FileNotFoundError(f"figure {stem!r}: {p} does not exist (write it first)")
    caption = figure_caption(stem, series, fields)
    return (
        f"![Figure {number}: {stem}]({_relative_link(png, out_dir)})\n\n"
        f"**Figure {number}.** {caption} ([PDF]({_relative_link(pdf, out_dir)}))"
    )


def _headline_section(headline: pd.DataFrame, tdir: Path, benchmark: str, crash_label: str) -> str:
    """``headline.md`` as written by the coverage stage, then the verdict sentences."""
    path = tdir / "headline.md"
    if not path.is_file():
        raise FileNotFoundError(f"table 'headline': {path} does not exist (write it first)")
    primary = headline.loc[headline["primary"].astype(bool), "method"].unique()
    if len(primary) != 1:
        raise ValueError(f"headline must mark exactly one primary method, got {list(primary)}")
    return "\n\n".join(
        [
            path.read_text(encoding="utf-8").strip(),
            goal_paragraph(headline, str(primary[0]), benchmark, crash_label),
            methods_paragraph(headline, benchmark),
            pit_sentence(headline),
        ]
    )


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
    paper_figures_dir: str | os.PathLike[str] | None = None,
    tables: Sequence[str] = TABLE_STEMS,
    figures: Sequence[str] = FIGURE_STEMS,
    notebooks: Sequence[str | os.PathLike[str]] = (),
    test_period: tuple[Any, Any] | None = None,
    series: Sequence[str] | None = None,
    alphas: Sequence[float] = (0.05, 0.01),
    level: float = 0.05,
    benchmark: str = "fhs",
    headline: pd.DataFrame | None = None,
    crash_label: str = "Feb–Apr 2020",
    caption_fields: Mapping[str, str] | None = None,
    extra_sections: Sequence[tuple[str, str]] = (),
    closing_sections: Sequence[tuple[str, Sequence[str]]] = (),
    references: Sequence[tuple[str, str, str]] = REFERENCES,
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
        Where the ``<stem>.md`` tables and the ``<stem>.png``/``.pdf`` figures of the
        closing sections are; default ``reports/tables`` and ``reports/figures``.
    paper_figures_dir : path-like, optional
        Where the ``figures`` (the paper's Figures 1–3 of every series) are; default
        :func:`diffrisk.core.paths.paper_figures_dir` (``reports/figures/paper``).
    tables, figures : sequence of str
        Stems to inline / show, in order; each must exist. Figures are numbered in
        report order, captioned by :func:`figure_caption`.
    notebooks : sequence of path-like
        The committed stage notebooks (``notebooks/*.ipynb``) to link. The executed
        copies and their HTML are git-ignored stage outputs and are not linked.
    test_period : (start, end), optional
        Shown in the text.
    series, alphas, level
        As in :func:`study_discussion`.
    headline : DataFrame, optional
        :func:`diffrisk.evaluation.headline.headline_table` output (its ``primary`` rows
        name the primary method). When given, the report opens with a "Headline"
        section: ``<tables_dir>/headline.md`` as is, the verdict on the goal
        (:func:`~diffrisk.reporting.headline_text.goal_paragraph`), every method's unmet
        criteria and the PIT tests.
    crash_label : str, default "Feb–Apr 2020"
        Name of the headline's crash window (also the ``crash_window`` field of the
        captions).
    caption_fields : mapping of str to str, optional
        Further fields of the figure captions (:func:`figure_caption`), e.g. the stress
        horizon and levels of the closing sections' figures.
    extra_sections : sequence of (title, markdown)
        Sections placed after the results tables (e.g. the seed ensemble, the
        known-truth simulation).
    closing_sections : sequence of (markdown, figure stems)
        Sections placed after the discussion (e.g. the stress study), each markdown
        carrying its own headings and followed by its figures, numbered on from the
        results figures.
    references : sequence of (short, full, use)
        The "References" section (:func:`references_section`); default
        :data:`REFERENCES`.

    Notes
    -----
    Order: what was done, headline, results, figures, discussion, the closing
    sections, the stage notebooks, references, and an appendix with the provenance
    record and every parameter.

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
    pdir = Path(paper_figures_dir) if paper_figures_dir is not None else paths.paper_figures_dir()
    table_texts = []
    for stem in tables:
        path = tdir / f"{stem}.md"
        if not path.is_file():
            raise FileNotFoundError(f"table {stem!r}: {path} does not exist (write it first)")
        table_texts.append(path.read_text(encoding="utf-8").strip())
    shown = list(series) if series is not None else []
    fields = figure_fields(crash_label, caption_fields)
    figure_links = [
        figure_block(stem, number, pdir, out.parent, shown, fields)
        for number, stem in enumerate(figures, start=1)
    ]
    closing = []
    number = len(figure_links)
    for body, stems in closing_sections:
        blocks = [body.strip()]
        for stem in stems:
            number += 1
            blocks.append(figure_block(stem, number, fdir, out.parent, shown, fields))
        closing.append("\n\n".join(blocks))
    notebook_links = []
    for nb in notebooks:
        nb_path = Path(nb)
        if not nb_path.is_file():
            raise FileNotFoundError(f"stage notebook {nb_path} does not exist")
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
        f"distribution of the daily log return of {join_words([series_label(s) for s in chosen])} "
        "using data up to the previous day only, and from it the Value-at-Risk (the "
        f"α-quantile) and the CVaR (the mean return at or below the VaR) at α = {levels}. "
        f"Methods: {join_words([method_label(m) for m in methods])}. The realised returns then "
        "scored every method: VaR exceptions (r_t < VaR_t) with the Kupiec (1995) and "
        "Christoffersen (1998) tests and the Basel traffic light (Basel Committee 1996), "
        "the CVaR with the Acerbi–Szekely (2014) Z2 test, both jointly with the FZ0 loss "
        "(Fissler & Ziegel 2016; Patton, Ziegel & Chen 2019), compared against "
        f"{method_label(benchmark)} with the Diebold–Mariano (1995) test. The works cited "
        "are listed under References.\n\n"
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
    ]
    if headline is not None:
        parts += ["## Headline", _headline_section(headline, tdir, benchmark, crash_label)]
    parts += ["## Results", "\n\n".join(table_texts) if table_texts else "No tables."]
    for title, body in extra_sections:
        parts += [f"### {title}", body.strip()]
    parts += [
        "## Figures",
        "\n\n".join(figure_links) if figure_links else "No figures.",
        "## Discussion",
        discussion.strip(),
        *closing,
    ]
    if notebook_links:
        parts += [
            "## Stage notebooks",
            "Each pipeline stage runs one of these notebooks (papermill, parameters from "
            "`params.yaml`). After `dvc repro` the executed copies are in "
            "`reports/notebooks/` and self-contained HTML renderings in `reports/html/`; "
            "both are stage outputs that are not committed.",
            "\n".join(notebook_links),
        ]
    parts += [
        "## References",
        references_section(references),
        "## Appendix: provenance and parameters",
        "The record of this run: the hash of the raw data, the code revision, the "
        "package and library versions, the seed and every parameter of `params.yaml`.",
        provenance_block(provenance),
    ]
    path = io.write_text(out, "\n\n".join(parts) + "\n")
    logger.info("wrote study report %s", path)
    return path
