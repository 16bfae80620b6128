"""Prices, returns, splits: the study's input data."""

from diffrisk.data.errors import DataError
from diffrisk.data.price_checks import UnsortedDatesWarning, forward_fill_gaps, validate_prices
from diffrisk.data.price_files import read_long_price_csv, read_price_csv
from diffrisk.data.prices import load_prices, load_skfolio_prices
from diffrisk.data.returns import (
    PORTFOLIO,
    build_returns,
    check_series,
    constituent_returns,
    load_returns,
    log_returns,
    returns_until,
    summary_table,
)
from diffrisk.data.spikes import SpikeReport, detect_spikes, fix_spikes
from diffrisk.data.splits import SPLIT_NAMES, Splits

__all__ = [
    "DataError",
    "PORTFOLIO",
    "SPLIT_NAMES",
    "SpikeReport",
    "Splits",
    "UnsortedDatesWarning",
    "build_returns",
    "check_series",
    "constituent_returns",
    "detect_spikes",
    "fix_spikes",
    "forward_fill_gaps",
    "load_prices",
    "load_returns",
    "load_skfolio_prices",
    "log_returns",
    "read_long_price_csv",
    "read_price_csv",
    "returns_until",
    "summary_table",
    "validate_prices",
]
