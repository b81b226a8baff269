"""GraphQL over WebSocket (graphql-transport-ws) with the real gql client and uvicorn."""

from __future__ import annotations

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportError
from gql.transport.websockets import WebsocketsTransport

from tests.factories import TenantKit


def _transport(server: str, init_payload: dict[str, str]) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=f"ws://{server}/graphql",
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload=init_payload,
    )


async def test_connection_init_carries_the_bearer_token(live_server: str, acme: TenantKit) -> None:
    transport = _transport(live_server, {"Authorization": f"Bearer {acme.admin_token}"})
    async with Client(transport=transport) as session:
        result = await session.execute(gql("{ viewer { name tenant { slug } } }"))
    assert result == {"viewer": {"name": "Acme Admin", "tenant": {"slug": "acme"}}}


@pytest.mark.parametrize("payload", [{}, {"Authorization": "Bearer owu_000000000000_nope"}])
async def test_a_connection_without_a_valid_token_is_refused(
    live_server: str, acme: TenantKit, payload: dict[str, str]
) -> None:
    with pytest.raises((TransportError, OSError)):
        async with Client(transport=_transport(live_server, payload)) as session:
            await session.execute(gql("{ viewer { name } }"))
