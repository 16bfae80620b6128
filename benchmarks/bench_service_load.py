"""The scenario service under concurrent load: throughput, p50/p95, and /health meanwhile.

Starts a real uvicorn service process on 127.0.0.1 (fresh store and SQLite log in a
temporary folder) and, for 8 and then 60 concurrent clients, sends ``--requests``
requests per client (fresh diffusion sets of ``--paths`` paths, distinct seeds) while
a separate process polls ``/health``. Reports per load: throughput (answered requests per
second), p50/p95 latency of the 200 answers, count of 503 (queue full / wait too long,
with ``Retry-After``), other errors, the largest time to any answer, and p95 of
``/health``; then checks that the audit rows equal the requests (rejected ones included).

Models: the pipeline's outputs (``make repro``) by default; ``--tiny`` trains the toy
pipeline of ``tests/service/conftest.py`` (a one-epoch smoke checkpoint on synthetic
returns) in the temporary folder, for machines without a trained model.

Run: ``.venv/bin/python benchmarks/bench_service_load.py --tiny``
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diffrisk.service.audit_log import AuditLog  # noqa: E402

_POLLER = """
import sys, time, httpx
with httpx.Client(timeout=30) as c:
    while True:
        tic = time.perf_counter()
        c.get(sys.argv[1])
        print(time.perf_counter() - tic, flush=True)
        time.sleep(0.05)
"""


def tiny_pipeline(root: Path) -> dict[str, Path]:
    """The service tests' toy pipeline outputs, written under ``root``."""
    from tests.service import conftest

    class Factory:
        def mktemp(self, name: str) -> Path:
            path = root / name
            path.mkdir(parents=True, exist_ok=True)
            return path

    return conftest.pipeline.__wrapped__(Factory())


def load(url: str, clients: int, per_client: int, paths: int, seed0: int) -> dict[str, float]:
    """``clients`` concurrent clients, ``per_client`` requests each, /health polled meanwhile."""
    poller = subprocess.Popen(  # its own process: the 60 client threads cannot delay it
        [sys.executable, "-c", _POLLER, url + "/health"], stdout=subprocess.PIPE, text=True
    )
    time.sleep(0.5)

    def client(k: int) -> list[tuple[int, float]]:
        out = []
        with httpx.Client(timeout=60) as c:
            for i in range(per_client):
                body = {"generator": "diffusion", "n_paths": paths, "seed": seed0 + k * 100 + i}
                tic = time.perf_counter()
                r = c.post(url + "/scenarios", json=body, headers={"X-Requester": "bench"})
                out.append((r.status_code, time.perf_counter() - tic))
        return out

    tic = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        results = [x for part in pool.map(client, range(clients)) for x in part]
    wall = time.perf_counter() - tic
    poller.terminate()
    health = [float(x) for x in poller.communicate()[0].split()]
    ok = np.array([s for c, s in results if c == 200])
    return {
        "clients": clients,
        "requests": len(results),
        "ok": len(ok),
        "503": sum(c == 503 for c, _ in results),
        "other_errors": sum(c not in (200, 503) for c, _ in results),
        "throughput_ok_per_s": len(ok) / wall,
        "p50_s": float(np.percentile(ok, 50)) if len(ok) else float("nan"),
        "p95_s": float(np.percentile(ok, 95)) if len(ok) else float("nan"),
        "max_any_s": max(s for _, s in results),
        "health_p95_s": float(np.percentile(health, 95)),
        "health_n": len(health),
    }


def main() -> None:
    """Parse options, start the server, run both loads, print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="use the tests' toy pipeline")
    p.add_argument("--requests", type=int, default=3, help="requests per client")
    p.add_argument("--paths", type=int, default=200, help="paths per set")
    p.add_argument("--max-queue", type=int, default=8)
    args = p.parse_args()
    from tests.service.conftest import start_server

    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        tmp_path = Path(tmp)
        if args.tiny:
            pipe = tiny_pipeline(tmp_path)
        else:
            from diffrisk.core import paths

            pipe = {
                "models": paths.models_dir(),
                "stress": paths.stress_dir(),
                "returns": paths.returns_file(),
            }
        db = f"sqlite:///{tmp_path / 'audit.db'}"
        extra = ("--max-queue", str(args.max_queue))
        server = start_server(pipe, tmp_path / "store", db, tmp_path / "server.log", *extra)
        try:
            rows = []
            for k, clients in enumerate((8, 60)):
                rows.append(load(server.url, clients, args.requests, args.paths, 10_000 * k))
        finally:
            server.stop()
        log = AuditLog(db)
        n_rows = log.count()
        log.close()
    print(
        f"paths per set {args.paths}, requests per client {args.requests}, "
        f"max_queue {args.max_queue}, tiny={args.tiny}"
    )
    for r in rows:
        print(
            f"{r['clients']:>3} clients: {r['requests']} requests, {r['ok']} ok, "
            f"{r['503']} x 503, {r['other_errors']} other; {r['throughput_ok_per_s']:.2f} ok/s; "
            f"p50 {r['p50_s']:.3f} s, p95 {r['p95_s']:.3f} s; slowest answer "
            f"{r['max_any_s']:.2f} s; /health p95 {r['health_p95_s'] * 1000:.1f} ms "
            f"({r['health_n']} polls)"
        )
    total = sum(r["requests"] for r in rows)
    print(f"audit rows {n_rows} for {total} requests")


if __name__ == "__main__":
    main()
