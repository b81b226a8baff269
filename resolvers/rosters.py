"""Resolvers of the rosters domain."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from opswatch import models, runtime
from opswatch.errors import Forbidden, NotFound
from opswatch.rosters import handoffs
from opswatch.rosters import overrides as override_ops
from opswatch.rosters import rosters as roster_ops
from opswatch.rosters.oncall import shift_at
from resolvers.context import Info
from resolvers.ids import id_text, id_texts, optional_id_text, parse_id
from resolvers.loaders import Loaders
from resolvers.partial import given
from schema.rosters import (
    Notification,
    OnCall,
    OnCallChange,
    Override,
    Roster,
    RosterInput,
    RosterUpdateInput,
)

MAX_ROSTERS = 500
MAX_NOTIFICATIONS = 200


async def rosters(info: Info) -> list[Roster]:
    """Top-level rosters; sub-rosters are under ``subRosters``."""
    principal = info.context.viewer()
    rows = (
        await models.Roster.filter(tenant=principal.tenant, parent_id=None)
        .order_by("name")
        .limit(MAX_ROSTERS)
    )
    return [Roster.from_model(row) for row in rows]


async def roster(info: Info, id: strawberry.ID) -> Roster | None:
    principal = info.context.viewer()
    try:
        row = await roster_ops.get_roster(principal.tenant, id_text(id))
    except NotFound:
        return None
    return Roster.from_model(row)


def _spec(input: RosterInput, kind: models.RosterKind) -> roster_ops.RosterSpec:
    return roster_ops.RosterSpec(
        name=input.name,
        kind=kind,
        timezone=input.timezone,
        start_date=input.start_date,
        rotation_length_days=input.rotation_length_days,
        handoff_time=input.handoff_time,
        coverage_start=input.coverage_start,
        coverage_end=input.coverage_end,
    )


async def create_roster(info: Info, input: RosterInput) -> Roster:
    principal = info.context.viewer(models.Role.ADMIN)
    row = await roster_ops.create_roster(
        tenant=principal.tenant,
        actor=principal.actor("graphql"),
        spec=_spec(input, models.RosterKind(input.kind.value)),
        parent_id=optional_id_text(input.parent_id, "parentId"),
        member_ids=id_texts(input.member_ids or [], "memberIds"),
    )
    return Roster.from_model(row)


async def update_roster(info: Info, id: strawberry.ID, input: RosterUpdateInput) -> Roster:
    """Only the fields given change; null clears the coverage window, and nothing else."""
    principal = info.context.viewer(models.Role.ADMIN)
    changes = given(
        input,
        required=["name", "timezone", "start_date", "rotation_length_days", "handoff_time"],
    )
    row = await roster_ops.get_roster(principal.tenant, id_text(id))
    row = await roster_ops.update_roster(
        roster=row, tenant=principal.tenant, actor=principal.actor("graphql"), changes=changes
    )
    return Roster.from_model(row)


async def set_roster_members(
    info: Info, id: strawberry.ID, member_ids: list[strawberry.ID]
) -> Roster:
    """Replace the members, in rotation order."""
    principal = info.context.viewer(models.Role.ADMIN)
    row = await roster_ops.get_roster(principal.tenant, id_text(id))
    await roster_ops.set_members(
        roster=row,
        tenant=principal.tenant,
        actor=principal.actor("graphql"),
        member_ids=id_texts(member_ids, "memberIds"),
    )
    return Roster.from_model(row)


async def delete_roster(info: Info, id: strawberry.ID) -> strawberry.ID:
    principal = info.context.viewer(models.Role.ADMIN)
    row = await roster_ops.get_roster(principal.tenant, id_text(id))
    await roster_ops.delete_roster(
        roster=row, tenant=principal.tenant, actor=principal.actor("graphql")
    )
    return id


async def create_override(
    info: Info, roster_id: strawberry.ID, user_id: strawberry.ID, start: datetime, end: datetime
) -> Override:
    principal = info.context.viewer(models.Role.RESPONDER)
    row = await roster_ops.get_roster(principal.tenant, id_text(roster_id, "rosterId"), "rosterId")
    override = await override_ops.create_override(
        tenant=principal.tenant,
        roster=row,
        user_id=id_text(user_id, "userId"),
        start=start,
        end=end,
        actor=principal.actor("graphql"),
        created_by=principal.user,
    )
    return Override.from_model(override)


async def delete_override(info: Info, id: strawberry.ID) -> Override:
    principal = info.context.viewer(models.Role.RESPONDER)
    override = await override_ops.delete_override(
        tenant=principal.tenant, override_id=id_text(id), actor=principal.actor("graphql")
    )
    return Override.from_model(override)


async def notifications(
    info: Info, user_id: strawberry.ID | None = None, first: int = 50
) -> list[Notification]:
    """Your own notices; admins may ask for anyone's (``userId``) or everyone's."""
    principal = info.context.viewer()
    user = principal.user
    query = models.Notification.filter(tenant=principal.tenant)
    if user_id is not None:
        wanted = parse_id(user_id, "userId")
        if user is None or (wanted != user.id and not principal.role.allows(models.Role.ADMIN)):
            raise Forbidden("only admins may read other people's notifications")
        query = query.filter(user_id=wanted)
    elif not principal.role.allows(models.Role.ADMIN) and user is not None:
        query = query.filter(user_id=user.id)
    size = max(1, min(first, MAX_NOTIFICATIONS))
    rows = await query.order_by("-created_at").limit(size)
    return [Notification.from_model(row) for row in rows]


async def oncall_changed(
    info: Info, roster_id: strawberry.ID | None = None
) -> AsyncGenerator[OnCallChange, None]:
    """Every handoff (rotation, coverage window, override start or end) of the tenant's
    rosters, or of one roster."""
    principal = info.context.viewer()
    tenant_id = principal.tenant.id
    only: uuid.UUID | None = None
    if roster_id is not None:
        only = (
            await roster_ops.get_roster(
                principal.tenant, id_text(roster_id, "rosterId"), "rosterId"
            )
        ).id
    stream = runtime.current().events.subscribe(topic=handoffs.TOPIC, tenant_id=str(tenant_id))
    async for event in stream:
        changed = uuid.UUID(event.data["roster_id"])
        if only is not None and changed != only:
            continue
        row = await models.Roster.get_or_none(id=changed, tenant_id=tenant_id)
        handoff = await models.Handoff.get_or_none(id=uuid.UUID(event.data["handoff_id"]))
        if row is None or handoff is None:
            continue  # deleted since
        at = datetime.fromisoformat(event.data["at"])
        info.context.loaders = Loaders(tenant_id)
        yield OnCallChange(
            at=at,
            cursor=event.cursor,
            handoff_id=strawberry.ID(str(handoff.id)),
            roster_id=changed,
            previous_user_id=handoff.outgoing_id,  # type: ignore[attr-defined]
            oncall=OnCall.build(await shift_at(row, at), at),
        )
