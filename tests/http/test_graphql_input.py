"""A client's own mistakes in GraphQL arguments are INVALID_INPUT naming the argument,
never "Unexpected error.", and change nothing; another tenant's well-formed id
stays not found."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from opswatch.audit.actor import Actor
from opswatch.models import Service
from opswatch.tenants.services import create_service
from tests.factories import TenantKit, graphql

MALFORMED_UUID = "3fa85f64-5717-4562-b3fc-2c963f66afaX"


def _refused(body: dict[str, Any], field: str) -> None:
    assert "errors" in body, body
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": field}, error
    assert error["message"] != "Unexpected error."


@pytest.mark.parametrize(
    ("query", "variables", "field"),
    [
        ("query($id: ID!) { alert(id: $id) { id } }", {"id": "x" * 13}, "id"),
        ("query($id: ID!) { alert(id: $id) { id } }", {"id": MALFORMED_UUID}, "id"),
        ("mutation($id: ID!) { acknowledgeAlert(id: $id) { id } }", {"id": MALFORMED_UUID}, "id"),
        ("mutation($id: ID!) { resolveAlert(id: $id) { id } }", {"id": "y" * 40}, "id"),
        ("query($s: String!) { runbook(slug: $s) { id } }", {"s": "a" * 300}, "slug"),
        ("query($s: String!) { runbook(slug: $s) { id } }", {"s": "a" * 5000}, "slug"),
        ("query($id: ID!) { incident(id: $id) { id } }", {"id": "nope"}, "id"),
        ("query($id: ID!) { roster(id: $id) { id } }", {"id": "nope"}, "id"),
        ("query($id: ID!) { user(id: $id) { id } }", {"id": "nope"}, "id"),
        ("query($u: ID) { notifications(userId: $u) { id } }", {"u": "nope"}, "userId"),
        ("mutation($id: ID!) { deleteRoster(id: $id) }", {"id": "nope"}, "id"),
        ("mutation($id: ID!) { deleteEscalationPolicy(id: $id) }", {"id": "nope"}, "id"),
        ("mutation($id: ID!) { deleteRunbook(id: $id) }", {"id": "nope"}, "id"),
        ("mutation($id: ID!) { revokeApiKey(id: $id) { id } }", {"id": "nope"}, "id"),
        (
            "mutation($a: [ID!]!) { promoteToIncident(alertIds: $a) { id } }",
            {"a": ["z" * 20]},
            "alertIds[0]",
        ),
        (
            "query($f: AlertFilter) { alerts(filter: $f) { edges { cursor } } }",
            {"f": {"fingerprint": "f" * 300}},
            "filter.fingerprint",
        ),
        # NUL, in variables and in literals, named by where it came.
        ("query($s: String!) { runbook(slug: $s) { id } }", {"s": "a\x00b"}, "s"),
        ('query { runbook(slug: "a\\u0000b") { id } }', {}, "slug"),
        (
            "query($q: String!) { searchKnowledgeBase(query: $q) { id } }",
            {"q": "disk\x00"},
            "q",
        ),
        (
            "query($f: AlertFilter) { alerts(filter: $f) { edges { cursor } } }",
            {"f": {"text": "x\x00"}},
            "f.text",
        ),
        (
            'query { alerts(filter: {fingerprint: "\\u0000"}) { edges { cursor } } }',
            {},
            "filter.fingerprint",
        ),
    ],
)
async def test_malformed_arguments_are_invalid_input(
    client: httpx.AsyncClient, acme: TenantKit, query: str, variables: dict[str, Any], field: str
) -> None:
    _refused(await graphql(client, acme.admin_token, query, **variables), field)


async def test_an_empty_policy_id_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    service = await create_service(tenant=acme.tenant, name="api", actor=Actor.cli())
    created = await graphql(
        client,
        acme.admin_token,
        'mutation($u: ID!) { createEscalationPolicy(input: {name: "p", tiers: '
        "[{delayMinutes: 1, channels: [SMS], userIds: [$u]}]}) { id } }",
        u=str(acme.admin.id),
    )
    assert "errors" not in created, created
    policy_id = created["data"]["createEscalationPolicy"]["id"]
    assign = (
        "mutation($s: ID!, $p: ID) { assignEscalationPolicy(serviceId: $s, policyId: $p) { id } }"
    )
    await graphql(client, acme.admin_token, assign, s=str(service.id), p=policy_id)

    _refused(await graphql(client, acme.admin_token, assign, s=str(service.id), p=""), "policyId")
    row = await Service.get(id=service.id)
    assert str(row.escalation_policy_id) == policy_id  # type: ignore[attr-defined]


async def test_another_tenants_well_formed_ids_stay_not_found(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    query = "mutation($id: ID!) { acknowledgeAlert(id: $id) { id } }"
    body = await graphql(client, acme.admin_token, query, id=str(uuid.uuid4()))
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    found = await graphql(
        client,
        acme.admin_token,
        "query($id: ID!) { user(id: $id) { id } }",
        id=str(globex.admin.id),
    )
    assert found == {"data": {"user": None}}


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ({"actorId": "a" * 65}, "filter.actorId"),
        ({"targetId": "t" * 300}, "filter.targetId"),
        ({"targetType": "t" * 33}, "filter.targetType"),
        ({"action": "x" * 65}, "filter.action"),
        ({"actorType": "nonsense"}, "filter.actorType"),
    ],
)
async def test_audit_filters_past_their_columns_are_invalid_input(
    client: httpx.AsyncClient, acme: TenantKit, where: dict[str, str], field: str
) -> None:
    query = "query($f: AuditFilter) { auditLog(filter: $f) { edges { cursor } } }"
    _refused(await graphql(client, acme.admin_token, query, f=where), field)
