"""Dramatiq on Redis: the broker, its middleware, the workers, and the queue adapter.

Async jobs run on the AsyncIO middleware's event loop; Tortoise is initialised
on that same loop after the worker boots, because its connections belong to
one loop.

A worker process runs two Dramatiq workers on that one loop (a bulkhead): one
with threads of its own for the ingest queue, one for every other queue
(paging, Slack, housekeeping). A Dramatiq thread waits for the job it runs, so
eight paging jobs each waiting ten seconds for an unreachable provider would
otherwise hold every thread while alerts wait. Both workers share the loop, the
database connections and the runtime, which are set up once for the first
worker to boot and taken down after the last one stopped.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
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

# Dramatiq runs the message it holds with the lowest number first: a worker taking
# ingest and other queues together takes the alerts first.
INGEST_PRIORITY = 0
OTHER_PRIORITY = 10


class WorkerBootFailed(MiddlewareError):
    """The worker could not connect its database; it must not take jobs."""


class _Shared:
    """Set-up done for the first of several users and undone after the last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0

    def enter(self, start: Callable[[], None]) -> None:
        with self._lock:
            if self._users == 0:
                start()  # raises: no user was added
            self._users += 1

    def leave(self, stop: Callable[[], None]) -> None:
        with self._lock:
            if self._users == 0:
                return  # its boot failed: nothing to undo
            self._users -= 1
            if self._users == 0:
                stop()


class SharedAsyncIO(AsyncIO):
    """Dramatiq's AsyncIO middleware, with one event loop for every worker of the
    process (its own would start a loop per worker and keep only the last)."""

    def __init__(self) -> None:
        super().__init__()
        self._shared = _Shared()

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        start = super().before_worker_boot
        self._shared.enter(lambda: start(broker, worker))  # type: ignore[no-untyped-call]

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        stop = super().after_worker_shutdown
        self._shared.leave(lambda: stop(broker, worker))  # type: ignore[no-untyped-call]


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
        self._shared = _Shared()

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._shared.enter(lambda: self._boot(broker))

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._shared.leave(self._shut_down)

    def _boot(self, broker: dramatiq.Broker) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("the AsyncIO middleware must come before OpsWatchLifecycle")
        try:
            loop_thread.run_coroutine(self._start(broker))
        except db.DatabaseUnavailable as error:
            # Dramatiq logs and ignores other errors of a boot hook, and the worker
            # would then take every job only to fail it.
            raise WorkerBootFailed(str(error)) from error

    def _shut_down(self) -> None:
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
    broker.add_middleware(SharedAsyncIO())
    broker.add_middleware(OpsWatchLifecycle(settings))
    for spec in registered_jobs().values():
        dramatiq.Actor(
            spec.fn,
            broker=broker,
            actor_name=spec.name,
            queue_name=spec.queue_name,
            priority=INGEST_PRIORITY if spec.queue_name == INGEST_QUEUE else OTHER_PRIORITY,
            options={
                "max_retries": spec.max_retries,
                "min_backoff": spec.min_backoff_ms,
                "max_backoff": spec.max_backoff_ms,
                "time_limit": spec.time_limit_ms,
            },
        )
    return broker


class _OneWorkerMiddlewareWarning(logging.Filter):
    """Each Dramatiq worker adds a middleware of its own to the broker, and the broker
    warns at the second one that a middleware type was added twice: here that is
    the intent, not a mistake worth a warning at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "same type twice" not in record.getMessage()


def build_workers(
    broker: dramatiq.Broker,
    *,
    threads: int,
    ingest_threads: int,
    queues: Iterable[str] | None,
    worker_timeout: int,
) -> list[dramatiq.Worker]:
    """The ingest worker (when the ingest queue is wanted) and the worker of every
    other wanted queue (``queues``: None for all); start them in this order."""
    wanted = set(queues) if queues else None
    others = (wanted if wanted is not None else set(broker.get_declared_queues())) - {INGEST_QUEUE}
    workers = []
    if wanted is None or INGEST_QUEUE in wanted:
        workers.append(
            dramatiq.Worker(
                broker,
                queues={INGEST_QUEUE},
                worker_threads=ingest_threads,
                worker_timeout=worker_timeout,
            )
        )
    if others:
        broker.logger.addFilter(_OneWorkerMiddlewareWarning())
        # A set, never empty here: an empty one would mean every queue to Dramatiq.
        workers.append(
            dramatiq.Worker(
                broker, queues=others, worker_threads=threads, worker_timeout=worker_timeout
            )
        )
    return workers


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
