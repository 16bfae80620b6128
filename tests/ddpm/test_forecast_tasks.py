"""Tests of diffrisk.ddpm.forecast_tasks: ranges of whole chunks and their tasks."""

import numpy as np
import pytest
import torch

from diffrisk.ddpm.forecast_tasks import ChunkTask, chunk_ranges, run_chunk_task, sample_on_dask
from diffrisk.diffusion.sampler import chunk_states, sample
from diffrisk.diffusion.schedule import NoiseSchedule
from tests.diffusion.test_sampler import GaussianOracle


@pytest.mark.parametrize(("n_chunks", "parts"), [(7, 3), (3, 5), (10, 2), (1, 1), (0, 4)])
def test_chunk_ranges_cover_the_chunks_in_order(n_chunks, parts):
    ranges = chunk_ranges(n_chunks, parts)
    assert len(ranges) == min(n_chunks, parts)
    covered = [k for a, b in ranges for k in range(a, b)]
    assert covered == list(range(n_chunks))  # contiguous, in order, no overlap
    sizes = [b - a for a, b in ranges]
    assert all(s >= 1 for s in sizes) and (not sizes or max(sizes) - min(sizes) <= 1)
    assert sizes == sorted(sizes, reverse=True)


def test_chunk_ranges_refuses_no_parts():
    with pytest.raises(ValueError, match="parts must be >= 1"):
        chunk_ranges(3, 0)


def test_one_task_reproduces_its_chunks_with_the_callers_threads():
    # 9 conditions x 4096 scenarios: chunks of 8 rows (the default 2^15 elements)
    schedule = NoiseSchedule.create("linear", 20, beta_start=1e-3, beta_end=0.2)
    cond = torch.stack([torch.linspace(-1, 1, 9), torch.linspace(0.5, 2, 9)], dim=1)
    oracle = GaussianOracle(schedule)
    options = {"method": "ddpm", "noise": "iid"}
    full = sample(
        oracle, schedule, cond, 4096, generator=torch.Generator().manual_seed(2), **options
    )
    states = chunk_states(
        9, 4096, np.arange(19, -1, -1), generator=torch.Generator().manual_seed(2), **options
    )
    task = ChunkTask(oracle, schedule, cond[8:], 4096, states[1], options, threads=1)
    assert torch.equal(run_chunk_task(task), full[8:])
    # in process (workers=1) the split is one range: the whole sample, same bytes
    gen = torch.Generator().manual_seed(2)
    got = sample_on_dask(oracle, schedule, cond, 4096, generator=gen, workers=1, **options)
    assert torch.equal(got, full)
