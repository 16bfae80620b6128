"""Tests of the coverage stage (diffrisk.stages.coverage): outputs, primary method, ensemble."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from diffrisk.core import paths
from diffrisk.core.compute import SCHEDULER_ENV, Compute
from diffrisk.evaluation.ensemble import DISAGREEMENT_COLUMNS, ENSEMBLE_COLUMNS
from diffrisk.evaluation.headline import HEADLINE_COLUMNS
from diffrisk.forecasts.contract import ScenarioSet, risk_frame_from_scenarios
from diffrisk.forecasts.store import save_forecasts
from diffrisk.stages import coverage as stage
from tests.conftest import ROOT

SERIES = ["portfolio", "sp500", "AAA"]
HEADS = "portfolio,sp500"
N_DAYS, N_SCEN, SEED = 260, 200, 3
#: Scenario scale of each method (returns have sd 1 %).
SCALES = {"hs": 0.013, "fhs": 0.0102, "ddpm": 0.0085, "ddpm_ens": 0.0095}
COVERAGE = {
    "methods": "hs,fhs,ddpm,ddpm_ens",
    "benchmark": "fhs",
    "n_sim": 50,
    "crash_start": "2020-02-01",
    "crash_end": "2020-04-30",
}


def write_method(name: str, scen: np.ndarray, dates, series, realized) -> pd.DataFrame:
    frame = risk_frame_from_scenarios(scen, dates, series, realized)
    save_forecasts(name, frame, ScenarioSet(scen, dates, list(series)))
    return frame


def write_coverage_inputs() -> None:
    """Forecasts of four methods, the ensemble's three members and the selection."""
    dates = pd.bdate_range("2019-11-01", periods=N_DAYS)
    realized = np.random.default_rng(0).standard_normal((len(SERIES), N_DAYS)) * 0.01
    for i, (name, scale) in enumerate(SCALES.items()):
        scen = np.random.default_rng(10 + i).standard_normal((len(SERIES), N_DAYS, N_SCEN))
        if name != "ddpm_ens":
            write_method(name, (scen * scale).astype(np.float32), dates, SERIES, realized)
    members, member_scen = [], []
    for k, scale in enumerate((0.009, 0.0095, 0.01)):
        rng = np.random.default_rng(100 + k)
        scen = (rng.standard_normal((2, N_DAYS, N_SCEN)) * scale).astype(np.float32)
        frame = risk_frame_from_scenarios(scen, dates, SERIES[:2], realized[:2])
        members.append(frame.assign(member=k))
        member_scen.append(scen)
    pooled = np.concatenate(member_scen, axis=-1)
    write_method("ddpm_ens", pooled, dates, SERIES[:2], realized[:2])
    pd.concat(members, ignore_index=True).to_parquet(paths.forecast_file("ddpm_ens_members"))
    paths.metrics_dir().mkdir(parents=True, exist_ok=True)
    paths.selection_file().write_text(json.dumps({"primary_method": "ddpm_ens", "n_steps": 10}))


@pytest.fixture
def project(project_tmp):
    write_coverage_inputs()
    return project_tmp


def declared_outputs() -> list[str]:
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["coverage"]
    names = []
    for key in ("outs", "metrics"):
        for item in spec.get(key, []):
            names.append(next(iter(item)) if isinstance(item, dict) else item)
    return [n for n in names if not n.startswith("reports/notebooks/")]


def test_stage_writes_every_declared_output_and_the_headline(project):
    out = stage.run(seed=SEED, coverage=COVERAGE, data={"series": HEADS})
    missing = [n for n in declared_outputs() if not (project / n).exists()]
    assert not missing
    head = out["headline"]
    assert tuple(head.columns) == HEADLINE_COLUMNS
    assert len(head) == 2 * 2 * 4  # 2 series x 2 alphas x 4 methods
    assert head["method"].tolist()[:4] == ["ddpm_ens", "hs", "fhs", "ddpm"]
    assert head.loc[head.primary, "method"].unique().tolist() == ["ddpm_ens"]
    pd.testing.assert_frame_equal(pd.read_parquet(paths.backtests_dir() / "headline.parquet"), head)
    back = pd.read_csv(paths.tables_dir() / "headline.csv")
    assert back["method"].tolist() == head["method"].tolist()
    np.testing.assert_allclose(back["fz0_mean"], head["fz0_mean"], rtol=5e-4)
    # the crash window of the parameters: Feb–Apr 2020, 64 business days
    assert (head["crash_days"] == 64).all()
    md = (paths.tables_dir() / "headline.md").read_text()
    assert md.startswith("**Headline.**") and "primary method: **ddpm_ens**" in md
    assert "| Exc. Feb–Apr 2020 (n) |" in md and "**ddpm_ens** (primary)" in md
    # the numbers are the battery's: Kupiec p of the primary method at 1 % on sp500
    bt = out["backtests"]
    src = bt[(bt.series == "sp500") & (bt.method == "ddpm_ens") & np.isclose(bt.alpha, 0.01)]
    row = head[(head.series == "sp500") & (head.method == "ddpm_ens") & (head.alpha == 0.01)]
    assert row["kupiec_p"].iloc[0] == src["kupiec_p"].iloc[0]
    # traffic-light windows at both headline alphas
    assert sorted(out["traffic_light"]["alpha"].unique()) == [0.01, 0.05]
    metrics = json.loads((paths.metrics_dir() / "backtests.json").read_text())
    assert metrics["primary_method"] == "ddpm_ens" and metrics["benchmark"] == "fhs"
    assert set(metrics) == {"primary_method", "benchmark", "portfolio", "sp500", "family_wise"}
    cell = metrics["sp500"]["alpha_0.01"]
    assert cell["primary_kupiec_p"] == pytest.approx(src["kupiec_p"].iloc[0], rel=1e-3)
    assert "fhs_fz0" in cell and "primary_tl_red" in cell
    # the DVC metrics: one small file per headline series, the primary method's numbers
    head_dir = paths.metrics_dir() / "headline"
    assert sorted(p.name for p in head_dir.glob("*.json")) == ["portfolio.json", "sp500.json"]
    one = json.loads((head_dir / "sp500.json").read_text())["1%"]
    assert one["kupiec"] == pytest.approx(src["kupiec_p"].iloc[0], rel=1e-3)
    assert one["vs_fhs"] == pytest.approx(cell["primary_fz0"] - cell["fhs_fz0"], abs=2e-3)


