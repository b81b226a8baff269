"""No alert can stop the pipeline: what a sender may send is bounded and cleaned before
the inbox, and an event that still fails is quarantined while everyone else's go on."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from opswatch.alerts import bounds
from opswatch.alerts.inbox import InboxRow, InboxWriter, Unstorable
from opswatch.alerts.normalize import parse_generic
from opswatch.alerts.pipeline import MAX_EVENT_ATTEMPTS
from opswatch.models import Alert, AlertEvent, AlertStatus, Incident
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from tests.alerts.payloads import agent_body, alertmanager_body
from tests.conftest import BACKEND
from tests.factories import TenantKit, graphql

LONG_URL = "https://example.com/" + "a" * 2_001


async def post(client: httpx.AsyncClient, kit: TenantKit, path: str, body: Any) -> httpx.Response:
    return await client.post(
        f"/api/v1/webhooks/{path}",
        content=orjson.dumps(body),
        headers={"X-API-Key": kit.api_key, "Content-Type": "application/json"},
    )


async def drained(app_runtime: Runtime) -> None:
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain(timeout=60)


async def an_ordinary_alert_of(client: httpx.AsyncClient, kit: TenantKit) -> None:
    """What the poison used to stop: another tenant's plain alert."""
    response = await post(client, kit, "generic", {"title": "Disk full", "fingerprint": "disk"})
    assert response.status_code == 202


async def ordinary_alert_processed(kit: TenantKit) -> bool:
    return await Alert.filter(tenant=kit.tenant, fingerprint="disk").exists()


def alertmanager_with(**alert_fields: Any) -> dict[str, Any]:
    body = alertmanager_body()
    body["alerts"][0].update(alert_fields)
    return body


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("alertmanager", alertmanager_with(generatorURL=LONG_URL)),
        ("alertmanager", {**alertmanager_body(), "externalURL": LONG_URL}),
        (
            "alertmanager",
            alertmanager_with(annotations={"summary": "Long runbook", "runbook_url": LONG_URL}),
        ),
        (
            "alertmanager",
            alertmanager_with(annotations={"summary": "Old key", "runbook": LONG_URL}),
        ),
        ("keep", {"name": "Keep long url", "url": LONG_URL}),
        ("keep", {"name": "Keep long generator", "generatorURL": LONG_URL}),
        ("generic", {"title": "Generic long runbook", "runbook_url": LONG_URL}),
    ],
    ids=[
        "alertmanager-generatorURL",
        "alertmanager-externalURL",
        "alertmanager-runbook_url",
        "alertmanager-runbook",
        "keep-url",
        "keep-generatorURL",
        "generic-runbook_url",
    ],
)
async def test_an_over_long_url_is_dropped_and_nobody_elses_alerts_wait(
    client: httpx.AsyncClient,
    acme: TenantKit,
    globex: TenantKit,
    app_runtime: Runtime,
    path: str,
    body: dict[str, Any],
) -> None:
    response = await post(client, acme, path, body)
    assert response.status_code == 202, response.text
    await an_ordinary_alert_of(client, globex)
    await drained(app_runtime)

    [alert] = await Alert.filter(tenant=acme.tenant)
    assert alert.status is AlertStatus.FIRING
    assert LONG_URL not in (alert.generator_url, alert.external_url, alert.runbook_url)
    assert await ordinary_alert_processed(globex)
    assert await AlertEvent.filter(processed_at__isnull=True).count() == 0
    assert not await AlertEvent.filter(outcome="failed").exists()


async def test_an_agent_report_of_a_megabyte_of_words_becomes_a_cut_solution(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit, app_runtime: Runtime
) -> None:
    body = agent_body()
    # Distinct words, as many as fit the body limit: each one a lexeme of the index.
    words = " ".join(f"w{i:x}" for i in range(110_000))
    body["agent_metadata"]["action_taken"] = words
    response = await post(client, acme, "generic", body)
    assert response.status_code == 202, response.text
    await an_ordinary_alert_of(client, globex)
    await drained(app_runtime)

    incident = await Incident.get(tenant=acme.tenant)
    assert incident.solution is not None
    assert len(incident.solution) == bounds.MAX_AGENT_TEXT
    assert incident.solution.endswith(bounds.CUT_MARK)
    assert await ordinary_alert_processed(globex)


