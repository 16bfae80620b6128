"""Shared set-up of the stress stages' tests."""

from __future__ import annotations

import pandas as pd
import torch

from diffrisk.core import io, paths
from diffrisk.risk.portfolio import portfolio_log_returns
from diffrisk.stress.config import StressConfig
from diffrisk.stress.fit import train_stress_model
from diffrisk.stress.model import StressModel, save_stress_model
from tests.stress.conftest import TEST_START, TRAIN_END, VAL_END, VAL_START, synthetic_returns

#: The ``data`` section of the stress stages' tests (the standard split, index ``sp500``).
DATA = {
    "train_end": TRAIN_END,
    "val_start": VAL_START,
    "val_end": VAL_END,
    "test_start": TEST_START,
    "test_end": "",
    "index_name": "sp500",
}


def write_stress_returns() -> pd.DataFrame:
    """Write the returns of the stress stages' tests into the project root of the test.

    ``data/processed/returns.parquet`` holds the portfolio, the index ``sp500`` and four
    synthetic constituents (``synthetic_returns(1300, 4, seed=7)``), which are returned.
    """
    cons = synthetic_returns(1300, 4, seed=7)
    frame = pd.concat(
        [
            pd.Series(portfolio_log_returns(cons, axis=1), index=cons.index, name="portfolio"),
            cons.mean(axis=1).rename("sp500"),
            cons,
        ],
        axis=1,
    )
    io.write_parquet(paths.returns_file(), frame)
    return cons


def write_stress_project() -> tuple[pd.DataFrame, StressModel]:
    """:func:`write_stress_returns` and a smoke stress model (``models/stress.pt``).

    The model is the smoke configuration fitted on the standard split with seed 3 (one
    torch thread). Returns the constituents and the model.
    """
    torch.set_num_threads(1)
    cons = write_stress_returns()
    model = train_stress_model(
        cons, (TRAIN_END, VAL_START, VAL_END), StressConfig.smoke(), seed=3, progress=False
    )
    save_stress_model(model, paths.stress_checkpoint())
    return cons, model
