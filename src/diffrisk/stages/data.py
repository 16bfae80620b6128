"""Stage `data`: raw prices to validated returns and splits."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from diffrisk.core import audit, io, paths
from diffrisk.core.params import parse_list
from diffrisk.core.tables import write_csv_table, write_table
from diffrisk.data.prices import load_prices
from diffrisk.data.returns import build_returns, check_series, summary_table
from diffrisk.data.spikes import detect_spikes
from diffrisk.data.spikes import fix_spikes as repair_spikes
from diffrisk.data.splits import SPLIT_NAMES, Splits

logger = logging.getLogger(__name__)


def prepare_data(
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
    splits = Splits.from_params(train_end, val_start, val_end, test_start, test_end or None)
    prices, index = load_prices(
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
    spikes = detect_spikes(prices, threshold=float(spike_threshold))
    logger.info("found %d isolated spikes (fix_spikes=%s)", len(spikes), fix_spikes)
    cleaned = repair_spikes(prices, spikes) if fix_spikes and len(spikes) else prices
    returns = build_returns(cleaned, index)
    headline = check_series(parse_list(series), returns, "data.series")
    splits.check_against(returns, min_train=int(min_train))
    summary = summary_table(returns, splits)

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
        **{f"n_{s}": int((labels == s).sum()) for s in SPLIT_NAMES},
        "data_sha256": data_hash,
    }

    io.write_parquet(paths.raw_prices_file(), snapshot)
    io.write_parquet(paths.returns_file(), returns)
    record = audit.provenance(params, seed, data_hash, extra={"outputs": metrics})
    audit.write_provenance(paths.returns_file().with_suffix(".audit.json"), record)
    write_table(summary, "data_summary")
    write_csv_table(paths.tables_dir() / "data_spikes.csv", spikes)
    io.write_json(paths.metrics_dir() / "data.json", metrics)
    return {
        "returns": returns,
        "summary": summary,
        "spikes": spikes,
        "metrics": metrics,
        "series": headline,
    }


def run(*, seed: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """Entry point of the ``data`` stage: read its parameters, call :func:`prepare_data`.

    Parameters
    ----------
    seed : int
        the study's seed
    data : mapping
        the ``data`` section of ``params.yaml`` (the keys ``dvc.yaml`` declares)

    Returns
    -------
    dict
        What :func:`prepare_data` returns.
    """
    d = dict(data)
    return prepare_data(
        source=d["source"],
        csv_path=d["csv_path"],
        date_column=d["date_column"],
        index_column=d["index_column"],
        index_name=d["index_name"],
        tickers=d["tickers"],
        start=d["start"],
        end=d["end"],
        max_ffill=d["max_ffill"],
        fix_spikes=d["fix_spikes"],
        spike_threshold=d["spike_threshold"],
        train_end=d["train_end"],
        val_start=d["val_start"],
        val_end=d["val_end"],
        test_start=d["test_start"],
        test_end=d["test_end"],
        series=d["series"],
        min_train=d["min_train"],
        seed=seed,
    )
