"""End-to-end test of the reverse_stress stage on synthetic data and a tiny model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from diffrisk.core import io, paths
from diffrisk.core.compute import SCHEDULER_ENV
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stages import reverse_stress as stage
from diffrisk.stress.reverse_serving import SERVING_FILE, read_serving
from tests.stages.conftest import DATA, write_stress_project
from tests.stress.conftest import TEST_START, VAL_END, VAL_START

REVERSE = {
    "es_alpha": 0.05,
    "n_paths": 64,
    "strength": 1.0,
    "defensive": 0.2,
    "n_steps": 5,
    "n_random": 1,
    "periods": "q1=2004-01-01/2004-03-31; q2=2004-04-01/2004-06-30; later=2030-01-01/2030-12-31",
    "methods": "diffusion, normal, student_t, historical",
    "attribution": "set_mean",
    "strength_candidates": "0.5, 1.0",
    "validation_windows": 2,
}


@pytest.fixture
def project(project_tmp):
    write_stress_project()
    return project_tmp


SECTORS = {"sectors": "g1=A0,A1; g2=A2"}
OUTPUTS = (
    "tables/reverse_stress.csv",
    "tables/reverse_stress.md",
    "tables/reverse_stress_validation.csv",
    "tables/reverse_stress_validation.md",
    "tables/reverse_stress_scores.csv",
    "tables/reverse_stress_scores.md",
    "tables/reverse_stress_choice.csv",
    "tables/reverse_stress_choice.md",
    "tables/reverse_stress_choice_requests.csv",
    "metrics/reverse_stress.json",
    "metrics/reverse_stress_choice.json",
)


def test_stage_writes_tables_figure_and_metrics(project):
    stress = {"reverse": REVERSE, "segments": SECTORS}
    out = stage.run(seed=1, data=DATA, stress=stress)
    summary, validation = out["summary"], out["validation"]
    assert list(summary["method"]) == ["diffusion", "normal", "student_t", "historical"]
    assert (summary["share_reaching"].dropna() >= 0.95).all()
    # 2 portfolios x 2 usable periods x 4 methods; the period outside the data is skipped
    assert len(validation) == 16
    metrics = json.loads((paths.metrics_dir() / "reverse_stress.json").read_text())
    assert metrics["skipped_periods"] == ["later"]
    assert set(metrics["headline"]["rank_1_share"]) == set(summary["method"])
    for stem in ("reverse_stress", "reverse_stress_validation", "reverse_stress_scores"):
        assert (paths.tables_dir() / f"{stem}.csv").is_file()
        assert (paths.tables_dir() / f"{stem}.md").is_file()
    assert all(p.is_file() for p in out["figure"])
    # the realised windows lie in the test period and the segments come from the argument
    assert (pd.to_datetime(validation["window_start"]) >= TEST_START).all()
    assert set(validation["realised_leading_segment"]) <= {"g1", "g2", "other"}
    assert np.isfinite(out["scores"]["rank_1_share"]).all()
    # every peer's rank-1 hits against the diffusion method's, paired by request
    scores = out["scores"].set_index("method")
    hit = validation.assign(hit=validation["realised_segment_rank"] == 1)
    by_request = hit.set_index(["portfolio", "period", "method"])["hit"].unstack()
    for peer in ("normal", "student_t", "historical"):
        d, m = by_request["diffusion"], by_request[peer]
        assert scores.loc[peer, "only_diffusion"] == (d & ~m).sum()
        assert scores.loc[peer, "only_method"] == (~d & m).sum()
        assert metrics["headline"]["mcnemar_p_vs_diffusion"][peer] == scores.loc[peer, "mcnemar_p"]
    assert np.isnan(scores.loc["diffusion", "mcnemar_p"])
    # the choices: replayed on the validation period only, every method x attribution,
    # diffusion alone at the other strength
    requests = out["choice_requests"]
    starts = pd.to_datetime(requests["window_start"])
    assert starts.between(VAL_START, VAL_END).all()
    assert set(requests["period"]) == {"validation_1", "validation_2"}
    assert set(requests.loc[requests["strength"] == 0.5, "method"]) == {"diffusion"}
    choice = out["choice"].set_index(["method", "strength"])
    assert choice.loc[("diffusion", 1.0), "requests"] == 4  # 2 portfolios x 2 periods
    for name in ("set_mean", "most_plausible", "top_decile", "weighted"):
        ranks = requests.loc[requests["strength"] == 1.0].groupby("method")[f"rank_{name}"]
        hits = ranks.apply(lambda r: int((r == 1).sum()))
        assert choice.loc[("total", 1.0), name] == hits.sum()
    cm = json.loads((paths.metrics_dir() / "reverse_stress_choice.json").read_text())
    totals = cm["attribution"]["total"]
    assert totals[cm["attribution"]["chosen_by_rule"]] == max(totals.values())
    assert set(cm["strength"]["diffusion_hits"]) == {"0.5", "1.0"}
    # the service's record: the sectors and the settings the test replay used, for this model
    record = read_serving(
        paths.models_dir() / SERVING_FILE,
        ["A0", "A1", "A2", "A3"],
        weights_sha256(paths.stress_checkpoint()),
    )
    assert record == out["serving"]
    assert (record.sectors, record.attribution, record.strength) == (
        SECTORS["sectors"],
        "set_mean",
        1.0,
    )
    assert (record.defensive, record.n_steps) == (0.2, 5)
    used = cm["configured_is_the_rule_choice"]
    assert record.source == "reverse_stress stage: " + (
        "the validation rule's choice" if used else "configured"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strength_candidates": "0.5"}, r"strength_candidates '0.5' must list the configured 1.0"),
        (
            {"strength_candidates": "0.5", "strength": "auto"},
            r"strength_candidates '0.5' must list 1.0 \(the rule's tie default",
        ),
        ({"strength": "strong"}, r"stress.reverse.strength must be a number in \[0, 1\] or 'auto'"),
        ({"attribution": "loudest"}, "attribution"),
    ],
)
def test_bad_choices_are_refused_before_any_request(project_tmp, monkeypatch, change, message):
    def no_request(*args, **kwargs):
        raise AssertionError("a request ran before the settings were checked")

    monkeypatch.setattr(stage, "reverse_stress_task", no_request)
    monkeypatch.setattr(stage, "validate_reverse_stress", no_request)
    with pytest.raises(ValueError, match=message):
        stage.run(seed=1, data=DATA, stress={"reverse": REVERSE | change, "segments": SECTORS})


def test_periods_without_a_test_window_are_refused_before_any_request(project, monkeypatch):
    def no_request(*args, **kwargs):
        raise AssertionError("a request ran before the periods were checked")

    monkeypatch.setattr(stage, "reverse_stress_task", no_request)
    monkeypatch.setattr(stage, "validate_reverse_stress", no_request)
    reverse = REVERSE | {"periods": "before=2003-01-01/2003-12-31; later=2030-01-01/2030-12-31"}
    with pytest.raises(
        ValueError,
        match=r"^stress.reverse.periods: no period holds a 10-day window of the test period "
        r"\(2004-01-01 … 2004-12-24\)",
    ):
        stage.run(seed=1, data=DATA, stress={"reverse": reverse, "segments": SECTORS})


def test_auto_uses_the_validation_rule_and_never_reads_the_test_period(project):
    """``auto`` = the rule's choices; the choice and its inputs ignore the test period."""
    auto = REVERSE | {"attribution": "auto", "strength": "auto", "periods": "yearly"}
    out = stage.run(seed=1, data=DATA, stress={"reverse": auto, "segments": SECTORS})
    cm = out["choice_metrics"]
    used = cm["used"]
    assert used == {
        "attribution": cm["attribution"]["chosen_by_rule"],
        "strength": cm["strength"]["chosen_by_rule"],
    }
    assert cm["configured_is_the_rule_choice"] is True
    assert out["metrics"]["choice_used"] == used | {"rule_choice": True}
    # 'yearly': the synthetic data's test period is the year 2004
    assert set(out["validation"]["period"]) == {"test_2004"}
    # the same run with the chosen values written out gives the same test tables
    fixed = auto | {"attribution": used["attribution"], "strength": used["strength"]}
    same = stage.run(seed=1, data=DATA, stress={"reverse": fixed, "segments": SECTORS})
    for key in ("summary", "validation", "scores", "choice"):
        pd.testing.assert_frame_equal(out[key], same[key], check_exact=True)
    assert same["choice_metrics"]["used"] == used
    # a configured strength other than the rule's: used as given, and said to be so
    other = 0.5 if used["strength"] == 1.0 else 1.0
    forced = fixed | {"strength": other}
    given = stage.run(seed=1, data=DATA, stress={"reverse": forced, "segments": SECTORS})
    assert given["metrics"]["choice_used"] == {
        "attribution": used["attribution"],
        "strength": other,
        "rule_choice": False,
    }
    assert given["choice_metrics"]["configured_is_the_rule_choice"] is False
    assert given["serving"].strength == other and given["serving"].source.endswith("configured")
    assert (out["serving"].attribution, out["serving"].strength) == (
        used["attribution"],
        used["strength"],
    )
    assert out["serving"].source == "reverse_stress stage: the validation rule's choice"
    # perturb every test-period return: the choice and the validation replay do not move
    frame = pd.read_parquet(paths.returns_file())
    test = frame.index >= pd.Timestamp(TEST_START)
    frame.loc[test] = frame.loc[test] * 3.0 - 0.01
    io.write_parquet(paths.returns_file(), frame)
    moved = stage.run(seed=1, data=DATA, stress={"reverse": auto, "segments": SECTORS})
    assert moved["choice_metrics"] == cm
    pd.testing.assert_frame_equal(moved["choice"], out["choice"], check_exact=True)
    pd.testing.assert_frame_equal(
        moved["choice_requests"], out["choice_requests"], check_exact=True
    )
    assert not moved["validation"]["loss"].equals(out["validation"]["loss"])


