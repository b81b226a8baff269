"""Severity words on the webhooks: a word OpsWatch does not know is refused before
anything is stored, naming the field as the sender's payload spells it; a word the
tenant mapped is stored as its severity."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import httpx
import pytest

from opswatch.alerts.inbox import accept
from opswatch.alerts.normalize import parse_generic
from opswatch.models import Alert, AlertEvent, Severity
from opswatch.runtime import Runtime
from tests.alerts.payloads import alertmanager_body
from tests.alerts.test_webhooks import drained, post
from tests.factories import TenantKit, graphql

SET_MAPPING = """
mutation($mapping: JSON) { updateTenant(input: {severityMapping: $mapping}) { severityMapping } }
"""
SET_FIELD_MAP = """
mutation($id: ID!, $map: JSON) { updateApiKey(id: $id, fieldMap: $map) { fieldMap } }
"""


def alertmanager_with(*severities: str | None) -> dict[str, Any]:
    """One alert per severity label (None: the label left out), each its own alert."""
    body = alertmanager_body()
    template = body["alerts"][0]
    body["alerts"] = []
    for index, severity in enumerate(severities):
        alert = copy.deepcopy(template)
        alert["fingerprint"] = f"fp-{index}"
        alert["labels"].pop("severity")
        if severity is not None:
            alert["labels"]["severity"] = severity
        body["alerts"].append(alert)
    return body


def keep_item(name: str, severity: str) -> dict[str, Any]:
    return {"name": name, "severity": severity, "status": "firing", "fingerprint": name}


async def map_words(client: httpx.AsyncClient, kit: TenantKit, mapping: dict[str, str]) -> None:
    body = await graphql(client, kit.admin_token, SET_MAPPING, mapping=mapping)
    assert "errors" not in body, body


async def assert_refused(response: httpx.Response, field: str, kit: TenantKit) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_input", field)
    assert "'urgent'" in error["message"]
    assert "critical, crit" in error["message"]  # the accepted words are listed
    assert not await AlertEvent.filter(tenant_id=kit.tenant.id).exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("alertmanager", alertmanager_with("critical", "urgent"), "alerts[1].labels.severity"),
        ("keep", keep_item("DiskFull", "urgent"), "severity"),
        ("keep", [keep_item("A", "high"), keep_item("B", "Urgent")], "[1].severity"),
        ("generic", {"title": "Disk full", "severity": "urgent"}, "severity"),
        ("generic", [{"title": "a"}, {"title": "b", "severity": " URGENT "}], "[1].severity"),
    ],
)
async def test_an_unknown_severity_word_is_refused_naming_the_field(
    client: httpx.AsyncClient, acme: TenantKit, path: str, body: Any, field: str
) -> None:
    response = await post(client, path, acme.api_key, body)

    await assert_refused(response, field, acme)


async def test_a_mapped_generic_severity_is_named_by_the_senders_path(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    [key] = (await graphql(client, acme.admin_token, "{ apiKeys { id } }"))["data"]["apiKeys"]
    await graphql(
        client, acme.admin_token, SET_FIELD_MAP, id=key["id"], map={"severity": "alert.level"}
    )
    body = [{"title": "ok"}, {"title": "bad", "alert": {"level": "urgent"}}]

    response = await post(client, "generic", acme.api_key, body)

    await assert_refused(response, "[1].alert.level", acme)


async def test_a_mapped_word_is_stored_as_its_severity(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    await map_words(client, acme, {"urgent": "critical", "Meh": "low", "p1": "high"})

    sent = [
        await post(client, "alertmanager", acme.api_key, alertmanager_with("URGENT")),
        await post(client, "keep", acme.api_key, keep_item("keep-meh", "meh")),
        await post(client, "generic", acme.api_key, {"title": "generic-p1", "severity": "p1"}),
    ]
    assert [response.status_code for response in sent] == [202, 202, 202]
    await drained(app_runtime)

    severities = {a.fingerprint: a.severity for a in await Alert.filter(tenant=acme.tenant)}
    assert severities["fp-0"] is Severity.CRITICAL
    assert severities["keep-meh"] is Severity.LOW
    # The tenant's word wins over the built-in table's.
    assert [a.severity for a in await Alert.filter(title="generic-p1")] == [Severity.HIGH]


async def test_a_refusal_lists_the_tenants_own_words_too(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    await map_words(client, acme, {"sev1": "critical"})

    response = await post(client, "generic", acme.api_key, {"title": "x", "severity": "urgent"})

    assert response.status_code == 422
    assert "sev1" in response.json()["error"]["message"]


async def test_another_tenants_mapping_does_not_count(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    await map_words(client, globex, {"urgent": "critical"})

    response = await post(client, "generic", acme.api_key, {"title": "x", "severity": "urgent"})

    await assert_refused(response, "severity", acme)


async def test_one_bad_alert_refuses_the_whole_batch_and_nothing_is_stored(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    body = alertmanager_with("critical", "warning", "p2", "urgent", "info")

    response = await post(client, "alertmanager", acme.api_key, body)

    await assert_refused(response, "alerts[3].labels.severity", acme)
    await drained(app_runtime)
    assert not await Alert.filter(tenant=acme.tenant).exists()


@pytest.mark.parametrize("severity", [None, "", "  "])
async def test_a_missing_or_blank_severity_is_still_a_warning(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime, severity: str | None
) -> None:
    response = await post(client, "alertmanager", acme.api_key, alertmanager_with(severity))

    assert response.status_code == 202, response.text
    await drained(app_runtime)
    assert (await Alert.get(tenant=acme.tenant)).severity is Severity.WARNING


async def test_an_event_accepted_before_the_rule_still_pages_as_a_warning(
    acme: TenantKit, app_runtime: Runtime
) -> None:
    # Inbox rows written before unknown words were refused carry them; processing
    # must not refuse what the sender was already told was accepted.
    payload = {"title": "Old event", "fingerprint": "old-event"}
    [event] = parse_generic(payload, {})
    old = dataclasses.replace(event, severity_label="urgent")
    await accept(tenant=acme.tenant, api_key=None, events=[old], raw=payload)

    await drained(app_runtime)

    alert = await Alert.get(tenant=acme.tenant, fingerprint="old-event")
    assert alert.severity is Severity.WARNING
    assert (await AlertEvent.get(tenant_id=acme.tenant.id)).outcome == "created"
