"""The audit log and retention settings through GraphQL (admins only), and an
alert's own timeline."""

from __future__ import annotations

import httpx
import pytest

from opswatch.models import AuditLog, Tenant
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from tests.factories import TenantKit, graphql

RETENTION = """
mutation($alerts: Int, $audit: Int) {
  updateRetention(retentionDaysAlerts: $alerts, retentionDaysAudit: $audit) {
    retentionDaysAlerts retentionDaysAudit
  }
}
"""
LOG = """
query($filter: AuditFilter, $first: Int, $after: String) {
  auditLog(filter: $filter, first: $first, after: $after) {
    edges { node { action actorType actorName source targetType data } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"alerts": 0}, "retentionDaysAlerts"),
        ({"alerts": -5}, "retentionDaysAlerts"),
        ({"audit": 100_000}, "retentionDaysAudit"),
    ],
)
async def test_bad_retention_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, acme: TenantKit, variables: dict[str, int], field: str
) -> None:
    body = await graphql(client, acme.admin_token, RETENTION, **variables)
    assert body["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": field}
    tenant = await Tenant.get(id=acme.tenant.id)
    assert tenant.settings["retention_days_alerts"] == 90
    assert tenant.settings["retention_days_audit"] == 365


async def test_admins_set_retention_and_read_the_log(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    body = await graphql(client, acme.admin_token, RETENTION, alerts=30)
    assert body["data"]["updateRetention"] == {
        "retentionDaysAlerts": 30,
        "retentionDaysAudit": 365,
    }
    viewer = await graphql(client, acme.viewer_token, RETENTION, alerts=1)
    assert viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    log = await graphql(client, acme.admin_token, LOG, filter={"action": "tenant."}, first=1)
    [entry] = [e["node"] for e in log["data"]["auditLog"]["edges"]]
    assert entry["action"] == "tenant.retention_changed"
    assert (entry["actorType"], entry["actorName"], entry["source"]) == (
        "user",
        "Acme Admin",
        "graphql",
    )
    assert entry["data"] == {
        "before": {"alerts": 90, "audit": 365},
        "after": {"alerts": 30, "audit": 365},
    }
    assert log["data"]["auditLog"]["pageInfo"]["hasNextPage"] is True  # tenant.created too
    denied = await graphql(client, acme.viewer_token, LOG)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_alert_timeline_says_who_opened_and_acknowledged_it(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit, app_runtime: Runtime
) -> None:
    response = await client.post(
        "/api/v1/webhooks/generic",
        json={"title": "Disk full", "fingerprint": "disk"},
        headers={"X-API-Key": acme.api_key},
    )
    assert response.status_code == 202
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()
    alerts = await graphql(client, acme.admin_token, "{ alerts { edges { node { id } } } }")
    alert_id = alerts["data"]["alerts"]["edges"][0]["node"]["id"]
    await graphql(
        client, acme.admin_token, "mutation($id: ID!) { acknowledgeAlert(id: $id) { id } }",
        id=alert_id,
    )  # fmt: skip
    body = await graphql(
        client,
        acme.admin_token,
        "query($id: ID!) { alert(id: $id) { timeline { action actorName source } } }",
        id=alert_id,
    )
    assert body["data"]["alert"]["timeline"] == [
        {"action": "alert.opened", "actorName": "generic", "source": "webhook"},
        {"action": "alert.acknowledged", "actorName": "Acme Admin", "source": "graphql"},
    ]
    assert await AuditLog.filter(tenant=globex.tenant, target_id=alert_id).count() == 0
