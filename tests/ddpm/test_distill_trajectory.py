"""Tests of diffrisk.ddpm.distill_trajectory: the pipeline sampler as the first teacher."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from diffrisk.ddpm.distill import validation_loss
from diffrisk.ddpm.distill_trajectory import trajectory_loss_fn, trajectory_states, with_states
from diffrisk.ddpm.student import DDPMDistillConfig
from diffrisk.diffusion.distill import grid_coefficients
from diffrisk.diffusion.distill import sampler_grid as generic_sampler_grid
from diffrisk.diffusion.sampler import ddim_timesteps, sample
from tests.ddpm.test_distill import SMALL, distil_tiny, gaussian_teacher, random_batch, same_weights
from tests.ddpm.test_distill import tiny as tiny  # noqa: F401 - the shared fixture


def sampler_grid(schedule, n_steps, spacing, final_steps):
    """The one-day student's grid (the generic grid, errors naming its config)."""
    return generic_sampler_grid(schedule, n_steps, spacing, final_steps, "DDPMDistillConfig")


TRAJ = dataclasses.replace(SMALL, trajectory=True, start_steps=16, final_steps=4, round_epochs=2)


def test_sampler_grid_is_the_pipelines_steps_and_checks_the_student(tiny):
    model, _, _ = tiny
    grid, points = sampler_grid(model.schedule, 16, "logsnr", 4)
    np.testing.assert_array_equal(grid[:-1], ddim_timesteps(model.schedule, 16, "logsnr"))
    assert grid[-1] == -1 and len(grid) == 17
    np.testing.assert_array_equal(points, [0, 4, 8, 12, 16])
    # runs as equal as possible, longer first: 16 steps in 3 runs of 6, 5, 5
    np.testing.assert_array_equal(sampler_grid(model.schedule, 16, "logsnr", 3)[1], [0, 6, 11, 16])
    np.testing.assert_array_equal(sampler_grid(model.schedule, 16, "logsnr", 1)[1], [0, 16])
    with pytest.raises(ValueError, match=r"final_steps \(17\) must be in \[1, 16\]"):
        sampler_grid(model.schedule, 16, "logsnr", 17)
    # on a 50-step chain 20 log-SNR steps merge to 19 distinct ones
    with pytest.raises(ValueError, match=r"\[1, 19\], the teacher sampler's distinct steps"):
        sampler_grid(model.schedule, 20, "logsnr", 20)


@pytest.mark.parametrize("order", [1, 2])
def test_recorded_states_start_at_the_noise_and_end_at_the_samplers_output(tiny, order):
    model, _, _ = tiny
    net, schedule = model.net, model.schedule
    data = random_batch(net.spec, n=16)
    grid, points = sampler_grid(schedule, 12, "logsnr", 3)
    states = trajectory_states(net, schedule, data, grid, points, 32, order,
                               torch.Generator().manual_seed(4))  # fmt: skip
    assert states.shape == (16, 32, 4)  # 12 steps in runs of 4: noise, two states, x0
    noise = torch.randn(16, 32, generator=torch.Generator().manual_seed(4))
    assert torch.equal(states[:, :, 0], noise)
    cond = data.encode(net)
    out = sample(net, schedule, cond, 32, generator=torch.Generator().manual_seed(4),
                 steps=grid[:-1], order=order, progress=False)  # fmt: skip
    assert torch.equal(states[:, :, -1], out)
    # chunking does not change the states
    again = trajectory_states(net, schedule, data, grid, points, 32, order,
                              torch.Generator().manual_seed(4), batch_size=16)  # fmt: skip
    assert torch.equal(again, states)


def test_gaussian_teacher_second_order_trajectories_stay_closer_to_the_identity(tiny):
    # N(0, 1) data: the exact probability-flow map is the identity, so every recorded
    # state equals the noise; DDIM drifts by O(1/S), DPM-Solver++(2M) by O(1/S^2).
    model, _, _ = tiny
    teacher, schedule = gaussian_teacher(model), model.schedule
    data = random_batch(model.net.spec, n=8)
    grid, points = sampler_grid(schedule, 16, "logsnr", 4)
    drift = {}
    for order in (1, 2):
        s = trajectory_states(teacher, schedule, data, grid, points, 64, order,
                              torch.Generator().manual_seed(0))  # fmt: skip
        drift[order] = float((s[:, :, -1] / s[:, :, 0] - 1).abs().max())
    assert drift[2] < 0.25 * drift[1] and drift[1] > 1e-3


