"""The content-addressed store: ids, atomic writes, deterministic download bytes."""

from __future__ import annotations

import io
import threading

import numpy as np
import pandas as pd
import pytest

from diffrisk.service.store import ScenarioStore, check_id, npz_bytes, set_id

ASSETS = ["A", "B"]


def paths(seed=0):
    return np.random.default_rng(seed).normal(size=(5, 3, 2)).astype(np.float32)


def test_set_id_is_canonical_and_sensitive():
    a = set_id({"seed": 1, "weights": {"A": 0.5, "B": 0.5}}, "v1", "d")
    assert a == set_id({"weights": {"B": 0.5, "A": 0.5}, "seed": 1}, "v1", "d")
    assert a != set_id({"seed": 2, "weights": {"A": 0.5, "B": 0.5}}, "v1", "d")
    assert a != set_id({"seed": 1, "weights": {"A": 0.5, "B": 0.5}}, "v2", "d")
    assert a != set_id({"seed": 1, "weights": {"A": 0.5, "B": 0.5}}, "v1", "e")
    assert check_id(a) == a


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a" * 63, "A" * 64, "a" * 64 + "/x", ""])
def test_ids_are_validated(tmp_path, bad):
    with pytest.raises(ValueError, match="64 lower-case hex"):
        ScenarioStore(tmp_path).folder(bad)


def test_npz_bytes_are_deterministic_and_loadable():
    first = npz_bytes(paths(), ASSETS)
    assert first == npz_bytes(paths(), ASSETS)
    with np.load(io.BytesIO(first)) as z:
        np.testing.assert_array_equal(z["paths"], paths())
        assert list(z["assets"]) == ASSETS


def test_write_read_and_idempotence(tmp_path):
    store, sid = ScenarioStore(tmp_path), "ab" * 32
    assert not store.exists(sid)
    assert store.write(sid, paths(), ASSETS, {"id": sid}) is True
    assert store.write(sid, paths(1), ASSETS, {"id": "other"}) is False  # first write stays
    assert store.metadata(sid) == {"id": sid}
    np.testing.assert_array_equal(store.paths(sid), paths())
    table = pd.read_parquet(store.download(sid, "parquet"))
    assert list(table.columns) == ["path", "day", "A", "B"] and table["day"].max() == 3
    np.testing.assert_array_equal(table["B"].to_numpy().reshape(5, 3), paths()[:, :, 1])
    assert store.ids() == [sid] and list(store.tmp.iterdir()) == []
    other = ScenarioStore(tmp_path / "other")
    other.write(sid, paths(), ASSETS, {"id": sid})
    for fmt in ("npz", "parquet"):
        assert other.download(sid, fmt).read_bytes() == store.download(sid, fmt).read_bytes()
    with pytest.raises(FileNotFoundError):
        store.metadata("cd" * 32)


def test_concurrent_writers_and_readers_never_see_half_a_set(tmp_path):
    store, sid = ScenarioStore(tmp_path), "ef" * 32
    seen, results = [], []

    def read():
        for _ in range(200):
            if store.exists(sid):
                seen.append(store.paths(sid).shape)

    def write():
        results.append(store.write(sid, paths(), ASSETS, {"id": sid}))

    threads = [threading.Thread(target=read)] + [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert all(s == (5, 3, 2) for s in seen)
    assert list(store.tmp.iterdir()) == []


def test_clean_removes_leftovers_of_a_killed_writer(tmp_path):
    store = ScenarioStore(tmp_path)
    (store.tmp / "abc.123").mkdir()
    (store.tmp / "abc.123" / "paths.npy").write_bytes(b"half")
    assert store.clean() == 1 and list(store.tmp.iterdir()) == [] and store.ids() == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: f.joinpath("metadata.json").write_text("{", encoding="utf-8"),  # truncated
        lambda f: f.joinpath("metadata.json").unlink(),  # deleted
        lambda f: f.joinpath("paths.npz").write_bytes(f.joinpath("paths.npz").read_bytes()[:-7]),
        lambda f: f.joinpath("paths.npy").write_bytes(  # same size, one byte flipped
            f.joinpath("paths.npy").read_bytes()[:-1] + b"\x00"
        ),
        lambda f: f.joinpath("checksums.json").unlink(),
    ],
)
def test_a_damaged_set_is_quarantined_never_served_and_can_be_written_again(tmp_path, damage):
    store, sid = ScenarioStore(tmp_path), "ab" * 32
    store.write(sid, paths(), ASSETS, {"id": sid})
    assert store.exists(sid)
    damage(store.folder(sid))
    with pytest.raises(FileNotFoundError):
        store.download(sid, "npz")
    assert not store.exists(sid) and store.ids() == []
    (quarantined,) = store.quarantine.iterdir()
    assert quarantined.name.startswith(sid)
    assert store.write(sid, paths(), ASSETS, {"id": sid}) is True  # regenerated
    np.testing.assert_array_equal(store.paths(sid), paths())
