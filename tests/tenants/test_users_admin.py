"""Running a team's people day to day: signing in, changing details, retiring someone."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from opswatch.audit.actor import Actor
from opswatch.escalation.policies import PolicySpec, TierSpec, create_policy
from opswatch.models import (
    AuditLog,
    Channel,
    Handoff,
    Notification,
    Role,
    Tenant,
    User,
    UserToken,
)
from opswatch.rosters.overrides import create_override
from opswatch.rosters.rosters import RosterSpec, create_roster
from opswatch.tenants.user_lifecycle import set_active
from opswatch.tenants.users import create_user
from tests.factories import TenantKit, graphql

USER_FIELDS = "id name email phone timezone role slackUserId active createdAt"
CREATE_USER = f"mutation($input: UserInput!) {{ createUser(input: $input) {{ {USER_FIELDS} }} }}"
UPDATE_USER = (
    "mutation($id: ID!, $input: UserUpdate!) "
    f"{{ updateUser(id: $id, input: $input) {{ {USER_FIELDS} }} }}"
)
CREATE_TOKEN = """
mutation($userId: ID, $name: String!) {
  createUserToken(userId: $userId, name: $name) { token userToken { id prefix userId } }
}
"""
DEACTIVATE = "mutation($id: ID!) { deactivateUser(id: $id) { id active } }"
REACTIVATE = "mutation($id: ID!) { reactivateUser(id: $id) { id active } }"
DELETE = "mutation($id: ID!) { deleteUser(id: $id) }"
VIEWER = "{ viewer { email role } }"


def refusal(body: dict[str, Any]) -> tuple[str, str | None, str]:
    """(code, field, message) of the one error a refused operation answers."""
    [error] = body["errors"]
    return error["extensions"]["code"], error["extensions"].get("field"), error["message"]


async def responder(kit: TenantKit, name: str, **details: Any) -> tuple[User, str]:
    """A responder of ``kit``'s tenant and a token of theirs."""
    created = await create_user(
        tenant=kit.tenant,
        name=name,
        email=f"{name.lower()}@{kit.tenant.slug}.example",
        actor=Actor.system("test"),
        **details,
    )
    assert created.token
    return created.user, created.token


