"""Model identity from the weights only, not from the checkpoint file's bytes."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
import torch

from diffrisk.core.audit import file_sha256
from diffrisk.diffusion.checkpoints import save_checkpoint
from diffrisk.diffusion.weights_hash import model_version, state_dict_sha256, weights_sha256


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))


def _payload(net: torch.nn.Module, wall_times: list[float]) -> dict:
    history = [
        {"epoch": i, "loss": 1.0 / (i + 1), "wall_time": t} for i, t in enumerate(wall_times)
    ]
    return {"state_dict": net.state_dict(), "history": history, "fit_end": "2019-12-31"}


def test_same_weights_other_wall_times_same_version(tmp_path):
    net = _net(0)
    a = save_checkpoint(tmp_path / "a.pt", _payload(net, [1.25, 2.5]))
    b = save_checkpoint(tmp_path / "b.pt", _payload(net, [9.75, 0.125, 3.0]))
    assert file_sha256(a) != file_sha256(b)  # the files differ ...
    assert weights_sha256(a) == weights_sha256(b)  # ... the weights do not
    assert model_version("stress", "2019-12-31", weights_sha256(a)) == model_version(
        "stress", "2019-12-31", weights_sha256(b)
    )


def test_different_weights_different_version(tmp_path):
    a = save_checkpoint(tmp_path / "a.pt", _payload(_net(0), [1.0]))
    b = save_checkpoint(tmp_path / "b.pt", _payload(_net(1), [1.0]))
    assert weights_sha256(a) != weights_sha256(b)
    assert model_version("stress", "2019-12-31", weights_sha256(a)) != model_version(
        "stress", "2019-12-31", weights_sha256(b)
    )
    # one changed bit of one weight changes the hash
    state = _net(0).state_dict()
    before = state_dict_sha256(state)
    state["0.bias"][0] = torch.nextafter(state["0.bias"][0], torch.tensor(1e9))
    assert state_dict_sha256(state) != before


def test_hash_is_sha256_of_named_bytes_in_name_order():
    state = {"b": torch.tensor([1.0], dtype=torch.float32), "a": torch.arange(2)}
    h = hashlib.sha256()
    h.update(b"a|torch.int64|(2,)|")
    h.update(torch.arange(2).numpy().tobytes())
    h.update(b"b|torch.float32|(1,)|")
    h.update(torch.tensor([1.0], dtype=torch.float32).numpy().tobytes())
    assert state_dict_sha256(state) == h.hexdigest()
    assert state_dict_sha256(dict(reversed(list(state.items())))) == h.hexdigest()


def test_payload_without_weights_is_refused():
    with pytest.raises(ValueError, match="state_dict"):
        weights_sha256({"history": []})


def test_model_version_strings():
    sha = "ab12" * 16
    assert model_version("stress", "2019-12-31", sha) == "stress@fit_end=2019-12-31#ab12ab12ab12"
    assert model_version("stress", pd.Timestamp("2014-12-31 00:00")) == "stress@fit_end=2014-12-31"
    assert model_version("normal", "2014-12-31") == "normal@fit_end=2014-12-31"
    with pytest.raises(ValueError, match="generator must be a non-empty name"):
        model_version(" ", "2014-12-31")
