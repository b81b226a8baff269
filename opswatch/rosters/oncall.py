"""On-call answers for the REST endpoint, GraphQL and notices: the shift, its
holder and their local times."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from opswatch.errors import InvalidInput
from opswatch.models import Roster, User
from opswatch.rosters.plans import load_plan
from opswatch.rosters.resolve import REACH, Shift, Source, oncall_at, schedule

MAX_SCHEDULE = timedelta(days=400)


async def shift_at(roster: Roster, at: datetime) -> Shift:
    plan = await load_plan(roster, at - REACH, at + REACH)
    return oncall_at(plan, at)


async def shifts_between(roster: Roster, start: datetime, end: datetime) -> list[Shift]:
    check_range(start, end)
    plan = await load_plan(roster, start - REACH, end + REACH)
    return schedule(plan, start, end)


def check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise InvalidInput("end must be after start", field="end")
    if end - start > MAX_SCHEDULE:
        raise InvalidInput(f"a schedule spans at most {MAX_SCHEDULE.days} days", field="end")


@dataclass(frozen=True)
class Answer:
    """One on-call answer with the rows it names."""

    roster: Roster  # the roster asked about
    holder_roster: Roster  # the sub-roster for follow-the-sun, else the roster
    shift: Shift
    user: User | None
    at: datetime

    def as_json(self, now: datetime | None = None) -> dict[str, Any]:
        """The REST shape (DESIGN.md): times in ISO 8601 with their offset."""
        shift, user = self.shift, self.user
        zone = ZoneInfo(user.timezone) if user else UTC
        return {
            "at": self.at.isoformat(),
            "user": None
            if user is None
            else {
                "id": str(user.id),
                "name": user.name,
                "email": user.email,
                "timezone": user.timezone,
                "local_time": (now or datetime.now(UTC)).astimezone(zone).isoformat(),
            },
            "shift_start": None if shift.open_start else shift.start.isoformat(),
            "shift_end": None if shift.open_end else shift.end.isoformat(),
            "shift_start_local": None
            if shift.open_start
            else shift.start.astimezone(zone).isoformat(),
            "shift_end_local": None if shift.open_end else shift.end.astimezone(zone).isoformat(),
            "source": None if shift.holding.source is Source.NOBODY else shift.holding.source.value,
            "roster": {"id": str(self.holder_roster.id), "name": self.holder_roster.name},
            "parent_roster": None
            if self.holder_roster.id == self.roster.id
            else {"id": str(self.roster.id), "name": self.roster.name},
            "coverage_gap": shift.holding.coverage_gap,
            "override_id": str(shift.holding.override_id) if shift.holding.override_id else None,
            "nobody_reason": NOBODY if user is None else None,
        }


NOBODY = "nobody is on call: the roster has no active members, or its rotation has not started"


async def answer(roster: Roster, at: datetime) -> Answer:
    shift = await shift_at(roster, at)
    holder_roster = roster
    if shift.holding.roster_id != roster.id:
        holder_roster = await Roster.get(id=shift.holding.roster_id)
    user = None
    if shift.holding.user_id is not None:
        user = await User.get_or_none(id=shift.holding.user_id)
    return Answer(roster, holder_roster, shift, user, at)


def users_of(shifts: list[Shift]) -> set[uuid.UUID]:
    return {s.holding.user_id for s in shifts if s.holding.user_id is not None}
