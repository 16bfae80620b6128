"""Entry points of the pipeline stages.

Each ``run_<stage>`` function is what a stage notebook calls after its ``parameters``
cell: it takes the stage's parameters as explicit arguments, reads its inputs from the
paths of :mod:`diffrisk.paths`, validates everything before writing anything, writes its
outputs atomically and returns what the notebook displays.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd

from . import audit, data, io, paths

__all__ = ["run_data", "markdown_table", "parse_list"]

logger = logging.getLogger(__name__)


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


def run_data(
    *,
    source: str = "skfolio",
    csv_path: str = "",
    date_column: str = "Date",
    index_column: str = "",
    index_name: str = "sp500",
    tickers: str | Sequence[str] = "",
    start: str = "",
    end: str = "",
    max_ffill: int = 3,
    fix_spikes: bool = False,
    spike_threshold: float = 8.0,
    train_end: str = "2014-12-31",
    val_start: str = "2015-01-01",
    val_end: str = "2018-12-31",
    test_start: str = "2019-01-01",
    test_end: str = "",
    series: str | Sequence[str] = "portfolio,sp500",
    min_train: int = 500,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``data`` stage: load, validate, build returns, summarise, write.

    Parameters
    ----------
    source, csv_path, date_column, index_column, index_name, tickers, start, end, max_ffill
        See :func:`diffrisk.data.load_prices` (``data.*`` parameters); ``tickers`` is
        comma-separated ("" = all).
    fix_spikes : bool
        Adjust detected isolated spikes (they are always reported).
    spike_threshold : float
        Spike size in robust standard deviations.
    train_end, val_start, val_end, test_start, test_end : str
        Split boundaries (``test_end`` empty = end of data).
    series : str or sequence of str
        Headline series of the study's tables (comma-separated); each must exist.
    min_train : int
        Minimum number of training returns.
    seed : int
        Study seed (recorded in the provenance).

    Returns
    -------
    dict
        ``returns`` (DataFrame), ``summary`` (DataFrame), ``spikes`` (DataFrame),
        ``metrics`` (dict), ``series`` (the headline series).

    Outputs
    -------
    ``data/raw/prices.parquet``, ``data/processed/returns.parquet`` (+ ``.audit.json``),
    ``reports/tables/data_summary.{csv,md}``, ``reports/tables/data_spikes.csv``,
    ``reports/metrics/data.json``.
    """
    params = {k: v for k, v in locals().items() if k != "seed"}
    splits = data.Splits.from_params(train_end, val_start, val_end, test_start, test_end or None)
    prices, index = data.load_prices(
        source=source,
        csv_path=csv_path or None,
        date_column=date_column,
        index_column=index_column or None,
        index_name=index_name,
        tickers=parse_list(tickers) or None,
        start=start or None,
        end=end or None,
        max_ffill=int(max_ffill),
    )
    spikes = data.detect_spikes(prices, threshold=float(spike_threshold))
    logger.info("found %d isolated spikes (fix_spikes=%s)", len(spikes), fix_spikes)
    cleaned = data.fix_spikes(prices, spikes) if fix_spikes and len(spikes) else prices
    returns = data.build_returns(cleaned, index)
    headline = data.check_series(parse_list(series), returns, "data.series")
    splits.check_against(returns, min_train=int(min_train))
    summary = data.summary_table(returns, splits)

    snapshot = prices.copy()
    if index is not None:
        snapshot[index.name] = index
    data_hash = audit.frame_sha256(snapshot)
    labels = splits.labels(returns.index)
    metrics = {
        "n_series": int(returns.shape[1]),
        "n_constituents": int(prices.shape[1]),
        "first_date": str(returns.index[0].date()),
        "last_date": str(returns.index[-1].date()),
        "n_spikes": len(spikes),
        "spikes_fixed": bool(fix_spikes and len(spikes)),
        **{f"n_{s}": int((labels == s).sum()) for s in data.SPLIT_NAMES},
        "data_sha256": data_hash,
    }

    io.write_parquet(paths.raw_prices_file(), snapshot)
    io.write_parquet(paths.returns_file(), returns)
    record = audit.provenance(params, seed, data_hash, extra={"outputs": metrics})
    audit.write_provenance(paths.returns_file().with_suffix(".audit.json"), record)
    io.write_csv(paths.tables_dir() / "data_summary.csv", summary, index=False, float_format="%.6g")
    io.write_text(paths.tables_dir() / "data_summary.md", markdown_table(summary))
    io.write_csv(paths.tables_dir() / "data_spikes.csv", spikes, index=False, float_format="%.6g")
    io.write_json(paths.metrics_dir() / "data.json", metrics)
    return {
        "returns": returns,
        "summary": summary,
        "spikes": spikes,
        "metrics": metrics,
        "series": headline,
    }


