"""The shared training loop on a model and dataset of any shape (custom loss)."""

import logging
import math
from dataclasses import asdict
from types import SimpleNamespace

import pytest
import torch

from diffrisk.diffusion.training import (
    EPOCH_KEYS,
    EPOCH_RECORD,
    TrainOptions,
    check_field_range,
    check_positive_fields,
    train_denoiser,
)
from tests.support.logs import captured_records


class Rows:
    """A dataset: rows of a tensor, selected with ``take``."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def take(self, index: torch.Tensor) -> torch.Tensor:
        return self.x[index]


def mean_loss(model, batch, gen):
    """Squared error of a constant predictor (its optimum is the data mean)."""
    return torch.mean((model(torch.ones(batch.shape[0], 1)) - batch) ** 2)


def test_custom_loss_trains_a_model_of_any_shape_to_its_optimum():
    # data (n, 2, 3) with mean 2.5 per element: the bias of a linear map from a constant
    # input must reach the mean (the loss is convex; 200 epochs of Adam at lr 0.05)
    torch.manual_seed(0)
    data = Rows(2.5 + 0.1 * torch.randn(256, 2, 3))
    model = torch.nn.Sequential(torch.nn.Linear(1, 6, bias=False), torch.nn.Unflatten(1, (2, 3)))
    options = TrainOptions(lr=0.05, batch_size=64, max_epochs=200, ema_decay=0.0)
    result = train_denoiser(model, data, options, seed=0, loss_fn=mean_loss)
    model.load_state_dict(result.state_dict)
    assert result.epochs_run == 200 and result.best_epoch == 200  # no validation: last epoch
    assert model(torch.ones(1, 1)).detach() == pytest.approx(torch.full((1, 2, 3), 2.5), abs=0.02)
    assert math.isnan(result.history[0]["val_loss"])


def test_validation_loss_function_selects_the_epoch_and_stops_early():
    # a validation loss that is best at epoch 3 and worse afterwards: epoch 3 is selected
    # and training stops after `patience` worse epochs
    data = Rows(torch.randn(32, 4))
    model = torch.nn.Linear(1, 4)
    curve = iter([5.0, 4.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    options = TrainOptions(batch_size=16, max_epochs=8, patience=2, min_epochs=1)
    result = train_denoiser(
        model,
        data,
        options,
        seed=0,
        loss_fn=mean_loss,
        val_loss_fn=lambda net: next(curve),
    )
    assert result.best_epoch == 3 and result.best_score == 1.0
    assert result.epochs_run == 5 and result.stopped_early
    assert [h["val_loss"] for h in result.history] == [5.0, 4.0, 1.0, 2.0, 3.0]


def test_every_epoch_logs_one_record_that_rebuilds_its_history_entry():
    # the per-epoch record is a contract (benchmarks/bench_stress_distill.py rebuilds each
    # distillation stage's epochs from it): format EPOCH_RECORD, arguments desc + entry
    data = Rows(torch.randn(32, 4))
    options = TrainOptions(batch_size=16, max_epochs=3, ema_decay=0.0)
    with captured_records("diffrisk.diffusion.training", logging.INFO) as caught:
        result = train_denoiser(
            torch.nn.Linear(1, 4), data, options, seed=0, loss_fn=mean_loss, desc="toy"
        )
    records = [r for r in caught if r.msg == EPOCH_RECORD]
    assert [r.args[0] for r in records] == ["toy"] * 3
    rebuilt = [dict(zip(EPOCH_KEYS, r.args[1:], strict=True)) for r in records]
    assert [h["epoch"] for h in rebuilt] == [1, 2, 3]
    for entry, history in zip(rebuilt, result.history, strict=True):
        assert entry["epoch"] == history["epoch"]
        assert entry["train_loss"] == history["train_loss"]
        assert entry["seconds"] == history["seconds"]
        assert math.isnan(entry["val_loss"]) and math.isnan(history["val_loss"])
    assert records[0].getMessage().startswith("toy, epoch 1: train ")


def test_non_finite_loss_raises_before_the_step():
    data = Rows(torch.randn(8, 2))
    model = torch.nn.Linear(1, 2)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(FloatingPointError, match="training loss became nan"):
        train_denoiser(
            model,
            data,
            TrainOptions(batch_size=8, max_epochs=1),
            seed=0,
            loss_fn=lambda m, b, g: mean_loss(m, b, g) * math.nan,
        )
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))


def test_check_positive_fields_names_the_first_bad_field_with_its_owner():
    opts = TrainOptions()
    check_positive_fields(opts, ("batch_size", "max_epochs"))
    with pytest.raises(ValueError, match=r"^Cfg\.patience must be >= 1, got 0$"):
        check_positive_fields(SimpleNamespace(a=2, patience=0, b=0), ("a", "patience", "b"), "Cfg")
    with pytest.raises(ValueError, match=r"^batch_size must be >= 1, got 0$"):
        TrainOptions(batch_size=0)


def test_check_field_range_names_the_first_field_outside_its_range():
    cfg = SimpleNamespace(a=0.0, b=0.999, c=1.0, d=-0.5, e=float("nan"))
    check_field_range(cfg, ("a", "b"), "in [0, 1)", "Cfg")
    with pytest.raises(ValueError, match=r"^Cfg\.c must be in \[0, 1\), got 1\.0$"):
        check_field_range(cfg, ("a", "c", "d"), "in [0, 1)", "Cfg")
    with pytest.raises(ValueError, match=r"^Cfg\.a must be > 0, got 0\.0$"):
        check_field_range(cfg, ("b", "a"), "> 0", "Cfg")
    check_field_range(cfg, ("a", "e"), ">= 0", "Cfg")  # NaN is not < 0
    with pytest.raises(ValueError, match=r"^Cfg\.d must be >= 0, got -0\.5$"):
        check_field_range(cfg, ("a", "d"), ">= 0", "Cfg")


def test_train_options_from_fields_reads_same_named_attributes():
    source = SimpleNamespace(**{k: v for k, v in asdict(TrainOptions(lr=0.5)).items()})
    del source.noise_draws
    opts = TrainOptions.from_fields(source, noise_draws=3, max_epochs=7)
    assert opts == TrainOptions(lr=0.5, noise_draws=3, max_epochs=7)
    with pytest.raises(AttributeError):
        TrainOptions.from_fields(source)
