"""Credentials go where they belong: API keys on webhooks, user tokens on GraphQL,
either on the read-only on-call endpoint; the refusal says which is which."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from opswatch.audit.actor import Actor
from opswatch.models import AlertEvent
from opswatch.rosters.rosters import RosterSpec, create_roster
from tests.factories import TenantKit

USER_TOKEN_ON_WEBHOOK = "webhooks take an API key (owk_…); this is a user token"
API_KEY_ON_GRAPHQL = "GraphQL takes a user token (owu_…); this is a webhook API key"
ALERT = {"title": "disk full", "severity": "critical"}


async def test_a_user_token_on_a_webhook_is_refused(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    for headers in (
        {"X-API-Key": acme.admin_token},
        {"Authorization": f"Bearer {acme.admin_token}"},
    ):
        response = await client.post("/api/v1/webhooks/generic", json=ALERT, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["message"] == USER_TOKEN_ON_WEBHOOK
    assert await AlertEvent.all().count() == 0
    accepted = await client.post(
        "/api/v1/webhooks/generic", json=ALERT, headers={"X-API-Key": acme.api_key}
    )
    assert accepted.status_code == 202


async def test_an_api_key_on_graphql_is_refused(client: httpx.AsyncClient, acme: TenantKit) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { email } }"},
        headers={"Authorization": f"Bearer {acme.api_key}"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"] == API_KEY_ON_GRAPHQL


async def test_an_api_key_opening_a_graphql_websocket_is_told_the_same(
    live_server: str, acme: TenantKit
) -> None:
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {acme.api_key}"}}
    async with connect(
        f"ws://{live_server}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as socket:
        await socket.send(json.dumps(init))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, API_KEY_ON_GRAPHQL)


async def test_the_oncall_endpoint_still_takes_either(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    roster = await create_roster(
        tenant=acme.tenant,
        actor=Actor.system("test"),
        spec=RosterSpec(name="Platform", start_date=date.today()),
        member_ids=[str(acme.admin.id)],
    )
    for credential in (acme.api_key, acme.viewer_token):
        response = await client.get(
            f"/api/v1/rosters/{roster.id}/oncall", headers={"X-API-Key": credential}
        )
        assert response.status_code == 200, response.text


async def test_an_unknown_credential_is_still_one_plain_answer(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    forged = acme.admin_token[:-4] + "AAAA"
    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { email } }"},
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "unknown, revoked or malformed credential"
