"""Tests of diffrisk.stress.distill_trajectory: the guided sampler as the student's teacher."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from diffrisk.diffusion.checkpoints import without_timings
from diffrisk.diffusion.distill import mean_loss, sampler_grid
from diffrisk.diffusion.guidance import guided_prediction
from diffrisk.diffusion.weights_hash import state_dict_sha256
from diffrisk.stress.distill import (
    DistillConfig,
    distill_stress_model,
    load_student,
    save_student,
    student_sampler,
)
from diffrisk.stress.distill_trajectory import (
    TrajectorySet,
    record_trajectories,
    trajectory_loss_fn,
)
from diffrisk.stress.model import WindowTensors
from diffrisk.stress.sampling import generate_paths, sample_scaled_paths
from diffrisk.stress.student import conditioning
from diffrisk.stress.windows import training_windows
from tests.stress.test_distill import DATE, REQUEST, SMALL, WEIGHT, scaled_paths
from tests.stress.test_distill import teacher as teacher  # noqa: F401 - the shared fixture

from .conftest import TRAIN_END, VAL_END, VAL_START

TRAJ = dataclasses.replace(SMALL, trajectory=True, start_steps=8, final_steps=2)


@pytest.fixture(scope="module")
def windows(teacher, returns) -> WindowTensors:
    return WindowTensors(training_windows(returns, None, TRAIN_END, teacher.config), teacher)


def _record(teacher, windows, n_steps, final_steps, draws, w_range, seed=4):
    grid, points = sampler_grid(teacher.schedule, n_steps, "linear", final_steps, "T")
    gen = torch.Generator().manual_seed(seed)
    record = record_trajectories(teacher, windows, grid, points, draws, w_range, gen)
    return grid, points, record


@pytest.mark.parametrize("weight", [0.0, 1.5])
def test_recorded_states_start_at_the_noise_and_end_at_the_guided_samplers_output(
    teacher, windows, weight
):
    grid, points, record = _record(teacher, windows, 8, 3, 1, (weight, weight))
    n = len(windows)
    assert record.states.shape == (n, 4, *windows.x0.shape[1:])  # 8 steps in runs 3, 3, 2
    np.testing.assert_array_equal(record.window, np.arange(n))
    assert torch.all(record.weight == weight)
    # the sampler's x_T: the first draw of a generator with the same seed
    noise = torch.randn(windows.x0.shape, generator=torch.Generator().manual_seed(4))
    assert torch.equal(record.states[:, 0], noise)
    with torch.no_grad():
        context, cond, null = conditioning(teacher.net, windows.take(slice(None)), record.drop)
    out = sample_scaled_paths(
        teacher, context, cond, null, weight, generator=torch.Generator().manual_seed(4),
        n_steps=8, spacing="linear", order=1,
    )  # fmt: skip
    assert torch.equal(record.states[:, -1], out)
    # the training's condition dropout: p_uncond = 0.5 of the rows fully masked
    full = float((record.drop.sum(1) == record.drop.shape[1]).float().mean())
    assert 0.35 < full < 0.75


def test_rows_are_window_major_draws_with_weights_in_the_range(teacher, windows):
    _, _, record = _record(teacher, windows, 8, 2, 3, (0.5, 2.5))
    np.testing.assert_array_equal(record.window[:6], [0, 0, 0, 1, 1, 1])
    assert len(TrajectorySet(windows, record)) == 3 * len(windows)
    assert 0.5 <= float(record.weight.min()) < float(record.weight.max()) <= 2.5
    assert not torch.equal(record.states[0, 0], record.states[1, 0])  # independent draws


class GuidedTeacher(nn.Module):
    """The teacher's two-pass guided prediction behind the student's interface."""

    def __init__(self, net) -> None:
        super().__init__()
        self.net, self.prediction_type = net, net.prediction_type

    def forward(self, x, t, context, signature, weight):
        k = self.net.spec.n_signature
        ones = torch.ones(x.shape[0], k)
        null = self.net.embed_signature(torch.zeros(x.shape[0], k), ones)
        uncond, cond = (self.net(x, t, context, s) for s in (null, signature))
        return guided_prediction(uncond, cond, weight[:, None, None])


def test_the_teachers_own_steps_have_zero_loss_only_on_its_own_grid(teacher, windows):
    # On a grid of every teacher step the teacher's guided prediction IS the recorded
    # step (loss at float rounding); two teacher steps are not one of its steps.
    oracle = GuidedTeacher(teacher.net).eval()
    losses = {}
    for final in (8, 4):
        grid, points, record = _record(teacher, windows, 8, final, 1, (0.0, 3.0))
        data = TrajectorySet(windows, record)
        loss = trajectory_loss_fn(teacher.schedule, grid[points])
        losses[final] = mean_loss(loss, oracle, data, seed=0, batch_size=256)
    assert losses[4] > 1e-3  # measured 0.015
    assert losses[8] < 1e-9 * losses[4]  # measured 4e-13


@pytest.fixture(scope="module")
def traj_student(teacher, returns):
    torch.set_num_threads(1)
    return distill_stress_model(
        teacher, returns, VAL_START, VAL_END, TRAJ, seed=7, teacher_sha256="ab" * 32
    )


def test_trajectory_student_matches_the_teachers_sampler_much_better_than_its_steps(
    teacher, traj_student, returns
):
    grid, points = sampler_grid(teacher.schedule, 8, "linear", 2, "T")
    assert list(traj_student.steps) == list(grid[points][:-1]) == [19, 8]
    guidance, rounds = traj_student.history
    assert guidance["stage"] == "guidance" and rounds["steps"] == 2
    assert rounds["recording_seconds"] > 0 and np.isfinite(rounds["val_loss"])

    def teacher_on(steps):
        return lambda c, s, nl, w, g: sample_scaled_paths(teacher, c, s, nl, w, generator=g,
                                                          steps=steps)  # fmt: skip

    reference = scaled_paths(teacher, returns, 256, 3, teacher_on(grid[:-1]))
    untrained = scaled_paths(teacher, returns, 256, 3, teacher_on(traj_student.steps))
    distilled = scaled_paths(traj_student.model, returns, 256, 3, student_sampler(traj_student))

    def rms(x):
        return float(torch.sqrt(torch.mean((x - reference) ** 2)))

    # measured: spread 1.53, teacher on the student's 2 steps 0.488, student 0.178
    assert rms(distilled) < 0.5 * rms(untrained), (rms(distilled), rms(untrained))


def test_trajectory_student_learns_nothing_after_train_end(teacher, traj_student, returns):
    later = returns.copy()
    later.loc[later.index > VAL_END] *= 7.0
    again = distill_stress_model(teacher, later, VAL_START, VAL_END, TRAJ, seed=7)
    assert state_dict_sha256(again.net.state_dict()) == state_dict_sha256(
        traj_student.net.state_dict()
    )
    one = dataclasses.replace(TRAJ, guidance_epochs=1, round_epochs=1)
    base = distill_stress_model(teacher, returns, VAL_START, VAL_END, one, seed=7)
    moved = returns.copy()
    moved.loc[moved.index > TRAIN_END] *= 3.0
    other = distill_stress_model(teacher, moved, VAL_START, VAL_END, one, seed=7)
    assert state_dict_sha256(other.net.state_dict()) == state_dict_sha256(base.net.state_dict())


def test_trajectory_student_checkpoint_round_trips_its_config(traj_student, returns, tmp_path):
    loaded = load_student(save_student(traj_student, tmp_path / "student.pt"))
    assert loaded.config == traj_student.config and loaded.config.trajectory
    assert list(loaded.steps) == list(traj_student.steps)
    assert loaded.history == without_timings(traj_student.history)  # timings stay out
    kwargs = {"guidance": WEIGHT, "seed": 2}
    a, _ = generate_paths(traj_student.model, returns, DATE, 6, REQUEST,
                          scaled_sampler=student_sampler(traj_student), **kwargs)  # fmt: skip
    b, _ = generate_paths(loaded.model, returns, DATE, 6, REQUEST,
                          scaled_sampler=student_sampler(loaded), **kwargs)  # fmt: skip
    np.testing.assert_array_equal(a, b)


def test_trajectory_settings_are_checked(teacher, returns):
    with pytest.raises(ValueError, match=r"DistillConfig\.final_steps \(21\) must be <= start"):
        DistillConfig(trajectory=True, start_steps=20, final_steps=21)
    with pytest.raises(ValueError, match=r"DistillConfig\.trajectory_draws must be >= 1"):
        DistillConfig(trajectory=True, trajectory_draws=0)
    with pytest.raises(ValueError, match=r"DistillConfig\.trajectory must be a bool"):
        DistillConfig(trajectory="false")
    # the halving constraint does not apply: 20 steps to 3
    assert DistillConfig(trajectory=True, start_steps=20, final_steps=3).final_steps == 3
    too_many = dataclasses.replace(TRAJ, start_steps=30)  # the tiny schedule has 20 steps
    with pytest.raises(ValueError, match=r"DistillConfig\.start_steps \(30\) must be in \[1, 20\]"):
        distill_stress_model(teacher, returns, VAL_START, VAL_END, too_many, seed=0)
