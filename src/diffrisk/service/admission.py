"""Admission control: a bounded queue in front of the sampler.

One model call runs at a time (the model lock). :meth:`Admission.run` admits a request
only while fewer than ``max_queue`` are admitted (running or waiting); otherwise it
raises :class:`Overloaded` at once (the service answers 503 with ``Retry-After``). A
waiting request whose client disconnects leaves the queue without running
(:class:`ClientGone`; checked while it waits and once more when the model comes free),
and one that waits longer than ``timeout`` gets 503, so every request gets a result or
a 503 within a bounded time. A model call that has started
runs to completion (its set is stored and serves the next identical request).

The queue lives on the event loop (no thread is held while waiting); the model call runs
on a worker thread. Routers added to the application (e.g. ``POST /reverse-stress``)
use the same queue through ``request.app.state.service.admission.run(request, fn, ...)``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from anyio import to_thread
from starlette.requests import Request

T = TypeVar("T")


class Overloaded(RuntimeError):
    """The queue is full, or the wait for the model exceeded the timeout."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = int(retry_after)


class ClientGone(RuntimeError):
    """The client disconnected while its request waited for the model."""


class Admission:
    """The bounded queue (see the module docstring).

    Parameters
    ----------
    max_queue : int
        Requests admitted at once (running + waiting).
    timeout : float
        Seconds a request may wait for the model.
    poll : float, default 0.1
        Interval of the disconnect checks while waiting.
    """

    def __init__(self, max_queue: int, timeout: float, poll: float = 0.1) -> None:
        self.max_queue, self.timeout, self.poll = int(max_queue), float(timeout), float(poll)
        self.admitted = 0
        self.running = 0
        self.rejected = 0
        self.abandoned = 0
        self._lock: asyncio.Lock | None = None
        self._mean_seconds = 1.0

    def stats(self) -> dict[str, Any]:
        """Queue figures for ``/ready``."""
        return {
            "admitted": self.admitted,
            "running": self.running,
            "max_queue": self.max_queue,
            "rejected_full": self.rejected,
            "abandoned": self.abandoned,
        }

    def retry_after(self) -> int:
        """Seconds a client should wait before retrying (the queue's expected drain time)."""
        return max(1, round(self._mean_seconds * max(self.admitted, 1)))

    async def run(self, request: Request | None, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on a worker thread holding the model lock, if admitted.

        Raises
        ------
        Overloaded
            If the queue is full or the wait exceeds the timeout.
        ClientGone
            If the client disconnected while waiting.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        if self.admitted >= self.max_queue:
            self.rejected += 1
            raise Overloaded(
                f"the generation queue is full ({self.max_queue} requests)", self.retry_after()
            )
        self.admitted += 1
        try:
            await self._acquire(request)
            try:
                self.running += 1
                tic = time.perf_counter()
                out = await to_thread.run_sync(fn, *args, abandon_on_cancel=False)
                self._mean_seconds = 0.8 * self._mean_seconds + 0.2 * (time.perf_counter() - tic)
                return out
            finally:
                self.running -= 1
                self._lock.release()
        finally:
            self.admitted -= 1

    async def _acquire(self, request: Request | None) -> None:
        assert self._lock is not None
        deadline = time.monotonic() + self.timeout
        task = asyncio.ensure_future(self._lock.acquire())
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.poll)
                if done:
                    task.result()
                await self._drop_if_gone(request)  # also when the model just came free
                if done:
                    return
                if time.monotonic() > deadline:
                    raise Overloaded(f"waited {self.timeout:g} s for the model", self.retry_after())
        except BaseException:
            if task.done() and not task.cancelled() and task.exception() is None:
                self._lock.release()
            else:
                task.cancel()
            raise

    async def _drop_if_gone(self, request: Request | None) -> None:
        if request is not None and await request.is_disconnected():
            self.abandoned += 1
            raise ClientGone("the client disconnected while waiting for the model")
