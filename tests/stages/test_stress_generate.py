"""End-to-end test of the stress stages (train, generate, validate) on the smoke setting."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from diffrisk.core import io
from diffrisk.core.compute import SCHEDULER_ENV, Compute
from diffrisk.core.paths import scenario_set_file, stress_checkpoint
from diffrisk.data.returns import constituent_returns
from diffrisk.evaluation.paths.bootstrap import HEADLINE_METRICS
from diffrisk.evaluation.paths.request_tables import IN_SAMPLE_REQUEST
from diffrisk.stages import stress_generate as stress_generate_stage
from diffrisk.stages import stress_train as stress_train_stage
from diffrisk.stages import stress_validate as stress_validate_stage
from diffrisk.stages.common import StressInputs, split_compute
from diffrisk.stress.budgets import WALL_TIME_COLUMNS
from diffrisk.stress.comparison import (
    COMPARISON_GENERATORS,
    ComparisonConfig,
    load_comparison_model,
)
from diffrisk.stress.comparison_sets import regenerate_comparison_set
from diffrisk.stress.config import GENERATORS, StressConfig, StressRangeWarning
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.scenario_sets import (
    read_scenario_set,
    regenerate_scenario_set,
)
from tests.conftest import params_section
from tests.stages.conftest import write_stress_returns
from tests.stress.conftest import TEST_START, TRAIN_END, VAL_END, VAL_START


def test_stages_end_to_end_on_the_smoke_setting(project_tmp, dask_cluster, monkeypatch):
    from diffrisk.core import paths
    from diffrisk.data.returns import load_returns
    from diffrisk.data.splits import Splits

    write_stress_returns()
    io.write_json(paths.metrics_dir() / "data.json", {"data_sha256": "f" * 64})
    splits = Splits.from_params(TRAIN_END, VAL_START, VAL_END, TEST_START)
    inputs = StressInputs(splits, index_name="sp500", seed=1)

    trained = stress_train_stage.train_stress(
        model=StressConfig.smoke().to_dict(),
        comparison=ComparisonConfig.smoke().to_dict(),
        inputs=inputs,
        progress=False,
    )
    assert trained["metrics"]["epochs_run"] == 1
    assert set(trained["comparison"]) == set(COMPARISON_GENERATORS)
    assert trained["comparison"]["gan"]["epochs_run"] == 2

    def weights() -> dict[str, dict[str, torch.Tensor]]:
        nets = {
            k: load_comparison_model(paths.models_dir() / f"stress_{k}.pt").net
            for k in COMPARISON_GENERATORS
        }
        nets["diffusion"] = load_stress_model(stress_checkpoint()).net
        return {k: net.state_dict() for k, net in nets.items()}

    serial = weights()
    monkeypatch.setenv(SCHEDULER_ENV, dask_cluster)  # the three fits at once, in workers
    stress_train_stage.train_stress(
        model=StressConfig.smoke().to_dict(),
        comparison={**ComparisonConfig.smoke().to_dict(), "workers": 2},
        inputs=inputs,
        progress=False,
    )
    monkeypatch.delenv(SCHEDULER_ENV)
    for kind, again in weights().items():  # the same weights (the records hold wall times)
        assert list(again) == list(serial[kind])
        for name, tensor in serial[kind].items():
            assert torch.equal(again[name], tensor), (kind, name)
    assert (paths.models_dir() / "stress_train_comparison.json").is_file()
    generate, _ = split_compute(params_section("stress", "generate"), "stress.generate")
    with pytest.raises(ValueError, match="stress.generate.guidance_grid: '2x' is not a number"):
        stress_generate_stage.generate_stress_sets(
            **{**generate, "guidance_grid": "1,2x"}, inputs=inputs
        )
    generate |= {
        "archetypes": "unconditional; v2: vol_ratio=2; far: vol_ratio=40; "
        "crash: window=2002-03-01/2002-06-28",
        "n_paths": 64,
        "unconditional_every": 60,
        "unconditional_paths_per_date": 16,
        "guidance": "auto",
        "guidance_grid": "1,2",
        "calibration_paths": 8,
        "n_steps": 4,
    }
    with pytest.warns(StressRangeWarning):  # one Dask task per archetype
        on_workers = stress_generate_stage.generate_stress_sets(
            **generate, inputs=inputs, compute=Compute(2, dask_cluster)
        )
    drawn = {
        (g, a): read_scenario_set(scenario_set_file(g, a))
        for g, a in on_workers["index"][["generator", "archetype"]].itertuples(index=False)
    }
    with pytest.warns(StressRangeWarning):  # in this process, one archetype after the other
        generated = stress_generate_stage.generate_stress_sets(**generate, inputs=inputs)
    pd.testing.assert_frame_equal(generated["index"], on_workers["index"])
    for (g, a), (paths_, meta) in drawn.items():  # the same sets wherever they were drawn
        again, again_meta = read_scenario_set(scenario_set_file(g, a))
        np.testing.assert_array_equal(again, paths_, err_msg=f"{g} {a}")
        assert again_meta["generation"] == meta["generation"], (g, a)
    assert len(generated["index"]) == 20
    chosen = generated["index"].set_index(["generator", "archetype"])["guidance"]
    assert chosen[("diffusion", "unconditional")] == 1.25  # the signature prior's weight
    _, unc_meta = read_scenario_set(scenario_set_file("diffusion", "unconditional"))
    assert unc_meta["generation"]["prior_neighbours"] == 50
    assert chosen[("diffusion", "v2")] in (1.0, 2.0)
    for kind in COMPARISON_GENERATORS:  # conditioning gain: the same grid and pilot budget
        assert chosen[(kind, "v2")] in (1.0, 2.0) and pd.isna(chosen[(kind, "unconditional")])
        _, c_meta = read_scenario_set(scenario_set_file(kind, "v2"))
        assert c_meta["generation"]["guidance_calibration"]["n_paths_per_date"] == 8
    validate, _ = split_compute(
        {
            **params_section("stress", "validate"),
            "crisis_windows": "c1=2002-03-01/2002-09-30; c2=2004-03-01/2004-09-30",
            "portfolios": "ew=all; pair=A0,A1; mv=minvar",
        },
        "stress.validate",
    )
    validated = stress_validate_stage.validate_stress_sets(**validate, inputs=inputs)
    written = {
        p.relative_to(project_tmp): p.read_bytes()
        for folder in (paths.tables_dir(), paths.figures_dir(), paths.metrics_dir())
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0].startswith("stress")
    }
    assert len(written) >= 2 * 4 + 2 * 7
    # the four parts as Dask tasks: every table, figure and metric byte-identical
    on_workers = stress_validate_stage.validate_stress_sets(
        **validate, inputs=inputs, compute=Compute(2, dask_cluster)
    )
    for name, data in written.items():
        assert (project_tmp / name).read_bytes() == data, name
    pd.testing.assert_frame_equal(on_workers["validation"], validated["validation"])
    assert on_workers["metrics"] == validated["metrics"]

    for stem in (
        "stress_validation",
        "stress_signatures",
        "stress_risk",
        "stress_diversity",
        "stress_scores",
        "stress_scores_summary",
        "stress_budgets",
    ):
        assert (paths.tables_dir() / f"{stem}.csv").is_file()
        assert (paths.tables_dir() / f"{stem}.md").is_file()
    for stem in (
        "stress_corr_heatmaps",
        "stress_tail_dependence",
        "stress_fan_charts",
        "stress_acf",
    ):
        assert (paths.figures_dir() / f"{stem}.png").is_file()
        assert (paths.figures_dir() / f"{stem}.pdf").is_file()
    assert validated["metrics"]["out_of_range"]["far"] == ["vol_ratio"]
    # the budget table reads the recorded training and the calibration the sets ran
    budgets = validated["budgets"].set_index("generator")
    record = json.loads((paths.models_dir() / "stress_train_comparison.json").read_text())
    # no wall-clock column in the committed table: a rerun that moves no number keeps it
    written = pd.read_csv(paths.tables_dir() / "stress_budgets.csv")
    assert not set(WALL_TIME_COLUMNS) & (set(budgets.columns) | set(written.columns))
    assert budgets.loc["gan", "epochs_run"] == record["gan"]["epochs_run"] == 2
    assert budgets.loc["diffusion", "epochs_run"] == 1
    assert "grid of 2 (3 requests, 8 pilot paths each)" in budgets.loc["diffusion", "calibration"]
    for kind in COMPARISON_GENERATORS:  # the same calibration budget as the diffusion model
        assert budgets.loc[kind, "calibration"] == (
            "conditioning gain per request from a grid of 2 (3 requests, 8 pilot paths each)"
        )
    assert budgets.loc["normal", "calibration"] == "none"
    assert "Budgets of the stress generators" in validated["section"]
    headline = json.loads((paths.metrics_dir() / "stress.json").read_text())
    assert set(headline) == {
        "diffusion",
        "diffusion_wins_headline",
        "headline_share_best",
        "proper_scores",
        "signature_within_tolerance_in_range",
        "signature_components_in_range",
    }
    assert set(headline["diffusion"]) == set(HEADLINE_METRICS)
    val = validated["validation"]
    assert set(val["generator"]) == set(GENERATORS) | set(COMPARISON_GENERATORS)
    diversity = validated["diversity"]
    assert len(diversity) == len(val)
    assert diversity["coverage_share"].between(0, 1).all()
    assert set(validated["headline"]["generator"]) == set(val["generator"])
    assert set(val.loc[val.archetype == "unconditional", "reference"]) == {"test"}
    assert set(val.loc[val.archetype == "v2", "reference_label"]) == {"in-sample", "held out"}
    # the crash request was measured on c1: scored against c1 it is in-sample
    crash = val[val.archetype == "crash"].set_index("reference")["reference_label"]
    assert set(crash.loc["c1"]) == {IN_SAMPLE_REQUEST} and set(crash.loc["c2"]) == {"held out"}
    # proper scores: every generator on every test date with a complete realised path
    scores = validated["scores"]
    assert set(scores["generator"]) == set(val["generator"])
    assert scores.groupby("generator")["date"].nunique().nunique() == 1
    assert (scores[["energy_score", "variogram_score"]] > 0).all().all()
    summary = validated["score_summary"]
    assert summary.loc[summary.generator != "diffusion", "dm_pvalue"].between(0, 1).all()
    assert set(headline["proper_scores"]) == {"energy_score", "variogram_score"}
    sig = validated["signatures"]
    assert len(sig[(sig.archetype == "crash") & (sig.generator == "diffusion")]) == 3
    assert "## Stress scenarios" in validated["section"]
    assert "of 3 headline metrics" in validated["section"]
    # every written diffusion set regenerates from its metadata
    stored, meta = read_scenario_set(scenario_set_file("diffusion", "v2"))
    cons_now = constituent_returns(load_returns(), "sp500")
    again = regenerate_scenario_set(meta, cons_now, stress_checkpoint())
    np.testing.assert_array_equal(again, stored)
    stored, meta = read_scenario_set(scenario_set_file("gan", "unconditional"))
    again = regenerate_comparison_set(meta, cons_now, paths.comparison_checkpoint("gan"))
    np.testing.assert_array_equal(again, stored)
    stored, meta = read_scenario_set(scenario_set_file("vae", "v2"))  # calibrated gain
    again = regenerate_comparison_set(meta, cons_now, paths.comparison_checkpoint("vae"))
    np.testing.assert_array_equal(again, stored)
