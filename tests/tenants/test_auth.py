"""Keys and tokens: valid ones resolve to their tenant; anything else is one 401."""

from __future__ import annotations

import httpx
import pytest

from opswatch.audit.actor import Actor
from opswatch.errors import Forbidden, NotFound, Unauthenticated
from opswatch.models import ApiKey, Role, UserToken
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from opswatch.tenants.apikeys import revoke_api_key
from opswatch.tenants.principal import principal_from_credential
from tests.factories import TenantKit, graphql

VIEWER = "{ viewer { name role tenant { name slug } } }"


async def test_a_user_token_answers_as_its_user_and_tenant(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    body = await graphql(client, acme.admin_token, VIEWER)
    assert body["data"]["viewer"] == {
        "name": "Acme Admin",
        "role": "ADMIN",
        "tenant": {"name": "Acme", "slug": "acme"},
    }


async def test_malformed_unknown_and_forged_tokens_get_401(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    forged = acme.admin_token[:-4] + "AAAA"
    for header in ["Bearer nonsense", "Basic abc", f"Bearer {forged}", "Bearer owu_000000000000_x"]:
        response = await client.post(
            "/graphql", json={"query": VIEWER}, headers={"Authorization": header}
        )
        assert response.status_code == 401, header
        assert response.json()["error"]["code"] == "unauthenticated"


async def test_no_token_reads_nothing(client: httpx.AsyncClient, acme: TenantKit) -> None:
    body = await graphql(client, None, VIEWER)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_revoked_token_gets_401(client: httpx.AsyncClient, acme: TenantKit) -> None:
    await UserToken.filter(user=acme.admin).update(revoked_at=acme.admin.created_at)
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {acme.admin_token}"}
    )
    assert response.status_code == 401


async def test_api_keys_resolve_to_their_own_tenant_until_revoked(
    acme: TenantKit, globex: TenantKit, app_runtime: Runtime
) -> None:
    acme_principal = await principal_from_credential(acme.api_key, allow_api_key=True)
    globex_principal = await principal_from_credential(globex.api_key, allow_api_key=True)
    assert acme_principal.tenant.id == acme.tenant.id
    assert globex_principal.tenant.id == globex.tenant.id
    assert acme_principal.role is Role.RESPONDER

    key = await ApiKey.get(tenant=acme.tenant)
    await revoke_api_key(tenant=acme.tenant, key_id=key.prefix, actor=Actor.cli())
    with pytest.raises(Unauthenticated):
        await principal_from_credential(acme.api_key, allow_api_key=True)


async def test_an_api_key_cannot_be_used_as_a_graphql_token(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    response = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {acme.api_key}"}
    )
    assert response.status_code == 401


async def test_another_tenants_key_id_cannot_be_revoked(acme: TenantKit, globex: TenantKit) -> None:
    globex_key = await ApiKey.get(tenant=globex.tenant)
    with pytest.raises(NotFound):
        await revoke_api_key(tenant=acme.tenant, key_id=str(globex_key.id), actor=Actor.cli())
    assert (await ApiKey.get(id=globex_key.id)).revoked_at is None


async def test_viewers_cannot_create_users(client: httpx.AsyncClient, acme: TenantKit) -> None:
    body = await graphql(
        client,
        acme.viewer_token,
        "mutation($input: UserInput!) { createUser(input: $input) { id } }",
        input={"name": "Eve", "email": "eve@acme.example"},
    )
    assert body["errors"][0]["extensions"]["code"] == Forbidden.code.upper()


async def test_last_used_is_recorded_off_the_request_path(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    await graphql(client, acme.admin_token, VIEWER)
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()
    token = await UserToken.get(user=acme.admin)
    assert token.last_used_at is not None


async def test_field_maps_are_checked_when_set_not_when_alerts_arrive(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    create = """
    mutation($input: ApiKeyInput!) { createApiKey(input: $input) { key apiKey { id fieldMap } } }
    """
    bad = await graphql(
        client, acme.admin_token, create, input={"name": "k", "fieldMap": {"title": "a..b"}}
    )
    assert bad["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "fieldMap.title"}
    good = await graphql(
        client, acme.admin_token, create, input={"name": "k", "fieldMap": {"title": "alert.name"}}
    )
    created = good["data"]["createApiKey"]
    assert created["key"].startswith("owk_")
    update = "mutation($id: ID!, $map: JSON) { updateApiKey(id: $id, fieldMap: $map) { fieldMap } }"
    changed = await graphql(
        client, acme.admin_token, update, id=created["apiKey"]["id"], map={"title": "x.y"}
    )
    assert changed["data"]["updateApiKey"]["fieldMap"] == {"title": "x.y"}
    rejected = await graphql(client, acme.admin_token, update, id=created["apiKey"]["id"], map=[1])
    assert rejected["errors"][0]["extensions"]["field"] == "fieldMap"
    listed = await graphql(client, acme.viewer_token, "{ apiKeys { prefix } }")
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
