"""Two schedulers, one lease: only one enqueues ticks at a time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from opswatch.queue import job
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from tasks import scheduler
from tasks.scheduler import Scheduler, try_acquire_lease

ticked: list[str] = []


@job("tests.tick")
async def tick() -> None:
    ticked.append("tick")


async def test_only_one_of_two_concurrent_schedulers_holds_the_lease() -> None:
    now = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    results = await asyncio.gather(
        *(try_acquire_lease(f"scheduler-{i}", now=now) for i in range(2))
    )
    assert sorted(results) == [False, True]
    holder = "scheduler-0" if results[0] else "scheduler-1"
    other = "scheduler-1" if results[0] else "scheduler-0"
    assert await try_acquire_lease(holder, now=now + timedelta(seconds=5))  # renewal
    assert not await try_acquire_lease(other, now=now + timedelta(seconds=10))
    # The holder died: after the lease runs out, the other takes over.
    assert await try_acquire_lease(other, now=now + timedelta(seconds=60))
    assert not await try_acquire_lease(holder, now=now + timedelta(seconds=61))


async def test_ticks_are_enqueued_by_the_lease_holder_only(app_runtime: Runtime) -> None:
    ticked.clear()
    scheduler.periodic("tests.tick", every_seconds=3600)
    try:
        first, second = Scheduler(holder="a"), Scheduler(holder="b")
        sent = [await first.tick_once(), await second.tick_once(), await first.tick_once()]
        assert isinstance(app_runtime.queue, InProcessQueue)
        await app_runtime.queue.drain()
    finally:
        scheduler.TICKS[:] = [t for t in scheduler.TICKS if t.job != "tests.tick"]
    assert "tests.tick" in sent[0]
    assert sent[1] == []  # not the lease holder
    assert "tests.tick" not in sent[2]  # not due again yet
    assert ticked == ["tick"]
