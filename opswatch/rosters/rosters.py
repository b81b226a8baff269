"""Creating and changing rosters and their ordered members; every change audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from opswatch import validation
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.errors import InvalidInput, NotFound
from opswatch.models import Roster, RosterKind, RosterMember, Tenant, User
from opswatch.rosters import calendar_tokens
from opswatch.rosters.resolve import MAX_ROTATION_DAYS
from opswatch.tenants.owned import get_owned

MAX_MEMBERS = 200


@dataclass(frozen=True)
class RosterSpec:
    """What a client asks for; validated by ``create_roster`` and ``update_roster``."""

    name: str | None = None
    kind: RosterKind | None = None
    timezone: str | None = None
    start_date: date | None = None
    rotation_length_days: int | None = None
    handoff_time: str | None = None
    coverage_start: str | None = None
    coverage_end: str | None = None


async def get_roster(tenant: Tenant, roster_id: uuid.UUID | str, field: str = "id") -> Roster:
    """A roster of this tenant; another tenant's id reads as missing."""
    return await get_owned(Roster, tenant, roster_id, field, "roster")


async def create_roster(
    *,
    tenant: Tenant,
    actor: Actor,
    spec: RosterSpec,
    parent_id: str | None = None,
    member_ids: list[str] | None = None,
) -> Roster:
    parent = await get_roster(tenant, parent_id, "parentId") if parent_id else None
    if parent is not None and parent.kind is not RosterKind.FOLLOW_THE_SUN:
        raise InvalidInput(
            "parentId: only a follow-the-sun roster has sub-rosters", field="parentId"
        )
    kind = spec.kind or RosterKind.STANDARD
    if parent is not None and kind is not RosterKind.STANDARD:
        raise InvalidInput("kind: a sub-roster is a standard rotation", field="kind")
    values = _validated(spec, tenant, is_sub=parent is not None)
    values.setdefault("timezone", tenant.settings.get("timezone", "UTC"))
    values.setdefault("handoff_time", "09:00")
    values.setdefault("start_date", _last_handoff_day(values["timezone"], values["handoff_time"]))
    members = await _members(tenant, member_ids or [])
    if kind is RosterKind.FOLLOW_THE_SUN and members:
        raise InvalidInput(
            "memberIds: a follow-the-sun roster's members belong to its sub-rosters",
            field="memberIds",
        )
    if "name" not in values:
        raise InvalidInput("name must not be empty", field="name")
    token = calendar_tokens.issue()
    async with in_transaction() as connection:
        roster = await Roster.create(
            tenant=tenant,
            kind=kind,
            parent=parent,
            calendar_token=token.digest,
            calendar_token_sealed=token.sealed,
            using_db=connection,
            **values,
        )
        await _replace_members(roster, members, connection)
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="roster.created",
            target_type="roster",
            target_id=roster.id,
            data={"after": _public(values, kind, parent, members)},
            connection=connection,
        )
    return roster


# What ``update_roster`` may change (Python names); kind and parent never change.
CHANGEABLE = (
    "name",
    "timezone",
    "start_date",
    "rotation_length_days",
    "handoff_time",
    "coverage_start",
    "coverage_end",
)


async def update_roster(
    *, roster: Roster, tenant: Tenant, actor: Actor, changes: dict[str, Any]
) -> Roster:
    """Change only the fields in ``changes``; every one checked before anything is
    written. The coverage window's ends are taken together: one end given keeps the
    other, and both None (or both "") clear the window (the whole day)."""
    unknown = set(changes) - set(CHANGEABLE)
    if unknown:
        raise ValueError(f"not a roster field: {sorted(unknown)}")  # a programming error
    is_sub = roster.parent_id is not None  # type: ignore[attr-defined]
    plain = {k: v for k, v in changes.items() if not k.startswith("coverage_")}
    values = _validated(RosterSpec(**plain), tenant, is_sub=is_sub)
    if "coverage_start" in changes or "coverage_end" in changes:
        values.update(_coverage(roster, tenant, changes, is_sub=is_sub))
    before = {name: _plain(getattr(roster, name)) for name in values}
    async with in_transaction() as connection:
        if values:
            await Roster.filter(id=roster.id).using_db(connection).update(**values)
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="roster.updated",
            target_type="roster",
            target_id=roster.id,
            data={"before": before, "after": {k: _plain(v) for k, v in values.items()}},
            connection=connection,
        )
    await roster.refresh_from_db()
    return roster


def _coverage(
    roster: Roster, tenant: Tenant, changes: dict[str, Any], *, is_sub: bool
) -> dict[str, Any]:
    """The window after the change: the end not given keeps its value."""
    start = changes.get("coverage_start", roster.coverage_start) or None
    end = changes.get("coverage_end", roster.coverage_end) or None
    if start is None and end is None:
        return {"coverage_start": None, "coverage_end": None}
    if start is None or end is None:
        missing = "coverageStart" if start is None else "coverageEnd"
        raise InvalidInput(f"{missing}: give both ends of the coverage window", field=missing)
    spec = RosterSpec(coverage_start=start, coverage_end=end)
    return _validated(spec, tenant, is_sub=is_sub)


