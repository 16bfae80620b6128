"""The service as a real process: start-up checks, SIGKILL mid-request, concurrent clients."""

from __future__ import annotations

import concurrent.futures as cf
import time

import httpx
import pytest

from diffrisk.service.cli import EXIT_BAD_SETTINGS, EXIT_NO_CHECKPOINTS, main
from diffrisk.service.store import ScenarioStore
from tests.service.conftest import rows_of, start_server


def test_refuses_a_non_loopback_host_without_token(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DIFFRISK_TOKEN", raising=False)
    assert main(["--host", "0.0.0.0", "--store-dir", str(tmp_path)]) == EXIT_BAD_SETTINGS
    assert "token is required" in capsys.readouterr().err
    monkeypatch.setenv("DIFFRISK_HOST", "10.1.2.3")
    assert main(["--store-dir", str(tmp_path)]) == EXIT_BAD_SETTINGS


def test_exits_non_zero_without_checkpoints(tmp_path, capsys):
    args = ["--models-dir", str(tmp_path / "none"), "--store-dir", str(tmp_path / "s")]
    args += ["--db-url", f"sqlite:///{tmp_path / 'a.db'}"]
    assert main(args) == EXIT_NO_CHECKPOINTS
    err = capsys.readouterr().err
    assert "stress.pt does not exist" in err and "make repro" in err


def _wait_for_started_row(db_url: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = [r for r in rows_of(db_url) if r["status"] == "started"]
        if started:
            return started[0]
        time.sleep(0.02)
    raise AssertionError("no request reached the log")


def test_concurrent_clients_then_sigkill_mid_request(pipeline, tmp_path, db_url):
    """One server per database (start-up is the slow part): a burst of 4 concurrent
    clients loses no log rows; then a SIGKILL mid-request, and a restart, leave the store
    and the log consistent."""
    store_dir = tmp_path / "store"
    server = start_server(pipeline, store_dir, db_url, tmp_path / "s.log", "--max-paths", "400000")
    n = 24
    bodies = [
        {"generator": ("normal", "bootstrap", "diffusion")[i % 3], "n_paths": 16, "seed": i % 8}
        for i in range(n)
    ]
    big = {"generator": "diffusion", "archetype": "volatility_x2", "n_paths": 300_000}
    pool = cf.ThreadPoolExecutor(4)
    try:
        with httpx.Client(timeout=60) as client:
            answers = list(
                pool.map(
                    lambda b: client.post(
                        server.url + "/scenarios", json=b, headers={"X-Requester": "load"}
                    ),
                    bodies,
                )
            )
        assert [a.status_code for a in answers] == [200] * n
        rows = rows_of(db_url)
        assert len(rows) == n and {r["status"] for r in rows} == {"completed"}
        assert sorted(r["set_id"] for r in rows) == sorted(a.json()["id"] for a in answers)
        assert len({a.json()["id"] for a in answers}) == len({str(b) for b in bodies})
        pending = pool.submit(httpx.post, server.url + "/scenarios", json=big, timeout=120)
        row = _wait_for_started_row(db_url)
        server.stop(kill=True)  # SIGKILL while the set is being generated
        with pytest.raises(httpx.HTTPError):
            pending.result(timeout=60)
    finally:
        server.stop(kill=True)
        pool.shutdown()
    store = ScenarioStore(store_dir)
    assert not store.exists(row["set_id"])  # nothing half-written is visible
    restarted = start_server(pipeline, store_dir, db_url, tmp_path / "s2.log")
    try:
        rows = {r["request_id"]: r for r in rows_of(db_url)}
        assert len(rows) == n + 1 and rows[row["request_id"]]["status"] == "interrupted"
        assert {r["status"] for r in rows.values()} == {"completed", "interrupted"}
        assert all(r["finished_at"] for r in rows.values())
        assert list(store.tmp.iterdir()) == []  # the killed writer's folder is removed
        for sid in store.ids():  # every stored set is whole
            assert store.metadata(sid)["id"] == sid and store.paths(sid).ndim == 3
        again = httpx.get(f"{restarted.url}/scenarios/{answers[0].json()['id']}", timeout=30)
        assert again.status_code == 200
    finally:
        restarted.stop()
