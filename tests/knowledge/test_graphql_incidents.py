"""Incidents through GraphQL: create, update, resolve (with what the next responder
needs), the missing-knowledge flag, paging, search, nested fields in a constant
number of queries, and other tenants' incidents never."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from opswatch.models import Alert, AlertSourceFormat, Incident, Severity
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from tests.factories import TenantKit, graphql

CREATE = """
mutation($input: IncidentInput!) {
  createIncident(input: $input) { id title severity status matchRule missingKnowledge }
}
"""
RESOLVE = """
mutation($id: ID!, $cause: String!, $fix: String!) {
  resolveIncident(id: $id, rootCause: $cause, solution: $fix) {
    status rootCause solution missingKnowledge resolvedAt timeline { kind text }
  }
}
"""
LIST = """
query($first: Int, $after: String, $filter: IncidentFilter) {
  incidents(first: $first, after: $after, filter: $filter) {
    edges { cursor node { title commander { name } alerts { shortId } timeline { kind } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def _create(client: httpx.AsyncClient, kit: TenantKit, **fields: object) -> str:
    body = await graphql(client, kit.admin_token, CREATE, input={"title": "x", **fields})
    assert "errors" not in body, body
    incident_id: str = body["data"]["createIncident"]["id"]
    return incident_id


async def test_create_update_and_resolve(client: httpx.AsyncClient, acme: TenantKit) -> None:
    body = await graphql(
        client,
        acme.admin_token,
        CREATE,
        input={
            "title": "Kafka consumer lag",
            "severity": "HIGH",
            "matchRule": "alertname=KafkaConsumerLag, topic=orders",
        },
    )
    created = body["data"]["createIncident"]
    assert created["severity"] == "HIGH"
    assert created["status"] == "OPEN"
    assert created["matchRule"] == "alertname=KafkaConsumerLag, topic=orders"
    assert created["missingKnowledge"] is False

    bad = await graphql(
        client,
        acme.admin_token,
        CREATE,
        input={"title": "y", "matchRule": "just words"},
    )
    assert bad["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "matchRule"}

    empty = await graphql(client, acme.admin_token, RESOLVE, id=created["id"], cause=" ", fix="x")
    assert empty["errors"][0]["extensions"]["field"] == "rootCause"
    assert (await Incident.get(id=created["id"])).status.value == "open"

    done = await graphql(
        client,
        acme.admin_token,
        RESOLVE,
        id=created["id"],
        cause="Rebalance loop",
        fix="Raise session.timeout.ms",
    )
    resolved = done["data"]["resolveIncident"]
    assert resolved["status"] == "RESOLVED"
    assert resolved["missingKnowledge"] is False
    assert resolved["resolvedAt"] is not None
    assert [t["kind"] for t in resolved["timeline"]] == ["created", "resolved"]

    viewer = await graphql(client, acme.viewer_token, CREATE, input={"title": "z"})
    assert viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_resolved_without_knowledge_is_flagged(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    lacking = await _create(client, acme, title="Mystery reboot", status="RESOLVED")
    await _create(client, acme, title="Known one", status="RESOLVED", rootCause="a", solution="b")
    await _create(client, acme, title="Still open")
    page = await graphql(
        client, acme.admin_token, LIST, first=10, filter={"missingKnowledge": True}
    )
    titles = [e["node"]["title"] for e in page["data"]["incidents"]["edges"]]
    assert titles == ["Mystery reboot"]
    one = await graphql(
        client, acme.admin_token, "query($id: ID!) { incident(id: $id) { missingKnowledge } }",
        id=lacking,
    )  # fmt: skip
    assert one["data"]["incident"] == {"missingKnowledge": True}


async def test_paging_nested_fields_and_tenants(
    client: httpx.AsyncClient,
    acme: TenantKit,
    globex: TenantKit,
    query_count: list[str],
    app_runtime: Runtime,
) -> None:
    now = datetime.now(UTC)
    for i in range(30):
        incident = await Incident.create(
            tenant=acme.tenant, title=f"Incident {i}", commander=acme.admin
        )
        await Incident.filter(id=incident.id).update(created_at=now + timedelta(seconds=i))
        await Alert.create(
            tenant=acme.tenant,
            fingerprint=f"fp-{i}",
            short_id=f"s{i:05d}",
            title=f"Alert {i}",
            severity=Severity.HIGH,
            source_format=AlertSourceFormat.GENERIC,
            first_received_at=now,
            last_received_at=now,
            incident=incident,
        )
    await Incident.create(tenant=globex.tenant, title="Globex secret")
    await graphql(client, acme.admin_token, "{ viewer { name } }")
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()

    query_count.clear()
    small = await graphql(client, acme.admin_token, LIST, first=5)
    cost_of_5 = len(query_count)
    query_count.clear()
    large = await graphql(client, acme.admin_token, LIST, first=30)
    assert len(query_count) == cost_of_5 <= 6
    assert len(small["data"]["incidents"]["edges"]) == 5
    first = large["data"]["incidents"]["edges"][0]["node"]
    assert first == {
        "title": "Incident 29",
        "commander": {"name": "Acme Admin"},
        "alerts": [{"shortId": "s00029"}],
        "timeline": [],
    }

    seen: list[str] = []
    after = None
    while True:
        page = (await graphql(client, acme.admin_token, LIST, first=7, after=after))["data"]
        seen += [e["node"]["title"] for e in page["incidents"]["edges"]]
        if not page["incidents"]["pageInfo"]["hasNextPage"]:
            break
        after = page["incidents"]["pageInfo"]["endCursor"]
    assert seen == [f"Incident {i}" for i in reversed(range(30))]
    other = await graphql(
        client, globex.admin_token, "query($id: ID!) { incident(id: $id) { title } }",
        id=str(first and (await Incident.get(title="Incident 29")).id),
    )  # fmt: skip
    assert other["data"]["incident"] is None


async def test_search_knowledge_base(client: httpx.AsyncClient, acme: TenantKit) -> None:
    await _create(client, acme, title="Disk full on db-1", solution="Delete archived WAL segments")
    query = """
    query($q: String!) {
      searchKnowledgeBase(query: $q) { kind title severity preview highlightStart highlightEnd }
    }
    """
    body = await graphql(client, acme.admin_token, query, q="wal")
    [hit] = body["data"]["searchKnowledgeBase"]
    assert hit["kind"] == "INCIDENT"
    assert hit["title"] == "Disk full on db-1"
    assert hit["preview"][hit["highlightStart"] : hit["highlightEnd"]] == "WAL"
    long = await graphql(client, acme.admin_token, query, q="x" * 501)
    assert long["errors"][0]["extensions"]["field"] == "query"


INCIDENT_EVENTS = """
subscription($id: ID) { incidentEvents(incidentId: $id) { kind cursor incident { title status } } }
"""


async def test_incident_events_stream_over_websocket(live_server: str, acme: TenantKit) -> None:
    transport = WebsocketsTransport(
        url=f"ws://{live_server}/graphql",
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"Authorization": f"Bearer {acme.viewer_token}"},
    )
    async with (
        Client(transport=transport) as session,
        httpx.AsyncClient(base_url=f"http://{live_server}") as http,
    ):
        feed = session.subscribe(GraphQLRequest(INCIDENT_EVENTS))
        first = asyncio.ensure_future(anext(feed))
        await asyncio.sleep(0.3)  # subscribed before the change
        incident_id = await _create(http, acme, title="Live one")
        created = (await asyncio.wait_for(first, 10))["incidentEvents"]
        second = asyncio.ensure_future(anext(feed))
        await graphql(http, acme.admin_token, RESOLVE, id=incident_id, cause="c", fix="f")
        resolved = (await asyncio.wait_for(second, 10))["incidentEvents"]
        await feed.aclose()
    assert created["kind"] == "CREATED"
    assert created["incident"] == {"title": "Live one", "status": "OPEN"}
    assert resolved["kind"] == "RESOLVED"
    assert resolved["incident"]["status"] == "RESOLVED"
