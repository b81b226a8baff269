"""Malformed requests are 4xx in the JSON error shape, and no failure, even a bug's
500, breaks the keep-alive connection it came on (a real uvicorn server)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opswatch.config import Settings
from opswatch.http.app import create_app
from opswatch.models import Alert, AlertSourceFormat, Channel, EscalationEvent, Severity
from opswatch.runtime import Runtime
from tests.conftest import served
from tests.factories import TenantKit

BODIES = [
    b"null",
    b"[]",
    b"1",
    b'"x"',
    b'{"query": 5}',
    b'{"query": "{ __typename }", "variables": "x"}',
    b'{"query": "{ __typename }", "extensions": 5}',
    b"{",
]


def _local_port(response: httpx.Response) -> int:
    stream = response.extensions["network_stream"]
    port: int = stream.get_extra_info("socket").getsockname()[1]
    return port


async def _boom(request: Request) -> Response:
    raise RuntimeError("a bug in a handler")


@pytest.fixture
async def server(settings: Settings, app_runtime: Runtime) -> AsyncIterator[str]:
    """A real uvicorn server of the app, with one route that fails as a bug would."""
    app = create_app(
        settings, connect_database=False, run_scheduler=False, shared_runtime=app_runtime
    )
    app.router.routes.append(Route("/test-boom", _boom))
    async with served(app) as address:
        yield f"http://{address}"


async def test_malformed_graphql_bodies_are_400_and_keep_the_connection(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        first = await http.get("/healthz")
        for body in BODIES:
            response = await http.post(
                "/graphql", content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 400, (body, response.text)
            error = response.json()["error"]
            assert error["field"] == "body", body
            assert error["message"], body
            assert _local_port(response) == _local_port(first), body
        after = await http.post("/graphql", json={"query": "{ __typename }"})
        assert after.json() == {"data": {"__typename": "Query"}}
        assert _local_port(after) == _local_port(first)


async def test_vonage_callbacks_with_malformed_json_are_400(server: str, acme: TenantKit) -> None:
    alert = await Alert.create(
        tenant=acme.tenant,
        fingerprint="fp",
        short_id="abc234",
        title="disk full",
        severity=Severity.CRITICAL,
        source_format=AlertSourceFormat.GENERIC,
        first_received_at=datetime.now(UTC),
        last_received_at=datetime.now(UTC),
    )
    event = await EscalationEvent.create(
        tenant=acme.tenant,
        alert=alert,
        cycle=0,
        tier=1,
        target=str(uuid.uuid4()),
        channel=Channel.SMS,
    )
    async with httpx.AsyncClient(base_url=server) as http:
        first = await http.get("/healthz")
        for path in (f"/api/v1/vonage/status?event_id={event.id}", "/api/v1/vonage/sms"):
            response = await http.post(
                path, content=b"{", headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 400, (path, response.text)
            assert response.json()["error"]["field"] == "body"
            assert _local_port(response) == _local_port(first)
        assert (await http.get("/healthz")).status_code == 200


async def test_a_bug_is_one_logged_json_500_and_the_connection_survives(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        first = await http.get("/healthz")
        with caplog.at_level(logging.ERROR):
            failed = await http.get("/test-boom")
        assert failed.status_code == 500
        assert failed.json()["error"]["code"] == "internal"
        after = await http.get("/healthz")
        assert after.status_code == 200
        assert _local_port(after) == _local_port(first)
    logged = [
        r for r in caplog.records if r.exc_info and "a bug in a handler" in str(r.exc_info[1])
    ]
    assert len(logged) == 1
