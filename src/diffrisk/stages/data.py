"""Stage ``data``.

Raw prices (skfolio or a CSV) to validated log returns, portfolio, splits and the spike
report. Writes ``data/raw/prices.parquet``, ``data/processed/returns.parquet`` (+ audit),
``reports/tables/data_summary.{csv,md}``, ``data_spikes.csv``,
``reports/metrics/data.json``.
"""

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
from diffrisk.stages.display import plot_image as plot_image  # for the notebook
from diffrisk.stages.param_checks import check_data_params

logger = logging.getLogger(__name__)


def prepare_data(
    *,
    source: str,
    csv_path: str,
    layout: str,
    separator: str,
    decimal: str,
    date_column: str,
    ticker_column: str,
    price_column: str,
    date_format: str,
    index_column: str,
    index_name: str,
    tickers: str | Sequence[str],
    start: str,
    end: str,
    max_ffill: int,
    max_date_gap: float,
    fix_spikes: bool,
    spike_threshold: float,
    train_end: str,
    val_start: str,
    val_end: str,
    test_start: str,
    test_end: str,
    select_end: str,
    series: str | Sequence[str],
    min_train: int,
    seed: int,
    named: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the ``data`` stage: load, validate, build returns, summarise, write.

    Parameters
    ----------
    source, csv_path, layout, separator, decimal, date_column, ticker_column, price_column,
    date_format, index_column, index_name, tickers, start, end, max_ffill, max_date_gap
        See :func:`diffrisk.data.prices.load_prices` (``data.*`` parameters); ``tickers`` is
        comma-separated ("" = all); ``date_format`` "" = inferred (ambiguous or weekend dates
        refused).
    fix_spikes : bool
        Adjust detected isolated spikes (they are always reported).
    spike_threshold : float
        Spike size in robust standard deviations.
    train_end, val_start, val_end, test_start, test_end, select_end : str
        Split boundaries (``test_end`` empty = end of data; ``select_end`` ends the inner
        validation period of the nested validation, "" = none).
    series : str or sequence of str
        Headline series of the study's tables (comma-separated); each must exist.
    min_train : int
        Minimum number of training returns.
    seed : int
        Study seed (recorded in the provenance).
    named : mapping, optional
        The other stages' parameters that name tickers, series or date windows
        (``stress``, ``coverage``, ``tune``, ``ddpm`` sections), checked against the data
        before anything is written (:func:`diffrisk.stages.param_checks.check_data_params`);
        not recorded, they change no output.

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
    params = {k: v for k, v in locals().items() if k not in ("seed", "named")}
    splits = Splits.from_params(
        train_end, val_start, val_end, test_start, test_end or None, select_end or None
    )
    prices, index = load_prices(
        source=source,
        csv_path=csv_path or None,
        layout=layout,
        separator=separator,
        decimal=decimal,
        date_column=date_column,
        ticker_column=ticker_column,
        price_column=price_column,
        date_format=date_format or None,
        index_column=index_column or None,
        index_name=index_name,
        tickers=parse_list(tickers) or None,
        start=start or None,
        end=end or None,
        max_ffill=int(max_ffill),
        max_date_gap=float(max_date_gap),
    )
    spikes = detect_spikes(prices, threshold=float(spike_threshold))
    logger.info("found %d isolated spikes (fix_spikes=%s)", len(spikes), fix_spikes)
    cleaned = repair_spikes(prices, spikes) if fix_spikes and len(spikes) else prices
    returns = build_returns(cleaned, index)
    headline = check_series(parse_list(series), returns, "data.series")
    splits.check_against(returns, min_train=int(min_train))
    check_data_params(
        named or {},
        list(prices.columns),
        returns.index,
        splits,
        returns.columns,
        returns=returns.loc[:, list(prices.columns)],
    )
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
    io.write_json(paths.metrics_dir() / "data.json", metrics, digits=4)
    return {
        "returns": returns,
        "summary": summary,
        "spikes": spikes,
        "metrics": metrics,
        "series": headline,
    }


def run(
    *,
    seed: int,
    data: Mapping[str, Any],
    coverage: Mapping[str, Any] | None = None,
    stress: Mapping[str, Any] | None = None,
    tune: Mapping[str, Any] | None = None,
    ddpm: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Stage ``data``: :func:`prepare_data` with its ``dvc.yaml`` parameters.

    ``coverage``, ``stress``, ``tune`` and ``ddpm`` hold only the keys that name tickers,
    series or date windows; they are checked against the data up front (every bad key
    listed at once).
    """
    named = {
        "coverage": dict(coverage or {}),
        "stress": dict(stress or {}),
        "tune": dict(tune or {}),
        "ddpm": dict(ddpm or {}),
    }
    return prepare_data(**data, seed=seed, named=named)
