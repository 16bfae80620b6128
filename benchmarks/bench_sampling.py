"""Sampling speed of the DDPM: scenarios per second for DDPM and DDIM, and the wall time of
a full test-period generation (500 scenarios x ~1000 days x 22 series).

Speed does not depend on the weights, so by default an untrained network with the
default ``DDPMConfig`` shape is timed (pass ``--checkpoint`` to time a trained one).

Usage::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_sampling.py --threads 1 2 --full
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.model import load_checkpoint
from diffrisk.ddpm.network import Denoiser
from diffrisk.diffusion.sampler import sample


def build(checkpoint: str | None, n_series: int):
    if checkpoint:
        model = load_checkpoint(checkpoint)
        return model.net, model.schedule, model.config
    cfg = DDPMConfig()
    torch.manual_seed(0)
    net = Denoiser(cfg.denoiser_spec(n_series))
    schedule = cfg.noise_schedule()
    net.use_gaussian_skip(schedule.sqrt_one_minus_alpha_bars)
    return net.eval(), schedule, cfg


def conditions(net: Denoiser, n: int) -> tuple[torch.Tensor, float]:
    """Encode n random conditioning windows; returns (cond, seconds)."""
    spec = net.spec
    gen = torch.Generator().manual_seed(1)
    win = torch.randn(n, spec.window_channels, spec.window_length, generator=gen)
    feats = torch.randn(n, spec.n_features, generator=gen)
    sidx = torch.zeros(n, dtype=torch.long)
    tic = time.perf_counter()
    with torch.no_grad():
        cond = torch.cat(
            [
                net.encode(win[i : i + 8192], feats[i : i + 8192], sidx[i : i + 8192])
                for i in range(0, n, 8192)
            ]
        )
    return cond, time.perf_counter() - tic


def timed(net, schedule, cond, n_scenarios, **kw) -> float:
    tic = time.perf_counter()
    out = sample(
        net,
        schedule,
        cond,
        n_scenarios,
        generator=torch.Generator().manual_seed(0),
        progress=False,
        **kw,
    )
    assert torch.isfinite(out).all()
    return time.perf_counter() - tic


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--n-scenarios", type=int, default=500)
    ap.add_argument("--days", type=int, default=1006)
    ap.add_argument("--series", type=int, default=22)
    ap.add_argument("--steps", type=int, nargs="+", default=[10, 20])
    ap.add_argument(
        "--probe-conditions", type=int, default=440, help="conditions used to measure scenarios/s"
    )
    ap.add_argument(
        "--full",
        action="store_true",
        help="also time the full days x series batch with DDIM (else extrapolate)",
    )
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args()
    net, schedule, cfg = build(args.checkpoint, args.series)
    n_total = args.days * args.series
    results = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        cond, _ = conditions(net, args.probe_conditions)
        n_samples = args.probe_conditions * args.n_scenarios
        row = {"threads": threads, "n_scenarios": args.n_scenarios}
        sec = timed(net, schedule, cond, args.n_scenarios, method="ddpm")
        row["ddpm_T"] = schedule.n_steps
        row["ddpm_scenarios_per_s"] = n_samples / sec
        row["ddpm_full_s_extrapolated"] = sec * n_total / args.probe_conditions
        for steps in args.steps:
            sec = timed(
                net,
                schedule,
                cond,
                args.n_scenarios,
                method="ddim",
                n_steps=steps,
                order=cfg.order,
                noise="stratified",
            )
            row[f"ddim{steps}_scenarios_per_s"] = n_samples / sec
            row[f"ddim{steps}_full_s_extrapolated"] = sec * n_total / args.probe_conditions
        if args.full:
            full_cond, enc_s = conditions(net, n_total)
            row["encode_full_s"] = enc_s
            for steps in args.steps:
                row[f"ddim{steps}_full_s"] = enc_s + timed(
                    net,
                    schedule,
                    full_cond,
                    args.n_scenarios,
                    method="ddim",
                    n_steps=steps,
                    order=cfg.order,
                    noise="stratified",
                )
        results.append(row)
        print(
            json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}),
            flush=True,
        )
    if args.out:
        from diffrisk.core import io

        io.write_json(args.out, {"days": args.days, "series": args.series, "results": results})


if __name__ == "__main__":
    main()
