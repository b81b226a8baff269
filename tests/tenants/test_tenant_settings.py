"""The tenant's own settings through GraphQL: its name, default time zone and severity
mapping, changed by admins field by field, and retention changed the same way."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from opswatch.audit.actor import Actor
from opswatch.models import AuditLog, Role, Tenant
from opswatch.tenants.users import create_user
from tests.factories import TenantKit, graphql

FIELDS = "name slug timezone severityMapping retentionDaysAlerts retentionDaysAudit"
UPDATE = f"""
mutation($input: TenantUpdate!) {{ updateTenant(input: $input) {{ {FIELDS} }} }}
"""
VIEWER_TENANT = f"{{ viewer {{ tenant {{ {FIELDS} }} }} }}"


async def update(client: httpx.AsyncClient, token: str, **changes: Any) -> dict[str, Any]:
    return await graphql(client, token, UPDATE, input=changes)


def refusal(body: dict[str, Any]) -> dict[str, str]:
    assert body.get("data") is None, body
    extensions: dict[str, str] = body["errors"][0]["extensions"]
    return extensions


async def test_an_admin_renames_the_tenant_and_its_time_zone_survives(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    first = await update(
        client,
        acme.admin_token,
        timezone="Europe/Berlin",
        severityMapping={"sev1": "critical"},
    )
    assert first["data"]["updateTenant"]["timezone"] == "Europe/Berlin"

    renamed = await update(client, acme.admin_token, name="Acme Operations")

    assert renamed["data"]["updateTenant"] == {
        "name": "Acme Operations",
        "slug": acme.tenant.slug,
        "timezone": "Europe/Berlin",
        "severityMapping": {"sev1": "critical"},
        "retentionDaysAlerts": 90,
        "retentionDaysAudit": 365,
    }
    seen = await graphql(client, acme.viewer_token, VIEWER_TENANT)
    assert seen["data"]["viewer"]["tenant"] == renamed["data"]["updateTenant"]


async def test_a_responder_cannot_change_the_tenant(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    responder = await create_user(
        tenant=acme.tenant,
        name="Rita Responder",
        email="rita@acme.example",
        role=Role.RESPONDER,
        actor=Actor.system("test"),
    )
    assert responder.token
    for token in (responder.token, acme.viewer_token):
        body = await update(client, token, name="Taken Over", timezone="Asia/Tokyo")
        assert refusal(body)["code"] == "FORBIDDEN"
    tenant = await Tenant.get(id=acme.tenant.id)
    assert (tenant.name, tenant.settings["timezone"]) == ("Acme", "UTC")


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"sev1": "critical", "urgent": "very"}, "severityMapping.urgent"),
        ({"Sev2": 2}, "severityMapping.Sev2"),
        ({"   ": "high"}, "severityMapping.   "),
        ({"x" * 65: "low"}, f"severityMapping.{'x' * 65}"),
        ({"Urgent": "high", "urgent ": "low"}, "severityMapping.urgent "),
        ({f"w{i}": "info" for i in range(101)}, "severityMapping"),
        (["critical"], "severityMapping"),
    ],
)
async def test_a_bad_severity_mapping_names_the_word(
    client: httpx.AsyncClient, acme: TenantKit, mapping: Any, field: str
) -> None:
    body = await update(client, acme.admin_token, name="Renamed", severityMapping=mapping)

    assert refusal(body) == {"code": "INVALID_INPUT", "field": field}
    tenant = await Tenant.get(id=acme.tenant.id)
    assert (tenant.name, tenant.settings["severity_mapping"]) == ("Acme", {})


async def test_a_wrong_severity_lists_the_severities(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    body = await update(client, acme.admin_token, severityMapping={"urgent": "very"})

    assert "critical, high, warning, low, info" in body["errors"][0]["message"]


async def test_words_are_stored_trimmed_and_lower_cased(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    body = await update(
        client, acme.admin_token, severityMapping={" SEV1 ": "Critical", "Noise": "info"}
    )

    assert body["data"]["updateTenant"]["severityMapping"] == {"sev1": "critical", "noise": "info"}
    tenant = await Tenant.get(id=acme.tenant.id)
    assert tenant.settings["severity_mapping"] == {"sev1": "critical", "noise": "info"}


async def test_null_clears_the_mapping_but_never_the_name_or_time_zone(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    await update(client, acme.admin_token, timezone="America/Chicago", severityMapping={"a": "low"})

    cleared = await update(client, acme.admin_token, severityMapping=None)
    assert cleared["data"]["updateTenant"]["severityMapping"] == {}
    assert cleared["data"]["updateTenant"]["timezone"] == "America/Chicago"
    for field in ("name", "timezone"):
        assert refusal(await update(client, acme.admin_token, **{field: None})) == {
            "code": "INVALID_INPUT",
            "field": field,
        }


@pytest.mark.parametrize("zone", ["Mars/Olympus", "America", "", "UTC" * 30])
async def test_the_time_zone_must_be_an_iana_name(
    client: httpx.AsyncClient, acme: TenantKit, zone: str
) -> None:
    body = await update(client, acme.admin_token, timezone=zone)

    assert refusal(body) == {"code": "INVALID_INPUT", "field": "timezone"}
    assert (await Tenant.get(id=acme.tenant.id)).settings["timezone"] == "UTC"


async def test_a_blank_name_is_refused(client: httpx.AsyncClient, acme: TenantKit) -> None:
    body = await update(client, acme.admin_token, name="   ", timezone="Asia/Tokyo")

    assert refusal(body) == {"code": "INVALID_INPUT", "field": "name"}
    assert (await Tenant.get(id=acme.tenant.id)).settings["timezone"] == "UTC"


async def test_the_change_is_audited_with_what_changed(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    await update(client, acme.admin_token, timezone="Asia/Tokyo")

    entry = await AuditLog.get(tenant_id=acme.tenant.id, action="tenant.updated")
    assert entry.actor_name == "Acme Admin"
    assert entry.data == {"before": {"timezone": "UTC"}, "after": {"timezone": "Asia/Tokyo"}}


async def test_an_admin_changes_only_their_own_tenant(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    await update(client, acme.admin_token, name="Acme Two", severityMapping={"sev1": "high"})

    other = await Tenant.get(id=globex.tenant.id)
    assert (other.name, other.settings["severity_mapping"]) == ("Globex", {})


async def test_other_settings_survive_a_tenant_update(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    await graphql(client, acme.admin_token, RETENTION, alerts=30)

    await update(client, acme.admin_token, timezone="Asia/Tokyo")

    settings = (await Tenant.get(id=acme.tenant.id)).settings
    assert (settings["retention_days_alerts"], settings["timezone"]) == (30, "Asia/Tokyo")


RETENTION = """
mutation($alerts: Int, $audit: Int) {
  updateRetention(retentionDaysAlerts: $alerts, retentionDaysAudit: $audit) {
    retentionDaysAlerts retentionDaysAudit
  }
}
"""


async def test_retention_left_out_keeps_its_days(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    await graphql(client, acme.admin_token, RETENTION, alerts=30, audit=400)

    audit_only = await graphql(client, acme.admin_token, RETENTION, audit=200)

    assert audit_only["data"]["updateRetention"] == {
        "retentionDaysAlerts": 30,
        "retentionDaysAudit": 200,
    }


async def test_retention_cannot_be_nulled(client: httpx.AsyncClient, acme: TenantKit) -> None:
    body = await graphql(client, acme.admin_token, RETENTION, alerts=None, audit=30)

    assert refusal(body) == {"code": "INVALID_INPUT", "field": "retentionDaysAlerts"}
    assert (await Tenant.get(id=acme.tenant.id)).settings["retention_days_audit"] == 365
