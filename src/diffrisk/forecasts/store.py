"""Reading and writing forecast files and scenario sets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.core import io, paths
from diffrisk.forecasts.contract import ScenarioSet, validate_forecast_frame


def save_forecasts(
    method: str,
    frame: pd.DataFrame,
    scenarios: ScenarioSet | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> None:
    """Validate and atomically write ``data/forecasts/<method>.parquet`` (+ scenarios, audit)."""
    validate_forecast_frame(frame, method)
    io.write_parquet(paths.forecast_file(method), frame.reset_index(drop=True))
    if scenarios is not None:
        io.write_npz(
            paths.scenarios_file(method),
            scenarios=np.asarray(scenarios.scenarios, dtype=np.float32),
            dates=np.asarray(scenarios.dates.values.astype("datetime64[ns]").astype(np.int64)),
            series=np.asarray(scenarios.series, dtype=str),
            design=np.asarray(scenarios.design, dtype=str),
        )
    if provenance is not None:
        io.write_json(paths.forecasts_dir() / f"{method}.audit.json", dict(provenance))


def load_forecasts(method: str) -> pd.DataFrame:
    """Read ``data/forecasts/<method>.parquet`` (raises ``FileNotFoundError`` naming it)."""
    path = paths.forecast_file(method)
    if not path.is_file():
        raise FileNotFoundError(
            f"no forecasts for method {method!r}: {path} does not exist "
            "(run its pipeline stage first)"
        )
    frame = pd.read_parquet(path)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def load_scenarios(method: str) -> ScenarioSet:
    """Read ``data/forecasts/<method>_scenarios.npz``.

    A file written before scenario sets recorded their sampling design loads with
    ``design="empirical"``.
    """
    path = paths.scenarios_file(method)
    if not path.is_file():
        raise FileNotFoundError(f"no scenarios for method {method!r}: {path} does not exist")
    with np.load(path) as npz:
        return ScenarioSet(
            scenarios=npz["scenarios"],
            dates=pd.DatetimeIndex(npz["dates"].astype("datetime64[ns]")),
            series=[str(s) for s in npz["series"]],
            design=str(npz["design"]) if "design" in npz.files else "empirical",
        )
