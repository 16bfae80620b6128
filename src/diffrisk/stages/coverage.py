"""Stage ``coverage``.

The backtest battery of every method. Writes ``reports/tables/backtests``,
``traffic_light``, ``diebold_mariano``, ``constituent_coverage``, ``mc_error``,
``headline`` and ``ensemble`` (``.csv``, ``.md``), ``ensemble_disagreement.csv``, their
full-precision copies ``data/backtests/*.parquet`` and ``reports/metrics/backtests.json``.

The study's primary method is the select stage's decision
(``reports/metrics/selection.json``, key ``primary_method``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from diffrisk.core import io, paths
from diffrisk.core.compute import Compute
from diffrisk.core.params import parse_list
from diffrisk.core.tables import markdown_table, write_csv_table, write_table
from diffrisk.evaluation.ensemble import (
    DISAGREEMENT_COLUMNS,
    ENSEMBLE_COLUMNS,
    ensemble_table,
    member_disagreement,
)
from diffrisk.evaluation.headline import (
    HEADLINE_ALPHAS,
    crash_exceptions_table,
    headline_metrics,
    headline_table,
    pit_ks_table,
)
from diffrisk.evaluation.tables import (
    backtest_table,
    constituent_coverage_table,
    diebold_mariano_table,
    traffic_light_table,
)
from diffrisk.forecasts.store import load_forecasts, load_scenarios
from diffrisk.reporting.formatting import headline_markdown, window_label
from diffrisk.reporting.headline_metrics import backtest_rows, write_rows
from diffrisk.risk.uncertainty import mc_error_table
from diffrisk.stages.common import primary_method, split_compute

#: The seed ensemble's pooled forecasts and its member frame (``data/forecasts/``).
ENSEMBLE_METHOD = "ddpm_ens"
MEMBERS_STEM = "ddpm_ens_members"

ENSEMBLE_CAPTION = (
    "**Table E1. Seed ensemble.** Per headline series and α: the mean FZ0 of each of the "
    "n_members seed members (mean, sd, min, max over members) and of the pooled ensemble "
    "(`ddpm_ens`); whether the members' daily disagreement (sd over members of the VaR) "
    "predicts exceptions of the pooled VaR: logistic regression of the exception "
    "indicator on the standardised disagreement (slope per sd, its s.e. and two-sided "
    "Wald p-value) and Mann–Whitney test (AUC, two-sided p-value); null hypothesis: "
    "exceptions independent of disagreement. Daily disagreement: "
    "`ensemble_disagreement.csv`.\n\n"
)


def _ensemble_outputs(
    frames: Mapping[str, pd.DataFrame], heads: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ensemble table and the daily disagreement (empty without a member file)."""
    path = paths.forecast_file(MEMBERS_STEM)
    if not path.is_file():
        return pd.DataFrame(columns=list(ENSEMBLE_COLUMNS)), pd.DataFrame(
            columns=list(DISAGREEMENT_COLUMNS)
        )
    members = pd.read_parquet(path)
    members = members.loc[members["series"].isin(heads)]
    pooled = frames.get(ENSEMBLE_METHOD)
    if pooled is None:
        pooled = load_forecasts(ENSEMBLE_METHOD)
    pooled = pooled.loc[pooled["series"].isin(heads)]
    disagreement = member_disagreement(members, HEADLINE_ALPHAS)
    table = ensemble_table(members, pooled, HEADLINE_ALPHAS, disagreement=disagreement)
    return table, disagreement


