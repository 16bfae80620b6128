"""Tests of diffrisk.stress.scenario_sets: audit metadata, regeneration, guidance calibration."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stress.archetypes import (
    Archetype,
)
from diffrisk.stress.config import UNCONDITIONAL, StressRangeWarning
from diffrisk.stress.sampling import generate_paths
from diffrisk.stress.scenario_sets import (
    SET_INDEX,
    baseline_scenario_set,
    calibrate_guidance,
    generate_scenario_set,
    read_scenario_set,
    read_set_index,
    regenerate_scenario_set,
    write_scenario_set,
)
from diffrisk.stress.signatures import (
    stress_signature,
)
from tests.stress.conftest import TRAIN_END


def test_baseline_sets_are_leakage_safe(returns):
    a, meta = baseline_scenario_set("bootstrap", returns, TRAIN_END, ["2004-04-01"], 10, 8, seed=0)
    shocked = returns.copy()
    shocked.loc[shocked.index >= "2004-04-01"] = 0.3
    b, _ = baseline_scenario_set("bootstrap", shocked, TRAIN_END, ["2004-04-01"], 10, 8, seed=0)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (10, 8, 4)
    assert meta["generation"]["generator"] == "bootstrap"
    assert meta["model_version"] == f"bootstrap@fit_end={TRAIN_END}"


def test_every_set_records_its_model_version(model, returns):
    _, meta = baseline_scenario_set("normal", returns, TRAIN_END, ["2004-04-01"], 4, 8, seed=0)
    assert meta["model_version"] == "normal@fit_end=2002-12-31"
    _, meta = generate_scenario_set(
        model,
        returns,
        Archetype(UNCONDITIONAL, {}),
        ["2004-04-01"],
        2,
        guidance=0,
        seed=0,
        n_steps=2,
    )
    assert meta["model_version"] == f"stress@fit_end={model.train_end}"  # no checkpoint hash


def test_audit_round_trip_regenerates_the_set_exactly(model, returns, checkpoint, tmp_path):
    arch = Archetype("vol2", {"vol_ratio": 2.0})
    sha = weights_sha256(checkpoint)
    paths, meta = generate_scenario_set(
        model,
        returns,
        arch,
        ["2004-02-02", "2004-08-02"],
        6,
        guidance=1.5,
        seed=9,
        n_steps=5,
        checkpoint_sha256=sha,
        data_sha256="abc",
        params={"n_paths": 6},
    )
    file = write_scenario_set(tmp_path / "diffusion_vol2.npz", paths, meta)
    stored, record = read_scenario_set(file)
    np.testing.assert_array_equal(stored, paths)
    for key in (
        "generation",
        "checkpoint_sha256",
        "data_sha256",
        "params",
        "package_version",
        "git_revision",
        "utc_timestamp",
        "returns_sha256",
        "out_of_range",
    ):
        assert key in record
    assert record["generation"]["signature"] == {"vol_ratio": 2.0}
    assert record["generation"]["guidance"] == 1.5 and record["generation"]["seed"] == 9
    assert record["model_version"] == f"stress@fit_end={TRAIN_END}#{sha[:12]}"
    assert json.loads((tmp_path / "diffusion_vol2.audit.json").read_text()) == record
    again = regenerate_scenario_set(record, returns, checkpoint)
    np.testing.assert_array_equal(again, stored)


def test_regeneration_refuses_a_different_checkpoint_or_data(model, returns, checkpoint, tmp_path):
    arch = Archetype("u", {})
    _, meta = generate_scenario_set(
        model,
        returns,
        arch,
        ["2004-02-02"],
        2,
        guidance=0.0,
        seed=0,
        n_steps=3,
        checkpoint_sha256="0" * 64,
    )
    with pytest.raises(ValueError, match="SHA-256"):
        regenerate_scenario_set(meta, returns, checkpoint)
    meta["checkpoint_sha256"] = weights_sha256(checkpoint)
    changed = returns.copy()
    changed.iloc[100, 0] += 0.01
    with pytest.raises(ValueError, match="returns_sha256"):
        regenerate_scenario_set(meta, changed, checkpoint)
    with pytest.raises(ValueError, match="only 'diffusion'"):
        regenerate_scenario_set({"generation": {"generator": "normal"}}, returns, checkpoint)


def test_out_of_range_request_is_flagged_and_warned(model, returns):
    upper = model.signature_bounds.loc["upper", "vol_ratio"]
    far = Archetype("far", {"vol_ratio": float(upper) * 3})
    with pytest.warns(StressRangeWarning, match="outside the range seen in training"):
        _, meta = generate_scenario_set(
            model, returns, far, ["2004-02-02"], 2, guidance=1.0, seed=0, n_steps=3
        )
    assert meta["out_of_range"] == ["vol_ratio"] and meta["out_of_range_flag"] is True
    inside = Archetype("in", {"vol_ratio": 1.0, "avg_corr": 0.3})
    with warnings.catch_warnings():
        warnings.simplefilter("error", StressRangeWarning)
        _, meta = generate_scenario_set(
            model, returns, inside, ["2004-02-02"], 2, guidance=1.0, seed=0, n_steps=3
        )
    assert meta["out_of_range"] == [] and meta["out_of_range_flag"] is False


def test_calibrated_guidance_minimises_the_pilot_error(model, returns):
    request, dates = {"vol_ratio": 1.8, "cum_return": -0.05}, ["2004-03-01"]
    grid = (2.0, 0.5, 1.0)
    w, record = calibrate_guidance(
        model, returns, request, dates, grid, n_paths_per_date=16, seed=4, n_steps=5
    )
    assert record["grid"] == [0.5, 1.0, 2.0] and len(record["score"]) == 3
    assert w == record["grid"][int(np.argmin(record["score"]))]
    # the score is the largest relative error of the pilot's mean signature
    pilot, info = generate_paths(
        model, returns, dates, 16, request, guidance=1.0, seed=4, n_steps=5
    )
    achieved = stress_signature(pilot, np.repeat(info["portfolio_vol"], 16)).mean()
    expected = max(abs(achieved[c] / v - 1.0) for c, v in request.items())
    assert record["score"][1] == pytest.approx(expected)
    # an out-of-range component is left out of the score when another is in range
    _, rec = calibrate_guidance(
        model,
        returns,
        {"vol_ratio": 40.0, "cum_return": -0.05},
        dates,
        (1.0,),
        n_paths_per_date=4,
        seed=4,
        n_steps=3,
    )
    assert rec["components"] == ["cum_return"]
    assert calibrate_guidance(model, returns, {}, dates, seed=0)[0] == 0.0
    with pytest.raises(ValueError, match="guidance grid must hold finite weights"):
        calibrate_guidance(model, returns, request, dates, (1.0, -1.0), seed=0)


def test_auto_guidance_is_recorded_and_regenerates_exactly(model, returns, checkpoint):
    arch = Archetype("dip", {"cum_return": -0.08})
    paths_, meta = generate_scenario_set(
        model,
        returns,
        arch,
        ["2004-02-02"],
        6,
        guidance="auto",
        guidance_grid=(1.0, 2.0),
        calibration_paths=8,
        seed=9,
        n_steps=4,
        checkpoint_sha256=weights_sha256(checkpoint),
    )
    gen = meta["generation"]
    w, record = calibrate_guidance(
        model,
        returns,
        arch.signature,
        ["2004-02-02"],
        (1.0, 2.0),
        n_paths_per_date=8,
        seed=10,
        n_steps=4,
    )
    assert gen["guidance"] == w and gen["guidance_calibration"] == record
    np.testing.assert_array_equal(regenerate_scenario_set(meta, returns, checkpoint), paths_)
    with pytest.raises(ValueError, match="a number >= 0 or 'auto'"):
        generate_scenario_set(model, returns, arch, ["2004-02-02"], 2, guidance="max", seed=0)


def test_prior_sets_are_leakage_safe_deterministic_and_regenerate(
    model, returns, checkpoint, tmp_path
):
    kwargs = {"guidance": 1.25, "seed": 4, "n_steps": 5, "prior_neighbours": 10}
    base, _ = generate_paths(model, returns, ["2004-04-01"], 8, None, **kwargs)
    plain, _ = generate_paths(
        model, returns, ["2004-04-01"], 8, None, guidance=0, seed=4, n_steps=5
    )
    assert not np.array_equal(base, plain)
    shocked = returns.copy()
    shocked.loc[shocked.index >= "2004-04-01"] = -0.2
    again, _ = generate_paths(model, shocked, ["2004-04-01"], 8, None, **kwargs)
    np.testing.assert_array_equal(base, again)
    arch = Archetype(UNCONDITIONAL, {})
    paths_, meta = generate_scenario_set(
        model,
        returns,
        arch,
        ["2004-02-02", "2004-05-03"],
        6,
        guidance=1.25,
        seed=3,
        n_steps=4,
        prior_neighbours=10,
        checkpoint_sha256=weights_sha256(checkpoint),
    )
    assert meta["generation"]["prior_neighbours"] == 10
    np.testing.assert_array_equal(regenerate_scenario_set(meta, returns, checkpoint), paths_)
    with pytest.raises(ValueError, match="prior_neighbours must be an integer >= 0"):
        generate_paths(model, returns, [""], 2, None, guidance=1, seed=0, prior_neighbours=-1)


def test_scenario_set_errors(returns, tmp_path):
    with pytest.raises(ValueError, match="kind must be 'normal' or 'bootstrap'"):
        baseline_scenario_set("gan", returns, TRAIN_END, [""], 2, 5, seed=0)
    with pytest.raises(FileNotFoundError, match="run the stress_generate stage"):
        read_scenario_set(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError, match=rf"{SET_INDEX} does not exist: run the stress_gen"):
        read_set_index(tmp_path)
    (tmp_path / SET_INDEX).write_text('{"archetypes": [], "sets": [], "horizon": 20}')
    assert read_set_index(tmp_path) == {"archetypes": [], "sets": [], "horizon": 20}
