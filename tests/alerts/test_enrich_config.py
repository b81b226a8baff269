"""Enrichment keeps a tenant's configuration between batches, and never serves a
stale one: a change made anywhere (another process, psql) reaches the next batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from tortoise import connections

from opswatch.alerts import enrich
from opswatch.audit.actor import Actor
from opswatch.models import Alert, Service
from opswatch.queue.inprocess import InProcessQueue
from opswatch.rosters.overrides import create_override
from opswatch.runtime import Runtime
from opswatch.tenants.services import create_service
from tests.factories import TenantKit
from tests.rosters.support import global_primary

ACTOR = Actor.system("test")


async def post(
    client: httpx.AsyncClient, kit: TenantKit, runtime: Runtime, title: str, **labels: str
) -> Alert:
    response = await client.post(
        "/api/v1/webhooks/generic",
        json={"title": title, "labels": labels},
        headers={"X-API-Key": kit.api_key},
    )
    assert response.status_code == 202
    assert isinstance(runtime.queue, InProcessQueue)
    await runtime.queue.drain()
    return await Alert.get(title=title)


async def test_a_change_made_outside_this_process_reaches_the_next_batch(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    service = await create_service(
        tenant=acme.tenant, name="payments", namespace="payments", actor=ACTOR
    )
    first = await post(client, acme, app_runtime, "first", namespace="payments")
    assert first.service_id == service.id  # type: ignore[attr-defined]

    # As psql or another process would: no code of ours runs, only the database.
    await connections.get("default").execute_query(
        "UPDATE service SET namespace = 'billing' WHERE name = 'payments'"
    )
    moved = await post(client, acme, app_runtime, "moved", namespace="billing")
    left = await post(client, acme, app_runtime, "left", namespace="payments")
    assert moved.service_id == service.id  # type: ignore[attr-defined]
    assert left.service_id is None  # type: ignore[attr-defined]

    await connections.get("default").execute_query("DELETE FROM service")
    gone = await post(client, acme, app_runtime, "gone", namespace="billing")
    assert gone.service_id is None  # type: ignore[attr-defined]


async def test_an_unchanged_configuration_is_not_read_again(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    await create_service(tenant=acme.tenant, name="payments", namespace="payments", actor=ACTOR)
    await post(client, acme, app_runtime, "first", namespace="payments")
    loaded = enrich._kept[acme.tenant.id]

    second = await post(client, acme, app_runtime, "second", namespace="payments")
    assert second.service_id is not None  # type: ignore[attr-defined]
    assert enrich._kept[acme.tenant.id] is loaded

    await Service.filter(name="payments").update(cluster="prod-de-01")
    await post(client, acme, app_runtime, "third", namespace="payments")
    reloaded = enrich._kept[acme.tenant.id]
    assert reloaded is not loaded
    assert reloaded.key[2] > loaded.key[2]  # the version the triggers bumped


async def test_an_override_made_after_the_configuration_was_kept_names_who_is_on_call(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    spec = await global_primary(acme.tenant)
    await create_service(
        tenant=acme.tenant,
        name="etcd",
        cluster="prod-de-01",
        roster_id=str(spec.roster.id),
        actor=ACTOR,
    )
    before = await post(client, acme, app_runtime, "before", cluster="prod-de-01")
    stand_in = next(
        user
        for user in spec.people.values()
        if user.id != before.oncall_user_id  # type: ignore[attr-defined]
    )
    now = datetime.now(UTC)
    await create_override(
        tenant=acme.tenant,
        roster=spec.roster,
        user_id=str(stand_in.id),
        start=now - timedelta(minutes=1),
        end=now + timedelta(hours=1),
        actor=ACTOR,
    )
    after = await post(client, acme, app_runtime, "after", cluster="prod-de-01")
    assert after.oncall_user_id == stand_in.id  # type: ignore[attr-defined]
