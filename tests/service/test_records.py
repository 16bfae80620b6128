"""Reading what the pipeline leaves for the service (archetypes, gains, returns)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.service.records import (
    PipelineOutputsMissing,
    read_archetypes,
    read_conditioning_gains,
    read_json,
    read_returns,
)
from tests.service.conftest import GUIDANCE


def test_archetypes_carry_their_calibrated_guidance_only_for_their_checkpoint(pipeline):
    sha = weights_sha256(pipeline["models"] / "stress.pt")
    archetypes, sampling, params = read_archetypes(pipeline["stress"], sha, 0.5)
    assert {name: a.guidance for name, a in archetypes.items()} == GUIDANCE
    assert archetypes["crash"].as_of == "2004-03-01"
    assert archetypes["crash"].signature == {"vol_ratio": 2.5, "cum_return": -0.08}
    assert archetypes["unconditional"].prior_neighbours == 20
    assert sampling["n_steps"] == 5 and params["bootstrap_block"] == 5
    other, _, _ = read_archetypes(pipeline["stress"], "0" * 64, 0.5)
    assert {a.guidance for a in other.values()} == {0.5}
    assert all(a.source.endswith("service default (other checkpoint)") for a in other.values())
    # no GAN sets in the toy pipeline: no gains, no calibration rule
    assert read_conditioning_gains(pipeline["stress"], "gan", sha, archetypes) == ({}, None)


def test_missing_or_incomplete_outputs_name_the_file(pipeline, tmp_path):
    with pytest.raises(PipelineOutputsMissing, match=r"index\.json does not exist: run `make"):
        read_json(tmp_path / "index.json")
    (tmp_path / "index.json").write_text(json.dumps({"archetypes": []}))
    with pytest.raises(PipelineOutputsMissing, match=r"index\.json lists no archetypes"):
        read_archetypes(tmp_path, "0" * 64, 1.0)
    with pytest.raises(PipelineOutputsMissing, match=r"r\.parquet does not exist"):
        read_returns(tmp_path / "r.parquet", ["A0"])
    with pytest.raises(ValueError, match=r"returns\.parquet lacks the model's assets \['ZZ'\]"):
        read_returns(pipeline["returns"], ["A0", "ZZ"])
    frame = read_returns(pipeline["returns"], ["A1", "A0"])
    assert list(frame.columns) == ["A1", "A0"] and frame.index.name == "date"
    assert isinstance(frame.index, pd.DatetimeIndex)
