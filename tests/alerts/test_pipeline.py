"""The pipeline's promises: exact counts under concurrency, nothing lost when a
queue message or a worker is, and each inbox event applied once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from opswatch.alerts.inbox import accept
from opswatch.alerts.normalize import parse_generic
from opswatch.alerts.sweeper import sweep_inbox
from opswatch.config import load_settings
from opswatch.models import Alert, AlertEvent, AlertStatus
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime, install
from tasks.broker import DramatiqQueue, build_broker
from tests.conftest import require_redis
from tests.factories import TenantKit


async def test_parallel_deliveries_of_one_fingerprint_make_one_alert_with_an_exact_count(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    body = {"title": "Hot key", "fingerprint": "storm", "severity": "critical"}

    async def deliver() -> int:
        response = await client.post(
            "/api/v1/webhooks/generic", json=body, headers={"X-API-Key": acme.api_key}
        )
        return response.status_code

    codes = await asyncio.gather(*(deliver() for _ in range(150)))
    assert set(codes) == {202}
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain(timeout=60)
    alerts = await Alert.filter(tenant=acme.tenant, fingerprint="storm")
    assert len(alerts) == 1
    assert alerts[0].occurrences == 150
    assert await AlertEvent.filter(processed_at__isnull=True).count() == 0


async def test_the_sweeper_processes_events_whose_queue_message_was_lost(
    acme: TenantKit, app_runtime: Runtime
) -> None:
    # What a crash between the inbox commit and the enqueue leaves behind.
    [event] = parse_generic({"title": "Lost message", "fingerprint": "lost"}, {})
    row = await AlertEvent.create(
        tenant=acme.tenant,
        source_format=event.source_format,
        fingerprint=event.fingerprint,
        status="firing",
        normalized=event.to_json(),
        payload={},
        received_at=datetime.now(UTC),
    )
    assert not await sweep_inbox()  # too fresh: its own job may still be coming
    assert await sweep_inbox(now=datetime.now(UTC) + timedelta(minutes=5))
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()
    await row.refresh_from_db()
    assert row.outcome == "created"
    assert await Alert.filter(fingerprint="lost").count() == 1


async def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(
    acme: TenantKit, test_env: dict[str, str], app_runtime: Runtime
) -> None:
    redis_url = require_redis()
    env = {
        **test_env,
        "OPSWATCH_REDIS_URL": redis_url,
        "OPSWATCH_REDIS_NAMESPACE": f"opswatch-test-{uuid.uuid4().hex[:8]}",
        "OPSWATCH_INBOX_SWEEP_AFTER_SECONDS": "1",
    }
    settings = load_settings(env)
    broker = build_broker(settings)
    producer = Runtime(
        settings=settings,
        secret_box=app_runtime.secret_box,
        queue=DramatiqQueue(broker),
        events=app_runtime.events,
    )
    install(producer)
    fingerprints, repeats = 20, 40
    for _ in range(repeats):
        batch = [{"title": f"Alert {n}", "fingerprint": f"fp-{n}"} for n in range(fingerprints)]
        await accept(tenant=acme.tenant, api_key=None, events=parse_generic(batch, {}), raw=batch)
    total = fingerprints * repeats
    command = [str(Path(sys.executable).parent / "opswatch"), "worker", "--threads", "2"]

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    async def processed() -> int:
        return await AlertEvent.filter(tenant=acme.tenant, processed_at__isnull=False).count()

    worker = start_worker()
    try:
        for _ in range(600):
            if await processed() > 0:
                break
            await asyncio.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        assert await processed() < total, "the worker finished before it could be killed"

        worker = start_worker()
        await asyncio.sleep(1.5)
        await sweep_inbox()  # messages the dead worker held are swept back in
        for _ in range(600):
            if await processed() == total:
                break
            await asyncio.sleep(0.05)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        broker.flush_all()
        broker.close()
        await producer.queue.stop()  # its Redis connections (broker.close() leaves them open)
        install(app_runtime)
    assert await processed() == total
    alerts = await Alert.filter(tenant=acme.tenant)
    assert len(alerts) == fingerprints
    assert {a.occurrences for a in alerts} == {repeats}


async def test_one_batch_keeps_each_fingerprints_order_across_resolve_and_refire(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    def event(fingerprint: str, status: str) -> dict[str, str]:
        return {"title": f"Alert {fingerprint}", "fingerprint": fingerprint, "status": status}

    batch = [
        event("a", "firing"),
        event("b", "firing"),
        event("a", "firing"),
        event("a", "resolved"),
        event("b", "firing"),
        event("a", "firing"),
        event("c", "resolved"),  # nothing open: recorded, changes nothing
    ]
    response = await client.post(
        "/api/v1/webhooks/generic", json=batch, headers={"X-API-Key": acme.api_key}
    )
    assert response.status_code == 202
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()
    # One batch opens both with the same created_at: the resolved one is the older.
    a_alerts = sorted(
        await Alert.filter(fingerprint="a"), key=lambda x: x.status is AlertStatus.FIRING
    )
    assert [(x.status, x.occurrences) for x in a_alerts] == [
        (AlertStatus.RESOLVED, 2),
        (AlertStatus.FIRING, 1),
    ]
    [b_alert] = await Alert.filter(fingerprint="b")
    assert b_alert.occurrences == 2
    outcomes = [e.outcome for e in await AlertEvent.filter().order_by("received_at")]
    assert outcomes == [
        "created",
        "created",
        "repeated",
        "resolved",
        "repeated",
        "created",
        "no_open_alert",
    ]
