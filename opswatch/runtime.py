"""What a process has configured: settings, the secret box, its queue and its event bus.

Each process (serve, api, worker, scheduler, a CLI command) builds one Runtime
at start and installs it; code reaches the queue and the bus through it, so the
same code runs in the embedded and the production shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from opswatch.config import Settings
from opswatch.crypto import SecretBox
from opswatch.events.base import EventBus
from opswatch.queue.base import JobQueue


@dataclass
class Runtime:
    settings: Settings
    secret_box: SecretBox
    queue: JobQueue
    events: EventBus


_current: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("OpsWatch runtime is not configured in this process")
    return _current


def build_events(settings: Settings) -> EventBus:
    if settings.redis_url is None:
        from opswatch.events.memory import MemoryEventBus

        return MemoryEventBus(retention=settings.event_retention)
    from opswatch.events.redis import RedisEventBus

    return RedisEventBus(
        settings.redis_url,
        retention=settings.event_retention,
        stream=f"{settings.redis_namespace}:events",
    )


def build_queue(settings: Settings) -> JobQueue:
    if settings.redis_url is None:
        from opswatch.queue.inprocess import InProcessQueue

        return InProcessQueue()
    from tasks.broker import DramatiqQueue, build_broker

    return DramatiqQueue(build_broker(settings))


def build(settings: Settings) -> Runtime:
    return Runtime(
        settings=settings,
        secret_box=SecretBox(settings.secret_keys),
        queue=build_queue(settings),
        events=build_events(settings),
    )
