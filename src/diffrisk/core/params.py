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


def parse_numbers(value: str | Sequence[str] | Sequence[float] | None, name: str) -> list[float]:
    """Parse a comma-separated list of numbers (``"1.0,1.5,2"``), naming the parameter on error.

    Parameters
    ----------
    value : str, sequence or None
        The parameter value (items as in :func:`parse_list`).
    name : str
        The parameter, for the error message (e.g. ``stress.generate.guidance_grid``).

    Returns
    -------
    list of float

    Raises
    ------
    ValueError
        If an item is not a number.

    Examples
    --------
    >>> parse_numbers("1, 1.5,2,", "grid")
    [1.0, 1.5, 2.0]
    """
    as_text = value if value is None or isinstance(value, str) else [str(v) for v in value]
    items = parse_list(as_text)
    numbers = []
    for item in items:
        try:
            numbers.append(float(item))
        except ValueError:
            raise ValueError(
                f"{name}: {item!r} is not a number (expected comma-separated numbers, "
                f"got {value!r})"
            ) from None
    return numbers
