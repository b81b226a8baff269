"""A key's generic field map is checked when it is set, and ``updateApiKey`` changes
only what it is given."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from opswatch.models import Alert, ApiKey
from opswatch.runtime import Runtime
from tests.alerts.test_webhooks import drained, post
from tests.factories import TenantKit, graphql

KEY_FIELDS = "id name fieldMap rateLimitPerMinute"
CREATE = f"""
mutation($input: ApiKeyInput!) {{ createApiKey(input: $input) {{ key apiKey {{ {KEY_FIELDS} }} }} }}
"""
UPDATE = f"""
mutation($id: ID!, $name: String, $map: JSON, $limit: Int) {{
  updateApiKey(id: $id, name: $name, fieldMap: $map, rateLimitPerMinute: $limit) {{
    {KEY_FIELDS}
  }}
}}
"""


async def created_key(client: httpx.AsyncClient, kit: TenantKit, **input: Any) -> dict[str, Any]:
    body = await graphql(client, kit.admin_token, CREATE, input={"name": "grafana", **input})
    assert "errors" not in body, body
    created: dict[str, Any] = body["data"]["createApiKey"]
    return created


async def update(
    client: httpx.AsyncClient, kit: TenantKit, key_id: str, **arguments: Any
) -> dict[str, Any]:
    return await graphql(client, kit.admin_token, UPDATE, id=key_id, **arguments)


async def test_a_field_map_naming_no_opswatch_field_is_refused_when_created(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    body = await graphql(
        client,
        acme.admin_token,
        CREATE,
        input={"name": "typo", "fieldMap": {"title": "alert.name", "titel": "alert.name"}},
    )

    [error] = body["errors"]
    assert error["extensions"] == {"code": "INVALID_INPUT", "field": "fieldMap.titel"}
    assert "title, description, severity" in error["message"]  # the valid keys are listed
    assert not await ApiKey.filter(tenant=acme.tenant, name="typo").exists()


@pytest.mark.parametrize(
    ("field_map", "field"),
    [
        ({"titel": "alert.name"}, "fieldMap.titel"),
        ({"title": "alert..name"}, "fieldMap.title"),
        ({"labels": 3}, "fieldMap.labels"),
        ([1], "fieldMap"),
    ],
)
async def test_a_bad_field_map_update_names_the_key_and_changes_nothing(
    client: httpx.AsyncClient, acme: TenantKit, field_map: Any, field: str
) -> None:
    key = await created_key(client, acme, fieldMap={"title": "alert.name"})
    key_id = key["apiKey"]["id"]

    body = await update(client, acme, key_id, name="renamed", map=field_map)

    assert body["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": field}
    stored = await ApiKey.get(id=key_id)
    assert (stored.name, stored.field_map) == ("grafana", {"title": "alert.name"})


async def test_every_generic_field_may_be_mapped(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    fields = ["title", "description", "severity", "status", "source", "labels"]
    fields += ["fingerprint", "runbook_url", "agent_metadata"]
    field_map = {field: f"payload.{field}" for field in fields}

    key = await created_key(client, acme, fieldMap=field_map)

    assert key["apiKey"]["fieldMap"] == field_map


async def test_renaming_a_key_keeps_its_field_map_and_rate_limit(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    key = await created_key(client, acme, fieldMap={"title": "alert.name"}, rateLimitPerMinute=600)

    body = await update(client, acme, key["apiKey"]["id"], name="grafana-eu")

    assert body["data"]["updateApiKey"] == {
        "id": key["apiKey"]["id"],
        "name": "grafana-eu",
        "fieldMap": {"title": "alert.name"},
        "rateLimitPerMinute": 600,
    }


async def test_a_new_rate_limit_keeps_the_name_and_field_map(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    key = await created_key(client, acme, fieldMap={"title": "alert.name"})

    body = await update(client, acme, key["apiKey"]["id"], limit=60)

    changed = body["data"]["updateApiKey"]
    assert (changed["name"], changed["fieldMap"], changed["rateLimitPerMinute"]) == (
        "grafana",
        {"title": "alert.name"},
        60,
    )


async def test_null_clears_the_field_map_and_rate_limit_but_not_the_name(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    key = await created_key(client, acme, fieldMap={"title": "alert.name"}, rateLimitPerMinute=5)
    key_id = key["apiKey"]["id"]

    cleared = await update(client, acme, key_id, map=None, limit=None)
    assert cleared["data"]["updateApiKey"]["fieldMap"] == {}
    assert cleared["data"]["updateApiKey"]["rateLimitPerMinute"] is None

    refused = await update(client, acme, key_id, name=None)
    assert refused["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "name"}
    assert (await ApiKey.get(id=key_id)).name == "grafana"


async def test_a_rate_limit_below_one_is_refused(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    key = await created_key(client, acme)

    body = await update(client, acme, key["apiKey"]["id"], limit=0)

    assert body["errors"][0]["extensions"] == {
        "code": "INVALID_INPUT",
        "field": "rateLimitPerMinute",
    }


async def test_another_tenants_key_cannot_be_changed(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    key = await created_key(client, globex, fieldMap={"title": "alert.name"})

    body = await update(client, acme, key["apiKey"]["id"], map={"title": "x.y"})

    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await ApiKey.get(id=key["apiKey"]["id"])).field_map == {"title": "alert.name"}


async def test_a_changed_field_map_shapes_the_next_alert(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    key = await created_key(client, acme, fieldMap={"title": "alert.name"})
    body = {"alert": {"name": "Old name", "summary": "New name"}}
    assert (await post(client, "generic", key["key"], body)).status_code == 202

    await update(client, acme, key["apiKey"]["id"], map={"title": "alert.summary"})
    assert (await post(client, "generic", key["key"], body)).status_code == 202
    await drained(app_runtime)

    titles = {a.title for a in await Alert.filter(tenant=acme.tenant)}
    assert titles == {"Old name", "New name"}
