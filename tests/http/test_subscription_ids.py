"""Subscribing to one incident's events: another tenant's incident is NOT_FOUND, as
oncallChanged answers for another tenant's roster, and a malformed id INVALID_INPUT;
neither subscribes silently to nothing."""

from __future__ import annotations

import asyncio

import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from opswatch.audit.actor import Actor
from opswatch.knowledge import entries
from opswatch.models import IncidentSource, IncidentStatus
from tests.factories import TenantKit

INCIDENT_EVENTS = "subscription($id: ID) { incidentEvents(incidentId: $id) { kind } }"


async def _first_error(live_server: str, kit: TenantKit, incident_id: str) -> dict[str, object]:
    transport = WebsocketsTransport(
        url=f"ws://{live_server}/graphql",
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"Authorization": f"Bearer {kit.viewer_token}"},
    )
    async with Client(transport=transport) as session:
        feed = session.subscribe(
            GraphQLRequest(INCIDENT_EVENTS, variable_values={"id": incident_id})
        )
        with pytest.raises(TransportQueryError) as refused:
            await asyncio.wait_for(anext(feed), 10)
    errors = refused.value.errors
    assert errors
    extensions: dict[str, object] = errors[0]["extensions"]
    return extensions


async def test_another_tenants_incident_is_not_found(
    live_server: str, acme: TenantKit, globex: TenantKit
) -> None:
    theirs = await entries.create_entry(
        tenant=globex.tenant,
        spec=entries.EntrySpec(
            title="Globex outage",
            severity="critical",
            summary="",
            root_cause=None,
            solution=None,
            tags=[],
            match_rule=None,
            status=IncidentStatus.OPEN,
            source=IncidentSource.MANUAL,
        ),
        author=globex.admin,
        actor=Actor.system("test"),
    )
    assert await _first_error(live_server, acme, str(theirs.id)) == {
        "code": "NOT_FOUND",
        "field": "incidentId",
    }


async def test_a_malformed_incident_id_is_invalid_input(live_server: str, acme: TenantKit) -> None:
    assert await _first_error(live_server, acme, "not-an-id") == {
        "code": "INVALID_INPUT",
        "field": "incidentId",
    }
