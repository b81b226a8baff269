"""Jobs of the escalation domain."""

from __future__ import annotations

import uuid

from opswatch.alerts.actions import TICK_JOB
from opswatch.escalation.delivery import DELIVER_JOB, RetryLater, deliver
from opswatch.escalation.engine import run_due
from opswatch.queue import job
from tasks.scheduler import periodic


@job(TICK_JOB, queue_name="escalation", max_retries=0)
async def tick_job() -> None:
    # No retries: the next tick takes whatever this one left due.
    await run_due()


@job(DELIVER_JOB, queue_name="escalation", max_retries=8, min_backoff_ms=1_000)
async def deliver_job(event_id: str) -> None:
    try:
        await deliver(uuid.UUID(event_id))
    except RetryLater:
        raise  # the queue retries with backoff; the event is pending again


# A due tier is taken at most this late, also when nobody woke the engine.
periodic(TICK_JOB, every_seconds=5)
