"""One rotation: who holds it at an instant, and where its shifts and coverage windows lie.

Everything here is arithmetic on calendar days in the rotation's own time
zone, so answering for an instant ten years after the start costs the same as
for tomorrow, and a DST change never moves a handoff: the handoff is "08:00
local" on the right calendar day, whatever the UTC offset that day. A local
time that does not exist (inside a spring-forward gap) is read with the offset
in force before the change, which moves it forward by the gap, as clocks do;
an ambiguous one (autumn) means its first occurrence.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ONE_DAY = timedelta(days=1)
# The last instant that still belongs to a window ending at ``end``.
JUST_BEFORE = timedelta(microseconds=1)


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``at`` o'clock on ``day`` in ``zone``, as a UTC instant."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class RotationShift:
    cycle: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Rotation:
    """A standard roster, or one sub-roster of a follow-the-sun roster."""

    roster_id: uuid.UUID
    name: str
    zone: ZoneInfo
    start_date: date
    length_days: int
    handoff: time
    members: tuple[uuid.UUID, ...]  # in rotation order
    # Local coverage window, e.g. (08:00, 20:00); None covers the whole day.
    # An end at or before the start runs past midnight (22:00-06:00); equal
    # ends cover the whole day from that time.
    coverage: tuple[time, time] | None = None

    def shift_at(self, moment: datetime) -> RotationShift | None:
        """The rotation shift containing ``moment``; None before the first handoff."""
        day = moment.astimezone(self.zone).date()
        if moment < local_instant(day, self.handoff, self.zone):
            day -= ONE_DAY
        days = (day - self.start_date).days
        if days < 0:
            return None
        cycle = days // self.length_days
        return RotationShift(cycle, self._handoff_of(cycle), self._handoff_of(cycle + 1))

    def member_at(self, moment: datetime) -> uuid.UUID | None:
        shift = self.shift_at(moment)
        if shift is None or not self.members:
            return None
        return self.members[shift.cycle % len(self.members)]

    def handoffs_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Handoff instants h with start < h < end."""
        first = self.shift_at(start)
        cycle = first.cycle + 1 if first is not None else 0
        found = []
        while (moment := self._handoff_of(cycle)) < end:
            if moment > start:
                found.append(moment)
            cycle += 1
        return found

    def _handoff_of(self, cycle: int) -> datetime:
        day = self.start_date + timedelta(days=cycle * self.length_days)
        return local_instant(day, self.handoff, self.zone)

    # Coverage windows (sub-rosters of a follow-the-sun roster).

    def window_of(self, day: date) -> Window:
        """The coverage window that opens on local ``day``."""
        if self.coverage is None:
            return Window(
                local_instant(day, time(0), self.zone),
                local_instant(day + ONE_DAY, time(0), self.zone),
            )
        opens, closes = self.coverage
        close_day = day if closes > opens else day + ONE_DAY
        return Window(
            local_instant(day, opens, self.zone), local_instant(close_day, closes, self.zone)
        )

    def window_at(self, moment: datetime) -> Window | None:
        """The coverage window containing ``moment``, if any."""
        today = moment.astimezone(self.zone).date()
        for day in (today, today - ONE_DAY):
            window = self.window_of(day)
            if window.start <= moment < window.end:
                return window
        return None

    def last_window_end(self, moment: datetime) -> datetime:
        """When the most recent window that closed at or before ``moment`` closed."""
        today = moment.astimezone(self.zone).date()
        ends = [self.window_of(today - timedelta(days=n)).end for n in range(3)]
        return max(end for end in ends if end <= moment)

    def window_edges_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Window openings and closings e with start < e < end."""
        if self.coverage is None:
            return []
        day = start.astimezone(self.zone).date() - ONE_DAY
        last = end.astimezone(self.zone).date() + ONE_DAY
        edges = []
        while day <= last:
            window = self.window_of(day)
            edges += [e for e in (window.start, window.end) if start < e < end]
            day += ONE_DAY
        return edges
