"""Live events, in-process and on Redis Streams: replay after a cursor, then live,
in order, without duplicates, one tenant at a time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from opswatch.errors import InvalidInput
from opswatch.events.base import CursorExpired, EventBus, LiveEvent
from opswatch.events.memory import MemoryEventBus
from opswatch.events.redis import RedisEventBus
from tests.conftest import require_redis


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    instance: EventBus
    if request.param == "memory":
        instance = MemoryEventBus(retention=100)
    else:
        instance = RedisEventBus(
            require_redis(), stream=f"opswatch-test:{uuid.uuid4().hex}:events", retention=100
        )
    await instance.start()
    yield instance
    await instance.stop()


def event(tenant: str, n: int) -> LiveEvent:
    return LiveEvent(topic="alerts", tenant_id=tenant, kind="CREATED", data={"n": n})


async def take(stream: AsyncIterator[LiveEvent], count: int) -> list[LiveEvent]:
    async def collect() -> list[LiveEvent]:
        return [await anext(stream) for _ in range(count)]

    return await asyncio.wait_for(collect(), 5)


async def test_resume_replays_what_was_missed_then_continues_live(bus: EventBus) -> None:
    cursors = [await bus.publish(event("acme", n)) for n in range(5)]
    await bus.publish(event("globex", 99))
    stream = bus.subscribe(topic="alerts", tenant_id="acme", after=cursors[1])
    replayed = await take(stream, 3)
    assert [e.data["n"] for e in replayed] == [2, 3, 4]
    assert [e.cursor for e in replayed] == cursors[2:]

    await bus.publish(event("globex", 100))
    await bus.publish(event("acme", 5))
    live = await take(stream, 1)
    assert live[0].data == {"n": 5}
    await stream.aclose()  # type: ignore[attr-defined]


async def test_without_a_cursor_only_live_events_arrive(bus: EventBus) -> None:
    await bus.publish(event("acme", 0))
    stream = bus.subscribe(topic="alerts", tenant_id="acme")
    pending = asyncio.ensure_future(take(stream, 2))
    await asyncio.sleep(0.1)
    await bus.publish(event("acme", 1))
    await bus.publish(event("acme", 2))
    assert [e.data["n"] for e in await pending] == [1, 2]
    await stream.aclose()  # type: ignore[attr-defined]


async def test_a_malformed_cursor_is_invalid_input(bus: EventBus) -> None:
    with pytest.raises(InvalidInput):
        await anext(bus.subscribe(topic="alerts", tenant_id="acme", after="yesterday"))


async def test_a_cursor_older_than_the_retained_window_is_refused_not_silently_gapped(
    bus: EventBus,
) -> None:
    first = await bus.publish(event("acme", 0))
    for n in range(1, 400):
        await bus.publish(event("acme", n))
    with pytest.raises(CursorExpired):
        await anext(bus.subscribe(topic="alerts", tenant_id="acme", after=first))
