"""In-process event bus for the embedded shape: a bounded ring, integer cursors."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import replace

from opswatch.errors import InvalidInput
from opswatch.events.base import CursorExpired, LiveEvent, Subscription, replay_then_live


def _cursor_key(cursor: str) -> int:
    if not cursor.isdigit():
        raise InvalidInput(f"after: {cursor!r} is not a cursor of this feed", field="after")
    return int(cursor)


class MemoryEventBus:
    def __init__(self, *, retention: int = 10_000) -> None:
        self._ring: deque[LiveEvent] = deque(maxlen=retention)
        self._sequence = itertools.count(1)
        self._subscriptions: set[Subscription] = set()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.offer(None)

    async def publish(self, event: LiveEvent) -> str:
        stamped = replace(event, cursor=str(next(self._sequence)))
        self._ring.append(stamped)
        for subscription in self._subscriptions:
            if subscription.matches(stamped):
                subscription.offer(stamped)
        return stamped.cursor

    async def publish_many(self, events: list[LiveEvent]) -> list[str]:
        return [await self.publish(event) for event in events]

    async def subscribe(
        self, *, topic: str, tenant_id: str, after: str | None = None
    ) -> AsyncIterator[LiveEvent]:
        subscription = Subscription(topic, tenant_id)
        self._subscriptions.add(subscription)
        try:
            replay: list[LiveEvent] = []
            if after is not None:
                floor = _cursor_key(after)
                oldest = _cursor_key(self._ring[0].cursor) if self._ring else None
                if oldest is not None and floor < oldest - 1:
                    raise CursorExpired
                replay = [
                    e
                    for e in self._ring
                    if subscription.matches(e) and _cursor_key(e.cursor) > floor
                ]
            async for event in replay_then_live(subscription, replay, _cursor_key):
                yield event
        finally:
            self._subscriptions.discard(subscription)
