"""Redis Streams event bus for the production shape.

All events go to one capped stream, so every API process reads them with ONE
blocking XREAD and fans them out in-process, instead of holding a Redis
connection per WebSocket subscriber. Cursors are stream ids; replay is an
XRANGE from the subscriber's cursor over the retained window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from opswatch.errors import InvalidInput
from opswatch.events.base import CursorExpired, LiveEvent, Subscription, replay_then_live

log = logging.getLogger(__name__)

REPLAY_LIMIT = 10_000


def _cursor_key(cursor: str) -> tuple[int, int]:
    millis, _, sequence = cursor.partition("-")
    if not millis.isdigit() or not sequence.isdigit():
        raise InvalidInput(f"after: {cursor!r} is not a cursor of this feed", field="after")
    return int(millis), int(sequence)


def _decode(entry_id: bytes | str, fields: dict[Any, Any]) -> LiveEvent:
    def text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    return LiveEvent(
        topic=text(fields[b"topic"]),
        tenant_id=text(fields[b"tenant"]),
        kind=text(fields[b"kind"]),
        data=orjson.loads(fields[b"data"]),
        cursor=text(entry_id),
    )


class RedisEventBus:
    def __init__(self, url: str, *, stream: str, retention: int = 10_000) -> None:
        # Typed as Any: redis-py's stubs describe every reply as a union of all shapes.
        self._redis: Any = aioredis.Redis.from_url(url)
        self._retention = retention
        self._stream = stream
        self._subscriptions: set[Subscription] = set()
        self._reader: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        if self._reader is None:
            tail = await self._redis.xrevrange(self._stream, count=1)
            last_id = tail[0][0] if tail else b"0-0"
            self._reader = asyncio.get_running_loop().create_task(self._read_forever(last_id))

    async def stop(self) -> None:
        self._stopping.set()
        if self._reader is not None:
            # redis-py may turn a cancellation inside a blocking read into a
            # connection error; the flag ends the loop either way.
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(self._reader, 5)
            self._reader = None
        for subscription in list(self._subscriptions):
            subscription.offer(None)
        await self._redis.aclose()

    async def publish(self, event: LiveEvent) -> str:
        return (await self.publish_many([event]))[0]

    async def publish_many(self, events: list[LiveEvent]) -> list[str]:
        # One pipeline: a batch of 500 alerts is one round trip, not 500 in a row.
        pipe: Any = self._redis.pipeline(transaction=False)
        for event in events:
            pipe.xadd(
                self._stream,
                {
                    "topic": event.topic,
                    "tenant": event.tenant_id,
                    "kind": event.kind,
                    "data": orjson.dumps(event.data),
                },
                maxlen=self._retention,
                approximate=True,
            )
        entry_ids = await pipe.execute()
        return [e.decode() if isinstance(e, bytes) else str(e) for e in entry_ids]

    async def subscribe(
        self, *, topic: str, tenant_id: str, after: str | None = None
    ) -> AsyncIterator[LiveEvent]:
        floor = _cursor_key(after) if after is not None else None
        subscription = Subscription(topic, tenant_id)
        self._subscriptions.add(subscription)
        try:
            replay: list[LiveEvent] = []
            if floor is not None:
                if await self._trimmed_after(floor):
                    raise CursorExpired
                entries = await self._redis.xrange(
                    self._stream, min=f"({floor[0]}-{floor[1]}", count=REPLAY_LIMIT
                )
                replay = [
                    event
                    for event in (_decode(entry_id, fields) for entry_id, fields in entries)
                    if subscription.matches(event)
                ]
            async for event in replay_then_live(subscription, replay, _cursor_key):
                yield event
        finally:
            self._subscriptions.discard(subscription)

    async def _trimmed_after(self, floor: tuple[int, int]) -> bool:
        """Whether the capped stream may have dropped an event newer than ``floor``.

        Trimming keeps no record of what it dropped, so this errs on the safe side:
        a cursor older than the first retained entry, once anything was trimmed.
        """
        try:
            info = await self._redis.xinfo_stream(self._stream)
        except ResponseError:  # no stream yet: nothing was ever dropped
            return False
        if int(info.get("entries-added", 0)) <= int(info.get("length", 0)):
            return False
        first = info.get("recorded-first-entry-id")
        if first is None:
            return False
        text = first.decode() if isinstance(first, bytes) else str(first)
        return floor < _cursor_key(text)

    async def _read_forever(self, last_id: bytes | str) -> None:
        while not self._stopping.is_set():
            try:
                batches = await self._redis.xread({self._stream: last_id}, block=1000, count=500)
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("reading live events from Redis failed; retrying")
                await asyncio.sleep(1)
                continue
            for _stream, entries in batches or []:
                for entry_id, fields in entries:
                    last_id = entry_id
                    event = _decode(entry_id, fields)
                    for subscription in self._subscriptions:
                        if subscription.matches(event):
                            subscription.offer(event)
