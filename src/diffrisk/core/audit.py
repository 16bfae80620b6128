"""Provenance: hashes, git revision, params and versions recorded with every output."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from diffrisk import __version__
from diffrisk.core import io, paths


def frame_sha256(frame: pd.DataFrame | pd.Series) -> str:
    """SHA-256 of a frame's dates, column names and float64 values (canonical bytes).

    Independent of the file format it was stored in, so the hash of the raw prices is
    the same whether read from the parquet snapshot or rebuilt from the source.
    """
    data = frame.to_frame() if isinstance(frame, pd.Series) else frame
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, data.columns)).encode())
    h.update(np.asarray(pd.DatetimeIndex(data.index).asi8, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(data.to_numpy(dtype=np.float64)).tobytes())
    return h.hexdigest()


def recorded_data_hash() -> str:
    """SHA-256 of the raw prices as recorded by the data stage (``reports/metrics/data.json``).

    Raises
    ------
    FileNotFoundError
        If the data stage has not run.
    """
    record = paths.metrics_dir() / "data.json"
    if not record.is_file():
        raise FileNotFoundError(f"{record} does not exist: run the data stage first")
    return str(json.loads(record.read_text())["data_sha256"])


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def source_sha256(modules: tuple[str, ...] | list[str]) -> str:
    """SHA-256 of the Python source of ``modules`` (a package counts with all its modules).

    Each ``.py`` file enters with its path relative to the ``diffrisk`` package and its
    bytes, in sorted order, so the hash changes exactly when the code changes (not when
    the checkout moves).

    Parameters
    ----------
    modules : sequence of str
        Dotted names under ``diffrisk`` (e.g. ``"diffrisk.ddpm"``, ``"diffrisk.study.tuning"``).

    Raises
    ------
    ValueError
        If a name is not a module or package of ``diffrisk``.
    """
    base = Path(__file__).resolve().parents[1]  # src/diffrisk
    files: set[Path] = set()
    for name in modules:
        parts = name.split(".")
        if parts[0] != "diffrisk":
            raise ValueError(f"source_sha256: {name!r} is not a module of diffrisk")
        target = base.joinpath(*parts[1:])
        if target.is_dir():
            files.update(target.rglob("*.py"))
        elif target.with_suffix(".py").is_file():
            files.add(target.with_suffix(".py"))
        else:
            raise ValueError(f"source_sha256: no module or package {name!r} under {base}")
    h = hashlib.sha256()
    for file in sorted(files):
        h.update(file.relative_to(base).as_posix().encode() + b"\0")
        h.update(file.read_bytes())
    return h.hexdigest()


def git_revision(root: Path | None = None) -> str:
    """Current git commit of the project (``+dirty`` if tracked files changed).

    Returns ``"unknown"`` outside a git checkout or without git.
    """
    cwd = root or paths.project_root()
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
        if rev.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
        suffix = "+dirty" if dirty.stdout.strip() else ""
        return rev.stdout.strip() + suffix
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(
    params: Mapping[str, Any],
    seed: int,
    data_hash: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a provenance record.

    Parameters
    ----------
    params : mapping
        The parameters the output was produced with.
    seed : int
        The study seed.
    data_hash : str
        SHA-256 of the raw prices (:func:`frame_sha256`).
    extra : mapping, optional
        Anything else worth recording (checkpoint hash, conditioning inputs, …).

    Returns
    -------
    dict
        ``params, seed, data_sha256, package_version, git_revision, python, utc_timestamp``
        plus ``extra``.
    """
    record: dict[str, Any] = {
        "params": dict(params),
        "seed": int(seed),
        "data_sha256": data_hash,
        "package_version": __version__,
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "utc_timestamp": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    if extra:
        record.update(dict(extra))
    return record


def write_provenance(path: str | Path, record: Mapping[str, Any]) -> Path:
    """Write a provenance record as JSON (atomically)."""
    return io.write_json(path, dict(record))
