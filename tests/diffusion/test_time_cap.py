"""Tests of diffrisk.diffusion.time_cap: the cap honoured by the shared training loop."""

from __future__ import annotations

import time

import pytest
import torch

from diffrisk.diffusion.time_cap import stop_for_time, time_cap
from diffrisk.diffusion.training import TrainOptions, train_denoiser


class _Rows:
    def __init__(self, n: int) -> None:
        self.x = torch.randn(n, 3, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx):
        return self.x[idx]


def _slow_loss(net, batch, gen):
    time.sleep(0.05)  # one batch per epoch: each epoch lasts >= 50 ms
    return ((net(batch) - batch) ** 2).mean()


def _train(epochs: int):
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 3)
    options = TrainOptions(batch_size=64, max_epochs=epochs, patience=epochs, ema_decay=0.0)
    return train_denoiser(
        net, _Rows(32), options, seed=0, loss_fn=_slow_loss, val_loss_fn=lambda m: 1.0
    )


def test_no_cap_outside_a_scope():
    assert stop_for_time(1e9, 1e9) is False
    assert _train(3).epochs_run == 3


def test_the_loop_stops_before_an_epoch_past_the_cap():
    with time_cap(0.12) as cap:
        result = _train(50)
    assert cap.hit
    assert 1 <= result.epochs_run < 50 and result.stopped_early
    # it stopped because one more epoch of the last one's length would pass the cap
    last = result.history[-1]["seconds"]
    assert result.wall_time + last > 0.12
    with time_cap(3600) as roomy:
        assert _train(3).epochs_run == 3
    assert not roomy.hit


def test_at_least_one_epoch_runs():
    with time_cap(1e-6):
        assert _train(5).epochs_run == 1


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_bad_caps_are_refused(bad):
    with pytest.raises(ValueError, match="training-time cap"), time_cap(bad):
        pass