def backtest_methods(
    *,
    methods: str | Sequence[str],
    benchmark: str,
    n_sim: int,
    crash_start: str,
    crash_end: str,
    headline: str | Sequence[str],
    primary: str,
    seed: int,
    compute: Compute,
) -> dict[str, Any]:
    """Run the ``coverage`` stage: the full backtest battery on the test period.

    Parameters
    ----------
    methods : str or sequence of str
        Methods whose forecasts are tested (comma-separated; files under data/forecasts).
    benchmark : str
        Method every other is compared with by Diebold–Mariano (FZ0 loss).
    n_sim : int
        Simulations of the Acerbi–Szekely Z2 p-value (under each method's own scenarios).
    crash_start, crash_end : str
        First and last day of the crash window whose exceptions the headline counts.
    headline : str or sequence of str
        Headline series (the headline table, ``reports/metrics/backtests.json`` and the
        ensemble tables; excluded from the per-constituent table).
    primary : str
        The study's primary method (first in the headline table).
    seed : int
        Study seed.
    compute : Compute
        Where the backtest battery runs (``coverage.workers``), one task per (series,
        method) (:func:`diffrisk.evaluation.tables.backtest_table`); the tables are
        byte-identical whatever it is. One process (``workers: 1``) is the fastest on one
        machine, because every pair's scenarios travel to the worker with its task (see
        ``docs/scaling.md``).

    Returns
    -------
    dict
        ``backtests``, ``traffic_light``, ``diebold_mariano``, ``constituents``,
        ``mc_error``, ``headline``, ``ensemble`` and ``disagreement`` DataFrames.

    Outputs
    -------
    ``reports/tables/backtests.csv`` (DESIGN §5 columns), ``traffic_light.{csv,md}``
    (rolling 250-day windows at 5 % and 1 %), ``diebold_mariano.{csv,md}``,
    ``constituent_coverage.{csv,md}``, ``mc_error.{csv,md}``, ``headline.{csv,md}``
    (:func:`diffrisk.evaluation.headline.headline_table`; the Markdown is what the study
    report and the README show), ``ensemble.{csv,md}`` and ``ensemble_disagreement.csv``
    (:mod:`diffrisk.evaluation.ensemble`; empty when there is no
    ``data/forecasts/ddpm_ens_members.parquet``), all rounded for presentation, the same
    tables at full precision as ``data/backtests/<stem>.parquet`` (what later stages
    read), and ``reports/metrics/backtests.json``.
    """
    names = parse_list(methods)
    heads = parse_list(headline)
    if benchmark not in names:
        raise ValueError(
            f"benchmark={benchmark!r} (parameter coverage.benchmark) is not among the "
            f"methods {names} (coverage.methods)"
        )
    if primary not in names:
        raise ValueError(
            f"the primary method {primary!r} (reports/metrics/selection.json) is not among "
            f"the methods {names} (coverage.methods)"
        )
    frames = {m: load_forecasts(m) for m in names}
    # methods without a scenario file (adaptively calibrated, combined) get NaN PIT and
    # the parametric Acerbi–Szekely null
    scen = {m: load_scenarios(m) for m in names if paths.scenarios_file(m).is_file()}
    table = backtest_table(
        frames,
        scen,
        n_sim=int(n_sim),
        seed=int(seed),
        workers=compute.workers,
        scheduler=compute.scheduler,
    )
    traffic = pd.concat(
        [traffic_light_table(frames, alpha=a) for a in HEADLINE_ALPHAS], ignore_index=True
    )
    dm = pd.concat(
        [
            diebold_mariano_table(frames, benchmark=benchmark, loss="fz0"),
            diebold_mariano_table(frames, benchmark=benchmark, loss="pinball"),
        ],
        ignore_index=True,
    )
    constituents = constituent_coverage_table(frames, exclude=heads)
    mc_error = mc_error_table(scen, heads)
    head = headline_table(
        table,
        traffic,
        dm,
        pit_ks_table(frames, scen, heads),
        crash_exceptions_table(frames, crash_start, crash_end, HEADLINE_ALPHAS),
        primary=primary,
        benchmark=benchmark,
        series=heads,
    )
    ensemble, disagreement = _ensemble_outputs(frames, heads)
    for stem, frame in (
        ("backtests", table),
        ("traffic_light", traffic),
        ("diebold_mariano", dm),
        ("constituent_coverage", constituents),
        ("mc_error", mc_error),
    ):
        write_table(frame, stem, paths.tables_dir())
        io.write_parquet(paths.backtests_dir() / f"{stem}.parquet", frame)
    write_csv_table(paths.tables_dir() / "ensemble.csv", ensemble)
    io.write_parquet(paths.backtests_dir() / "ensemble.parquet", ensemble)
    io.write_text(paths.tables_dir() / "ensemble.md", ENSEMBLE_CAPTION + markdown_table(ensemble))
    write_csv_table(paths.tables_dir() / "ensemble_disagreement.csv", disagreement)
    write_csv_table(paths.tables_dir() / "headline.csv", head)
    io.write_parquet(paths.backtests_dir() / "headline.parquet", head)
    label = window_label(crash_start, crash_end)
    caption = (
        f"**Headline.** Every method on the headline series at α = 5% and 1% (test "
        f"period); primary method: **{primary}** (chosen on validation). Exc.: VaR "
        "exceptions (expected count); Kupiec, Christoffersen conditional-coverage (CC) and "
        "Acerbi–Szekely Z2 (AS) p-values; Red TL: rolling 250-day windows in the red "
        "traffic-light zone; PIT KS: Kolmogorov–Smirnov p-value of the PIT against "
        f"U(0, 1); FZ0: mean Fissler–Ziegel loss (lower is better), FZ0 vs {benchmark}: "
        f"its difference from {benchmark} (negative = lower loss), DM p: Diebold–Mariano "
        f"p-value of that difference; Exc. {label}: exceptions in the crash window "
        f"{pd.Timestamp(crash_start).date()} – {pd.Timestamp(crash_end).date()}."
    )
    io.write_text(
        paths.tables_dir() / "headline.md", headline_markdown(head, benchmark, caption, label)
    )
    metrics = headline_metrics(head, primary=primary, benchmark=benchmark)
    io.write_json(paths.metrics_dir() / "backtests.json", metrics, digits=4)
    write_rows(paths.metrics_dir() / "headline", backtest_rows(metrics))
    return {
        "backtests": table,
        "traffic_light": traffic,
        "diebold_mariano": dm,
        "constituents": constituents,
        "mc_error": mc_error,
        "headline": head,
        "ensemble": ensemble,
        "disagreement": disagreement,
    }


def run(*, seed: int, coverage: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``coverage``: :func:`backtest_methods` with its ``dvc.yaml`` parameters."""
    settings, compute = split_compute(coverage, "coverage")
    return backtest_methods(
        **settings, headline=data["series"], primary=primary_method(), seed=seed, compute=compute
    )
