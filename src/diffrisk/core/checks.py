"""Argument checks shared by every layer.

Each check returns the value in its canonical type or raises ``ValueError`` naming the
argument and what was expected, as :mod:`arch` does (``"y must be squeezable to 1
dimension"``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

__all__ = ["as_2d", "as_float_array", "check_int", "finite_float"]


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """Return ``value`` as ``int``; ``ValueError`` unless it is an integer ``>= minimum``.

    Booleans and floats are refused, even integral ones: a parameter file that says
    ``n_paths: 2.5`` or ``true`` is a mistake worth naming.

    Examples
    --------
    >>> check_int(3, "window", 2)
    3
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def finite_float(value: Any, name: str) -> float:
    """Return ``value`` as a finite ``float``; ``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a finite number, got {value!r}") from exc
    if not math.isfinite(out):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return out


def as_2d(values: NDArray[np.floating] | pd.DataFrame, name: str) -> NDArray[np.float64]:
    """A float64 ``(days, series)`` array from 1-D or 2-D input; ``ValueError`` otherwise."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D (days) or 2-D (days, series), got {arr.ndim}-D")
    return arr


def as_float_array(
    data: ArrayLike | pd.DataFrame | pd.Series, name: str, ndim: int | None = None
) -> NDArray[np.float64]:
    """A finite float64 array of ``data`` (a DataFrame's values); ``ValueError`` naming it.

    Parameters
    ----------
    data : array_like, DataFrame or Series
    name : str
        The argument's name, for the error message.
    ndim : int, optional
        Required number of dimensions (2 reads "(days, n_assets)", 1 "(days,)").
    """
    values = data.to_numpy() if isinstance(data, pd.DataFrame | pd.Series) else data
    arr = np.asarray(values, dtype=float)
    if ndim is not None and arr.ndim != ndim:
        shape = {1: " (days,)", 2: " (days, n_assets)"}.get(ndim, "")
        raise ValueError(f"{name} must be {ndim}-D{shape}, got ndim={arr.ndim}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values; drop or fill them first")
    return arr


def as_series(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """A non-empty 1-D float array without NaN or inf, or ``ValueError`` naming it."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D array of numbers") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        kind = "NaN" if np.isnan(arr[i]) else "inf"
        raise ValueError(f"{name} contains {kind} at position {i}")
    return arr


def check_length(name: str, arr: NDArray, n: int, reference: str) -> None:
    if arr.shape[0] != n:
        raise ValueError(
            f"{name} has length {arr.shape[0]}, expected {n} (the length of {reference})"
        )
