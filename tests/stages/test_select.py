"""The select stage checks its series parameters against the data before any fit."""

import numpy as np
import pandas as pd
import pytest

from diffrisk.core import paths
from diffrisk.data.prices import DataError
from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.stages.select import select_ddpm

SPLITS = Splits.from_mapping(
    {
        "train_end": "2012-12-31",
        "val_start": "2013-01-01",
        "val_end": "2013-06-28",
        "test_start": "2013-07-01",
        "test_end": "",
        "select_end": "2013-03-29",
    }
)


@pytest.fixture
def one_column(project_tmp):
    dates = pd.bdate_range("2011-01-03", "2013-09-30", name="date")
    frame = pd.DataFrame({"MYINDEX": np.random.default_rng(0).normal(0, 0.01, len(dates))}, dates)
    paths.returns_file().parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(paths.returns_file())
    return project_tmp


def _select(**overrides):
    """The select stage on a tiny setting (``overrides`` replace its arguments)."""
    kwargs = {
        "ddpm": DDPMConfig.smoke().to_dict(),
        "use_tuned": False,
        "members": 1,
        "workers": 1,
        "n_steps_grid": "5",
        "order_grid": "2",
        "frequency": "year",
        "wf_epochs": 1,
        "n_scenarios": 16,
        "sampling": {"sampler": "ddim", "eta": 0.0, "spacing": "logsnr", "noise": "stratified"},
        "headline": "MYINDEX",
        "splits": SPLITS,
        "seed": 0,
    }
    return select_ddpm(**{**kwargs, **overrides})


@pytest.mark.parametrize(
    ("headline", "ddpm", "message"),
    [
        ("portfolio,sp500", {}, r"parameter data.series names unknown series \['portfolio'"),
        ("MYINDEX", {"val_series": ["sp500"]}, r"parameter ddpm.val_series names unknown"),
        ("MYINDEX", {"train_series": ["sp500"]}, r"parameter ddpm.train_series names unknown"),
    ],
)
def test_series_parameters_are_checked_up_front(one_column, headline, ddpm, message):
    with pytest.raises(DataError, match=message) as err:
        _select(ddpm={**DDPMConfig.smoke().to_dict(), **ddpm}, headline=headline)
    assert "available: ['MYINDEX']" in str(err.value)
    assert not paths.selection_file().exists()


def test_a_combination_with_a_peer_that_is_not_a_baseline_is_refused(one_column):
    with pytest.raises(ValueError, match=r"calibrate.combine pairs a DDPM candidate with \['x'\]"):
        _select(combinations=True, combine="ddpm:x,fhs:gas")
    assert not paths.selection_file().exists()
