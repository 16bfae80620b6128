"""Fixtures of the service tests: a tiny pipeline output tree and a real server process.

``pipeline`` writes what ``make repro`` leaves for the service, at toy size: a stress
checkpoint trained for one short epoch on synthetic returns, its audit record, the
returns file, the ``stress_generate`` index and sidecars (written with the pipeline's
own :func:`generate_scenario_set` / :func:`write_scenario_set`) and the ``reverse_stress``
stage's serving record (:data:`SERVING`: two sectors and an attribution that is not the
library default, so that an answer shows it used the record).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import httpx
import pytest
import torch

from diffrisk.core import io
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.service.settings import ServiceSettings
from diffrisk.stress.archetypes import Archetype
from diffrisk.stress.config import StressConfig
from diffrisk.stress.fit import train_stress_model
from diffrisk.stress.model import save_stress_model
from diffrisk.stress.reverse_serving import SERVING_FILE, library_defaults, write_serving
from diffrisk.stress.scenario_sets import generate_scenario_set, write_scenario_set
from tests.stress.conftest import TRAIN_END, VAL_END, VAL_START, synthetic_returns
from tests.support.postgres import free_port

DATA_SHA = "d" * 64
ROOT = Path(__file__).resolve().parents[2]
ARCHETYPES = [
    Archetype("unconditional"),
    Archetype("volatility_x2", {"vol_ratio": 2.0}),
    Archetype("crash", {"vol_ratio": 2.5, "cum_return": -0.08}, as_of="2004-03-01"),
]
GUIDANCE = {"unconditional": 1.25, "volatility_x2": 2.0, "crash": 1.5}
#: The toy pipeline's reverse stress settings (its checkpoint hash is added when written).
SERVING = replace(
    library_defaults(), sectors="g1=A0,A1; g2=A2", attribution="top_decile", source="toy stage"
)


@pytest.fixture(scope="package")
def pipeline(tmp_path_factory) -> dict[str, Path]:
    """Folders ``models``, ``stress`` and the returns file of a toy pipeline run."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("pipeline")
    returns = synthetic_returns()
    frame = returns.assign(portfolio=returns.mean(axis=1))  # extra columns are ignored
    returns_file = root / "data" / "processed" / "returns.parquet"
    io.write_parquet(returns_file, frame)
    config = StressConfig.smoke()
    model = train_stress_model(
        returns, (TRAIN_END, VAL_START, VAL_END), config, seed=3, progress=False
    )
    ckpt = save_stress_model(model, root / "models" / "stress.pt")
    sha = weights_sha256(ckpt)
    io.write_json(
        root / "models" / "stress.audit.json",
        {
            "checkpoint_sha256": sha,
            "data_sha256": DATA_SHA,
            "outputs": {"best_val_loss": 0.97, "best_epoch": 1, "epochs_run": 1},
            "utc_timestamp": "2026-01-01T00:00:00+00:00",
        },
    )
    stress = root / "data" / "stress"
    for arch in ARCHETYPES:
        paths_, meta = generate_scenario_set(
            model,
            returns,
            arch,
            [arch.as_of or ""],
            8,
            guidance=GUIDANCE[arch.name],
            seed=1,
            n_steps=5,
            prior_neighbours=20 if arch.name == "unconditional" else 0,
            checkpoint_sha256=sha,
            data_sha256=DATA_SHA,
            params={"bootstrap_block": 5},
        )
        write_scenario_set(stress / f"diffusion_{arch.name}.npz", paths_, meta)
    io.write_json(
        stress / "index.json",
        {"archetypes": [asdict(a) for a in ARCHETYPES], "checkpoint_sha256": sha, "horizon": 10},
    )
    write_serving(root / "models" / SERVING_FILE, replace(SERVING, checkpoint_sha256=sha))
    return {"models": root / "models", "stress": stress, "returns": returns_file}


def make_settings(pipeline: dict[str, Path], store: Path, db_url: str, **kw) -> ServiceSettings:
    """Settings of a service over the toy pipeline."""
    return ServiceSettings(
        models_dir=pipeline["models"],
        returns_file=pipeline["returns"],
        stress_dir=pipeline["stress"],
        store_dir=store,
        db_url=db_url,
        max_paths=kw.pop("max_paths", 5000),
        allowed_hosts=kw.pop("allowed_hosts", "localhost,127.0.0.1,::1,testserver"),
        **kw,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty audit database: SQLite file, and a database on the throw-away PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    return request.getfixturevalue("postgres_url")


def server_command(pipeline: dict[str, Path], store: Path, db_url: str, port: int, *extra: str):
    """The command line of a real service process over the toy pipeline."""
    return [
        sys.executable,
        "-m",
        "diffrisk.service",
        "--port",
        str(port),
        "--models-dir",
        str(pipeline["models"]),
        "--returns-file",
        str(pipeline["returns"]),
        "--stress-dir",
        str(pipeline["stress"]),
        "--store-dir",
        str(store),
        "--db-url",
        db_url,
        "--log-level",
        "warning",
        *extra,
    ]


class Server:
    """A service process on 127.0.0.1 (started by :func:`start_server`)."""

    def __init__(self, cmd: list[str], port: int, log: Path, env: dict | None = None) -> None:
        self.cmd, self.port, self.log = cmd, port, log
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "DIFFRISK_ROOT": str(ROOT), **(env or {})}
        self.proc = subprocess.Popen(
            cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {log.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {log.read_text()}")

    def stop(self, kill: bool = False) -> None:
        """Terminate (or SIGKILL) the process and wait for it."""
        if self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
        self.proc.wait(timeout=30)


def start_server(pipeline, store, db_url, log: Path, *extra: str, env=None) -> Server:
    """Start a real uvicorn service process over the toy pipeline on a free port."""
    port = free_port()
    return Server(server_command(pipeline, store, db_url, port, *extra), port, log, env)


def rows_of(db: str) -> list[dict]:
    """Every audit row (through the public AuditLog API)."""
    from diffrisk.service.audit_log import AuditLog

    log = AuditLog(db)
    try:
        return log.query(limit=100_000)
    finally:
        log.close()


def dump(obj) -> str:
    return json.dumps(obj, sort_keys=True)
