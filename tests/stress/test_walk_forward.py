"""Tests of diffrisk.stress.walk_forward: yearly (here quarterly) warm-started versions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stress.walk_forward import version_period_sets, walk_forward_stress
from tests.stress.conftest import TEST_START

# two quarters of "test" days: versions 1 (fit through 2003-12-31) and 2 (through 2004-03-31)
DATES_END = "2004-06-30"


def _dates(returns):
    return returns.index[(returns.index >= TEST_START) & (returns.index <= DATES_END)]


@pytest.fixture(scope="module")
def versions(model, returns, tmp_path_factory):
    folder = tmp_path_factory.mktemp("wf")
    return walk_forward_stress(
        model,
        returns,
        _dates(returns),
        epochs=1,
        seed=11,
        frequency="quarter",
        frozen_sha256="f" * 64,
        checkpoint=lambda k: folder / f"version_{k}.pt",
        progress=False,
    )


def _weights_equal(a, b) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in zip(a.net.state_dict().values(), b.net.state_dict().values(), strict=True)
    )


def test_versions_refit_at_each_boundary_with_version_strings(versions, model, tmp_path_factory):
    assert [v.version for v in versions] == [0, 1, 2]
    assert versions[0].model is model and versions[0].first_date is None
    assert [v.fit_end for v in versions] == ["2002-12-31", "2003-12-31", "2004-03-31"]
    assert versions[1].first_date == pd.Timestamp("2004-01-01")
    assert versions[2].first_date == pd.Timestamp("2004-04-01")
    assert versions[2].last_date == pd.Timestamp("2004-06-30")
    assert versions[0].name == "stress@fit_end=2002-12-31#ffffffffffff"
    for v in versions[1:]:
        assert v.epochs == 1 and v.warm_start and len(v.model.history) == 1
        assert v.name == f"stress@fit_end={v.fit_end}#{v.sha256[:12]}"
        record = v.record()
        assert record["model_version"] == v.name and record["epochs"] == 1
        assert record["first_day"] == str(v.first_date.date())
    assert versions[1].sha256 != versions[2].sha256
    assert not _weights_equal(versions[1].model, versions[2].model)


def test_checkpoint_hash_is_the_file_hash(model, returns, tmp_path):
    out = walk_forward_stress(
        model,
        returns,
        _dates(returns)[:20],
        epochs=1,
        seed=11,
        frequency="quarter",
        checkpoint=lambda k: tmp_path / f"v{k}.pt",
        progress=False,
    )
    assert out[1].sha256 == weights_sha256(tmp_path / "v1.pt")
    assert out[0].name == "stress@fit_end=2002-12-31"  # no hash given for version 0
    again = walk_forward_stress(
        model,
        returns,
        _dates(returns)[:20],
        epochs=1,
        seed=11,
        frequency="quarter",
        checkpoint=lambda k: tmp_path / f"again{k}.pt",
        progress=False,
    )
    assert again[1].name == out[1].name  # same seed: the same checkpoint bytes


def test_perturbing_returns_after_a_boundary_leaves_earlier_versions_unchanged(
    versions, model, returns
):
    shocked = returns.copy()
    shocked.loc[shocked.index >= "2004-02-16"] *= 6.0  # inside the first period
    again = walk_forward_stress(
        model, shocked, _dates(shocked), epochs=1, seed=11, frequency="quarter", progress=False
    )
    assert _weights_equal(again[1].model, versions[1].model)  # fitted through 2003-12-31
    assert not _weights_equal(again[2].model, versions[2].model)  # saw the shock


def test_version_zero_must_predate_the_first_period(model, returns):
    with pytest.raises(ValueError, match="on or after the first walk-forward day"):
        walk_forward_stress(
            model, returns, returns.index[returns.index >= "2002-06-03"], epochs=1, seed=0
        )
    with pytest.raises(ValueError, match="frequency must be one of"):
        walk_forward_stress(model, returns, _dates(returns), epochs=1, seed=0, frequency="week")


#: Conditioning dates and settings of the period sets' tests.
AS_OF = ["2004-01-05", "2004-02-02", "2004-04-05", "2004-05-03"]
SET_OPTIONS = {"n_paths_per_date": 3, "seed": 4, "frequency": "quarter", "n_steps": 3}
SET_OPTIONS |= {"guidance": 0.0, "prior_neighbours": 0}


def test_period_sets_scope_and_common_noise(versions, returns):
    as_of, kwargs = AS_OF, SET_OPTIONS
    every = version_period_sets(versions, returns, _dates(returns), as_of, scope="all", **kwargs)
    served = version_period_sets(
        versions, returns, _dates(returns), as_of, scope="served", **kwargs
    )
    assert [(s.period, s.version.version, s.served) for s in every] == [
        ("2004Q1", 0, False),
        ("2004Q1", 1, True),
        ("2004Q2", 0, False),
        ("2004Q2", 1, False),
        ("2004Q2", 2, True),
    ]
    assert [(s.period, s.version.version) for s in served] == [
        ("2004Q1", 0),
        ("2004Q1", 1),
        ("2004Q2", 0),
        ("2004Q2", 2),
    ]
    first = every[0]
    assert first.paths.shape == (6, 10, 4) and first.as_of == ["2004-01-05", "2004-02-02"]
    assert first.reference.index.min() >= pd.Timestamp("2004-01-01")
    assert first.reference.index.max() <= pd.Timestamp("2004-03-31")
    np.testing.assert_array_equal(every[2].paths, served[2].paths)  # same seed per period
    with pytest.raises(ValueError, match="scope must be one of"):
        version_period_sets(versions, returns, _dates(returns), as_of, scope="some", **kwargs)


def test_period_sets_on_two_dask_workers_are_the_same(versions, returns, dask_cluster):
    one = version_period_sets(versions, returns, _dates(returns), AS_OF, **SET_OPTIONS)
    two = version_period_sets(
        versions, returns, _dates(returns), AS_OF, workers=2, scheduler=dask_cluster, **SET_OPTIONS
    )
    assert len(one) == len(two) == 5
    for a, b in zip(one, two, strict=True):
        assert (a.period, a.version.version, a.served, a.as_of) == (
            b.period,
            b.version.version,
            b.served,
            b.as_of,
        )
        assert a.paths.dtype == b.paths.dtype
        np.testing.assert_array_equal(a.paths, b.paths)
        pd.testing.assert_frame_equal(a.reference, b.reference, check_exact=True)
