"""Types of the rosters domain: rosters, on-call answers, shifts, overrides, handoff notices."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import Enum
from zoneinfo import ZoneInfo

import strawberry

from opswatch import models
from opswatch.rosters import calendar_tokens
from opswatch.rosters.oncall import NOBODY, check_range
from opswatch.rosters.resolve import REACH, Shift, Source, oncall_at, schedule
from resolvers.context import Info
from schema.users import User, load_user


@strawberry.enum
class RosterKind(Enum):
    STANDARD = "standard"
    FOLLOW_THE_SUN = "follow_the_sun"


@strawberry.enum
class OnCallSource(Enum):
    OVERRIDE = "override"
    ROTATION = "rotation"


@strawberry.type
class Roster:
    id: strawberry.ID
    name: str
    kind: RosterKind
    timezone: str
    start_date: date
    rotation_length_days: int
    handoff_time: str = strawberry.field(description='Local time of the handoff, "HH:MM".')
    coverage_start: str | None = strawberry.field(
        description='Sub-rosters: the local window they cover, e.g. "08:00" to "20:00".'
    )
    coverage_end: str | None
    model: strawberry.Private[models.Roster]

    @classmethod
    def from_model(cls, roster: models.Roster) -> Roster:
        return cls(
            id=strawberry.ID(str(roster.id)),
            name=roster.name,
            kind=RosterKind(roster.kind.value),
            timezone=roster.timezone,
            start_date=roster.start_date,
            rotation_length_days=roster.rotation_length_days,
            handoff_time=roster.handoff_time,
            coverage_start=roster.coverage_start,
            coverage_end=roster.coverage_end,
            model=roster,
        )

    @strawberry.field
    async def parent(self, info: Info) -> Roster | None:
        parent_id: uuid.UUID | None = self.model.parent_id  # type: ignore[attr-defined]
        return await _roster(info, parent_id)

    @strawberry.field
    async def sub_rosters(self, info: Info) -> list[Roster]:
        rows = await info.context.loaders.sub_rosters.load(self.model.id)
        return [Roster.from_model(row) for row in rows]

    @strawberry.field(description="Members in rotation order (empty for a follow-the-sun parent).")
    async def members(self, info: Info) -> list[User]:
        rows = await info.context.loaders.roster_members.load(self.model.id)
        return [User.from_model(row) for row in rows]

    @strawberry.field(description="Who holds the pager at `at` (default: now).")
    async def oncall(self, info: Info, at: datetime | None = None) -> OnCall:
        moment = _utc(at) if at is not None else datetime.now(UTC)
        plan = await info.context.loaders.plan.load((self.model.id, moment - REACH, moment + REACH))
        if plan is None:
            raise LookupError("roster vanished while being read")
        return OnCall.build(oncall_at(plan, moment), moment)

    @strawberry.field(
        description="Shifts covering [start, end) (at most 400 days), overrides merged, "
        "coverage gaps marked."
    )
    async def schedule(self, info: Info, start: datetime, end: datetime) -> list[RosterShift]:
        begin, finish = _utc(start), _utc(end)
        check_range(begin, finish)
        plan = await info.context.loaders.plan.load((self.model.id, begin - REACH, finish + REACH))
        if plan is None:
            raise LookupError("roster vanished while being read")
        return [RosterShift.build(shift) for shift in schedule(plan, begin, finish)]

    @strawberry.field(description="Overrides ending after `start` (default: now), oldest first.")
    async def overrides(self, info: Info, start: datetime | None = None) -> list[Override]:
        since = _utc(start) if start is not None else datetime.now(UTC)
        roster_ids = [self.model.id] + [
            r.id for r in await info.context.loaders.sub_rosters.load(self.model.id)
        ]
        rows = (
            await models.Override.filter(roster_id__in=roster_ids, end_at__gt=since)
            .order_by("start_at")
            .limit(500)
        )
        return [Override.from_model(row) for row in rows]

    @strawberry.field(description="iCal feed of this roster's shifts; the URL is the credential.")
    def calendar_url(self, info: Info) -> str | None:
        if not self.model.calendar_token_sealed or self.model.parent_id is not None:  # type: ignore[attr-defined]
            return None
        clear = calendar_tokens.reveal(self.model.calendar_token_sealed)
        return calendar_tokens.feed_url("rosters", clear)


@strawberry.type
class OnCall:
    at: datetime
    user_id: strawberry.Private[uuid.UUID | None]
    holder_roster_id: strawberry.Private[uuid.UUID]
    shift_start: datetime | None = strawberry.field(
        description="Null when nobody holds the pager from before the range looked at."
    )
    shift_end: datetime | None
    source: OnCallSource | None = strawberry.field(description="Null when nobody is on call.")
    coverage_gap: bool = strawberry.field(
        description="No window covers the instant: the last holder keeps the pager."
    )
    nobody_reason: str | None

    @classmethod
    def build(cls, shift: Shift, at: datetime) -> OnCall:
        holding = shift.holding
        return cls(
            at=at,
            user_id=holding.user_id,
            holder_roster_id=holding.roster_id,
            shift_start=None if shift.open_start else shift.start,
            shift_end=None if shift.open_end else shift.end,
            source=_source(holding.source),
            coverage_gap=holding.coverage_gap,
            nobody_reason=NOBODY if holding.user_id is None else None,
        )

    @strawberry.field(description="Null only when nobody is on call.")
    async def user(self, info: Info) -> User | None:
        return await load_user(info, self.user_id)

    @strawberry.field(description="The (sub-)roster whose shift this is.")
    async def roster(self, info: Info) -> Roster | None:
        return await _roster(info, self.holder_roster_id)

    @strawberry.field(description="The shift start in the on-call person's time zone.")
    async def shift_start_local(self, info: Info) -> datetime | None:
        return await _local(info, self.user_id, self.shift_start)

    @strawberry.field
    async def shift_end_local(self, info: Info) -> datetime | None:
        return await _local(info, self.user_id, self.shift_end)

    @strawberry.field(description="The on-call person's wall-clock time now.")
    async def user_local_time(self, info: Info) -> datetime | None:
        return await _local(info, self.user_id, datetime.now(UTC))


@strawberry.type(name="Shift")
class RosterShift:
    start: datetime
    end: datetime
    user_id: strawberry.Private[uuid.UUID | None]
    holder_roster_id: strawberry.Private[uuid.UUID]
    source: OnCallSource | None
    coverage_gap: bool

    @classmethod
    def build(cls, shift: Shift) -> RosterShift:
        return cls(
            start=shift.start,
            end=shift.end,
            user_id=shift.holding.user_id,
            holder_roster_id=shift.holding.roster_id,
            source=_source(shift.holding.source),
            coverage_gap=shift.holding.coverage_gap,
        )

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        return await load_user(info, self.user_id)

    @strawberry.field(description="The (sub-)roster whose shift this is.")
    async def roster(self, info: Info) -> Roster | None:
        return await _roster(info, self.holder_roster_id)


@strawberry.type
class Override:
    id: strawberry.ID
    start: datetime
    end: datetime
    created_at: datetime
    model: strawberry.Private[models.Override]

    @classmethod
    def from_model(cls, row: models.Override) -> Override:
        return cls(
            id=strawberry.ID(str(row.id)),
            start=row.start_at,
            end=row.end_at,
            created_at=row.created_at,
            model=row,
        )

    @strawberry.field
    async def roster(self, info: Info) -> Roster | None:
        return await _roster(info, self.model.roster_id)  # type: ignore[attr-defined]

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        return await load_user(info, self.model.user_id)  # type: ignore[attr-defined]

    @strawberry.field
    async def created_by(self, info: Info) -> User | None:
        return await load_user(info, self.model.created_by_id)  # type: ignore[attr-defined]


@strawberry.type
class OnCallChange:
    """A handoff: at `at` the pager of `roster` changed hands (rotation, window or override)."""

    at: datetime
    cursor: str
    handoff_id: strawberry.ID
    roster_id: strawberry.Private[uuid.UUID]
    previous_user_id: strawberry.Private[uuid.UUID | None]
    oncall: OnCall

    @strawberry.field
    async def roster(self, info: Info) -> Roster | None:
        return await _roster(info, self.roster_id)

    @strawberry.field
    async def previous_user(self, info: Info) -> User | None:
        return await load_user(info, self.previous_user_id)


@strawberry.type
class Notification:
    """Something OpsWatch told a person outside escalation, e.g. a handoff notice."""

    id: strawberry.ID
    kind: str
    channel: str
    text: str
    status: str
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    user_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_model(cls, row: models.Notification) -> Notification:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            channel=row.channel.value,
            text=row.text,
            status=row.status.value,
            error=row.error,
            created_at=row.created_at,
            sent_at=row.sent_at,
            user_id=row.user_id,  # type: ignore[attr-defined]
        )

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        return await load_user(info, self.user_id)


@strawberry.input
class RosterInput:
    name: str
    kind: RosterKind = RosterKind.STANDARD
    timezone: str | None = strawberry.field(
        default=None, description="IANA zone, e.g. Europe/Berlin; default the tenant's."
    )
    start_date: date | None = strawberry.field(default=None, description="Default today.")
    rotation_length_days: int = 7
    handoff_time: str = "09:00"
    coverage_start: str | None = None
    coverage_end: str | None = None
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="Makes this a sub-roster of a follow-the-sun roster."
    )
    member_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Users in rotation order."
    )


@strawberry.input(
    description="A field left out is unchanged; only the coverage window can be null."
)
class RosterUpdateInput:
    name: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    start_date: date | None = strawberry.UNSET
    rotation_length_days: int | None = strawberry.UNSET
    handoff_time: str | None = strawberry.UNSET
    coverage_start: str | None = strawberry.field(
        default=strawberry.UNSET,
        description='One end given keeps the other; both null (or both "") clear the '
        "window (covers the whole day).",
    )
    coverage_end: str | None = strawberry.UNSET


def _source(source: Source) -> OnCallSource | None:
    return None if source is Source.NOBODY else OnCallSource(source.value)


def _utc(moment: datetime) -> datetime:
    """A time without an offset means UTC."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def _roster(info: Info, roster_id: uuid.UUID | None) -> Roster | None:
    if roster_id is None:
        return None
    row = await info.context.loaders.roster.load(roster_id)
    return Roster.from_model(row) if row else None


async def _local(info: Info, user_id: uuid.UUID | None, moment: datetime | None) -> datetime | None:
    if user_id is None or moment is None:
        return None
    row = await info.context.loaders.user.load(user_id)
    return moment.astimezone(ZoneInfo(row.timezone)) if row else None
