"""Plain tables: the GitHub Markdown renderer and the CSV + Markdown writer.

The paper tables (number formats per column kind, captions, LaTeX) are written by
:func:`diffrisk.reporting.formatting.write_table`, which reuses the CSV writing here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from diffrisk.core import io, paths

#: ``float_format`` of every committed CSV table: four significant digits. That is more
#: than the estimators determine (Monte-Carlo and sampling error are far larger), and
#: few enough that the last-bit differences of BLAS kernels between CPUs rarely reach a
#: printed digit. Stages that compute from a table read a full-precision copy instead.
CSV_FLOAT_FORMAT = "%.4g"

#: ``floatfmt`` of the plain tables' Markdown files.
MARKDOWN_FLOAT_FORMAT = ".4g"


def markdown_table(frame: pd.DataFrame, floatfmt: str = MARKDOWN_FLOAT_FORMAT) -> str:
    """Render a DataFrame as a GitHub Markdown table (no index), ending with a newline.

    Parameters
    ----------
    frame : DataFrame
        The table.
    floatfmt : str, default ".4g"
        Format of the float cells (``tabulate``'s ``floatfmt``).

    Returns
    -------
    str

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"a": [1.23456], "b": ["x"]})), end="")
    |     a | b   |
    |------:|:----|
    | 1.235 | x   |
    """
    return frame.to_markdown(index=False, floatfmt=floatfmt) + "\n"


def write_csv_table(
    path: str | os.PathLike[str], frame: pd.DataFrame, float_format: str = CSV_FLOAT_FORMAT
) -> Path:
    """Write ``frame`` as CSV without its index, atomically (:func:`diffrisk.core.io.write_csv`).

    Parameters
    ----------
    path : path-like
        Destination.
    frame : DataFrame
        The table.
    float_format : str, default "%.4g"
        ``printf`` format of the float cells.

    Returns
    -------
    Path
        ``path``.
    """
    return io.write_csv(path, frame, index=False, float_format=float_format)


def check_stem(stem: str) -> str:
    """Return ``stem`` if it is a bare file name without extension, else raise ValueError."""
    if not stem or Path(stem).name != stem or "." in stem:
        raise ValueError(f"stem must be a bare file name without extension, got {stem!r}")
    return stem


def write_table(
    frame: pd.DataFrame,
    stem: str,
    folder: str | os.PathLike[str] | None = None,
    *,
    csv_float_format: str = CSV_FLOAT_FORMAT,
    markdown_floatfmt: str = MARKDOWN_FLOAT_FORMAT,
) -> dict[str, Path]:
    """Write a plain table as ``<stem>.csv`` and ``<stem>.md``, each atomically.

    Parameters
    ----------
    frame : DataFrame
        The table (its index is not written).
    stem : str
        File name without extension.
    folder : path-like, optional
        Destination folder; default :func:`diffrisk.core.paths.tables_dir`.
    csv_float_format : str, default "%.4g"
        ``float_format`` of the CSV.
    markdown_floatfmt : str, default ".4g"
        ``floatfmt`` of the Markdown (:func:`markdown_table`).

    Returns
    -------
    dict
        ``{"csv": path, "md": path}``.

    Raises
    ------
    ValueError
        If ``stem`` is not a bare file name without extension.
    """
    check_stem(stem)
    target = Path(folder) if folder is not None else paths.tables_dir()
    return {
        "csv": write_csv_table(target / f"{stem}.csv", frame, csv_float_format),
        "md": io.write_text(target / f"{stem}.md", markdown_table(frame, markdown_floatfmt)),
    }
