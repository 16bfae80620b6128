"""Plain table writers: GitHub Markdown and CSV."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from diffrisk.core import io, paths


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".4g") -> str:
    """Render a DataFrame as a GitHub Markdown table."""
    return frame.to_markdown(index=False, floatfmt=floatfmt) + "\n"


def parse_list(value: str | Sequence[str] | None) -> list[str]:
    """Parse a comma-separated parameter (``"portfolio,sp500"``) into a list of names.

    DVC cannot interpolate YAML lists into a command line, so list parameters are
    comma-separated strings; a real list is accepted too.
    """
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(v).strip() for v in items if str(v).strip()]


def _markdown(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, floatfmt=".4g") + "\n"


def _write_table(stem: str, frame: pd.DataFrame) -> None:
    io.write_csv(paths.tables_dir() / f"{stem}.csv", frame, index=False, float_format="%.6g")
    io.write_text(paths.tables_dir() / f"{stem}.md", _markdown(frame))
