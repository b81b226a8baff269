"""While the database cannot be reached, every route answers 503 with Retry-After
(REST in its error shape, GraphQL with an UNAVAILABLE error), never a 500, and
answers normally again once the database is back."""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from opswatch.http import graphql as graphql_http
from opswatch.knowledge.runbooks import runbook_url
from opswatch.queue.inprocess import InProcessQueue
from opswatch.rosters import calendar_tokens
from opswatch.runtime import Runtime
from opswatch.tenants.principal import Principal, principal_from_credential
from tests.conftest import BACKEND
from tests.factories import TenantKit
from tests.http.outage import database_unreachable

# An SQLite file cannot be made unreachable from within its process: Tortoise's
# SQLite client keeps its lock when a connection fails to open, so the first failed
# statement would hang every later one (PostgreSQL's pool has no such lock).
pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="needs PostgreSQL (see above)")

SLACK_SECRET = "slack-signing-secret-for-the-outage-tests"


def queue(runtime: Runtime) -> InProcessQueue:
    assert isinstance(runtime.queue, InProcessQueue)
    return runtime.queue


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"].isdigit()
    assert response.json()["error"]["code"] == "unavailable"


def _slack_headers(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def test_graphql_resolvers_answer_503_unavailable_not_unexpected_error(
    client: httpx.AsyncClient,
    app_runtime: Runtime,
    acme: TenantKit,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    principal = await principal_from_credential(acme.admin_token, allow_api_key=False)

    # Authenticated before the outage, so the request reaches a resolver.
    async def known(header: str | None) -> Principal:
        return principal

    monkeypatch.setattr(graphql_http, "authenticate_header", known)
    query = {"query": "{ alerts { edges { cursor } } rosters { id } }"}
    async with database_unreachable(tmp_path, queue(app_runtime)):
        response = await client.post("/graphql", json=query, headers={"Authorization": "Bearer x"})
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"].isdigit()
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert errors
    assert {e["extensions"]["code"] for e in errors} == {"UNAVAILABLE"}
    assert all(e["message"] != "Unexpected error." for e in errors)

    after = await client.post("/graphql", json=query, headers={"Authorization": "Bearer x"})
    assert after.status_code == 200
    assert after.json() == {"data": {"alerts": {"edges": []}, "rosters": []}}


async def test_graphql_authentication_answers_503(
    client: httpx.AsyncClient, app_runtime: Runtime, acme: TenantKit, tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {acme.admin_token}"}
    async with database_unreachable(tmp_path, queue(app_runtime)):
        response = await client.post(
            "/graphql", json={"query": "{ viewer { name } }"}, headers=headers
        )
    _assert_unavailable(response)
    after = await client.post("/graphql", json={"query": "{ viewer { name } }"}, headers=headers)
    assert after.json() == {"data": {"viewer": {"name": "Acme Admin"}}}


async def test_rest_calendars_and_pages_answer_503(
    client: httpx.AsyncClient, app_runtime: Runtime, acme: TenantKit, tmp_path: Path
) -> None:
    token = await calendar_tokens.user_feed_token(acme.admin)
    runbook = runbook_url(acme.tenant.id, "disk-full").split("://", 1)[1].split("/", 1)[1]
    roster = uuid.uuid4()
    async with database_unreachable(tmp_path, queue(app_runtime)):
        answers = [
            await client.get(f"/api/v1/calendars/users/{token}.ics"),
            await client.get(f"/api/v1/calendars/rosters/{token}.ics"),
            await client.get(
                f"/api/v1/rosters/{roster}/oncall", headers={"X-API-Key": acme.api_key}
            ),
            await client.post(
                "/api/v1/webhooks/generic",
                json={"title": "disk full"},
                headers={"X-API-Key": acme.api_key},
            ),
            await client.get(f"/{runbook}"),
            await client.post(
                f"/api/v1/twilio/status?event_id={uuid.uuid4()}", data={"CallStatus": "busy"}
            ),
            await client.post("/api/v1/twilio/sms", data={"To": "+4930000000", "Body": "ACK"}),
            await client.post("/api/v1/vonage/sms", data={"to": "4930000000", "text": "ACK"}),
        ]
    for response in answers:
        _assert_unavailable(response)
    assert (await client.get(f"/api/v1/calendars/users/{token}.ics")).status_code == 200


async def test_slack_commands_answer_503(
    client: httpx.AsyncClient, app_runtime: Runtime, acme: TenantKit, tmp_path: Path
) -> None:
    app_runtime.settings = dataclasses.replace(
        app_runtime.settings, slack_signing_secret=SLACK_SECRET
    )
    body = b"team_id=T1&user_id=U1&text=oncall&response_url=http%3A%2F%2Fexample.test%2F"
    async with database_unreachable(tmp_path, queue(app_runtime)):
        command = await client.post(
            "/api/v1/slack/commands", content=body, headers=_slack_headers(body)
        )
        event_body = b'{"type": "event_callback", "team_id": "T1", "event": {}}'
        event = await client.post(
            "/api/v1/slack/events", content=event_body, headers=_slack_headers(event_body)
        )
    _assert_unavailable(command)
    _assert_unavailable(event)


async def test_a_refused_value_is_not_a_503(client: httpx.AsyncClient, acme: TenantKit) -> None:
    """A database that answers, refusing the value sent, is not "unavailable"."""
    response = await client.post("/api/v1/twilio/sms", data={"To": "+49\x00", "Body": "ACK"})
    assert response.status_code in (403, 422), response.text
    assert "Retry-After" not in response.headers
