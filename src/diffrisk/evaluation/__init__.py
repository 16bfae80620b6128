"""Backtests of one-day forecasts and the validation suite of scenario paths.

One-day modules: ``coverage`` (Kupiec, Christoffersen), ``traffic_light``, ``es_tests``
(Acerbi–Szekely), ``comparison`` (Diebold–Mariano), ``blocks`` (forecast tables as
per-series blocks), ``tables`` (the battery as tables), ``headline`` (the headline table
and the study's goal) and ``ensemble`` (seed-ensemble statistics); ``paths/`` is the
scenario-path suite. The one-day backtest API of DESIGN.md §4 is re-exported by
:mod:`diffrisk.backtest`.
"""
