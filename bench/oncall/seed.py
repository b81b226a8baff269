"""The database's set-up: one tenant, its users, and every plan's roster and overrides."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from opswatch.audit.actor import Actor
from opswatch.models import Roster, RosterKind, Tenant, User
from opswatch.rosters.overrides import create_override
from opswatch.rosters.rosters import RosterSpec, create_roster
from opswatch.tenants.tenants import create_tenant
from opswatch.tenants.users import create_user

from .base import PEOPLE, ROTATION_DAYS, START_DATE
from .plans import DESIGNS, PlanDesign, RotationDesign


def roster_spec(rotation: RotationDesign, name: str) -> RosterSpec:
    opens, closes = rotation.coverage or (None, None)
    return RosterSpec(
        name=name,
        timezone=rotation.zone,
        start_date=START_DATE,
        rotation_length_days=ROTATION_DAYS,
        handoff_time=rotation.handoff,
        coverage_start=opens,
        coverage_end=closes,
    )


async def create_design(
    tenant: Tenant, design: PlanDesign, users: Mapping[str, User], actor: Actor
) -> tuple[Roster, dict[uuid.UUID, str]]:
    """The roster (with its sub-rosters and overrides), and its rosters' names by id."""

    def member_ids(rotation: RotationDesign) -> list[str]:
        return [str(users[name].id) for name in rotation.members]

    owners: dict[str | None, Roster] = {}
    if design.follow_the_sun:
        top = await create_roster(
            tenant=tenant,
            actor=actor,
            spec=RosterSpec(name=design.name, kind=RosterKind.FOLLOW_THE_SUN, timezone="UTC"),
        )
        for rotation in design.rotations:
            owners[rotation.name] = await create_roster(
                tenant=tenant,
                actor=actor,
                spec=roster_spec(rotation, rotation.name),
                parent_id=str(top.id),
                member_ids=member_ids(rotation),
            )
    else:
        (rotation,) = design.rotations
        top = await create_roster(
            tenant=tenant,
            actor=actor,
            spec=roster_spec(rotation, design.name),
            member_ids=member_ids(rotation),
        )
    owners[None] = top
    for override in design.overrides:
        await create_override(
            tenant=tenant,
            roster=owners[override.target],
            user_id=str(users[override.user].id),
            start=override.start,
            end=override.end,
            actor=actor,
            # Overrides ending in the past are refused; these are set as if made beforehand.
            now=override.start,
        )
    names = {roster.id: name or design.name for name, roster in owners.items()}
    return top, names


async def seed() -> tuple[dict[str, Roster], dict[uuid.UUID, str]]:
    """One tenant with every plan's roster; the rosters by plan, and names by id."""
    actor = Actor.system("bench")
    tenant = await create_tenant(name="OpsWatch bench", slug=None, actor=actor)
    users = {}
    for name in PEOPLE:
        created = await create_user(
            tenant=tenant,
            name=name,
            email=f"{name.lower()}@bench.example",
            actor=actor,
            with_token=False,
        )
        users[name] = created.user
    names: dict[uuid.UUID, str] = {user.id: name for name, user in users.items()}
    rosters = {}
    for design in DESIGNS:
        rosters[design.key], roster_names = await create_design(tenant, design, users, actor)
        names |= roster_names
    return rosters, names
