"""Shared fixtures: a temporary project root so nothing is written into the checkout."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture
def project_tmp(tmp_path, monkeypatch):
    """A temporary project root: diffrisk.paths points there for the test."""
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.setenv("DIFFRISK_ROOT", str(tmp_path))
    return tmp_path


@pytest.fixture
def price_frame():
    """Three tickers of geometric random-walk prices on business days."""
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2010-01-01", periods=900, name="date")
    rets = rng.normal(0.0003, 0.01, size=(len(dates), 3))
    prices = 100 * np.exp(np.cumsum(rets, axis=0))
    return pd.DataFrame(prices, index=dates, columns=["AAA", "BBB", "CCC"])


def write_csv(path, frame, date_column="Date"):
    """Write a price frame as a wide CSV with a date column."""
    out = frame.copy()
    out.index = out.index.strftime("%Y-%m-%d")
    out.index.name = date_column
    out.to_csv(path)
    return path
