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


def test_source_hash_covers_exactly_the_named_code():
    tuning = audit.source_sha256(["diffrisk.study.tuning"])
    assert len(tuning) == 64 and tuning == audit.source_sha256(("diffrisk.study.tuning",))
    # a package counts with its modules: adding one changes the hash, order does not
    both = audit.source_sha256(["diffrisk.study.tuning", "diffrisk.risk"])
    assert both != tuning
    assert both == audit.source_sha256(["diffrisk.risk", "diffrisk.study.tuning"])
    assert both == audit.source_sha256(["diffrisk.risk", "diffrisk.study.tuning", "diffrisk.risk"])


def test_source_hash_changes_with_the_code(tmp_path, monkeypatch):
    package = tmp_path / "diffrisk"
    (package / "core").mkdir(parents=True)
    (package / "core" / "audit.py").write_text(audit.Path(audit.__file__).read_text())
    (package / "sub").mkdir()
    module = package / "sub" / "m.py"
    module.write_text("x = 1\n")
    monkeypatch.setattr(audit, "__file__", str(package / "core" / "audit.py"))
    before = audit.source_sha256(["diffrisk.sub"])
    module.write_text("x = 2\n")
    assert audit.source_sha256(["diffrisk.sub"]) != before
    module.write_text("x = 1\n")
    assert audit.source_sha256(["diffrisk.sub"]) == before


@pytest.mark.parametrize("name", ["numpy", "diffrisk.no_such_module"])
def test_source_hash_refuses_what_is_not_diffrisk_code(name):
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        audit.source_sha256([name])
