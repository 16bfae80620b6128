"""End-to-end test of the stress_audit stage on synthetic data and a tiny model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from diffrisk.core import io, paths
from diffrisk.core.compute import Compute
from diffrisk.data.splits import Splits
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.evaluation.stress_audit import plausibility_reference, plausibility_scores_at
from diffrisk.stages import stress_audit as stage
from diffrisk.stages.common import StressInputs, stage_returns
from diffrisk.stress.model import load_stress_model
from tests.stages.conftest import DATA, write_stress_project
from tests.stress.conftest import TEST_START, TRAIN_END, VAL_END, VAL_START

GENERATION = {
    "guidance": 1.0,
    "sampler": "ddim",
    "n_steps": 4,
    "eta": 0.0,
    "spacing": "linear",
    "order": 1,
    "soft_bound": 0.0,
}


@pytest.fixture
def project(project_tmp):
    write_stress_project()
    io.write_json(paths.metrics_dir() / "data.json", {"data_sha256": "f" * 64})
    archetypes = [
        {"name": "v2", "signature": {"vol_ratio": 1.5}},
        {"name": "far", "signature": {"vol_ratio": 40.0}},
    ]
    io.write_json(paths.stress_dir() / "index.json", {"archetypes": archetypes})
    io.write_json(
        paths.scenario_set_file("diffusion", "v2").with_suffix(".audit.json"),
        {"generation": GENERATION},
    )
    return project_tmp


#: The ``stress.audit`` section of the tests.
AUDIT = {
    "archetypes": "v2",
    "portfolios": "ew=all; two=A0,A1",
    "epsilons": "0,0.5",
    "alpha": 0.1,
    "n_paths": 16,
    "n_validation_dates": 3,
    "n_test_dates": 3,
    "n_attack_dates": 1,
    "members": 1,
    "member_epochs": 1,
    "others": "member_1",
    "n_random": 0,
    "min_relief": 0.1,
    "false_flag_target": 0.05,
    "reference_step": 10,
}


def _run(**overrides):
    args = {
        **AUDIT,
        "tolerance": 0.1,
        "inputs": StressInputs(
            splits=Splits.from_params(TRAIN_END, VAL_START, VAL_END, TEST_START),
            index_name="sp500",
            seed=1,
        ),
        "compute": Compute(),
    }
    return stage.audit_stress_requests(**(args | overrides))


def test_stage_writes_the_audit_and_is_deterministic(project):
    first = _run()
    items = first["items"]
    assert set(items["split"]) == {"validation", "test"}
    untouched = items[items["kind"] == "untouched"]
    assert len(untouched) == 2 * 3 * 2  # splits x dates x portfolios
    assert untouched.loc[untouched["split"] == "validation", "as_of"].max() <= pd.Timestamp(VAL_END)
    zero = items[(items["kind"] == "attack") & (items["epsilon"] == 0)]
    assert len(zero) == 2 and (zero["relief"] == 0.0).all()
    attacked = items[items["attacked"]]
    assert (attacked["relief"] >= 0).all() and (attacked["recorded"] >= 0).all()
    assert (untouched["recorded"] == 0).all()  # real dates: the supplied rows are the recorded
    # thresholds: signature and disagreement from the untouched validation items, the
    # plausibility threshold from every validation date's history (the written rule)
    null = untouched[untouched["split"] == "validation"]
    for defence in ("signature", "disagreement"):
        assert first["thresholds"][defence] == null[defence].max()
    frame = stage_returns(index_name="sp500")  # the constituents the stage audits
    cfg = load_stress_model(paths.stress_checkpoint()).config
    days = frame.index[(frame.index >= VAL_START) & (frame.index <= VAL_END)]
    reference = plausibility_reference(
        frame.loc[:TRAIN_END].to_numpy(), cfg.history, lam=cfg.ewma_lambda,
        warmup=cfg.ewma_warmup, step=AUDIT["reference_step"],
    )  # fmt: skip
    dense = pd.Series(
        plausibility_scores_at(
            frame.to_numpy(), frame.index.searchsorted(days), reference, cfg.history,
            lam=cfg.ewma_lambda, warmup=cfg.ewma_warmup,
        ),
        index=days,
    )  # fmt: skip
    at = null.drop_duplicates("as_of").set_index("as_of")["plausibility"]
    np.testing.assert_array_equal(dense.loc[at.index], at)  # an item's own score
    allowed = int(0.05 * len(days) / 3)
    assert first["thresholds"]["plausibility"] == np.sort(dense.to_numpy())[-1 - allowed]
    for name in (
        "stress_adversarial.csv",
        "stress_adversarial.md",
        "stress_adversarial_relief.csv",
    ):
        assert (paths.tables_dir() / name).is_file()
    assert (paths.figures_dir() / "stress_adversarial.png").is_file()
    metrics = json.loads((paths.metrics_dir() / "stress_adversarial.json").read_text())
    assert set(metrics["goal"]) == {
        "detection_moved_es",
        "false_flags_test",
        "false_flags_validation",
        "false_flags_validation_cv",
        "met",
    }
    cv = metrics["false_flags_validation_cv"]
    assert cv["n"] == len(null) and cv["n_folds"] == 2
    assert cv["n_plausibility_dense"] == len(days) == metrics["plausibility_null"]["n_dates"]
    assert 0.0 <= cv["plausibility_dense"] <= 1.0
    assert 0.0 <= cv["combined"] <= 1.0
    assert (
        metrics["n_validation_requests"] == null[["archetype", "as_of"]].drop_duplicates().shape[0]
    )
    assert paths.stress_member_checkpoint(1).is_file()
    again = _run()  # the member is reloaded from its checkpoint
    cols = ["es", "relief", "signature", "disagreement", "plausibility"]
    pd.testing.assert_frame_equal(again["items"][cols], items[cols])


def test_thresholds_ignore_the_test_period(project):
    base = _run(epsilons="0")
    frame = pd.read_parquet(paths.returns_file())
    late = frame.index >= pd.Timestamp(TEST_START)
    frame.loc[late, ["A0", "A1", "A2", "A3"]] *= 2.5
    io.write_parquet(paths.returns_file(), frame)
    moved = _run(epsilons="0")
    assert moved["thresholds"] == base["thresholds"]
    test_before = base["items"].query("split == 'test'")["plausibility"].to_numpy()
    test_after = moved["items"].query("split == 'test'")["plausibility"].to_numpy()
    assert not np.allclose(test_before, test_after)  # the test items did see the change


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"archetypes": "nope"}, r"archetype 'nope' is unknown; allowed: \['far', 'v2'\]"),
        ({"archetypes": "far"}, r"signature.vol_ratio=40 outside"),
        ({"epsilons": "-0.5,1"}, r"epsilon must be a finite number >= 0"),
        ({"others": "member_7"}, r"others='member_7': each must be one of"),
    ],
)
def test_bad_requests_raise_naming_the_field(project, overrides, match):
    with pytest.raises(ValueError, match=match):
        _run(**overrides)


def test_workers_change_nothing_but_the_time(project, dask_cluster):
    """Members trained as two Dask tasks and requests fanned out on two workers give the
    items, tables, metrics and member checkpoints of the one-process run, byte for byte."""
    two = {"members": 2, "others": "member_1, member_2"}
    files = [
        paths.tables_dir() / f"stress_adversarial{suffix}"
        for suffix in (".csv", ".md", "_relief.csv", "_relief.md", "_items.csv", "_items.md")
    ] + [paths.metrics_dir() / "stress_adversarial.json"]
    members = [paths.stress_member_checkpoint(k) for k in (1, 2)]
    serial = _run(**two, compute=Compute(workers=1))
    written = {p: p.read_bytes() for p in files}
    weights = [weights_sha256(p) for p in members]  # the files also hold wall times
    for p in members:
        p.unlink()  # retrained, now in the tasks
    fanned = _run(**two, compute=Compute(workers=2, scheduler=dask_cluster))
    pd.testing.assert_frame_equal(fanned["items"], serial["items"], check_exact=True)
    assert json.loads((paths.stress_members_dir() / "timing.json").read_text())["workers"] == 2
    for p, content in written.items():
        assert p.read_bytes() == content, p.name
    assert [weights_sha256(p) for p in members] == weights
    assert fanned["metrics"]["generator_calls"] == serial["metrics"]["generator_calls"] > 0


@pytest.mark.parametrize("workers", [0, -2, 1.5, True])
def test_bad_workers_are_refused_before_any_task(project, workers):
    with pytest.raises(ValueError, match=r"stress\.audit\.workers must be an integer >= 1"):
        stage.run(
            seed=1,
            data=DATA,
            stress={"audit": {**AUDIT, "workers": workers}, "validate": {"tolerance": 0.1}},
        )
    assert not paths.stress_member_checkpoint(1).exists()  # no member was trained
