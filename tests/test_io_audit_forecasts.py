import json

import numpy as np
import pandas as pd
import pytest

from diffrisk.core import audit, io
from diffrisk.core.tables import parse_list
from diffrisk.evaluation.tables import headline_metrics
from diffrisk.forecasts.contract import (
    RISK_COLUMNS,
    ScenarioSet,
    alpha_tag,
    risk_frame_from_scenarios,
    validate_forecast_frame,
    var_column,
)
from diffrisk.forecasts.store import load_forecasts, load_scenarios, save_forecasts


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out" / "table.csv"
    with pytest.raises(RuntimeError, match="boom"), io.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert not target.exists()
    assert list((tmp_path / "out").iterdir()) == []


def test_atomic_write_replaces_and_is_readable(tmp_path):
    target = tmp_path / "x.json"
    io.write_json(target, {"b": np.float64(1.5), "a": np.int64(2), "c": float("nan")})
    assert json.loads(target.read_text()) == {"a": 2, "b": 1.5, "c": None}
    assert oct(target.stat().st_mode & 0o777) == "0o644"


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


def test_alpha_tags_and_columns():
    assert alpha_tag(0.05) == "05"
    assert alpha_tag(0.025) == "025"
    assert var_column(0.01) == "var_01"
    assert RISK_COLUMNS == (
        "var_05",
        "cvar_05",
        "var_025",
        "cvar_025",
        "var_01",
        "cvar_01",
    )
    with pytest.raises(ValueError, match="alpha must be in"):
        alpha_tag(1.5)


def scenario_case(n_days=5, n=200, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_days)
    scen = rng.normal(0, 0.01, size=(2, n_days, n)).astype(np.float32)
    realized = rng.normal(0, 0.01, size=(2, n_days))
    return dates, scen, realized


def test_risk_frame_from_scenarios_matches_risk_functions():
    dates, scen, realized = scenario_case()
    frame = risk_frame_from_scenarios(scen, dates, ["a", "b"], realized)
    row = frame[(frame.series == "b") & (frame.date == dates[3])].iloc[0]
    sorted_ = np.sort(scen[1, 3].astype(float))
    assert row["var_05"] == sorted_[9]  # ceil(0.05 * 200) = 10th smallest
    assert row["cvar_05"] == pytest.approx(sorted_[:10].mean())
    assert row["var_01"] == sorted_[1]
    assert row["realized"] == realized[1, 3]


def test_save_and_load_round_trip(project_tmp):
    dates, scen, realized = scenario_case()
    frame = risk_frame_from_scenarios(scen, dates, ["a", "b"], realized)
    save_forecasts("m", frame, ScenarioSet(scen, dates, ["a", "b"]), {"k": 1})
    back = load_forecasts("m")
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    s = load_scenarios("m")
    assert s.series == ["a", "b"] and (s.dates == dates).all()
    np.testing.assert_array_equal(s.for_series("b"), scen[1])
    with pytest.raises(KeyError, match="series 'c' not in scenario set"):
        s.for_series("c")


def test_validate_forecast_frame_errors():
    dates, scen, realized = scenario_case()
    frame = risk_frame_from_scenarios(scen, dates, ["a", "b"], realized)
    bad = frame.copy()
    bad.loc[3, "cvar_05"] = bad.loc[3, "var_05"] + 0.01
    with pytest.raises(ValueError, match=r"m: cvar_05 > var_05 for series 'a'"):
        validate_forecast_frame(bad, "m")
    bad = frame.copy()
    bad.loc[0, "var_01"] = np.nan
    with pytest.raises(ValueError, match=r"m: var_01 is not finite for series 'a'"):
        validate_forecast_frame(bad, "m")
    with pytest.raises(ValueError, match=r"lacks columns \['realized'\]"):
        validate_forecast_frame(frame.drop(columns="realized"), "m")


def test_load_missing_forecasts_names_the_stage(project_tmp):
    with pytest.raises(FileNotFoundError, match="no forecasts for method 'nope'"):
        load_forecasts("nope")


def test_parse_list():
    assert parse_list("portfolio, sp500,") == ["portfolio", "sp500"]
    assert parse_list("") == []
    assert parse_list(["a", " b"]) == ["a", "b"]


def test_headline_metrics_nesting():
    table = pd.DataFrame(
        {
            "series": ["portfolio", "x"],
            "method": ["hs", "hs"],
            "alpha": [0.05, 0.05],
            "fz0_mean": [1.0, 2.0],
            "exception_rate": [0.05, 0.1],
            "kupiec_p": [0.5, 0.1],
            "christoffersen_cc_p": [0.4, 0.2],
            "as_z2": [0.0, 0.1],
            "avg_cvar": [-0.02, -0.03],
        }
    )
    out = headline_metrics(table, ["portfolio"])
    assert list(out) == ["portfolio"]
    assert out["portfolio"]["hs"]["alpha_0.05"]["kupiec_p"] == 0.5


def test_recorded_data_hash_reads_the_data_stage_record(project_tmp):
    with pytest.raises(FileNotFoundError, match="run the data stage first"):
        audit.recorded_data_hash()
    io.write_json(project_tmp / "reports" / "metrics" / "data.json", {"data_sha256": "ab12"})
    assert audit.recorded_data_hash() == "ab12"
