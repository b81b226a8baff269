"""Two tenants never see each other's users or services, by listing or by id."""

from __future__ import annotations

import httpx

from opswatch.audit.actor import Actor
from opswatch.models import AuditLog, Roster, Service
from opswatch.tenants.services import create_service
from tests.factories import TenantKit, graphql

CREATE_SERVICE = """
mutation($input: ServiceInput!) { createService(input: $input) { id name cluster namespace } }
"""


async def test_listings_show_only_the_callers_tenant(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    await create_service(tenant=globex.tenant, name="globex-billing", actor=Actor.cli())
    body = await graphql(client, acme.admin_token, "{ users { email } services { name } }")
    emails = {u["email"] for u in body["data"]["users"]}
    assert emails == {"admin@acme.example", "viewer@acme.example"}
    assert body["data"]["services"] == []


async def test_another_tenants_user_id_is_not_found(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    query = "query($id: ID!) { user(id: $id) { email } }"
    own = await graphql(client, acme.admin_token, query, id=str(acme.viewer.id))
    assert own["data"]["user"] == {"email": "viewer@acme.example"}
    foreign = await graphql(client, acme.admin_token, query, id=str(globex.viewer.id))
    assert foreign == {"data": {"user": None}}
    # A malformed id is the client's mistake, not a missing user (issue 14).
    malformed = await graphql(client, acme.admin_token, query, id="not-a-uuid")
    assert malformed["data"] == {"user": None}
    assert malformed["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "id"}


async def test_a_service_cannot_point_at_another_tenants_roster(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    roster = await Roster.create(
        tenant=globex.tenant, name="Globex Primary", start_date="2026-01-05", calendar_token="t1"
    )
    body = await graphql(
        client,
        acme.admin_token,
        CREATE_SERVICE,
        input={"name": "payment-gateway", "rosterId": str(roster.id)},
    )
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "rosterId"}
    assert not await Service.exists(tenant=acme.tenant)


async def test_create_service_validates_writes_and_audits(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    body = await graphql(
        client,
        acme.admin_token,
        CREATE_SERVICE,
        input={
            "name": "payment-gateway",
            "cluster": "production-de-01",
            "namespace": "customer-api",
        },
    )
    created = body["data"]["createService"]
    assert created["cluster"] == "production-de-01"
    entry = await AuditLog.get(action="service.created")
    assert entry.target_id == created["id"]
    assert entry.actor_id == str(acme.admin.id)
    assert entry.source == "graphql"

    duplicate = await graphql(
        client, acme.admin_token, CREATE_SERVICE, input={"name": "payment-gateway"}
    )
    assert duplicate["errors"][0]["extensions"] == {"code": "CONFLICT", "field": "name"}
    empty = await graphql(client, acme.admin_token, CREATE_SERVICE, input={"name": "  "})
    assert empty["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "name"}


async def test_create_user_rejects_bad_fields_by_name(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    mutation = "mutation($input: UserInput!) { createUser(input: $input) { id email timezone } }"
    cases = {
        "email": {"name": "Eve", "email": "not-an-address"},
        "phone": {"name": "Eve", "email": "eve@acme.example", "phone": "0151 123"},
        "timezone": {"name": "Eve", "email": "eve@acme.example", "timezone": "Mars/Olympus"},
    }
    for field, payload in cases.items():
        body = await graphql(client, acme.admin_token, mutation, input=payload)
        assert body["errors"][0]["extensions"]["field"] == field
    ok = await graphql(
        client,
        acme.admin_token,
        mutation,
        input={"name": "Eve", "email": "Eve@Acme.example", "timezone": "Europe/Berlin"},
    )
    assert ok["data"]["createUser"]["email"] == "eve@acme.example"
