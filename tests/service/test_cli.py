"""The service as a real process: start-up checks, SIGKILL mid-request, concurrent clients."""

from __future__ import annotations

import concurrent.futures as cf
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from diffrisk.service.cli import EXIT_BAD_SETTINGS, EXIT_BUSY, EXIT_NO_CHECKPOINTS, main
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


def _send_and_hold(port: int, body: dict) -> socket.socket:
    """Send ``POST /scenarios`` on a raw connection and return it unread (close it to leave)."""
    data = json.dumps(body).encode()
    head = "POST /scenarios HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


def _wait_for_queue(client: httpx.Client, url: str, timeout: float = 30.0, **want: int) -> None:
    """Poll ``/ready`` until its queue figures equal ``want``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue = client.get(url + "/ready").json()["queue"]
        if all(queue[k] == v for k, v in want.items()):
            return
        time.sleep(0.01)
    raise AssertionError(f"the queue never reached {want}: {queue}")


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


@pytest.mark.parametrize("with_token", [False, True])
def test_openapi_contract_holds_under_schemathesis(pipeline, tmp_path, with_token):
    """Schemathesis (every check, bounded examples) against a real uvicorn process."""
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if cli is None:
        pytest.fail("schemathesis is not installed (requirements.txt pins it)")
    token = "contract-token-0123456789"
    extra = ["--max-paths", "64"]
    env_token = {"DIFFRISK_TOKEN": token} if with_token else {}
    db = f"sqlite:///{tmp_path / 'a.db'}"
    server = start_server(
        pipeline, tmp_path / "store", db, tmp_path / "s.log", *extra, env=env_token
    )
    cmd = [cli, "run", server.url + "/openapi.json", "--checks", "all", "--max-examples", "12"]
    cmd += ["--seed", "1", "--generation-database", "none", "--request-timeout", "30"]
    # schema-valid requests the served model refuses (horizon, weights sum, dates) are 422
    cmd += ["--exclude-checks", "positive_data_acceptance"]
    # POST /reverse-stress (another router) answers 503 until it is configured
    cmd += ["--exclude-path", "/reverse-stress"]
    if with_token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    finally:
        server.stop()
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


def test_a_burst_gets_results_or_503_and_the_log_stays_exact(pipeline, tmp_path, capsys):
    """Clients that give up while waiting never run; 6 concurrent repeats are drawn once;
    14 concurrent fresh sets against a queue of 3 each get a set or a 503 with Retry-After;
    audit rows equal requests; a second process over the same store refuses to start."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    extra = ("--max-queue", "3", "--max-paths", "20000")
    server = start_server(pipeline, tmp_path / "store", db, tmp_path / "s.log", *extra)
    fresh = [{"generator": "diffusion", "n_paths": 100, "seed": i} for i in range(14)]
    same = [{"generator": "bootstrap", "n_paths": 50, "seed": 99}] * 6
    try:
        with cf.ThreadPoolExecutor(20) as pool, httpx.Client(timeout=60) as client:
            # clients that give up while the model is busy leave the queue without running
            busy = {"generator": "diffusion", "n_paths": 20_000, "seed": 1}
            big = pool.submit(client.post, server.url + "/scenarios", json=busy)
            _wait_for_started_row(db)
            leavers = [_send_and_hold(server.port, {"seed": seed}) for seed in (101, 102)]
            _wait_for_queue(client, server.url, admitted=3)  # both wait behind the busy one
            assert not big.done(), "the busy request ended before the clients left"
            for sock in leavers:
                sock.close()
            _wait_for_queue(client, server.url, abandoned=2)
            assert big.result().status_code == 200
            answers = [
                a
                for batch in (same, fresh)  # identical requests first, then the burst
                for a in pool.map(lambda b: client.post(server.url + "/scenarios", json=b), batch)
            ]
            health = client.get(server.url + "/health")
        second = ["--store-dir", str(tmp_path / "store"), "--db-url", db]
        second += ["--models-dir", str(pipeline["models"]), "--stress-dir", str(pipeline["stress"])]
        second += ["--returns-file", str(pipeline["returns"])]
        assert main(second) == EXIT_BUSY
        assert "owned by another service process" in capsys.readouterr().err
    finally:
        server.stop()
    assert health.status_code == 200
    codes = [a.status_code for a in answers]
    assert set(codes) <= {200, 503} and codes.count(200) >= 8 and 503 in codes
    for a in answers:
        if a.status_code == 503:
            assert int(a.headers["retry-after"]) >= 1
            assert a.json()["detail"][0]["field"] == "server.queue"
    repeats = [a.json() for a in answers[:6]]
    assert [a.status_code for a in answers[:6]] == [200] * 6  # waiters take no queue slot
    assert len({r["id"] for r in repeats}) == 1
    assert sum(not r["cached"] for r in repeats) == 1  # drawn once
    rows = rows_of(db)
    gone = [r for r in rows if r["request"].get("seed") in (101, 102)]
    assert [r["status"] for r in gone] == ["failed"] * 2
    assert all("disconnected" in r["error"] for r in gone)
    rows = [r for r in rows if r not in gone and r["request"].get("n_paths") != 20_000]
    assert len(rows) == len(answers)  # one row per request, refused ones included
    by_id = {r["request_id"]: r for r in rows}
    for a in answers:
        if a.status_code == 200:
            row = by_id[a.json()["request_id"]]
            assert row["status"] == "completed" and row["cached"] == a.json()["cached"]
    assert sum(r["status"] == "failed" for r in rows) == codes.count(503)
