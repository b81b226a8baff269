"""The calendar feeds behind ``/api/v1/calendars/...ics``, found by their URL token."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from opswatch.models import Roster, User
from opswatch.rosters import calendar, calendar_tokens
from opswatch.rosters.plans import load_plans
from opswatch.rosters.resolve import REACH, Plan, Shift, oncall_at, schedule

MAX_ROSTERS_PER_USER_FEED = 200


async def roster_feed(token: str, now: datetime | None = None) -> bytes | None:
    roster = await Roster.get_or_none(
        calendar_token=calendar_tokens.digest_of(token), parent_id=None
    )
    if roster is None:
        return None
    entries = await _entries([roster], now)
    return calendar.feed(roster.name, entries, now)


async def user_feed(token: str, now: datetime | None = None) -> bytes | None:
    user = await User.get_or_none(calendar_token=calendar_tokens.digest_of(token), active=True)
    if user is None:
        return None
    rosters = (
        await Roster.filter(tenant_id=user.tenant_id, parent_id=None)  # type: ignore[attr-defined]
        .order_by("name")
        .limit(MAX_ROSTERS_PER_USER_FEED)
    )
    entries = [
        e for e in await _entries(rosters, now) if e.user is not None and e.user.id == user.id
    ]
    return calendar.feed(user.name, entries, now)


async def _entries(rosters: list[Roster], now: datetime | None) -> list[calendar.Entry]:
    start, end = calendar.window(now or datetime.now(UTC))
    plans = await load_plans(rosters, start - REACH, end + REACH)
    shifts: list[tuple[Roster, Shift]] = [
        (roster, shift)
        for roster in rosters
        for shift in _whole_shifts(plans[roster.id], start, end)
    ]
    user_ids = {s.holding.user_id for _, s in shifts if s.holding.user_id is not None}
    users = {u.id: u for u in await User.filter(id__in=user_ids)}
    holder_ids: set[uuid.UUID] = {s.holding.roster_id for _, s in shifts}
    holders = {r.id: r for r in await Roster.filter(id__in=holder_ids)}
    return [
        calendar.Entry(
            roster=roster,
            holder_roster=holders[shift.holding.roster_id],
            shift=shift,
            user=users.get(shift.holding.user_id) if shift.holding.user_id else None,
        )
        for roster, shift in shifts
    ]


def _whole_shifts(plan: Plan, start: datetime, end: datetime) -> list[Shift]:
    """The shifts overlapping [start, end), the first and last not cut at the
    window's edges: the window moves with every fetch, a shift must not."""
    first, last = oncall_at(plan, start), oncall_at(plan, end)
    return schedule(
        plan,
        start if first.open_start else first.start,
        end if last.open_end else last.end,
    )
