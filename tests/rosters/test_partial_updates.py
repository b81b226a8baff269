"""updateRoster changes what it is given and nothing else: a new handoff time keeps the
zone, the rotation and the members; null clears a coverage window and nothing else."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from opswatch.audit.actor import Actor
from opswatch.models import AuditLog, Role, Roster
from opswatch.tenants.users import create_user
from tests.factories import TenantKit, graphql
from tests.rosters.support import global_primary, people, weekly

ACTOR = Actor.system("test")
FIELDS = (
    "id name kind timezone startDate rotationLengthDays handoffTime coverageStart coverageEnd "
    "members { name }"
)
UPDATE = f"""
mutation($id: ID!, $input: RosterUpdateInput!) {{
  updateRoster(id: $id, input: $input) {{ {FIELDS} }}
}}
"""
ONE = f"query($id: ID!) {{ roster(id: $id) {{ {FIELDS} }} }}"


def refusal(body: dict[str, Any]) -> tuple[str, str | None]:
    assert body.get("data") is None, body
    extensions = body["errors"][0]["extensions"]
    return extensions["code"], extensions.get("field")


async def shown(client: httpx.AsyncClient, kit: TenantKit, roster: Roster) -> dict[str, Any]:
    body = await graphql(client, kit.admin_token, ONE, id=str(roster.id))
    found: dict[str, Any] = body["data"]["roster"]
    return found


async def update(
    client: httpx.AsyncClient, token: str, roster_id: object, **changes: Any
) -> dict[str, Any]:
    return await graphql(client, token, UPDATE, id=str(roster_id), input=changes)


async def test_each_roster_field_changes_alone_and_the_members_stay(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    users = await people(acme.tenant)
    roster = await weekly(acme.tenant, [users["Hans"], users["Katja"]])
    expected = await shown(client, acme, roster)
    assert expected["members"] == [{"name": "Hans"}, {"name": "Katja"}]
    for name, value in [
        ("name", "EMEA weekly"),
        ("timezone", "Europe/Lisbon"),
        ("startDate", "2026-02-02"),
        ("rotationLengthDays", 14),
        ("handoffTime", "10:30"),
    ]:
        body = await update(client, acme.admin_token, roster.id, **{name: value})
        expected[name] = value
        assert body["data"]["updateRoster"] == expected, name
    entry = await AuditLog.filter(action="roster.updated").order_by("-created_at").first()
    assert entry is not None
    assert entry.data == {"before": {"handoff_time": "08:00"}, "after": {"handoff_time": "10:30"}}


async def test_null_for_a_field_a_roster_must_have_is_refused_naming_it(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    roster = await weekly(acme.tenant, [])
    before = await shown(client, acme, roster)
    for field in ("name", "timezone", "startDate", "rotationLengthDays", "handoffTime"):
        body = await update(client, acme.admin_token, roster.id, **{field: None})
        assert refusal(body) == ("INVALID_INPUT", field)
    # A bad field beside a good one: nothing is written.
    mixed = await update(client, acme.admin_token, roster.id, name="Renamed", handoffTime="25:00")
    assert refusal(mixed) == ("INVALID_INPUT", "handoffTime")
    assert await shown(client, acme, roster) == before


async def test_a_coverage_window_end_changes_alone_and_null_clears_the_window(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    spec = await global_primary(acme.tenant)
    expected = await shown(client, acme, spec.emea)
    assert (expected["coverageStart"], expected["coverageEnd"]) == ("08:00", "20:00")

    later = await update(client, acme.admin_token, spec.emea.id, coverageEnd="21:00")
    expected["coverageEnd"] = "21:00"
    assert later["data"]["updateRoster"] == expected

    one_end = await update(client, acme.admin_token, spec.emea.id, coverageStart=None)
    assert refusal(one_end) == ("INVALID_INPUT", "coverageStart")

    cleared = await update(
        client, acme.admin_token, spec.emea.id, coverageStart=None, coverageEnd=None
    )
    assert cleared["data"]["updateRoster"] == {
        **expected,
        "coverageStart": None,
        "coverageEnd": None,
    }
    # The older spelling, both ends "", still clears it.
    await update(client, acme.admin_token, spec.apac.id, coverageStart="", coverageEnd="")
    apac = await shown(client, acme, spec.apac)
    assert (apac["coverageStart"], apac["coverageEnd"]) == (None, None)

    top = await update(client, acme.admin_token, spec.roster.id, coverageStart="08:00")
    assert refusal(top) == ("INVALID_INPUT", "coverageEnd")


async def test_only_the_tenants_admins_update_its_rosters(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    roster = await weekly(acme.tenant, [])
    before = await shown(client, acme, roster)
    responder = await create_user(
        tenant=acme.tenant,
        name="Riley",
        email="riley@acme.example",
        role=Role.RESPONDER,
        actor=ACTOR,
    )
    assert responder.token is not None
    for token in (acme.viewer_token, responder.token):
        body = await update(client, token, roster.id, name="Mine")
        assert refusal(body) == ("FORBIDDEN", None)
    foreign = await update(client, globex.admin_token, roster.id, name="Ours")
    assert refusal(foreign)[0] == "NOT_FOUND"
    unknown = await update(client, acme.admin_token, uuid.uuid4(), name="Nobody's")
    assert refusal(unknown)[0] == "NOT_FOUND"
    malformed = await update(client, acme.admin_token, "weekly", name="x")
    assert refusal(malformed) == ("INVALID_INPUT", "id")
    assert await shown(client, acme, roster) == before
