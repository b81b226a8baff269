"""The embedded twin of the Dramatiq queue: jobs run as tasks on this event loop.

It keeps Dramatiq's promises that matter (retries with exponential backoff,
delays, a time limit) but not durability: work that must survive a crash is
written to the database first (the alert inbox) and swept up again.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from typing import Any

from opswatch.queue.registry import JobSpec, get_job

log = logging.getLogger(__name__)


class InProcessQueue:
    def __init__(self, *, concurrency: int = 32) -> None:
        # Slots per queue, as a worker process gives each queue capacity of its own:
        # thousands of paging jobs of a storm must not hold every slot while the
        # next alert's processing waits for one.
        self._concurrency = concurrency
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._accepting = True
        self.failures: list[tuple[str, BaseException]] = []
        # Jobs queued but not yet started, by name and arguments: the same job asked
        # for again before it starts would only repeat its work (inbox processing is
        # asked for on every commit, and one run takes everything pending).
        self._not_started: set[tuple[str, str]] = set()

    async def start(self) -> None:
        self._accepting = True

    async def enqueue(self, name: str, kwargs: dict[str, Any], *, delay_ms: int = 0) -> None:
        if not self._accepting:
            raise RuntimeError("the in-process queue is stopped")
        spec = get_job(name)
        if delay_ms <= 0:
            key = (name, repr(sorted(kwargs.items())))
            if key in self._not_started:
                return
            self._not_started.add(key)
        self._schedule(spec, dict(kwargs), attempt=0, delay_ms=delay_ms)

    async def drain(self, timeout: float = 30.0, *, delayed: bool = True) -> None:
        """Wait until no job is running or waiting (tests and shutdown use this).
        With ``delayed=False``, jobs scheduled for later (retries, throttled sends)
        are left waiting."""
        if delayed:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.wait(set(self._tasks))

    async def stop(self) -> None:
        self._accepting = False
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        for task in self._tasks:
            task.cancel()
        self._update_idle()

    def _schedule(
        self, spec: JobSpec, kwargs: dict[str, Any], *, attempt: int, delay_ms: int
    ) -> None:
        loop = asyncio.get_running_loop()
        self._idle.clear()
        if delay_ms > 0:
            handle: asyncio.TimerHandle | None = None

            def fire() -> None:
                if handle is not None:
                    self._timers.discard(handle)
                self._spawn(spec, kwargs, attempt)

            handle = loop.call_later(delay_ms / 1000, fire, context=contextvars.Context())
            self._timers.add(handle)
        else:
            self._spawn(spec, kwargs, attempt)

    def _spawn(self, spec: JobSpec, kwargs: dict[str, Any], attempt: int) -> None:
        # A fresh context, as a job on a worker would have: the enqueuer's context
        # may hold its open database transaction (Tortoise keeps it in a ContextVar).
        task = asyncio.get_running_loop().create_task(
            self._run(spec, kwargs, attempt), context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._update_idle()

    def _update_idle(self) -> None:
        if not self._tasks and not self._timers:
            self._idle.set()

    async def _run(self, spec: JobSpec, kwargs: dict[str, Any], attempt: int) -> None:
        slots = self._slots.setdefault(spec.queue_name, asyncio.Semaphore(self._concurrency))
        async with slots:
            self._not_started.discard((spec.name, repr(sorted(kwargs.items()))))
            try:
                await asyncio.wait_for(spec.fn(**kwargs), spec.time_limit_ms / 1000)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if attempt >= spec.max_retries:
                    log.exception(
                        "job %s failed for good after %d attempts", spec.name, attempt + 1
                    )
                    self.failures.append((spec.name, error))
                    return
                backoff = min(spec.max_backoff_ms, spec.min_backoff_ms * 2**attempt)
                delay = int(backoff * random.uniform(0.5, 1.0))
                log.warning(
                    "job %s failed (%s); retry %d in %d ms", spec.name, error, attempt + 1, delay
                )
                if self._accepting:
                    self._schedule(spec, kwargs, attempt=attempt + 1, delay_ms=delay)