async def test_a_user_created_in_graphql_signs_in_with_a_token_issued_for_them(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    body = await graphql(
        client,
        acme.admin_token,
        CREATE_USER,
        input={"name": "Dana", "email": "dana@acme.example", "timezone": "Europe/Berlin"},
    )
    dana = body["data"]["createUser"]
    assert dana["active"] is True
    assert dana["createdAt"]
    issued = await graphql(client, acme.admin_token, CREATE_TOKEN, userId=dana["id"], name="laptop")
    created = issued["data"]["createUserToken"]
    assert created["token"].startswith(f"owu_{created['userToken']['prefix']}_")
    assert created["userToken"]["userId"] == dana["id"]

    signed_in = await graphql(client, created["token"], VIEWER)
    assert signed_in["data"]["viewer"] == {"email": "dana@acme.example", "role": "RESPONDER"}


async def test_a_responder_cannot_make_themselves_admin(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    erin, token = await responder(acme, "Erin")
    body = await graphql(client, token, UPDATE_USER, id=str(erin.id), input={"role": "ADMIN"})
    assert refusal(body)[:2] == ("FORBIDDEN", "role")
    assert (await User.get(id=erin.id)).role is Role.RESPONDER
    # Sending the role they already have, as a form might, is no change and no refusal.
    body = await graphql(
        client, token, UPDATE_USER, id=str(erin.id), input={"role": "RESPONDER", "name": "Erin"}
    )
    assert body["data"]["updateUser"]["role"] == "RESPONDER"


async def test_a_responder_changes_their_own_phone_and_time_zone_but_not_someone_elses(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    erin, token = await responder(acme, "Erin")
    frank, _ = await responder(acme, "Frank", phone="+4915100000002")
    own = await graphql(
        client,
        token,
        UPDATE_USER,
        id=str(erin.id),
        input={"phone": "+4915100000001", "timezone": "Asia/Tokyo"},
    )
    changed = own["data"]["updateUser"]
    assert (changed["phone"], changed["timezone"]) == ("+4915100000001", "Asia/Tokyo")

    theirs = await graphql(
        client, token, UPDATE_USER, id=str(frank.id), input={"phone": "+4915100000009"}
    )
    assert refusal(theirs)[:2] == ("FORBIDDEN", "id")
    malformed = await graphql(client, token, UPDATE_USER, id=str(frank.id), input={"phone": "1"})
    assert refusal(malformed)[:2] == ("FORBIDDEN", "id")  # refused as not theirs to change
    assert (await User.get(id=frank.id)).phone == "+4915100000002"
    # A viewer reads; they change nobody, themselves included.
    mine = await graphql(
        client, acme.viewer_token, UPDATE_USER, id=str(acme.viewer.id), input={"name": "V"}
    )
    assert refusal(mine)[0] == "FORBIDDEN"


async def test_updating_a_users_phone_keeps_every_other_field(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    body = await graphql(
        client,
        acme.admin_token,
        CREATE_USER,
        input={
            "name": "Gina",
            "email": "gina@acme.example",
            "role": "ADMIN",
            "phone": "+4915100000003",
            "timezone": "America/New_York",
            "slackUserId": "U0GINA",
        },
    )
    gina = body["data"]["createUser"]
    body = await graphql(
        client, acme.admin_token, UPDATE_USER, id=gina["id"], input={"phone": "+4915100000004"}
    )
    assert body["data"]["updateUser"] == {**gina, "phone": "+4915100000004"}

    # An explicit null clears what may be empty...
    body = await graphql(
        client, acme.admin_token, UPDATE_USER, id=gina["id"], input={"slackUserId": None}
    )
    assert body["data"]["updateUser"] == {**gina, "phone": "+4915100000004", "slackUserId": None}
    # ...and is refused, naming the field, for what a user must have.
    for field in ("name", "email", "timezone", "role"):
        body = await graphql(
            client, acme.admin_token, UPDATE_USER, id=gina["id"], input={field: None}
        )
        assert refusal(body)[:2] == ("INVALID_INPUT", field)
    # Wrong shapes are refused like createUser refuses them, and change nothing.
    for field, value in (
        ("email", "not-an-address"),
        ("phone", "0151 1234"),
        ("timezone", "Mars/Olympus"),
        ("slackUserId", "U" * 40),
    ):
        body = await graphql(
            client, acme.admin_token, UPDATE_USER, id=gina["id"], input={field: value}
        )
        assert refusal(body)[:2] == ("INVALID_INPUT", field)
    stored = await User.get(id=gina["id"])
    assert (stored.email, stored.phone, stored.timezone) == (
        "gina@acme.example",
        "+4915100000004",
        "America/New_York",
    )
    # The e-mail stays unique in the tenant: the database says so, the field is named.
    body = await graphql(
        client, acme.admin_token, UPDATE_USER, id=gina["id"], input={"email": acme.admin.email}
    )
    assert refusal(body)[:2] == ("CONFLICT", "email")
    [entry] = await AuditLog.filter(action="user.updated").order_by("created_at").limit(1)
    assert entry.data == {
        "before": {"phone": "+4915100000003"},
        "after": {"phone": "+4915100000004"},
    }


async def test_a_deactivated_member_drops_out_of_the_rotation_now(
    live_server: str, acme: TenantKit
) -> None:
    hana, _ = await responder(acme, "Hana")
    ivan, _ = await responder(acme, "Ivan")
    # A daily rotation that started today: Hana holds the pager until tomorrow's handoff.
    roster = await create_roster(
        tenant=acme.tenant,
        actor=Actor.system("test"),
        spec=RosterSpec(
            name="Platform", start_date=date.today() - timedelta(days=2), rotation_length_days=1
        ),
        member_ids=[str(hana.id), str(ivan.id)],
    )
    base = f"http://{live_server}"
    async with httpx.AsyncClient(base_url=base) as http:
        oncall = "query($id: ID!) { roster(id: $id) { oncall { user { name } } } }"
        before = await graphql(http, acme.admin_token, oncall, id=str(roster.id))
        holder = before["data"]["roster"]["oncall"]["user"]["name"]
        leaving, staying = (hana, ivan) if holder == "Hana" else (ivan, hana)
        version = (await Tenant.get(id=acme.tenant.id)).config_version

        transport = WebsocketsTransport(
            url=f"ws://{live_server}/graphql",
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            init_payload={"Authorization": f"Bearer {acme.viewer_token}"},
        )
        async with Client(transport=transport) as session:
            feed = session.subscribe(
                GraphQLRequest(
                    "subscription { oncallChanged { previousUser { name } "
                    "oncall { user { name } source } } }"
                )
            )
            first = asyncio.ensure_future(anext(feed))
            await asyncio.sleep(0.3)  # subscribed before the change
            body = await graphql(http, acme.admin_token, DEACTIVATE, id=str(leaving.id))
            assert body["data"]["deactivateUser"] == {"id": str(leaving.id), "active": False}
            change = (await asyncio.wait_for(first, 10))["oncallChanged"]
            await feed.aclose()

    assert change["previousUser"]["name"] == leaving.name
    assert change["oncall"]["user"]["name"] == staying.name
    handoff = await Handoff.get(roster_id=roster.id)
    assert handoff.incoming_id == staying.id  # type: ignore[attr-defined]
    notices = {n.kind: n.user_id for n in await Notification.all()}  # type: ignore[attr-defined]
    assert notices == {"handoff.outgoing": leaving.id, "handoff.incoming": staying.id}
    # Workers keeping the tenant's on-call plans see the change.
    assert (await Tenant.get(id=acme.tenant.id)).config_version > version
    assert await AuditLog.exists(action="user.deactivated", target_id=str(leaving.id))


async def test_a_deactivated_users_override_no_longer_holds_the_pager(acme: TenantKit) -> None:
    hana, _ = await responder(acme, "Hana")
    ivan, _ = await responder(acme, "Ivan")
    roster = await create_roster(
        tenant=acme.tenant,
        actor=Actor.system("test"),
        spec=RosterSpec(name="Platform", start_date=date.today() - timedelta(days=1)),
        member_ids=[str(hana.id)],
    )
    now = datetime.now(UTC)
    await create_override(
        tenant=acme.tenant,
        roster=roster,
        user_id=str(ivan.id),
        start=now - timedelta(hours=1),
        end=now + timedelta(hours=1),
        actor=Actor.system("test"),
    )
    await set_active(
        tenant=acme.tenant, user=ivan, active=False, actor=Actor.system("test"), editor=None
    )
    handoff = await Handoff.get(roster_id=roster.id)
    assert handoff.outgoing_id == ivan.id  # type: ignore[attr-defined]
    assert handoff.incoming_id == hana.id  # type: ignore[attr-defined]


async def test_a_deactivated_users_token_stops_working_and_works_again_when_reactivated(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    jon, token = await responder(acme, "Jon")
    assert (await graphql(client, token, VIEWER))["data"]["viewer"]["email"] == jon.email
    await graphql(client, acme.admin_token, DEACTIVATE, id=str(jon.id))
    refused = await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 401
    # Nobody issues them a new one meanwhile.
    body = await graphql(client, acme.admin_token, CREATE_TOKEN, userId=str(jon.id), name="x")
    assert refusal(body)[:2] == ("CONFLICT", "userId")

    body = await graphql(client, acme.admin_token, REACTIVATE, id=str(jon.id))
    assert body["data"]["reactivateUser"]["active"] is True
    assert (await graphql(client, token, VIEWER))["data"]["viewer"]["email"] == jon.email


async def test_the_last_admin_cannot_be_deactivated_or_demoted(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    admin = str(acme.admin.id)
    body = await graphql(client, acme.admin_token, DEACTIVATE, id=admin)
    assert refusal(body)[:2] == ("CONFLICT", "id")  # nor themselves, in any case
    body = await graphql(client, acme.admin_token, UPDATE_USER, id=admin, input={"role": "VIEWER"})
    code, field, message = refusal(body)
    assert (code, field) == ("CONFLICT", "role")
    assert "last active admin" in message
    assert (await User.get(id=admin)).role is Role.ADMIN

    # With a second admin, the first may step down; the second is then the last one.
    second = await create_user(
        tenant=acme.tenant,
        name="Kim",
        email="kim@acme.example",
        role=Role.ADMIN,
        actor=Actor.system("test"),
    )
    assert second.token
    body = await graphql(client, acme.admin_token, UPDATE_USER, id=admin, input={"role": "VIEWER"})
    assert body["data"]["updateUser"]["role"] == "VIEWER"
    kim = str(second.user.id)
    body = await graphql(client, second.token, UPDATE_USER, id=kim, input={"role": "RESPONDER"})
    assert refusal(body)[:2] == ("CONFLICT", "role")


async def test_deleting_a_user_still_on_a_roster_names_the_roster_and_policy(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    lena, _ = await responder(acme, "Lena")
    actor = Actor.system("test")
    roster = await create_roster(
        tenant=acme.tenant,
        actor=actor,
        spec=RosterSpec(name="Database", start_date=date.today()),
        member_ids=[str(lena.id)],
    )
    policy = await create_policy(
        tenant=acme.tenant,
        actor=actor,
        spec=PolicySpec(
            name="Storage pager",
            tiers=[TierSpec(delay_minutes=5, channels=[Channel.SMS], user_ids=[str(lena.id)])],
        ),
    )
    body = await graphql(client, acme.admin_token, DELETE, id=str(lena.id))
    code, field, message = refusal(body)
    assert (code, field) == ("CONFLICT", "id")
    assert "Database" in message
    assert "Storage pager" in message
    assert "deactivate" in message
    assert await User.exists(id=lena.id)

    # Off the roster and the policy, the user can go; their tokens go too, the audit stays.
    for mutation, id in (
        ("mutation($id: ID!) { setRosterMembers(id: $id, memberIds: []) { id } }", roster.id),
        ("mutation($id: ID!) { deleteEscalationPolicy(id: $id) }", policy.id),
    ):
        assert "errors" not in await graphql(client, acme.admin_token, mutation, id=str(id))
    body = await graphql(client, acme.admin_token, DELETE, id=str(lena.id))
    assert body["data"]["deleteUser"] == str(lena.id)
    assert not await User.exists(id=lena.id)
    assert not await UserToken.exists(user_id=lena.id)
    assert await AuditLog.exists(action="user.created", target_id=str(lena.id))
    assert await AuditLog.exists(action="user.deleted", target_id=str(lena.id))


async def test_another_tenants_user_is_not_found(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    stranger = str(globex.admin.id)
    for query, variables in (
        (UPDATE_USER, {"id": stranger, "input": {"name": "Mallory"}}),
        (DEACTIVATE, {"id": stranger}),
        (REACTIVATE, {"id": stranger}),
        (DELETE, {"id": stranger}),
        (CREATE_TOKEN, {"userId": stranger, "name": "sneaky"}),
    ):
        body = await graphql(client, acme.admin_token, query, **variables)
        assert refusal(body)[0] == "NOT_FOUND", query
    assert (await User.get(id=stranger)).name == "Globex Admin"
    assert (await User.get(id=stranger)).active
