"""Who is on call: one instant (``holding_at``), a shift (``oncall_at``) or a range (``schedule``).

Rules (spec 4.2, DESIGN.md "On-call resolution"):

1. An override on the roster itself, active at the instant, wins; where
   overrides overlap, the most recently created one.
2. Follow-the-sun: the sub-roster whose coverage window contains the instant
   holds the pager; where windows overlap, the one whose window opened most
   recently (the incoming one). An override on that sub-roster applies inside
   its window. In a gap between windows, the sub-roster whose window closed most
   recently keeps the pager, held by whoever held it when the window closed,
   and the instant is marked as a coverage gap.
3. Within a rotation: the member at (calendar-day cycles since the start date)
   modulo the member count; see ``rotation``.

A schedule is the list of maximal stretches with one holding, cut at every
handoff, window edge and override edge. A rotation handoff always starts a new
shift (even to the same person); an override is one shift however many
handoffs it spans.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from opswatch.rosters.rotation import JUST_BEFORE, Rotation

MARGIN = timedelta(days=1)
# Bounds that keep every answer's cost bounded: a shift never outlasts them.
MAX_ROTATION_DAYS = 365
MAX_OVERRIDE_DAYS = 366
# An instant's shift lies within this distance of it; so do the overrides it needs.
REACH = timedelta(days=MAX_OVERRIDE_DAYS) + MARGIN


class Source(StrEnum):
    OVERRIDE = "override"
    ROTATION = "rotation"
    NOBODY = "nobody"  # an empty roster, or before its first handoff


@dataclass(frozen=True)
class OverrideSpan:
    id: uuid.UUID
    roster_id: uuid.UUID  # the roster itself, or one of its sub-rosters
    user_id: uuid.UUID
    start: datetime
    end: datetime
    created_at: datetime

    def active_at(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class Plan:
    """A roster as plain data: its rotations (one, or one per sub-roster) and overrides."""

    roster_id: uuid.UUID
    name: str
    follow_the_sun: bool
    rotations: tuple[Rotation, ...]
    overrides: tuple[OverrideSpan, ...] = ()

    def longest_rotation(self) -> timedelta:
        return timedelta(days=max((r.length_days for r in self.rotations), default=1))


@dataclass(frozen=True)
class Holding:
    """Who holds the pager, through which sub-roster, and why."""

    roster_id: uuid.UUID  # the sub-roster for follow-the-sun, else the roster
    user_id: uuid.UUID | None
    source: Source
    coverage_gap: bool = False
    override_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Shift:
    start: datetime
    end: datetime
    holding: Holding
    # Open-ended: nobody holds the pager before/after it within what was computed.
    open_start: bool = field(default=False, compare=False)
    open_end: bool = field(default=False, compare=False)


def holding_at(plan: Plan, moment: datetime) -> Holding:
    own = _winning_override(plan.overrides, plan.roster_id, moment)
    if own is not None:
        return _from_override(own, plan.roster_id)
    if not plan.rotations:
        return Holding(plan.roster_id, None, Source.NOBODY)
    if not plan.follow_the_sun:
        return _in_rotation(plan.rotations[0], moment, plan.overrides)
    covering = [(w.start, r) for r in plan.rotations if (w := r.window_at(moment)) is not None]
    if covering:
        # Latest opening wins; on a tie, the sub-roster listed first.
        _, rotation = max(covering, key=lambda item: item[0])
        return _in_rotation(rotation, moment, plan.overrides)
    keeper = max(plan.rotations, key=lambda r: r.last_window_end(moment))
    closed = keeper.last_window_end(moment)
    held = _in_rotation(keeper, closed - JUST_BEFORE, plan.overrides)
    return Holding(held.roster_id, held.user_id, held.source, True, held.override_id)


def schedule(plan: Plan, start: datetime, end: datetime) -> list[Shift]:
    """Shifts covering [start, end), clipped to it."""
    plan = _within(plan, start, end)
    edges = sorted({start, *_edges(plan, start, end)})
    handoffs = {
        (r.roster_id, moment) for r in plan.rotations for moment in r.handoffs_between(start, end)
    }
    shifts: list[Shift] = []
    for begin, finish in zip(edges, [*edges[1:], end], strict=True):
        holding = holding_at(plan, begin)
        previous = shifts[-1] if shifts else None
        new_rotation_shift = (
            holding.source is Source.ROTATION
            and not holding.coverage_gap  # the keeper of a gap is fixed when it opens
            and (holding.roster_id, begin) in handoffs
        )
        if previous is not None and previous.holding == holding and not new_rotation_shift:
            shifts[-1] = Shift(previous.start, finish, holding)
        else:
            shifts.append(Shift(begin, finish, holding))
    return shifts


def oncall_at(plan: Plan, moment: datetime) -> Shift:
    """The shift containing ``moment``, with its true start and end.

    A rotation shift lasts at most the rotation length and an override its own
    length, so a range that wide around ``moment`` holds the whole shift: the
    cost depends on the rotation length, never on the distance from the start date.
    A standard rotation has few edges, so its whole reach costs little; a
    follow-the-sun roster has four per day but its shifts are about half a day,
    so there the range starts at a day and doubles only while the shift reaches
    its edge.
    """
    limit_back = limit_ahead = plan.longest_rotation() + MARGIN
    for span in plan.overrides:
        if span.active_at(moment):
            limit_back = max(limit_back, moment - span.start + MARGIN)
            limit_ahead = max(limit_ahead, span.end - moment + MARGIN)
    back = ahead = MARGIN if plan.follow_the_sun else plan.longest_rotation() + MARGIN
    while True:
        start, end = moment - back, moment + ahead
        shift = _containing(schedule(plan, start, end), moment)
        clipped_start = shift.start == start and back < limit_back
        clipped_end = shift.end == end and ahead < limit_ahead
        if not (clipped_start or clipped_end):
            return Shift(
                shift.start,
                shift.end,
                shift.holding,
                open_start=shift.start == start,
                open_end=shift.end == end,
            )
        if clipped_start:
            back = min(back * 2, limit_back)
        if clipped_end:
            ahead = min(ahead * 2, limit_ahead)


def _containing(shifts: list[Shift], moment: datetime) -> Shift:
    for shift in shifts:
        if shift.start <= moment < shift.end:
            return shift
    raise AssertionError("a schedule covers every instant of its range")


def _within(plan: Plan, start: datetime, end: datetime) -> Plan:
    """The plan without overrides that cannot matter in [start, end)."""
    spans = tuple(o for o in plan.overrides if o.end > start and o.start < end)
    return replace(plan, overrides=spans) if len(spans) < len(plan.overrides) else plan


def _edges(plan: Plan, start: datetime, end: datetime) -> Iterable[datetime]:
    for rotation in plan.rotations:
        yield from rotation.handoffs_between(start, end)
        yield from rotation.window_edges_between(start, end)
    for span in plan.overrides:
        yield from (e for e in (span.start, span.end) if start < e < end)


def _winning_override(
    overrides: Iterable[OverrideSpan], roster_id: uuid.UUID, moment: datetime
) -> OverrideSpan | None:
    active = [o for o in overrides if o.roster_id == roster_id and o.active_at(moment)]
    return max(active, key=lambda o: (o.created_at, o.id)) if active else None


def _from_override(span: OverrideSpan, roster_id: uuid.UUID) -> Holding:
    return Holding(roster_id, span.user_id, Source.OVERRIDE, override_id=span.id)


def _in_rotation(
    rotation: Rotation, moment: datetime, overrides: Iterable[OverrideSpan]
) -> Holding:
    own = _winning_override(overrides, rotation.roster_id, moment)
    if own is not None:
        return _from_override(own, rotation.roster_id)
    user_id = rotation.member_at(moment)
    source = Source.ROTATION if user_id is not None else Source.NOBODY
    return Holding(rotation.roster_id, user_id, source)
