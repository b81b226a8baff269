"""WebSocket limits over graphql-transport-ws against uvicorn, with a real client:
connections per token, subscriptions per connection."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from opswatch import runtime
from opswatch.config import ConfigError, load_settings
from tests.factories import TenantKit

FEED = "subscription { alertEvents { kind alert { fingerprint } } }"


@pytest.fixture
def limits(app_runtime: runtime.Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    small = dataclasses.replace(
        app_runtime.settings, max_ws_connections_per_token=2, max_subscriptions_per_connection=2
    )
    monkeypatch.setattr(app_runtime, "settings", small)


async def receive(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 10))
    return message


@asynccontextmanager
async def opened(server: str, token: str) -> AsyncIterator[ClientConnection]:
    """A socket after connection_init; whatever the server answered is left to read."""
    async with connect(f"ws://{server}/graphql", subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        yield socket


async def acknowledged(socket: ClientConnection) -> None:
    assert (await receive(socket))["type"] == "connection_ack"


async def refusal(socket: ClientConnection) -> tuple[int | None, str]:
    with pytest.raises(ConnectionClosed) as closed:
        await receive(socket)
    frame = closed.value.rcvd
    assert frame is not None
    return frame.code, frame.reason


async def subscribe(socket: ClientConnection, operation_id: str) -> None:
    await socket.send(
        json.dumps({"id": operation_id, "type": "subscribe", "payload": {"query": FEED}})
    )


async def pong(socket: ClientConnection) -> None:
    """Messages are handled in order: once the pong is here, so is any answer before it."""
    await socket.send(json.dumps({"type": "ping"}))
    while (message := await receive(socket))["type"] != "pong":
        pytest.fail(f"unexpected message {message}")


async def test_a_token_over_its_connection_cap_is_refused_and_a_closed_socket_frees_its_slot(
    live_server: str, acme: TenantKit, limits: None
) -> None:
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(opened(live_server, acme.admin_token))
        await acknowledged(first)
        second = await stack.enter_async_context(opened(live_server, acme.admin_token))
        await acknowledged(second)

        async with opened(live_server, acme.admin_token) as third:
            code, reason = await refusal(third)
        assert code == 4403
        assert "2 open WebSocket connections" in reason
        assert "OPSWATCH_MAX_WS_CONNECTIONS_PER_TOKEN" in reason

        # The cap is per token: another user's token still connects.
        async with opened(live_server, acme.viewer_token) as other:
            await acknowledged(other)

        await second.close()
        # The server gives the slot back once it has seen the socket close.
        for _ in range(100):
            async with opened(live_server, acme.admin_token) as again:
                try:
                    await acknowledged(again)
                    break
                except ConnectionClosed:
                    pass
            await asyncio.sleep(0.05)
        else:
            pytest.fail("closing a connection did not free its slot")
        await pong(first)


async def test_a_refused_connection_init_says_why(live_server: str, acme: TenantKit) -> None:
    async with connect(
        f"ws://{live_server}/graphql", subprotocols=["graphql-transport-ws"]
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        code, reason = await refusal(socket)
    assert (code, reason) == (4403, "send Authorization in connection_init")


async def test_a_subscription_over_the_cap_gets_an_error_and_the_others_stay_up(
    live_server: str, acme: TenantKit, limits: None
) -> None:
    async with opened(live_server, acme.admin_token) as socket:
        await acknowledged(socket)
        await subscribe(socket, "a")
        await subscribe(socket, "b")
        await subscribe(socket, "c")
        error = await receive(socket)
        assert (error["type"], error["id"]) == ("error", "c")
        [detail] = error["payload"]
        assert "at most 2 subscriptions per connection" in detail["message"]
        assert "OPSWATCH_MAX_SUBSCRIPTIONS_PER_CONNECTION" in detail["message"]
        await pong(socket)

        # Completing one frees its place.
        await socket.send(json.dumps({"id": "a", "type": "complete"}))
        await subscribe(socket, "d")
        await pong(socket)
        await asyncio.sleep(0.3)  # the resolvers register with the event bus

        async with httpx.AsyncClient() as http:
            response = await http.post(
                f"http://{live_server}/api/v1/webhooks/generic",
                json={"title": "still listening", "fingerprint": "still-listening"},
                headers={"X-API-Key": acme.api_key},
            )
        assert response.status_code == 202
        delivered: dict[str, str] = {}
        while len(delivered) < 2:
            message = await receive(socket)
            assert message["type"] == "next", message
            alert = message["payload"]["data"]["alertEvents"]["alert"]
            delivered[message["id"]] = alert["fingerprint"]
        assert delivered == {"b": "still-listening", "d": "still-listening"}


@pytest.mark.parametrize(
    "name", ["MAX_WS_CONNECTIONS_PER_TOKEN", "MAX_SUBSCRIPTIONS_PER_CONNECTION"]
)
def test_a_cap_below_one_stops_start_up_naming_the_setting(
    test_env: dict[str, str], name: str
) -> None:
    with pytest.raises(ConfigError, match=f"OPSWATCH_{name}: must be at least 1"):
        load_settings({**test_env, f"OPSWATCH_{name}": "0"})
