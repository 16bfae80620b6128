"""Latency and throughput of the scenario service on loopback (real uvicorn process).

Serves the pipeline's checkpoint ``models/stress.pt`` (run ``make repro`` first) from a
fresh store and SQLite log in a temporary folder, and measures:

1. fresh: a 1,000-path 20-day request of the diffusion model (new seed each time, after
   one unmeasured warm-up set),
   p50/p95 over ``--fresh`` requests (goal p95 <= 3 s);
2. repeated: the same request again, served from the store, p50/p95 over ``--repeat``
   requests (goal p95 <= 50 ms);
3. throughput: ``--clients`` concurrent clients sending ``--requests`` requests in all
   (fresh ``--throughput-paths``-path diffusion sets, distinct seeds), with the count of
   errors and of audit rows lost (rows not ``completed``, or missing).

With ``--student PATH`` (a stress student distilled from ``models/stress.pt``, e.g. by
``benchmarks/bench_stress_distill.py --save``) the server also serves it as
``diffusion_student`` and step 1 measures the teacher and the student in the same run,
alternating request by request (same seeds, same archetype, one warm-up set each).

Run: ``.venv/bin/python benchmarks/bench_service.py [--student <student.pt>]``
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from diffrisk.service.audit_log import AuditLog


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def quantiles(seconds: list[float]) -> str:
    ms = 1000 * np.asarray(seconds)
    return (
        f"p50 {np.percentile(ms, 50):8.1f} ms   p95 {np.percentile(ms, 95):8.1f} ms (n={ms.size})"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fresh", type=int, default=20)
    p.add_argument("--torch-threads", type=int, default=1, help="the service's model threads")
    p.add_argument("--repeat", type=int, default=100)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--throughput-paths", type=int, default=100)
    p.add_argument("--archetype", default="volatility_x2")
    p.add_argument("--student", default="", help="also serve and time this stress student")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-"))
    db = f"sqlite:///{tmp / 'audit.db'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    cmd = [sys.executable, "-m", "diffrisk.service", "--port", str(port), "--db-url", db]
    cmd += ["--store-dir", str(tmp / "store"), "--log-level", "warning"]
    cmd += ["--torch-threads", str(args.torch_threads)]
    generators = ["diffusion"]
    if args.student:
        cmd += ["--stress-student", args.student]
        generators.append("diffusion_student")
    server = subprocess.Popen(cmd, env=env)
    try:
        for _ in range(600):
            if server.poll() is not None:
                sys.exit(f"the service exited with status {server.returncode}")
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        client = httpx.Client(base_url=url, timeout=600)
        body = {"archetype": args.archetype, "n_paths": 1000, "horizon": 20}
        fresh: dict[str, list[float]] = {g: [] for g in generators}
        model: dict[str, list[float]] = {g: [] for g in generators}
        for g in generators:  # one warm-up set each (the first call allocates), not measured
            client.post(
                "/scenarios", json={**body, "generator": g, "seed": 999_999}
            ).raise_for_status()
        for seed in range(args.fresh):
            for g in generators:
                tic = time.perf_counter()
                r = client.post("/scenarios", json={**body, "generator": g, "seed": seed})
                fresh[g].append(time.perf_counter() - tic)
                r.raise_for_status()
                model[g].append(r.json()["metadata"]["timestamps"]["generation_seconds"])
        for g in generators:
            print(f"{g}: fresh 1,000-path 20-day set: {quantiles(fresh[g])}")
            print(f"  of which the model's sampler: {quantiles(model[g])}")
        print(f"  load average during the run: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
        repeat = []
        for _ in range(args.repeat):
            tic = time.perf_counter()
            r = client.post("/scenarios", json={**body, "seed": 0})
            repeat.append(time.perf_counter() - tic)
            assert r.json()["cached"] is True
        print(f"repeat (served from store):    {quantiles(repeat)}")
        tbody = {"archetype": args.archetype, "n_paths": args.throughput_paths}

        def one(seed: int) -> int:
            return client.post("/scenarios", json={**tbody, "seed": 10_000 + seed}).status_code

        tic = time.perf_counter()
        with cf.ThreadPoolExecutor(args.clients) as pool:
            codes = list(pool.map(one, range(args.requests)))
        wall = time.perf_counter() - tic
        errors = sum(c != 200 for c in codes)
        log = AuditLog(db)
        total = len(generators) * (1 + args.fresh) + args.repeat + args.requests
        completed = log.count("completed")
        log.close()
        print(
            f"throughput: {args.requests} fresh {args.throughput_paths}-path sets, "
            f"{args.clients} clients: {args.requests / wall:.2f} req/s ({wall:.1f} s), "
            f"errors {errors}, audit rows lost {total - completed} (of {total})"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
