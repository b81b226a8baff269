"""updateEscalationPolicy changes what it is given and nothing else: a new name keeps the
tiers; tiers given replace the whole list; a full input, as before, still works."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from opswatch.audit.actor import Actor
from opswatch.models import AuditLog, EscalationPolicy, EscalationTier, Role, User
from opswatch.rosters.rosters import RosterSpec, create_roster
from opswatch.tenants.users import create_user
from tests.escalation.support import person
from tests.factories import TenantKit, graphql

ACTOR = Actor.system("test")
FIELDS = (
    "id name repeat minimumSeverity isDefault "
    "tiers { position delayMinutes channels rosterIds users { name } }"
)
CREATE = f"""
mutation($input: EscalationPolicyInput!) {{ createEscalationPolicy(input: $input) {{ {FIELDS} }} }}
"""
UPDATE = f"""
mutation($id: ID!, $input: EscalationPolicyUpdate!) {{
  updateEscalationPolicy(id: $id, input: $input) {{ {FIELDS} }}
}}
"""


def refusal(body: dict[str, Any]) -> tuple[str, str | None]:
    assert body.get("data") is None, body
    extensions = body["errors"][0]["extensions"]
    return extensions["code"], extensions.get("field")


async def payments(
    client: httpx.AsyncClient, kit: TenantKit, pat: User | None = None, **fields: Any
) -> dict[str, Any]:
    """Tier 1 texts and calls Pat after 5 minutes, tier 2 messages Pat after 10."""
    pat = pat or await person(kit, "Pat", "+4915100000001")
    body = await graphql(
        client,
        kit.admin_token,
        CREATE,
        input={
            "name": "Payments",
            "repeat": 2,
            "minimumSeverity": "high",
            "isDefault": True,
            "tiers": [
                {"delayMinutes": 5, "channels": ["SMS", "PHONE"], "userIds": [str(pat.id)]},
                {"delayMinutes": 10, "channels": ["SLACK_DM"], "userIds": [str(pat.id)]},
            ],
            **fields,
        },
    )
    assert "errors" not in body, body
    created: dict[str, Any] = body["data"]["createEscalationPolicy"]
    return created


async def update(
    client: httpx.AsyncClient, token: str, policy_id: str, **changes: Any
) -> dict[str, Any]:
    return await graphql(client, token, UPDATE, id=policy_id, input=changes)


async def test_each_policy_setting_changes_alone_and_the_tiers_stay(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    expected = await payments(client, acme)
    for name, value in [
        ("name", "Payments v2"),
        ("repeat", 0),
        ("minimumSeverity", "critical"),
        ("isDefault", False),
    ]:
        body = await update(client, acme.admin_token, expected["id"], **{name: value})
        expected[name] = value
        assert body["data"]["updateEscalationPolicy"] == expected, name
    entry = await AuditLog.filter(action="escalation_policy.updated").order_by("created_at").first()
    assert entry is not None
    assert entry.data == {"before": {"name": "Payments"}, "after": {"name": "Payments v2"}}


async def test_tiers_given_replace_the_whole_list(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    created = await payments(client, acme)
    roster = await create_roster(
        tenant=acme.tenant, actor=ACTOR, spec=RosterSpec(name="Primary", timezone="UTC")
    )
    body = await update(
        client,
        acme.admin_token,
        created["id"],
        tiers=[{"delayMinutes": 3, "channels": ["PHONE"], "rosterIds": [str(roster.id)]}],
    )
    assert body["data"]["updateEscalationPolicy"] == {
        **created,
        "tiers": [
            {
                "position": 1,
                "delayMinutes": 3,
                "channels": ["PHONE"],
                "rosterIds": [str(roster.id)],
                "users": [],
            }
        ],
    }
    assert await EscalationTier.filter(policy_id=created["id"]).count() == 1


async def test_null_clears_the_minimum_severity_and_nothing_else(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    created = await payments(client, acme)
    cleared = await update(client, acme.admin_token, created["id"], minimumSeverity=None)
    assert cleared["data"]["updateEscalationPolicy"] == {**created, "minimumSeverity": None}
    for field in ("name", "tiers", "repeat", "isDefault"):
        refused = await update(client, acme.admin_token, created["id"], **{field: None})
        assert refusal(refused) == ("INVALID_INPUT", field)
    # A bad setting beside a good one: nothing is written, tiers included.
    for bad, field in [
        ({"repeat": 99}, "repeat"),
        ({"minimumSeverity": "urgent"}, "minimumSeverity"),
        ({"tiers": []}, "tiers"),
        ({"tiers": [{"delayMinutes": 0, "channels": ["SMS"]}]}, "tiers[0].delayMinutes"),
    ]:
        body = await update(client, acme.admin_token, created["id"], name="Renamed", **bad)
        assert refusal(body) == ("INVALID_INPUT", field)
    policy = await EscalationPolicy.get(id=created["id"])
    assert policy.name == "Payments"
    assert await EscalationTier.filter(policy=policy).count() == 2


async def test_a_full_policy_input_still_replaces_everything(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    created = await payments(client, acme)
    sam = await person(acme, "Sam", "+4915100000003")
    everything = {
        "name": "Night",
        "repeat": 1,
        "minimumSeverity": "warning",
        "isDefault": False,
        "tiers": [{"delayMinutes": 15, "channels": ["SLACK_CHANNEL"], "userIds": [str(sam.id)]}],
    }
    body = await update(client, acme.admin_token, created["id"], **everything)
    assert body["data"]["updateEscalationPolicy"] == {
        "id": created["id"],
        "name": "Night",
        "repeat": 1,
        "minimumSeverity": "warning",
        "isDefault": False,
        "tiers": [
            {
                "position": 1,
                "delayMinutes": 15,
                "channels": ["SLACK_CHANNEL"],
                "rosterIds": [],
                "users": [{"name": "Sam"}],
            }
        ],
    }


async def test_becoming_the_default_takes_it_from_the_other_policy(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    pat = await person(acme, "Pat", "+4915100000001")
    first = await payments(client, acme, pat)
    second = await payments(client, acme, pat, name="Platform", isDefault=False)
    await update(client, acme.admin_token, second["id"], isDefault=True)
    defaults = await EscalationPolicy.filter(is_default=True).values_list("name", flat=True)
    assert defaults == ["Platform"]
    taken = await update(client, acme.admin_token, first["id"], name="Platform")
    assert refusal(taken) == ("CONFLICT", "name")


async def test_only_the_tenants_admins_update_its_policies(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    created = await payments(client, acme)
    responder = await create_user(
        tenant=acme.tenant,
        name="Riley",
        email="riley@acme.example",
        role=Role.RESPONDER,
        actor=ACTOR,
    )
    assert responder.token is not None
    for token in (acme.viewer_token, responder.token):
        body = await update(client, token, created["id"], name="Mine")
        assert refusal(body) == ("FORBIDDEN", None)
    foreign = await update(client, globex.admin_token, created["id"], name="Ours")
    assert refusal(foreign)[0] == "NOT_FOUND"
    unknown = await update(client, acme.admin_token, str(uuid.uuid4()), name="x")
    assert refusal(unknown)[0] == "NOT_FOUND"
    malformed = await update(client, acme.admin_token, "payments", name="x")
    assert refusal(malformed) == ("INVALID_INPUT", "id")
    outsider = await person(globex, "Olive", "+4915100000009")
    borrowed = await update(
        client,
        acme.admin_token,
        created["id"],
        tiers=[{"delayMinutes": 5, "channels": ["SMS"], "userIds": [str(outsider.id)]}],
    )
    assert refusal(borrowed) == ("NOT_FOUND", "tiers[0].userIds[0]")
    assert (await EscalationPolicy.get(id=created["id"])).name == "Payments"
