"""Jobs of the alerts domain."""

from __future__ import annotations

from opswatch.alerts.pipeline import process_events
from opswatch.alerts.sweeper import sweep_inbox
from opswatch.queue import job
from tasks.scheduler import periodic


@job("alerts.process_events", queue_name="ingest", max_retries=20, min_backoff_ms=200)
async def process_events_job(*, event_ids: list[str]) -> None:
    await process_events(event_ids)


@job("alerts.sweep_inbox", max_retries=0)
async def sweep_inbox_job() -> None:
    await sweep_inbox()


periodic("alerts.sweep_inbox", every_seconds=15)
