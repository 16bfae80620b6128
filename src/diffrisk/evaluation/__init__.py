"""Backtests of one-day forecasts and the validation suite of scenario paths.

The one-day backtest API of DESIGN.md §4 is re-exported by :mod:`diffrisk.backtest`.
"""
