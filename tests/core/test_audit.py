"""Tests of diffrisk.core.audit: hashes and provenance records."""

from __future__ import annotations

import pandas as pd
import pytest

from diffrisk.core import audit, io


def test_frame_hash_is_format_independent(tmp_path):
    frame = pd.DataFrame({"A": [1.0, 2.0]}, index=pd.DatetimeIndex(["2020-01-01", "2020-01-02"]))
    path = tmp_path / "f.parquet"
    frame.to_parquet(path)
    assert audit.frame_sha256(pd.read_parquet(path)) == audit.frame_sha256(frame)
    changed = frame.copy()
    changed.iloc[0, 0] = 1.0000001
    assert audit.frame_sha256(changed) != audit.frame_sha256(frame)


def test_provenance_record_fields(project_tmp):
    record = audit.provenance({"x": 1}, 7, "abc", extra={"checkpoint_sha256": "def"})
    for key in (
        "params",
        "seed",
        "data_sha256",
        "package_version",
        "git_revision",
        "utc_timestamp",
        "checkpoint_sha256",
    ):
        assert key in record
    assert record["seed"] == 7 and record["params"] == {"x": 1}


def test_recorded_data_hash_reads_the_data_stage_record(project_tmp):
    with pytest.raises(FileNotFoundError, match="run the data stage first"):
        audit.recorded_data_hash()
    io.write_json(project_tmp / "reports" / "metrics" / "data.json", {"data_sha256": "ab12"})
    assert audit.recorded_data_hash() == "ab12"
