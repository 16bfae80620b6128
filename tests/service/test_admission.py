"""The bounded queue in front of the sampler: 503 when full, waits bounded, leavers dropped."""

from __future__ import annotations

import asyncio
import time

import pytest

from diffrisk.service.admission import Admission, ClientGone, Overloaded


class FakeRequest:
    def __init__(self, gone_after: float) -> None:
        self.t0, self.gone_after = time.monotonic(), gone_after

    async def is_disconnected(self) -> bool:
        return time.monotonic() - self.t0 > self.gone_after


def outcomes(adm: Admission, requests: list, work: float = 0.2) -> tuple[list, list]:
    ran: list[int] = []

    def job(i: int) -> int:
        ran.append(i)
        time.sleep(work)
        return i

    async def main() -> list:
        tasks = [adm.run(r, job, i) for i, r in enumerate(requests)]
        return await asyncio.gather(*tasks, return_exceptions=True)

    return asyncio.run(main()), ran


def test_a_full_queue_answers_overloaded_at_once_with_retry_after():
    adm = Admission(max_queue=2, timeout=10)
    tic = time.monotonic()
    out, ran = outcomes(adm, [None] * 5)
    assert out[:2] == [0, 1] and sorted(ran) == [0, 1]  # one at a time, two admitted
    assert all(isinstance(x, Overloaded) and x.retry_after >= 1 for x in out[2:])
    assert time.monotonic() - tic < 1.0 and adm.admitted == 0 and adm.stats()["rejected_full"] == 3


def test_the_wait_is_bounded():
    out, ran = outcomes(Admission(max_queue=3, timeout=0.3), [None] * 3, work=0.5)
    assert out[0] == 0 and ran == [0]
    assert all(isinstance(x, Overloaded) for x in out[1:])


def test_a_client_that_left_is_dropped_before_it_runs():
    adm = Admission(max_queue=4, timeout=10, poll=0.02)
    out, ran = outcomes(adm, [None, FakeRequest(0.05), None], work=0.3)
    assert out[0] == 0 and isinstance(out[1], ClientGone) and out[2] == 2
    assert ran == [0, 2] and adm.stats()["abandoned"] == 1


def test_a_client_that_left_is_dropped_when_the_model_comes_free():
    """No disconnect check falls inside the wait (poll 10 s): the one made when the lock
    is granted drops the client that left meanwhile."""
    adm = Admission(max_queue=4, timeout=10, poll=10)
    out, ran = outcomes(adm, [None, FakeRequest(0.05), None], work=0.3)
    assert out[0] == 0 and isinstance(out[1], ClientGone) and out[2] == 2
    assert ran == [0, 2] and adm.stats()["abandoned"] == 1 and adm.admitted == 0


def test_errors_of_the_work_propagate_and_free_the_model():
    adm = Admission(max_queue=2, timeout=5)

    def bad() -> None:
        raise ValueError("broken draw")

    async def main() -> int:
        with pytest.raises(ValueError, match="broken"):
            await adm.run(None, bad)
        return await adm.run(None, lambda: 7)

    assert asyncio.run(main()) == 7
