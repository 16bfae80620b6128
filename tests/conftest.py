"""Shared fixtures: a temporary project root so nothing is written into the checkout."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


ROOT = Path(__file__).resolve().parents[1]

#: Test files that run the pipeline through ``dvc repro`` (minutes, one xdist worker each):
#: collected first, so that ``make test`` (``--dist loadfile --no-loadscope-reorder``: files
#: go out in collection order, not by their number of tests) starts the smoke run at once and
#: the other worker runs everything else beside it, instead of one worker finishing it alone.
LONGEST_FIRST = ("test_pipeline_smoke.py", "test_own_data_smoke.py")


def pytest_collection_modifyitems(config, items):
    """Put the files of :data:`LONGEST_FIRST` first, in that order; the rest keep theirs."""
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable


def params_section(*keys: str) -> dict:
    """A section of the project's ``params.yaml`` (the one source of parameter defaults)."""
    node = yaml.safe_load((ROOT / "params.yaml").read_text())
    for key in keys:
        node = node[key]
    return dict(node)


@pytest.fixture
def project_tmp(tmp_path, monkeypatch):
    """A temporary project root: diffrisk.paths points there for the test."""
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.setenv("DIFFRISK_ROOT", str(tmp_path))
    return tmp_path


@pytest.fixture
def dask_processes():
    """A real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 (no nanny).

    Yields ``(address, worker processes)``; see :mod:`tests.support.dask_processes`.
    """
    from tests.support.dask_processes import local_dask_processes

    with local_dask_processes(2) as running:
        yield running


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory) -> Iterator[str]:
    """The address of one embedded Dask cluster per test process: two workers, one thread each.

    It is the cluster :func:`diffrisk.core.compute.shared_scheduler` starts for a stage, started
    once and shared by the tests whose question is "do the results depend on running in
    worker processes?", so that each of them does not pay for a cluster and for importing
    torch and diffrisk in two fresh workers. Such a test sends its fanned-out run here
    (``scheduler=dask_cluster``, or ``monkeypatch.setenv(SCHEDULER_ENV, dask_cluster)`` for a
    stage, after its in-process run). The workers' ``DIFFRISK_ROOT`` names a regular file, so
    a task that reads or writes through :mod:`diffrisk.core.paths` in a worker (instead of
    taking its files in its item) fails there rather than touching another test's project.
    The embedded cluster started per call (``workers: 2`` without a scheduler) is tested in
    ``tests/core/test_compute.py`` and by the smoke pipeline.
    """
    from diffrisk.core.compute import SCHEDULER_ENV, shared_scheduler

    guard = tmp_path_factory.mktemp("dask_cluster") / "not_a_project_root"
    guard.write_text("the shared test cluster's workers have no project root\n")
    saved = {key: os.environ.pop(key, None) for key in ("DIFFRISK_ROOT", SCHEDULER_ENV)}
    os.environ["DIFFRISK_ROOT"] = str(guard)  # what the worker processes are spawned with
    with ExitStack() as stack:
        try:
            address = stack.enter_context(shared_scheduler(2))
        finally:
            del os.environ["DIFFRISK_ROOT"]
            os.environ.update({key: value for key, value in saved.items() if value is not None})
        assert address is not None
        yield address


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


def write_long(path, frame, shuffle=True, **extra):
    """``frame`` (dates x tickers) as a long CSV: date, ticker, close (+ ``extra`` columns)."""
    long = (
        frame.rename_axis("date").reset_index().melt("date", var_name="ticker", value_name="close")
    )
    long = long.dropna(subset=["close"])
    long["date"] = long["date"].dt.strftime("%Y-%m-%d")
    for name, value in extra.items():
        long[name] = value
    if shuffle:  # rows in no particular order, as a database returns them
        long = long.sample(frac=1.0, random_state=0)
    long.to_csv(path, index=False)
    return path


#: The keys of load_prices (and of params.yaml's data section) for a file written by write_long.
LONG = {"date_column": "date", "layout": "long", "ticker_column": "ticker", "price_column": "close"}


# Split dates shared by the tests of diffrisk.data and of the data stage.
SPLITS = {
    "train_end": "2011-12-31",
    "val_start": "2012-01-01",
    "val_end": "2012-12-31",
    "test_start": "2013-01-01",
    "select_end": "2012-06-30",
}


# A GARCH(1,1)-t series with known parameters, shared by the tests of diffrisk.baselines
# and diffrisk.volatility.garch.
TRUE = {"mu": 0.05, "omega": 0.02, "alpha": 0.08, "beta": 0.90, "nu": 6.0}  # percent units


def simulate_garch_t(n, mu, omega, alpha, beta, nu, seed, burn=500):
    """GARCH(1,1) with unit-variance Student-t shocks; returns (y, true sigma), percent."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, size=n + burn) * np.sqrt((nu - 2.0) / nu)
    sigma2 = np.empty(n + burn)
    y = np.empty(n + burn)
    sigma2[0] = omega / (1.0 - alpha - beta)
    for t in range(n + burn):
        if t:
            sigma2[t] = omega + alpha * (y[t - 1] - mu) ** 2 + beta * sigma2[t - 1]
        y[t] = mu + np.sqrt(sigma2[t]) * z[t]
    return y[burn:], np.sqrt(sigma2[burn:])


def frame_of(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A frame of the given columns on business days from 2000-01-03."""
    n = len(next(iter(columns.values())))
    index = pd.DatetimeIndex(pd.bdate_range("2000-01-03", periods=n), name="date")
    return pd.DataFrame(columns, index=index)


@pytest.fixture(scope="module")
def long_series():
    """3000 days of one GARCH-t series with its true conditional sigma (percent)."""
    y, sigma = simulate_garch_t(3000, **TRUE, seed=1)
    return frame_of({"x": y / 100}), y, sigma


# Three correlated assets, shared by the tests of diffrisk.stress and diffrisk.volatility.ewma.
CORR = np.array([[1.0, 0.7, 0.3], [0.7, 1.0, -0.2], [0.3, -0.2, 1.0]])
VOLS = np.array([0.01, 0.02, 0.015])


@pytest.fixture(scope="module")
def train():
    """3000 days of three correlated assets with a volatility regime change half-way."""
    rng = np.random.default_rng(42)
    cov = CORR * np.outer(VOLS, VOLS)
    days = rng.multivariate_normal(np.array([0.0005, 0.0, -0.0002]), cov, size=3000)
    days[1500:] *= 2.0
    return days


@pytest.fixture(scope="session")
def postgres_server():
    """A throw-away PostgreSQL server for the session (see tests/support/postgres.py).

    Skips only when the server binaries are not installed; always stopped and deleted.
    """
    from tests.support import postgres

    if postgres.postgres_bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl, postgres) are not installed")
    with postgres.postgres_server() as server:
        yield server


_DATABASES = itertools.count()


@pytest.fixture
def postgres_url(postgres_server, request):
    """SQLAlchemy URL of a new, empty database on the session's PostgreSQL server."""
    name = (
        "t_"
        + "".join(c if c.isascii() and c.isalnum() else "_" for c in request.node.name.lower())[:40]
    )
    return postgres_server.create_database(f"{name}_{next(_DATABASES)}")
