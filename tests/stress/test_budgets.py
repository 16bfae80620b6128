"""Tests of diffrisk.stress.budgets: parameter counts, the budget table, its caption."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from diffrisk.stress.budgets import (
    BUDGET_COLUMNS,
    WALL_TIME_COLUMNS,
    budget_caption,
    budget_markdown,
    budget_table,
    calibration_by_generator,
    count_parameters,
    network_counts,
)
from diffrisk.stress.comparison import ComparisonConfig, TemporalConvNet
from diffrisk.stress.config import StressConfig
from tests.stress.conftest import smoke_comparison_generator


def _temporal_conv_net_count(c_in: int, c_out: int, w: int, n: int, e: int) -> int:
    """Closed form: 1x1 conv in, n FiLM blocks, group norm, 1x1 conv out."""
    block = 2 * w + (3 * w * w + w) + (e * 2 * w + 2 * w) + (3 * w * w + w)
    return (c_in * w + w) + n * block + 2 * w + (w * c_out + c_out)


@pytest.fixture(scope="module")
def comparison(returns):
    torch.set_num_threads(1)
    settings = ComparisonConfig.smoke()
    return {
        "gan": smoke_comparison_generator("gan", returns, settings, seed=0),
        "vae": smoke_comparison_generator("vae", returns, settings, seed=1),
    }


def test_count_parameters_is_the_closed_form():
    assert count_parameters(nn.Linear(3, 4)) == 3 * 4 + 4
    assert count_parameters(nn.Conv1d(5, 7, 3)) == 5 * 7 * 3 + 7
    net = TemporalConvNet(c_in := 4, c_out := 6, w := 8, n := 2, e := 16)
    assert count_parameters(net) == _temporal_conv_net_count(c_in, c_out, w, n, e)
    frozen = nn.Linear(3, 4).requires_grad_(False)
    assert count_parameters(frozen) == 0
    assert count_parameters(frozen, trainable_only=False) == 16


def test_network_counts_per_network(model, comparison):
    assert network_counts("diffusion", model) == {"denoiser": count_parameters(model.net)}
    gan = network_counts("gan", comparison["gan"])
    assert gan["generator"] == count_parameters(comparison["gan"].net)
    assert gan["critic"] == count_parameters(comparison["gan"].aux)  # the trained critic
    vae = network_counts("vae", comparison["vae"])
    assert vae["decoder"] == count_parameters(comparison["vae"].net)
    trained_vae = comparison["vae"].aux  # encoder + decoder (the decoder owns the condition)
    assert vae["decoder"] + vae["encoder"] == count_parameters(trained_vae)
    with pytest.raises(ValueError, match="'gan'"):
        network_counts("gan", comparison["vae"])


def test_calibration_read_from_the_set_metadata():
    calib = {"grid": [1.0, 2.0, 3.0], "n_paths_per_date": 50, "score": [0.3, 0.2, 0.1]}
    meta = {
        ("diffusion", "unconditional"): {"generation": {"guidance": 1.25}},
        ("diffusion", "v2"): {"generation": {"guidance": 3.0, "guidance_calibration": calib}},
        ("diffusion", "c"): {"generation": {"guidance": 2.0, "guidance_calibration": calib}},
        ("gan", "v2"): {"generation": {"guidance": None}},
        ("vae", "v2"): {
            "generation": {
                "guidance": None,
                "conditioning_gain": 2.0,
                "guidance_calibration": calib,
            }
        },
        ("vae", "unconditional"): {"generation": {"guidance": None, "conditioning_gain": None}},
    }
    out = calibration_by_generator(meta)
    assert out["gan"] == "none"
    assert "grid of 3" in out["diffusion"]
    assert "2 requests" in out["diffusion"] and "50 pilot paths" in out["diffusion"]
    assert out["diffusion"].startswith("guidance weight per request from a grid of 3")
    assert (
        out["vae"]
        == "conditioning gain per request from a grid of 3 (1 requests, 50 pilot paths each)"
    )


def test_budget_table_reads_the_recorded_values(model, comparison):
    records = {  # the training stage's records: per-epoch history with wall times
        "diffusion": {"wall_time_s": 12.5, "history": model.history},
        "gan": {
            "wall_time_s": 7.0,
            "tuning": {"n_trials": 4, "trial_seconds": 60.0},
            "history": comparison["gan"].history,
        },
        "vae": {"history": comparison["vae"].history},
    }
    table = budget_table({"diffusion": model, **comparison}, records, {}, n_assets=4)
    assert list(table.columns) == list(BUDGET_COLUMNS)
    rows = table.set_index("generator")
    assert list(rows.index) == ["diffusion", "gan", "vae", "normal", "bootstrap"]
    for gen, fitted in [("diffusion", model), *comparison.items()]:
        hist = fitted.history
        assert rows.loc[gen, "epochs_run"] == len(hist)
        assert rows.loc[gen, "train_seconds"] == pytest.approx(
            sum(h["seconds"] for h in hist), abs=0.05
        )
    key = {"diffusion": "val_loss", "gan": "score", "vae": "val_loss"}
    for gen, fitted in [("diffusion", model), *comparison.items()]:
        best = min(fitted.history, key=lambda h, k=key[gen]: h[k])
        assert rows.loc[gen, "epoch_selected"] == best["epoch"]
    assert rows.loc["diffusion", "epoch_budget"] == StressConfig.smoke().max_epochs
    assert rows.loc["gan", "epoch_budget"] == ComparisonConfig.smoke().gan_epochs
    assert rows.loc["vae", "epoch_budget"] == ComparisonConfig.smoke().vae_epochs
    gan_counts = network_counts("gan", comparison["gan"])
    assert rows.loc["gan", "parameters_trained"] == sum(gan_counts.values())
    assert rows.loc["gan", "parameters_sampling"] == gan_counts["generator"]
    assert rows.loc["diffusion", "fit_seconds"] == 12.5
    assert rows.loc["gan", "fit_seconds"] == 7.0
    assert pd.isna(rows.loc["vae", "fit_seconds"])  # no wall time recorded
    # no history recorded: no training time (the checkpoints store none)
    bare = budget_table({"diffusion": model}, {}, {}, n_assets=4).set_index("generator")
    assert pd.isna(bare.loc["diffusion", "train_seconds"])
    assert rows.loc["gan", "tuning_trials"] == 4 and rows.loc["vae", "tuning_trials"] == 0
    assert rows.loc["gan", "tuning_trial_seconds"] == 60.0
    assert pd.isna(rows.loc["vae", "tuning_trial_seconds"])
    assert rows.loc["normal", "parameters_trained"] == 4 + 4 * 5 // 2  # mean + covariance
    assert "guidance" in rows.loc["diffusion", "conditioning"]
    assert rows.loc["vae", "calibration"] == "none"
    ratio = rows.loc["gan", "parameters_sampling"] / rows.loc["diffusion", "parameters_sampling"]
    assert f"gan {ratio:.2f}×" in budget_caption(table)


def test_budget_table_refuses_a_checkpoint_without_history(model):
    import dataclasses

    empty = dataclasses.replace(model, history=[])
    with pytest.raises(ValueError, match="diffusion checkpoint has no training history"):
        budget_table({"diffusion": empty}, {}, {}, n_assets=4)


def test_markdown_marks_what_does_not_apply():
    table = pd.DataFrame({"generator": ["a", "b"], "epochs_run": pd.array([3, None], "Int64")})
    table["train_seconds"] = [1.5, None]
    text = budget_markdown(table)
    rows = text.splitlines()
    assert [c.strip() for c in rows[2].split("|")[1:4]] == ["a", "3", "1.5"]
    assert [c.strip() for c in rows[3].split("|")[1:4]] == ["b", "–", "–"]
    assert "nan" not in text and "<NA>" not in text


def test_without_wall_times_every_column_is_a_function_of_the_fits(model, comparison):
    trained, records = {"diffusion": model, **comparison}, {"gan": {"wall_time_s": 7.0}}
    full = budget_table(trained, records, {}, n_assets=4)
    lean = budget_table(trained, records, {}, n_assets=4, wall_times=False)
    assert set(full.columns) - set(lean.columns) == set(WALL_TIME_COLUMNS)
    pd.testing.assert_frame_equal(full.drop(columns=list(WALL_TIME_COLUMNS)), lean)
    assert "training time" in budget_caption(full)
    assert "training time" not in budget_caption(lean)
