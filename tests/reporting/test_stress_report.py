"""The stress section of STUDY.md: the headline goal sentence."""

from __future__ import annotations

import pandas as pd

from diffrisk.reporting.stress_report import ALL_GENERATORS, headline_goal_sentence


def share(diffusion: list[float], gan: list[float]) -> pd.DataFrame:
    index = pd.Index(["corr_frobenius", "tail_dep_q05"], name="metric")
    return pd.DataFrame({"diffusion": diffusion, "gan": gan}, index=index)


def test_all_generators_include_the_comparison_generators():
    assert ALL_GENERATORS == ("diffusion", "normal", "bootstrap", "gan", "vae")


def test_goal_met_only_when_diffusion_reaches_the_share_on_every_metric():
    assert headline_goal_sentence(share([0.9, 0.8], [0.1, 0.2])).startswith("Goal met")
    text = headline_goal_sentence(share([0.9, 0.3], [0.1, 0.7]))
    assert "not met on 1 of 2 metrics" in text
    assert "`tail_dep_q05` (diffusion 30%, best gan 70%)" in text