def test_two_dask_workers_write_the_same_outputs(project, dask_cluster, monkeypatch):
    one = stage.run(seed=1, data=DATA, stress={"reverse": REVERSE, "segments": SECTORS})
    written = {name: (project / "reports" / name).read_bytes() for name in OUTPUTS}
    monkeypatch.setenv(SCHEDULER_ENV, dask_cluster)  # the stage's calls go to the cluster
    reverse = {**REVERSE, "workers": 2}
    two = stage.run(seed=1, data=DATA, stress={"reverse": reverse, "segments": SECTORS})
    for key in ("summary", "validation", "scores"):
        pd.testing.assert_frame_equal(one[key], two[key], check_exact=True)
    assert one["metrics"] == two["metrics"]
    for name, content in written.items():
        assert (project / "reports" / name).read_bytes() == content, name


@pytest.mark.parametrize("workers", [0, 1.5, True])
def test_bad_workers_are_refused_before_any_request(project_tmp, monkeypatch, workers):
    def no_request(*args, **kwargs):
        raise AssertionError("a request ran before the workers were checked")

    monkeypatch.setattr(stage, "reverse_stress_task", no_request)
    monkeypatch.setattr(stage, "validate_reverse_stress", no_request)
    reverse = {**REVERSE, "workers": workers}
    with pytest.raises(ValueError, match="stress.reverse.workers must be an integer >= 1"):
        stage.run(seed=1, data=DATA, stress={"reverse": reverse, "segments": SECTORS})
