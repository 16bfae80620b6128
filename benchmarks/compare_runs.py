"""How much did a rerun move the study? Every committed table of two runs, cell by cell.

Compares each CSV table under ``reports/tables/`` at a git revision (the reference run, as
committed) with the same table in the working tree (the run just made), and prints one row
per table: its cells, the share that are identical, the share of numeric cells that moved
by more than ``--tol`` (relative), the largest relative move, and whether the non-numeric
cells (method names, verdicts, traffic-light zones) changed. Tables whose shape changed are
listed as such. Nothing is recomputed: the two runs' own files are read.

Use it after ``dvc repro`` on another machine, another library build or another seed, to
see which conclusions moved (``--show TABLE`` prints that table's changed cells).

Run::

    .venv/bin/python benchmarks/compare_runs.py --ref HEAD
    .venv/bin/python benchmarks/compare_runs.py --ref HEAD --show headline
"""

from __future__ import annotations

import argparse
import io
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

TABLES = Path("reports/tables")


def table_at(revision: str, path: Path) -> pd.DataFrame | None:
    """The CSV ``path`` as committed at ``revision`` (None when it did not exist)."""
    shown = subprocess.run(
        ["git", "show", f"{revision}:{path.as_posix()}"], capture_output=True, check=False
    )
    if shown.returncode != 0:
        return None
    return pd.read_csv(io.BytesIO(shown.stdout))


def compare(old: pd.DataFrame, new: pd.DataFrame, tol: float) -> dict[str, object]:
    """Cell-by-cell comparison of two tables of the same shape and columns."""
    numeric = [c for c in old.columns if pd.api.types.is_numeric_dtype(old[c])]
    other = [c for c in old.columns if c not in numeric]
    a = old[numeric].to_numpy(dtype=float)
    b = new[numeric].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    scale = np.maximum(np.abs(a), np.abs(b))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(same, 0.0, np.abs(a - b) / np.where(scale > 0, scale, 1.0))
    rel = np.nan_to_num(rel, nan=1.0)
    text_same = old[other].fillna("").astype(str).eq(new[other].fillna("").astype(str)).to_numpy()
    cells = same.size + text_same.size
    return {
        "cells": cells,
        "identical": (same.sum() + text_same.sum()) / cells if cells else 1.0,
        f"numeric_moved_gt_{tol:g}": float((rel > tol).mean()) if rel.size else 0.0,
        "max_rel_move": float(rel.max()) if rel.size else 0.0,
        "labels_changed": int((~text_same).sum()),
    }


def changed_cells(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """The cells that differ: row number, column, reference value, new value."""
    rows = []
    for col in old.columns:
        for i, (x, y) in enumerate(zip(old[col], new[col], strict=True)):
            if not (x == y or (pd.isna(x) and pd.isna(y))):
                rows.append({"row": i, "column": col, "reference": x, "new": y})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="HEAD", help="git revision of the reference run")
    parser.add_argument("--tol", type=float, default=1e-3, help="relative move counted")
    parser.add_argument("--show", default="", help="print the changed cells of this table")
    args = parser.parse_args()
    rows = []
    for path in sorted(TABLES.glob("*.csv")):
        old, new = table_at(args.ref, path), pd.read_csv(path)
        if old is None:
            rows.append({"table": path.stem, "status": "new"})
        elif old.shape != new.shape or list(old.columns) != list(new.columns):
            rows.append({"table": path.stem, "status": f"shape {old.shape} -> {new.shape}"})
        else:
            stats = compare(old, new, args.tol)
            status = "identical" if stats["identical"] == 1.0 else "moved"
            rows.append({"table": path.stem, "status": status, **stats})
        if args.show and path.stem == args.show and old is not None and old.shape == new.shape:
            print(changed_cells(old, new).to_markdown(index=False))
            return
    table = pd.DataFrame(rows)
    print(f"reference: {args.ref}; working tree: {Path.cwd()}")
    print(table.to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
