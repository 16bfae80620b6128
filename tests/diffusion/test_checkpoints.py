"""Checkpoints: atomic writes, the same bytes for the same payload, no wall times stored."""

import io

import pytest
import torch

from diffrisk.diffusion.checkpoints import (
    is_timing_key,
    metrics_without_timings,
    read_checkpoint,
    restore_weights,
    save_checkpoint,
    without_timings,
)


def test_restore_weights_loads_the_state_dict_and_sets_eval_mode():
    torch.manual_seed(0)
    source = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.5))
    target = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.5)).train()
    out = restore_weights(target, {"state_dict": source.state_dict()})
    assert out is target and not target.training
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_read_checkpoint_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"checkpoint .*absent\.pt does not exist"):
        read_checkpoint(tmp_path / "absent.pt")


def test_timing_keys_are_the_wall_clock_ones():
    timing = ("seconds", "recording_seconds", "wall_time_s", "select_wall_time_s")
    assert all(is_timing_key(k) for k in timing)
    assert not any(is_timing_key(k) for k in ("epoch", "val_loss", "best_epoch", 3, None))


def test_without_timings_drops_every_wall_clock_key_and_keeps_the_rest():
    history = [
        {"epoch": 1, "val_loss": 0.5, "seconds": 2.25, "recording_seconds": 1.0},
        {"epoch": 2, "val_loss": 0.4, "seconds": 2.5},
    ]
    kept = [{"epoch": 1, "val_loss": 0.5}, {"epoch": 2, "val_loss": 0.4}]
    assert without_timings(history) == kept
    assert history[0]["seconds"] == 2.25  # the input is not changed


def test_a_checkpoint_stores_its_history_without_wall_times(tmp_path):
    history = [{"epoch": 1, "val_loss": 0.5, "seconds": 2.25}]
    slower = [{"epoch": 1, "val_loss": 0.5, "seconds": 9.75}]
    a = save_checkpoint(tmp_path / "a.pt", {"kind": "x", "history": history})
    b = save_checkpoint(tmp_path / "b.pt", {"kind": "x", "history": slower})
    assert a.read_bytes() == b.read_bytes()
    assert read_checkpoint(a)["history"] == [{"epoch": 1, "val_loss": 0.5}]
    assert history[0]["seconds"] == 2.25  # the caller's payload is not changed


def test_a_checkpoint_stores_its_metrics_without_wall_times(tmp_path):
    def metrics(seconds):
        return {
            "best_epoch": 3,
            "wall_time_s": seconds,
            "select_wall_time_s": seconds / 2,
            "history": [{"epoch": 1, "val_loss": 0.5, "seconds": seconds / 4}],
            "config": {"lr": 1e-3},
        }

    fast = {"kind": "x", "metrics": metrics(8.0)}
    a = save_checkpoint(tmp_path / "a.pt", fast)
    b = save_checkpoint(tmp_path / "b.pt", {"kind": "x", "metrics": metrics(30.5)})
    assert a.read_bytes() == b.read_bytes()
    expected = {"best_epoch": 3, "history": [{"epoch": 1, "val_loss": 0.5}], "config": {"lr": 1e-3}}
    assert read_checkpoint(a)["metrics"] == metrics_without_timings(fast["metrics"]) == expected
    assert fast["metrics"]["wall_time_s"] == 8.0  # the caller's metrics are not changed
    # a payload without timings is written unchanged (the stress checkpoints)
    plain = {"kind": "x", "metrics": {"best_epoch": 3}}
    c = save_checkpoint(tmp_path / "c.pt", plain)
    buffer = io.BytesIO()
    torch.save(plain, buffer)
    assert c.read_bytes() == buffer.getvalue()
