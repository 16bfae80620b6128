"""A smoke-size one-day model on simulated returns, shared by the distillation tests."""

from __future__ import annotations

import pandas as pd
import torch

from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.fit import fit_ddpm
from diffrisk.ddpm.model import DDPMModel
from tests.ddpm.test_fit import simulate_garch_t


def tiny_teacher() -> tuple[DDPMModel, pd.DataFrame, dict[str, pd.Timestamp]]:
    """A smoke-size teacher on two simulated GARCH-t series (fit on days 0..799, epoch
    picked on 800..999), the returns (1,100 days) and its splits."""
    torch.set_num_threads(1)
    returns, _ = simulate_garch_t(1100, 2, seed=9)
    d = returns.index
    splits = {"train_end": d[799], "val_start": d[800], "val_end": d[999]}
    config = DDPMConfig.smoke(samples_per_epoch=1024, max_epochs=1)
    model, _ = fit_ddpm(returns, splits, config, seed=0, progress=False)
    return model, returns, splits
