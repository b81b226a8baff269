"""Services over GraphQL: changed field by field, deleted without losing their alerts,
and shown with their roster and escalation policy at a cost that does not grow with
their number."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from typing import Any

import httpx

from opswatch.audit.actor import Actor
from opswatch.escalation.policies import PolicySpec, TierSpec, create_policy
from opswatch.models import Alert, AuditLog, Channel, EscalationPolicy, Role, Roster, Runbook
from opswatch.models import Service as ServiceRow
from opswatch.queue.inprocess import InProcessQueue
from opswatch.rosters.rosters import RosterSpec, create_roster
from opswatch.runtime import Runtime
from opswatch.tenants.services import create_service
from opswatch.tenants.users import create_user
from tests.alerts.payloads import alertmanager_body
from tests.factories import TenantKit, graphql

ACTOR = Actor.system("test")
FIELDS = "id name cluster namespace slackChannel rosterId escalationPolicyId"
UPDATE = f"""
mutation($id: ID!, $input: ServiceUpdate!) {{
  updateService(id: $id, input: $input) {{ {FIELDS} }}
}}
"""
DELETE = "mutation($id: ID!) { deleteService(id: $id) }"
LISTED = """{ services {
  name rosterId escalationPolicyId
  roster { id name members { name } }
  escalationPolicy { id name tiers { delayMinutes users { name } } }
} }"""


def refusal(body: dict[str, Any]) -> tuple[str, str | None]:
    assert body.get("data") is None, body
    extensions = body["errors"][0]["extensions"]
    return extensions["code"], extensions.get("field")


async def roster_and_policy(kit: TenantKit, name: str) -> tuple[Roster, EscalationPolicy]:
    roster = await create_roster(
        tenant=kit.tenant, actor=ACTOR, spec=RosterSpec(name=name, timezone="UTC")
    )
    policy = await create_policy(
        tenant=kit.tenant,
        actor=ACTOR,
        spec=PolicySpec(
            name=name,
            tiers=[TierSpec(delay_minutes=5, channels=[Channel.SMS], user_ids=[str(kit.admin.id)])],
        ),
    )
    return roster, policy


async def gateway(kit: TenantKit) -> dict[str, Any]:
    """The payment gateway, fully described, as GraphQL shows it."""
    roster, policy = await roster_and_policy(kit, "Payments")
    row = await create_service(
        tenant=kit.tenant,
        name="payment-gateway",
        cluster="production-de-01",
        namespace="customer-api",
        roster_id=str(roster.id),
        escalation_policy_id=str(policy.id),
        slack_channel="#payments",
        actor=ACTOR,
    )
    return {
        "id": str(row.id),
        "name": "payment-gateway",
        "cluster": "production-de-01",
        "namespace": "customer-api",
        "slackChannel": "#payments",
        "rosterId": str(roster.id),
        "escalationPolicyId": str(policy.id),
    }


async def update(
    client: httpx.AsyncClient, token: str, service_id: str, **changes: Any
) -> dict[str, Any]:
    return await graphql(client, token, UPDATE, id=service_id, input=changes)


async def test_each_service_field_changes_alone(client: httpx.AsyncClient, acme: TenantKit) -> None:
    expected = await gateway(acme)
    roster, policy = await roster_and_policy(acme, "Platform")
    for name, value in [
        ("name", "checkout"),
        ("cluster", "production-us-01"),
        ("namespace", "checkout"),
        ("slackChannel", "#checkout"),
        ("rosterId", str(roster.id)),
        ("escalationPolicyId", str(policy.id)),
    ]:
        body = await update(client, acme.admin_token, expected["id"], **{name: value})
        expected[name] = value
        assert body["data"]["updateService"] == expected, name
    entries = await AuditLog.filter(action="service.updated").order_by("created_at")
    assert entries[0].data == {"before": {"name": "payment-gateway"}, "after": {"name": "checkout"}}
    assert len(entries) == 6


async def test_null_clears_a_services_settings_but_never_its_name(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    service = await gateway(acme)
    cleared = await update(
        client,
        acme.admin_token,
        service["id"],
        cluster=None,
        rosterId=None,
        escalationPolicyId=None,
        slackChannel=None,
    )
    assert cleared["data"]["updateService"] == {
        **service,
        "cluster": None,
        "rosterId": None,
        "escalationPolicyId": None,
        "slackChannel": None,
    }
    refused = await update(client, acme.admin_token, service["id"], name=None)
    assert refusal(refused) == ("INVALID_INPUT", "name")
    blank = await update(client, acme.admin_token, service["id"], name="  ")
    assert refusal(blank) == ("INVALID_INPUT", "name")
    assert (await ServiceRow.get(id=service["id"])).name == "payment-gateway"


async def test_a_service_refers_only_to_its_own_tenants_roster_and_policy(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    service = await gateway(acme)
    their_roster, their_policy = await roster_and_policy(globex, "Theirs")
    for field, value, code in [
        ("rosterId", str(their_roster.id), "NOT_FOUND"),
        ("escalationPolicyId", str(their_policy.id), "NOT_FOUND"),
        ("rosterId", "roster-1", "INVALID_INPUT"),
        ("escalationPolicyId", "", "INVALID_INPUT"),
    ]:
        # The good change beside the bad one is not applied either.
        body = await update(
            client, acme.admin_token, service["id"], name="renamed", **{field: value}
        )
        assert refusal(body) == (code, field), (field, value)
    row = await ServiceRow.get(id=service["id"])
    assert row.name == "payment-gateway"
    assert str(row.roster_id) == service["rosterId"]  # type: ignore[attr-defined]


async def test_two_services_of_a_tenant_cannot_share_a_name(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    service = await gateway(acme)
    await create_service(tenant=acme.tenant, name="checkout", actor=ACTOR)
    await create_service(tenant=globex.tenant, name="billing", actor=ACTOR)
    taken = await update(client, acme.admin_token, service["id"], name="checkout")
    assert refusal(taken) == ("CONFLICT", "name")
    elsewhere = await update(client, acme.admin_token, service["id"], name="billing")
    assert elsewhere["data"]["updateService"]["name"] == "billing"


async def test_only_the_tenants_admins_change_or_delete_its_services(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    service = await gateway(acme)
    responder = await create_user(
        tenant=acme.tenant,
        name="Riley",
        email="riley@acme.example",
        role=Role.RESPONDER,
        actor=ACTOR,
    )
    assert responder.token is not None
    for token in (acme.viewer_token, responder.token):
        changed = await update(client, token, service["id"], name="mine")
        deleted = await graphql(client, token, DELETE, id=service["id"])
        assert [refusal(changed), refusal(deleted)] == [("FORBIDDEN", None)] * 2
    for kit_token, service_id in [
        (globex.admin_token, service["id"]),
        (acme.admin_token, str(uuid.uuid4())),
    ]:
        changed = await update(client, kit_token, service_id, name="ours")
        deleted = await graphql(client, kit_token, DELETE, id=service_id)
        assert [refusal(changed)[0], refusal(deleted)[0]] == ["NOT_FOUND"] * 2
    malformed = await graphql(client, acme.admin_token, DELETE, id="gateway")
    assert refusal(malformed) == ("INVALID_INPUT", "id")
    assert (await ServiceRow.get(id=service["id"])).name == "payment-gateway"


async def test_a_deleted_services_alerts_are_kept_and_show_no_service(
    client: httpx.AsyncClient, acme: TenantKit, app_runtime: Runtime
) -> None:
    service = await gateway(acme)
    runbook = await graphql(
        client,
        acme.admin_token,
        """mutation($input: RunbookInput!) { createRunbook(input: $input) { id } }""",
        input={"title": "Payments", "slug": "payments", "serviceIds": [service["id"]]},
    )
    response = await client.post(
        "/api/v1/webhooks/alertmanager",
        json=alertmanager_body(),
        headers={"X-API-Key": acme.api_key},
    )
    assert response.status_code == 202, response.text
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()
    alerts = "{ alerts(first: 5) { nodes { title service { name } } } }"
    before = await graphql(client, acme.admin_token, alerts)
    [alert] = before["data"]["alerts"]["nodes"]
    assert alert["service"] == {"name": "payment-gateway"}

    deleted = await graphql(client, acme.admin_token, DELETE, id=service["id"])
    assert deleted["data"]["deleteService"] == service["id"]
    after = await graphql(client, acme.admin_token, alerts)
    assert after["data"]["alerts"]["nodes"] == [{**alert, "service": None}]
    # The database's own rule (SET NULL), on either backend.
    [row] = await Alert.filter(tenant=acme.tenant)
    assert row.service_id is None  # type: ignore[attr-defined]
    covering = await Runbook.get(id=runbook["data"]["createRunbook"]["id"])
    assert await covering.services.all() == []
    listed = await graphql(client, acme.admin_token, "{ services { id } }")
    assert listed["data"]["services"] == []
    entry = await AuditLog.get(action="service.deleted")
    assert entry.target_id == service["id"]
    assert entry.data["alerts_kept"] == 1


async def test_listing_services_with_their_roster_and_policy_costs_a_constant_number_of_queries(
    client: httpx.AsyncClient, acme: TenantKit, query_count: list[str], app_runtime: Runtime
) -> None:
    await gateway(acme)
    # The first request also notes the token's last use, in a background job that
    # must not land among the statements counted below.
    await graphql(client, acme.admin_token, "{ viewer { name } }")
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()

    async def cost() -> tuple[dict[str, Any], list[str]]:
        """The fewest statements of two runs (a stray job's statement counts in one)."""
        runs = []
        for _ in range(2):
            query_count.clear()
            body = await graphql(client, acme.admin_token, LISTED)
            assert "errors" not in body, body
            runs.append((body, list(query_count)))
        return min(runs, key=lambda run: len(run[1]))

    one, statements_of_one = await cost()
    [listed] = one["data"]["services"]
    assert listed["roster"]["id"] == listed["rosterId"]
    assert listed["roster"]["name"] == "Payments"
    assert listed["escalationPolicy"]["id"] == listed["escalationPolicyId"]
    assert listed["escalationPolicy"]["tiers"] == [
        {"delayMinutes": 5, "users": [{"name": "Acme Admin"}]}
    ]
    for n in range(5):
        roster, policy = await roster_and_policy(acme, f"Team {n}")
        await create_service(
            tenant=acme.tenant,
            name=f"service-{n}",
            roster_id=str(roster.id),
            escalation_policy_id=str(policy.id),
            actor=ACTOR,
        )
    six, statements_of_six = await cost()
    assert len(six["data"]["services"]) == 6
    assert all(s["roster"] and s["escalationPolicy"] for s in six["data"]["services"])
    # The same statements, whatever the number of services; a DataLoader batch split
    # over two event-loop ticks may send one shape once more, a query per service
    # would send it five more times.
    one_shapes, six_shapes = shapes(statements_of_one), shapes(statements_of_six)
    assert one_shapes.keys() == six_shapes.keys(), (statements_of_one, statements_of_six)
    for shape, count in six_shapes.items():
        assert abs(count - one_shapes[shape]) <= 1, (shape, statements_of_one, statements_of_six)


def shapes(statements: list[str]) -> Counter[str]:
    """Statements with their IN lists and placeholders (``$1``, ``?``) left out."""
    placeholders = r"(?:\$\d+|\?)"
    in_lists = rf"IN \({placeholders}(?:,{placeholders})*\)"
    return Counter(re.sub(placeholders, "?", re.sub(in_lists, "IN (…)", s)) for s in statements)