@pytest.mark.parametrize("loss", ["landing", "prediction"])
def test_exact_student_of_a_linear_teacher_has_zero_loss(tiny, loss):
    # The Gaussian teacher's trajectory map from a recorded state to the next is linear,
    # z -> K_k z. The student whose eps at step k is c z with
    # c = (K_k - a2 / a0) / (b2 - a2 b0 / a0) lands there in one DDIM step: zero loss.
    model, _, _ = tiny
    teacher, schedule = gaussian_teacher(model), model.schedule
    grid, points = sampler_grid(schedule, 16, "logsnr", 3)  # uneven runs 6, 5, 5
    data = random_batch(model.net.spec, n=32)
    states = trajectory_states(teacher, schedule, data, grid, points, 16, 2,
                               torch.Generator().manual_seed(1))  # fmt: skip
    batch = with_states(data, states)
    fn = trajectory_loss_fn(schedule, grid, points, loss, teacher)
    student = gaussian_teacher(model)
    skip = student.skip_coef.clone().double()
    g = grid[points]
    for k in range(len(g) - 1):
        ratio = (states[:, :, k + 1].double() / states[:, :, k].double()).flatten()
        assert float(ratio.std()) < 1e-4 * float(ratio.abs().mean())  # linear map
        big_k = float(ratio.mean())
        (a0, b0), (a2, b2) = (
            (float(c[0]), float(c[1]))
            for c in (grid_coefficients(schedule, torch.tensor([g[k + i]]), 1) for i in (0, 1))
        )
        skip[g[k]] = (big_k - a2 / a0) / (b2 - a2 * b0 / a0)
    plain = validation_loss(fn, teacher, batch, seed=3)
    with torch.no_grad():
        student.skip_coef.copy_(skip.float())
    exact = validation_loss(fn, student, batch, seed=3)
    assert plain > 1e-4
    assert exact < 1e-5 * plain + 1e-9


@pytest.fixture(scope="module")
def traj_student(tiny):
    model, returns, splits = tiny
    return distil_tiny(model, returns, splits, TRAJ)


def test_trajectory_student_steps_are_the_samplers_at_its_points(tiny, traj_student):
    model, _, _ = tiny
    grid, points = sampler_grid(model.schedule, TRAJ.start_steps, TRAJ.spacing, 4)
    np.testing.assert_array_equal(traj_student.steps, grid[::4][:-1])
    np.testing.assert_array_equal(traj_student.steps, grid[points][:-1])
    (h,) = traj_student.history
    assert h["steps"] == 4 and 1 <= h["best_epoch"] <= 2 and np.isfinite(h["val_loss"])
    assert h["recording_seconds"] > 0
    t, s = model.net.encoder.state_dict(), traj_student.net.encoder.state_dict()
    assert all(torch.equal(t[k], s[k]) for k in t)
    assert not torch.equal(model.net.head.out.weight, traj_student.net.head.out.weight)


def test_trajectory_student_learns_nothing_after_train_end(tiny, traj_student):
    model, returns, splits = tiny
    later = returns.copy()
    later.loc[later.index > splits["val_end"]] *= 7.0
    assert same_weights(distil_tiny(model, later, splits, TRAJ), traj_student)
    one = dataclasses.replace(TRAJ, round_epochs=1)
    base = distil_tiny(model, returns, splits, one)
    moved = returns.copy()
    moved.loc[moved.index > splits["train_end"]] *= 3.0
    assert same_weights(distil_tiny(model, moved, splits, one), base)


def test_trajectory_settings_are_checked():
    with pytest.raises(ValueError, match=r"DDPMDistillConfig\.teacher_order"):
        DDPMDistillConfig(trajectory=True, teacher_order=3)
    with pytest.raises(ValueError, match="trajectory or extrapolate"):
        DDPMDistillConfig(trajectory=True, extrapolate=True)
    # the halving constraint does not apply: final_steps is checked against the sampler
    assert DDPMDistillConfig(trajectory=True, start_steps=64, final_steps=5).final_steps == 5
