"""What the stage modules share: reading committed tables, tuned DDPM settings, run metadata."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from diffrisk.core import paths
from diffrisk.ddpm.config import DDPMConfig

logger = logging.getLogger(__name__)


def read_backtest_table(stem: str) -> pd.DataFrame:
    """A table of the coverage stage at full precision (``data/backtests/<stem>.parquet``).

    The committed ``reports/tables/<stem>.csv`` is rounded for presentation; stages that
    compute from a table read this copy. ``FileNotFoundError`` names the stage to run.
    """
    path = paths.backtests_dir() / f"{stem}.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the coverage stage first")
    return pd.read_parquet(path)


def without_timing(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Drop wall-clock fields so the committed metrics are identical between runs."""
    return {k: v for k, v in summary.items() if not k.startswith("wall_time")}


def ddpm_config(ddpm: Mapping[str, Any], use_tuned: bool) -> tuple[Any, dict[str, Any]]:
    """The DDPM configuration: ``params.yaml``'s ``ddpm`` section, then tuned values.

    When ``use_tuned`` and ``models/best_params.yaml`` holds tuned values (the tune stage
    ran with ``tune.enabled``), they override the section; otherwise the section is used
    as is.

    Returns
    -------
    config : DDPMConfig
    tuned : dict
        The overrides applied (empty when none).
    """
    import yaml

    tuned: dict[str, Any] = {}
    path = paths.best_params_file()
    if use_tuned and path.is_file():
        record = yaml.safe_load(path.read_text()) or {}
        if record.get("tuned"):
            tuned = dict(record.get("best_params", {}))
    return DDPMConfig.from_dict({**dict(ddpm), **tuned}), tuned
