"""Jobs of the escalation domain."""

from __future__ import annotations

import uuid
from datetime import timedelta

from opswatch.alerts.actions import TICK_JOB
from opswatch.escalation.delivery import DELIVER_JOB, RESUME_JOB, deliver
from opswatch.escalation.engine import run_due
from opswatch.escalation.resume import SETTLE, resume_pending
from opswatch.queue import job
from tasks.scheduler import periodic


@job(TICK_JOB, queue_name="escalation", max_retries=0)
async def tick_job() -> None:
    # No retries: the next tick takes whatever this one left due.
    await run_due()


# A provider outage is no reason to retry: the event stays pending and the resume job
# brings it back (see opswatch.escalation.delivery). Retries are for anything else
# that failed (the database for a moment); a claim never pages twice.
@job(DELIVER_JOB, queue_name="escalation", max_retries=8, min_backoff_ms=1_000)
async def deliver_job(event_id: str) -> None:
    await deliver(uuid.UUID(event_id))


@job(RESUME_JOB, queue_name="escalation", max_retries=0)
async def resume_job(settle_seconds: float | None = None) -> None:
    # No retries: the next periodic run does the same.
    settle = SETTLE if settle_seconds is None else timedelta(seconds=settle_seconds)
    await resume_pending(settle=settle)


# A due tier is taken at most this late, also when nobody woke the engine.
periodic(TICK_JOB, every_seconds=5)
# Parked pages, and pages whose job was lost, wait at most about this long more.
periodic(RESUME_JOB, every_seconds=5)
