"""The live-event interface shared by the in-process and Redis buses.

Every event carries a cursor. A subscriber that passes ``after`` first gets
the retained events it missed, then live ones, in order and without
duplicates: the subscriber registers for live events *before* it replays,
and drops live events at or before the last cursor it has already yielded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from opswatch.errors import InvalidInput


@dataclass(frozen=True)
class LiveEvent:
    topic: str  # e.g. "alerts", "oncall", "incidents"
    tenant_id: str
    kind: str
    data: dict[str, Any]
    cursor: str = ""


class EventBus(Protocol):
    async def publish(self, event: LiveEvent) -> str:
        """Publish and return the event's cursor."""

    async def publish_many(self, events: list[LiveEvent]) -> list[str]:
        """Publish in order, in one round trip where the bus has round trips."""

    def subscribe(
        self, *, topic: str, tenant_id: str, after: str | None = None
    ) -> AsyncIterator[LiveEvent]:
        """Events of one topic and tenant: those after ``after`` first, then live ones."""

    async def start(self) -> None:
        """Start fanning out (a no-op where nothing needs to run)."""

    async def stop(self) -> None:
        """Stop, ending every open subscription."""


class CursorExpired(InvalidInput):
    """The feed no longer holds every event after the cursor: resuming would hide a gap."""

    code = "cursor_expired"

    def __init__(self) -> None:
        super().__init__(
            "after: events after this cursor are no longer retained; reload the current "
            "state, then subscribe without a cursor",
            field="after",
        )


class Subscription:
    """One subscriber's inbox of live events, filled by the bus's fan-out."""

    def __init__(self, topic: str, tenant_id: str, max_pending: int = 10_000) -> None:
        self.topic = topic
        self.tenant_id = tenant_id
        self.queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(max_pending)
        self.overflowed = False

    def matches(self, event: LiveEvent) -> bool:
        return event.topic == self.topic and event.tenant_id == self.tenant_id

    def offer(self, event: LiveEvent | None) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # A subscriber this far behind is dropped; it reconnects with its cursor.
            self.overflowed = True


async def replay_then_live(
    subscription: Subscription,
    replay: list[LiveEvent],
    cursor_key: Callable[[str], Any],
) -> AsyncIterator[LiveEvent]:
    last: Any = None
    for event in replay:
        last = cursor_key(event.cursor)
        yield event
    while True:
        if subscription.overflowed:
            return
        live = await subscription.queue.get()
        if live is None:
            return
        key = cursor_key(live.cursor)
        if last is not None and key <= last:
            continue
        last = key
        yield live
