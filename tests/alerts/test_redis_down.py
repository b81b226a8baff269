"""With Redis down, webhooks still take alerts: the inbox is in the database, and what
the queue would have started is found again by the sweeper."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from opswatch import runtime
from opswatch.config import Settings
from opswatch.events.memory import MemoryEventBus
from opswatch.http.app import create_app
from opswatch.models import AlertEvent
from opswatch.runtime import Runtime
from tasks.broker import DramatiqQueue, build_broker
from tests.conftest import free_port
from tests.factories import TenantKit


@pytest.fixture
async def queue_down_client(
    settings: Settings, app_runtime: Runtime
) -> AsyncIterator[httpx.AsyncClient]:
    nowhere = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    broker = build_broker(nowhere)
    queue = DramatiqQueue(broker)
    runtime.install(Runtime(nowhere, app_runtime.secret_box, queue, MemoryEventBus()))
    app = create_app(nowhere, connect_database=False, run_scheduler=False, shared_runtime=None)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://opswatch.test") as http:
            yield http
    finally:
        await queue.stop()
        runtime.install(app_runtime)


async def test_a_webhook_answers_202_while_redis_is_down(
    queue_down_client: httpx.AsyncClient, acme: TenantKit
) -> None:
    response = await queue_down_client.post(
        "/api/v1/webhooks/generic",
        json={"title": "Queue is down"},
        headers={"X-API-Key": acme.api_key},
    )
    assert response.status_code == 202, response.text
    [event] = await AlertEvent.filter(tenant=acme.tenant)
    assert event.processed_at is None  # waiting for the sweeper, durable
