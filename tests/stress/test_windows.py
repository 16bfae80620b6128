"""Tests of diffrisk.stress.windows: conditioning inputs and training windows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diffrisk.stress.config import StressConfig
from diffrisk.stress.windows import training_windows
from tests.stress.conftest import TRAIN_END


def test_training_windows_end_on_or_before_train_end(returns):
    cfg = StressConfig.smoke()
    windows = training_windows(returns, None, TRAIN_END, cfg)
    last_row = returns.index.get_loc(windows.starts[-1]) + cfg.horizon - 1
    assert returns.index[last_row] <= pd.Timestamp(TRAIN_END)
    assert returns.index[last_row + 1] > pd.Timestamp(TRAIN_END)  # the last one that fits
    shocked = returns.copy()
    shocked.loc[shocked.index > TRAIN_END] *= 7.0
    again = training_windows(shocked, None, TRAIN_END, cfg)
    np.testing.assert_array_equal(windows.targets, again.targets)
