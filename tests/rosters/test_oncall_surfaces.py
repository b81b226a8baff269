"""The on-call answer over REST and GraphQL: the same answer, the errors named, tenants apart."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx
import pytest

from opswatch.models import Roster, RosterMember, User
from opswatch.queue.inprocess import InProcessQueue
from opswatch.runtime import Runtime
from tests.factories import TenantKit, graphql
from tests.rosters.support import global_primary, people, weekly

ONCALL = """
query($id: ID!, $at: DateTime) {
  roster(id: $id) {
    oncall(at: $at) {
      user { id name timezone } shiftStart shiftEnd shiftStartLocal source coverageGap
      roster { id name } nobodyReason
    }
  }
}
"""

# Spec 4.1 at instants across a year: windows meeting, overlapping and leaving a gap.
INSTANTS = [
    "2026-01-13T12:00:00Z",
    "2026-01-13T20:00:00Z",
    "2026-04-14T07:00:00Z",
    "2026-04-14T19:00:00Z",
    "2026-04-14T21:00:00+02:00",
    "2026-10-27T19:00:00Z",
    "2036-01-01T00:00:00Z",
]


async def rest(client: httpx.AsyncClient, key: str, roster_id: object, **params: str) -> Any:
    return await client.get(
        f"/api/v1/rosters/{roster_id}/oncall", params=params, headers={"X-API-Key": key}
    )


async def test_rest_and_graphql_agree_on_the_spec_example(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    spec = await global_primary(acme.tenant)
    for at in INSTANTS:
        response = await rest(client, acme.api_key, spec.roster.id, at=at)
        assert response.status_code == 200, response.text
        by_rest = response.json()
        body = await graphql(client, acme.admin_token, ONCALL, id=str(spec.roster.id), at=at)
        by_graphql = body["data"]["roster"]["oncall"]
        assert by_rest["user"]["name"] == by_graphql["user"]["name"]
        assert by_rest["roster"] == by_graphql["roster"]
        assert by_rest["coverage_gap"] == by_graphql["coverageGap"]
        assert by_rest["source"].upper() == by_graphql["source"]
        assert by_rest["shift_start"] == by_graphql["shiftStart"]
        assert by_rest["shift_end"] == by_graphql["shiftEnd"]
        assert by_rest["shift_start_local"] == by_graphql["shiftStartLocal"]

    gap = (await rest(client, acme.api_key, spec.roster.id, at="2026-04-14T19:00:00Z")).json()
    assert gap["user"]["name"] == "Lars"
    assert gap["user"]["timezone"] == "Europe/Berlin"
    assert gap["roster"]["name"] == "EMEA"
    assert gap["parent_roster"]["name"] == "Global Primary"
    assert gap["coverage_gap"] is True
    assert gap["shift_start"] == "2026-04-14T18:00:00+00:00"
    assert gap["shift_start_local"] == "2026-04-14T20:00:00+02:00"


async def test_a_user_token_works_too_and_at_defaults_to_now(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    spec = await global_primary(acme.tenant)
    response = await client.get(
        f"/api/v1/rosters/{spec.roster.id}/oncall",
        headers={"Authorization": f"Bearer {acme.viewer_token}"},
    )
    assert response.status_code == 200
    assert response.json()["user"]["name"] in {p.name for p in spec.people.values()}


@pytest.mark.parametrize(
    ("at", "field"),
    [
        ("yesterday", "at"),
        ("2026-13-01T00:00:00Z", "at"),
        ("P1D", "at"),
        ("12:00", "at"),
        ("2026-04-01", "at"),
    ],
)
async def test_a_malformed_instant_is_a_400_naming_at(
    client: httpx.AsyncClient, acme: TenantKit, at: str, field: str
) -> None:
    spec = await global_primary(acme.tenant)
    response = await rest(client, acme.api_key, spec.roster.id, at=at)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


async def test_unknown_and_foreign_rosters_are_404_and_keys_are_required(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    spec = await global_primary(acme.tenant)
    assert (await rest(client, globex.api_key, spec.roster.id)).status_code == 404
    assert (await rest(client, acme.api_key, "not-a-uuid")).status_code == 404
    missing = await rest(client, acme.api_key, "6f1c1f83-5f4c-4d47-9a53-1f0f2f8f0000")
    assert missing.status_code == 404
    anonymous = await client.get(f"/api/v1/rosters/{spec.roster.id}/oncall")
    assert anonymous.status_code == 401
    body = await graphql(client, globex.admin_token, ONCALL, id=str(spec.roster.id))
    assert body["data"]["roster"] is None


async def test_an_empty_roster_says_nobody_is_on_call(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    roster = await weekly(acme.tenant, [])
    response = await rest(client, acme.api_key, roster.id, at="2026-06-01T00:00:00Z")
    assert response.status_code == 200
    answer = response.json()
    assert answer["user"] is None
    assert answer["source"] is None
    assert "nobody is on call" in answer["nobody_reason"]
    body = await graphql(client, acme.admin_token, ONCALL, id=str(roster.id))
    assert body["data"]["roster"]["oncall"]["user"] is None


async def test_removed_and_deactivated_members_leave_the_rotation(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    users = await people(acme.tenant)
    roster = await weekly(acme.tenant, [users["Hans"], users["Katja"], users["Lars"]])
    # Week 3 (2026-01-19..26) is cycle 2: Lars of three; of two remaining, cycle 2 % 2 = Hans.
    at = "2026-01-20T12:00:00Z"
    assert (await rest(client, acme.api_key, roster.id, at=at)).json()["user"]["name"] == "Lars"
    await User.filter(id=users["Lars"].id).update(active=False)
    assert (await rest(client, acme.api_key, roster.id, at=at)).json()["user"]["name"] == "Hans"
    await User.filter(id=users["Lars"].id).update(active=True)
    await User.filter(id=users["Katja"].id).delete()
    assert await RosterMember.filter(roster=roster).count() == 2
    assert (await rest(client, acme.api_key, roster.id, at=at)).json()["user"]["name"] == "Hans"


CREATE = """
mutation($input: RosterInput!) { createRoster(input: $input) { id name kind members { name } } }
"""


async def test_create_roster_over_graphql_builds_follow_the_sun(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    users = await people(acme.tenant)
    parent = await graphql(
        client,
        acme.admin_token,
        CREATE,
        input={"name": "Global Primary", "kind": "FOLLOW_THE_SUN"},
    )
    parent_id = parent["data"]["createRoster"]["id"]
    sub = await graphql(
        client,
        acme.admin_token,
        CREATE,
        input={
            "name": "EMEA",
            "timezone": "Europe/Berlin",
            "startDate": "2026-01-05",
            "rotationLengthDays": 7,
            "handoffTime": "08:00",
            "coverageStart": "08:00",
            "coverageEnd": "20:00",
            "parentId": parent_id,
            "memberIds": [str(users[n].id) for n in ("Hans", "Katja", "Lars")],
        },
    )
    assert [m["name"] for m in sub["data"]["createRoster"]["members"]] == ["Hans", "Katja", "Lars"]
    listed = await graphql(
        client, acme.viewer_token, "{ rosters { name subRosters { name coverageStart } } }"
    )
    assert listed["data"]["rosters"] == [
        {"name": "Global Primary", "subRosters": [{"name": "EMEA", "coverageStart": "08:00"}]}
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"rotationLengthDays": 0}, "rotationLengthDays"),
        ({"rotationLengthDays": 400}, "rotationLengthDays"),
        ({"handoffTime": "25:00"}, "handoffTime"),
        ({"coverageStart": "08:00", "coverageEnd": "20:00"}, "coverageStart"),
        ({"name": "  "}, "name"),
        ({"memberIds": ["6f1c1f83-5f4c-4d47-9a53-1f0f2f8f0000"]}, "memberIds[0]"),
        ({"parentId": "6f1c1f83-5f4c-4d47-9a53-1f0f2f8f0000"}, "parentId"),
    ],
)
async def test_bad_roster_input_names_the_field_and_changes_nothing(
    client: httpx.AsyncClient, acme: TenantKit, overrides: dict[str, Any], field: str
) -> None:
    before = await Roster.all().count()
    body = await graphql(client, acme.admin_token, CREATE, input={"name": "Ops", **overrides})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["field"] == field
    assert await Roster.all().count() == before


async def test_members_listed_twice_and_members_on_a_follow_the_sun_parent_are_refused(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    users = await people(acme.tenant)
    hans = str(users["Hans"].id)
    twice = await graphql(
        client, acme.admin_token, CREATE, input={"name": "x", "memberIds": [hans, hans]}
    )
    assert twice["errors"][0]["extensions"]["field"] == "memberIds[1]"
    parent = await graphql(
        client,
        acme.admin_token,
        CREATE,
        input={"name": "x", "kind": "FOLLOW_THE_SUN", "memberIds": [hans]},
    )
    assert parent["errors"][0]["extensions"]["field"] == "memberIds"
    assert await Roster.all().count() == 0


async def test_only_admins_change_rosters(client: httpx.AsyncClient, acme: TenantKit) -> None:
    body = await graphql(client, acme.viewer_token, CREATE, input={"name": "Ops"})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_set_members_and_update_change_the_rotation(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    users = await people(acme.tenant)
    roster = await weekly(acme.tenant, [users["Hans"], users["Katja"]])
    await graphql(
        client,
        acme.admin_token,
        "mutation($id: ID!, $m: [ID!]!) { setRosterMembers(id: $id, memberIds: $m) { id } }",
        id=str(roster.id),
        m=[str(users["Lars"].id), str(users["Hans"].id)],
    )
    updated = await graphql(
        client,
        acme.admin_token,
        """mutation($id: ID!) {
          updateRoster(id: $id, input: {rotationLengthDays: 1, handoffTime: "09:00"}) {
            rotationLengthDays handoffTime members { name }
          }
        }""",
        id=str(roster.id),
    )
    assert updated["data"]["updateRoster"] == {
        "rotationLengthDays": 1,
        "handoffTime": "09:00",
        "members": [{"name": "Lars"}, {"name": "Hans"}],
    }
    # Daily from 2026-01-05 09:00 CET: 2026-01-06 10:00 CET is cycle 1, Hans.
    answer = (await rest(client, acme.api_key, roster.id, at="2026-01-06T09:00:00Z")).json()
    assert answer["user"]["name"] == "Hans"
    assert answer["shift_start"] == "2026-01-06T08:00:00+00:00"


ROSTERS = """
{ rosters {
    name members { name }
    oncall(at: "2026-04-14T19:00:00Z") { user { name } roster { name } shiftStartLocal }
    subRosters { name members { name } oncall { user { name } } }
} }
"""


async def test_listing_rosters_with_their_oncall_costs_a_constant_number_of_queries(
    client: httpx.AsyncClient, acme: TenantKit, query_count: list[str], app_runtime: Runtime
) -> None:
    await global_primary(acme.tenant)
    # The first request also notes the token's last use, in a background job that
    # must not land among the statements counted below.
    await graphql(client, acme.admin_token, "{ viewer { name } }")
    assert isinstance(app_runtime.queue, InProcessQueue)
    await app_runtime.queue.drain()

    async def cost() -> tuple[dict[str, Any], list[str]]:
        """The fewest statements of two runs: a statement of some other test's job
        finishing in the window (seen once in a full run) counts in one run only,
        while a query per roster would count in both."""
        runs = []
        for _ in range(2):
            query_count.clear()
            body = await graphql(client, acme.admin_token, ROSTERS)
            runs.append((body, list(query_count)))
        return min(runs, key=lambda run: len(run[1]))

    one, statements_of_one = await cost()
    users = await people(acme.tenant, suffix="2")
    for n in range(5):
        await weekly(acme.tenant, list(users.values()), name=f"Weekly {n}")
    six, statements_of_six = await cost()
    assert len(six["data"]["rosters"]) == 6
    assert six["data"]["rosters"][0] == one["data"]["rosters"][0]
    assert one["data"]["rosters"][0]["oncall"]["user"]["name"] == "Lars"
    assert len(statements_of_one) <= 16
    assert len(statements_of_six) <= 16
    # The same statements, whatever the number of rosters. A DataLoader may split one
    # batch over two event-loop ticks (seen for users, in either run), so a shape may
    # be sent once more; a query per roster would be sent five more times.
    one_shapes, six_shapes = shapes(statements_of_one), shapes(statements_of_six)
    assert one_shapes.keys() == six_shapes.keys(), (statements_of_one, statements_of_six)
    for shape, count in six_shapes.items():
        assert abs(count - one_shapes[shape]) <= 1, (shape, statements_of_one, statements_of_six)


def shapes(statements: list[str]) -> Counter[str]:
    """Statements with their IN lists and placeholders (PostgreSQL's ``$1``, SQLite's
    ``?``) left out."""
    return Counter(
        re.sub(r"\$\d+", "$", re.sub(r"IN \([$\d,?]+\)", "IN (…)", s)) for s in statements
    )