async def test_nul_characters_anywhere_are_removed_before_the_inbox(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit, app_runtime: Runtime
) -> None:
    body = alertmanager_body()
    alert = body["alerts"][0]
    alert["labels"]["team\u0000"] = "pay\u0000ments"
    alert["annotations"]["summary"] = "Crash\u0000Loop"
    alert["extra"] = {"deep": ["x\u0000y", {"k\u0000": "\u0000"}]}
    body["commonLabels"] = {"a": "\u0000"}
    response = await post(client, acme, "alertmanager", body)
    assert response.status_code == 202, response.text
    await an_ordinary_alert_of(client, globex)
    await drained(app_runtime)

    stored = await Alert.get(tenant=acme.tenant)
    assert stored.title == "CrashLoop"
    assert stored.labels["team"] == "payments"
    event = await AlertEvent.get(tenant=acme.tenant)
    assert event.payload["alerts"][0]["extra"] == {"deep": ["xy", {"k": ""}]}
    assert "\u0000" not in orjson.dumps(event.payload).decode()


async def test_text_over_its_limit_is_cut_with_a_mark_and_still_pages(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    body = {
        "title": "T" * 5_000,
        "description": "D" * 50_000,
        "source": "S" * 1_000,
        "labels": {"k" * 500: "v" * 10_000},
    }
    response = await post(client, acme, "generic", body)
    assert response.status_code == 202, response.text
    await drained(app_runtime)

    alert = await Alert.get(tenant=acme.tenant)
    assert len(alert.title) == bounds.MAX_TITLE
    assert alert.title.endswith(bounds.CUT_MARK)
    assert len(alert.description) == bounds.MAX_DESCRIPTION
    assert len(alert.source) == bounds.MAX_SOURCE
    [(key, value)] = alert.labels.items()
    assert len(key) == bounds.MAX_LABEL_KEY
    assert len(value) == bounds.MAX_LABEL_VALUE


async def test_alertmanager_bodies_are_capped_like_the_other_formats(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    body = alertmanager_body()
    body["alerts"] = [
        {"status": "firing", "labels": {"alertname": f"a{i}"}} for i in range(bounds.MAX_BATCH + 1)
    ]
    response = await post(client, acme, "alertmanager", body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "alerts"
    assert not await AlertEvent.exists()


def inbox_row(kit: TenantKit, fingerprint: str, payload_json: str) -> InboxRow:
    [event] = parse_generic({"title": fingerprint, "fingerprint": fingerprint}, {})
    now = datetime.now(UTC)
    return (
        uuid.uuid4(),
        now,
        kit.tenant.id,
        None,
        event.source_format.value,
        fingerprint,
        "firing",
        orjson.dumps(event.to_json()).decode(),
        payload_json,
        now,
        0,
    )


@pytest.mark.postgres_only
async def test_rows_the_database_refuses_fail_only_their_own_request_in_a_shared_commit(
    acme: TenantKit, globex: TenantKit, app_runtime: Runtime
) -> None:
    if BACKEND != "postgres":
        pytest.skip("SQLite stores what PostgreSQL refuses here")
    writer = InboxWriter()
    # What the webhook cleans away, handed to the writer as is: jsonb refuses NUL.
    refused = [inbox_row(acme, f"bad{i}", '{"v": "\\u0000"}') for i in range(50)]
    good = [inbox_row(globex, f"good{i}", "{}") for i in range(500)]
    results = await asyncio.gather(
        *(writer.write([row]) for row in refused),
        *(writer.write([row]) for row in good),
        return_exceptions=True,
    )
    assert all(isinstance(r, Unstorable) for r in results[:50])
    assert results[50:] == [None] * 500
    assert await AlertEvent.filter(tenant=globex.tenant).count() == 500
    assert not await AlertEvent.filter(tenant=acme.tenant).exists()


async def poison_row(kit: TenantKit, *, received_at: datetime | None = None) -> AlertEvent:
    """An inbox event processing cannot read (as a bug, or a row written by an
    older version, could leave): its normalised form lacks every field."""
    return await AlertEvent.create(
        tenant=kit.tenant,
        source_format="generic",
        fingerprint="poison",
        status="firing",
        normalized={"status": "firing"},
        payload={"title": "poison"},
        received_at=received_at or datetime.now(UTC),
    )


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_an_event_that_keeps_failing_is_quarantined_and_the_rest_go_on(
    client: httpx.AsyncClient,
    acme: TenantKit,
    globex: TenantKit,
    app_runtime: Runtime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    quarantined_before = counted("opswatch_inbox_events_quarantined_total", source_format="generic")
    poison = await poison_row(acme)
    for i in range(20):
        body = {"title": f"Acme {i}", "fingerprint": f"acme{i}"}
        assert (await post(client, acme, "generic", body)).status_code == 202
    with caplog.at_level(logging.WARNING, logger="opswatch.alerts.pipeline"):
        await an_ordinary_alert_of(client, globex)
        await drained(app_runtime)

    await poison.refresh_from_db()
    assert poison.outcome == "failed"
    assert poison.processed_at is not None
    assert poison.attempts == MAX_EVENT_ATTEMPTS
    assert poison.error is not None
    assert "KeyError" in poison.error
    assert await Alert.filter(tenant=acme.tenant).count() == 20
    assert await AlertEvent.filter(processed_at__isnull=True).count() == 0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert str(poison.id) in errors[0].getMessage()
    assert (
        counted("opswatch_inbox_events_quarantined_total", source_format="generic")
        == quarantined_before + 1
    )


FAILED_EVENTS = """
query Failed($first: Int, $after: String) {
  failedEvents(first: $first, after: $after) {
    edges { cursor node { id fingerprint attempts error payload failedAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
RETRY = """
mutation Retry($ids: [ID!]) { retryFailedEvents(ids: $ids) { retried superseded } }
"""


async def test_admins_see_their_quarantined_events_and_retry_them_after_a_fix(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit, app_runtime: Runtime
) -> None:
    poison = await poison_row(acme)
    # Older than the first: once the first is applied, retrying it would undo that.
    await poison_row(acme, received_at=poison.received_at - timedelta(seconds=1))
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.enqueue("alerts.process_pending", {})
    await drained(app_runtime)

    listed = await graphql(client, acme.admin_token, FAILED_EVENTS, first=1)
    page = listed["data"]["failedEvents"]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["edges"][0]["node"]["attempts"] == MAX_EVENT_ATTEMPTS
    assert page["edges"][0]["node"]["payload"] == {"title": "poison"}
    rest = await graphql(
        client, acme.admin_token, FAILED_EVENTS, first=5, after=page["pageInfo"]["endCursor"]
    )
    assert len(rest["data"]["failedEvents"]["edges"]) == 1
    assert (await graphql(client, globex.admin_token, FAILED_EVENTS))["data"]["failedEvents"][
        "edges"
    ] == []
    refused = await graphql(client, acme.viewer_token, FAILED_EVENTS)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # The fix: the event becomes readable (as a corrected release would read it).
    [event] = parse_generic({"title": "Was poison", "fingerprint": "poison"}, {})
    await AlertEvent.filter(id=poison.id).update(normalized=event.to_json())
    retried = await graphql(client, acme.admin_token, RETRY, ids=[str(poison.id)])
    assert retried["data"]["retryFailedEvents"] == {"retried": 1, "superseded": 0}
    await drained(app_runtime)
    await poison.refresh_from_db()
    assert poison.outcome == "created"
    assert await Alert.filter(tenant=acme.tenant, fingerprint="poison").exists()

    # The older one: something newer of its fingerprint was applied since.
    again = await graphql(client, acme.admin_token, RETRY)
    assert again["data"]["retryFailedEvents"] == {"retried": 0, "superseded": 1}


async def test_one_tenants_backlog_does_not_queue_another_tenants_first_alert(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit, app_runtime: Runtime
) -> None:
    # The storm's backlog is in the inbox before anything runs (as when the worker
    # comes back to it); then the other tenant's first alert arrives.
    start = datetime.now(UTC) - timedelta(minutes=1)
    await AlertEvent.bulk_create(
        [
            AlertEvent(
                tenant=acme.tenant,
                source_format="generic",
                fingerprint=event.fingerprint,
                status="firing",
                normalized=event.to_json(),
                payload={},
                received_at=start + timedelta(milliseconds=i),
            )
            for i, event in enumerate(
                parse_generic({"title": f"Storm {i}", "fingerprint": f"storm{i}"}, {})[0]
                for i in range(3_000)
            )
        ]
    )
    await an_ordinary_alert_of(client, globex)
    await drained(app_runtime)

    first_batch = await AlertEvent.filter(tenant=acme.tenant).order_by("processed_at").first()
    assert first_batch is not None
    assert first_batch.processed_at is not None
    ordinary = await AlertEvent.get(tenant=globex.tenant)
    # Processed in the first batch with the storm's oldest events, not after all 3,000.
    assert ordinary.processed_at == first_batch.processed_at


async def test_requests_with_nul_do_not_fail_other_tenants_requests_sharing_their_commit(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit, app_runtime: Runtime
) -> None:
    nul = [{"title": f"Bad\u0000{i}", "labels": {"k": "\u0000"}} for i in range(50)]
    good = [{"title": f"Good {i}"} for i in range(500)]
    responses = await asyncio.gather(
        *(post(client, acme, "generic", body) for body in nul),
        *(post(client, globex, "generic", body) for body in good),
    )
    assert {r.status_code for r in responses} == {202}
    await drained(app_runtime)
    assert await Alert.filter(tenant=globex.tenant).count() == 500
    assert await Alert.filter(tenant=acme.tenant).count() == 50
