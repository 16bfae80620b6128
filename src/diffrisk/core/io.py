"""Atomic writes: no reader ever sees half a file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    Parameters
    ----------
    path : path-like
        Final destination. Its parent folder is created if missing.

    Yields
    ------
    Path
        Temporary file to write to. Removed if the block raises.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            tmp.chmod(0o644)  # mkstemp creates 0600; outputs are ordinary files
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_with(path: str | os.PathLike[str], writer: Callable[[Path], None]) -> Path:
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return _write_with(path, lambda p: p.write_text(text, encoding="utf-8"))


def json_default(obj: Any) -> Any:
    """JSON form of NumPy scalars and arrays, timestamps and paths (``default=`` of json.dumps)."""
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (pd.Timestamp,)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def _clean_nonfinite(obj: Any) -> Any:
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_nonfinite(v) for v in obj]
    return obj


def round_significant(obj: Any, digits: int) -> Any:
    """``obj`` with every finite float rounded to ``digits`` significant digits.

    Nested dicts, lists and tuples are walked; other values are unchanged.

    Examples
    --------
    >>> round_significant({"a": [3.14159, 2], "b": -0.000123456}, 3)
    {'a': [3.14, 2], 'b': -0.000123}
    """
    if isinstance(obj, Mapping):
        return {k: round_significant(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [round_significant(v, digits) for v in obj]
    if isinstance(obj, float | np.floating) and np.isfinite(obj):
        return float(f"{float(obj):.{digits}g}")
    return obj


def write_json(path: str | os.PathLike[str], obj: Any, digits: int | None = None) -> Path:
    """Write ``obj`` as indented, key-sorted JSON atomically (NaN/inf become null).

    ``digits`` rounds every float to that many significant digits (the committed metrics
    use 4, like the committed tables, so they do not change in the last bits from one CPU
    to another).
    """
    if digits is not None:
        obj = round_significant(obj, digits)
    text = json.dumps(_clean_nonfinite(obj), indent=2, sort_keys=True, default=json_default)
    return write_text(path, text + "\n")


def write_parquet(path: str | os.PathLike[str], frame: pd.DataFrame) -> Path:
    """Write a DataFrame to parquet atomically."""
    return _write_with(path, lambda p: frame.to_parquet(p))


def write_csv(path: str | os.PathLike[str], frame: pd.DataFrame, **kwargs: Any) -> Path:
    """Write a DataFrame to CSV atomically (``float_format`` etc. passed through)."""
    return _write_with(path, lambda p: frame.to_csv(p, **kwargs))


def write_npz(path: str | os.PathLike[str], **arrays: np.ndarray) -> Path:
    """Write arrays to a compressed ``.npz`` atomically."""

    def _save(p: Path) -> None:
        with open(p, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    return _write_with(path, _save)
