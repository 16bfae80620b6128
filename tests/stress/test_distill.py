"""Tests of diffrisk.stress.distill: guidance and progressive distillation of the stress model."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from diffrisk.diffusion.training import TrainOptions
from diffrisk.diffusion.weights_hash import state_dict_sha256, weights_sha256
from diffrisk.stress.distill import (
    DistillConfig,
    distill_stress_model,
    load_student,
    save_student,
    student_sampler,
)
from diffrisk.stress.model import StressModel
from diffrisk.stress.sampling import generate_paths, sample_scaled_paths

from .conftest import VAL_END, VAL_START

DATE, REQUEST, WEIGHT = ["2003-06-02"], {"vol_ratio": 2.0, "cum_return": -0.05}, 1.5
SMALL = DistillConfig(
    start_steps=4, final_steps=2, guidance_max=3.0, lr=2e-3, batch_size=64,
    guidance_epochs=10, round_epochs=10, patience=10,
)  # fmt: skip


@pytest.fixture(scope="module")
def teacher(model) -> StressModel:
    """The fitted smoke model with a seeded, larger output layer: a clearly non-linear,
    condition-dependent teacher (the one-epoch smoke fit is close to its zero init)."""
    net = copy.deepcopy(model.net)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        net.out.weight.copy_(0.5 * torch.randn(net.out.weight.shape, generator=gen))
        for block in net.blocks:
            block.film.weight.mul_(4.0)
    return dataclasses.replace(model, net=net.eval())


@pytest.fixture(scope="module")
def student(teacher, returns):
    torch.set_num_threads(1)
    return distill_stress_model(
        teacher, returns, VAL_START, VAL_END, SMALL, seed=7, teacher_sha256="ab" * 32
    )


def scaled_paths(model, returns, n, seed, sampler):
    """Scaled paths of ``model`` for the test request, with a scaled sampler."""
    out = {}

    def keep(context, cond, null, guidance, generator):
        out["x"] = sampler(context, cond, null, guidance, generator)
        return out["x"]

    generate_paths(
        model, returns, DATE, n, REQUEST, guidance=WEIGHT, seed=seed, scaled_sampler=keep
    )
    return out["x"]


def _guided(teacher, steps):
    return _guided_with(teacher, steps, None)


def _guided_with(teacher, steps, weight):
    """Guided teacher sampler on ``steps`` (``weight`` None = the requested weight)."""

    def sample(context, cond, null, guidance, generator):
        w = guidance if weight is None else weight
        return sample_scaled_paths(
            teacher, context, cond, null, w, generator=generator, steps=steps
        )

    return sample


def _with_weight(sampler, weight):
    return lambda context, cond, null, guidance, generator: sampler(
        context, cond, null, weight, generator
    )


def test_the_halved_student_matches_the_teacher_much_better_than_the_teacher_with_half_the_steps(
    teacher, student, returns
):
    grid4 = np.array([19, 13, 6, 0])  # linear 4-step grid of the 20-step schedule
    assert list(student.steps) == [19, 6]
    assert [h["steps"] for h in student.history] == [4, 2]
    reference = scaled_paths(teacher, returns, 256, 3, _guided(teacher, grid4))
    untrained = scaled_paths(teacher, returns, 256, 3, _guided(teacher, student.steps))
    distilled = scaled_paths(student.model, returns, 256, 3, student_sampler(student))

    def rms(x):
        return float(torch.sqrt(torch.mean((x - reference) ** 2)))

    spread = float(reference.std())
    # measured: spread 1.29, teacher on the student's 2 steps 0.167, student 0.066
    assert rms(untrained) > 0.1 * spread  # halving the steps of the teacher itself is costly
    assert rms(distilled) < 0.5 * rms(untrained)


def test_the_guidance_weight_is_an_input_of_one_pass(teacher, returns):
    """The guidance stage alone (no halving) reproduces guided sampling at several weights."""
    config = dataclasses.replace(SMALL, final_steps=4)
    student = distill_stress_model(teacher, returns, VAL_START, VAL_END, config, seed=7)
    full = list(student.steps)
    assert full == [19, 13, 6, 0] and len(student.history) == 1
    for weight in (0.0, 2.5):
        reference = scaled_paths(teacher, returns, 128, 5, _guided_with(teacher, full, weight))
        got = scaled_paths(
            student.model, returns, 128, 5, _with_weight(student_sampler(student), weight)
        )
        # the student starts as the conditional branch, i.e. the teacher at w = 1
        other = scaled_paths(teacher, returns, 128, 5, _guided_with(teacher, full, 1.0))
        err = float(torch.sqrt(torch.mean((got - reference) ** 2)))
        gap = float(torch.sqrt(torch.mean((other - reference) ** 2)))
        # measured: w = 0: 0.022 vs 0.047; w = 2.5: 0.046 vs 0.071 (the student starts at 1 x gap)
        assert err < 0.75 * gap, (weight, err, gap)


def test_distillation_is_deterministic_given_the_seed(teacher, returns):
    quick = dataclasses.replace(SMALL, guidance_epochs=1, round_epochs=1)
    student, again, other = (
        distill_stress_model(teacher, returns, VAL_START, VAL_END, quick, seed=s) for s in (7, 7, 8)
    )
    assert state_dict_sha256(other.net.state_dict()) != state_dict_sha256(student.net.state_dict())
    assert state_dict_sha256(again.net.state_dict()) == state_dict_sha256(student.net.state_dict())
    a, _ = generate_paths(
        student.model, returns, DATE, 8, REQUEST, guidance=WEIGHT, seed=1,
        scaled_sampler=student_sampler(student),
    )  # fmt: skip
    b, _ = generate_paths(
        again.model, returns, DATE, 8, REQUEST, guidance=WEIGHT, seed=1,
        scaled_sampler=student_sampler(again),
    )  # fmt: skip
    np.testing.assert_array_equal(a, b)


def test_the_student_checkpoint_round_trips_with_its_teacher_provenance(student, returns, tmp_path):
    path = save_student(student, tmp_path / "student.pt")
    loaded = load_student(path)
    assert loaded.teacher == {
        "version": f"stress@fit_end={student.model.train_end}#{'ab' * 6}",
        "weights_sha256": "ab" * 32,
    }
    assert weights_sha256(path) == state_dict_sha256(student.net.state_dict())
    assert list(loaded.steps) == list(student.steps) and loaded.config == student.config
    kwargs = {"guidance": WEIGHT, "seed": 2}
    a, _ = generate_paths(
        student.model, returns, DATE, 6, REQUEST, scaled_sampler=student_sampler(student), **kwargs
    )
    b, _ = generate_paths(
        loaded.model, returns, DATE, 6, REQUEST, scaled_sampler=student_sampler(loaded), **kwargs
    )
    np.testing.assert_array_equal(a, b)


def test_stage_options_read_the_configured_optimisation_fields():
    assert SMALL.options(7) == TrainOptions(
        lr=2e-3,
        weight_decay=0.0,
        batch_size=64,
        noise_draws=1,
        max_epochs=7,
        patience=10,
        min_epochs=1,
        grad_clip=1.0,
        ema_decay=0.99,
        samples_per_epoch=0,
    )


def test_errors_name_the_bad_argument(teacher, returns, checkpoint):
    with pytest.raises(ValueError, match="start_steps .* power of 2"):
        DistillConfig(start_steps=12, final_steps=8)
    with pytest.raises(ValueError, match="final_steps must be >= 1"):
        DistillConfig(final_steps=0)
    with pytest.raises(ValueError, match="guidance_max must be >= guidance_min"):
        DistillConfig(guidance_min=2.0, guidance_max=1.0)
    with pytest.raises(ValueError, match="guidance must be a finite number >= 0"):
        DistillConfig(guidance_min=-1.0)
    with pytest.raises(ValueError, match="unknown stress.distill.student parameters"):
        DistillConfig.from_dict({"steps": 4})
    with pytest.raises(ValueError, match="val_start=2002-06-01 must be after train_end"):
        distill_stress_model(teacher, returns, "2002-06-01", VAL_END, SMALL, seed=0)
    with pytest.raises(ValueError, match="returns columns"):
        distill_stress_model(teacher, returns.iloc[:, ::-1], VAL_START, VAL_END, SMALL, seed=0)
    with pytest.raises(ValueError, match="not a stress-student checkpoint"):
        load_student(checkpoint)


def test_distill_record_keys_and_their_order_are_pinned():
    keys = """
        start_steps final_steps guidance_min guidance_max lr batch_size ema_decay grad_clip
        guidance_epochs round_epochs samples_per_epoch patience threads trajectory
        trajectory_draws
    """.split()
    assert list(DistillConfig().to_dict()) == keys
