"""Personal tokens: your own to issue, list and revoke; an admin's for anyone in the tenant."""

from __future__ import annotations

from typing import Any

import httpx

from opswatch.audit.actor import Actor
from opswatch.models import AuditLog, UserToken
from opswatch.tenants.usage import mark_credential_used
from opswatch.tenants.users import create_user
from tests.factories import TenantKit, graphql

CREATE_TOKEN = """
mutation($userId: ID, $name: String!) {
  createUserToken(userId: $userId, name: $name) {
    token userToken { id name prefix createdAt lastUsedAt revokedAt userId }
  }
}
"""
LIST_TOKENS = """
query($userId: ID) { userTokens(userId: $userId) { id name prefix revokedAt userId lastUsedAt } }
"""
REVOKE = "mutation($id: ID!) { revokeUserToken(id: $id) { id prefix revokedAt } }"
VIEWER = "{ viewer { email } }"


def refusal(body: dict[str, Any]) -> tuple[str, str | None]:
    [error] = body["errors"]
    return error["extensions"]["code"], error["extensions"].get("field")


async def test_a_token_of_your_own_is_shown_once_then_listed_by_prefix_only(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    body = await graphql(client, acme.viewer_token, CREATE_TOKEN, name="ci dashboard")
    created = body["data"]["createUserToken"]
    token = created["userToken"]
    assert token["userId"] == str(acme.viewer.id)  # userId left out: your own
    assert (token["name"], token["revokedAt"], token["lastUsedAt"]) == ("ci dashboard", None, None)
    assert created["token"] not in (await UserToken.get(id=token["id"])).token_hash
    assert (await graphql(client, created["token"], VIEWER))["data"]["viewer"]["email"] == (
        acme.viewer.email
    )

    listed = (await graphql(client, acme.viewer_token, LIST_TOKENS))["data"]["userTokens"]
    assert {t["prefix"] for t in listed} == {
        token["prefix"],
        acme.viewer_token.split("_")[1],  # the one created with the user
    }
    assert all(created["token"] not in str(t) for t in listed)
    assert await AuditLog.exists(action="user.token_issued", target_id=token["id"])


async def test_the_list_shows_when_a_token_was_last_used(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    [row] = await UserToken.filter(user_id=acme.viewer.id)
    await mark_credential_used(
        kind="user_token", credential_id=str(row.id), used_at="2026-03-01T10:00:00+00:00"
    )
    [listed] = (await graphql(client, acme.viewer_token, LIST_TOKENS))["data"]["userTokens"]
    assert listed["lastUsedAt"] == "2026-03-01T10:00:00+00:00"


async def test_only_an_admin_issues_lists_or_revokes_someone_elses_tokens(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    other = await create_user(
        tenant=acme.tenant, name="Olga", email="olga@acme.example", actor=Actor.system("test")
    )
    olga = str(other.user.id)
    [olgas] = await UserToken.filter(user_id=olga)
    viewer = acme.viewer_token
    body = await graphql(client, viewer, CREATE_TOKEN, userId=olga, name="x")
    assert refusal(body) == ("FORBIDDEN", "userId")
    assert refusal(await graphql(client, viewer, LIST_TOKENS, userId=olga)) == (
        "FORBIDDEN",
        "userId",
    )
    assert refusal(await graphql(client, viewer, REVOKE, id=str(olgas.id)))[0] == "FORBIDDEN"
    assert await UserToken.filter(user_id=olga).count() == 1

    admin = acme.admin_token
    body = await graphql(client, admin, CREATE_TOKEN, userId=olga, name="for Olga")
    issued = body["data"]["createUserToken"]
    assert issued["userToken"]["userId"] == olga
    listed = (await graphql(client, admin, LIST_TOKENS, userId=olga))["data"]["userTokens"]
    assert {t["name"] for t in listed} == {"default", "for Olga"}
    body = await graphql(client, admin, REVOKE, id=str(olgas.id))
    assert body["data"]["revokeUserToken"]["revokedAt"]


async def test_revoking_a_token_stops_it_and_revoking_twice_is_fine(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    body = await graphql(client, acme.viewer_token, CREATE_TOKEN, name="phone")
    created = body["data"]["createUserToken"]
    token_id = created["userToken"]["id"]
    first = (await graphql(client, acme.viewer_token, REVOKE, id=token_id))["data"]
    again = (await graphql(client, acme.viewer_token, REVOKE, id=token_id))["data"]
    assert first["revokeUserToken"]["revokedAt"]
    assert again == first  # the first revocation time is kept
    assert await AuditLog.filter(action="user.token_revoked", target_id=token_id).count() == 1
    refused = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert refused.status_code == 401
    # Revoked tokens stay listed, saying when.
    listed = (await graphql(client, acme.viewer_token, LIST_TOKENS))["data"]["userTokens"]
    assert {t["id"]: t["revokedAt"] for t in listed}[token_id] == first["revokeUserToken"][
        "revokedAt"
    ]


async def test_a_token_name_is_required_and_ids_are_checked(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    body = await graphql(client, acme.viewer_token, CREATE_TOKEN, name="  ")
    assert refusal(body) == ("INVALID_INPUT", "name")
    body = await graphql(client, acme.admin_token, CREATE_TOKEN, userId="nope", name="x")
    assert refusal(body) == ("INVALID_INPUT", "userId")
    assert refusal(await graphql(client, acme.admin_token, REVOKE, id="nope")) == (
        "INVALID_INPUT",
        "id",
    )
    assert await UserToken.filter(tenant=acme.tenant).count() == 2  # the kit's own


async def test_another_tenants_tokens_are_not_found(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    [theirs] = await UserToken.filter(user_id=globex.admin.id)
    body = await graphql(client, acme.admin_token, REVOKE, id=str(theirs.id))
    assert refusal(body)[0] == "NOT_FOUND"
    body = await graphql(client, acme.admin_token, LIST_TOKENS, userId=str(globex.admin.id))
    assert refusal(body) == ("NOT_FOUND", "userId")
    assert (await UserToken.get(id=theirs.id)).revoked_at is None
