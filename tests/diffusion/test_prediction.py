"""Tests of diffrisk.diffusion.prediction: conversions between eps, x0 and v."""

from __future__ import annotations

import math

import pytest
import torch

from diffrisk.diffusion.prediction import (
    PREDICTION_TYPES,
    check_prediction_type,
    eps_from_v,
    eps_from_x0,
    to_eps,
    to_x0,
    training_target,
    v_from_eps,
    x0_from_eps,
    x0_from_v,
)
from diffrisk.diffusion.schedule import NoiseSchedule


@pytest.fixture
def draw():
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(5, 3, generator=g, dtype=torch.float64)
    eps = torch.randn(5, 3, generator=g, dtype=torch.float64)
    a, b = math.sqrt(0.3), math.sqrt(0.7)
    return x0, eps, a * x0 + b * eps, a, b


def test_conversions_invert_each_other(draw):
    x0, eps, x_t, a, b = draw
    v = v_from_eps(x0, eps, a, b)
    torch.testing.assert_close(x0_from_eps(x_t, eps, a, b), x0)
    torch.testing.assert_close(eps_from_x0(x_t, x0, a, b), eps)
    torch.testing.assert_close(eps_from_v(x_t, v, a, b), eps)
    torch.testing.assert_close(x0_from_v(x_t, v, a, b), x0)


@pytest.mark.parametrize("kind", PREDICTION_TYPES)
def test_each_prediction_type_recovers_eps_and_x0_from_its_target(draw, kind):
    x0, eps, x_t, a, b = draw
    target = training_target(x0, eps, a, b, kind)
    torch.testing.assert_close(to_eps(target, x_t, a, b, kind), eps)
    torch.testing.assert_close(to_x0(target, x_t, a, b, kind), x0)


def test_step_coefficients_and_per_row_coefficients_agree():
    schedule = NoiseSchedule.create("linear", 20)
    a, b = schedule.step_coefficients(7)
    assert a == math.sqrt(float(schedule.alpha_bars[7]))
    assert b == math.sqrt(1.0 - float(schedule.alpha_bars[7]))
    assert schedule.step_coefficients(-1) == (1.0, 0.0)
    rows_a, rows_b = schedule.coefficients(torch.tensor([7, 0]), (2, 4))
    assert rows_a.shape == (2, 1) and rows_b.shape == (2, 1)
    assert float(rows_a[0]) == pytest.approx(a) and float(rows_b[0]) == pytest.approx(b)


def test_unknown_prediction_type_is_named():
    assert check_prediction_type("v_prediction") == "v_prediction"
    for fn in (check_prediction_type,):
        with pytest.raises(ValueError, match="prediction_type must be one of"):
            fn("velocity")
    x = torch.zeros(2)
    with pytest.raises(ValueError, match="prediction_type must be one of"):
        to_eps(x, x, 1.0, 0.0, "velocity")
    with pytest.raises(ValueError, match="prediction_type must be one of"):
        to_x0(x, x, 1.0, 0.0, "velocity")
    with pytest.raises(ValueError, match="prediction_type must be one of"):
        training_target(x, x, 1.0, 0.0, "velocity")
