"""The live alert feed with the real gql client over WebSocket, against uvicorn:
live events, resume after a disconnect, filters and tenant isolation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.websockets import WebsocketsTransport

from opswatch.models import AlertEvent
from tests.factories import TenantKit

FEED = """
subscription($after: String, $filter: AlertFilter) {
  alertEvents(after: $after, filter: $filter) {
    kind cursor alert { fingerprint occurrences severity status }
  }
}
"""


def feed_request(**variables: Any) -> GraphQLRequest:
    return GraphQLRequest(FEED, variable_values=variables)


@asynccontextmanager
async def session(server: str, token: str) -> AsyncIterator[AsyncClientSession]:
    transport = WebsocketsTransport(
        url=f"ws://{server}/graphql",
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"Authorization": f"Bearer {token}"},
    )
    async with Client(transport=transport) as opened:
        yield opened


async def send(server: str, key: str, fingerprint: str, severity: str = "critical") -> None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"http://{server}/api/v1/webhooks/generic",
            json={
                "title": f"Alert {fingerprint}",
                "fingerprint": fingerprint,
                "severity": severity,
            },
            headers={"X-API-Key": key},
        )
    assert response.status_code == 202


async def processed(count: int) -> None:
    for _ in range(400):
        if await AlertEvent.filter(processed_at__isnull=False).count() >= count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{count} events were not processed in time")


async def take(feed: AsyncGenerator[dict[str, Any], None], count: int) -> list[dict[str, Any]]:
    """The next ``count`` events; then the subscription is closed (gql waits for that)."""

    async def collect() -> list[dict[str, Any]]:
        return [(await anext(feed))["alertEvents"] for _ in range(count)]

    try:
        return await asyncio.wait_for(collect(), 10)
    finally:
        await feed.aclose()


async def listening(feed: AsyncGenerator[dict[str, Any], None], count: int) -> asyncio.Task[Any]:
    """Start consuming now, so the subscription is registered before anything is sent."""
    task = asyncio.ensure_future(take(feed, count))
    await asyncio.sleep(0.3)
    return task


async def test_a_client_that_reconnects_with_its_cursor_misses_nothing(
    live_server: str, acme: TenantKit
) -> None:
    async with session(live_server, acme.admin_token) as first:
        pending = await listening(first.subscribe(feed_request()), 1)
        await send(live_server, acme.api_key, "disk-full")
        [created] = await pending
    assert created["kind"] == "CREATED"
    assert created["alert"]["fingerprint"] == "disk-full"

    # Disconnected: these happen while nobody listens.
    await send(live_server, acme.api_key, "disk-full")
    await send(live_server, acme.api_key, "cpu-hot")
    await processed(3)

    async with session(live_server, acme.admin_token) as second:
        pending = await listening(second.subscribe(feed_request(after=created["cursor"])), 3)
        await send(live_server, acme.api_key, "cpu-hot")
        *missed, live = await pending
    assert [(e["kind"], e["alert"]["fingerprint"]) for e in missed] == [
        ("UPDATED", "disk-full"),
        ("CREATED", "cpu-hot"),
    ]
    assert missed[0]["alert"]["occurrences"] == 2
    assert (live["kind"], live["alert"]["occurrences"]) == ("UPDATED", 2)
    cursors = [created["cursor"], *(e["cursor"] for e in missed), live["cursor"]]
    assert len(set(cursors)) == 4


async def test_filters_and_tenants_scope_the_feed(
    live_server: str, acme: TenantKit, globex: TenantKit
) -> None:
    async with (
        session(live_server, acme.admin_token) as acme_session,
        session(live_server, globex.admin_token) as globex_session,
    ):
        critical_only = await listening(
            acme_session.subscribe(feed_request(filter={"severity": ["CRITICAL"]})), 1
        )
        globex_feed = await listening(globex_session.subscribe(feed_request()), 1)
        await send(live_server, acme.api_key, "noise", severity="info")
        await send(live_server, acme.api_key, "page-me", severity="critical")
        await send(live_server, globex.api_key, "globex-own", severity="info")
        [only] = await critical_only
        [theirs] = await globex_feed
    assert only["alert"]["fingerprint"] == "page-me"
    assert theirs["alert"]["fingerprint"] == "globex-own"


async def test_each_event_shows_the_alert_as_that_change_left_it(
    live_server: str, acme: TenantKit
) -> None:
    """Replayed events carry their own snapshot: reading the alert back at replay
    time would show the latest count on every one of them."""
    async with session(live_server, acme.admin_token) as first:
        pending = await listening(first.subscribe(feed_request()), 1)
        await send(live_server, acme.api_key, "flapping")
        [created] = await pending
    for expected in (2, 3):
        await send(live_server, acme.api_key, "flapping")
        await processed(expected)

    async with session(live_server, acme.admin_token) as second:
        replayed = await take(second.subscribe(feed_request(after=created["cursor"])), 2)
    assert [e["alert"]["occurrences"] for e in replayed] == [2, 3]


async def test_text_and_fingerprint_filters_apply_to_live_events(
    live_server: str, acme: TenantKit
) -> None:
    async with session(live_server, acme.admin_token) as opened:
        by_text = await listening(opened.subscribe(feed_request(filter={"text": "DISK"})), 1)
        await send(live_server, acme.api_key, "cpu-hot")
        await send(live_server, acme.api_key, "disk-full")
        [only] = await by_text
    assert only["alert"]["fingerprint"] == "disk-full"
