"""Tests of diffrisk.stress.set_records (the audit records of every scenario set)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch

from diffrisk.core import audit
from diffrisk.stress.archetypes import Archetype
from diffrisk.stress.set_records import (
    conditioning_weight,
    generation_record,
    json_ready,
    rows_before,
    scenario_set_metadata,
)
from diffrisk.stress.signatures import SIGNATURE_COLUMNS


def _returns() -> pd.DataFrame:
    dates = pd.bdate_range("2020-01-01", periods=10, name="date")
    values = np.arange(20, dtype=float).reshape(10, 2) / 100
    return pd.DataFrame(values, index=dates, columns=["A", "B"])


def test_rows_before_keeps_the_rows_strictly_before_the_latest_date():
    r = _returns()
    assert rows_before(r, ["2020-01-03", "2020-01-07"]).index[-1] == pd.Timestamp("2020-01-06")
    assert len(rows_before(r, ["2020-01-03"])) == 2
    assert len(rows_before(r, [None])) == len(r)  # None: the day after the last row


def test_json_ready_makes_numpy_values_plain():
    out = json_ready({"a": np.float32(0.5), "b": np.arange(2)})
    assert out == {"a": 0.5, "b": [0, 1]}
    assert type(out["a"]) is float


def test_generation_record_holds_the_common_settings_in_order():
    archetype = Archetype("covid", {"vol_ratio": 2.0}, source="window")
    record = generation_record(
        "vae", archetype, None, np.int64(7), ["2020-03-02", None, pd.Timestamp("2020-03-09")], 4
    )
    assert list(record) == [
        "generator",
        "archetype",
        "archetype_source",
        "signature",
        "guidance",
        "seed",
        "as_of",
        "n_paths_per_date",
    ]
    assert record["generator"] == "vae" and record["archetype"] == "covid"
    assert record["archetype_source"] == "window" and record["guidance"] is None
    assert record["signature"] == {"vol_ratio": 2.0}
    assert record["signature"] is not archetype.signature
    assert record["as_of"] == ["2020-03-02", None, "2020-03-09"]
    assert type(record["seed"]) is int and record["seed"] == 7
    assert record["n_paths_per_date"] == 4


def test_scenario_set_metadata_records_model_data_and_versions():
    r = _returns()
    bounds = pd.DataFrame(
        [[0.5, -0.2, 0.0], [3.0, 0.1, 0.9]], index=["lower", "upper"], columns=SIGNATURE_COLUMNS
    )
    model = SimpleNamespace(
        assets=["A", "B"],
        config=SimpleNamespace(horizon=5),
        train_end="2019-12-31",
        signature_bounds=bounds,
    )
    dates = pd.DataFrame(
        {
            "as_of": pd.to_datetime(["2020-01-08"]),
            "last_history": pd.to_datetime(["2020-01-07"]),
        }
    )
    record = scenario_set_metadata(
        model,  # type: ignore[arg-type]
        "gan",
        {"generator": "gan"},
        dates,
        r,
        ["2020-01-08"],
        ["vol_ratio"],
        seed=3,
        checkpoint_sha256="ab" * 32,
        data_sha256="cd",
        params={"p": 1},
        versions={"numpy_version": np.__version__},
    )
    assert record["generation"] == {"generator": "gan"}
    assert record["conditioning"] == {"as_of": ["2020-01-08"], "last_history": ["2020-01-07"]}
    assert record["assets"] == ["A", "B"] and record["horizon"] == 5
    assert record["model_version"] == "gan@fit_end=2019-12-31#abababababab"
    assert record["returns_sha256"] == audit.frame_sha256(r.iloc[:5])
    assert record["out_of_range"] == ["vol_ratio"] and record["out_of_range_flag"] is True
    assert record["training_signature_range"]["upper"]["vol_ratio"] == 3.0
    keys = list(record)
    assert keys.index("torch_version") + 1 == keys.index("numpy_version")
    assert keys.index("numpy_version") + 1 == keys.index("torch_threads")
    assert record["torch_version"] == torch.__version__
    assert record["params"] == {"p": 1} and record["seed"] == 3 and record["data_sha256"] == "cd"


def test_conditioning_weight_reads_guidance_then_gain():
    assert conditioning_weight({"guidance": 1.25, "conditioning_gain": None}) == 1.25
    assert conditioning_weight({"guidance": None, "conditioning_gain": 3}) == 3.0
    assert math.isnan(conditioning_weight({"guidance": None, "conditioning_gain": None}))
    assert math.isnan(conditioning_weight({"generator": "normal"}))
