"""Editing an incident or a runbook changes what was given and nothing else: a title
edit keeps the root cause, the severity and the matching rule, so the incident is
still the Known Solution of the next alert like it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from opswatch.audit.actor import Actor
from opswatch.models import AuditLog, Incident, Role, Runbook
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from opswatch.tenants.services import create_service
from opswatch.tenants.users import create_user
from tests.alerts.payloads import alertmanager_body
from tests.factories import TenantKit, graphql

ACTOR = Actor.system("test")
INCIDENT_FIELDS = "id title severity status summary rootCause solution tags matchRule source"
CREATE_INCIDENT = f"""
mutation($input: IncidentInput!) {{ createIncident(input: $input) {{ {INCIDENT_FIELDS} }} }}
"""
UPDATE_INCIDENT = f"""
mutation($id: ID!, $input: IncidentUpdate!) {{
  updateIncident(id: $id, input: $input) {{ {INCIDENT_FIELDS} }}
}}
"""
RUNBOOK_FIELDS = "id slug title body tags alertnames services { name }"
CREATE_RUNBOOK = f"""
mutation($input: RunbookInput!) {{ createRunbook(input: $input) {{ {RUNBOOK_FIELDS} }} }}
"""
UPDATE_RUNBOOK = f"""
mutation($id: ID!, $input: RunbookUpdate!) {{
  updateRunbook(id: $id, input: $input) {{ {RUNBOOK_FIELDS} }}
}}
"""
SEARCH = "query($q: String!) { searchKnowledgeBase(query: $q, first: 5) { kind id title } }"
CRASHLOOP = {
    "title": "Payment pods crash-looping",
    "severity": "CRITICAL",
    "status": "RESOLVED",
    "summary": "The gateway restarted every 30 seconds.",
    "rootCause": "The vault sidecar lost its lease.",
    "solution": "Restart the vault agent, then the pods.",
    "tags": ["payments", "kubernetes"],
    "matchRule": "alertname=PodCrashLoopBackOff, namespace=customer-api",
}


def refusal(body: dict[str, Any]) -> tuple[str, str | None]:
    assert body.get("data") is None, body
    extensions = body["errors"][0]["extensions"]
    return extensions["code"], extensions.get("field")


async def new_incident(client: httpx.AsyncClient, kit: TenantKit, **fields: Any) -> dict[str, Any]:
    body = await graphql(client, kit.admin_token, CREATE_INCIDENT, input={**CRASHLOOP, **fields})
    assert "errors" not in body, body
    created: dict[str, Any] = body["data"]["createIncident"]
    return created


async def update_incident(
    client: httpx.AsyncClient, token: str, incident_id: str, **changes: Any
) -> dict[str, Any]:
    return await graphql(client, token, UPDATE_INCIDENT, id=incident_id, input=changes)


async def responder_token(kit: TenantKit) -> str:
    created = await create_user(
        tenant=kit.tenant,
        name="Riley",
        email=f"riley@{kit.tenant.slug}.example",
        role=Role.RESPONDER,
        actor=ACTOR,
    )
    assert created.token is not None
    return created.token


async def fire_crashloop(client: httpx.AsyncClient, kit: TenantKit, runtime: Runtime) -> None:
    response = await client.post(
        "/api/v1/webhooks/alertmanager",
        json=alertmanager_body(),
        headers={"X-API-Key": kit.api_key},
    )
    assert response.status_code == 202, response.text
    assert isinstance(runtime.queue, InProcessQueue)
    await runtime.queue.drain()


async def test_updating_an_incidents_title_keeps_its_root_cause_and_matching_rule(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    created = await new_incident(client, acme)
    body = await update_incident(
        client, acme.admin_token, created["id"], title="Payment gateway pods crash-looping"
    )
    updated = body["data"]["updateIncident"]
    assert updated == {**created, "title": "Payment gateway pods crash-looping"}
    row = await Incident.get(id=created["id"])
    assert row.match_rule == {
        "alertname": "PodCrashLoopBackOff",
        "labels": {"namespace": "customer-api"},
    }

    # Still the Known Solution of the next alert like it.
    await fire_crashloop(client, acme, app_runtime)
    alerts = await graphql(
        client, acme.admin_token, "{ alerts(first: 5) { nodes { knownSolution { id title } } } }"
    )
    [alert] = alerts["data"]["alerts"]["nodes"]
    assert alert["knownSolution"] == {"id": created["id"], "title": updated["title"]}

    # And found by the words it has now, by both search backends' indexes.
    found = await graphql(client, acme.viewer_token, SEARCH, q="gateway crash")
    assert [hit["id"] for hit in found["data"]["searchKnowledgeBase"]] == [created["id"]]

    entry = await AuditLog.filter(action="incident.updated").get()
    assert entry.data == {"changed": ["title"]}


async def test_each_incident_field_changes_alone(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    created = await new_incident(client, acme)
    changes: list[tuple[str, Any]] = [
        ("severity", "HIGH"),
        ("status", "INVESTIGATING"),
        ("summary", "Restarts every minute."),
        ("rootCause", "An expired certificate."),
        ("solution", "Renew the certificate."),
        ("tags", ["tls"]),
        ("matchRule", "alertname=CertificateExpiring"),
    ]
    expected = dict(created)
    for name, value in changes:
        body = await update_incident(client, acme.admin_token, created["id"], **{name: value})
        expected[name] = value
        assert body["data"]["updateIncident"] == expected, name


async def test_null_clears_an_incidents_knowledge_but_never_its_title(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    created = await new_incident(client, acme)
    cleared = await update_incident(
        client, acme.admin_token, created["id"], rootCause=None, matchRule=None, tags=None
    )
    assert cleared["data"]["updateIncident"] == {
        **created,
        "rootCause": None,
        "matchRule": None,
        "tags": [],
    }
    assert (await Incident.get(id=created["id"])).match_rule is None

    before = await Incident.get(id=created["id"])
    for field in ("title", "severity", "status"):
        refused = await update_incident(client, acme.admin_token, created["id"], **{field: None})
        assert refusal(refused) == ("INVALID_INPUT", field)
        assert "leave it out" in refused["errors"][0]["message"]
    # A bad field among good ones: nothing is written.
    mixed = await update_incident(
        client, acme.admin_token, created["id"], title="Renamed", matchRule="just words"
    )
    assert refusal(mixed) == ("INVALID_INPUT", "matchRule")
    after = await Incident.get(id=created["id"])
    assert (after.title, after.updated_at) == (before.title, before.updated_at)


async def test_only_the_tenants_responders_update_its_incidents(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    created = await new_incident(client, acme)
    viewer = await update_incident(client, acme.viewer_token, created["id"], title="Mine")
    assert refusal(viewer) == ("FORBIDDEN", None)
    foreign = await update_incident(client, globex.admin_token, created["id"], title="Ours")
    assert refusal(foreign)[0] == "NOT_FOUND"
    unknown = await update_incident(client, acme.admin_token, str(uuid.uuid4()), title="x")
    assert refusal(unknown)[0] == "NOT_FOUND"
    malformed = await update_incident(client, acme.admin_token, "not-an-id", title="x")
    assert refusal(malformed) == ("INVALID_INPUT", "id")
    assert (await Incident.get(id=created["id"])).title == CRASHLOOP["title"]

    responder = await responder_token(acme)
    allowed = await update_incident(client, responder, created["id"], status="INVESTIGATING")
    assert allowed["data"]["updateIncident"] == {**created, "status": "INVESTIGATING"}


async def test_a_full_incident_input_still_updates_everything(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    created = await new_incident(client, acme)
    everything = {
        "title": "Disk full",
        "severity": "LOW",
        "status": "OPEN",
        "summary": "s",
        "rootCause": "logs",
        "solution": "rotate",
        "tags": ["disk"],
        "matchRule": "alertname=DiskFull",
    }
    body = await update_incident(client, acme.admin_token, created["id"], **everything)
    assert body["data"]["updateIncident"] == {**created, **everything}


async def new_runbook(client: httpx.AsyncClient, kit: TenantKit, **fields: Any) -> dict[str, Any]:
    api = await create_service(tenant=kit.tenant, name="api", actor=ACTOR)
    runbook = {
        "title": "Pod CrashLoopBackOff",
        "slug": "pod-crashloop",
        "body": "# Look at the logs\nkubectl logs --previous",
        "tags": ["kubernetes"],
        "alertnames": ["PodCrashLoopBackOff"],
        "serviceIds": [str(api.id)],
        **fields,
    }
    body = await graphql(client, kit.admin_token, CREATE_RUNBOOK, input=runbook)
    assert "errors" not in body, body
    created: dict[str, Any] = body["data"]["createRunbook"]
    return created


async def update_runbook(
    client: httpx.AsyncClient, token: str, runbook_id: str, **changes: Any
) -> dict[str, Any]:
    return await graphql(client, token, UPDATE_RUNBOOK, id=runbook_id, input=changes)


async def test_renaming_a_runbook_keeps_its_body_names_and_services(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    created = await new_runbook(client, acme)
    body = await update_runbook(client, acme.admin_token, created["id"], title="Pods restarting")
    assert body["data"]["updateRunbook"] == {**created, "title": "Pods restarting"}
    found = await graphql(client, acme.viewer_token, SEARCH, q="restarting")
    assert [hit["id"] for hit in found["data"]["searchKnowledgeBase"]] == [created["id"]]
    entry = await AuditLog.filter(action="runbook.updated").get()
    assert entry.data == {
        "before": {"title": "Pod CrashLoopBackOff"},
        "after": {"title": "Pods restarting"},
    }

    expected = {**created, "title": "Pods restarting"}
    for name, value, shown in [
        ("slug", "pods-restarting", "pods-restarting"),
        ("body", "Restart them.", "Restart them."),
        ("tags", ["pods"], ["pods"]),
        ("alertnames", ["KubePodCrashLooping"], ["KubePodCrashLooping"]),
        ("serviceIds", [], []),
    ]:
        body = await update_runbook(client, acme.admin_token, created["id"], **{name: value})
        expected["services" if name == "serviceIds" else name] = shown
        assert body["data"]["updateRunbook"] == expected, name


async def test_null_empties_a_runbooks_body_but_never_its_title_or_slug(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    created = await new_runbook(client, acme)
    emptied = await update_runbook(client, acme.admin_token, created["id"], body=None, tags=None)
    assert emptied["data"]["updateRunbook"] == {**created, "body": "", "tags": []}
    for field in ("title", "slug"):
        refused = await update_runbook(client, acme.admin_token, created["id"], **{field: None})
        assert refusal(refused) == ("INVALID_INPUT", field)
    mixed = await update_runbook(
        client, acme.admin_token, created["id"], title="Renamed", slug="Not A Slug"
    )
    assert refusal(mixed) == ("INVALID_INPUT", "slug")
    assert (await Runbook.get(id=created["id"])).title == created["title"]


async def test_only_the_tenants_admins_update_its_runbooks(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    created = await new_runbook(client, acme)
    for token in (acme.viewer_token, await responder_token(acme)):
        refused = await update_runbook(client, token, created["id"], title="Mine")
        assert refusal(refused) == ("FORBIDDEN", None)
    foreign = await update_runbook(client, globex.admin_token, created["id"], title="Ours")
    assert refusal(foreign)[0] == "NOT_FOUND"
    unknown = await update_runbook(client, acme.admin_token, str(uuid.uuid4()), title="x")
    assert refusal(unknown)[0] == "NOT_FOUND"
    theirs = await create_service(tenant=globex.tenant, name="theirs", actor=ACTOR)
    borrowed = await update_runbook(
        client, acme.admin_token, created["id"], serviceIds=[str(theirs.id)]
    )
    assert refusal(borrowed) == ("NOT_FOUND", "serviceIds")
    assert (await Runbook.get(id=created["id"])).title == created["title"]
