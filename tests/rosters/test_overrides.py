"""Overrides through GraphQL: on the parent, on a sub-roster, overlapping, deleted, refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from opswatch.models import AuditLog, Override
from tests.factories import TenantKit, graphql
from tests.rosters.support import global_primary

CREATE = """
mutation($roster: ID!, $user: ID!, $start: DateTime!, $end: DateTime!) {
  createOverride(rosterId: $roster, userId: $user, start: $start, end: $end) {
    id start end user { name } roster { name } createdBy { name }
  }
}
"""
DELETE = "mutation($id: ID!) { deleteOverride(id: $id) { id } }"
SCHEDULE = """
query($id: ID!, $start: DateTime!, $end: DateTime!) {
  roster(id: $id) { schedule(start: $start, end: $end) {
    start end source coverageGap user { name } roster { name }
  } }
}
"""


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def holder(client: httpx.AsyncClient, kit: TenantKit, roster_id: object, at: datetime) -> Any:
    response = await client.get(
        f"/api/v1/rosters/{roster_id}/oncall",
        params={"at": iso(at)},
        headers={"X-API-Key": kit.api_key},
    )
    assert response.status_code == 200
    return response.json()


def next_year(month: int, day: int, hour: int) -> datetime:
    """An instant in the future, so that overrides on it are accepted."""
    return datetime(datetime.now(UTC).year + 1, month, day, hour, tzinfo=UTC)


async def test_an_override_on_the_parent_wins_around_the_clock(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    spec = await global_primary(acme.tenant)
    start, end = next_year(1, 13, 0), next_year(1, 14, 0)
    body = await graphql(
        client,
        acme.admin_token,
        CREATE,
        roster=str(spec.roster.id),
        user=str(spec.people["Stefan"].id),
        start=iso(start),
        end=iso(end),
    )
    created = body["data"]["createOverride"]
    assert created["user"]["name"] == "Stefan"
    assert created["createdBy"]["name"] == "Acme Admin"
    for hour in (2, 12, 22):
        answer = await holder(client, acme, spec.roster.id, start + timedelta(hours=hour))
        assert (answer["user"]["name"], answer["source"]) == ("Stefan", "override")
        assert answer["shift_start"] == start.isoformat()
        assert answer["shift_end"] == end.isoformat()
    entry = await AuditLog.get(action="roster.override_created")
    assert entry.data["after"]["user"] == "Stefan"


async def test_an_override_on_a_sub_roster_only_covers_its_window(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    spec = await global_primary(acme.tenant)
    day = next_year(1, 13, 0)
    await graphql(
        client,
        acme.admin_token,
        CREATE,
        roster=str(spec.emea.id),
        user=str(spec.people["Stefan"].id),
        start=iso(day),
        end=iso(day + timedelta(days=1)),
    )
    # January: EMEA covers 07:00-19:00Z, APAC the rest.
    inside = await holder(client, acme, spec.roster.id, day + timedelta(hours=12))
    assert (inside["user"]["name"], inside["roster"]["name"]) == ("Stefan", "EMEA")
    outside = await holder(client, acme, spec.roster.id, day + timedelta(hours=21))
    assert outside["roster"]["name"] == "APAC"
    assert outside["source"] == "rotation"


async def test_where_overrides_overlap_the_newest_wins_and_deleting_restores(
    client: httpx.AsyncClient, acme: TenantKit
) -> None:
    spec = await global_primary(acme.tenant)
    day = next_year(1, 13, 0)
    ids = []
    for name, begin, finish in (("Hans", 0, 48), ("Bob", 24, 72)):
        body = await graphql(
            client,
            acme.admin_token,
            CREATE,
            roster=str(spec.roster.id),
            user=str(spec.people[name].id),
            start=iso(day + timedelta(hours=begin)),
            end=iso(day + timedelta(hours=finish)),
        )
        ids.append(body["data"]["createOverride"]["id"])
    body = await graphql(
        client,
        acme.viewer_token,
        SCHEDULE,
        id=str(spec.roster.id),
        start=iso(day),
        end=iso(day + timedelta(hours=72)),
    )
    shifts = body["data"]["roster"]["schedule"]
    assert [(s["user"]["name"], s["source"]) for s in shifts] == [
        ("Hans", "OVERRIDE"),
        ("Bob", "OVERRIDE"),
    ]
    assert shifts[1]["start"] == (day + timedelta(hours=24)).isoformat()

    deleted = await graphql(client, acme.viewer_token, DELETE, id=ids[1])
    assert deleted["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await graphql(client, acme.admin_token, DELETE, id=ids[1])
    after = await holder(client, acme, spec.roster.id, day + timedelta(hours=30))
    assert after["user"]["name"] == "Hans"
    assert await Override.all().count() == 1
    assert await AuditLog.filter(action="roster.override_deleted").count() == 1


@pytest.mark.parametrize(
    ("shift", "field"),
    [
        ((10, 5), "end"),  # ends before it starts
        ((-48, -24), "end"),  # already over
        ((0, 24 * 400), "end"),  # longer than a year
    ],
)
async def test_bad_overrides_are_refused_naming_the_field(
    client: httpx.AsyncClient, acme: TenantKit, shift: tuple[int, int], field: str
) -> None:
    spec = await global_primary(acme.tenant)
    now = datetime.now(UTC).replace(microsecond=0)
    body = await graphql(
        client,
        acme.admin_token,
        CREATE,
        roster=str(spec.roster.id),
        user=str(spec.people["Hans"].id),
        start=iso(now + timedelta(hours=shift[0])),
        end=iso(now + timedelta(hours=shift[1])),
    )
    assert body["errors"][0]["extensions"]["field"] == field
    assert await Override.all().count() == 0


async def test_overrides_name_users_and_rosters_of_the_same_tenant_only(
    client: httpx.AsyncClient, acme: TenantKit, globex: TenantKit
) -> None:
    spec = await global_primary(acme.tenant)
    start = next_year(2, 1, 0)
    foreign_user = await graphql(
        client,
        acme.admin_token,
        CREATE,
        roster=str(spec.roster.id),
        user=str(globex.admin.id),
        start=iso(start),
        end=iso(start + timedelta(hours=8)),
    )
    assert foreign_user["errors"][0]["extensions"]["field"] == "userId"
    foreign_roster = await graphql(
        client,
        globex.admin_token,
        CREATE,
        roster=str(spec.roster.id),
        user=str(globex.admin.id),
        start=iso(start),
        end=iso(start + timedelta(hours=8)),
    )
    assert foreign_roster["errors"][0]["extensions"]["field"] == "rosterId"
    assert await Override.all().count() == 0
