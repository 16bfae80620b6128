"""Tests of diffrisk.diffusion.distill: the progressive-distillation maths (closed forms)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffrisk.diffusion.distill import (
    check_halving,
    ddim_step_rows,
    grid_coefficients,
    mean_loss,
    nested_grid,
    one_step_loss,
    pair_starts,
    richardson,
    sampler_grid,
    target_prediction,
    two_step_target,
)
from diffrisk.diffusion.prediction import PREDICTION_TYPES, to_x0
from diffrisk.diffusion.sampler import ddim_timesteps
from diffrisk.diffusion.schedule import NoiseSchedule

SCHEDULE = NoiseSchedule.create("linear", 200, beta_start=5e-4, beta_end=0.1)


def _coef(t: int) -> tuple[float, float]:
    """``(sqrt(ab_t), sqrt(1 - ab_t))`` in float64, ``(1, 0)`` at the end -1."""
    if t < 0:
        return 1.0, 0.0
    ab = float(SCHEDULE.alpha_bars[t])
    return np.sqrt(ab), np.sqrt(1.0 - ab)


def test_grid_coefficients_are_the_schedule_and_the_clean_end():
    grid = torch.tensor([[199, 50], [0, -1]])
    a, b = grid_coefficients(SCHEDULE, grid, ndim=3)
    assert a.shape == b.shape == (2, 2, 1)
    for (i, j), t in np.ndenumerate(grid.numpy()):
        assert a[i, j, 0].item() == pytest.approx(_coef(t)[0], rel=1e-6)
        assert b[i, j, 0].item() == pytest.approx(_coef(t)[1], rel=1e-4)  # float32 1 - ab
    a1, b1 = grid_coefficients(SCHEDULE, torch.tensor([-1, 3]))
    assert a1.shape == (2, 1, 1) and a1[0].item() == 1.0 and b1[0].item() == 0.0


@pytest.mark.parametrize(("start", "spacing"), [(64, "linear"), (64, "logsnr"), (16, "logsnr")])
def test_nested_grid_halves_into_subsets_ending_clean(start, spacing):
    grid = nested_grid(SCHEDULE, start, spacing)
    assert len(grid) == start + 1 and grid[0] == 199 and grid[-2] == 0 and grid[-1] == -1
    assert (np.diff(grid) < 0).all()
    half = grid[::2]
    assert len(half) == start // 2 + 1 and half[-1] == -1 and set(half) <= set(grid)
    if spacing == "linear":
        np.testing.assert_array_equal(grid[:-1], ddim_timesteps(SCHEDULE, start, "linear"))


def test_logsnr_grid_keeps_distinct_steps_where_rounding_collides():
    # 64 log-SNR points on 200 steps: ddim_timesteps drops the collisions near t = 0
    assert len(ddim_timesteps(SCHEDULE, 64, "logsnr")) < 64
    grid = nested_grid(SCHEDULE, 64, "logsnr")
    np.testing.assert_array_equal(grid[-8:], [6, 5, 4, 3, 2, 1, 0, -1])
    # above the collisions it is the log-SNR grid itself
    assert set(ddim_timesteps(SCHEDULE, 64, "logsnr")[:40]) <= set(grid)
    with pytest.raises(ValueError, match="start_steps must be in"):
        nested_grid(SCHEDULE, 400, "logsnr")


def test_check_halving_names_the_field():
    check_halving(32, 4, "Cfg")
    check_halving(4, 4, "Cfg")
    for start, final in ((12, 4), (2, 4)):
        with pytest.raises(ValueError, match=r"Cfg\.start_steps"):
            check_halving(start, final, "Cfg")


def test_one_step_to_the_target_lands_on_the_two_teacher_steps():
    # A perfect teacher on a Gaussian toy: x0 ~ N(m, s^2), exact x0-predictor
    # E[x0 | z_t] = m + a s^2 (z - a m) / (a^2 s^2 + b^2). Its two DDIM steps, computed in
    # float64 by hand, equal one DDIM step with the target x~ from the same start.
    m, s = 0.3, 0.7
    gen = torch.Generator().manual_seed(0)
    grid = nested_grid(SCHEDULE, 16, "logsnr")
    j = torch.arange(0, len(grid) - 2, 2)
    t0, t1, t2 = (torch.as_tensor(grid)[j + k] for k in range(3))
    c0, c1, c2 = (grid_coefficients(SCHEDULE, t, ndim=2) for t in (t0, t1, t2))
    z = torch.randn(len(j), 50, generator=gen, dtype=torch.float64)
    c0, c1, c2 = ([c.double() for c in cs] for cs in (c0, c1, c2))

    def x0_hat(x, c):
        a, b = c
        return m + a * s**2 * (x - a * m) / (a**2 * s**2 + b**2)

    z1 = ddim_step_rows(z, x0_hat(z, c0), c0, c1)
    z2 = ddim_step_rows(z1, x0_hat(z1, c1), c1, c2)
    target = two_step_target(z, z2, c0, c2)
    torch.testing.assert_close(ddim_step_rows(z, target, c0, c2), z2, rtol=1e-10, atol=1e-10)
    # by hand, row by row: z' = a' x + b' (z - a x) / b
    for r, (u, v, w) in enumerate(zip(t0.tolist(), t1.tolist(), t2.tolist(), strict=True)):
        (a, b), (a1, b1), (a2, b2) = _coef(u), _coef(v), _coef(w)
        zz = z[r].numpy()
        x = m + a * s**2 * (zz - a * m) / (a**2 * s**2 + b**2)
        y1 = a1 * x + b1 * (zz - a * x) / b
        x1 = m + a1 * s**2 * (y1 - a1 * m) / (a1**2 * s**2 + b1**2)
        y2 = a2 * x1 + (b2 * (y1 - a1 * x1) / b1 if b1 > 0 else 0.0)
        np.testing.assert_allclose(z2[r].numpy(), y2, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            target[r].numpy(), (y2 - b2 / b * zz) / (a2 - b2 / b * a), rtol=1e-5, atol=1e-6
        )


def test_target_of_an_exact_point_mass_teacher_is_the_point():
    # Data = the point m: the exact x0-predictor is m, DDIM is exact, and x~ = m.
    m = 1.25
    grid = nested_grid(SCHEDULE, 8, "linear")
    t = torch.as_tensor(grid)
    c0, c1, c2 = (grid_coefficients(SCHEDULE, t[k : k + 1], ndim=2) for k in (0, 1, 2))
    z = torch.randn(1, 7, generator=torch.Generator().manual_seed(1))
    z1 = ddim_step_rows(z, torch.full_like(z, m), c0, c1)
    z2 = ddim_step_rows(z1, torch.full_like(z, m), c1, c2)
    torch.testing.assert_close(two_step_target(z, z2, c0, c2), torch.full_like(z, m))


@pytest.mark.parametrize("kind", PREDICTION_TYPES)
def test_target_prediction_implies_the_target(kind):
    gen = torch.Generator().manual_seed(2)
    t = torch.tensor([199, 120, 40, 0])
    c = grid_coefficients(SCHEDULE, t, ndim=2)
    x0 = torch.randn(4, 9, generator=gen, dtype=torch.float64)
    z = c[0] * x0 + c[1] * torch.randn(4, 9, generator=gen, dtype=torch.float64)
    target = torch.randn(4, 9, generator=gen, dtype=torch.float64)
    out = target_prediction(target, z, c, kind)
    torch.testing.assert_close(to_x0(out, z, *c, kind), target)


def test_sampler_grid_cuts_the_samplers_steps_into_equal_runs_longer_first():
    grid, points = sampler_grid(SCHEDULE, 20, "linear", 3, "Owner")
    np.testing.assert_array_equal(grid[:-1], ddim_timesteps(SCHEDULE, 20, "linear"))
    assert grid[-1] == -1
    np.testing.assert_array_equal(points, [0, 7, 14, 20])  # runs of 7, 7 and 6
    np.testing.assert_array_equal(sampler_grid(SCHEDULE, 20, "linear", 20, "O")[1], range(21))
    with pytest.raises(ValueError, match=r"Owner\.final_steps \(21\) must be in \[1, 20\]"):
        sampler_grid(SCHEDULE, 20, "linear", 21, "Owner")
    with pytest.raises(ValueError, match=r"Owner\.start_steps \(201\) must be in \[1, 200\]"):
        sampler_grid(SCHEDULE, 201, "linear", 4, "Owner")


def test_one_step_losses_of_a_v_network_differ_by_the_squared_sine_of_the_step():
    # v network: x0 = a z - b v, eps = b z + a v, so the landing point a' x0 + b' eps moves
    # by (a b' - a' b) per unit of v: landing loss = (a b' - a' b)^2 x prediction loss.
    gen = torch.Generator().manual_seed(3)
    for t0, t1 in [(199, 150), (120, 40), (30, -1)]:
        c0, c1 = (grid_coefficients(SCHEDULE, torch.tensor([t]), ndim=2) for t in (t0, t1))
        c0, c1 = [c.double() for c in c0], [c.double() for c in c1]
        z, z_next, out = (torch.randn(1, 40, generator=gen, dtype=torch.float64) for _ in "zzo")
        pred = one_step_loss(out, z, z_next, c0, c1, "v_prediction", "prediction")
        landing = one_step_loss(out, z, z_next, c0, c1, "v_prediction", "landing")
        sine = float(c0[0] * c1[1] - c1[0] * c0[1])
        torch.testing.assert_close(landing, sine**2 * pred)
        exact = target_prediction(two_step_target(z, z_next, c0, c1), z, c0, "v_prediction")
        for kind in ("prediction", "landing"):
            assert float(one_step_loss(exact, z, z_next, c0, c1, "v_prediction", kind)) < 1e-12


def test_pair_starts_are_even_positions_with_two_steps_after():
    gen = torch.Generator().manual_seed(3)
    j = pair_starts((500, 4), 17, gen)
    assert j.shape == (500, 4) and (j % 2 == 0).all()
    assert set(j.unique().tolist()) == set(range(0, 15, 2))
    assert pair_starts(10, 3, gen).eq(0).all()


def test_richardson_of_ddim_in_closed_form_for_standard_normal_data():
    # N(0, 1) data, exact eps = b z: the probability-flow map is the identity. With
    # a = cos(theta), b = sin(theta), one DDIM step over an angle d multiplies z by cos(d),
    # two steps d1 + d2 = d by cos(d1) cos(d2), so 2 fine - coarse = cos(d1 - d2) z: the
    # leading error (d^2 / 2) cancels, and it is exact for equal halves.
    grid = nested_grid(SCHEDULE, 8, "logsnr")
    z = torch.randn(3, 5, generator=torch.Generator().manual_seed(4), dtype=torch.float64)

    def ddim(z, points):
        coef = [
            [c.double() for c in grid_coefficients(SCHEDULE, torch.tensor([p]), ndim=2)]
            for p in points
        ]
        for k in range(len(points) - 1):
            z = ddim_step_rows(z, coef[k][0] * z, coef[k], coef[k + 1])  # x0 = a z
        return z

    theta = [np.arccos(_coef(int(t))[0]) for t in grid[:3]]
    d1, d2 = theta[0] - theta[1], theta[1] - theta[2]
    coarse, fine = ddim(z, grid[[0, 2]]), ddim(z, grid[0:3])
    torch.testing.assert_close(coarse, np.cos(d1 + d2) * z)
    torch.testing.assert_close(richardson(fine, coarse), np.cos(d1 - d2) * z)
    assert abs(1 - np.cos(d1 - d2)) < 0.5 * abs(1 - np.cos(d1 + d2))


class _Rows:
    """A training set of scalar rows (``TrainingSet``: a length and ``take``)."""

    def __init__(self, values: torch.Tensor) -> None:
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    def take(self, index: torch.Tensor) -> torch.Tensor:
        return self.values[index]


@pytest.mark.parametrize("batch_size", [1, 3, 7, 100])
def test_mean_loss_is_the_row_mean_whatever_the_batches_with_seeded_draws(batch_size):
    values = torch.arange(7, dtype=torch.float64) ** 2
    # a batch's loss is its mean: the row-weighted mean over batches is the mean of all rows
    exact = mean_loss(lambda net, b, g: b.mean(), None, _Rows(values), 0, batch_size)
    assert exact == pytest.approx(float(values.mean()), rel=1e-12)
    # the draws come from one generator seeded by ``seed``: same seed, same score
    noisy = lambda net, b, g: b.mean() + torch.randn((), generator=g)  # noqa: E731
    first = mean_loss(noisy, None, _Rows(values), 5, batch_size)
    assert first == mean_loss(noisy, None, _Rows(values), 5, batch_size)
    assert first != mean_loss(noisy, None, _Rows(values), 6, batch_size)