# --------------------------------------------------------------------------- shared


def _data_hash() -> str:
    """SHA-256 of the raw prices recorded by the data stage."""
    record = paths.metrics_dir() / "data.json"
    if not record.is_file():
        raise FileNotFoundError(f"{record} does not exist: run the data stage first")
    import json

    return str(json.loads(record.read_text())["data_sha256"])


def split_from(
    train_end: str, val_start: str, val_end: str, test_start: str, test_end: str = ""
) -> data.Splits:
    """The :class:`~diffrisk.data.Splits` of the ``data.*`` split parameters."""
    return data.Splits.from_params(train_end, val_start, val_end, test_start, test_end or None)


# --------------------------------------------------------------------------- baselines


def run_baselines(
    *,
    methods: str | Sequence[str] = "hs,mc_normal,garch_t,fhs",
    window: int = 250,
    n_scenarios: int = 500,
    refit_every: int = 20,
    min_obs: int = 1000,
    fhs_residuals: int = 1000,
    splits: data.Splits,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the ``baselines`` stage: classical forecasts for every series and test day.

    Parameters
    ----------
    methods : str or sequence of str
        Baselines to run (comma-separated), among ``hs, mc_normal, garch_t, fhs``.
    window : int
        Look-back of ``hs`` and ``mc_normal`` (days).
    n_scenarios : int
        Scenarios of ``mc_normal`` and ``garch_t`` (as many as the DDPM draws).
    refit_every, min_obs : int
        GARCH refit frequency (forecast days) and minimum history for ``garch_t``/``fhs``.
    fhs_residuals : int
        Number of most recent standardised residuals used by ``fhs``.
    splits : Splits
        The study's periods; forecasts are made for every test day.
    seed : int
        Study seed.

    Returns
    -------
    dict
        ``{"forecasts": {method: frame}, "timings": {method: seconds}}``.

    Outputs
    -------
    ``data/forecasts/<method>.parquet``, ``<method>_scenarios.npz``, ``<method>.audit.json``.
    """
    import time

    from . import baselines, forecasts

    names = parse_list(methods)
    returns = data.load_returns()
    dates = splits.dates(returns, "test")
    config = {
        "hs": {"window": int(window)},
        "mc_normal": {"window": int(window), "n_scenarios": int(n_scenarios)},
        "garch_t": {
            "refit_every": int(refit_every),
            "min_obs": int(min_obs),
            "n_scenarios": int(n_scenarios),
        },
        "fhs": {
            "refit_every": int(refit_every),
            "min_obs": int(min_obs),
            "n_scenarios": int(fhs_residuals),
        },
    }
    config = {m: c for m, c in config.items() if m in names}
    tic = time.perf_counter()
    results = baselines.run_baselines(returns, dates, names, config, seed=int(seed))
    elapsed = time.perf_counter() - tic
    data_hash = _data_hash()
    for method, (frame, scen) in results.items():
        record = audit.provenance(
            {"method": method, **config.get(method, {})},
            seed,
            data_hash,
            extra={"forecast_dates": [str(dates[0].date()), str(dates[-1].date())]},
        )
        forecasts.save_forecasts(method, frame, scen, provenance=record)
    logger.info("baselines stage: %d methods in %.1f s", len(results), elapsed)
    return {"forecasts": {m: r[0] for m, r in results.items()}, "seconds": elapsed}
