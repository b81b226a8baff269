"""``/metrics``: every process's samples (multiprocess mode) or this process's, plus
gauges read at scrape time: the inbox backlog and its oldest event's age, and how
many jobs wait in each Dramatiq queue.

The scrape-time reads get a short timeout each; one that fails or is slow leaves
its gauges out of this scrape rather than failing it, so a database outage does
not also blind the dashboards that would show it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from opswatch import runtime
from opswatch.metrics import definitions, registry
from opswatch.sql import statement

log = logging.getLogger(__name__)

READ_TIMEOUT_SECONDS = 1.0
INGEST_QUEUE = "ingest"

_ = definitions  # defined before the first scrape, so every metric shows from the start


class Snapshot(Collector):
    """Gauges computed for one scrape."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self.metrics = list(metrics)

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


async def inbox_gauges(now: datetime) -> list[Metric]:
    rows = await statement().rows(
        "SELECT COUNT(*) AS waiting, MIN(received_at) AS oldest "
        "FROM alert_event WHERE processed_at IS NULL"
    )
    waiting = int(rows[0]["waiting"] or 0)
    oldest = rows[0]["oldest"]
    if isinstance(oldest, str):  # SQLite hands back text
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return [
        GaugeMetricFamily(
            "opswatch_inbox_backlog", "Received alert events not processed yet", value=waiting
        ),
        GaugeMetricFamily(
            "opswatch_inbox_oldest_age_seconds",
            "Age of the oldest received alert event not processed yet (0: none)",
            value=age,
        ),
    ]


def queue_names() -> list[str]:
    from opswatch.queue.registry import registered_jobs

    return sorted({INGEST_QUEUE, *(spec.queue_name for spec in registered_jobs().values())})


async def queue_gauges(redis_url: str, namespace: str) -> list[Metric]:
    """Jobs waiting in each Dramatiq queue now (``ready``) and delayed (``delayed``):
    the lists Dramatiq's Redis broker keeps at ``<namespace>:<queue>`` and ``….DQ``."""
    depth = GaugeMetricFamily(
        "opswatch_queue_depth", "Jobs waiting in each queue", labels=["queue", "state"]
    )
    client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=READ_TIMEOUT_SECONDS)
    try:
        async with client.pipeline(transaction=False) as pipe:
            names = queue_names()
            for name in names:
                pipe.llen(f"{namespace}:{name}")
                pipe.llen(f"{namespace}:{name}.DQ")
            lengths = await pipe.execute()
    finally:
        await client.aclose()
    for index, name in enumerate(names):
        depth.add_metric([name, "ready"], lengths[2 * index])
        depth.add_metric([name, "delayed"], lengths[2 * index + 1])
    return [depth]


async def _within_timeout(name: str, read: Coroutine[Any, Any, list[Metric]]) -> list[Metric]:
    try:
        async with asyncio.timeout(READ_TIMEOUT_SECONDS):
            return await read
    except Exception as error:  # any failure: leave the gauges out, keep the scrape
        log.info("metrics: %s left out of this scrape (%s)", name, type(error).__name__)
        return []


async def scrape_time_gauges() -> list[Metric]:
    settings = runtime.current().settings
    metrics = await _within_timeout("inbox backlog", inbox_gauges(datetime.now(UTC)))
    if settings.redis_url is not None:
        metrics += await _within_timeout(
            "queue depth", queue_gauges(settings.redis_url, settings.redis_namespace)
        )
    return metrics


def exposition(extra: list[Metric]) -> bytes:
    path = registry.multiprocess_dir()
    if path is None:
        counted = generate_latest(REGISTRY)
    else:
        aggregated = CollectorRegistry()
        MultiProcessCollector(aggregated, path=path)  # type: ignore[no-untyped-call]
        counted = generate_latest(aggregated)
    snapshot = CollectorRegistry()
    snapshot.register(Snapshot(extra))
    return counted + generate_latest(snapshot)


async def metrics(request: Request) -> Response:
    return Response(exposition(await scrape_time_gauges()), media_type=CONTENT_TYPE_LATEST)
