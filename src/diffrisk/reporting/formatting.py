"""Number formats and the Markdown / LaTeX renderers of the paper tables."""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from diffrisk.core import io, paths
from diffrisk.core.tables import check_stem, write_csv_table

logger = logging.getLogger(__name__)

_KIND_RULES: tuple[tuple[str, str], ...] = (
    (r"^(Series|Method)$", "text"),
    (r"^Alpha$", "alpha"),
    (r"^MC s\.e\.", "pct3"),
    (r"\(%\)$", "pct2"),
    (r"(^|\s)p(\s|$)|p-value", "pvalue"),
    (r"\(n\)$|^Days$|^TL ", "int"),
    (r"^FZ0", "loss"),
)


_FORMATTERS: dict[str, Callable[[float], str]] = {
    "pct2": lambda x: f"{x:.2f}",
    "pct3": lambda x: f"{x:.3f}",
    "pvalue": lambda x: "<0.001" if x < 0.001 else f"{x:.3f}",
    "int": lambda x: f"{round(x):d}",
    "loss": lambda x: f"{x:.4f}",
    "stat": lambda x: f"{x:.2f}",
    "alpha": lambda x: f"{100 * x:g}%",
}


def _column_kind(frame: pd.DataFrame, column: str, formats: Mapping[str, str]) -> str:
    if column in formats:
        kind = formats[column]
        if kind not in _FORMATTERS and kind != "text":
            raise ValueError(
                f"formats[{column!r}] must be one of {sorted([*_FORMATTERS, 'text'])}, got {kind!r}"
            )
        return kind
    for pattern, kind in _KIND_RULES:
        if re.search(pattern, str(column)):
            return kind
    return "stat" if pd.api.types.is_numeric_dtype(frame[column]) else "text"