async def set_members(
    *, roster: Roster, tenant: Tenant, actor: Actor, member_ids: list[str]
) -> Roster:
    """Replace the ordered member list: the rotation counts from the first member."""
    if roster.kind is RosterKind.FOLLOW_THE_SUN:
        raise InvalidInput(
            "memberIds: a follow-the-sun roster's members belong to its sub-rosters",
            field="memberIds",
        )
    members = await _members(tenant, member_ids)
    before = [
        str(m.user_id)  # type: ignore[attr-defined]
        for m in await RosterMember.filter(roster=roster).order_by("position")
    ]
    async with in_transaction() as connection:
        await _replace_members(roster, members, connection)
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="roster.members_changed",
            target_type="roster",
            target_id=roster.id,
            data={"before": before, "after": [str(u.id) for u in members]},
            connection=connection,
        )
    return roster


async def delete_roster(*, roster: Roster, tenant: Tenant, actor: Actor) -> None:
    """Deletes sub-rosters, members and overrides with it; services keep running unrostered."""
    async with in_transaction() as connection:
        await Roster.filter(id=roster.id).using_db(connection).delete()
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="roster.deleted",
            target_type="roster",
            target_id=roster.id,
            data={"before": {"name": roster.name}},
            connection=connection,
        )


def _last_handoff_day(zone: str, handoff: str) -> date:
    """Without a start date, the rotation starts at the latest handoff already past,
    so a new roster has someone on call at once."""
    local = datetime.now(ZoneInfo(zone))
    today = local.date()
    return today if local.time() >= time.fromisoformat(handoff) else today - timedelta(days=1)


def _validated(spec: RosterSpec, tenant: Tenant, *, is_sub: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if spec.name is not None:
        values["name"] = validation.required_text("name", spec.name, max_length=200)
    if spec.timezone is not None:
        values["timezone"] = validation.timezone("timezone", spec.timezone)
    if spec.start_date is not None:
        values["start_date"] = spec.start_date
    if spec.rotation_length_days is not None:
        if not 1 <= spec.rotation_length_days <= MAX_ROTATION_DAYS:
            raise InvalidInput(
                f"rotationLengthDays must be between 1 and {MAX_ROTATION_DAYS}",
                field="rotationLengthDays",
            )
        values["rotation_length_days"] = spec.rotation_length_days
    if spec.handoff_time is not None:
        values["handoff_time"] = validation.hhmm("handoffTime", spec.handoff_time)
    if spec.coverage_start is not None or spec.coverage_end is not None:
        if not is_sub:
            raise InvalidInput(
                "coverageStart: only a sub-roster of a follow-the-sun roster has a coverage window",
                field="coverageStart",
            )
        if spec.coverage_start is None or spec.coverage_end is None:
            missing = "coverageEnd" if spec.coverage_end is None else "coverageStart"
            raise InvalidInput(f"{missing}: give both ends of the coverage window", field=missing)
        if spec.coverage_start or spec.coverage_end:  # "" and "" clear the window
            values["coverage_start"] = validation.hhmm("coverageStart", spec.coverage_start)
            values["coverage_end"] = validation.hhmm("coverageEnd", spec.coverage_end)
        else:
            values["coverage_start"] = values["coverage_end"] = None
    return values


async def _members(tenant: Tenant, member_ids: list[str]) -> list[User]:
    if len(member_ids) > MAX_MEMBERS:
        raise InvalidInput(f"memberIds: at most {MAX_MEMBERS} members", field="memberIds")
    keys = []
    for index, raw in enumerate(member_ids):
        try:
            keys.append(uuid.UUID(str(raw)))
        except ValueError:
            raise NotFound(
                f"memberIds[{index}]: no such user", field=f"memberIds[{index}]"
            ) from None
    users = {u.id: u for u in await User.filter(id__in=keys, tenant=tenant)}
    seen: set[uuid.UUID] = set()
    for index, key in enumerate(keys):
        if key not in users:
            raise NotFound(f"memberIds[{index}]: no such user", field=f"memberIds[{index}]")
        if key in seen:
            raise InvalidInput(
                f"memberIds[{index}]: {users[key].name} is listed twice",
                field=f"memberIds[{index}]",
            )
        seen.add(key)
    return [users[key] for key in keys]


async def _replace_members(
    roster: Roster, members: list[User], connection: BaseDBAsyncClient
) -> None:
    await RosterMember.filter(roster=roster).using_db(connection).delete()
    if members:
        await RosterMember.bulk_create(
            [
                RosterMember(id=uuid.uuid4(), roster=roster, user=user, position=position)
                for position, user in enumerate(members)
            ],
            using_db=connection,
        )


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _public(
    values: dict[str, Any], kind: RosterKind, parent: Roster | None, members: list[User]
) -> dict[str, Any]:
    return {
        **{k: _plain(v) for k, v in values.items()},
        "kind": kind.value,
        "parent_id": str(parent.id) if parent else None,
        "member_ids": [str(u.id) for u in members],
    }
