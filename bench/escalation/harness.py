"""The runtime: settings, the in-process queue and a bus that notes escalations."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from common import say

from opswatch import runtime
from opswatch.alerts.live import AlertEventKind
from opswatch.config import Settings, load_settings
from opswatch.crypto import SecretBox
from opswatch.events.base import LiveEvent
from opswatch.events.memory import MemoryEventBus
from opswatch.queue.inprocess import InProcessQueue

from .base import DRAIN_TIMEOUT, KEPT_RETRY_MESSAGES, PUBLIC_URL, QUEUE_LOGGER


class StampingEventBus(MemoryEventBus):
    """The in-process bus, also noting when each alert's first ESCALATED event was published."""

    def __init__(self) -> None:
        super().__init__()
        self.escalated: dict[uuid.UUID, datetime] = {}

    async def publish(self, event: LiveEvent) -> str:
        if event.kind == AlertEventKind.ESCALATED.value:
            self.escalated.setdefault(uuid.UUID(event.data["alert_id"]), datetime.now(UTC))
        return await super().publish(event)


class RetryCounter(logging.Handler):
    """Counts the queue's "job failed; retry" warnings, keeping the first few messages."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno != logging.WARNING:
            return  # "failed for good" (ERROR) is counted from the queue's failures
        self.count += 1
        if len(self.messages) < KEPT_RETRY_MESSAGES:
            self.messages.append(record.getMessage())


@contextmanager
def counted_retries(phase: str) -> Iterator[RetryCounter]:
    """Retried jobs are counted for the report instead of each being logged to stderr."""
    logger = logging.getLogger(QUEUE_LOGGER)
    counter = RetryCounter()
    logger.addHandler(counter)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.propagate = propagate
        if counter.count:
            say(
                f"{phase}: {counter.count} job runs failed and were retried, first: "
                f"{counter.messages[0]}"
            )


def bench_settings(data_dir: str, database_url: str, twilio_url: str) -> Settings:
    # Only these settings, not the caller's OPSWATCH_* environment: a stray
    # OPSWATCH_REDIS_URL would make the queue and the bus Redis's.
    return load_settings(
        {
            "OPSWATCH_DATA_DIR": data_dir,
            "OPSWATCH_DATABASE_URL": database_url,
            "OPSWATCH_SECRET_KEY": secrets.token_urlsafe(48),
            "OPSWATCH_PUBLIC_URL": PUBLIC_URL,
            "OPSWATCH_TWILIO_API_URL": twilio_url,
        }
    )


def install_runtime(settings: Settings, bus: StampingEventBus) -> InProcessQueue:
    """A runtime with a fresh in-process queue (each phase has its own); the queue."""
    queue = InProcessQueue()
    runtime.install(
        runtime.Runtime(
            settings=settings, secret_box=SecretBox(settings.secret_keys), queue=queue, events=bus
        )
    )
    return queue


async def stop_installed_queue() -> None:
    """After a phase failed midway: its jobs stop before the database connections close."""
    try:
        queue = runtime.current().queue
    except RuntimeError:
        return
    if isinstance(queue, InProcessQueue):
        await queue.stop()


async def stop_queue(queue: InProcessQueue) -> int:
    """Wait for the running jobs, cancel the delayed ones; the jobs that failed for good."""
    await queue.drain(DRAIN_TIMEOUT, delayed=False)
    await queue.stop()
    return len(queue.failures)
