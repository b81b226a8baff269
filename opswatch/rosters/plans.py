"""Loading rosters from the database into plans (``resolve.Plan``), many at a time.

A plan needs the roster, its sub-rosters, their members in order and the
overrides that touch a time range: four queries however many rosters are
loaded together. Inactive users and removed members are not in the rotation:
the roster turns as if they had never been in it, and their overrides do not count.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from opswatch.models import Override, Roster, RosterKind, RosterMember
from opswatch.rosters.resolve import OverrideSpan, Plan
from opswatch.rosters.rotation import Rotation


def rotation_of(roster: Roster, members: Iterable[uuid.UUID]) -> Rotation:
    coverage = None
    if roster.coverage_start and roster.coverage_end:
        coverage = (
            time.fromisoformat(roster.coverage_start),
            time.fromisoformat(roster.coverage_end),
        )
    return Rotation(
        roster_id=roster.id,
        name=roster.name,
        zone=ZoneInfo(roster.timezone),
        start_date=roster.start_date,
        length_days=roster.rotation_length_days,
        handoff=time.fromisoformat(roster.handoff_time),
        members=tuple(members),
        coverage=coverage,
    )


async def load_plans(
    rosters: list[Roster], start: datetime, end: datetime
) -> dict[uuid.UUID, Plan]:
    """Plans of top-level ``rosters`` (one tenant's), with overrides touching [start, end)
    or active at its ends."""
    if not rosters:
        return {}
    parent_ids = [r.id for r in rosters]
    children = await Roster.filter(parent_id__in=parent_ids).order_by("created_at", "id")
    by_parent: dict[uuid.UUID, list[Roster]] = defaultdict(list)
    for child in children:
        by_parent[child.parent_id].append(child)  # type: ignore[attr-defined]
    all_ids = parent_ids + [c.id for c in children]
    members = await RosterMember.filter(roster_id__in=all_ids, user__active=True).order_by(
        "roster_id", "position"
    )
    member_ids: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for member in members:
        member_ids[member.roster_id].append(member.user_id)  # type: ignore[attr-defined]
    # An inactive user's override is skipped like their turn: the rotation holds it.
    overrides = await Override.filter(
        roster_id__in=all_ids, end_at__gt=start, start_at__lt=end, user__active=True
    ).order_by("start_at")
    spans: dict[uuid.UUID, list[OverrideSpan]] = defaultdict(list)
    for row in overrides:
        owner = row.roster_id  # type: ignore[attr-defined]
        top = owner if owner in parent_ids else _parent_of(children, owner)
        spans[top].append(
            OverrideSpan(
                id=row.id,
                roster_id=owner,
                user_id=row.user_id,  # type: ignore[attr-defined]
                start=row.start_at,
                end=row.end_at,
                created_at=row.created_at,
            )
        )
    plans = {}
    for roster in rosters:
        follow_the_sun = roster.kind is RosterKind.FOLLOW_THE_SUN
        rotating = by_parent[roster.id] if follow_the_sun else [roster]
        # A sub-roster asked about on its own still has its coverage window: outside
        # it, it only keeps the pager as the one whose window closed last.
        follow_the_sun = follow_the_sun or (
            roster.parent_id is not None and roster.coverage_start is not None  # type: ignore[attr-defined]
        )
        plans[roster.id] = Plan(
            roster_id=roster.id,
            name=roster.name,
            follow_the_sun=follow_the_sun,
            rotations=tuple(rotation_of(r, member_ids[r.id]) for r in rotating),
            overrides=tuple(spans[roster.id]),
        )
    return plans


async def load_plan(roster: Roster, start: datetime, end: datetime) -> Plan:
    return (await load_plans([roster], start, end))[roster.id]


def _parent_of(children: list[Roster], roster_id: uuid.UUID) -> uuid.UUID:
    parent: uuid.UUID = next(c.parent_id for c in children if c.id == roster_id)  # type: ignore[attr-defined]
    return parent