def _format_cell(value: Any, kind: str) -> str | None:
    """Return the cell text, or None for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "text":
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return None if math.isnan(number) else ("inf" if number > 0 else "-inf")
    return _FORMATTERS[kind](number)


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "α": r"$\alpha$",
    "–": "--",
    "—": "---",
}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def _latex_number(text: str) -> str:
    if text.startswith("<"):
        return "$<$" + text[1:]
    if text.startswith("-"):
        return "$-$" + _latex_escape(text[1:])
    return _latex_escape(text)


def _block_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in ("Series", "Alpha") if c in frame.columns]


def _markdown_table(frame: pd.DataFrame, kinds: Mapping[str, str]) -> str:
    """GitHub table; block columns (Series, Alpha) shown only where their value changes."""
    columns = list(frame.columns)
    blocks = _block_columns(frame)
    header = "| " + " | ".join(str(c).replace("|", r"\|") for c in columns) + " |"
    align = "| " + " | ".join("---" if kinds[c] == "text" else "---:" for c in columns) + " |"
    lines = [header, align]
    previous: tuple[Any, ...] | None = None
    for rec in frame.to_dict("records"):
        block_values = tuple(rec[c] for c in blocks)
        cells = []
        for c in columns:
            text = _format_cell(rec[c], kinds[c])
            if c in blocks and previous is not None:
                depth = blocks.index(c) + 1
                if block_values[:depth] == previous[:depth]:
                    text = ""
            cells.append("–" if text is None else text.replace("|", r"\|"))
        previous = block_values
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _latex_table(frame: pd.DataFrame, kinds: Mapping[str, str], caption: str, label: str) -> str:
    """Booktabs table; each (Series, Alpha) block gets a header row and a rule."""
    blocks = _block_columns(frame)
    columns = [c for c in frame.columns if c not in blocks]
    spec = "".join("l" if kinds[c] == "text" else "r" for c in columns)
    # Wide tables (the extended one) get a smaller font and tighter columns.
    size = [r"\small"] if len(columns) <= 8 else [r"\scriptsize", r"\setlength{\tabcolsep}{3pt}"]
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        *size,
        rf"\caption{{{_latex_escape(caption)}}}",
        rf"\label{{tab:{label}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(_latex_escape(str(c)) for c in columns) + r" \\",
        r"\midrule",
    ]
    previous: tuple[Any, ...] | None = None
    for rec in frame.to_dict("records"):
        block_values = tuple(rec[c] for c in blocks)
        if blocks and block_values != previous:
            if previous is not None:
                lines.append(r"\midrule")
            parts = []
            for c, v in zip(blocks, block_values, strict=True):
                if kinds[c] == "alpha":
                    parts.append(rf"$\alpha = {100 * float(v):g}\%$")
                else:
                    parts.append(_latex_escape(str(v)))
            lines.append(
                rf"\multicolumn{{{len(columns)}}}{{l}}{{\textit{{{', '.join(parts)}}}}} \\"
            )
        previous = block_values
        cells = []
        for c in columns:
            text = _format_cell(rec[c], kinds[c])
            if text is None:
                cells.append("--")
            elif kinds[c] == "text":
                cells.append(_latex_escape(text))
            else:
                cells.append(_latex_number(text))
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(
    frame: pd.DataFrame,
    stem: str,
    caption: str,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    formats: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Write a table as ``<stem>.csv``, ``<stem>.md`` (GitHub) and ``<stem>.tex`` (booktabs).

    Parameters
    ----------
    frame : DataFrame
        The table, e.g. from :func:`table1_cvar`. Columns ``Series`` and ``Alpha`` (when
        present) define row blocks: the Markdown shows them only where they change, the
        LaTeX turns them into a block header row.
    stem : str
        File name without extension (``table1_cvar``).
    caption : str
        Caption: the first paragraph of the Markdown file and the LaTeX caption.
    out_dir : path-like, optional
        Folder; default :func:`diffrisk.core.paths.tables_dir`.
    formats : mapping column → kind, optional
        Override the number format of a column; kinds are ``text, pct2, pct3, pvalue,
        int, loss, stat, alpha``. By default the kind follows the column name: ``(%)`` →
        two decimals, a ``p`` word → p-value (three decimals, ``<0.001``), ``(n)``,
        ``Days`` and ``TL`` → integer, ``FZ0`` → four decimals, ``MC s.e.`` → three
        decimals, other numbers → two decimals.

    Returns
    -------
    dict
        ``{"csv": path, "md": path, "tex": path}``.

    Notes
    -----
    The CSV has four significant digits (:data:`diffrisk.core.tables.CSV_FLOAT_FORMAT`)
    and every cell (no blanking); missing
    values are empty in the CSV, ``–`` in Markdown and ``--`` in LaTeX. Each file is
    written atomically.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    check_stem(stem)
    formats = dict(formats or {})
    unknown = sorted(set(formats) - set(frame.columns))
    if unknown:
        raise ValueError(f"formats names columns {unknown} that the frame does not have")
    kinds = {c: _column_kind(frame, c, formats) for c in frame.columns}
    folder = Path(out_dir) if out_dir is not None else paths.tables_dir()
    written = {
        "csv": write_csv_table(folder / f"{stem}.csv", frame),
        "md": io.write_text(
            folder / f"{stem}.md", f"{caption}\n\n{_markdown_table(frame, kinds)}\n"
        ),
        "tex": io.write_text(folder / f"{stem}.tex", _latex_table(frame, kinds, caption, stem)),
    }
    logger.info("wrote table %s (%d rows) to %s", stem, len(frame), folder)
    return written


def markdown_text(frame: pd.DataFrame, formats: Mapping[str, str] | None = None) -> str:
    """The GitHub Markdown of a table with the number formats of :func:`write_table`.

    Parameters
    ----------
    frame : DataFrame
        The table; ``Series`` and ``Alpha`` columns (when present) are shown only where
        their value changes.
    formats : mapping column → kind, optional
        As in :func:`write_table`.

    Returns
    -------
    str
        The table, without a caption and without a final newline.
    """
    formats = dict(formats or {})
    return _markdown_table(frame, {c: _column_kind(frame, c, formats) for c in frame.columns})


def headline_display(
    headline: pd.DataFrame, benchmark: str, crash_label: str = "Feb–Apr 2020"
) -> pd.DataFrame:
    """The headline table as shown: labelled columns, the primary method in bold.

    Parameters
    ----------
    headline : DataFrame
        :func:`diffrisk.evaluation.headline.headline_table` output.
    benchmark : str
        The Diebold–Mariano reference method (named in two column headers).
    crash_label : str, default "Feb–Apr 2020"
        Name of the crash window in the column header.

    Returns
    -------
    DataFrame
        ``Series, Alpha, Method, Exc. (expected), Kupiec p, CC p, AS Z2 p, Red TL (n),
        PIT KS p, FZ0, FZ0 vs <benchmark>, DM p, Exc. <crash_label> (n)``; methods keep
        their parameter names (``ddpm_ens``), the primary one is ``**name** (primary)``.
    """
    records = []
    for rec in headline.to_dict("records"):
        name = f"**{rec['method']}** (primary)" if rec["primary"] else str(rec["method"])
        exc, expected = float(rec["n_exceptions"]), float(rec["expected_exceptions"])
        records.append(
            {
                "Series": rec["series"],
                "Alpha": rec["alpha"],
                "Method": name,
                "Exc. (expected)": "–" if math.isnan(exc) else f"{exc:.0f} ({expected:.1f})",
                "Kupiec p": rec["kupiec_p"],
                "CC p": rec["christoffersen_cc_p"],
                "AS Z2 p": rec["as_z2_p"],
                "Red TL (n)": rec["tl_red"],
                "PIT KS p": rec["pit_ks_p"],
                "FZ0": rec["fz0_mean"],
                f"FZ0 vs {benchmark}": rec["fz0_diff"],
                "DM p": rec["dm_p"],
                f"Exc. {crash_label} (n)": rec["crash_exceptions"],
            }
        )
    return pd.DataFrame.from_records(records)


def headline_markdown(
    headline: pd.DataFrame, benchmark: str, caption: str, crash_label: str = "Feb–Apr 2020"
) -> str:
    """The headline table's Markdown file text: the caption, then the table.

    The coverage stage writes it to ``reports/tables/headline.md``; the study report and
    the README show that file as is.

    Parameters
    ----------
    headline : DataFrame
        :func:`diffrisk.evaluation.headline.headline_table` output.
    benchmark : str
        The Diebold–Mariano reference method.
    caption : str
        The first paragraph.
    crash_label : str, default "Feb–Apr 2020"

    Returns
    -------
    str
        Caption, blank line, table (columns of :func:`headline_display`; p-values with
        three decimals or ``<0.001``, FZ0 with four, counts as integers, ``–`` for a
        missing value), final newline.
    """
    frame = headline_display(headline, benchmark, crash_label)
    kinds = {"Method": "text", "Exc. (expected)": "text", f"FZ0 vs {benchmark}": "loss"}
    return f"{caption}\n\n{markdown_text(frame, kinds)}\n"


def window_label(start: Any, end: Any) -> str:
    """Short name of a date window: ``Feb–Apr 2020`` for whole months, else the two dates.

    Examples
    --------
    >>> window_label("2020-02-01", "2020-04-30")
    'Feb–Apr 2020'
    >>> window_label("2020-02-19", "2020-04-30")
    '2020-02-19–2020-04-30'
    """
    first, last = pd.Timestamp(start), pd.Timestamp(end)
    if first.year == last.year and first.is_month_start and last.is_month_end:
        months = f"{first:%b}" if first.month == last.month else f"{first:%b}–{last:%b}"
        return f"{months} {first.year}"
    return f"{first.date()}–{last.date()}"
