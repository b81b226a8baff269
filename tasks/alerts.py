"""Jobs of the alerts domain."""

from __future__ import annotations

from opswatch.alerts.inbox import INGEST_QUEUE, PROCESS_JOB
from opswatch.alerts.pipeline import process_pending
from opswatch.alerts.sweeper import sweep_inbox
from opswatch.queue import job
from tasks.scheduler import periodic


@job(PROCESS_JOB, queue_name=INGEST_QUEUE, max_retries=20, min_backoff_ms=200)
async def process_pending_job() -> None:
    await process_pending()


# On the ingest queue: the inbox must be swept by the workers that process it, also
# where paging runs in processes of its own and those are down or busy.
@job("alerts.sweep_inbox", queue_name=INGEST_QUEUE, max_retries=0)
async def sweep_inbox_job() -> None:
    await sweep_inbox()


periodic("alerts.sweep_inbox", every_seconds=15)
