"""Escalation policies and telephony settings over GraphQL: create, update, assign,
delete, errors that name the field, admins only, secrets never shown."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from opswatch.models import AuditLog, EscalationPolicy, Service, Tenant
from opswatch.tenants.services import create_service
from tests.escalation.support import ACTOR, person
from tests.factories import TenantKit, graphql

CREATE = """
mutation($input: EscalationPolicyInput!) {
  createEscalationPolicy(input: $input) {
    id name repeat isDefault minimumSeverity
    tiers { position delayMinutes channels users { name } rosterIds }
  }
}
"""


def policy_input(user_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "name": "Payments",
        "repeat": 1,
        "isDefault": True,
        "tiers": [{"delayMinutes": 5, "channels": ["SMS", "PHONE"], "userIds": [user_id]}],
        **changes,
    }


async def test_create_update_assign_and_delete(client: httpx.AsyncClient, acme: TenantKit) -> None:
    pat = await person(acme, "Pat", "+4915100000001")
    body = await graphql(client, acme.admin_token, CREATE, input=policy_input(str(pat.id)))
    created = body["data"]["createEscalationPolicy"]
    assert created["tiers"] == [
        {
            "position": 1,
            "delayMinutes": 5,
            "channels": ["SMS", "PHONE"],
            "users": [{"name": "Pat"}],
            "rosterIds": [],
        }
    ]
    second = await graphql(
        client,
        acme.admin_token,
        CREATE,
        input=policy_input(str(pat.id), name="Platform", minimumSeverity="HIGH"),
    )
    # One default per tenant: the newer one took it.
    defaults = await EscalationPolicy.filter(is_default=True).values_list("name", flat=True)
    assert defaults == ["Platform"]
    assert second["data"]["createEscalationPolicy"]["minimumSeverity"] == "high"

    updated = await graphql(
        client,
        acme.admin_token,
        """mutation($id: ID!, $input: EscalationPolicyUpdate!) {
          updateEscalationPolicy(id: $id, input: $input) { name tiers { delayMinutes } }
        }""",
        id=created["id"],
        input=policy_input(
            str(pat.id),
            name="Payments v2",
            tiers=[
                {"delayMinutes": 3, "channels": ["PHONE"], "userIds": [str(pat.id)]},
                {"delayMinutes": 7, "channels": ["SLACK_CHANNEL"], "userIds": [str(pat.id)]},
            ],
        ),
    )
    assert updated["data"]["updateEscalationPolicy"] == {
        "name": "Payments v2",
        "tiers": [{"delayMinutes": 3}, {"delayMinutes": 7}],
    }
    service = await create_service(tenant=acme.tenant, name="api", actor=ACTOR)
    assigned = await graphql(
        client,
        acme.admin_token,
        "mutation($s: ID!, $p: ID) { assignEscalationPolicy(serviceId: $s, policyId: $p) "
        "{ escalationPolicyId } }",
        s=str(service.id),
        p=created["id"],
    )
    assert assigned["data"]["assignEscalationPolicy"]["escalationPolicyId"] == created["id"]
    await graphql(
        client,
        acme.admin_token,
        "mutation($id: ID!) { deleteEscalationPolicy(id: $id) }",
        id=created["id"],
    )
    await service.refresh_from_db()
    assert service.escalation_policy_id is None  # type: ignore[attr-defined]
    listed = await graphql(client, acme.viewer_token, "{ escalationPolicies { name } }")
    assert listed["data"]["escalationPolicies"] == [{"name": "Platform"}]
    actions = set(await AuditLog.all().values_list("action", flat=True))
    assert {
        "escalation_policy.created",
        "escalation_policy.updated",
        "escalation_policy.deleted",
        "service.escalation_policy_assigned",
    } <= actions


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": " "}, "name"),
        ({"repeat": 11}, "repeat"),
        ({"tiers": []}, "tiers"),
        ({"tiers": [{"delayMinutes": 0, "channels": ["SMS"]}]}, "tiers[0].delayMinutes"),
        ({"tiers": [{"delayMinutes": 5, "channels": []}]}, "tiers[0].channels"),
        ({"tiers": [{"delayMinutes": 5, "channels": ["SMS"]}]}, "tiers[0].rosterIds"),
        (
            {"tiers": [{"delayMinutes": 5, "channels": ["SMS"], "userIds": ["nope"]}]},
            "tiers[0].userIds[0]",
        ),
        ({"minimumSeverity": "loud"}, "minimumSeverity"),
    ],
)
async def test_bad_policies_name_the_field_and_change_nothing(
    client: httpx.AsyncClient, acme: TenantKit, changes: dict[str, Any], field: str
) -> None:
    pat = await person(acme, "Pat", "+4915100000001")
    body = await graphql(
        client, acme.admin_token, CREATE, input=policy_input(str(pat.id), **changes)
    )
    assert body["errors"][0]["extensions"]["field"] == field
    assert await EscalationPolicy.all().count() == 0


async def test_only_admins_manage_policies_and_tenants_stay_apart(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    pat = await person(acme, "Pat", "+4915100000001")
    denied = await graphql(client, acme.viewer_token, CREATE, input=policy_input(str(pat.id)))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    foreign = await graphql(client, globex.admin_token, CREATE, input=policy_input(str(pat.id)))
    assert foreign["errors"][0]["extensions"]["field"] == "tiers[0].userIds[0]"
    assert await EscalationPolicy.all().count() == 0


CONFIGURE = """
mutation($input: TelephonyInput!) { configureTelephony(input: $input) { slug } }
"""


async def test_telephony_secrets_are_stored_encrypted_and_checked(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    missing = await graphql(
        client,
        acme.admin_token,
        CONFIGURE,
        input={"provider": "twilio", "fromNumber": "+15005550006", "accountSid": "AC1"},
    )
    assert missing["errors"][0]["extensions"]["field"] == "authToken"
    bad_number = await graphql(
        client,
        acme.admin_token,
        CONFIGURE,
        input={"provider": "twilio", "fromNumber": "12345", "accountSid": "AC1", "authToken": "t"},
    )
    assert bad_number["errors"][0]["extensions"]["field"] == "fromNumber"
    sid, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    body = await graphql(
        client,
        acme.admin_token,
        CONFIGURE,
        input={
            "provider": "twilio",
            "fromNumber": "+15005550006",
            "accountSid": sid,
            "authToken": token,
        },
    )
    assert body["data"]["configureTelephony"]["slug"] == acme.tenant.slug
    stored = await Tenant.get(id=acme.tenant.id)
    assert stored.telephony_number == "+15005550006"
    assert stored.secrets_encrypted is not None
    assert token not in stored.secrets_encrypted
    entry = await AuditLog.get(action="tenant.telephony_configured")
    assert token not in str(entry.data)
    clash = await graphql(
        client,
        acme.admin_token,
        CONFIGURE,
        input={
            "provider": "twilio",
            "fromNumber": "+15005550006",
            "accountSid": sid,
            "authToken": token,
        },
    )
    assert "errors" not in clash  # the same tenant may set its own number again
    assert await Service.all().count() == 0
