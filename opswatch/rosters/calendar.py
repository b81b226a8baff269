"""iCalendar feeds of on-call shifts, per roster and per person.

Events carry their roster's time zone (with VTIMEZONE definitions), so a
calendar shows "08:00-08:00" across a DST change instead of a shifted UTC
hour. UIDs are stable per shift, so a re-fetched feed updates events in place.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from opswatch.models import Roster, User
from opswatch.rosters.resolve import Shift, Source

PAST = timedelta(days=14)
AHEAD = timedelta(days=90)


@dataclass(frozen=True)
class Entry:
    roster: Roster  # the roster the feed is about (top level)
    holder_roster: Roster  # the sub-roster of a follow-the-sun roster, else the roster
    shift: Shift
    user: User | None


def feed(name: str, entries: Iterable[Entry], now: datetime | None = None) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//OpsWatch//On-call schedule//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"OpsWatch: {name}")
    calendar.add("x-published-ttl", "PT1H")
    stamp = now or datetime.now(UTC)
    for entry in entries:
        if entry.user is None:
            continue
        calendar.add_component(_event(entry, stamp))
    calendar.add_missing_timezones()
    return calendar.to_ical()


def window(now: datetime | None = None) -> tuple[datetime, datetime]:
    moment = now or datetime.now(UTC)
    return moment - PAST, moment + AHEAD


def _event(entry: Entry, stamp: datetime) -> icalendar.Event:
    shift, holder = entry.shift, entry.holder_roster
    zone = ZoneInfo(holder.timezone)
    where = entry.roster.name
    if holder.id != entry.roster.id:
        where = f"{entry.roster.name} / {holder.name}"
    notes = []
    if shift.holding.source is Source.OVERRIDE:
        notes.append("override")
    if shift.holding.coverage_gap:
        notes.append("coverage gap: no window covers these hours, the last holder keeps the pager")
    event = icalendar.Event()
    event.add("uid", _uid(holder.id, shift))
    event.add("dtstamp", stamp)
    event.add("dtstart", shift.start.astimezone(zone))
    event.add("dtend", shift.end.astimezone(zone))
    name = entry.user.name if entry.user else "nobody"
    event.add("summary", f"On call: {name} ({where})")
    if notes:
        event.add("description", "; ".join(notes))
    event.add("transp", "TRANSPARENT")
    return event


def _uid(roster_id: uuid.UUID, shift: Shift) -> str:
    return f"{roster_id}-{shift.start.astimezone(UTC):%Y%m%dT%H%M%SZ}@opswatch"
