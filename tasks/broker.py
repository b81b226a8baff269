"""Dramatiq on Redis: the broker, its middleware, and the queue adapter.

Async jobs run on the AsyncIO middleware's event loop; Tortoise is initialised
on that same loop after the worker boots, because its connections belong to
one loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.broker import Consumer
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, Middleware, MiddlewareError

from opswatch import db, runtime
from opswatch.alerts.inbox import INGEST_QUEUE
from opswatch.config import Settings
from opswatch.events.base import EventBus
from opswatch.queue.registry import registered_jobs


class WorkerBootFailed(MiddlewareError):
    """The worker could not connect its database; it must not take jobs."""


class OpsWatchLifecycle(Middleware):
    """Connects the database and installs the runtime on the worker's loop.

    Both happen before the worker starts its consumer and worker threads, and are
    undone only after they stopped. (Dramatiq's "after boot" comes after the
    threads started: a message already waiting in Redis ran before the database
    was connected, failed, and went into the retry backoff, minutes for a job that
    allows few retries.) The AsyncIO middleware, added first, has its loop running
    before this boot hook and stops it after this shutdown hook (after-hooks run
    in reverse order).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._events: EventBus | None = None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("the AsyncIO middleware must come before OpsWatchLifecycle")
        try:
            loop_thread.run_coroutine(self._start(broker))
        except db.DatabaseUnavailable as error:
            # Dramatiq logs and ignores other errors of a boot hook, and the worker
            # would then take every job only to fail it.
            raise WorkerBootFailed(str(error)) from error

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            loop_thread.run_coroutine(self._stop())

    async def _start(self, broker: dramatiq.Broker) -> None:
        from opswatch.crypto import SecretBox

        await db.connect(self.settings.database_url)
        # Workers only publish live events; reading the feed is for API processes.
        events = self._events = runtime.build_events(self.settings)
        runtime.install(
            runtime.Runtime(
                settings=self.settings,
                secret_box=SecretBox(self.settings.secret_keys),
                queue=DramatiqQueue(broker),
                events=events,
            )
        )

    async def _stop(self) -> None:
        if self._events is not None:  # None: the boot failed before the runtime existed
            await self._events.stop()
        await db.disconnect()


class OpsWatchRedisBroker(RedisBroker):
    """Dramatiq's Redis broker, with a shorter idle poll for the ingest queue.

    An idle Redis consumer backs off up to a timeout between polls. Alerts must
    not wait for that, so the ingest queue is polled at most ``ingest_poll_ms``
    apart (an alert waits half of it on average); every other queue (and each
    delay queue) keeps the worker's own timeout, so that eight consumers do not
    each poll Redis a hundred times a second while nothing happens.
    """

    def __init__(self, *, ingest_poll_ms: int, **options: Any) -> None:
        super().__init__(**options)  # type: ignore[no-untyped-call]
        self.ingest_poll_ms = ingest_poll_ms

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        if queue_name == INGEST_QUEUE:
            timeout = min(timeout, self.ingest_poll_ms)
        return super().consume(queue_name, prefetch, timeout)


def build_broker(settings: Settings, *, ingest_poll_ms: int = 10) -> RedisBroker:
    assert settings.redis_url is not None
    broker = OpsWatchRedisBroker(
        url=settings.redis_url,
        namespace=settings.redis_namespace,
        ingest_poll_ms=ingest_poll_ms,
    )
    broker.add_middleware(AsyncIO())
    broker.add_middleware(OpsWatchLifecycle(settings))
    for spec in registered_jobs().values():
        dramatiq.Actor(
            spec.fn,
            broker=broker,
            actor_name=spec.name,
            queue_name=spec.queue_name,
            priority=0,
            options={
                "max_retries": spec.max_retries,
                "min_backoff": spec.min_backoff_ms,
                "max_backoff": spec.max_backoff_ms,
                "time_limit": spec.time_limit_ms,
            },
        )
    return broker


class DramatiqQueue:
    """Sends jobs to Redis; a worker process (``opswatch worker``) runs them."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broker = broker

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        # Dramatiq's RedisBroker.close() leaves its connection pool open.
        client = getattr(self.broker, "client", None)
        if client is not None:
            await asyncio.to_thread(client.connection_pool.disconnect)

    async def enqueue(self, name: str, kwargs: dict[str, Any], *, delay_ms: int = 0) -> None:
        actor = self.broker.get_actor(name)
        message = actor.message_with_options(kwargs=kwargs)
        # The Redis client is synchronous: keep it off the event loop.
        await asyncio.to_thread(self.broker.enqueue, message, delay=delay_ms or None)
