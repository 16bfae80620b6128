"""The tuning plot data leaves pruned trials out instead of drawing them at FZ0 = 0."""

from __future__ import annotations

import math

import pandas as pd

from diffrisk.reporting.tuning_figures import tune_plot_data


def test_pruned_and_failed_trials_are_left_out():
    trials = pd.DataFrame(
        {
            "number": [0, 1, 2, 3, 4, 5],
            "state": ["COMPLETE", "PRUNED", "COMPLETE", "FAIL", "PRUNED", "COMPLETE"],
            "value": [-3.5, math.nan, -3.7, math.nan, math.nan, -3.6],
            "last_score": [-3.5, -3.65, -3.7, math.nan, -3.2, -3.6],
        }
    )
    plot = tune_plot_data(trials)
    assert plot["number"].tolist() == [0, 2, 5]
    assert plot["value"].tolist() == [-3.5, -3.7, -3.6]
    assert plot["best_so_far"].tolist() == [-3.5, -3.7, -3.7]
    # nothing drawn at 0: every plotted value is a real (negative) loss
    assert plot[["value", "best_so_far"]].notna().all().all()
    assert (plot["value"] < 0).all()


def test_no_complete_trials_gives_an_empty_frame():
    pruned = pd.DataFrame({"number": [0], "state": ["PRUNED"], "value": [math.nan]})
    for trials in (pruned, pd.DataFrame(columns=["number", "state", "value"])):
        plot = tune_plot_data(trials)
        assert plot.empty and list(plot.columns) == ["number", "value", "best_so_far"]
