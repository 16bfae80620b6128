"""Tests of diffrisk.ddpm.distill: the one-day student (closed forms, provenance, leakage)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from diffrisk.ddpm.distill import distill_ddpm, halving_loss_fn, validation_loss
from diffrisk.ddpm.forecast import forecast_ddpm
from diffrisk.ddpm.inputs import ConditionTensors
from diffrisk.ddpm.network import Denoiser
from diffrisk.ddpm.student import (
    DDPMDistillConfig,
    DDPMStudent,
    load_student,
    save_student,
    teacher_provenance,
)
from diffrisk.diffusion.distill import grid_coefficients, nested_grid
from diffrisk.diffusion.sampler import ddim_timesteps
from diffrisk.diffusion.weights_hash import state_dict_sha256, weights_sha256
from tests.support.tiny_ddpm import tiny_teacher

SMALL = DDPMDistillConfig(
    start_steps=8, final_steps=2, round_epochs=2, samples_per_epoch=256, batch_size=64,
    noise_draws=4,
)  # fmt: skip


@pytest.fixture(scope="module")
def tiny():
    """A smoke-size teacher on two simulated series (fit on days 0..799) and its splits."""
    return tiny_teacher()


def distil_tiny(model, returns, splits, config=SMALL, seed=1):
    return distill_ddpm(
        model, returns, splits["train_end"], splits["val_start"], splits["val_end"], config,
        seed=seed, progress=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def student(tiny):
    model, returns, splits = tiny
    return distil_tiny(model, returns, splits)


def same_weights(a: DDPMStudent, b: DDPMStudent) -> bool:
    return state_dict_sha256(a.net.state_dict()) == state_dict_sha256(b.net.state_dict())


def gaussian_teacher(model) -> Denoiser:
    """The untrained denoiser with the Gaussian skip: eps = sqrt(1 - ab_t) x_t, the exact
    eps-predictor for N(0, 1) data (zero-initialised head)."""
    net = Denoiser(model.net.spec)
    net.use_gaussian_skip(model.schedule.sqrt_one_minus_alpha_bars)
    return net.eval()


def random_batch(spec, n=64, seed=0) -> ConditionTensors:
    gen = torch.Generator().manual_seed(seed)
    return ConditionTensors(
        torch.randn(n, spec.window_channels, spec.window_length, generator=gen),
        torch.randn(n, spec.n_features, generator=gen),
        torch.zeros(n, dtype=torch.long),
        torch.randn(n, generator=gen),
    )


def test_extrapolated_teacher_of_standard_normal_data_lands_near_the_identity_flow(tiny):
    # N(0, 1) data: the exact flow is the identity. The student whose eps is the Gaussian
    # skip's solution of "land on z" (c = (1 - a2 / a0) / (b2 - a2 b0 / a0)) has a small
    # loss against the Richardson teacher, a larger one against the plain two steps.
    model, _, _ = tiny
    teacher, schedule = gaussian_teacher(model), model.schedule
    fine = nested_grid(schedule, 16, "logsnr")
    grid = fine[::2]
    student = gaussian_teacher(model)
    skip = student.skip_coef.clone().double()
    for j in range(0, len(grid) - 2, 2):
        (a0, b0), (a2, b2) = (
            (float(c[0]), float(c[1]))
            for c in (grid_coefficients(schedule, torch.tensor([grid[j + k]]), 1) for k in (0, 2))
        )
        skip[grid[j]] = (1 - a2 / a0) / (b2 - a2 * b0 / a0)
    with torch.no_grad():
        student.skip_coef.copy_(skip.float())
    batch = random_batch(model.net.spec)
    plain = validation_loss(halving_loss_fn(teacher, schedule, grid, SMALL), student, batch, 3)
    fine_fn = halving_loss_fn(teacher, schedule, grid, SMALL, fine)
    extra = validation_loss(fine_fn, student, batch, 3)
    assert extra < 0.5 * plain
    with pytest.raises(ValueError, match="every second point"):
        halving_loss_fn(teacher, schedule, grid, SMALL, nested_grid(schedule, 8, "logsnr"))


@pytest.mark.parametrize("loss", ["landing", "prediction"])
def test_exact_one_step_student_of_a_gaussian_teacher_has_zero_loss(tiny, loss):
    # For N(0, 1) data the teacher's eps = b x is exact and linear: its two DDIM steps map
    # z to k z with k = (a0 a1 + b0 b1)(a1 a2 + b1 b2). The student whose eps is c z with
    # c = (k - a2 / a0) / (b2 - a2 b0 / a0) lands there in one step: zero loss. The
    # teacher itself (one plain step, a0 a2 + b0 b2) does not.
    model, _, _ = tiny
    teacher, schedule = gaussian_teacher(model), model.schedule
    grid = nested_grid(schedule, 8, "logsnr")
    config = dataclasses.replace(SMALL, loss=loss)
    fn = halving_loss_fn(teacher, schedule, grid, config)
    student = gaussian_teacher(model)
    skip = student.skip_coef.clone().double()
    for j in range(0, len(grid) - 2, 2):
        (a0, b0), (a1, b1), (a2, b2) = (
            (float(c[0]), float(c[1]))
            for c in (grid_coefficients(schedule, torch.tensor([grid[j + k]]), 1) for k in range(3))
        )
        k = (a0 * a1 + b0 * b1) * (a1 * a2 + b1 * b2)
        skip[grid[j]] = (k - a2 / a0) / (b2 - a2 * b0 / a0)
    plain = validation_loss(fn, teacher, random_batch(model.net.spec), seed=3)
    with torch.no_grad():
        student.skip_coef.copy_(skip.float())
    exact = validation_loss(fn, student, random_batch(model.net.spec), seed=3)
    assert plain > 1e-4
    assert exact < 1e-6 * plain + 1e-9


def test_student_steps_history_and_provenance(tiny, student, tmp_path):
    model, _, _ = tiny
    grid = nested_grid(model.schedule, 8, "logsnr")
    np.testing.assert_array_equal(student.steps, grid[::4][:-1])
    assert [h["steps"] for h in student.history] == [4, 2]
    assert all(1 <= h["best_epoch"] <= 2 and np.isfinite(h["val_loss"]) for h in student.history)
    path = model.save(tmp_path / "teacher.pt")
    sha = weights_sha256(path)
    assert student.teacher == {
        "version": f"ddpm@fit_end={model.fit_end}#{sha[:12]}",
        "weights_sha256": sha,
        "fit_end": model.fit_end,
    }
    assert teacher_provenance(model) == student.teacher
    assert not same_weights(student, DDPMStudent(model.net, student.steps, {}, SMALL))


def test_extrapolated_first_round_uses_every_second_point_of_the_fine_grid(tiny):
    model, returns, splits = tiny
    config = dataclasses.replace(SMALL, extrapolate=True, round_epochs=1)
    st = distil_tiny(model, returns, splits, config)
    np.testing.assert_array_equal(st.steps, nested_grid(model.schedule, 16, "logsnr")[::8][:-1])


def test_frozen_encoder_stays_the_teachers(tiny, student):
    model, _, _ = tiny
    t, s = model.net.encoder.state_dict(), student.net.encoder.state_dict()
    assert all(torch.equal(t[k], s[k]) for k in t)
    assert not torch.equal(model.net.head.out.weight, student.net.head.out.weight)


def test_checkpoint_round_trip(tiny, student, tmp_path):
    model, returns, _ = tiny
    path = save_student(student, tmp_path / "student.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["student.pt"]  # no temp file left
    back = load_student(path)
    assert same_weights(back, student) and back.teacher == student.teacher
    np.testing.assert_array_equal(back.steps, student.steps)
    untimed = [{k: v for k, v in h.items() if "seconds" not in k} for h in student.history]
    assert back.config == student.config and back.history == untimed
    # the wall-clock entries are not saved: another timing writes the same bytes
    slower = dataclasses.replace(student, history=[{**h, "seconds": 1e9} for h in student.history])
    again = save_student(slower, tmp_path / "again.pt")
    assert again.read_bytes() == path.read_bytes()
    again.unlink()
    days = returns.index[1000:1004]
    _, a = forecast_ddpm(model, returns, days, n_scenarios=64, seed=5, student=student)
    _, b = forecast_ddpm(model, returns, days, n_scenarios=64, seed=5, student=back)
    assert a.scenarios.tobytes() == b.scenarios.tobytes() and a.design == "stratified"
    model.save(tmp_path / "teacher.pt")
    with pytest.raises(ValueError, match="not a one-day student checkpoint"):
        load_student(tmp_path / "teacher.pt")


def test_student_sampling_is_the_ddim_sampler_on_its_steps(tiny):
    # The teacher's own network as a "student" on the 20-step log-SNR grid samples exactly
    # what first-order DDIM with 20 log-SNR steps samples.
    model, returns, _ = tiny
    steps = ddim_timesteps(model.schedule, 20, "logsnr")
    same = DDPMStudent(model.net, steps, teacher_provenance(model), SMALL)
    days = returns.index[1000:1006]
    _, a = forecast_ddpm(model, returns, days, n_scenarios=100, seed=2, student=same)
    _, b = forecast_ddpm(
        model, returns, days, n_scenarios=100, seed=2, sampler="ddim", n_steps=20, eta=0.0,
        spacing="logsnr", order=1,
    )  # fmt: skip
    assert a.scenarios.tobytes() == b.scenarios.tobytes()
    with pytest.raises(ValueError, match=r"fixes \['n_steps', 'order'\]"):
        forecast_ddpm(model, returns, days, n_scenarios=10, student=same, n_steps=4, order=2)
    other = DDPMStudent(model.net, steps, {**same.teacher, "weights_sha256": "0" * 64}, SMALL)
    with pytest.raises(ValueError, match="not from this model's weights"):
        forecast_ddpm(model, returns, days, n_scenarios=10, student=other)


def test_no_leakage_after_train_end_or_val_end(tiny, student):
    model, returns, splits = tiny
    later = returns.copy()
    later.loc[later.index > splits["val_end"]] *= 7.0  # test period
    assert same_weights(distil_tiny(model, later, splits), student)
    # one epoch per round (no selection): nothing after train_end reaches the training
    one = dataclasses.replace(SMALL, round_epochs=1)
    base = distil_tiny(model, returns, splits, one)
    moved = returns.copy()
    moved.loc[moved.index > splits["train_end"]] *= 3.0
    assert same_weights(distil_tiny(model, moved, splits, one), base)


def test_bad_inputs_name_the_field_or_date(tiny):
    for kwargs, field in [
        ({"start_steps": 12}, "start_steps"),
        ({"final_steps": 0}, "final_steps"),
        ({"loss": "x0"}, "loss"),
        ({"spacing": "cubic"}, "spacing"),
        ({"lr": 0.0}, "lr"),
        ({"ema_decay": 1.0}, "ema_decay"),
    ]:
        with pytest.raises(ValueError, match=rf"DDPMDistillConfig\.{field}"):
            DDPMDistillConfig(**kwargs)
    with pytest.raises(ValueError, match="unknown ddpm_distill parameters"):
        DDPMDistillConfig.from_dict({"steps": 4})
    model, returns, splits = tiny
    late = {**splits, "train_end": splits["val_end"]}
    with pytest.raises(ValueError, match="after the teacher's fit_end"):
        distil_tiny(model, returns, late)
    early = {**splits, "val_start": splits["train_end"]}
    with pytest.raises(ValueError, match="train_end < val_start"):
        distil_tiny(model, returns, early)
