"""Alerts through GraphQL: listing, paging, filters, actions, tenancy, query counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from opswatch.audit.actor import Actor
from opswatch.models import Alert, AlertSourceFormat, AlertStatus, AuditLog, Severity
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from opswatch.tenants.services import create_service
from tests.factories import TenantKit, graphql

LIST = """
query($first: Int, $after: String, $filter: AlertFilter) {
  alerts(first: $first, after: $after, filter: $filter) {
    edges { cursor node { id shortId title severity status occurrences
                          service { name } acknowledgedBy { name } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def seed_alerts(kit: TenantKit, count: int, **overrides: Any) -> list[Alert]:
    service = await create_service(
        tenant=kit.tenant, name=f"svc-{uuid.uuid4().hex[:6]}", actor=Actor.cli()
    )
    start = datetime(2026, 11, 27, tzinfo=UTC)
    rows = [
        Alert(
            id=uuid.uuid4(),
            tenant=kit.tenant,
            fingerprint=f"fp-{i}",
            short_id=f"s{uuid.uuid4().hex[:5]}",
            title=f"Alert number {i}",
            severity=Severity.CRITICAL if i % 2 else Severity.WARNING,
            status=AlertStatus.FIRING,
            source_format=AlertSourceFormat.GENERIC,
            first_received_at=start + timedelta(seconds=i),
            last_received_at=start + timedelta(seconds=i),
            created_at=start + timedelta(seconds=i),
            service=service,
            acknowledged_by=kit.admin,
            **overrides,
        )
        for i in range(count)
    ]
    await Alert.bulk_create(rows)
    return rows


async def test_nested_fields_cost_a_constant_number_of_queries(
    client: httpx.AsyncClient, acme: TenantKit, query_count: list[str], app_runtime: Runtime
) -> None:
    await seed_alerts(acme, 100)
    # The first request also notes the token's last use in a background job.
    await graphql(client, acme.admin_token, "{ viewer { name } }")
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()
    query_count.clear()
    small = await graphql(client, acme.admin_token, LIST, first=10)
    cost_of_10 = len(query_count)
    query_count.clear()
    large = await graphql(client, acme.admin_token, LIST, first=100)
    cost_of_100 = len(query_count)
    assert len(small["data"]["alerts"]["edges"]) == 10
    assert len(large["data"]["alerts"]["edges"]) == 100
    assert large["data"]["alerts"]["edges"][0]["node"]["acknowledgedBy"] == {"name": "Acme Admin"}
    assert cost_of_100 == cost_of_10 <= 5


async def test_paging_is_newest_first_and_complete(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    await seed_alerts(acme, 25)
    seen: list[str] = []
    after = None
    while True:
        page = (await graphql(client, acme.admin_token, LIST, first=10, after=after))["data"]
        seen += [edge["node"]["title"] for edge in page["alerts"]["edges"]]
        if not page["alerts"]["pageInfo"]["hasNextPage"]:
            break
        after = page["alerts"]["pageInfo"]["endCursor"]
    assert seen == [f"Alert number {i}" for i in reversed(range(25))]


async def test_filters_and_bounds(client: httpx.AsyncClient, acme: TenantKit) -> None:
    await seed_alerts(acme, 6)
    critical = await graphql(
        client, acme.admin_token, LIST, filter={"severity": ["CRITICAL"], "text": "NUMBER"}
    )
    assert len(critical["data"]["alerts"]["edges"]) == 3
    too_many = await graphql(client, acme.admin_token, LIST, first=1000)
    assert too_many["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "first"}
    bad_cursor = await graphql(client, acme.admin_token, LIST, after="garbage")
    assert bad_cursor["errors"][0]["extensions"]["field"] == "after"


async def test_acknowledge_and_resolve_are_audited_and_idempotent(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    [alert] = await seed_alerts(acme, 1, acknowledged_by_id=None)
    ack = "mutation($id: ID!) { acknowledgeAlert(id: $id) { status acknowledgedBy { name } } }"
    for _ in range(2):
        body = await graphql(client, acme.admin_token, ack, id=alert.short_id)
        assert body["data"]["acknowledgeAlert"] == {
            "status": "ACKNOWLEDGED",
            "acknowledgedBy": {"name": "Acme Admin"},
        }
    resolve = "mutation($id: ID!, $n: String) { resolveAlert(id: $id, notes: $n) { status } }"
    body = await graphql(client, acme.admin_token, resolve, id=str(alert.id), n="bumped memory")
    assert body["data"]["resolveAlert"]["status"] == "RESOLVED"
    actions = await AuditLog.filter(target_id=str(alert.id)).order_by("created_at")
    assert [a.action for a in actions] == ["alert.acknowledged", "alert.resolved"]
    assert actions[1].data["after"]["notes"] == "bumped memory"

    again = await graphql(client, acme.admin_token, ack, id=str(alert.id))
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"


async def test_viewers_may_read_but_not_act(client: httpx.AsyncClient, acme: TenantKit) -> None:
    [alert] = await seed_alerts(acme, 1)
    ack = "mutation($id: ID!) { acknowledgeAlert(id: $id) { status } }"
    body = await graphql(client, acme.viewer_token, ack, id=str(alert.id))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await Alert.get(id=alert.id)).status is AlertStatus.FIRING


async def test_another_tenants_alert_is_not_found(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    [alert] = await seed_alerts(globex, 1)
    read = await graphql(
        client, acme.admin_token, "query($id: ID!) { alert(id: $id) { id } }", id=str(alert.id)
    )
    assert read == {"data": {"alert": None}}
    by_short_id = await graphql(
        client, acme.admin_token, "query($id: ID!) { alert(id: $id) { id } }", id=alert.short_id
    )
    assert by_short_id == {"data": {"alert": None}}
    ack = await graphql(
        client,
        acme.admin_token,
        "mutation($id: ID!) { acknowledgeAlert(id: $id) { id } }",
        id=str(alert.id),
    )
    assert ack["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    listed = await graphql(client, acme.admin_token, LIST)
    assert listed["data"]["alerts"]["edges"] == []


async def test_escalate_records_the_request_and_refuses_resolved_alerts(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    [alert] = await seed_alerts(acme, 1)
    escalate = "mutation($id: ID!) { escalateAlert(id: $id) { status escalationTier } }"
    body = await graphql(client, acme.admin_token, escalate, id=alert.short_id)
    assert body["data"]["escalateAlert"] == {"status": "FIRING", "escalationTier": 0}
    stored = await Alert.get(id=alert.id)
    assert stored.escalation_next_at is not None
    assert await AuditLog.filter(action="alert.escalation_requested").count() == 1
    await Alert.filter(id=alert.id).update(status=AlertStatus.RESOLVED)
    refused = await graphql(client, acme.admin_token, escalate, id=alert.short_id)
    assert refused["errors"][0]["extensions"]["code"] == "CONFLICT"
