"""Parsing of command-line and ``params.yaml`` parameter values."""

from __future__ import annotations

from collections.abc import Sequence


def parse_list(value: str | Sequence[str] | None) -> list[str]:
    """Parse a comma-separated parameter (``"portfolio,sp500"``) into a list of names.

    DVC cannot interpolate YAML lists into a command line, so list parameters are
    comma-separated strings; a real list is accepted too.

    Parameters
    ----------
    value : str, sequence of str or None
        The parameter value.

    Returns
    -------
    list of str
        The stripped, non-empty items in order (empty for ``None`` or ``""``).

    Examples
    --------
    >>> parse_list("portfolio, sp500,")
    ['portfolio', 'sp500']
    """
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(v).strip() for v in items if str(v).strip()]
