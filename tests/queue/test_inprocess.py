"""The embedded queue gives each queue slots of its own, as workers do."""

from __future__ import annotations

import asyncio

import httpx

from opswatch.models import Alert
from opswatch.queue import job
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from tests.factories import TenantKit

RELEASE = asyncio.Event()


@job("tests.paging_that_hangs", queue_name="escalation", max_retries=0)
async def paging_that_hangs(n: int) -> None:
    """Stands for a page whose provider takes its whole timeout to answer."""
    await RELEASE.wait()


async def test_a_paging_storm_holding_every_slot_does_not_hold_up_the_next_alert(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    queue = app_runtime.queue
    assert isinstance(queue, InProcessQueue)
    RELEASE.clear()
    for n in range(100):  # more than the queue's concurrency
        await queue.enqueue("tests.paging_that_hangs", {"n": n})
    try:
        response = await client.post(
            "/api/v1/webhooks/generic",
            json={"title": "Next alert", "fingerprint": "next"},
            headers={"X-API-Key": acme.api_key},
        )
        assert response.status_code == 202
        for _ in range(500):  # up to 10 s
            if await Alert.filter(tenant=acme.tenant, fingerprint="next").exists():
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the alert waited behind the paging jobs")
    finally:
        RELEASE.set()
    await queue.drain()
