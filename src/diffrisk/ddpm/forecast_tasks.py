"""Scenario generation as Dask tasks: ranges of whole sampler chunks, numbers unchanged.

:func:`diffrisk.diffusion.sampler.sample` draws every condition's scenarios from one
seeded generator, chunk after chunk. :func:`sample_on_dask` splits the chunks into
contiguous ranges, one task each (:func:`diffrisk.core.compute.compute_map`): the
generator state at the start of every chunk is replayed first without the network
(:func:`diffrisk.diffusion.sampler.chunk_states`), and every task gets the network, the
encoded conditions of its chunks and the state at the start of its first chunk. A range
never splits a chunk, so the network sees exactly the batches of the one-process run and
the same noise: the concatenated result is byte-identical to
:func:`diffrisk.diffusion.sampler.sample` for any number of workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from diffrisk.core.compute import compute_map
from diffrisk.diffusion.sampler import (
    CHUNK_ELEMENTS,
    chunk_rows,
    chunk_states,
    resolve_steps,
    sample,
)
from diffrisk.diffusion.schedule import NoiseSchedule


def chunk_ranges(n_chunks: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous, non-empty ranges ``[a, b)`` covering ``range(n_chunks)``.

    Sizes differ by at most one (the first ranges are the longer ones); fewer ranges when
    there are fewer chunks than ``parts``.

    Examples
    --------
    >>> chunk_ranges(7, 3)
    [(0, 3), (3, 5), (5, 7)]
    """
    if int(parts) < 1:
        raise ValueError(f"parts must be >= 1, got {parts!r}")
    n = int(n_chunks)
    k = min(int(parts), n)
    ranges, start = [], 0
    for i in range(k):
        stop = start + n // k + (i < n % k)
        ranges.append((start, stop))
        start = stop
    return ranges


@dataclass(frozen=True)
class ChunkTask:
    """One task: a contiguous range of whole chunks of the sampler.

    Attributes
    ----------
    net : torch.nn.Module
        The network (with ``predict_eps``), shipped whole to the worker.
    schedule : NoiseSchedule
    cond : Tensor (b, cond_dim)
        Encoded conditions of the range's chunks (``b`` is a multiple of the chunk's rows,
        except for a range that holds the last chunk).
    n_scenarios : int
    state : ByteTensor
        ``torch.Generator.get_state()`` at the start of the range's first chunk.
    options : mapping
        Keyword arguments of :func:`~diffrisk.diffusion.sampler.sample` (``method``,
        ``n_steps``, ``eta``, ``spacing``, ``noise``, ``order``, ``variance``).
    threads : int
        Torch intra-op threads inside the task (the calling process's setting).
    """

    net: nn.Module
    schedule: NoiseSchedule
    cond: torch.Tensor
    n_scenarios: int
    state: torch.Tensor
    options: Mapping[str, Any]
    threads: int


def run_chunk_task(task: ChunkTask) -> torch.Tensor:
    """Sample the conditions of one :class:`ChunkTask` from its starting state, (b, N)."""
    torch.set_num_threads(int(task.threads))
    gen = torch.Generator()
    gen.set_state(task.state)
    return sample(
        task.net,
        task.schedule,
        task.cond,
        task.n_scenarios,
        generator=gen,
        progress=False,
        **task.options,
    )


def sample_on_dask(
    net: nn.Module,
    schedule: NoiseSchedule,
    cond: torch.Tensor,
    n_scenarios: int,
    *,
    generator: torch.Generator,
    workers: int,
    scheduler: str | None = None,
    **options: Any,
) -> torch.Tensor:
    """:func:`~diffrisk.diffusion.sampler.sample` split into ranges of chunks on Dask.

    Parameters
    ----------
    net, schedule, cond, n_scenarios, generator
        As in :func:`~diffrisk.diffusion.sampler.sample` (the default chunk size).
    workers : int
        Ranges of chunks (tasks) and worker processes of the embedded cluster (see
        :func:`diffrisk.core.compute.compute_map`).
    scheduler : str, optional
        Address of a running Dask scheduler.
    **options
        ``method``, ``n_steps``, ``eta``, ``spacing``, ``noise``, ``order``, ``variance``
        (and optionally ``steps``) of :func:`~diffrisk.diffusion.sampler.sample`.

    Returns
    -------
    Tensor (B, N) float32
        Byte-identical to ``sample(net, schedule, cond, n_scenarios, generator=generator,
        **options)``; ``generator`` is left where that call would leave it.
    """
    method = options.get("method", "ddim")
    steps = resolve_steps(
        method, schedule, options.get("n_steps"), options.get("spacing", "logsnr"),
        options.get("steps"),
    )  # fmt: skip
    replay = {k: options[k] for k in ("eta", "noise") if k in options}
    states = chunk_states(
        int(cond.shape[0]), n_scenarios, steps, generator=generator, method=method, **replay
    )
    rows = chunk_rows(n_scenarios, CHUNK_ELEMENTS)
    threads = torch.get_num_threads()
    tasks = [
        ChunkTask(
            net=net,
            schedule=schedule,
            cond=cond[a * rows : b * rows].clone(),
            n_scenarios=int(n_scenarios),
            state=states[a],
            options=dict(options),
            threads=threads,
        )
        for a, b in chunk_ranges(len(states), workers)
    ]
    parts = compute_map(run_chunk_task, tasks, workers, scheduler=scheduler, desc="scenarios")
    return torch.cat(parts) if parts else torch.empty(0, int(n_scenarios))