def test_stage_writes_the_ensemble_tables(project):
    out = stage.run(seed=SEED, coverage=COVERAGE, data={"series": HEADS})
    ens = out["ensemble"]
    assert tuple(ens.columns) == ENSEMBLE_COLUMNS
    assert ens[["series", "alpha"]].values.tolist() == [
        ["portfolio", 0.05],
        ["portfolio", 0.01],
        ["sp500", 0.05],
        ["sp500", 0.01],
    ]
    assert (ens["n_members"] == 3).all() and (ens["n_obs"] == N_DAYS).all()
    # the pooled FZ0 is the ddpm_ens row of the battery
    bt = out["backtests"]
    pooled = bt[(bt.method == "ddpm_ens") & (bt.series == "sp500") & np.isclose(bt.alpha, 0.05)]
    assert ens.loc[2, "fz0_pooled"] == pytest.approx(pooled["fz0_mean"].iloc[0])
    d = pd.read_csv(paths.tables_dir() / "ensemble_disagreement.csv")
    assert tuple(d.columns) == DISAGREEMENT_COLUMNS and len(d) == 2 * 2 * N_DAYS
    assert (paths.tables_dir() / "ensemble.md").read_text().startswith("**Table E1. Seed")


def test_without_member_file_the_ensemble_tables_are_empty(project):
    paths.forecast_file("ddpm_ens_members").unlink()
    out = stage.run(seed=SEED, coverage=COVERAGE, data={"series": HEADS})
    assert out["ensemble"].empty and tuple(out["ensemble"].columns) == ENSEMBLE_COLUMNS
    back = pd.read_csv(paths.tables_dir() / "ensemble_disagreement.csv")
    assert back.empty and tuple(back.columns) == DISAGREEMENT_COLUMNS


def test_primary_method_comes_from_the_selection(project):
    assert stage.primary_method() == "ddpm_ens"
    paths.selection_file().write_text(json.dumps({"n_steps": 10}))
    with pytest.raises(ValueError, match="has no 'primary_method'"):
        stage.run(seed=SEED, coverage=COVERAGE, data={"series": HEADS})
    paths.selection_file().write_text(json.dumps({"primary_method": "ddpm_wf"}))
    with pytest.raises(ValueError, match="the primary method 'ddpm_wf'.*is not among the methods"):
        stage.run(seed=SEED, coverage=COVERAGE, data={"series": HEADS})
    paths.selection_file().unlink()
    with pytest.raises(FileNotFoundError, match="run the select stage first"):
        stage.run(seed=SEED, coverage=COVERAGE, data={"series": HEADS})
    with pytest.raises(ValueError, match="benchmark='x'"):
        stage.backtest_methods(
            **{**COVERAGE, "benchmark": "x"},
            headline=HEADS,
            primary="ddpm",
            seed=SEED,
            compute=Compute(),
        )


def test_battery_on_two_dask_workers_writes_the_same_tables(project, dask_cluster, monkeypatch):
    one = stage.run(seed=SEED, coverage=COVERAGE, data={"series": HEADS})
    first = pd.read_parquet(paths.backtests_dir() / "backtests.parquet")
    monkeypatch.setenv(SCHEDULER_ENV, dask_cluster)  # the stage's calls go to the cluster
    two = stage.run(seed=SEED, coverage={**COVERAGE, "workers": 2}, data={"series": HEADS})
    pd.testing.assert_frame_equal(one["backtests"], two["backtests"], check_exact=True)
    pd.testing.assert_frame_equal(
        first, pd.read_parquet(paths.backtests_dir() / "backtests.parquet"), check_exact=True
    )
    pd.testing.assert_frame_equal(one["headline"], two["headline"], check_exact=True)
    with pytest.raises(ValueError, match="coverage.workers must be an integer >= 1, got 0"):
        stage.run(seed=SEED, coverage={**COVERAGE, "workers": 0}, data={"series": HEADS})
