"""The headline numbers ``dvc metrics show`` prints, as a table that fits a terminal.

``dvc metrics show`` prints one row per metrics file and one column per (flattened) key,
the union over all files. The stages write their full metrics as plain outputs
(``reports/metrics/*.json``, read as tables); the DVC metrics are two small directories
whose files share their keys, so each file is a row and the table stays narrow:

* ``reports/metrics/headline/<series>.json`` (the ``coverage`` stage): per α (``"1%"``),
  the primary method's exceptions ``exc``, Kupiec p-value ``kupiec``, mean FZ0 loss
  ``fz0`` and its difference from the benchmark's, ``vs_<benchmark>`` (negative = lower
  loss than the benchmark);
* ``reports/metrics/stress/{diffusion,best_other}.json`` (the ``stress_validate`` stage):
  the diffusion set's headline distances to the held-out test period and, per distance,
  the lowest of the other generators (``acf``: ACF of absolute returns, ``corr``:
  Frobenius distance of the correlation matrices, ``taildep``: 5 % tail dependence).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from diffrisk.core import io

#: Short column names of the stress headline distances (other metrics keep their name).
STRESS_COLUMNS = {"acf_abs_distance": "acf", "corr_frobenius": "corr", "tail_dep_q05": "taildep"}

#: The generator whose stress distances are the study's subject.
DIFFUSION = "diffusion"


def alpha_label(alpha: float) -> str:
    """Return α as a short percentage key (``0.01`` → ``"1%"``, ``0.025`` → ``"2.5%"``)."""
    return f"{100 * float(alpha):.6g}%"


def backtest_rows(backtests: Mapping[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """One row per headline series from the coverage stage's ``backtests.json`` dict.

    Parameters
    ----------
    backtests : mapping
        :func:`diffrisk.evaluation.headline.headline_metrics` output (``benchmark``,
        ``primary_method``, ``<series>: {"alpha_<α>": {...}}``).

    Returns
    -------
    dict
        ``{series: {"1%": {"exc", "kupiec", "fz0", "vs_<benchmark>"}}}``; a number
        the primary method or the benchmark lacks is left out.
    """
    benchmark = str(backtests["benchmark"])
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for series, cells in backtests.items():
        if not isinstance(cells, Mapping) or series == "family_wise":
            continue
        row: dict[str, dict[str, float]] = {}
        for key, cell in cells.items():
            if not key.startswith("alpha_"):
                continue
            out: dict[str, float] = {}
            for name, source in (
                ("exc", "primary_n_exceptions"),
                ("kupiec", "primary_kupiec_p"),
                ("fz0", "primary_fz0"),
            ):
                if cell.get(source) is not None:
                    out[name] = cell[source]
            bench = cell.get(f"{benchmark}_fz0")
            if "fz0" in out and bench is not None:
                out[f"vs_{benchmark}"] = float(out["fz0"]) - float(bench)
            row[alpha_label(float(key.removeprefix("alpha_")))] = out
        rows[str(series)] = row
    return rows


def stress_rows(
    unconditional: Mapping[str, Mapping[str, float]], metrics: Sequence[str]
) -> dict[str, dict[str, float]]:
    """The diffusion set's headline distances and, per distance, the best other generator.

    Parameters
    ----------
    unconditional : mapping
        ``{generator: {metric: distance}}`` of the unconditional sets against the held-out
        test period (lower is better).
    metrics : sequence of str
        The headline distances
        (:data:`diffrisk.evaluation.paths.bootstrap.HEADLINE_METRICS`).

    Returns
    -------
    dict
        ``{"diffusion": {column: d}, "best_other": {column: min over the others}}`` with
        the columns of :data:`STRESS_COLUMNS`; NaN and missing distances are left out.
    """
    diffusion = unconditional.get(DIFFUSION, {})
    others = [v for g, v in unconditional.items() if g != DIFFUSION]
    rows: dict[str, dict[str, float]] = {DIFFUSION: {}, "best_other": {}}
    for metric in metrics:
        column = STRESS_COLUMNS.get(metric, metric)
        value = diffusion.get(metric)
        if value is not None and not math.isnan(float(value)):
            rows[DIFFUSION][column] = float(value)
        values = [float(o[metric]) for o in others if o.get(metric) is not None]
        values = [v for v in values if not math.isnan(v)]
        if values:
            rows["best_other"][column] = min(values)
    return rows


def write_rows(directory: str | Path, rows: Mapping[str, Mapping[str, Any]]) -> list[Path]:
    """Write each row as ``<directory>/<name>.json`` (4 significant digits), atomically.

    JSON files of ``directory`` that are not among ``rows`` (a series no longer in the
    headline) are removed, so the directory holds exactly this run's rows.

    Returns
    -------
    list of Path
        The files written, in the order of ``rows``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = {f"{name}.json" for name in rows}
    for stale in directory.glob("*.json"):
        if stale.name not in names:
            stale.unlink()
    return [io.write_json(directory / f"{name}.json", row, digits=4) for name, row in rows.items()]
