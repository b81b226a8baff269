"""The webhooks end to end: what senders get back, and what OpsWatch then stores."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from opswatch.audit.actor import Actor
from opswatch.models import Alert, AlertEvent, AlertStatus, ApiKey, Incident, Severity
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from opswatch.tenants.services import create_service
from tests.alerts.payloads import agent_body, alertmanager_body
from tests.factories import TenantKit

SPEC_ALERTMANAGER = alertmanager_body()


def with_status(status: str) -> dict[str, Any]:
    payload = copy.deepcopy(SPEC_ALERTMANAGER)
    payload["status"] = status
    payload["alerts"][0]["status"] = status
    if status == "resolved":
        payload["alerts"][0]["endsAt"] = "2026-02-20T10:30:00Z"
    return payload


async def post(
    client: httpx.AsyncClient, path: str, key: str | None, body: Any, **headers: str
) -> httpx.Response:
    sent = {"X-API-Key": key} if key else {}
    return await client.post(f"/api/v1/webhooks/{path}", json=body, headers={**sent, **headers})


async def drained(app_runtime: Runtime) -> None:
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()


async def test_the_spec_alertmanager_payload_becomes_an_enriched_alert(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    service = await create_service(
        tenant=acme.tenant,
        name="payment-gateway",
        cluster="production-de-01",
        namespace="customer-api",
        actor=Actor.cli(),
    )
    response = await post(client, "alertmanager", acme.api_key, SPEC_ALERTMANAGER)
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 1
    assert await AlertEvent.filter(id=body["events"][0]).exists()
    await drained(app_runtime)

    alert = await Alert.get(tenant=acme.tenant)
    assert alert.fingerprint == "abc123def456"
    assert alert.title == "Pod is in CrashLoopBackOff"
    assert alert.severity is Severity.CRITICAL
    assert alert.status is AlertStatus.FIRING
    assert alert.service_id == service.id  # type: ignore[attr-defined]
    assert alert.runbook_url == "https://runbooks.example.com/pod-crashloop"
    assert alert.ends_at is None
    assert alert.occurrences == 1
    assert len(alert.short_id) == 6
    assert alert.external_url == "http://alertmanager.example.com"
    event = await AlertEvent.get(id=body["events"][0])
    assert event.outcome == "created"
    assert event.payload["alerts"][0]["fingerprint"] == "abc123def456"


async def test_repeat_resolve_and_refire_follow_the_alert_lifecycle(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    for status in ["firing", "firing", "firing"]:
        assert (
            await post(client, "alertmanager", acme.api_key, with_status(status))
        ).status_code == 202
        await drained(app_runtime)
    alert = await Alert.get(tenant=acme.tenant)
    assert alert.occurrences == 3
    assert alert.last_received_at > alert.first_received_at

    await post(client, "alertmanager", acme.api_key, with_status("resolved"))
    await drained(app_runtime)
    await alert.refresh_from_db()
    assert alert.status is AlertStatus.RESOLVED
    assert alert.resolved_at is not None

    await post(client, "alertmanager", acme.api_key, with_status("firing"))
    await drained(app_runtime)
    alerts = await Alert.filter(tenant=acme.tenant).order_by("created_at")
    assert [a.status for a in alerts] == [AlertStatus.RESOLVED, AlertStatus.FIRING]
    assert alerts[0].short_id != alerts[1].short_id


async def test_processing_an_event_twice_changes_nothing(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    from opswatch.alerts.pipeline import process_pending

    await post(client, "alertmanager", acme.api_key, SPEC_ALERTMANAGER)
    await drained(app_runtime)
    assert await process_pending() == []
    alert = await Alert.get(tenant=acme.tenant)
    assert alert.occurrences == 1


async def test_tenants_dedup_separately(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit, app_runtime: Runtime
) -> None:
    await post(client, "alertmanager", acme.api_key, SPEC_ALERTMANAGER)
    await post(client, "alertmanager", globex.api_key, SPEC_ALERTMANAGER)
    await drained(app_runtime)
    assert await Alert.filter(tenant=acme.tenant).count() == 1
    assert await Alert.filter(tenant=globex.tenant).count() == 1


async def test_bearer_auth_works_for_alertmanager_which_cannot_send_custom_headers(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    response = await post(
        client, "alertmanager", None, SPEC_ALERTMANAGER, Authorization=f"Bearer {acme.api_key}"
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("key", "body", "status", "field"),
    [
        (None, SPEC_ALERTMANAGER, 401, None),
        ("owk_000000000000_forged", SPEC_ALERTMANAGER, 401, None),
        ("KEY", {"alerts": [{"status": "firing", "annotations": {}}]}, 422, "alerts[0].labels"),
        ("KEY", {"version": "4"}, 422, "alerts"),
        (
            "KEY",
            {"alerts": [SPEC_ALERTMANAGER["alerts"][0], {"status": "burning", "labels": {}}]},
            422,
            "alerts[1].status",
        ),
    ],
)
async def test_bad_alertmanager_requests_name_the_problem_and_store_nothing(
    client: httpx.AsyncClient,
    acme: TenantKit,
    key: str | None,
    body: Any,
    status: int,
    field: str | None,
) -> None:
    response = await post(client, "alertmanager", acme.api_key if key == "KEY" else key, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if field is not None:
        assert error["field"] == field
    assert await AlertEvent.all().count() == 0


async def test_malformed_json_is_400(client: httpx.AsyncClient, acme: TenantKit) -> None:
    response = await client.post(
        "/api/v1/webhooks/generic",
        content=b'{"title": ',
        headers={"X-API-Key": acme.api_key, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "body"


async def test_a_body_over_one_mebibyte_is_413(client: httpx.AsyncClient, acme: TenantKit) -> None:
    big = {"title": "x", "description": "y" * (1 << 20)}
    response = await post(client, "generic", acme.api_key, big)
    assert response.status_code == 413
    assert await AlertEvent.all().count() == 0


async def test_a_keys_rate_limit_answers_429_with_retry_after(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    await ApiKey.filter(tenant=acme.tenant).update(rate_limit_per_minute=2)
    codes = [
        (await post(client, "generic", acme.api_key, {"title": f"t{i}"})).status_code
        for i in range(3)
    ]
    assert codes[:2] == [202, 202]
    if codes[2] != 429:  # the minute turned between the requests
        codes[2] = (await post(client, "generic", acme.api_key, {"title": "t3"})).status_code
    assert codes[2] == 429


async def test_keep_generic_and_agent_payloads(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    keep = {
        "id": "keep-alert-uuid",
        "name": "PodCrashLoopBackOff",
        "status": "firing",
        "severity": "high",
        "source": ["prometheus", "signoz"],
        "fingerprint": "keep-fp-1",
        "labels": {"cluster": "production-de-01"},
        "description": "crash looping",
        "lastReceived": "2026-02-20T10:00:00Z",
    }
    generic = {
        "title": "Disk almost full",
        "severity": "warning",
        "description": "92% on /var",
        "labels": {"host": "db-1"},
        "source": "my-custom-system",
    }
    agent = agent_body()
    assert (await post(client, "keep", acme.api_key, keep)).status_code == 202
    assert (await post(client, "generic", acme.api_key, [generic, generic])).status_code == 202
    assert (await post(client, "generic", acme.api_key, agent)).status_code == 202
    assert (await post(client, "generic", acme.api_key, agent)).status_code == 202
    await drained(app_runtime)

    from_keep = await Alert.get(fingerprint="keep-fp-1")
    assert from_keep.severity is Severity.HIGH
    assert from_keep.source == "prometheus,signoz"
    from_generic = await Alert.get(title="Disk almost full")
    assert from_generic.occurrences == 2  # derived fingerprint dedups
    agent_alerts = await Alert.filter(fingerprint="oom-payment-gateway-prod")
    assert [a.status for a in agent_alerts] == [AlertStatus.RESOLVED] * 2
    knowledge = await Incident.get(agent_fingerprint="oom-payment-gateway-prod")
    assert knowledge.solution == agent["agent_metadata"]["action_taken"]
    assert knowledge.occurrences == 2
    assert knowledge.agent_metadata is not None
    assert knowledge.agent_metadata["confidence"] == 0.95
    assert {a.known_solution_id for a in agent_alerts} == {knowledge.id}  # type: ignore[attr-defined]


async def test_the_key_field_map_reshapes_arbitrary_json(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    await ApiKey.filter(tenant=acme.tenant).update(
        field_map={"title": "alert.name", "severity": "alert.level", "labels": "alert.tags"}
    )
    body = {"alert": {"name": "Queue backlog", "level": "critical", "tags": {"queue": "mail"}}}
    assert (await post(client, "generic", acme.api_key, body)).status_code == 202
    await drained(app_runtime)
    alert = await Alert.get(tenant=acme.tenant)
    assert (alert.title, alert.severity, alert.labels) == (
        "Queue backlog",
        Severity.CRITICAL,
        {"queue": "mail"},
    )
