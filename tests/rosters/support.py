"""Building the spec's rosters (section 4.1) through the service functions, as an admin would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from opswatch.audit.actor import Actor
from opswatch.models import Roster, RosterKind, Tenant, User
from opswatch.rosters.rosters import RosterSpec, create_roster
from opswatch.tenants.users import create_user

PEOPLE = {
    "Stefan": "Pacific/Auckland",
    "Alice": "Pacific/Auckland",
    "Bob": "Pacific/Auckland",
    "Hans": "Europe/Berlin",
    "Katja": "Europe/Berlin",
    "Lars": "Europe/Berlin",
}
START = date(2026, 1, 5)


@dataclass
class GlobalPrimary:
    roster: Roster
    apac: Roster
    emea: Roster
    people: dict[str, User]


async def people(tenant: Tenant, suffix: str = "") -> dict[str, User]:
    actor = Actor.system("test")
    found = {}
    for name, zone in PEOPLE.items():
        created = await create_user(
            tenant=tenant,
            name=name + suffix,
            email=f"{name.lower()}{suffix}@{tenant.slug}.example",
            timezone=zone,
            actor=actor,
            with_token=False,
        )
        found[name] = created.user
    return found


async def global_primary(tenant: Tenant) -> GlobalPrimary:
    actor = Actor.system("test")
    users = await people(tenant)
    parent = await create_roster(
        tenant=tenant,
        actor=actor,
        spec=RosterSpec(name="Global Primary", kind=RosterKind.FOLLOW_THE_SUN),
    )
    subs = []
    for name, zone, members in (
        ("APAC", "Pacific/Auckland", ["Stefan", "Alice", "Bob"]),
        ("EMEA", "Europe/Berlin", ["Hans", "Katja", "Lars"]),
    ):
        subs.append(
            await create_roster(
                tenant=tenant,
                actor=actor,
                spec=RosterSpec(
                    name=name,
                    timezone=zone,
                    start_date=START,
                    rotation_length_days=7,
                    handoff_time="08:00",
                    coverage_start="08:00",
                    coverage_end="20:00",
                ),
                parent_id=str(parent.id),
                member_ids=[str(users[m].id) for m in members],
            )
        )
    return GlobalPrimary(parent, subs[0], subs[1], users)


async def weekly(tenant: Tenant, members: list[User], *, name: str = "Weekly") -> Roster:
    return await create_roster(
        tenant=tenant,
        actor=Actor.system("test"),
        spec=RosterSpec(
            name=name,
            timezone="Europe/Berlin",
            start_date=START,
            rotation_length_days=7,
            handoff_time="08:00",
        ),
        member_ids=[str(u.id) for u in members],
    )
