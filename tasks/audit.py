"""Jobs of the audit domain: data retention."""

from __future__ import annotations

from opswatch.audit.actor import Actor
from opswatch.audit.cleanup import cleanup
from opswatch.queue import job
from tasks.scheduler import periodic

CLEANUP_JOB = "audit.cleanup"


@job(CLEANUP_JOB, max_retries=3, time_limit_ms=6 * 3600 * 1000)
async def cleanup_job() -> None:
    # Batches commit as they go: a retried or overlapping run carries on, never repeats.
    await cleanup(actor=Actor.system("scheduler"))


# Daily, like the opswatch-cleanup CronJob (running both is safe).
periodic(CLEANUP_JOB, every_seconds=24 * 3600)
